//! A stateful fake of Quay's REST API (organizations, robot accounts, proxy caches) for the
//! declarative `apply` tests: Quay has no runnable peer here, and `apply`'s promise (a second run
//! sends no mutating request) needs a server that remembers.
//!
//! Every non-GET request is recorded in [`State::mutations`] as `<METHOD> <path>`. Answers follow
//! Quay's quirks: a missing robot is `400 "Could not find robot ..."`, creating an existing
//! organization is `400 "... already exists"`, an unconfigured proxy cache is a 200 with empty
//! strings, deleting one answers `201 "Deleted"`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What the fake Quay holds.
#[derive(Debug, Default)]
pub struct State {
    /// Organizations.
    pub orgs: BTreeSet<String>,
    /// Robots: `org+name`, or the short name of a personal robot.
    pub robots: BTreeSet<String>,
    /// Proxy-cache configuration per organization, as Quay answers it.
    pub proxy: BTreeMap<String, Value>,
    /// Every non-GET request, in order.
    pub mutations: Vec<String>,
}

/// The fake; clones share the state.
#[derive(Debug, Clone, Default)]
pub struct FakeQuay {
    state: Arc<Mutex<State>>,
    bearer: Option<String>,
}

/// Token of robots the fake creates.
pub const ROBOT_TOKEN: &str = "robot-token";

impl FakeQuay {
    /// A fake that accepts any caller.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake that answers 401 unless the request carries `Authorization: Bearer <token>`.
    pub fn requiring_bearer(token: &str) -> Self {
        Self {
            state: Arc::default(),
            bearer: Some(format!("Bearer {token}")),
        }
    }

    /// The state, to seed it or to look at it.
    ///
    /// # Panics
    ///
    /// When a responder panicked while holding the lock.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake Quay state")
    }

    /// Answers every request of `server` (at the default priority).
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
            ResponseTemplate::new(200).set_body_json(json!({"name": key, "token": ROBOT_TOKEN}))
        }
        "GET" => ResponseTemplate::new(400)
            .set_body_json(json!({"message": "Could not find robot with specified username"})),
        "PUT" => {
            s.robots.insert(key.to_owned());
            ResponseTemplate::new(201).set_body_json(json!({"name": key, "token": ROBOT_TOKEN}))
        }
        "DELETE" => {
            s.robots.remove(key);
            ResponseTemplate::new(204)
        }
        _ => ResponseTemplate::new(405),
    }
}

impl Respond for FakeQuay {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if let Some(want) = &self.bearer {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if auth != want {
                return ResponseTemplate::new(401)
                    .set_body_json(json!({"error_message": "Requires authentication"}));
            }
        }
        let mut s = self.state();
        let method = req.method.as_str().to_owned();
        let path = req.url.path().to_owned();
        if method != "GET" {
            s.mutations.push(format!("{method} {path}"));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let segs: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
        match (method.as_str(), segs.as_slice()) {
            ("POST", ["organization", ""]) => {
                let name = body["name"].as_str().unwrap_or("").to_owned();
                if s.orgs.insert(name) {
                    ResponseTemplate::new(201).set_body_json("Created")
                } else {
                    ResponseTemplate::new(400).set_body_json(
                        json!({"message": "A user or organization with this name already exists"}),
                    )
                }
            }
            ("GET", ["organization", org]) if s.orgs.contains(*org) => {
                ResponseTemplate::new(200).set_body_json(json!({"name": org, "is_admin": true}))
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
                // Quay's code answers 201 "Deleted" here.
                ResponseTemplate::new(201).set_body_json("Deleted")
            }
            _ => crate::mock::unmatched(&format!("UNMATCHED REQUEST: {method} {path}")),
        }
    }
}
