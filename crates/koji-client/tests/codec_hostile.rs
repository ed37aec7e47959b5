//! Hand-written edge cases, malformed and hostile XML: every one is a typed result, no panic.

use koji_client::xmlrpc::{self, DecodeError, Limits, Response};
use koji_client::{Fault, Value};

fn resp(inner: &str) -> String {
    format!(
        "<?xml version='1.0'?><methodResponse><params><param>{inner}</param></params></methodResponse>"
    )
}

fn decode(xml: &str) -> Result<Response, DecodeError> {
    xmlrpc::decode_response(xml.as_bytes(), &Limits::default())
}

fn value(inner: &str) -> Value {
    match decode(&resp(inner)) {
        Ok(Response::Value(v)) => v,
        other => panic!("{inner}: {other:?}"),
    }
}

#[test]
fn untyped_value_is_a_string_whitespace_kept() {
    assert_eq!(value("<value>text</value>"), Value::from("text"));
    assert_eq!(
        value("<value>  two words \n</value>"),
        Value::from("  two words \n")
    );
    assert_eq!(value("<value></value>"), Value::from(""));
    assert_eq!(value("<value/>"), Value::from(""));
}

#[test]
fn namespaced_extensions_match_on_local_name() {
    let xml = r#"<?xml version="1.0"?><methodResponse xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"><params><param><value><array><data>
<value><ex:nil/></value><value><ex:i8>-5000000000</ex:i8></value><value><biginteger>7</biginteger></value><value><i4>-3</i4></value>
</data></array></value></param></params></methodResponse>"#;
    assert_eq!(
        decode(xml).unwrap(),
        Response::Value(Value::Array(vec![
            Value::Nil,
            Value::Int(-5_000_000_000),
            Value::Int(7),
            Value::Int(-3)
        ]))
    );
}

#[test]
fn scalars_edge_cases() {
    assert_eq!(
        value("<value><double>1e+20</double></value>"),
        Value::Double(1e20)
    );
    assert_eq!(
        value("<value><double> -2.5E-3 </double></value>"),
        Value::Double(-0.0025)
    );
    assert_eq!(value("<value><string/></value>"), Value::from(""));
    assert_eq!(
        value("<value><boolean> 1 </boolean></value>"),
        Value::Bool(true)
    );
    assert_eq!(
        value("<value><string>a &amp; &lt;b&gt; &quot;&apos; &#233;&#x263A;</string></value>"),
        Value::from("a & <b> \"' é☺")
    );
    assert_eq!(
        value("<value><string><![CDATA[<raw> & ]]>tail</string></value>"),
        Value::from("<raw> & tail")
    );
    assert_eq!(
        value("<value><!-- note --><string>x<!-- c -->y</string></value>"),
        Value::from("xy")
    );
    assert_eq!(
        value("<value><base64>\n aGVs\nbG8=\n</base64></value>"),
        Value::Base64(b"hello".to_vec())
    );
    assert_eq!(
        value("<value><dateTime.iso8601>20241114T14:54:20</dateTime.iso8601></value>"),
        Value::DateTime("20241114T14:54:20".into())
    );
    assert_eq!(
        value(
            "<value><struct><member><name>e</name><value><string/></value></member></struct></value>"
        ),
        Value::structure([("e", Value::from(""))])
    );
    assert_eq!(
        value("<value><array><data/></array></value>"),
        Value::Array(vec![])
    );
    assert_eq!(
        value("<value><struct/></value>"),
        Value::Struct(std::collections::BTreeMap::new())
    );
    // CR LF in text is normalised the way every XML parser does; an escaped CR survives.
    assert_eq!(
        value("<value><string>a\r\nb&#13;</string></value>"),
        Value::from("a\nb\r")
    );
}

#[test]
fn fault_with_extra_members_and_untyped_string() {
    let xml = "<methodResponse><fault><value><struct>
<member><name>faultString</name><value>boom</value></member>
<member><name>faultCode</name><value><i4>1014</i4></value></member>
<member><name>traceback</name><value><array><data/></array></value></member>
</struct></value></fault></methodResponse>";
    assert_eq!(
        decode(xml).unwrap(),
        Response::Fault(Fault {
            code: 1014,
            string: "boom".into()
        })
    );
}

fn assert_invalid(xml: &str) {
    match decode(xml) {
        Err(DecodeError::Invalid(_) | DecodeError::Xml(_)) => {}
        other => panic!("expected a malformed-input error for {xml:?}, got {other:?}"),
    }
}

