//! A registry token server for `docker-registry`'s `auth: token` mode: the OAuth2
//! `refresh_token` grant of docker's identity tokens, answered with ES256 JSON Web Tokens that
//! the registry verifies against the test CA ([`certs`]).
//!
//! `docker-registry` has no token server of its own; this one is the only fake in the identity
//! token path, and the registry that checks its tokens is real. The tokens grant what the
//! scope asks for, to whoever presents [`TokenServer::refresh_token`] (`POST`, the OAuth2
//! `refresh_token` grant) or the test user's Basic credentials (`GET`, the classic flow, so an
//! independent reader such as skopeo can check what was pushed).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::certs;

/// The `service` the registry is configured with (the token audience).
pub const SERVICE: &str = "omps-test-registry";
/// The issuer the registry is configured to trust.
pub const ISSUER: &str = "omps-test-token-issuer";

/// A running token server.
#[derive(Debug)]
pub struct TokenServer {
    server: MockServer,
    refresh_token: String,
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM base64")
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

struct Issue {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    refresh_token: String,
}

impl Issue {
    /// `repository:<name>:<actions>` scopes as the JWT `access` claim.
    fn access(scopes: &[String]) -> Vec<Value> {
        scopes
            .iter()
            .flat_map(|s| s.split(' '))
            .filter_map(|scope| {
                let (kind, rest) = scope.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect()
    }

    fn token(&self, scopes: &[String]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let header = json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let claims = json!({
            "iss": ISSUER,
            "sub": "identity-token-user",
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("omps-test-{now}-{}", scopes.len()),
            "access": Self::access(scopes),
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("ES256 signature");
        format!("{signing_input}.{}", b64url(signature.as_ref()))
    }
}

impl Respond for Issue {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let refused =
            || ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_grant"}));
        let scopes: Vec<String> = if request.method.as_str() == "POST" {
            // docker's OAuth2 flow with an identity token.
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
            let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            if get("grant_type") != Some("refresh_token")
                || get("refresh_token") != Some(self.refresh_token.as_str())
            {
                return refused();
            }
            form.iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.clone())
                .collect()
        } else {
            // The classic flow (GET with Basic), for readers such as skopeo: only the test
            // user of the htpasswd registries.
            let basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    crate::registry::USER,
                    crate::registry::PASSWORD
                ))
            );
            let given = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            if given != Some(basic.as_str()) {
                return refused();
            }
            request
                .url
                .query_pairs()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.into_owned())
                .collect()
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": self.token(&scopes),
            "expires_in": 300,
        }))
    }
}

impl TokenServer {
    /// Starts a token server that accepts `refresh_token` at `POST /token`.
    ///
    /// # Panics
    ///
    /// When the test key cannot be read (a broken checkout).
    pub async fn start(refresh_token: &str) -> Self {
        let key_pem = std::fs::read_to_string(certs::server_key_path()).expect("test key");
        let cert_pem = std::fs::read_to_string(certs::server_cert_path()).expect("test cert");
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pem_der(&key_pem),
            &SystemRandom::new(),
        )
        .expect("the test key is a PKCS#8 P-256 key");
        let issue = Issue {
            key,
            cert_der: pem_der(&cert_pem),
            refresh_token: refresh_token.to_owned(),
        };
        let server = MockServer::start().await;
        Mock::given(path("/token"))
            .respond_with(issue)
            .mount(&server)
            .await;
        Self {
            server,
            refresh_token: refresh_token.to_owned(),
        }
    }

    /// The realm the registry names in its challenge.
    pub fn realm(&self) -> String {
        format!("{}/token", self.server.uri())
    }

    /// The refresh (identity) token it accepts.
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// How many token requests were answered, accepted or not.
    pub async fn requests(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| r.len())
    }
}
