//! The one error type of the `omps` binary and its one exit-status table.
//!
//! Every command returns `Result<Exit, CliError>`. What a failure means for a script is decided
//! here, once, by [`CliError::exit`]: the same remote answer gives the same exit status from
//! every command. The table is printed in `omps --help` and the README (a test keeps the three in
//! step).

use std::fmt;
use std::process::ExitCode;

use omps_http::HttpError;
use quay_client::{ErrorKind, QuayError, TransportKind};
use quay_tools::ToolsError;
use serde_json::{Value, json};

/// An exit status of `omps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked.
    Success,
    /// Refused or failed: invalid input, a 4xx answer, a failed item of a batch.
    Refused,
    /// Usage, configuration or unreadable input; nothing was sent.
    Usage,
    /// A remote server failed: 5xx, an unreadable answer, a digest mismatch.
    RemoteFailure,
    /// A remote server could not be reached: DNS, TCP, TLS, timeout.
    Unreachable,
    /// A status fixed by the command's own specification, the documented exception to the
    /// table: `omps cluster …` (3 timeout, 4 failed object, 5 login, 130 interrupted) and
    /// `omps ims …` (1 any failure, 130/143 signals). Their help lists the codes.
    Own(u8),
}

/// The exit-status table: code and meaning, as documented in `omps --help` and the README.
pub const EXIT_TABLE: [(Exit, &str); 5] = [
    (Exit::Success, "success"),
    (
        Exit::Refused,
        "refused or failed: invalid input, the server said no (401/403, 404, 400/422, 405, 409, 429), or an item of a batch failed",
    ),
    (
        Exit::Usage,
        "usage, configuration or unreadable input (nothing was sent)",
    ),
    (
        Exit::RemoteFailure,
        "a remote server failed (5xx, an unreadable answer, a digest mismatch)",
    ),
    (
        Exit::Unreachable,
        "a remote server could not be reached (DNS, TCP, TLS, timeout)",
    ),
];

impl Exit {
    /// The numeric status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Refused => 1,
            Exit::Usage => 2,
            Exit::RemoteFailure => 3,
            Exit::Unreachable => 4,
            Exit::Own(code) => code,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// Commands whose specifications fix their own exit statuses, and where those are listed.
pub const EXIT_EXCEPTIONS: &str =
    "Exceptions: `omps cluster ...` and `omps ims ...` use the exit statuses of their
specifications (cluster: 3 readiness timeout, 4 failed object, 5 login failure,
130 interrupted; ims: 1 for every failure, 130 SIGINT, 143 SIGTERM);
`omps cluster --help` and `omps ims --help` list them.";

/// The table as help text (`omps --help`).
pub fn exit_table_help() -> String {
    use std::fmt::Write as _;
    let mut text = String::from("Exit status (every command but the exceptions below):\n");
    for (exit, meaning) in EXIT_TABLE {
        let _ = writeln!(text, "  {}  {meaning}", exit.code());
    }
    let _ = write!(text, "\n{EXIT_EXCEPTIONS}");
    text
}

/// What went wrong. Each variant is one row of the exit-status table or a remote error whose
/// kind decides the row.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// Bad arguments or flag combinations.
    Usage(String),
    /// A configuration file or value that cannot be used.
    Config(String),
    /// A local file or directory that cannot be read (or an output that cannot be written).
    Input(String),
    /// Input that was read but refused (not valid, not one bundle).
    Invalid(String),
    /// A remote call of the Quay / registry clients failed.
    Quay(QuayError),
    /// A mirror, apply or preflight failed (configuration, a side unreachable, a client error).
    Tools(ToolsError),
    /// A call of the shared HTTP layer failed (the OAuth2 token request).
    Http(HttpError),
    /// The OMPS service answered with an error; `body` is its JSON answer.
    Service {
        /// HTTP status.
        status: u16,
        /// The service's error id (`OMPSAuthorizationHeaderRequired`, ...).
        id: String,
        /// The service's message.
        message: String,
        /// The whole JSON answer.
        body: Value,
    },
    /// A service could not be reached.
    Unreachable(String),
    /// A local failure that is none of the above (the runtime, writing output).
    Internal(String),
    /// `omps cluster …` failed; the exit status is the cluster-apply specification's.
    Cluster(cluster_apply::Error),
}

