//! Stage 5, publish: public organizations' repositories are made public by their store (the
//! store owns its visibility change). A failure never fails the push, because the release
//! exists; it becomes a warning.

use std::time::{Duration, Instant};

use crate::backends::{ManifestStore, Publication};
use crate::state::AppState;

/// Attempts of one visibility change.
pub const ATTEMPTS: u32 = 3;

/// Makes `org/repo` public when the organization is public, retrying with back-off; the warning
/// to answer when it could not.
pub async fn publish(
    state: &AppState,
    store: &dyn ManifestStore,
    org: &str,
    repo: &str,
) -> Result<(), String> {
    let Some(token) = state
        .org(org)
        .filter(|o| o.public)
        .and_then(|o| o.oauth_token())
    else {
        tracing::info!(organization = %org, "private, skipping publishing");
        return Ok(());
    };
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
        }
        let started = Instant::now();
        let result = store.publish(org, repo, token).await;
        state
            .inner
            .metrics
            .upstream("publish", "changevisibility", started.elapsed());
        match result {
            Ok(Publication::Published) => return Ok(()),
            Ok(Publication::NotSupported) => {
                tracing::info!(organization = %org, store = store.kind(), "the store has no visibility to change");
                return Ok(());
            }
            Err(e) => last = e,
        }
    }
    tracing::error!(organization = %org, repo = %repo, detail = %last, "release pushed but the repository could not be made public");
    Err(format!(
        "Release pushed but repository could not be made public: {last}"
    ))
}
