//! `apply::plan` / `apply::apply` against a stateful fake Quay (wiremock with a custom
//! responder): the first run creates and deletes, the second plans nothing and sends no
//! mutating request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use quay_client::apply::{self, ApplyConfig, ApplyOptions, Change};
use quay_client::{QuayRestClient, SecretString};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

#[derive(Default)]
struct State {
    orgs: BTreeSet<String>,
    robots: BTreeSet<String>,
    proxy: BTreeMap<String, Value>,
    mutations: Vec<String>,
}

#[derive(Clone, Default)]
struct FakeQuay(Arc<Mutex<State>>);

fn not_found_robot() -> ResponseTemplate {
    ResponseTemplate::new(400)
        .set_body_json(json!({"message": "Could not find robot with specified username"}))
}

impl Respond for FakeQuay {
    fn respond(&self, req: &Request) -> ResponseTemplate {
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
                let name = body["name"].as_str().unwrap().to_owned();
                if s.orgs.insert(name) {
                    ResponseTemplate::new(201).set_body_json("Created")
                } else {
                    ResponseTemplate::new(400).set_body_json(
                        json!({"message": "A user or organization with this name already exists"}),
                    )
                }
            }
            ("GET", ["organization", org]) => {
                if s.orgs.contains(*org) {
                    ResponseTemplate::new(200).set_body_json(json!({"name": org, "is_admin": true}))
                } else {
                    ResponseTemplate::new(404).set_body_json(json!({"error_message": "Not Found"}))
                }
            }
            ("DELETE", ["organization", org]) => {
                s.orgs.remove(*org);
                ResponseTemplate::new(204)
            }
            (m, ["organization", org, "robots", r]) => {
                let key = format!("{org}+{r}");
                robot(&mut s, m, &key)
            }
            (m, ["user", "robots", r]) => robot(&mut s, m, r),
            ("GET", ["organization", org, "proxycache"]) => {
                let v = s.proxy.get(*org).cloned().unwrap_or(
                    json!({"upstream_registry": "", "expiration_s": "", "insecure": ""}),
                );
                ResponseTemplate::new(200).set_body_json(v)
            }
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
            _ => ResponseTemplate::new(418).set_body_json(
                json!({"error_message": format!("UNMATCHED REQUEST: {method} {path}")}),
            ),
        }
    }
}

fn robot(s: &mut State, method: &str, key: &str) -> ResponseTemplate {
    match method {
        "GET" if s.robots.contains(key) => {
            ResponseTemplate::new(200).set_body_json(json!({"name": key, "token": "robot-token"}))
        }
        "GET" => not_found_robot(),
        "PUT" => {
            s.robots.insert(key.to_owned());
            ResponseTemplate::new(201).set_body_json(json!({"name": key, "token": "robot-token"}))
        }
        "DELETE" => {
            s.robots.remove(key);
            ResponseTemplate::new(204)
        }
        _ => ResponseTemplate::new(418),
    }
}

async fn fake() -> (MockServer, FakeQuay, QuayRestClient) {
    let server = MockServer::start().await;
    let fake = FakeQuay::default();
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    let client = QuayRestClient::builder(server.uri())
        .token(SecretString::from("admin-token"))
        .build()
        .unwrap();
    (server, fake, client)
}

fn desired() -> ApplyConfig {
    let env = |k: &str| (k == "UPSTREAM_PW").then(|| "upstream-secret".to_owned());
    ApplyConfig::from_value(
        &json!({
            "organizations": {"team-a": {"present": true}, "old-team": {"present": false}},
            "robots": {
                "builder": {"type": "org", "org_name": "team-a", "description": "CI"},
                "me_ci": {"type": "personal"},
                "stale": {"type": "org", "org_name": "existing", "present": false},
            },
            "proxycache": {"cache": {"org_name": "existing", "upstream_registry": "registry.example.com",
                                     "upstream_registry_username": "reader",
                                     "upstream_registry_password_env": "UPSTREAM_PW",
                                     "expiration_s": 3600}},
        }),
        &env,
    )
    .unwrap()
}

