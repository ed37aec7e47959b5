//! Shared pieces of the commands: output format, TLS and timeout options, Quay API credentials
//! (flag, environment, file, or OAuth2 client credentials), JSON printing and progress bars.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use omps_http::oauth::{ClientAuth, ClientCredentials};
use quay_client::{HttpSettings, QuayRestClient, SecretString};

use crate::error::CliError;

/// How a command prints its result (`-o/--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Lines for people.
    Text,
    /// One JSON document on stdout: the command's result, or on failure
    /// `{"result": "failure", "error": {...}}`.
    Json,
    /// The same document as `json`, in YAML.
    Yaml,
}

impl Output {
    /// Whether a document (JSON or YAML) was asked for rather than lines.
    pub fn is_document(self) -> bool {
        self != Output::Text
    }

    /// The format asked for on a command line that clap refused: the last `-o`/`--output`
    /// value, so that a usage error still answers in the format a script reads.
    pub fn from_raw_args(args: &[std::ffi::OsString]) -> Output {
        let mut found = Output::Text;
        let mut iter = args.iter().map(|a| a.to_string_lossy());
        while let Some(arg) = iter.next() {
            let value = match arg.as_ref() {
                "-o" | "--output" => iter.next().map(std::borrow::Cow::into_owned),
                a => a
                    .strip_prefix("--output=")
                    .or_else(|| a.strip_prefix("-o=").or_else(|| a.strip_prefix("-o")))
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
            };
            match value.as_deref() {
                Some("json") => found = Output::Json,
                Some("yaml") => found = Output::Yaml,
                Some("text") => found = Output::Text,
                _ => {}
            }
        }
        found
    }
}

/// `-o/--output` of a command whose specification fixes its documents (`omps cluster`): text
/// or JSON, no YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    /// Lines for people.
    Text,
    /// One JSON document on stdout.
    Json,
}

impl From<TextOrJson> for Output {
    fn from(o: TextOrJson) -> Self {
        match o {
            TextOrJson::Text => Output::Text,
            TextOrJson::Json => Output::Json,
        }
    }
}

/// Prints a document in the format asked for: pretty JSON, or YAML; `Text` prints nothing
/// (the caller prints its lines).
pub fn print_document(output: Output, v: &serde_json::Value) {
    match output {
        Output::Json => print_json(v),
        Output::Yaml => print!("{}", to_yaml(v)),
        Output::Text => {}
    }
}

/// Prints a command's result document: compact JSON on one line, or YAML; `Text` prints
/// nothing (the caller prints its lines).
pub fn print_data(output: Output, v: &serde_json::Value) {
    match output {
        Output::Json => println!("{v}"),
        Output::Yaml => print!("{}", to_yaml(v)),
        Output::Text => {}
    }
}

/// A JSON value as a YAML document (block style; strings double-quoted when a plain scalar
/// would read differently, using JSON's escapes, which YAML's double-quoted style shares).
pub fn to_yaml(v: &serde_json::Value) -> String {
    let mut out = String::new();
    yaml_value(&mut out, v, 0, true);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn yaml_scalar(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-+@".contains(c))
        // Not `.`: `.5` and `.inf` are numbers.
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | ".inf" | ".nan"
        );
    if plain {
        s.to_owned()
    } else {
        serde_json::Value::String(s.to_owned()).to_string()
    }
}

fn yaml_value(out: &mut String, v: &serde_json::Value, indent: usize, top: bool) {
    use serde_json::Value;
    use std::fmt::Write as _;
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) if !map.is_empty() => {
            if !top {
                out.push('\n');
            }
            for (k, item) in map {
                let _ = write!(out, "{pad}{}:", yaml_string(k));
                write_child(out, item, indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            if !top {
                out.push('\n');
            }
            for item in items {
                let _ = write!(out, "{pad}-");
                write_child(out, item, indent);
            }
        }
        other => {
            if top {
                let _ = writeln!(out, "{}", yaml_scalar(other));
            } else {
                let _ = writeln!(out, " {}", yaml_scalar(other));
            }
        }
    }
}

fn write_child(out: &mut String, item: &serde_json::Value, indent: usize) {
    let nested = match item {
        serde_json::Value::Object(m) => !m.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    if nested {
        yaml_value(out, item, indent + 2, false);
    } else {
        yaml_value(out, item, indent, false);
    }
}

/// TLS and timeout options, applied to every HTTP client of the command.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Extra trusted CA certificates (PEM file), added to the system roots for every call.
    #[arg(long, env = "OMPS_CA_BUNDLE", value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
    /// Turn TLS certificate verification off for every call (API, registry, preflight); a
    /// registry that answers in plain HTTP is then used over HTTP, as skopeo and podman do.
    /// Test registries only.
    #[arg(long, alias = "skip-tls-verify")]
    pub insecure_skip_tls_verify: bool,
    /// Verify TLS certificates (skopeo's and podman's flag): `--tls-verify=false` is
    /// `--insecure-skip-tls-verify`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
    /// Connect timeout in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub connect_timeout: u64,
    /// Total timeout of one API call in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
}