/// The error of an `omps` command: a [`Failure`], what was being done, and an optional hint
/// for the user. Boxed: errors travel through every `Result` of the binary.
#[derive(Debug)]
pub struct CliError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    failure: Failure,
    context: Option<String>,
    hint: Option<String>,
    /// The command's own JSON document for this failure (`omps cluster apply`'s report), printed
    /// instead of the generic one.
    document: Option<Value>,
}

impl From<Failure> for CliError {
    fn from(failure: Failure) -> Self {
        Self(Box::new(Inner {
            failure,
            context: None,
            hint: None,
            document: None,
        }))
    }
}

impl From<QuayError> for CliError {
    fn from(e: QuayError) -> Self {
        Failure::Quay(e).into()
    }
}

impl From<cluster_apply::Error> for CliError {
    fn from(error: cluster_apply::Error) -> Self {
        Failure::Cluster(error).into()
    }
}

impl From<ToolsError> for CliError {
    fn from(e: ToolsError) -> Self {
        Failure::Tools(e).into()
    }
}

impl From<HttpError> for CliError {
    fn from(e: HttpError) -> Self {
        Failure::Http(e).into()
    }
}

impl CliError {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into()).into()
    }

    /// A configuration error (exit 2).
    pub fn config(message: impl Into<String>) -> Self {
        Failure::Config(message.into()).into()
    }

    /// Unreadable input (exit 2).
    pub fn input(message: impl Into<String>) -> Self {
        Failure::Input(message.into()).into()
    }

    /// Refused input (exit 1).
    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::Invalid(message.into()).into()
    }

    /// A service that cannot be reached (exit 4).
    pub fn unreachable(message: impl Into<String>) -> Self {
        Failure::Unreachable(message.into()).into()
    }

    /// A local failure (exit 1).
    pub fn internal(message: impl Into<String>) -> Self {
        Failure::Internal(message.into()).into()
    }

    /// Says what was being done (`pushing quay.example.com/ns/app:1.0 failed`); printed before
    /// the failure's own message.
    #[must_use]
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.0.context = Some(context.into());
        self
    }

    /// Attaches a hint: one line telling the user what to try.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    /// Sets the JSON document printed for this failure with `--output json`, for a command
    /// whose specification fixes its failure document.
    #[must_use]
    pub fn with_document(mut self, document: Value) -> Self {
        self.0.document = Some(document);
        self
    }

    /// The hint, when there is one.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }

    /// The exit status: the one place where failures meet the table.
    pub fn exit(&self) -> Exit {
        match &self.0.failure {
            Failure::Usage(_) | Failure::Config(_) | Failure::Input(_) => Exit::Usage,
            Failure::Invalid(_) | Failure::Internal(_) => Exit::Refused,
            Failure::Unreachable(_) => Exit::Unreachable,
            Failure::Service { status, .. } => status_exit(*status),
            Failure::Cluster(error) => Exit::Own(error.exit_code()),
            Failure::Quay(e) => kind_exit(e.kind(), e.status()),
            Failure::Tools(e) => kind_exit(e.kind(), e.client_error().and_then(QuayError::status)),
            Failure::Http(e) => match e {
                HttpError::Config(_) => Exit::Usage,
                HttpError::Transport(_) => Exit::Unreachable,
                HttpError::Status { status, .. } => status_exit(*status),
                _ => Exit::RemoteFailure,
            },
        }
    }

    /// The stable category name of JSON failure documents (`error.kind`).
    pub fn kind(&self) -> &'static str {
        match &self.0.failure {
            Failure::Usage(_) | Failure::Config(_) => "config",
            Failure::Input(_) => "input",
            Failure::Invalid(_) => "invalid",
            Failure::Quay(e) => e.kind().as_str(),
            Failure::Tools(e) => e.kind().as_str(),
            Failure::Http(e) => match e {
                HttpError::Config(_) => "config",
                HttpError::Transport(t) if t.kind() == TransportKind::Timeout => "timeout",
                HttpError::Transport(_) => "transport",
                HttpError::Status { .. } => "remote",
                _ => "invalid_response",
            },
            Failure::Service { .. } => "service",
            Failure::Unreachable(_) => "transport",
            Failure::Internal(_) => "other",
            Failure::Cluster(error) => cluster_kind(error),
        }
    }

    /// The JSON failure document: `{"result": "failure", "error": {"kind", "message",
    /// "status"?, "quay_response"?, "hint"?}}`.
    pub fn to_json(&self) -> Value {
        let mut err = json!({"kind": self.kind(), "message": self.to_string()});
        let client_error = match &self.0.failure {
            Failure::Quay(e) => Some(e),
            Failure::Tools(e) => e.client_error(),
            _ => None,
        };
        if let Some(e) = client_error {
            if let Some(s) = e.status() {
                err["status"] = s.into();
                err["quay_response"] = e.remote_body();
            }
        }
        if let Failure::Service { status, .. } = &self.0.failure {
            err["status"] = (*status).into();
        }
        if let Some(h) = self.hint() {
            err["hint"] = h.into();
        }
        json!({"result": "failure", "error": err})
    }

    /// Prints the error for people on stderr: `error: ...`, its causes, the hint. Messages
    /// come from the libraries, which never put secrets into them.
    pub fn print_text(&self) {
        if let Failure::Service { body, .. } = &self.0.failure {
            // A refused push: the validation errors the service found, courier-style.
            if let Some(info) = body
                .get("validation_info")
                .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
            {
                for e in info["errors"].as_array().into_iter().flatten() {
                    eprintln!("ERROR: {}", e.as_str().unwrap_or_default());
                }
            }
        }
        eprintln!("error: {self}");
        let mut source = match &self.0.failure {
            Failure::Quay(e) => std::error::Error::source(e),
            Failure::Tools(e) => std::error::Error::source(e),
            Failure::Http(e) => std::error::Error::source(e),
            _ => None,
        };
        while let Some(s) = source {
            eprintln!("  caused by: {s}");
            source = s.source();
        }
        if let Some(h) = self.hint() {
            eprintln!("hint: {h}");
        }
    }
}

