//! Stage 4, store: push the release; an automatic version that the store reports as taken (a
//! concurrent push, another replica) is retried with the next one, up to
//! `max_version_attempts`, after a jittered back-off so that replicas that lost the same race
//! do not all come back at once and lose it again.

use std::time::{Duration, Instant};

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
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                release.version =
                    super::version::next(state, store, org, repo, auth, Some(&release.version))
                        .await?;
            }
            Err(e) => return Err(push_error(&e)),
        }
    }
}

/// The wait before retry `attempt + 1`: uniform in `[0, min(250 ms, 10 ms × 2^attempt)]` ("full
/// jitter"), so contenders spread out the more often they collided. The cap stays short: a push
/// that lost many times must not sleep while fresh pushes of other replicas take every version.
#[must_use]
pub fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    let ceiling_ms = 10u64.saturating_mul(1 << attempt.min(10)).min(250);
    // `RandomState` is seeded randomly per instance: enough randomness for a jitter.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    Duration::from_millis(hasher.finish() % (ceiling_ms + 1))
}

/// A failed push: 403 `QuayAuthorizationError`, 409 `QuayReleaseExists`, 507
/// `OMPSInsufficientStorage` (the embedded store's disk is full) or 500 `QuayCourierError`, with
/// the store's body.
pub fn push_error(e: &StoreError) -> ApiError {
    if let StoreError::InsufficientStorage { .. } = e {
        return ApiError::insufficient_storage();
    }
    let message = format!("Failed to push manifest: {e}");
    let body = e.body();
    let id = match e {
        StoreError::Unauthorized { .. } => ErrorId::QuayAuthorizationError,
        StoreError::ReleaseExists { .. } => ErrorId::QuayReleaseExists,
        _ => ErrorId::QuayCourierError,
    };
    ApiError::quay(id, message, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_and_bounded() {
        let waits: Vec<Duration> = (0..64).map(|_| backoff(3)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(80)));
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 16, "not jittered: {waits:?}");
        assert!((0..64).all(|a| backoff(a) <= Duration::from_millis(250)));
    }
}