#[test]
fn malformed_documents_are_rejected_with_typed_errors() {
    let cases = [
        "",
        "   ",
        "not xml at all",
        "<html><body>502 Bad Gateway</body></html>",
        "<methodResponse>",
        "<methodResponse><params><param><value><int>1</int></value></param></params>",
        "<methodResponse><params><param><value><int>1</i4></value></param></params></methodResponse>",
        "<methodResponse></methodResponse>",
        "<methodResponse><params></params></methodResponse>",
        "<methodResponse><params><param><value><int>1</int></value></param><param><value/></param></params></methodResponse>",
        "<methodResponse><params><param><value><int>1</int></value></param></params></methodResponse><extra/>",
        "<methodResponse><params><param><value><int>x1</int></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><int>99999999999999999999</int></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><double>one</double></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><double></double></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><base64>!!!</base64></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><dateTime.iso8601/></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><nil>x</nil></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><unknown>1</unknown></value></param></params></methodResponse>",
        "<methodResponse><params><param><value>text<int>1</int></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><int>1</int><int>2</int></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><int><b>1</b></int></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><struct>junk</struct></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><struct><member><value><int>1</int></value></member></struct></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><array><value/></array></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><string>&bogus;</string></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><string>&#0;</string></value></param></params></methodResponse>",
        "<methodResponse><fault><value><string>no struct</string></value></fault></methodResponse>",
        "<methodResponse><fault><value><struct><member><name>faultCode</name><value><string>x</string></value></member><member><name>faultString</name><value>s</value></member></struct></value></fault></methodResponse>",
        "<methodCall><methodName>x</methodName></methodCall>",
    ];
    for xml in cases {
        assert_invalid(xml);
    }
}

#[test]
fn doctype_and_entity_expansion_are_refused() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<methodResponse><params><param><value><string>&lol2;</string></value></param></params></methodResponse>"#;
    assert!(matches!(decode(laughs), Err(DecodeError::Xml(m)) if m.contains("DOCTYPE")));
    let external = r#"<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodResponse><params><param><value>&xxe;</value></param></params></methodResponse>"#;
    assert!(decode(external).is_err());
}

#[test]
fn deep_nesting_hits_the_depth_limit_without_overflowing_the_stack() {
    let depth = 100_000;
    let mut xml = String::from("<methodResponse><params><param>");
    for _ in 0..depth {
        xml.push_str("<value><array><data>");
    }
    for _ in 0..depth {
        xml.push_str("</data></array></value>");
    }
    xml.push_str("</param></params></methodResponse>");
    assert_eq!(decode(&xml), Err(DecodeError::TooDeep { limit: 128 }));

    // Just inside a small limit works, just outside fails.
    let nested = |n: usize| {
        let mut s = String::new();
        for _ in 0..n {
            s.push_str("<value><array><data>");
        }
        for _ in 0..n {
            s.push_str("</data></array></value>");
        }
        resp(&s)
    };
    let limits = Limits {
        max_depth: 3 + 3 * 5,
        ..Limits::default()
    };
    assert!(xmlrpc::decode_response(nested(5).as_bytes(), &limits).is_ok());
    assert_eq!(
        xmlrpc::decode_response(nested(6).as_bytes(), &limits),
        Err(DecodeError::TooDeep {
            limit: limits.max_depth
        })
    );
}

#[test]
fn size_and_value_count_limits() {
    let xml = resp("<value><string>0123456789</string></value>");
    let small = Limits {
        max_size: xml.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        xmlrpc::decode_response(xml.as_bytes(), &small),
        Err(DecodeError::TooLarge {
            limit: xml.len() - 1
        })
    );
    let many = resp(&format!(
        "<value><array><data>{}</data></array></value>",
        "<value><int>1</int></value>".repeat(11)
    ));
    let few = Limits {
        max_values: 10,
        ..Limits::default()
    };
    assert_eq!(
        xmlrpc::decode_response(many.as_bytes(), &few),
        Err(DecodeError::TooManyValues { limit: 10 })
    );
}

#[test]
fn non_utf8_is_rejected() {
    let mut xml = resp("<value><string>X</string></value>").into_bytes();
    let pos = xml.iter().position(|b| *b == b'X').unwrap();
    xml[pos] = 0xff;
    assert_eq!(
        xmlrpc::decode_response(&xml, &Limits::default()),
        Err(DecodeError::NotUtf8)
    );
}

#[test]
fn multicall_entry_shapes_are_checked() {
    assert!(xmlrpc::decode_multicall_results(Value::Int(1)).is_err());
    assert!(xmlrpc::decode_multicall_results(Value::Array(vec![Value::Array(vec![])])).is_err());
    assert!(
        xmlrpc::decode_multicall_results(Value::Array(vec![Value::Struct(
            std::collections::BTreeMap::new()
        )]))
        .is_err()
    );
    assert!(xmlrpc::decode_multicall_results(Value::Array(vec![Value::Int(3)])).is_err());
}
