//! Access control of the embedded store: every route × {no credential, wrong token, read-only
//! token, another organization's token, the right token}, through the production local store;
//! and the refusal to listen on a non-loopback address without tokens.

mod common;

use std::fmt::Write as _;

use common::{Answer, CSV, PACKAGE, multipart, request, send, upload, zip_of};
use sha2::Digest as _;

const WRITER: &str = "writer-secret-0f3a";
const READER: &str = "reader-secret-77c1";
const OTHER: &str = "other-org-secret-91d2";

fn sha256_hex(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

struct Store {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

fn store(extra: &str) -> Store {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        format!(
            "[[token]]\nname = \"writer\"\nsha256 = \"{}\"\norganizations = {{ team = \"write\" }}\n\
             [[token]]\nname = \"reader\"\nsha256 = \"{}\"\norganizations = {{ team = \"read\" }}\n\
             [[token]]\nname = \"other\"\nsha256 = \"{}\"\norganizations = {{ elsewhere = \"write\" }}\n",
            sha256_hex(WRITER),
            sha256_hex(READER),
            sha256_hex(OTHER)
        ),
    )
    .unwrap();
    let config = common::config_from(&format!(
        "data_dir = {:?}\nspool_dir = {:?}\ntokens_file = {:?}\n{extra}",
        dir.path().join("data").display().to_string(),
        dir.path().join("spool").display().to_string(),
        tokens.display().to_string(),
    ));
    let state = omps_server::AppState::from_config(config).unwrap();
    Store {
        router: omps_server::app(state),
        _dir: dir,
    }
}

fn zip() -> Vec<u8> {
    zip_of(&[
        ("packages.yaml", PACKAGE.as_bytes()),
        ("csv.yaml", CSV.as_bytes()),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Read,
    Write,
}

/// Every route that reaches the store: method, path, what it needs, and whether it is a push.
const ROUTES: &[(&str, &str, Needs)] = &[
    ("POST", "/v1/team/marketplace/zipfile", Needs::Write),
    ("POST", "/v1/team/marketplace/zipfile/70.1.0", Needs::Write),
    ("POST", "/v2/team/zipfile", Needs::Write),
    ("POST", "/v2/team/zipfile/80.1.0", Needs::Write),
    ("POST", "/v1/team/marketplace/koji/op-1.0-1", Needs::Write),
    (
        "POST",
        "/v1/team/marketplace/koji/op-1.0-1/90.1.0",
        Needs::Write,
    ),
    ("POST", "/v2/team/koji/op-1.0-1", Needs::Write),
    ("POST", "/v2/team/koji/op-1.0-1/90.1.0", Needs::Write),
    ("GET", "/v2/team", Needs::Read),
    ("GET", "/v2/team/marketplace", Needs::Read),
    ("GET", "/v2/team/marketplace/1.0.0", Needs::Read),
    ("DELETE", "/v1/team/marketplace/1.0.0", Needs::Write),
    ("DELETE", "/v2/team/marketplace/1.0.0", Needs::Write),
    ("DELETE", "/v1/team/marketplace", Needs::Write),
    ("DELETE", "/v2/team/marketplace", Needs::Write),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    None,
    Wrong,
    ReadOnly,
    OtherOrganization,
    Right,
}

impl Credential {
    fn header(self) -> Option<String> {
        match self {
            Credential::None => None,
            Credential::Wrong => Some("Bearer not-a-token-of-this-server".into()),
            Credential::ReadOnly => Some(format!("Bearer {READER}")),
            Credential::OtherOrganization => Some(format!("Bearer {OTHER}")),
            // App Registry clients send the token as a basic-auth password.
            Credential::Right => Some(format!("Basic {}", base64_basic("robot", WRITER))),
        }
    }
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

async fn call(store: &Store, method: &str, path: &str, credential: Credential) -> Answer {
    let auth = credential.header();
    let req = if method == "POST" && path.contains("/zipfile") {
        upload(path, auth.as_deref(), multipart("m.zip", &zip()))
    } else {
        request(method, path, auth.as_deref())
    };
    send(&store.router, req).await
}

/// Puts release 1.0.0 of team/marketplace in place with the right token.
async fn seed(store: &Store) {
    let answer = call(store, "POST", "/v2/team/zipfile/1.0.0", Credential::Right).await;
    assert!(
        answer.status == 200 || answer.status == 409,
        "{}",
        answer.json
    );
}

async fn release_exists(store: &Store) -> bool {
    call(
        store,
        "GET",
        "/v2/team/marketplace/1.0.0",
        Credential::Right,
    )
    .await
    .status
        == 200
}

fn assert_refused(answer: &Answer, status: u16, id: &str, what: &str) {
    assert_eq!(answer.status.as_u16(), status, "{what}: {}", answer.json);
    assert_eq!(answer.json["error"], id, "{what}: {}", answer.json);
    assert_eq!(answer.json["status"], status, "{what}");
}

#[tokio::test]
async fn every_route_with_every_credential() {
    let store = store("");
    let mut checked = 0;
    for &(method, path, needs) in ROUTES {
        for credential in [
            Credential::None,
            Credential::Wrong,
            Credential::ReadOnly,
            Credential::OtherOrganization,
            Credential::Right,
        ] {
            seed(&store).await;
            let what = format!("{method} {path} with {credential:?}");
            let answer = call(&store, method, path, credential).await;
            // The credential is never echoed.
            let text = String::from_utf8_lossy(&answer.bytes);
            for secret in [WRITER, READER, OTHER, "not-a-token-of-this-server"] {
                assert!(
                    !text.contains(secret),
                    "{what}: echoes the credential: {text}"
                );
            }
            let allowed = match credential {
                Credential::Right => true,
                Credential::ReadOnly => needs == Needs::Read,
                _ => false,
            };
            match credential {
                Credential::None => {
                    assert_refused(&answer, 403, "OMPSAuthorizationHeaderRequired", &what);
                }
                Credential::Wrong => {
                    assert_refused(&answer, 401, "OMPSInvalidToken", &what);
                    assert!(answer.headers.contains_key("www-authenticate"), "{what}");
                }
                _ if !allowed => assert_refused(&answer, 403, "OMPSAccessDenied", &what),
                _ => {
                    let expected = if path.contains("/koji/") {
                        // Allowed through, then Koji is not configured.
                        500
                    } else {
                        200
                    };
                    assert_eq!(answer.status, expected, "{what}: {}", answer.json);
                }
            }
            // A refused delete deleted nothing.
            if method == "DELETE" && !allowed {
                assert!(release_exists(&store).await, "{what}: deleted anyway");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * 5);
}

#[tokio::test]
async fn anonymous_reads_open_reads_only() {
    let store = store("anonymous_reads = true\n");
    seed(&store).await;
    for &(method, path, needs) in ROUTES {
        let answer = call(&store, method, path, Credential::None).await;
        let what = format!("{method} {path} anonymously");
        match needs {
            Needs::Read => assert_eq!(answer.status, 200, "{what}: {}", answer.json),
            Needs::Write => {
                assert_refused(&answer, 403, "OMPSAuthorizationHeaderRequired", &what);
            }
        }
        // A wrong token still cannot write.
        if needs == Needs::Write {
            let answer = call(&store, method, path, Credential::Wrong).await;
            assert_refused(&answer, 401, "OMPSInvalidToken", &what);
        }
    }
}

#[tokio::test]
async fn open_routes_need_no_credential() {
    let store = store("");
    for path in [
        "/v1/health/ping",
        "/v2/health/ping",
        "/v1/about",
        "/v2/about",
        "/metrics",
        "/openapi.json",
    ] {
        let answer = send(&store.router, request("GET", path, None)).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.json);
    }
}

#[test]
fn a_non_loopback_local_store_without_tokens_is_refused() {
    let binary = env!("CARGO_BIN_EXE_omps-server");
    let refused = test_support::server::OmpsServer::builder(binary)
        .arg("--listen")
        .arg("0.0.0.0:0")
        .output();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("tokens_file") && stderr.contains("allow_anonymous_writes"),
        "{stderr}"
    );
    // Allowed explicitly: it starts (checked with --check-config, which validates fully).
    let allowed = test_support::server::OmpsServer::builder(binary)
        .arg("--listen")
        .arg("0.0.0.0:0")
        .arg("--check-config")
        .env("OMPS_ALLOW_ANONYMOUS_WRITES", "true")
        .output();
    assert!(allowed.status.success(), "{allowed:?}");
    // Loopback needs no tokens.
    let loopback = test_support::server::OmpsServer::builder(binary)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--check-config")
        .output();
    assert!(loopback.status.success(), "{loopback:?}");
}