impl CliError {
    /// Prints the error for scripts: one JSON document on stdout (the service's own answer for
    /// a service failure), and the text form on stderr for the person watching.
    /// `yaml`: the same document in YAML; `text`: [`CliError::print_text`].
    pub fn print_document(&self, output: crate::output::Output) {
        use crate::output::Output;
        match (output, &self.0.failure) {
            (Output::Text, _) => return self.print_text(),
            (Output::Json, Failure::Service { body, .. }) => println!("{body}"),
            (_, Failure::Service { body, .. }) => crate::output::print_document(output, body),
            (_, _) => match &self.0.document {
                Some(document) => crate::output::print_document(output, document),
                None => crate::output::print_document(output, &self.to_json()),
            },
        }
        eprintln!("error: {self}");
        if let Some(h) = self.hint() {
            eprintln!("hint: {h}");
        }
    }
}

/// The `error.kind` of a cluster failure.
fn cluster_kind(error: &cluster_apply::Error) -> &'static str {
    use cluster_apply::Error as E;
    match error {
        E::Input { .. } => "input",
        E::Io { .. } | E::Config(_) => "config",
        E::Api { .. } | E::SecretExists { .. } | E::NotOpenShift(_) => "refused",
        E::Conflict { .. } => "conflict",
        E::Unauthorized(_) => "unauthorized",
        E::Transport { .. } | E::ResponseTooLarge { .. } => "transport",
        E::KindNotServed { .. } | E::Timeout { .. } => "timeout",
        E::Failed { .. } => "failed",
        E::Interrupted => "interrupted",
        _ => "other",
    }
}

/// The row of a client error: by kind, and for a non-2xx answer by its status.
fn kind_exit(kind: ErrorKind, status: Option<u16>) -> Exit {
    match kind {
        ErrorKind::Config => Exit::Usage,
        ErrorKind::Timeout | ErrorKind::Transport => Exit::Unreachable,
        ErrorKind::InvalidResponse | ErrorKind::DigestMismatch => Exit::RemoteFailure,
        // A non-2xx answer: the server refused (4xx) or failed (5xx).
        ErrorKind::Remote => status.map_or(Exit::RemoteFailure, status_exit),
        _ => Exit::Refused,
    }
}

