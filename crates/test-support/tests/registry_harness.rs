//! The registry harness against the real peer: it starts, answers as configured, and stops.

use std::io::{Read as _, Write as _};

use test_support::registry::{Registry, RegistryOptions};

fn status(host: &str, path: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text[9..12].parse().unwrap()
}

#[test]
#[ignore = "needs docker-registry; run by cargo xtask ci"]
fn starts_answers_and_stops() {
    let open = Registry::start();
    assert_eq!(status(&open.host(), "/v2/"), 200);
    assert_eq!(open.credentials(), None);
    let locked = Registry::start_with(RegistryOptions::default().htpasswd(true));
    assert_eq!(status(&locked.host(), "/v2/"), 401);
    assert_eq!(locked.credentials().as_deref(), Some("testuser:testpass"));
    let tls = Registry::start_with(RegistryOptions::default().tls(true));
    assert!(tls.url().starts_with("https://127.0.0.1:"), "{}", tls.url());
    let host = open.host();
    drop(open);
    assert!(
        std::net::TcpStream::connect(&host).is_err(),
        "the registry must be gone after drop"
    );
}
