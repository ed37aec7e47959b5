//! koji-client against Koji's own code: the marshaller of the `koji` package (1.36), the test
//! hub built on it (`test-support`'s `koji_hub`), and the official client library reading the
//! same hub.
//!
//! * Random values of every type, encoded by `koji.xmlrpcplus.dumps`, decode through our
//!   codec to exactly what Koji's client reads from the same bytes; our encoding of the same
//!   values reads back through Python's parser (the hub's) to the values we sent.
//! * Every method OMPS uses answers our client with what `koji.ClientSession` gets.
//! * The operator-manifests lookup and download work on the hub's real file layout
//!   (`koji.PathInfo`), including the legacy archive directly in the logs directory.
//!
//! Ignored by default: they need `OMPS_KOJI_PYTHON`, set by `cargo xtask ci`, and panic
//! without it.
#![allow(clippy::too_many_lines)] // test tables read better long

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use koji_client::xmlrpc::{self, Response};
use koji_client::{
    ArchiveSource, BuildState, Client, Fault, Idempotency, KojiError, Limits, Value, kwargs,
};
use serde_json::{Value as Json, json};
use test_support::koji_hub::{self, HubOptions, KojiHub};

const REASON: &str = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)";

/// A tagged value (`peers/koji/codec.py`) as our value tree.
fn untag(t: &Json) -> Value {
    let (kind, v) = t
        .as_object()
        .and_then(|o| o.iter().next())
        .unwrap_or_else(|| panic!("not a tagged value: {t}"));
    match kind.as_str() {
        "nil" => Value::Nil,
        "int" => Value::Int(v.as_i64().expect("int")),
        "bool" => Value::Bool(v.as_bool().expect("bool")),
        "str" => Value::String(v.as_str().expect("str").to_owned()),
        "double" => Value::Double(v.as_str().expect("repr").parse().expect("a double repr")),
        "datetime" => Value::DateTime(v.as_str().expect("datetime").to_owned()),
        "base64" => Value::Base64(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().expect("base64"))
                .expect("base64"),
        ),
        "array" => Value::Array(v.as_array().expect("array").iter().map(untag).collect()),
        "struct" => Value::Struct(
            v.as_object()
                .expect("struct")
                .iter()
                .map(|(k, x)| (k.clone(), untag(x)))
                .collect(),
        ),
        other => panic!("unknown tag {other}"),
    }
}

/// Our value tree as a tagged value, for the Python side.
fn tag(v: &Value) -> Json {
    match v {
        Value::Nil => json!({"nil": null}),
        Value::Int(i) => json!({"int": i}),
        Value::Bool(b) => json!({"bool": b}),
        Value::String(s) => json!({"str": s}),
        Value::Double(d) => json!({"double": format!("{d:?}")}),
        Value::DateTime(s) => json!({"datetime": s}),
        Value::Base64(b) => {
            json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)})
        }
        Value::Array(a) => json!({"array": a.iter().map(tag).collect::<Vec<_>>()}),
        Value::Struct(m) => json!({
            "struct": m.iter().map(|(k, x)| (k.clone(), tag(x))).collect::<serde_json::Map<_, _>>()
        }),
    }
}