impl ConnArgs {
    /// Whether certificate verification is off (`--insecure-skip-tls-verify` or
    /// `--tls-verify=false`).
    pub fn insecure(&self) -> bool {
        self.insecure_skip_tls_verify || !self.tls_verify
    }

    /// The one set of HTTP settings every client of the command gets (reads the CA bundle).
    pub fn http_settings(&self) -> Result<HttpSettings, CliError> {
        let mut settings = http_settings(self.timeout)
            .connect_timeout(Duration::from_secs(self.connect_timeout.max(1)))
            .danger_accept_invalid_certs(self.insecure());
        if let Some(p) = &self.ca_bundle {
            settings = settings.ca_bundle_pem(read_ca_bundle(p)?);
        }
        Ok(settings)
    }
}

/// The command line's defaults: its user agent and a total timeout of `timeout_secs`.
pub fn http_settings(timeout_secs: u64) -> HttpSettings {
    HttpSettings::new()
        .timeout(Duration::from_secs(timeout_secs.max(1)))
        .user_agent(concat!("omps/", env!("CARGO_PKG_VERSION")))
}

/// Quay API location and credentials.
#[derive(Debug, Clone, Args)]
pub struct QuayArgs {
    /// Quay base URL (or bare host name, https assumed).
    #[arg(long, env = "OMPS_QUAY_URL", value_name = "URL")]
    pub quay_url: String,
    /// OAuth access token for the Quay API. Prefer the environment variable or --token-file:
    /// command lines are visible to other users.
    #[arg(
        long,
        env = "OMPS_QUAY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// File holding the OAuth access token.
    #[arg(
        long,
        env = "OMPS_QUAY_TOKEN_FILE",
        value_name = "FILE",
        conflicts_with = "token"
    )]
    pub token_file: Option<PathBuf>,
    #[command(flatten)]
    pub oauth: OAuthArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// OAuth2 client-credentials token acquisition (for Quay behind an OIDC gateway).
#[derive(Debug, Clone, Args)]
#[allow(clippy::struct_field_names)] // the prefix is the flag name users type
pub struct OAuthArgs {
    /// OAuth2 token endpoint; with it, the API token is obtained with the client-credentials
    /// grant instead of a fixed token.
    #[arg(long, env = "OMPS_OAUTH_TOKEN_URL", value_name = "URL")]
    pub oauth_token_url: Option<String>,
    /// OAuth2 client id.
    #[arg(long, env = "OMPS_OAUTH_CLIENT_ID", value_name = "ID")]
    pub oauth_client_id: Option<String>,
    /// File holding the OAuth2 client secret (or set OMPS_OAUTH_CLIENT_SECRET).
    #[arg(long, env = "OMPS_OAUTH_CLIENT_SECRET_FILE", value_name = "FILE")]
    pub oauth_client_secret_file: Option<PathBuf>,
    /// OAuth2 scopes to request (space-separated).
    #[arg(long, value_name = "SCOPES")]
    pub oauth_scope: Option<String>,
    /// How the client id and secret reach the token endpoint: in the form body (what omps has
    /// always sent) or as HTTP Basic authentication.
    #[arg(long, value_enum, default_value_t = OAuthClientAuth::Body, value_name = "HOW")]
    pub oauth_client_auth: OAuthClientAuth,
}

/// `--oauth-client-auth` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OAuthClientAuth {
    /// `client_id` and `client_secret` in the form body.
    Body,
    /// HTTP Basic authentication (RFC 6749 §2.3.1's preferred form).
    Basic,
}

/// Reads a secret file (size-limited, trailing newline removed); errors name the file only.
pub fn secret_file(path: &Path) -> Result<SecretString, CliError> {
    quay_tools::credentials::read_secret_file(path).map_err(CliError::config)
}

/// Reads a PEM CA bundle file.
pub fn read_ca_bundle(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|e| CliError::config(format!("cannot read CA bundle {}: {e}", path.display())))
}

