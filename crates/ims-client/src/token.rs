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
impl TokenSource for omps_http::oauth::ClientCredentials {
    async fn token(&self) -> Result<SecretString, ImsError> {
        omps_http::oauth::ClientCredentials::token(self)
            .await
            .map_err(|e| ImsError::from_http(crate::Service::Token, e))
    }

    async fn invalidate(&self) {
        omps_http::oauth::ClientCredentials::invalidate(self).await;
    }
}
