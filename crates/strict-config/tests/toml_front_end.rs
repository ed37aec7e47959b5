//! The TOML front end against nested typed structs: unknown keys at every level, wrong types,
//! missing keys, syntax errors, the file reader's limit, and printing back with secrets redacted.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use strict_config::{ConfigError, Location};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    port: u16,
    #[serde(default, deserialize_with = "strict_config::table")]
    server: Server,
    #[serde(
        default,
        deserialize_with = "strict_config::option_table",
        skip_serializing_if = "Option::is_none"
    )]
    extra: Option<Server>,
    #[serde(default, deserialize_with = "strict_config::map_of_tables")]
    named: std::collections::BTreeMap<String, Server>,
    #[serde(default)]
    organizations: Vec<Organization>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Server {
    #[serde(default)]
    workers: u32,
    #[serde(default)]
    log_format: LogFormat,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Organization {
    name: String,
    #[serde(default)]
    registry: Option<Registry>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    url: String,
    #[serde(serialize_with = "strict_config::redact")]
    token: SecretString,
    #[serde(default, serialize_with = "strict_config::redact_option")]
    password: Option<SecretString>,
}

fn load(text: &str) -> Result<Config, ConfigError> {
    strict_config::from_toml_str("omps.toml", text)
}

fn unknown(err: &ConfigError) -> (&str, Option<&str>, Option<Location>) {
    match err {
        ConfigError::UnknownKey {
            path,
            suggestion,
            location,
            ..
        } => (path.as_str(), suggestion.as_deref(), *location),
        other => panic!("expected an unknown key, got {other:?}"),
    }
}

#[test]
fn a_valid_document_loads_every_level() {
    let config = load(
        "port = 8080\n[server]\nworkers = 4\nlog_format = \"json\"\n\
         [[organizations]]\nname = \"a\"\n[organizations.registry]\nurl = \"https://r\"\ntoken = \"t0k\"\n",
    )
    .unwrap();
    assert_eq!(config.port, 8080);
    assert_eq!(config.server.workers, 4);
    assert_eq!(config.server.log_format, LogFormat::Json);
    let registry = config.organizations[0].registry.as_ref().unwrap();
    assert_eq!(registry.token.expose_secret(), "t0k");
}

#[test]
fn unknown_top_level_key_is_named_with_a_suggestion() {
    let err = load("port = 1\nservr = 2\n").unwrap_err();
    let (path, suggestion, location) = unknown(&err);
    assert_eq!(path, "servr");
    assert_eq!(suggestion, Some("server"));
    assert_eq!(location, Some(Location { line: 2, column: 1 }));
    assert_eq!(
        err.to_string(),
        "omps.toml: line 2, column 1: unknown key `servr`; did you mean `server`?"
    );
}

#[test]
fn unknown_key_in_a_table_names_the_full_path() {
    let err = load("[server]\nworkers = 1\nwrokers = 2\n").unwrap_err();
    let (path, suggestion, location) = unknown(&err);
    assert_eq!(path, "server.wrokers");
    assert_eq!(suggestion, Some("workers"));
    assert_eq!(location.map(|l| l.line), Some(3));
}

#[test]
fn unknown_key_in_an_array_of_tables_names_the_index() {
    let err = load(
        "[[organizations]]\nname = \"a\"\n[[organizations]]\nname = \"b\"\n\
         [organizations.registry]\nurl = \"u\"\ntokn = \"t\"\n",
    )
    .unwrap_err();
    let (path, suggestion, _) = unknown(&err);
    assert_eq!(path, "organizations[1].registry.tokn");
    assert_eq!(suggestion, Some("token"));
    assert_eq!(err.key_path(), Some("organizations[1].registry.tokn"));
}

#[test]
fn unrelated_unknown_key_gets_no_suggestion() {
    let err = load("[server]\nzzzzzz = 1\n").unwrap_err();
    let (path, suggestion, _) = unknown(&err);
    assert_eq!(path, "server.zzzzzz");
    assert_eq!(suggestion, None);
    assert!(!err.to_string().contains("did you mean"), "{err}");
}

#[test]
fn wrong_type_names_the_key() {
    let err = load("[server]\nworkers = \"four\"\n").unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
    assert_eq!(err.key_path(), Some("server.workers"));
    let text = err.to_string();
    assert!(
        text.starts_with("omps.toml: line 2, column 11: `server.workers`: invalid type"),
        "{text}"
    );
}

#[test]
fn unknown_enum_value_lists_the_choices() {
    let err = load("[server]\nlog_format = \"jsno\"\n").unwrap_err();
    assert_eq!(err.key_path(), Some("server.log_format"));
    let text = err.to_string();
    assert!(
        text.contains("unknown value `jsno`, expected one of `text`, `json`"),
        "{text}"
    );
    assert!(text.contains("did you mean `json`?"), "{text}");
}

#[test]
fn missing_required_key_names_it() {
    let err = load("[[organizations]]\n[organizations.registry]\nurl = \"u\"\ntoken = \"t\"\n")
        .unwrap_err();
    assert_eq!(err.key_path(), Some("organizations[0].name"));
    assert!(
        err.to_string().ends_with("required key is missing"),
        "{err}"
    );
}

#[test]
fn syntax_error_has_a_position() {
    let err = load("port = 1\n[server\n").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert_eq!(err.location().map(|l| l.line), Some(2));
}

#[test]
fn printing_redacts_secrets_and_round_trips() {
    let config = load(
        "[[organizations]]\nname = \"a\"\n[organizations.registry]\nurl = \"https://r\"\n\
         token = \"very-secret\"\npassword = \"also-secret\"\n",
    )
    .unwrap();
    let printed = strict_config::to_toml_string(&config).unwrap();
    assert!(!printed.contains("very-secret"), "{printed}");
    assert!(!printed.contains("also-secret"), "{printed}");
    assert_eq!(
        printed.matches(strict_config::REDACTED).count(),
        2,
        "{printed}"
    );
    // What is printed is itself a valid configuration that prints the same way.
    let again = strict_config::to_toml_string(&load(&printed).unwrap()).unwrap();
    assert_eq!(again, printed);
}

#[test]
fn file_reader_refuses_oversized_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.toml");
    let err = strict_config::from_toml_file::<Config>(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.toml"), "{err}");

    let big = dir.path().join("big.toml");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let count = usize::try_from(strict_config::MAX_FILE_SIZE).unwrap() / line.len() + 1;
    std::fs::write(&big, line.repeat(count)).unwrap();
    let err = strict_config::from_toml_file::<Config>(&big).unwrap_err();
    assert!(matches!(err, ConfigError::TooLarge { .. }), "{err:?}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, "port = 9\n").unwrap();
    assert_eq!(
        strict_config::from_toml_file::<Config>(&good).unwrap().port,
        9
    );
}

#[test]
fn validation_errors_share_the_shape() {
    let err = ConfigError::invalid("omps.toml", "organizations[2].registry", "needs a token");
    assert_eq!(err.key_path(), Some("organizations[2].registry"));
    assert_eq!(
        err.to_string(),
        "omps.toml: `organizations[2].registry`: needs a token"
    );
}

#[test]
fn tables_refuse_sequences_that_serde_would_take_as_structs() {
    // Without `Table`, `server = []` would load as a `Server` of defaults.
    for (text, key) in [
        ("server = []", "server"),
        ("extra = []", "extra"),
        ("named = { a = [] }", "named.a"),
    ] {
        let err = load(text).unwrap_err();
        assert_eq!(err.key_path(), Some(key), "{text}: {err}");
        assert!(err.to_string().contains("expected a table"), "{err}");
    }
    let ok = load("extra = { workers = 2 }\n[named.a]\nworkers = 3\n").unwrap();
    assert_eq!(ok.extra.unwrap().workers, 2);
    assert_eq!(ok.named["a"].workers, 3);
    assert_eq!(
        load("[named.a]\nworker = 1\n").unwrap_err().key_path(),
        Some("named.a.worker")
    );
}
