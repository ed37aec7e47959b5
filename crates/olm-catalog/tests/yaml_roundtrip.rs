//! Parsed equality of our YAML output (spec §9: byte identity with opm is a SHOULD, parsed
//! equality a MUST): random blobs written as opm writes them read back to the same JSON.

use olm_catalog::yaml_out::to_yaml;
use olm_catalog::{Object, Value, json};
use proptest::prelude::*;

/// Strings built from pieces that exercise every quoting and folding rule.
fn text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "Z",
        "0",
        "1",
        "9",
        "-",
        " ",
        "  ",
        ":",
        ": ",
        "#",
        " #",
        "'",
        "\"",
        "\\",
        "\n",
        "\n\n",
        "\t",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&",
        "*",
        "!",
        "|",
        ">",
        "%",
        "@",
        "`",
        "?",
        "~",
        "y",
        "n",
        "yes",
        "no",
        "true",
        "null",
        "1.5",
        "0x1F",
        "1:30",
        "2026-04-22",
        "T03:05:24Z",
        ".",
        "---",
        "é",
        "€",
        "😀",
        "\u{2028}",
        "\r",
        "\u{7f}",
        "\u{85}",
        "\u{a0}",
        "word ",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ]);
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        any::<i32>().prop_map(|i| Value::Number(i.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..5).prop_map(|entries| {
                let mut o = Object::new();
                for (k, v) in entries {
                    o.insert(k, v);
                }
                Value::Object(o)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn yaml_output_reads_back_to_the_same_json(v in value()) {
        let mut doc = Object::new();
        doc.insert("schema", Value::str("x.test"));
        doc.insert("value", v);
        let mut expected = Value::Object(doc);
        let yaml = to_yaml(&expected);
        let parsed = manifest_bundle::yaml::parse(&yaml, &manifest_bundle::YamlLimits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?
            .ok_or_else(|| TestCaseError::fail("empty"))?;
        expected.sort_keys_recursive();
        let back = Value::from_yaml(&parsed);
        prop_assert_eq!(json::to_compact(&back), json::to_compact(&expected), "{}", yaml);
    }
}
