//! `omps quay` over TLS: an `openssl s_server -WWW` serves a Quay API answer from files with the
//! test certificate of `test-support` (valid for 127.0.0.1). Without trust the call fails as
//! unreachable (exit 4); `--ca-bundle` and `--skip-tls-verify` both make it work, so the REST
//! client honours the same TLS switches as the registry clients (see `mirror_peer.rs`).
//!
//! Ignored by default (needs the `openssl` binary: `OMPS_OPENSSL`, else `/usr/bin/openssl`);
//! `cargo xtask ci` runs it with the other peer tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct TlsServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> TlsServer {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("api/v1/organization");
    std::fs::create_dir_all(&org).unwrap();
    std::fs::write(
        org.join("team-a"),
        r#"{"name": "team-a", "is_admin": true}"#,
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(test_support::peers::openssl())
        .args(["s_server", "-quiet", "-WWW", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(test_support::certs::server_cert_path())
        .arg("-key")
        .arg(test_support::certs::server_key_path())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    TlsServer {
        child,
        port,
        _dir: dir,
    }
}

fn omps(server: &TlsServer, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("omps"))
        .args([
            "quay",
            "--quay-url",
            &format!("https://127.0.0.1:{}", server.port),
        ])
        .args(extra)
        .args(["org", "get", "team-a", "--output", "json"])
        .env("OMPS_QUAY_TOKEN", "tls-token")
        .env_remove("OMPS_CA_BUNDLE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "needs openssl; run by cargo xtask ci"]
fn rest_calls_honour_ca_bundle_and_skip_tls_verify() {
    let server = start();
    let (code, stdout, _) = omps(&server, &[]);
    assert_eq!(code, 4, "an untrusted certificate must fail: {stdout}");
    assert!(stdout.contains("\"transport\""), "{stdout}");
    let ca = test_support::certs::ca_path();
    let (code, stdout, stderr) = omps(&server, &["--ca-bundle", ca.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["organization"]["name"], "team-a");
    let (code, stdout, _) = omps(&server, &["--skip-tls-verify"]);
    assert_eq!(code, 0, "{stdout}");
}