impl OAuthArgs {
    /// Fetches a token when a token URL is configured; `None` otherwise.
    pub async fn token(&self, settings: &HttpSettings) -> Result<Option<SecretString>, CliError> {
        let Some(url) = &self.oauth_token_url else {
            return Ok(None);
        };
        let id = self
            .oauth_client_id
            .clone()
            .ok_or_else(|| CliError::usage("--oauth-token-url needs --oauth-client-id"))?;
        let secret = match (
            &self.oauth_client_secret_file,
            env_secret("OMPS_OAUTH_CLIENT_SECRET"),
        ) {
            (Some(f), _) => secret_file(f)?,
            (None, Some(s)) => s,
            (None, None) => {
                return Err(CliError::usage(
                    "--oauth-token-url needs --oauth-client-secret-file or OMPS_OAUTH_CLIENT_SECRET",
                ));
            }
        };
        let mut b = ClientCredentials::builder(url.as_str())
            .client_id(id)
            .client_secret(secret)
            .client_auth(match self.oauth_client_auth {
                OAuthClientAuth::Body => ClientAuth::Body,
                OAuthClientAuth::Basic => ClientAuth::Basic,
            })
            .http_settings(settings.clone());
        if let Some(s) = &self.oauth_scope {
            b = b.scope(s.clone());
        }
        Ok(Some(b.build()?.token().await?))
    }
}

fn env_secret(var: &str) -> Option<SecretString> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

impl QuayArgs {
    /// The API token from OAuth2, --token / OMPS_QUAY_TOKEN or --token-file (in that order);
    /// `None` when none is given (`initialize` needs none).
    pub async fn api_token(
        &self,
        settings: &HttpSettings,
    ) -> Result<Option<SecretString>, CliError> {
        if let Some(t) = self.oauth.token(settings).await? {
            return Ok(Some(t));
        }
        if let Some(t) = &self.token {
            return Ok(Some(SecretString::from(t.clone())));
        }
        self.token_file.as_deref().map(secret_file).transpose()
    }

    /// A REST client; with `need_token` a missing token is a configuration error.
    pub async fn client(&self, need_token: bool) -> Result<QuayRestClient, CliError> {
        let settings = self.conn.http_settings()?;
        if settings.danger_accept_invalid_certs {
            eprintln!("warning: TLS certificate verification is off for every call");
        }
        let url = quay_tools::mirror::normalize_server(&self.quay_url)?;
        let mut b = QuayRestClient::builder(url.as_str()).http_settings(settings.clone());
        match self.api_token(&settings).await? {
            Some(t) => b = b.token(t),
            None if need_token => {
                return Err(CliError::usage(
                    "no Quay API token: give --token-file, OMPS_QUAY_TOKEN, --token or --oauth-token-url",
                )
                .with_hint(
                    "keep the token in a file only you can read and set OMPS_QUAY_TOKEN_FILE to it",
                ));
            }
            None => {}
        }
        Ok(b.build()?)
    }
}

/// Prints one JSON document on stdout.
pub fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// A progress bar on stderr when it is a terminal; hidden otherwise (scripts get plain lines).
pub fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every document reads back as itself through a YAML parser, whatever its strings look
    /// like to YAML (booleans, numbers, nulls, indicators, newlines, non-ASCII).
    #[test]
    fn yaml_reads_back_as_the_json_document() {
        let tricky = [
            "",
            "true",
            "no",
            "null",
            "~",
            "1.0",
            "0x10",
            "1e3",
            "-",
            "- x",
            "a: b",
            "#c",
            "x #y",
            "'q'",
            "\"d\"",
            "line\nbreak",
            "tab\t",
            "ünï",
            ".inf",
            "@x",
            "*a",
            "&a",
            "!t",
            "%p",
            "[1]",
            "{a}",
            "a,b",
            "y",
            "N",
            ".5",
            " lead",
            "trail ",
            "?",
            "|",
            ">",
        ];
        let mut map = serde_json::Map::new();
        for (i, s) in tricky.iter().enumerate() {
            map.insert((*s).to_owned(), json!(s));
            map.insert(
                format!("k{i}"),
                json!([s, {"nested": s, "list": [s, 1, null]}]),
            );
        }
        let docs = [
            serde_json::Value::Object(map),
            json!({}),
            json!([]),
            json!({"a": [], "b": {}, "c": [[1, 2], [], [{}]], "d": -1.5, "e": true, "f": null}),
            json!([{"a": 1, "b": [{"c": "d"}]}]),
        ];
        for doc in docs {
            let text = to_yaml(&doc);
            let back: serde_json::Value =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back, doc, "{text}");
        }
    }

    #[test]
    fn the_format_of_a_refused_command_line_is_found() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            Output::from_raw_args(&args(&["list", "-o", "json"])),
            Output::Json
        );
        assert_eq!(
            Output::from_raw_args(&args(&["list", "--output=yaml"])),
            Output::Yaml
        );
        assert_eq!(
            Output::from_raw_args(&args(&["list", "-ojson"])),
            Output::Json
        );
        assert_eq!(
            Output::from_raw_args(&args(&["list", "--bogus"])),
            Output::Text
        );
        assert_eq!(
            Output::from_raw_args(&args(&["-o", "json", "-o", "text"])),
            Output::Text
        );
    }
}
