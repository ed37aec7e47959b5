//! OAuth2 client-credentials token acquisition (RFC 6749 §4.4), for deployments that put Quay or
//! OMPS behind an OIDC gateway (Keycloak and the like).
//!
//! The token is cached until shortly before `expires_in` and fetched again after that. The
//! client secret and the token are [`SecretString`]s and never appear in `Debug` output or
//! errors. Only 5xx, 429 and transport failures are retried, a bounded number of times.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::error::{Api, QuayError};
use crate::http::{Http, HttpOptions, common_builder_methods, parse_base_url};

/// Token lifetime assumed when the server gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Refresh this long before expiry (at most a tenth of the lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Builder for [`OAuthClient`].
#[derive(Debug)]
pub struct OAuthClientBuilder {
    token_url: String,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scope: Option<String>,
    options: HttpOptions,
}

impl OAuthClientBuilder {
    common_builder_methods!();

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

    /// Builds the client.
    pub fn build(self) -> Result<OAuthClient, QuayError> {
        let url = parse_base_url(&self.token_url)?;
        let client_id = self
            .client_id
            .filter(|c| !c.is_empty())
            .ok_or_else(|| QuayError::Config("OAuth2 client id is missing".into()))?;
        let client_secret = self
            .client_secret
            .ok_or_else(|| QuayError::Config("OAuth2 client secret is missing".into()))?;
        Ok(OAuthClient {
            http: Http::new(Api::Registry, url.clone(), self.options)?,
            url,
            client_id,
            client_secret,
            scope: self.scope,
            cached: Mutex::new(None),
        })
    }
}

/// Fetches and caches an access token with the client-credentials grant.
pub struct OAuthClient {
    http: Http,
    url: url::Url,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("token_url", &self.url.as_str())
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

impl OAuthClient {
    /// Starts a builder for the token endpoint `token_url` (the full URL, e.g.
    /// `https://sso.example.com/realms/x/protocol/openid-connect/token`).
    pub fn builder(token_url: impl Into<String>) -> OAuthClientBuilder {
        OAuthClientBuilder {
            token_url: token_url.into(),
            client_id: None,
            client_secret: None,
            scope: None,
            options: HttpOptions::default(),
        }
    }

    /// A valid access token: the cached one, or a new one when it is missing or about to expire.
    pub async fn token(&self) -> Result<SecretString, QuayError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, valid_until)) = cached.as_ref() {
            if Instant::now() < *valid_until {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.fetch().await?;
        let margin = REFRESH_MARGIN.min(lifetime / 10);
        *cached = Some((
            token.clone(),
            Instant::now() + lifetime.saturating_sub(margin),
        ));
        Ok(token)
    }

    /// Forgets the cached token (e.g. after a 401 from the protected API).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<(SecretString, Duration), QuayError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        form.append_pair("client_id", &self.client_id);
        form.append_pair("client_secret", self.client_secret.expose_secret());
        if let Some(s) = &self.scope {
            form.append_pair("scope", s);
        }
        let body = SecretString::from(form.finish());
        let context = "OAuth2 token request";
        // The grant has no side effect, so retrying it is safe.
        let resp = self
            .http
            .send_api(context, true, || {
                self.http
                    .client
                    .request(Method::POST, self.url.clone())
                    .header(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    )
                    .body(body.expose_secret().to_owned())
            })
            .await?;
        let resp = self.http.check(resp).await?;
        let answer: TokenAnswer = self.http.json(context, resp).await?;
        if answer.access_token.is_empty() {
            return Err(QuayError::InvalidResponse(
                "OAuth2 token answer has an empty access_token".into(),
            ));
        }
        if let Some(t) = &answer.token_type {
            if !t.eq_ignore_ascii_case("bearer") {
                return Err(QuayError::InvalidResponse(format!(
                    "OAuth2 token type {t:?} is not Bearer"
                )));
            }
        }
        let lifetime = answer
            .expires_in
            .filter(|s| *s > 0)
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        Ok((SecretString::from(answer.access_token), lifetime))
    }
}
