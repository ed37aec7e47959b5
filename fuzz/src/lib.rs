//! The fuzz targets of omps-rs as plain functions, so that cargo-fuzz (nightly, libFuzzer) and the
//! stable replay/random driver in `tests/` run exactly the same checks. Each function panics only
//! when a property is violated; rejecting the input with an error is the expected outcome.

use manifest_bundle::yaml;
use manifest_bundle::{Limits, ManifestTree, YamlLimits};

/// Limits small enough that one input is processed in milliseconds.
fn fuzz_limits() -> Limits {
    Limits {
        max_total_bytes: 1 << 20,
        max_entry_bytes: 1 << 20,
        max_entries: 100,
        yaml: YamlLimits {
            max_bytes: 256 * 1024,
            max_depth: 64,
            max_nodes: 50_000,
            ..YamlLimits::default()
        },
        ..Limits::default()
    }
}

/// Zip intake (`ManifestTree::from_zip_bytes`), package discovery and `validate_tree`: never a
/// panic, and an accepted archive respects every limit and holds only safe relative paths.
pub fn zip_intake(data: &[u8]) {
    let limits = fuzz_limits();
    let Ok(tree) = ManifestTree::from_zip_bytes(data, &limits) else {
        return;
    };
    assert!(tree.total_bytes() <= limits.max_total_bytes);
    assert!(tree.len() <= limits.max_entries);
    for path in tree.paths() {
        assert!(!path.is_empty() && !path.starts_with('/'), "{path:?}");
        assert!(!path.contains('\\') && !path.contains('\0'), "{path:?}");
        assert!(
            path.split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."),
            "{path:?}"
        );
        assert!(path.len() <= limits.max_path_len, "{path:?}");
    }
    let _ = manifest_bundle::discover_package_name(&tree, &limits.yaml);
    if let Ok((manifests, report)) = manifest_bundle::validate_tree(&tree, None, &limits.yaml)
        && report.is_valid()
    {
        let _ = manifest_bundle::app_registry_blob(&manifests, &tree, "fuzz");
    }
}

/// YAML: `parse` never panics; whatever it accepts, `emit` writes text that parses back to the
/// same document (NaN counted equal to NaN), and emitting that again gives the same text.
pub fn yaml_roundtrip(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = fuzz_limits().yaml;
    let Ok(Some(value)) = yaml::parse(text, &limits) else {
        return;
    };
    // A recursive value (`&r [*r]`) has no tree form to write back.
    if has_recursion(&value) {
        return;
    }
    for sort_keys in [false, true] {
        let emitted = yaml::emit(&value, sort_keys);
        // Aliases are expanded on parse, so the emitted text may be far larger than the input.
        let generous = YamlLimits {
            max_bytes: usize::MAX,
            max_depth: limits.max_depth + 1,
            max_nodes: usize::MAX,
            ..limits.clone()
        };
        let reparsed = yaml::parse(&emitted, &generous)
            .unwrap_or_else(|e| panic!("emitted YAML does not parse: {e}\n{emitted}"))
            .unwrap_or(yaml::Yaml::Null);
        // Sorting changes the order of keys, so content is compared on the unsorted emit only.
        assert!(
            sort_keys || same(&reparsed, &value),
            "parse(emit(v)) != v\nemitted:\n{emitted}\nreparsed: {reparsed:?}\nexpected: {value:?}"
        );
        assert_eq!(
            yaml::emit(&reparsed, sort_keys),
            emitted,
            "emit is not stable"
        );
    }
}

fn has_recursion(v: &yaml::Yaml) -> bool {
    use yaml::Yaml as Y;
    match v {
        Y::Recursive(_) => true,
        Y::Seq(items) | Y::Set(items) => items.iter().any(has_recursion),
        Y::Pairs(items) => items.iter().any(|(k, v)| has_recursion(k) || has_recursion(v)),
        Y::Map(m) => m.iter().any(|(k, v)| has_recursion(k) || has_recursion(v)),
        _ => false,
    }
}

/// Structural equality where NaN equals NaN.
fn same(a: &yaml::Yaml, b: &yaml::Yaml) -> bool {
    use yaml::Yaml as Y;
    match (a, b) {
        (Y::Float(x), Y::Float(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Y::Seq(x), Y::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Y::Map(x), Y::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        _ => a == b,
    }
}

/// XML-RPC: `decode_response` and `decode_call` never panic; a decoded response re-encodes to a
/// document that decodes to the same encoding.
pub fn xmlrpc_decode(data: &[u8]) {
    use koji_client::xmlrpc::{Limits, decode_call, decode_response, encode_response};
    let limits = Limits::default();
    if let Ok(response) = decode_response(data, &limits) {
        let encoded = encode_response(&response);
        let again = decode_response(encoded.as_bytes(), &limits)
            .unwrap_or_else(|e| panic!("re-encoded response does not decode: {e}\n{encoded}"));
        assert_eq!(encode_response(&again), encoded);
    }
    let _ = decode_call(data, &limits);
}

/// Versions: `is_strict_version` agrees with an independent reading of the upstream regex
/// `^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$` (parts fitting in `u64`), and
/// `bump_major` always answers a strict version above every strict release it was given.
pub fn version(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(
        omps_server::config::is_strict_version(text),
        reference_strict(text).is_some(),
        "{text:?}"
    );
    let releases: Vec<&str> = text.split([',', '\n']).collect();
    let next = omps_server::bump_major(releases.iter().copied(), "1.0.0");
    let (next_major, _, _) = reference_strict(&next).unwrap_or_else(|| panic!("{next:?}"));
    for (major, _, _) in releases.iter().filter_map(|r| reference_strict(r)) {
        assert!(
            major < next_major || major == u64::MAX,
            "{next} after {major}"
        );
    }
}

/// `(major, minor, patch)` when `text` is a strict release version.
fn reference_strict(text: &str) -> Option<(u64, u64, u64)> {
    fn part(p: &str) -> Option<u64> {
        let mut chars = p.chars();
        let first = chars.next()?;
        if first == '0' {
            return (p.len() == 1).then_some(0);
        }
        if !('1'..='9').contains(&first) || !chars.all(|c| c.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    }
    let mut parts = text.splitn(4, '.');
    let major = part(parts.next()?)?;
    let minor = part(parts.next()?)?;
    let patch = part(parts.next()?)?;
    parts.next().is_none().then_some((major, minor, patch))
}
