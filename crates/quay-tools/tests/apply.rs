//! `apply::plan` / `apply::apply` against a stateful fake Quay (wiremock with a custom
//! responder): the first run creates and deletes, the second plans nothing and sends no
//! mutating request.

use quay_client::{QuayRestClient, SecretString};
use quay_tools::apply::{self, ApplyConfig, ApplyOptions, Change};
use serde_json::json;
use test_support::fake_quay::FakeQuay;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn fake() -> (MockServer, FakeQuay, QuayRestClient) {
    let server = MockServer::start().await;
    let fake = FakeQuay::new();
    fake.mount(&server).await;
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
        let mut s = fake.state();
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
    assert!(fake.state().mutations.is_empty());
    let report = apply::apply(&client, &cfg, &plan).await;
    assert_eq!(report.result, "success", "{report:?}");
    {
        let s = fake.state();
        assert_eq!(s.mutations.len(), 6, "{:?}", s.mutations);
        assert!(s.orgs.contains("team-a") && !s.orgs.contains("old-team"));
        assert_eq!(s.proxy["existing"]["expiration_s"], 3600);
    }

    let before = fake.state().mutations.len();
    let plan = apply::plan(&client, &cfg, ApplyOptions::default())
        .await
        .unwrap();
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(plan.unchanged.len(), 6, "{:?}", plan.unchanged);
    let report = apply::apply(&client, &cfg, &plan).await;
    assert!(report.no_changes);
    assert_eq!(fake.state().mutations.len(), before, "second run mutated");
}

#[tokio::test]
async fn differing_proxy_cache_is_drift_unless_overwrite() {
    let (_server, fake, client) = fake().await;
    {
        let mut s = fake.state();
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
    let s = fake.state();
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
