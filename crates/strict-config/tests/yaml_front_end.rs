//! The YAML front end: typed structs, unknown keys with path and suggestion, positions, and the
//! input limits against hostile files.

#![cfg(feature = "yaml")]

use serde::Deserialize;
use strict_config::{ConfigError, YamlLimits, from_yaml_str, from_yaml_str_with_limits};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sync {
    #[serde(default)]
    servers: Servers,
    #[serde(default)]
    repositories: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Servers {
    #[serde(default)]
    primary: Option<Server>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Server {
    url: String,
    #[serde(default)]
    concurrency: Option<u8>,
}

#[test]
fn typed_values_and_nested_unknown_keys_with_suggestions() {
    let ok: Sync = from_yaml_str(
        "sync.yaml",
        "servers:\n  primary:\n    url: https://a\nrepositories: [x/y]\n",
    )
    .unwrap();
    let primary = ok.servers.primary.unwrap();
    assert_eq!(
        (primary.url.as_str(), primary.concurrency),
        ("https://a", None)
    );
    assert_eq!(ok.repositories, ["x/y"]);

    let err = from_yaml_str::<Sync>(
        "sync.yaml",
        "servers:\n  primary:\n    url: https://a\n    concurency: 2\n",
    )
    .unwrap_err();
    let ConfigError::UnknownKey {
        path,
        suggestion,
        location,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(path, "servers.primary.concurency");
    assert_eq!(suggestion.as_deref(), Some("concurrency"), "{err:?}");
    assert_eq!(location.map(|l| l.line), Some(4), "{err}");
    assert!(err.to_string().starts_with("sync.yaml: line 4"), "{err}");
    assert!(
        err.to_string()
            .ends_with("unknown key `servers.primary.concurency`; did you mean `concurrency`?"),
        "{err}"
    );
}

#[test]
fn wrong_types_and_missing_keys_name_the_key() {
    let err = from_yaml_str::<Sync>(
        "s.yaml",
        "servers:\n  primary:\n    url: x\n    concurrency: lots\n",
    )
    .unwrap_err();
    assert_eq!(err.key_path(), Some("servers.primary.concurrency"), "{err}");
    let err = from_yaml_str::<Sync>("s.yaml", "servers:\n  primary: {}\n").unwrap_err();
    assert_eq!(err.key_path(), Some("servers.primary.url"), "{err}");
    assert!(err.to_string().contains("required key is missing"), "{err}");
}

#[test]
fn syntax_errors_have_a_position() {
    // The parser streams: a syntax error shows up at the key being read, with its position.
    let err = from_yaml_str::<Sync>("s.yaml", "repositories: [unclosed\n").unwrap_err();
    assert_eq!(err.location().map(|l| l.line), Some(1), "{err:?}");
    assert!(err.to_string().starts_with("s.yaml: line 1"), "{err}");
    assert!(err.to_string().contains("unclosed"), "{err}");
}

#[test]
fn hostile_input_hits_a_limit_quickly() {
    // Alias expansion ("billion laughs").
    let bomb = test_support::hostile_yaml::alias_bomb(None);
    let start = std::time::Instant::now();
    let err = from_yaml_str::<serde_json::Value>("bomb.yaml", &bomb).unwrap_err();
    assert!(err.to_string().contains("budget breached"), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // Nesting deeper than the limit.
    let deep = test_support::hostile_yaml::deep_nesting(100);
    let limits = YamlLimits {
        max_depth: 32,
        ..YamlLimits::default()
    };
    let err =
        from_yaml_str_with_limits::<serde_json::Value>("deep.yaml", &deep, &limits).unwrap_err();
    assert!(err.to_string().contains("budget breached"), "{err}");
    // The same text within the limits parses.
    let shallow = test_support::hostile_yaml::deep_nesting(10);
    from_yaml_str_with_limits::<serde_json::Value>("ok.yaml", &shallow, &limits).unwrap();
}