/// Equality that tells `0.0` from `-0.0` (a codec must keep the sign).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => a == b,
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Struct(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
fn values_encoded_by_koji_decode_to_what_koji_reads() {
    const COUNT: usize = 3000;
    let docs = koji_hub::encode_with_koji(20_241_114, COUNT);
    assert_eq!(docs.len(), COUNT, "{REASON}: the generator stopped early");
    let (mut faults, mut deepest, mut big_ints) = (0, 0, 0);
    for (i, doc) in docs.iter().enumerate() {
        let ours = xmlrpc::decode_response(doc.xml.as_bytes(), &Limits::default())
            .unwrap_or_else(|e| panic!("document {i} refused: {e}\n{}", doc.xml));
        if let Some(f) = doc.expected.get("fault") {
            faults += 1;
            let want = Fault {
                code: f["code"].as_i64().unwrap(),
                string: f["string"].as_str().unwrap().to_owned(),
            };
            assert_eq!(ours, Response::Fault(want), "document {i}:\n{}", doc.xml);
            continue;
        }
        let want = untag(&doc.expected);
        let Response::Value(got) = ours else {
            panic!("document {i} decoded as a fault:\n{}", doc.xml);
        };
        assert!(
            same(&got, &want),
            "document {i} differs:\n  ours: {got:?}\n  koji: {want:?}\n{}",
            doc.xml
        );
        deepest = deepest.max(depth(&got));
        big_ints += usize::from(doc.xml.contains("<i8>"));
    }
    // The generator must have covered what the test claims.
    assert_eq!(faults, COUNT / 10);
    assert!(deepest >= 30, "deepest nesting only {deepest}");
    assert!(big_ints > 100, "only {big_ints} documents with <i8>");
}

#[test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
fn our_calls_read_back_through_the_hubs_parser() {
    let docs = koji_hub::encode_with_koji(7, 1500);
    let values: Vec<Value> = docs
        .iter()
        .filter(|d| d.expected.get("fault").is_none())
        .map(|d| untag(&d.expected))
        .collect();
    assert!(values.len() > 1000);
    let calls: Vec<String> = values
        .iter()
        .map(|v| {
            xmlrpc::encode_call(
                "listArchives",
                &[
                    v.clone(),
                    kwargs([("type", Value::from("operator-manifests"))]),
                ],
            )
        })
        .collect();
    let read = koji_hub::decode_with_python(&calls);
    assert_eq!(read.len(), values.len());
    for (i, (sent, got)) in values.iter().zip(&read).enumerate() {
        assert!(got.get("error").is_none(), "call {i}: {got}\n{}", calls[i]);
        assert_eq!(got["method"], "listArchives");
        let params: Vec<Value> = got["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(untag)
            .collect();
        assert_eq!(params.len(), 2, "call {i}");
        assert!(
            same(&params[0], sent),
            "call {i} differs:\n  sent: {sent:?}\n  read: {:?}\n{}",
            params[0],
            calls[i]
        );
        assert_eq!(
            params[1],
            kwargs([("type", Value::from("operator-manifests"))])
        );
    }
}

#[test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
fn carriage_returns_written_raw_by_koji_read_as_line_feeds_by_both() {
    // Koji's marshaller escapes only & < >; a CR goes out raw and every XML parser turns it
    // into LF. Ours must agree with Koji's client, not with the Python string.
    let docs = koji_hub::encode_with_koji(20_241_114, 3000);
    let with_cr: Vec<_> = docs.iter().filter(|d| d.xml.contains('\r')).collect();
    assert!(with_cr.len() > 10, "the generator made no CR strings");
    for doc in with_cr {
        let Response::Value(got) =
            xmlrpc::decode_response(doc.xml.as_bytes(), &Limits::default()).unwrap()
        else {
            continue;
        };
        assert!(!format!("{got:?}").contains("\\r"), "{got:?}");
    }
}

fn client(hub: &KojiHub) -> Client {
    Client::builder(&hub.hub_url)
        .topurl(&hub.topurl)
        .max_retries(0)
        .build()
        .unwrap()
}

/// One call as our client sends it (keywords as a trailing `__starstar` struct) and as the
/// Koji library is asked to make it.
fn call(method: &str, args: Vec<Value>, kw: Vec<(&str, Value)>) -> (String, Vec<Value>, Json) {
    let wire = json!({
        "method": method,
        "args": args.iter().map(tag).collect::<Vec<_>>(),
        "kwargs": kw.iter().map(|(k, v)| ((*k).to_owned(), tag(v))).collect::<serde_json::Map<_, _>>(),
    });
    let mut params = args;
    if !kw.is_empty() {
        params.push(kwargs(kw));
    }
    (method.to_owned(), params, wire)
}

#[tokio::test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
async fn every_method_answers_us_what_it_answers_the_koji_library() {
    let hub = KojiHub::start();
    let nvr = "foo-operator-bundle-container-1.0-3";
    let calls = vec![
        call("hello", vec![], vec![]),
        call("getAPIVersion", vec![], vec![]),
        call("getKojiVersion", vec![], vec![]),
        call("getBuild", vec![nvr.into()], vec![]),
        call("getBuild", vec![Value::Int(1_234_568)], vec![]),
        call("getBuild", vec![Value::Int(5_000_000_001)], vec![]),
        call(
            "getBuild",
            vec![Value::structure([
                ("name", Value::from("vol+operator-container")),
                ("version", Value::from("2.0~rc1")),
                ("release", Value::from("1^git.5")),
            ])],
            vec![],
        ),
        call("getBuild", vec!["plain-container-1.0-1".into()], vec![]),
        call("getBuild", vec!["no-such-build-1.0-1".into()], vec![]),
        call(
            "getBuild",
            vec!["no-such-build-1.0-1".into()],
            vec![("strict", true.into())],
        ),
        call("getBuild", vec!["nodashes".into()], vec![]),
        call("getBuildType", vec![nvr.into()], vec![]),
        call(
            "listArchives",
            vec![],
            vec![
                ("buildID", Value::Int(1_234_567)),
                ("type", "operator-manifests".into()),
                ("filename", "operator_manifests.zip".into()),
            ],
        ),
        call(
            "listArchives",
            vec![],
            vec![("buildID", Value::Int(1_234_568)), ("strict", true.into())],
        ),
        call(
            "listArchives",
            vec![],
            vec![("type", "no-such-btype".into())],
        ),
        call("listArchives", vec![], vec![("bogus", Value::Int(1))]),
        call("getBuildLogs", vec![Value::Int(1_234_568)], vec![]),
        call(
            "getBuildLogs",
            vec!["noarch-operator-metadata-container-1.2-1".into()],
            vec![],
        ),
        call("getBuildLogs", vec![Value::Int(1)], vec![]),
        call("noSuchMethod", vec![], vec![]),
    ];
    let wire: Vec<Json> = calls.iter().map(|(_, _, w)| w.clone()).collect();
    let theirs = koji_hub::call_with_koji_library(&hub.hub_url, &wire);
    assert_eq!(theirs.len(), calls.len());
    let koji = client(&hub);
    for ((method, params, _), their) in calls.iter().zip(&theirs) {
        let ours = koji.call(method, params, Idempotency::Idempotent).await;
        match (ours, their.get("result"), their.get("fault")) {
            (Ok(v), Some(t), None) => {
                assert!(
                    same(&v, &untag(t)),
                    "{method}{params:?}:\n  ours: {v:?}\n  koji: {t}"
                );
            }
            (Err(KojiError::Fault { fault, .. }), None, Some(f)) => {
                assert_eq!(
                    fault.code,
                    f["code"].as_i64().unwrap(),
                    "{method}{params:?}"
                );
                assert_eq!(
                    fault.string,
                    f["string"].as_str().unwrap(),
                    "{method}{params:?}"
                );
            }
            (ours, ..) => panic!("{method}{params:?}: ours {ours:?}, koji {their}"),
        }
    }
    // The cases the comparison must have covered.
    let faults: BTreeMap<i64, usize> =
        theirs
            .iter()
            .filter_map(|t| t.get("fault"))
            .fold(BTreeMap::new(), |mut m, f| {
                *m.entry(f["code"].as_i64().unwrap()).or_default() += 1;
                m
            });
    assert_eq!(faults, BTreeMap::from([(1000, 6), (1019, 1)]), "{theirs:?}");
    assert!(theirs[8]["result"]["nil"].is_null(), "unknown NVR is nil");
    assert_eq!(
        theirs[16]["result"]["array"][0]["struct"]["dir"]["str"], ".",
        "the legacy archive sits directly in the logs directory"
    );

    // Multicall: per call a value or a fault (with the hub's extra `traceback`, ignored).
    let results = koji
        .multicall(
            &[
                koji_client::MethodCall::new("getBuild", vec![Value::Int(1_234_567)]),
                koji_client::MethodCall::new("getBuild", vec!["bad".into()]),
                koji_client::MethodCall::new("hello", vec![]),
            ],
            Idempotency::Idempotent,
        )
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().get("nvr"), Some(&nvr.into()));
    assert_eq!(
        results[1],
        Err(Fault {
            code: 1000,
            string: "invalid format: bad".into()
        })
    );
    assert_eq!(results[2], Ok(Value::from("Hello World")));
    assert_eq!(koji.get_koji_version().await.unwrap(), hub.koji_version);
}

#[tokio::test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
async fn operator_manifests_are_found_and_downloaded_on_the_hubs_layout() {
    let hub = KojiHub::start();
    let koji = client(&hub);
    let top = &hub.topurl;
    let cases = [
        (
            "foo-operator-bundle-container-1.0-3",
            format!(
                "{top}/packages/foo-operator-bundle-container/1.0/3/files/operator-manifests/operator_manifests.zip"
            ),
            true,
        ),
        (
            "etcd-operator-metadata-container-0.9.4-7",
            format!(
                "{top}/packages/etcd-operator-metadata-container/0.9.4/7/data/logs/operator_manifests.zip"
            ),
            false,
        ),
        (
            "noarch-operator-metadata-container-1.2-1",
            format!(
                "{top}/packages/noarch-operator-metadata-container/1.2/1/data/logs/noarch/operator_manifests.zip"
            ),
            false,
        ),
        (
            "vol+operator-container-2.0~rc1-1^git.5",
            format!(
                "{top}/vol/archive2024/packages/vol%2Boperator-container/2.0~rc1/1%5Egit.5/files/operator-manifests/operator_manifests.zip"
            ),
            true,
        ),
        (
            "big-id-operator-container-3.1-2",
            format!(
                "{top}/packages/big-id-operator-container/3.1/2/files/operator-manifests/operator_manifests.zip"
            ),
            true,
        ),
    ];
    for (nvr, url, typeinfo) in cases {
        let archive = koji.find_operator_manifests(nvr).await.unwrap();
        assert_eq!(archive.url.as_str(), url, "{nvr}");
        assert_eq!(
            matches!(archive.source, ArchiveSource::Typeinfo { .. }),
            typeinfo,
            "{nvr}"
        );
        // The hub registers typeinfo archives with an md5; legacy logs have none.
        assert_eq!(archive.checksum.is_some(), typeinfo, "{nvr}");
        let bytes = koji.download_to_vec(&archive, 20 << 20).await.unwrap();
        assert!(bytes.starts_with(b"PK\x03\x04"), "{nvr}: not a zip");
        if let Some(size) = archive.size {
            assert_eq!(size, bytes.len() as u64, "{nvr}");
        }
    }
}

#[tokio::test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
async fn lookup_failures_are_typed() {
    let hub = KojiHub::start();
    let koji = client(&hub);
    let find = |nvr: &'static str| {
        let koji = koji.clone();
        async move { koji.find_operator_manifests(nvr).await.unwrap_err() }
    };
    assert!(matches!(
        find("failed-operator-container-1.0-1").await,
        KojiError::BuildNotComplete {
            state: BuildState::Failed,
            ..
        }
    ));
    assert!(matches!(
        find("building-operator-container-1.0-1").await,
        KojiError::BuildNotComplete {
            state: BuildState::Building,
            ..
        }
    ));
    for nvr in ["plain-container-1.0-1", "base-image-container-8.10-1"] {
        assert!(
            matches!(find(nvr).await, KojiError::NotAnOperatorImage { .. }),
            "{nvr}"
        );
    }
    for nvr in ["no-such-build-1.0-1", "nodashes"] {
        assert!(
            matches!(find(nvr).await, KojiError::BuildNotFound { .. }),
            "{nvr}"
        );
    }
    assert!(matches!(
        find("missing-log-operator-container-1.0-1").await,
        KojiError::ArchiveNotFound { .. }
    ));
    let archive = koji
        .find_operator_manifests("missing-file-operator-container-1.0-1")
        .await
        .unwrap();
    let err = koji.download_to_vec(&archive, 20 << 20).await.unwrap_err();
    assert!(
        matches!(err, KojiError::DownloadStatus { status: 404, .. }),
        "{err:?}"
    );
    let archive = koji
        .find_operator_manifests("badsum-operator-container-1.0-1")
        .await
        .unwrap();
    let err = koji.download_to_vec(&archive, 20 << 20).await.unwrap_err();
    let KojiError::ChecksumMismatch {
        expected, actual, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(expected, &"0".repeat(32));
    assert_eq!(actual.len(), 32);
    // The size cap holds whatever the hub says.
    let archive = koji
        .find_operator_manifests("foo-operator-bundle-container-1.0-3")
        .await
        .unwrap();
    let err = koji.download_to_vec(&archive, 100).await.unwrap_err();
    assert!(
        matches!(err, KojiError::TooLarge { limit: 100, .. }),
        "{err:?}"
    );
}

#[tokio::test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
async fn a_hub_without_the_btype_still_serves_the_archive_unverified() {
    let hub = KojiHub::start_with(&HubOptions {
        no_operator_manifests_btype: true,
        ..HubOptions::default()
    });
    let koji = client(&hub);
    let err = koji
        .list_archives(&koji_client::ListArchives {
            build_id: Some(1_234_567),
            btype: Some("operator-manifests".into()),
            filename: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.fault().map(|f| f.string.as_str()),
        Some("unsupported archive type: operator-manifests")
    );
    let archive = koji
        .find_operator_manifests("foo-operator-bundle-container-1.0-3")
        .await
        .unwrap();
    assert_eq!(archive.checksum, None);
    assert!(
        !koji
            .download_to_vec(&archive, 20 << 20)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
async fn an_offline_hub_is_a_retryable_fault_retried_by_count() {
    let hub = KojiHub::start_with(&HubOptions {
        offline: true,
        ..HubOptions::default()
    });
    let koji = Client::builder(&hub.hub_url)
        .topurl(&hub.topurl)
        .max_retries(2)
        .retry_base_delay(Duration::from_millis(10))
        .build()
        .unwrap();
    let err = koji.get_api_version().await.unwrap_err();
    assert_eq!(
        err.fault(),
        Some(&Fault {
            code: 1014,
            string: "Server disabled for maintenance".into()
        })
    );
    assert!(err.is_retryable());
    assert!(err.to_string().contains("ServerOffline"), "{err}");
}

#[tokio::test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON, set by cargo xtask ci)"]
async fn slow_and_absent_hubs_are_transport_errors_naming_the_cause() {
    let hub = KojiHub::start_with(&HubOptions {
        delay_secs: 5.0,
        ..HubOptions::default()
    });
    let koji = Client::builder(&hub.hub_url)
        .timeout(Duration::from_millis(500))
        .max_retries(0)
        .build()
        .unwrap();
    let err = koji.get_api_version().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");

    let down = format!("{}/kojihub", test_support::python_peer::refused_url());
    let koji = Client::builder(down).max_retries(0).build().unwrap();
    let err = koji.get_api_version().await.unwrap_err();
    assert!(matches!(err, KojiError::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("Connection refused"), "{err}");
}
