//! Contract tests: every typed hub method against a fake hub.

mod common;

use common::{call, expect, fixture, ok, ok_json};
use koji_client::{
    BuildRef, BuildState, ChecksumType, Fault, Idempotency, KojiError, ListArchives, MethodCall,
    Value, kwargs,
};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

const NVR: &str = "foo-operator-bundle-container-1.0-3";

#[tokio::test]
async fn hello_and_versions() {
    let hub = common::hub().await;
    expect(&hub, call("hello").params(vec![]), fixture("hello"), 1).await;
    expect(
        &hub,
        call("getAPIVersion").params(vec![]),
        fixture("getapiversion"),
        1,
    )
    .await;
    expect(
        &hub,
        call("getKojiVersion").params(vec![]),
        ok(Value::from("1.35.0")),
        1,
    )
    .await;
    let koji = common::client(&hub);
    assert_eq!(koji.hello().await.unwrap(), "Hello World");
    assert_eq!(koji.get_api_version().await.unwrap(), 1);
    assert_eq!(koji.get_koji_version().await.unwrap(), "1.35.0");
}

#[tokio::test]
async fn requests_are_text_xml_posts_with_user_agent() {
    let hub = common::hub().await;
    Mock::given(method("POST"))
        .and(path(common::HUB_PATH))
        .and(header("content-type", "text/xml"))
        .and(header("user-agent", "omps-test/1"))
        .and(call("hello"))
        .respond_with(fixture("hello"))
        .expect(1)
        .mount(&hub)
        .await;
    let koji = koji_client::Client::builder(common::hub_url(&hub))
        .user_agent("omps-test/1")
        .build()
        .unwrap();
    assert_eq!(koji.hello().await.unwrap(), "Hello World");
}

#[tokio::test]
async fn get_build_by_nvr_decodes_python_generated_answer() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuild").params(vec![Value::from(NVR)]),
        fixture("getbuild_operator"),
        1,
    )
    .await;
    let build = common::client(&hub).get_build(NVR).await.unwrap().unwrap();
    assert_eq!(build.id, 1_234_567);
    assert_eq!(build.name, "foo-operator-bundle-container");
    assert_eq!(
        (build.version.as_str(), build.release.as_str()),
        ("1.0", "3")
    );
    assert_eq!(build.state, BuildState::Complete);
    assert_eq!(build.task_id, None);
    assert_eq!(build.completion_ts, Some(1_731_596_462.123_456));
    assert_eq!(
        build.extra.as_ref().unwrap()["operator_manifests_archive"],
        "operator_manifests.zip"
    );
}

#[tokio::test]
async fn get_build_by_id_and_by_parts_send_the_right_argument() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuild").params(vec![Value::Int(1_234_567)]),
        fixture("getbuild_operator"),
        1,
    )
    .await;
    let parts = Value::structure([
        ("name", Value::from("foo")),
        ("version", Value::from("1.0")),
        ("release", Value::from("3")),
    ]);
    expect(
        &hub,
        call("getBuild").params(vec![parts]),
        fixture("getbuild_legacy_volume"),
        1,
    )
    .await;
    let koji = common::client(&hub);
    assert_eq!(
        koji.get_build(1_234_567).await.unwrap().unwrap().id,
        1_234_567
    );
    let by_parts = koji
        .get_build(BuildRef::Parts {
            name: "foo".into(),
            version: "1.0".into(),
            release: "3".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_parts.volume_name.as_deref(), Some("archive+vol"));
}

#[tokio::test]
async fn unknown_build_is_none() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_unknown"), 1).await;
    assert_eq!(
        common::client(&hub).get_build("no-such-1-1").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn malformed_nvr_fault_is_recognisable() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("fault_invalid_format"), 1).await;
    let err = common::client(&hub)
        .get_build("nodashes")
        .await
        .unwrap_err();
    assert!(err.is_invalid_nvr(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.fault().unwrap().code, 1000);
}

#[tokio::test]
async fn get_build_type() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuildType").params(vec![Value::from(NVR)]),
        fixture("getbuildtype"),
        1,
    )
    .await;
    expect(
        &hub,
        call("getBuildType").params(vec![Value::from("x-1-1")]),
        ok(Value::Nil),
        1,
    )
    .await;
    let koji = common::client(&hub);
    let types = koji.get_build_type(NVR).await.unwrap().unwrap();
    assert_eq!(types["image"], Some(json!({})));
    assert_eq!(
        types["operator-manifests"],
        Some(json!({"archive": "operator_manifests.zip"}))
    );
    assert_eq!(koji.get_build_type("x-1-1").await.unwrap(), None);
}

