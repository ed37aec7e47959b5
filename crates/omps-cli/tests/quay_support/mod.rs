//! Helpers shared by the `omps quay` tests: a wiremock server with a catch-all that names any
//! unmatched request, a runner for the binary, and a stateful fake Quay for `apply`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "quay-oauth-token-XYZ";

/// A mock server whose lowest-priority mock answers 418 naming the unmatched request.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(|req: &Request| {
            let msg = format!(
                "UNMATCHED REQUEST: {} {}{}",
                req.method,
                req.url.path(),
                req.url.query().map(|q| format!("?{q}")).unwrap_or_default()
            );
            ResponseTemplate::new(418).set_body_json(json!({"error_message": msg}))
        })
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
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

/// A Quay that remembers organizations, robots and proxy caches, and records every
/// non-GET request. Requires the bearer token on every call.
#[derive(Default)]
pub struct State {
    pub orgs: BTreeSet<String>,
    pub robots: BTreeSet<String>,
    pub proxy: BTreeMap<String, Value>,
    pub mutations: Vec<String>,
}

#[derive(Clone, Default)]
pub struct FakeQuay(pub Arc<Mutex<State>>);

impl FakeQuay {
    pub async fn mount(&self, server: &MockServer) {
        Mock::given(any())
            .respond_with(self.clone())
            .mount(server)
            .await;
    }
}

fn robot(s: &mut State, method: &str, key: &str) -> ResponseTemplate {
    match method {
        "GET" if s.robots.contains(key) => {
            ResponseTemplate::new(200).set_body_json(json!({"name": key, "token": "robot-secret"}))
        }
        "GET" => ResponseTemplate::new(400)
            .set_body_json(json!({"message": "Could not find robot with specified username"})),
        "PUT" => {
            s.robots.insert(key.to_owned());
            ResponseTemplate::new(201).set_body_json(json!({"name": key, "token": "robot-secret"}))
        }
        "DELETE" => {
            s.robots.remove(key);
            ResponseTemplate::new(204)
        }
        _ => ResponseTemplate::new(418),
    }
}

impl Respond for FakeQuay {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != bearer() {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"error_message": "Requires authentication"}));
        }
        let mut s = self.0.lock().unwrap();
        let method = req.method.as_str().to_owned();
        let path = req.url.path().to_owned();
        if method != "GET" {
            s.mutations.push(format!("{method} {path}"));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let segs: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
        match (method.as_str(), segs.as_slice()) {
            ("POST", ["organization", ""]) => {
                s.orgs
                    .insert(body["name"].as_str().unwrap_or("").to_owned());
                ResponseTemplate::new(201).set_body_json("Created")
            }
            ("GET", ["organization", org]) if s.orgs.contains(*org) => {
                ResponseTemplate::new(200).set_body_json(json!({"name": org}))
            }
            ("GET", ["organization", _]) => {
                ResponseTemplate::new(404).set_body_json(json!({"error_message": "Not Found"}))
            }
            ("DELETE", ["organization", org]) => {
                s.orgs.remove(*org);
                ResponseTemplate::new(204)
            }
            (m, ["organization", org, "robots", r]) => robot(&mut s, m, &format!("{org}+{r}")),
            (m, ["user", "robots", r]) => robot(&mut s, m, r),
            ("GET", ["organization", org, "proxycache"]) => ResponseTemplate::new(200)
                .set_body_json(s.proxy.get(*org).cloned().unwrap_or(
                    json!({"upstream_registry": "", "expiration_s": "", "insecure": ""}),
                )),
            ("POST", ["organization", org, "proxycache"]) => {
                let v = json!({"upstream_registry": body["upstream_registry"],
                               "expiration_s": body.get("expiration_s").cloned().unwrap_or(json!(86400)),
                               "insecure": body["insecure"]});
                s.proxy.insert((*org).to_owned(), v);
                ResponseTemplate::new(201).set_body_json("Created")
            }
            ("DELETE", ["organization", org, "proxycache"]) => {
                s.proxy.remove(*org);
                ResponseTemplate::new(201).set_body_json("Deleted")
            }
            _ => ResponseTemplate::new(418).set_body_json(
                json!({"error_message": format!("UNMATCHED REQUEST: {method} {path}")}),
            ),
        }
    }
}
