//! Where IMS bearer tokens come from.
//!
//! The IMS client asks a [`TokenSource`] before each call and tells it to forget the token after
//! a 401, then asks once more (spec §3). The OAuth2 client-credentials source of the workspace
//! implements it; tests and callers with other schemes can supply their own.

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::ImsError;

/// A provider of bearer tokens for IMS.
#[async_trait]
pub trait TokenSource: Send + Sync + std::fmt::Debug {
    /// A token that is valid now (cached or freshly fetched).
    async fn token(&self) -> Result<SecretString, ImsError>;

    /// Forgets the cached token, so the next [`TokenSource::token`] fetches a new one.
    async fn invalidate(&self);
}

/// The workspace's OAuth2 client-credentials client (cached token, refreshed before expiry with
/// the same grant, never with a refresh token).
#[async_trait]
impl TokenSource for quay_client::oauth::OAuthClient {
    async fn token(&self) -> Result<SecretString, ImsError> {
        quay_client::oauth::OAuthClient::token(self)
            .await
            .map_err(token_error)
    }

    async fn invalidate(&self) {
        quay_client::oauth::OAuthClient::invalidate(self).await;
    }
}

fn token_error(e: quay_client::QuayError) -> ImsError {
    use quay_client::QuayError as Q;
    let retryable = e.is_retryable();
    if let Some(r) = e.remote() {
        let raw = serde_json::to_vec(r.body()).unwrap_or_default();
        let raw = if raw == b"{}" {
            r.raw_body().as_bytes().to_vec()
        } else {
            raw
        };
        return ImsError::from_status(crate::Service::Token, r.status(), &raw);
    }
    match e {
        Q::Timeout { context } => ImsError::Timeout { context },
        other if retryable => ImsError::Transport {
            context: "OAuth2 token request".to_owned(),
            detail: other.to_string(),
        },
        other => ImsError::InvalidResponse(format!("OAuth2 token request: {other}")),
    }
}