#[tokio::test]
async fn first_run_converges_second_run_changes_nothing() {
    let (_server, fake, client) = fake().await;
    {
        let mut s = fake.0.lock().unwrap();
        s.orgs
            .extend(["old-team".to_owned(), "existing".to_owned()]);
        s.robots.insert("existing+stale".to_owned());
    }
    let cfg = desired();
    let plan = apply::plan(&client, &cfg, ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        plan.changes,
        vec![
            Change::CreateOrganization {
                name: "team-a".into()
            },
            Change::CreateRobot {
                robot: "team-a+builder".into()
            },
            Change::CreateRobot {
                robot: "me_ci".into()
            },
            Change::CreateProxyCache {
                org: "existing".into(),
                upstream_registry: "registry.example.com".into()
            },
            Change::DeleteRobot {
                robot: "existing+stale".into()
            },
            Change::DeleteOrganization {
                name: "old-team".into()
            },
        ]
    );
    // Planning only reads; the robot of a not-yet-created organization is not even looked up.
    assert!(fake.0.lock().unwrap().mutations.is_empty());
    let report = apply::apply(&client, &cfg, &plan).await;
    assert_eq!(report.result, "success", "{report:?}");
    {
        let s = fake.0.lock().unwrap();
        assert_eq!(s.mutations.len(), 6, "{:?}", s.mutations);
        assert!(s.orgs.contains("team-a") && !s.orgs.contains("old-team"));
        assert_eq!(s.proxy["existing"]["expiration_s"], 3600);
    }

    let before = fake.0.lock().unwrap().mutations.len();
    let plan = apply::plan(&client, &cfg, ApplyOptions::default())
        .await
        .unwrap();
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(plan.unchanged.len(), 6, "{:?}", plan.unchanged);
    let report = apply::apply(&client, &cfg, &plan).await;
    assert!(report.no_changes);
    assert_eq!(
        fake.0.lock().unwrap().mutations.len(),
        before,
        "second run mutated"
    );
}

#[tokio::test]
async fn differing_proxy_cache_is_drift_unless_overwrite() {
    let (_server, fake, client) = fake().await;
    {
        let mut s = fake.0.lock().unwrap();
        s.orgs.extend(["team-a".to_owned(), "existing".to_owned()]);
        s.robots
            .extend(["team-a+builder".to_owned(), "me_ci".to_owned()]);
        s.proxy.insert(
            "existing".into(),
            json!({"upstream_registry": "old.example.com", "expiration_s": 3600, "insecure": false}),
        );
    }
    let cfg = desired();
    let plan = apply::plan(&client, &cfg, ApplyOptions::default())
        .await
        .unwrap();
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(plan.drift.len(), 1);
    assert!(
        plan.drift[0].contains("old.example.com"),
        "{:?}",
        plan.drift
    );
    let plan = apply::plan(
        &client,
        &cfg,
        ApplyOptions::default().overwrite_proxycache(true),
    )
    .await
    .unwrap();
    assert_eq!(
        plan.changes,
        vec![Change::ReplaceProxyCache {
            org: "existing".into(),
            upstream_registry: "registry.example.com".into()
        }]
    );
    let report = apply::apply(&client, &cfg, &plan).await;
    assert_eq!(report.result, "success", "{report:?}");
    let s = fake.0.lock().unwrap();
    assert_eq!(
        s.mutations,
        [
            "DELETE /api/v1/organization/existing/proxycache",
            "POST /api/v1/organization/existing/proxycache"
        ]
    );
    assert_eq!(
        s.proxy["existing"]["upstream_registry"],
        "registry.example.com"
    );
}

#[tokio::test]
async fn failures_are_reported_and_later_changes_still_run() {
    let (server, _fake, client) = fake().await;
    // An organization creation refused by the server (mounted with priority over the fake).
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/api/v1/organization/"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error_message": "Unauthorized", "error_type": "insufficient_scope"})))
        .with_priority(1)
        .mount(&server)
        .await;
    let cfg = ApplyConfig::from_value(
        &json!({"organizations": {"team-x": {}}, "robots": {"me_ci": {"type": "personal"}}}),
        &|_| None,
    )
    .unwrap();
    let plan = apply::plan(&client, &cfg, ApplyOptions::default())
        .await
        .unwrap();
    let report = apply::apply(&client, &cfg, &plan).await;
    assert_eq!(report.result, "failure");
    assert_eq!(report.changes[0].status, "failed");
    assert!(
        report.changes[0]
            .error
            .as_deref()
            .unwrap()
            .contains("Unauthorized")
    );
    assert_eq!(report.changes[1].status, "done");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["changes"][0]["action"], "create_organization");
    assert_eq!(json["changes"][0]["name"], "team-x");
}
