//! OpenShift username/password login through the OAuth server (what `oc login -u -p` does).
//!
//! 1. `GET <server>/.well-known/oauth-authorization-server` names the authorize endpoint.
//! 2. `GET <authorize>?response_type=token&client_id=openshift-challenging-client` with Basic
//!    credentials and `X-CSRF-Token: 1`, not following redirects.
//! 3. The 302's `Location` fragment carries `access_token`; a 401 means bad credentials, an
//!    `error=` in the redirect an OAuth refusal.

use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use url::Url;

use crate::error::Error;

/// TLS settings shared by the API server and the OAuth server (whose route certificate may
/// differ from the API server's).
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// PEM certificates to trust.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip verification.
    pub insecure: bool,
}

/// What is needed to log in again when a token expires mid-run.
#[derive(Clone)]
pub(crate) struct PasswordLogin {
    pub server: Url,
    pub username: String,
    pub password: SecretString,
    pub tls: Tls,
    pub timeout: Duration,
}

/// The OAuth client `oc` uses for Basic-challenge logins.
const CLIENT_ID: &str = "openshift-challenging-client";
/// Bytes read from any OAuth response (they are tiny).
const MAX_OAUTH_BODY: usize = 64 * 1024;

impl PasswordLogin {
    fn http(&self) -> Result<reqwest::Client, Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .danger_accept_invalid_certs(self.tls.insecure);
        if let Some(pem) = &self.tls.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Config(format!("certificate authority: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        builder
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))
    }

    /// Exchanges the credentials for a token.
    pub(crate) async fn token(&self) -> Result<SecretString, Error> {
        let http = self.http()?;
        let transport = |context: &str, e: reqwest::Error| Error::Transport {
            context: context.to_owned(),
            message: e.without_url().to_string(),
        };
        let meta_url = self
            .server
            .join("/.well-known/oauth-authorization-server")
            .map_err(|e| Error::Config(e.to_string()))?;
        let context = "OAuth discovery";
        let res = http
            .get(meta_url)
            .send()
            .await
            .map_err(|e| transport(context, e))?;
        let status = res.status();
        let body = read_limited(res, context).await?;
        if !status.is_success() {
            return Err(Error::Unauthorized(format!(
                "{context}: the server has no OAuth metadata ({status}); is it OpenShift?"
            )));
        }
        let meta: Value = serde_json::from_slice(&body).map_err(|e| Error::Transport {
            context: context.into(),
            message: format!("unreadable OAuth metadata: {e}"),
        })?;
        let authorize = meta
            .get("authorization_endpoint")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Unauthorized(format!("{context}: no authorization_endpoint")))?;
        let mut url = Url::parse(authorize)
            .map_err(|e| Error::Unauthorized(format!("{context}: authorization_endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "token")
            .append_pair("client_id", CLIENT_ID);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.username,
            self.password.expose_secret()
        ));
        let context = "OAuth authorize";
        let res = http
            .get(url)
            .header(http::header::AUTHORIZATION, format!("Basic {basic}"))
            .header("X-CSRF-Token", "1")
            .send()
            .await
            .map_err(|e| transport(context, e))?;
        let status = res.status();
        let location = res
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let _ = read_limited(res, context).await?;
        match status.as_u16() {
            302 | 303 => {}
            401 => {
                return Err(Error::Unauthorized(format!(
                    "login as {:?} refused (wrong user name or password)",
                    self.username
                )));
            }
            other => {
                return Err(Error::Unauthorized(format!(
                    "{context}: unexpected answer {other}"
                )));
            }
        }
        let location = location
            .ok_or_else(|| Error::Unauthorized(format!("{context}: redirect without Location")))?;
        token_from_redirect(&location)
    }
}

/// Reads `access_token` from the redirect's fragment, or the OAuth error from it.
fn token_from_redirect(location: &str) -> Result<SecretString, Error> {
    let url = Url::parse(location)
        .map_err(|e| Error::Unauthorized(format!("OAuth redirect unreadable: {e}")))?;
    let fragment_pairs: Vec<(String, String)> = url
        .fragment()
        .map(|f| {
            url::form_urlencoded::parse(f.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let all: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .chain(fragment_pairs)
        .collect();
    let get = |k: &str| all.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        return Err(Error::Unauthorized(format!(
            "OAuth server refused: {error}: {description}"
        )));
    }
    get("access_token")
        .filter(|t| !t.is_empty())
        .map(SecretString::from)
        .ok_or_else(|| Error::Unauthorized("OAuth redirect carries no access_token".into()))
}

async fn read_limited(res: reqwest::Response, context: &str) -> Result<Vec<u8>, Error> {
    use futures_util::StreamExt as _;
    let mut stream = res.bytes_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::Transport {
            context: context.to_owned(),
            message: e.without_url().to_string(),
        })?;
        if body.len() + chunk.len() > MAX_OAUTH_BODY {
            return Err(Error::ResponseTooLarge {
                context: context.to_owned(),
                max: MAX_OAUTH_BODY,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// DER certificates from a PEM bundle (kube wants DER).
pub(crate) fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let text = std::str::from_utf8(pem)
        .map_err(|_| Error::Config("certificate authority is not PEM text".into()))?;
    let mut certs = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line == "-----BEGIN CERTIFICATE-----" {
            current = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            let b64 = current.take().unwrap_or_default();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| Error::Config(format!("certificate authority: {e}")))?;
            certs.push(der);
        } else if let Some(buf) = current.as_mut() {
            buf.push_str(line);
        }
    }
    if certs.is_empty() {
        return Err(Error::Config(
            "certificate authority holds no PEM certificate".into(),
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_fragment_gives_the_token_or_the_error() {
        let token = token_from_redirect(
            "https://oauth.example.invalid/oauth/token/implicit#access_token=sha256~abc&expires_in=86400&scope=user%3Afull&token_type=Bearer",
        )
        .unwrap();
        assert_eq!(token.expose_secret(), "sha256~abc");
        let err = token_from_redirect(
            "https://oauth.example.invalid/cb?error=access_denied&error_description=user+is+locked",
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("user is locked"), "{err}");
        assert!(token_from_redirect("https://oauth.example.invalid/cb#x=1").is_err());
    }

    #[test]
    fn pem_bundle_to_der() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem).unwrap(), vec![vec![0, 1, 2, 3]]);
        assert!(pem_certificates(b"nothing").is_err());
    }
}