/// 5xx is a server failure; anything else that is not a success was refused.
fn status_exit(status: u16) -> Exit {
    if status >= 500 {
        Exit::RemoteFailure
    } else {
        Exit::Refused
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.0.context {
            write!(f, "{c}: ")?;
        }
        match &self.0.failure {
            Failure::Usage(m)
            | Failure::Config(m)
            | Failure::Input(m)
            | Failure::Invalid(m)
            | Failure::Unreachable(m)
            | Failure::Internal(m) => f.write_str(m),
            Failure::Quay(e) => write!(f, "{e}"),
            Failure::Cluster(error) => write!(f, "{error}"),
            Failure::Tools(e) => write!(f, "{e}"),
            Failure::Http(e) => write!(f, "{e}"),
            Failure::Service { id, message, .. } => write!(f, "{id}: {message}"),
        }
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;
    use quay_client::{Api, RemoteError, TransportError};

    fn wire(kind: TransportKind) -> QuayError {
        QuayError::from_transport(TransportError::new("x", None, kind, "cause"))
    }

    fn remote(status: u16) -> QuayError {
        // Classified exactly as a client classifies an answer of that status.
        let body = br#"{"error_message": "x"}"#;
        let r = RemoteError::from_body(Api::QuayRest, status, body);
        match status {
            401 | 403 => QuayError::Unauthorized(r),
            404 => QuayError::NotFound(r),
            409 => QuayError::AlreadyExists(r),
            400 | 422 => QuayError::InvalidRequest(r),
            _ => QuayError::Remote(r),
        }
    }

    /// Every error kind of every command maps to the documented code. The mapping does not
    /// depend on the command (there is only this one), so each case is one row here.
    #[test]
    fn every_failure_maps_to_its_documented_exit_status() {
        let cases: Vec<(CliError, u8)> = vec![
            (CliError::usage("bad flag"), 2),
            (CliError::config("bad key"), 2),
            (CliError::input("cannot read x"), 2),
            (CliError::invalid("not a bundle"), 1),
            (CliError::internal("runtime"), 1),
            (CliError::unreachable("cannot reach"), 4),
            (QuayError::Config("x".into()).into(), 2),
            (QuayError::InvalidArgument("x".into()).into(), 2),
            (wire(TransportKind::Timeout).into(), 4),
            (wire(TransportKind::Connect).into(), 4),
            (wire(TransportKind::Tls).into(), 4),
            (ToolsError::Config("bad key".into()).into(), 2),
            (
                ToolsError::Preflight {
                    role: "source".into(),
                    host: "a:1".into(),
                    error: Box::new(wire(TransportKind::Connect)),
                }
                .into(),
                4,
            ),
            (ToolsError::Quay(remote(404)).into(), 1),
            (ToolsError::Quay(remote(503)).into(), 3),
            (HttpError::Config("no client id".into()).into(), 2),
            (
                HttpError::Transport(TransportError::new(
                    "token",
                    None,
                    TransportKind::Connect,
                    "refused",
                ))
                .into(),
                4,
            ),
            (
                HttpError::Status {
                    context: "token".into(),
                    url: "u".into(),
                    status: 401,
                    body: String::new(),
                }
                .into(),
                1,
            ),
            (
                HttpError::Status {
                    context: "token".into(),
                    url: "u".into(),
                    status: 502,
                    body: String::new(),
                }
                .into(),
                3,
            ),
            (QuayError::InvalidResponse("x".into()).into(), 3),
            (QuayError::ResponseTooLarge { limit: 1 }.into(), 3),
            (
                QuayError::DigestMismatch {
                    expected: "a".into(),
                    actual: "b".into(),
                }
                .into(),
                3,
            ),
            (QuayError::Io(std::io::Error::other("disk")).into(), 1),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit().code(), code, "{e:?}");
        }
        // Remote answers by status: the same status gives the same code from every command.
        for (status, code) in [
            (400, 1),
            (401, 1),
            (403, 1),
            (404, 1),
            (405, 1),
            (409, 1),
            (422, 1),
            (429, 1),
            (500, 3),
            (501, 3),
            (502, 3),
            (503, 3),
        ] {
            let e: CliError = remote(status).into();
            assert_eq!(e.exit().code(), code, "HTTP {status} ({})", e.kind());
            let service: CliError = Failure::Service {
                status,
                id: "X".into(),
                message: "m".into(),
                body: json!({}),
            }
            .into();
            assert_eq!(service.exit().code(), code, "service HTTP {status}");
        }
    }

    #[test]
    fn every_quay_error_kind_has_a_row() {
        // A new kind must be given a code on purpose: this lists them all.
        for kind in ErrorKind::ALL {
            let expected = match kind {
                ErrorKind::Config => 2,
                ErrorKind::Timeout | ErrorKind::Transport => 4,
                ErrorKind::InvalidResponse | ErrorKind::DigestMismatch => 3,
                // Remote depends on the status (tested above); without one it is a failure.
                ErrorKind::Remote => continue,
                _ => 1,
            };
            let e = match kind {
                ErrorKind::Unauthorized => remote(401),
                ErrorKind::NotFound => remote(404),
                ErrorKind::AlreadyExists => remote(409),
                ErrorKind::InvalidRequest => remote(400),
                ErrorKind::Timeout => wire(TransportKind::Timeout),
                ErrorKind::Transport => wire(TransportKind::Connect),
                ErrorKind::DigestMismatch => QuayError::DigestMismatch {
                    expected: "a".into(),
                    actual: "b".into(),
                },
                ErrorKind::InvalidResponse => QuayError::InvalidResponse("x".into()),
                ErrorKind::Config => QuayError::Config("x".into()),
                _ => QuayError::Io(std::io::Error::other("x")),
            };
            assert_eq!(e.kind(), kind);
            assert_eq!(CliError::from(e).exit().code(), expected, "{kind}");
        }
    }

    #[test]
    fn the_table_in_help_and_readme_matches_the_code() {
        let help = exit_table_help();
        let readme = include_str!("../README.md");
        for (exit, meaning) in EXIT_TABLE {
            assert!(
                help.contains(&format!("  {}  {meaning}", exit.code())),
                "{help}"
            );
            assert!(
                readme.contains(&format!("| {} | {meaning} |", exit.code())),
                "README lacks the row for {}: | {} | {meaning} |",
                exit.code(),
                exit.code()
            );
        }
    }

    /// `omps cluster` keeps its specification's codes (the documented exception), through the
    /// same error type, and says so in `omps --help` and the README.
    #[test]
    fn cluster_failures_keep_the_specifications_codes() {
        use cluster_apply::Error as E;
        let cases: Vec<(E, u8, &str)> = vec![
            (
                E::Input {
                    problems: vec!["x".into()],
                },
                2,
                "input",
            ),
            (E::Config("x".into()), 2, "config"),
            (E::Unauthorized("x".into()), 5, "unauthorized"),
            (E::Interrupted, 130, "interrupted"),
            (
                E::Timeout {
                    file: "f".into(),
                    waited_s: 1.0,
                    not_ready: vec![],
                },
                3,
                "timeout",
            ),
            (
                E::Failed {
                    file: "f".into(),
                    object: "o".into(),
                    message: "m".into(),
                },
                4,
                "failed",
            ),
            (
                E::Transport {
                    context: "c".into(),
                    message: "m".into(),
                },
                1,
                "transport",
            ),
            (E::NotOpenShift("x".into()), 1, "refused"),
        ];
        for (e, code, kind) in cases {
            let cli = CliError::from(e);
            assert_eq!(cli.exit().code(), code, "{cli}");
            assert_eq!(cli.kind(), kind, "{cli}");
        }
        // A command's own document replaces the generic one.
        let e =
            CliError::from(E::Interrupted).with_document(json!({"result": "failure", "files": []}));
        assert_eq!(e.0.document.as_ref().unwrap()["files"], json!([]));
        let help = exit_table_help();
        assert!(help.contains(EXIT_EXCEPTIONS), "{help}");
        let readme = include_str!("../README.md");
        for (code, meaning) in crate::cluster::CLUSTER_EXIT_TABLE {
            assert!(
                readme.contains(&format!("| {code} | {meaning} |")),
                "README lacks the cluster row | {code} | {meaning} |"
            );
        }
        for (code, meaning) in ims_client::cli::EXIT_TABLE {
            assert!(
                readme.contains(&format!("| {code} | {meaning} |")),
                "README lacks the ims row | {code} | {meaning} |"
            );
        }
    }

    #[test]
    fn hints_and_remote_bodies_reach_the_json_document() {
        let gone = RemoteError::from_body(Api::QuayRest, 404, br#"{"error_message": "gone"}"#);
        let e = CliError::from(QuayError::NotFound(gone)).with_hint("check the org");
        let doc = e.to_json();
        assert_eq!(doc["result"], "failure");
        assert_eq!(doc["error"]["kind"], "not_found");
        assert_eq!(doc["error"]["status"], 404);
        assert_eq!(doc["error"]["quay_response"]["error_message"], "gone");
        assert_eq!(doc["error"]["hint"], "check the org");
        assert_eq!(e.hint(), Some("check the org"));
    }
}
