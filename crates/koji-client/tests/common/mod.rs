//! Fake Koji hub helpers on wiremock.
#![allow(dead_code)]

use std::time::Duration;

use koji_client::xmlrpc::{self, Limits, Response};
use koji_client::{Client, Fault, HttpSettings, Value};
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

pub const HUB_PATH: &str = "/kojihub";

/// A mock hub: answers 405 to anything but POST (like the real hub), and (the shared
/// catch-all) 418 naming the request and its decoded call for any POST no test expectation
/// matched, so a missed expectation is obvious.
pub async fn hub() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(HUB_PATH))
        .respond_with(
            ResponseTemplate::new(405)
                .insert_header("allow", "POST")
                .insert_header("content-type", "text/plain")
                .set_body_string("This is an XML-RPC server. Only POST requests are accepted."),
        )
        .with_priority(u8::MAX - 1)
        .mount(&server)
        .await;
    test_support::mock::catch_all_describing(&server, |req: &Request| {
        let call = xmlrpc::decode_call(&req.body, &Limits::default()).map_or_else(
            |e| format!("undecodable body ({e})"),
            |c| format!("{} {:?}", c.method, c.params),
        );
        format!("no mock matched {} {} call={call}", req.method, req.url)
    })
    .await;
    server
}

pub fn hub_url(server: &MockServer) -> String {
    format!("{}{HUB_PATH}", server.uri())
}

/// Fast retries so retry tests stay quick.
pub fn fast_retries(n: u32) -> HttpSettings {
    HttpSettings::new()
        .max_retries(n)
        .retry_base_delay(Duration::from_millis(5))
}

pub fn client(server: &MockServer) -> Client {
    Client::builder(hub_url(server))
        .topurl(format!("{}/kojiroot/", server.uri()))
        .http_settings(fast_retries(2).timeout(Duration::from_secs(5)))
        .build()
        .expect("client builds")
}

/// Matches a POST to the hub path whose body is an XML-RPC call of `method`
/// (and, when given, exactly these parameters).
pub struct Call {
    method: String,
    params: Option<Vec<Value>>,
}

pub fn call(method: &str) -> Call {
    Call {
        method: method.to_owned(),
        params: None,
    }
}

impl Call {
    pub fn params(mut self, params: Vec<Value>) -> Self {
        self.params = Some(params);
        self
    }
}

impl Match for Call {
    fn matches(&self, req: &Request) -> bool {
        if req.method.as_str() != "POST" || req.url.path() != HUB_PATH {
            return false;
        }
        let Ok(call) = xmlrpc::decode_call(&req.body, &Limits::default()) else {
            return false;
        };
        call.method == self.method && self.params.as_ref().is_none_or(|p| *p == call.params)
    }
}

fn xml(body: String) -> ResponseTemplate {
    // set_body_raw, because set_body_string would force text/plain.
    ResponseTemplate::new(200)
        .insert_header("koji-version", "1.35.0")
        .set_body_raw(body, "text/xml")
}

pub fn ok(value: Value) -> ResponseTemplate {
    xml(xmlrpc::encode_response(&Response::Value(value)))
}

#[allow(clippy::needless_pass_by_value)] // call sites read better with json!(...)
pub fn ok_json(value: serde_json::Value) -> ResponseTemplate {
    ok(Value::from_json(&value))
}

pub fn fault(code: i64, string: &str) -> ResponseTemplate {
    xml(xmlrpc::encode_response(&Response::Fault(Fault {
        code,
        string: string.to_owned(),
    })))
}

/// A fixture file from tests/data, served verbatim.
pub fn fixture(name: &str) -> ResponseTemplate {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.xml"));
    xml(std::fs::read_to_string(path).expect("fixture exists"))
}

/// Mounts `response` for `matcher`, expecting exactly `times` requests.
pub async fn expect(server: &MockServer, matcher: Call, response: ResponseTemplate, times: u64) {
    Mock::given(matcher)
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}
