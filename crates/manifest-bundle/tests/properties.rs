//! Property tests: hostile bytes never panic the intake or the YAML parser, and the emitter's
//! output parses back to the same document.

use std::io::Write as _;

use manifest_bundle::yaml::{self, Mapping, Yaml};
use manifest_bundle::{Limits, ManifestTree, YamlLimits, validate_tree};
use proptest::prelude::*;

fn small_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn tight_limits() -> Limits {
    Limits {
        max_total_bytes: 64 * 1024,
        max_entry_bytes: 32 * 1024,
        max_entries: 64,
        ..Limits::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_intake(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = ManifestTree::from_zip_bytes(&bytes, &tight_limits());
    }

    #[test]
    fn mutated_zips_never_panic(
        files in proptest::collection::btree_map("[a-z]{1,8}\\.yaml", proptest::collection::vec(any::<u8>(), 0..512), 1..6),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let files: Vec<(String, Vec<u8>)> = files.into_iter().collect();
        let mut bytes = small_zip(&files);
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        let truncated = &bytes[..keep.max(bytes.len() / 2)];
        let limits = tight_limits();
        if let Ok(tree) = ManifestTree::from_zip_bytes(truncated, &limits) {
            prop_assert!(tree.total_bytes() <= limits.max_total_bytes);
            // Whatever was accepted must also survive validation without panicking.
            let _ = validate_tree(&tree, Some("x"), &limits.yaml);
        }
    }

    #[test]
    fn intact_zips_round_trip(
        files in proptest::collection::btree_map("[a-z]{1,8}(/[a-z]{1,8}){0,2}\\.(yaml|txt)", proptest::collection::vec(any::<u8>(), 0..256), 1..8),
    ) {
        // A name that is also a directory of another name is a clash, not a round trip.
        let names: Vec<&String> = files.keys().collect();
        prop_assume!(!names.iter().any(|a| names.iter().any(|b| b.starts_with(&format!("{a}/")))));
        let list: Vec<(String, Vec<u8>)> = files.clone().into_iter().collect();
        let tree = ManifestTree::from_zip_bytes(&small_zip(&list), &Limits::default()).unwrap();
        prop_assert_eq!(tree.paths(), files.keys().cloned().collect::<Vec<_>>());
        for (name, data) in &files {
            prop_assert_eq!(tree.get(name).unwrap(), &data[..]);
        }
    }

    #[test]
    fn arbitrary_text_never_panics_yaml(text in "\\PC{0,400}") {
        let _ = yaml::parse(&text, &YamlLimits::default());
        let _ = yaml::top_level_value_span(&text, "packageName", &YamlLimits::default());
    }

    #[test]
    fn yaml_like_text_never_panics(text in "([a-z]{1,5}: *(\\[|\\{|&a|\\*a|'|\"|\\||>|-|[0-9.]{1,5}|yes|~)?\n {0,6}){0,30}") {
        let _ = yaml::parse(&text, &YamlLimits::default());
    }

    #[test]
    fn emit_then_parse_is_identity(value in yaml_value()) {
        let text = yaml::emit(&value, false);
        let parsed = yaml::parse(&text, &YamlLimits::default()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parsed.unwrap_or(Yaml::Null), value, "emitted:\n{}", text);
    }
}

fn scalar() -> impl Strategy<Value = Yaml> {
    prop_oneof![
        Just(Yaml::Null),
        any::<bool>().prop_map(Yaml::Bool),
        any::<i64>().prop_map(Yaml::Int),
        (-1.0e6f64..1.0e6).prop_map(|f| Yaml::Float((f * 100.0).round() / 100.0)),
        "\\PC{0,40}".prop_map(Yaml::Str),
        "[ -~\n]{0,60}".prop_map(Yaml::Str),
        prop_oneof![
            Just("yes"),
            Just("off"),
            Just("1.0"),
            Just("~"),
            Just("2020-01-01"),
            Just("- x"),
            Just("a: b"),
            Just("#c"),
            Just(" lead"),
            Just("trail ")
        ]
        .prop_map(|s| Yaml::Str(s.to_owned())),
    ]
}

fn yaml_value() -> impl Strategy<Value = Yaml> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Yaml::Seq),
            proptest::collection::vec(("[a-zA-Z_][a-zA-Z0-9_.-]{0,10}", inner), 0..5).prop_map(
                |entries| {
                    let mut m = Mapping::new();
                    for (k, v) in entries {
                        m.insert(Yaml::Str(k), v);
                    }
                    Yaml::Map(m)
                }
            ),
        ]
    })
}
