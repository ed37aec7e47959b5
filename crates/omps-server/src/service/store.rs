//! Stage 4, store: push the release; an automatic version that the store reports as taken (a
//! concurrent push, another replica) is retried with the next one, up to
//! `max_version_attempts`.

use std::time::Instant;

use crate::backends::{
    Auth, ManifestStore, PushReport, Release, ReleaseNaming, StoreCapabilities, StoreError,
};
use crate::error::{ApiError, ErrorId};
use crate::state::AppState;

/// Pushes `release`; the release as stored (its version may have moved on) and the store's
/// report.
#[allow(clippy::too_many_arguments)] // the stage's inputs, each used once
pub async fn store(
    state: &AppState,
    store: &dyn ManifestStore,
    capabilities: StoreCapabilities,
    org: &str,
    repo: &str,
    mut release: Release,
    auth: &Auth,
    automatic: bool,
) -> Result<(Release, PushReport), ApiError> {
    // Retrying only helps when the store names releases by the version we choose.
    let attempts = if automatic && capabilities.naming == ReleaseNaming::FromVersion {
        state.config().max_version_attempts.max(1)
    } else {
        1
    };
    let mut attempt = 1;
    loop {
        let started = Instant::now();
        let pushed = store.push(org, repo, &release, auth).await;
        state
            .inner
            .metrics
            .upstream("store", "push", started.elapsed());
        match pushed {
            Ok(report) => return Ok((release, report)),
            Err(StoreError::ReleaseExists { message, body }) => {
                if attempt >= attempts {
                    return Err(ApiError::quay(
                        ErrorId::QuayReleaseExists,
                        format!("Failed to push manifest: {message}"),
                        body,
                    ));
                }
                tracing::info!(version = %release.version, attempt, "release exists; choosing the next version");
                attempt += 1;
                release.version =
                    super::version::next(state, store, org, repo, auth, Some(&release.version))
                        .await?;
            }
            Err(e) => return Err(push_error(&e)),
        }
    }
}

/// A failed push: 403 `QuayAuthorizationError`, 409 `QuayReleaseExists` or 500
/// `QuayCourierError`, with the store's body.
pub fn push_error(e: &StoreError) -> ApiError {
    let message = format!("Failed to push manifest: {e}");
    let body = e.body();
    let id = match e {
        StoreError::Unauthorized { .. } => ErrorId::QuayAuthorizationError,
        StoreError::ReleaseExists { .. } => ErrorId::QuayReleaseExists,
        _ => ErrorId::QuayCourierError,
    };
    ApiError::quay(id, message, body)
}
