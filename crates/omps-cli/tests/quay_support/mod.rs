//! Helpers shared by the `omps quay` tests: a wiremock server with a catch-all that names any
//! unmatched request, a runner for the binary, and the shared stateful fake Quay for `apply`.
#![allow(dead_code)]

use std::process::Command;

use serde_json::Value;
pub use test_support::fake_quay::FakeQuay;
use wiremock::MockServer;

pub const TOKEN: &str = "quay-oauth-token-XYZ";

/// A mock server with the shared catch-all (418 naming any unmatched request).
pub async fn server() -> MockServer {
    test_support::mock::server().await
}

/// The shared fake Quay, requiring this module's bearer token on every call.
pub fn fake_quay() -> FakeQuay {
    FakeQuay::requiring_bearer(TOKEN)
}

/// The `Authorization` value the CLI must send.
pub fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// Result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Fails when a secret appears anywhere in the output.
    pub fn assert_no_secret(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "secret echoed:\n{}\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `omps quay --quay-url <server> <args>` with the token in `OMPS_QUAY_TOKEN` (when
/// `token` is set) and a clean `OMPS_*` environment.
pub fn quay(server: &MockServer, token: Option<&str>, args: &[&str]) -> Run {
    quay_env(server, token, args, &[])
}

pub fn quay_env(
    server: &MockServer,
    token: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("omps"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OMPS_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("quay").arg("--quay-url").arg(server.uri());
    if let Some(t) = token {
        cmd.env("OMPS_QUAY_TOKEN", t);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args);
    let out = cmd.output().expect("run omps");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
