//! Decoding (and encoding) against XML produced by Python's stdlib `xmlrpc` (see data/README.md).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use koji_client::xmlrpc::{self, Call, Limits, Response};
use koji_client::{Fault, Value};
use serde_json::Value as J;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Turns the type-tagged JSON written by generate.py into a `Value`.
fn untag(j: &J) -> Value {
    let obj = j.as_object().expect("tagged value is an object");
    assert_eq!(obj.len(), 1, "one tag per value: {j}");
    let (tag, v) = obj.iter().next().unwrap();
    match tag.as_str() {
        "nil" => Value::Nil,
        "int" => Value::Int(v.as_i64().unwrap()),
        "bool" => Value::Bool(v.as_bool().unwrap()),
        "str" => Value::String(v.as_str().unwrap().to_owned()),
        "double" => Value::Double(v.as_str().unwrap().parse().unwrap()),
        "datetime" => Value::DateTime(v.as_str().unwrap().to_owned()),
        "base64" => Value::Base64(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap(),
        ),
        "array" => Value::Array(v.as_array().unwrap().iter().map(untag).collect()),
        "struct" => Value::Struct(
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), untag(v)))
                .collect(),
        ),
        other => panic!("unknown tag {other}"),
    }
}

fn fixtures() -> Vec<(String, Vec<u8>, J)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("xml") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let xml = std::fs::read(&path).unwrap();
        let expected: J = serde_json::from_slice(
            &std::fs::read(data_dir().join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        out.push((name, xml, expected));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_fixture_decodes_to_its_expected_value() {
    let all = fixtures();
    assert!(all.len() >= 20, "fixtures missing: {}", all.len());
    let mut responses = 0;
    let mut calls = 0;
    for (name, xml, expected) in all {
        if let Some(method) = expected.get("method") {
            let call = xmlrpc::decode_call(&xml, &Limits::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = Call {
                method: method.as_str().unwrap().to_owned(),
                params: expected["params"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(untag)
                    .collect(),
            };
            assert_eq!(call, want, "{name}");
            calls += 1;
        } else {
            let got = xmlrpc::decode_response(&xml, &Limits::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = if let Some(ok) = expected.get("ok") {
                Response::Value(untag(ok))
            } else {
                let f = &expected["fault"];
                Response::Fault(Fault {
                    code: f["code"].as_i64().unwrap(),
                    string: f["string"].as_str().unwrap().to_owned(),
                })
            };
            assert_eq!(got, want, "{name}");
            responses += 1;
        }
    }
    assert!(responses >= 10 && calls >= 5);
}

#[test]
fn encoder_output_is_byte_identical_to_python_for_calls_and_responses() {
    let mut compared = 0;
    for (name, xml, expected) in fixtures() {
        // Doubles are written as shortest round-trip text, which differs from Python's repr
        // for exponents; everything else must match byte for byte.
        if expected.to_string().contains("\"double\"") {
            continue;
        }
        let ours = if let Some(method) = expected.get("method") {
            let params: Vec<Value> = expected["params"]
                .as_array()
                .unwrap()
                .iter()
                .map(untag)
                .collect();
            xmlrpc::encode_call(method.as_str().unwrap(), &params)
        } else if let Some(ok) = expected.get("ok") {
            xmlrpc::encode_response(&Response::Value(untag(ok)))
        } else {
            let f = &expected["fault"];
            xmlrpc::encode_response(&Response::Fault(Fault {
                code: f["code"].as_i64().unwrap(),
                string: f["string"].as_str().unwrap().to_owned(),
            }))
        };
        assert_eq!(ours, String::from_utf8(xml).unwrap(), "{name}");
        compared += 1;
    }
    assert!(compared >= 15, "{compared}");
    // scalars and the build fixtures carry doubles; all others are compared.
    assert!(compared >= fixtures().len() - 5, "{compared}");
}

#[test]
fn scalars_fixture_has_the_interesting_cases() {
    // Guards the fixture itself: i8 values, exponent doubles, base64 with line breaks.
    let xml = std::fs::read_to_string(data_dir().join("scalars.xml")).unwrap();
    assert!(xml.contains("<i8>9223372036854775807</i8>"));
    assert!(xml.contains("<double>1e+20</double>"));
    assert!(xml.contains("<string></string>"));
    assert!(xml.contains("&amp; b &lt; c &gt; d"));
    let Response::Value(Value::Array(items)) =
        xmlrpc::decode_response(xml.as_bytes(), &Limits::default()).unwrap()
    else {
        panic!("array expected")
    };
    assert_eq!(items[9], Value::Double(1e20));
    assert_eq!(items[21], Value::Base64((0..=255).collect()));
    assert_eq!(items[20], Value::DateTime("20241114T14:54:20".into()));
}

#[test]
fn multicall_fixture_splits_into_results_and_faults() {
    let xml = std::fs::read(data_dir().join("multicall.xml")).unwrap();
    let Response::Value(v) = xmlrpc::decode_response(&xml, &Limits::default()).unwrap() else {
        panic!("value expected")
    };
    let results = xmlrpc::decode_multicall_results(v).unwrap();
    assert_eq!(results.len(), 3);
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

#[test]
fn build_fixture_decodes_into_typed_build() {
    let xml = std::fs::read(data_dir().join("getbuild_operator.xml")).unwrap();
    let Response::Value(v) = xmlrpc::decode_response(&xml, &Limits::default()).unwrap() else {
        panic!("value expected")
    };
    let build: koji_client::Build = koji_client::from_value(&v).unwrap();
    assert_eq!(build.id, 1_234_567);
    assert_eq!(build.nvr, "foo-operator-bundle-container-1.0-3");
    assert_eq!(build.state, koji_client::BuildState::Complete);
    assert_eq!(build.epoch, None);
    assert_eq!(build.volume_name.as_deref(), Some("DEFAULT"));
    let extra = build.extra.unwrap();
    assert_eq!(
        extra["container_koji_task_id"],
        serde_json::json!(4_000_000_001_i64)
    );
    assert_eq!(
        extra["typeinfo"]["operator-manifests"]["archive"],
        "operator_manifests.zip"
    );
    assert_eq!(build.other["owner_id"], serde_json::json!(42));
}
