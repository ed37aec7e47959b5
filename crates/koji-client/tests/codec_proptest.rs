//! Property tests: encode → decode is the identity; arbitrary input never panics.

use std::collections::BTreeMap;

use base64::Engine as _;
use koji_client::xmlrpc::{self, Limits, Response};
use koji_client::{Fault, Value};
use proptest::prelude::*;

/// Strings XML 1.0 can carry (no other control characters), `\r` included.
fn xml_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just('\t'),
            Just('\n'),
            Just('\r'),
            Just('&'),
            Just('<'),
            Just('>'),
            Just(']'),
            Just(' '),
            prop::char::range(' ', '~'),
            prop::char::range('\u{a0}', '\u{d7ff}'),
            prop::char::range('\u{10000}', '\u{10ffff}'),
        ],
        0..24,
    )
    .prop_map(|c| c.into_iter().collect())
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<i64>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        xml_string().prop_map(Value::String),
        // NaN never equals itself, so it is tested separately.
        any::<f64>()
            .prop_filter("not NaN", |d| !d.is_nan())
            .prop_map(Value::Double),
        "[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}".prop_map(Value::DateTime),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Value::Base64),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(xml_string(), inner, 0..8)
                .prop_map(|m: BTreeMap<String, Value>| Value::Struct(m)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn response_round_trip(v in value()) {
        let xml = xmlrpc::encode_response(&Response::Value(v.clone()));
        let back = xmlrpc::decode_response(xml.as_bytes(), &Limits::default()).unwrap();
        prop_assert_eq!(back, Response::Value(v));
    }

    #[test]
    fn call_round_trip(method in "[A-Za-z][A-Za-z0-9_.]{0,20}", params in prop::collection::vec(value(), 0..4)) {
        let xml = xmlrpc::encode_call(&method, &params);
        let back = xmlrpc::decode_call(xml.as_bytes(), &Limits::default()).unwrap();
        prop_assert_eq!(back.method, method);
        prop_assert_eq!(back.params, params);
    }

    #[test]
    fn fault_round_trip(code in any::<i64>(), string in xml_string()) {
        let fault = Fault { code, string };
        let xml = xmlrpc::encode_response(&Response::Fault(fault.clone()));
        prop_assert_eq!(
            xmlrpc::decode_response(xml.as_bytes(), &Limits::default()).unwrap(),
            Response::Fault(fault)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = xmlrpc::decode_response(&bytes, &Limits::default());
        let _ = xmlrpc::decode_call(&bytes, &Limits::default());
    }

    #[test]
    fn mutated_valid_documents_never_panic(v in value(), cut in any::<prop::sample::Index>(), insert in "[<>/&;a-z!\\[\\]-]{0,6}") {
        let xml = xmlrpc::encode_response(&Response::Value(v));
        let mut at = cut.index(xml.len() + 1);
        while !xml.is_char_boundary(at) { at -= 1; }
        let mutated = format!("{}{}{}", &xml[..at], insert, &xml[at..]);
        let _ = xmlrpc::decode_response(mutated.as_bytes(), &Limits::default());
        let truncated = &xml[..at];
        let _ = xmlrpc::decode_response(truncated.as_bytes(), &Limits::default());
    }

    #[test]
    fn json_bridge_round_trip_for_json_like_values(v in value()) {
        // Nil, ints, bools, strings, finite doubles, arrays and structs survive the JSON bridge;
        // the other kinds are first replaced by what the bridge documents for them.
        fn json_like(v: Value) -> Value {
            match v {
                Value::DateTime(s) => Value::String(s),
                Value::Base64(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
                Value::Double(d) if !d.is_finite() => Value::Nil,
                Value::Array(a) => Value::Array(a.into_iter().map(json_like).collect()),
                Value::Struct(m) => Value::Struct(m.into_iter().map(|(k, v)| (k, json_like(v))).collect()),
                other => other,
            }
        }
        let want = json_like(v.clone());
        prop_assert_eq!(Value::from_json(&v.to_json()), want);
    }
}

#[test]
fn nan_and_infinities_survive_encoding() {
    for d in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let xml = xmlrpc::encode_response(&Response::Value(Value::Double(d)));
        let Response::Value(Value::Double(back)) =
            xmlrpc::decode_response(xml.as_bytes(), &Limits::default()).unwrap()
        else {
            panic!("double expected")
        };
        assert!(back.is_nan() == d.is_nan() && (d.is_nan() || back.to_bits() == d.to_bits()));
    }
}
