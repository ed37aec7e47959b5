//! Stage 2, the version: explicit, or automatic (the highest strict `x.y.z` release with its
//! major bumped, or `default_release_version`). Stores that name releases by content get no
//! version here; [`super::prepare`] names their release.

use std::time::Instant;

use crate::backends::{Auth, ManifestStore, ReleaseNaming, StoreCapabilities, StoreError};
use crate::config::is_strict_version;
use crate::error::{ApiError, ErrorId};
use crate::state::AppState;

/// The version for a push: `requested` as given, automatic for stores naming releases by
/// version, `None` for stores naming releases by content.
pub async fn choose(
    state: &AppState,
    store: &dyn ManifestStore,
    capabilities: StoreCapabilities,
    org: &str,
    repo: &str,
    requested: Option<&str>,
    auth: &Auth,
) -> Result<Option<String>, ApiError> {
    match (capabilities.naming, requested) {
        (ReleaseNaming::FromContent, _) => Ok(None),
        (ReleaseNaming::FromVersion, Some(v)) => Ok(Some(v.to_owned())),
        (ReleaseNaming::FromVersion, None) => {
            next(state, store, org, repo, auth, None).await.map(Some)
        }
    }
}

/// The automatic version after listing the store's releases. `failed` (a version the store just
/// refused) counts as taken.
pub async fn next(
    state: &AppState,
    store: &dyn ManifestStore,
    org: &str,
    repo: &str,
    auth: &Auth,
    failed: Option<&str>,
) -> Result<String, ApiError> {
    let started = Instant::now();
    let listed = store.list_releases(org, repo, Some(auth)).await;
    state
        .inner
        .metrics
        .upstream("store", "list_releases", started.elapsed());
    let releases = listed
        .map_err(|e| listing_error(e, org, repo))?
        .unwrap_or_default();
    bump_major(
        releases.iter().map(String::as_str).chain(failed),
        &state.config().default_release_version,
    )
    .ok_or_else(|| {
        ApiError::new(
            ErrorId::OMPSInvalidVersionFormat,
            format!(
                "Package {org}/{repo} has a release with major version {}, the highest allowed: no automatic version is left; push an explicit version",
                crate::config::MAX_VERSION_COMPONENT
            ),
        )
    })
}

/// A failed release listing: 403 `QuayAuthorizationError` or 500 `QuayPackageError`.
pub fn listing_error(e: StoreError, org: &str, repo: &str) -> ApiError {
    match e {
        StoreError::Unauthorized { message, body } => ApiError::quay(
            ErrorId::QuayAuthorizationError,
            format!("Cannot retrieve information about package {org}/{repo}: {message}"),
            body,
        ),
        other => ApiError::new(
            ErrorId::QuayPackageError,
            format!("Cannot retrieve information about package {org}/{repo}: {other}"),
        ),
    }
}

/// `max(valid releases)` with the major bumped, or `default`; `None` when the highest major is
/// [`MAX_VERSION_COMPONENT`](crate::config::MAX_VERSION_COMPONENT). Releases outside the
/// version grammar (including components above the bound) are ignored.
#[must_use]
pub fn bump_major<'a>(
    releases: impl IntoIterator<Item = &'a str>,
    default: &str,
) -> Option<String> {
    let max = releases
        .into_iter()
        .filter(|r| is_strict_version(r))
        .filter_map(|r| {
            let mut parts = r.split('.').map(str::parse::<u64>);
            Some((
                parts.next()?.ok()?,
                parts.next()?.ok()?,
                parts.next()?.ok()?,
            ))
        })
        .max();
    match max {
        Some((major, _, _)) if major >= crate::config::MAX_VERSION_COMPONENT => None,
        Some((major, _, _)) => Some(format!("{}.0.0", major + 1)),
        None => Some(default.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_versions() {
        let d = "1.0.0";
        assert_eq!(bump_major([], d).as_deref(), Some("1.0.0"));
        assert_eq!(bump_major(["2.5.1"], d).as_deref(), Some("3.0.0"));
        assert_eq!(
            bump_major(["1.2.0", "1.1.0", "1.0.0"], d).as_deref(),
            Some("2.0.0")
        );
        assert_eq!(bump_major(["1.0.0", "4.3.2"], d).as_deref(), Some("5.0.0"));
        assert_eq!(bump_major(["7.6.1"], d).as_deref(), Some("8.0.0"));
        assert_eq!(bump_major(["3.0.0", "4.0.1"], d).as_deref(), Some("5.0.0"));
        assert_eq!(bump_major(["3.0.0", "6.0.2"], d).as_deref(), Some("7.0.0"));
        assert_eq!(bump_major(["1.0.0-invalid"], d).as_deref(), Some("1.0.0"));
        assert_eq!(
            bump_major(["1.2.0", "1.0.1-random", "1.0.0"], d).as_deref(),
            Some("2.0.0")
        );
        assert_eq!(
            bump_major(["10.0.0", "9.9.9"], "5.0.0").as_deref(),
            Some("11.0.0")
        );
        // Out-of-bounds releases (written before the bound) are ignored; the bound is final.
        assert_eq!(
            bump_major(["18446744073709551615.0.0", "3.0.0"], d).as_deref(),
            Some("4.0.0")
        );
        assert_eq!(
            bump_major(["999999998.5.0"], d).as_deref(),
            Some("999999999.0.0")
        );
        assert_eq!(bump_major(["999999999.0.0"], d), None);
    }
}