#[tokio::test]
async fn list_archives_sends_keyword_arguments() {
    let hub = common::hub().await;
    let want = kwargs([
        ("buildID", Value::Int(1_234_567)),
        ("type", Value::from("operator-manifests")),
        ("filename", Value::from("operator_manifests.zip")),
    ]);
    assert_eq!(want.get("__starstar"), Some(&Value::Bool(true)));
    expect(
        &hub,
        call("listArchives").params(vec![want]),
        fixture("listarchives"),
        1,
    )
    .await;
    let rows = common::client(&hub)
        .list_archives(&ListArchives {
            build_id: Some(1_234_567),
            btype: Some("operator-manifests".into()),
            filename: Some("operator_manifests.zip".into()),
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].size, Some(5 * 1024 * 1024 * 1024));
    assert_eq!(rows[0].checksum_type, Some(ChecksumType::Md5));
    assert_eq!(
        rows[0].checksum.as_deref(),
        Some("5eb63bbbe01eeed093cb22bb8f5acdc3")
    );
    assert_eq!(rows[0].btype.as_deref(), Some("operator-manifests"));
}

#[tokio::test]
async fn list_archives_without_filters_sends_only_starstar() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("listArchives").params(vec![kwargs::<&str>([])]),
        ok_json(json!([])),
        1,
    )
    .await;
    let rows = common::client(&hub)
        .list_archives(&ListArchives::default())
        .await
        .unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn get_build_logs() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuildLogs").params(vec![Value::Int(7)]),
        fixture("getbuildlogs"),
        1,
    )
    .await;
    let logs = common::client(&hub).get_build_logs(7).await.unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].name, "operator_manifests.zip");
    assert_eq!(logs[0].dir.as_deref(), Some("noarch"));
    assert!(logs[1].path.ends_with("x86_64.log"));
}

fn three_calls() -> Vec<MethodCall> {
    vec![
        MethodCall::new("getAPIVersion", vec![]),
        MethodCall::new("noSuchMethod", vec![]),
        MethodCall::new("hello", vec![]),
    ]
}

fn encoded_calls() -> Vec<Value> {
    vec![Value::Array(
        ["getAPIVersion", "noSuchMethod", "hello"]
            .iter()
            .map(|m| {
                Value::structure([
                    ("methodName", Value::from(*m)),
                    ("params", Value::Array(vec![])),
                ])
            })
            .collect(),
    )]
}

#[tokio::test]
async fn multicall_keeps_per_call_faults() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("multiCall").params(encoded_calls()),
        fixture("multicall"),
        1,
    )
    .await;
    expect(
        &hub,
        call("system.multicall").params(encoded_calls()),
        fixture("multicall"),
        1,
    )
    .await;
    let koji = common::client(&hub);
    for results in [
        koji.multicall(&three_calls(), Idempotency::Idempotent)
            .await
            .unwrap(),
        koji.system_multicall(&three_calls(), Idempotency::Idempotent)
            .await
            .unwrap(),
    ] {
        assert_eq!(results[0], Ok(Value::Int(1)));
        assert_eq!(
            results[1],
            Err(Fault {
                code: 1000,
                string: "Invalid method: noSuchMethod".into()
            })
        );
        assert_eq!(results[2], Ok(Value::from("Hello World")));
    }
}

#[tokio::test]
async fn multicall_with_wrong_result_count_is_an_error() {
    let hub = common::hub().await;
    expect(&hub, call("multiCall"), ok_json(json!([[1]])), 1).await;
    let err = common::client(&hub)
        .multicall(&three_calls(), Idempotency::Idempotent)
        .await
        .unwrap_err();
    assert!(matches!(err, KojiError::UnexpectedResult { .. }), "{err:?}");
}

#[tokio::test]
async fn call_as_reports_shape_mismatch() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuild"),
        ok_json(json!({"id": "not a number"})),
        1,
    )
    .await;
    let err = common::client(&hub).get_build(NVR).await.unwrap_err();
    assert!(
        matches!(err, KojiError::UnexpectedResult { ref method, .. } if method == "getBuild"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_fake_hub_rejects_get_like_the_real_one() {
    // Guards the test double itself: a GET gets the hub's 405 text.
    let hub = common::hub().await;
    let resp = reqwest::get(common::hub_url(&hub)).await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(
        resp.text().await.unwrap(),
        "This is an XML-RPC server. Only POST requests are accepted."
    );
    let _ = ResponseTemplate::new(200);
}

#[tokio::test]
async fn multicall_carries_keyword_arguments_inside_params() {
    let hub = common::hub().await;
    let args = kwargs([("buildID", Value::Int(7)), ("type", Value::from("image"))]);
    let encoded = vec![Value::Array(vec![Value::structure([
        ("methodName", Value::from("listArchives")),
        ("params", Value::Array(vec![args.clone()])),
    ])])];
    expect(
        &hub,
        call("multiCall").params(encoded),
        ok_json(json!([[[]]])),
        1,
    )
    .await;
    let results = common::client(&hub)
        .multicall(
            &[MethodCall::new("listArchives", vec![args])],
            Idempotency::Idempotent,
        )
        .await
        .unwrap();
    assert_eq!(results, vec![Ok(Value::Array(vec![]))]);
}
