//! OAuth2 client-credentials tokens (RFC 6749 §4.4), for services behind an OIDC provider
//! (Keycloak and the like).
//!
//! The client authenticates with HTTP Basic by default ([`ClientAuth`]). The token is cached
//! until shortly before `expires_in` (30 s, or half the lifetime if shorter; a missing
//! `expires_in` counts as 60 s) and fetched again after that; after a
//! `401` from the protected API, [`ClientCredentials::invalidate`] forces a new one. The client
//! secret and the token are [`SecretString`]s: they never appear in `Debug` output or errors.
//! The grant has no side effect, so transient failures are retried like any idempotent call.

use std::fmt;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
// Tokio's clock, so tests can move time forward instead of waiting for a token to expire.
use tokio::time::Instant;
use url::Url;

use crate::{HttpError, HttpSettings, parse_base_url, read_limited, status_error};

/// Token lifetime assumed when the server gives no `expires_in` (short on purpose: a token we
/// keep too long fails mid-run, one we renew early costs one request).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// Renew this long before expiry, and at most half the lifetime before it.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)`, which every server must support.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body, for servers that want them there.
    Body,
}
/// Token answers are small; anything larger is refused.
const MAX_TOKEN_ANSWER_BYTES: u64 = 256 * 1024;

/// Builder for [`ClientCredentials`].
#[derive(Debug)]
pub struct ClientCredentialsBuilder {
    token_url: String,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scope: Option<String>,
    auth: ClientAuth,
    settings: HttpSettings,
}

impl ClientCredentialsBuilder {
    /// How the client id and secret are sent (default [`ClientAuth::Basic`]).
    #[must_use]
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The client id (required).
    #[must_use]
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The client secret (required).
    #[must_use]
    pub fn client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Space-separated scopes to request (optional).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Connection settings for the token endpoint (CA bundle, timeouts, retries).
    #[must_use]
    pub fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Builds the token source.
    pub fn build(self) -> Result<ClientCredentials, HttpError> {
        let url = parse_base_url(&self.token_url)?;
        let client_id = self
            .client_id
            .filter(|c| !c.is_empty())
            .ok_or_else(|| HttpError::Config("the OAuth2 client id is missing".into()))?;
        let client_secret = self
            .client_secret
            .filter(|s| !s.expose_secret().is_empty())
            .ok_or_else(|| HttpError::Config("the OAuth2 client secret is missing".into()))?;
        if url.scheme() == "http" {
            tracing::warn!(
                token_url = %crate::display_url(&url),
                "the OAuth2 token endpoint is plain HTTP: the client secret travels in clear"
            );
        }
        let client = self
            .settings
            .build_client(concat!("omps-http/", env!("CARGO_PKG_VERSION")))?;
        Ok(ClientCredentials {
            auth: self.auth,
            client,
            settings: self.settings,
            url,
            client_id,
            client_secret,
            scope: self.scope,
            cached: Mutex::new(None),
        })
    }
}

/// Fetches and caches an access token with the client-credentials grant.
pub struct ClientCredentials {
    client: reqwest::Client,
    settings: HttpSettings,
    url: Url,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
    auth: ClientAuth,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &crate::display_url(&self.url))
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl ClientCredentials {
    /// Starts a builder for the token endpoint `token_url` (the full URL, e.g.
    /// `https://sso.example.com/realms/x/protocol/openid-connect/token`).
    pub fn builder(token_url: impl Into<String>) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            token_url: token_url.into(),
            client_id: None,
            client_secret: None,
            scope: None,
            auth: ClientAuth::default(),
            settings: HttpSettings::default(),
        }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.url
    }

    /// A valid access token: the cached one, or a new one when it is missing or about to expire.
    /// Concurrent callers share one fetch.
    pub async fn token(&self) -> Result<SecretString, HttpError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, valid_until)) = cached.as_ref() {
            if Instant::now() < *valid_until {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.fetch().await?;
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        *cached = Some((
            token.clone(),
            Instant::now() + lifetime.saturating_sub(margin),
        ));
        Ok(token)
    }

    /// Forgets the cached token, e.g. after the protected API answered `401`.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<(SecretString, Duration), HttpError> {
        let context = "OAuth2 token request";
        // The serializer is not `Sync`: scoped so that the token future stays `Send`.
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if self.auth == ClientAuth::Body {
                form.append_pair("client_id", &self.client_id);
                form.append_pair("client_secret", self.client_secret.expose_secret());
            }
            if let Some(scope) = &self.scope {
                form.append_pair("scope", scope);
            }
            SecretString::from(form.finish())
        };
        let resp = self
            .settings
            .send(context, true, || {
                let request = self.client.post(self.url.clone());
                let request = match self.auth {
                    ClientAuth::Basic => request.basic_auth(
                        form_encode(&self.client_id),
                        Some(form_encode(self.client_secret.expose_secret())),
                    ),
                    ClientAuth::Body => request,
                };
                request
                    .timeout(self.settings.timeout)
                    .header(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    )
                    .header(ACCEPT, HeaderValue::from_static("application/json"))
                    .body(body.expose_secret().to_owned())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(context, resp).await);
        }
        let bytes = read_limited(context, resp, MAX_TOKEN_ANSWER_BYTES).await?;
        let invalid = |reason: String| HttpError::InvalidResponse {
            context: context.to_owned(),
            reason,
        };
        // serde_json's message names the position, never the value: the token stays out of it.
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("not a token answer: {e}")))?;
        if answer.access_token.is_empty() {
            return Err(invalid("the access_token is empty".into()));
        }
        if let Some(t) = &answer.token_type {
            if !t.eq_ignore_ascii_case("bearer") {
                return Err(invalid(format!("token type {t:?} is not Bearer")));
            }
        }
        let lifetime = answer
            .expires_in
            .filter(|s| *s > 0)
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        Ok((SecretString::from(answer.access_token), lifetime))
    }
}

/// RFC 6749 §2.3.1: the id and secret are form-encoded before they go into Basic credentials.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
