//! Read-modify-write of a catalog image that several writers may update at once.
//!
//! A registry has no conditional manifest `PUT`, so a writer reads the tag's digest, edits the
//! catalog it holds, builds the new image and, just before writing, reads the tag again: when
//! another writer moved it in between, the whole update starts over from the new catalog
//! instead of overwriting the other writer's entries. The window left is the time between that
//! second read and the write (one round trip); writers inside one process should also
//! serialise per catalog, as the OMPS server does.

use std::time::Duration;

use olm_catalog::{Catalog, CatalogError, CatalogLimits};
use quay_client::{ImageReference, RegistryClient};

use crate::{
    BaseRef, CatalogImageError, ImageOptions, PushReport, Result, build_image, pull_catalog,
    push_image, push_tag,
};

/// Where and how [`update_catalog`] reads and writes.
#[derive(Clone, Copy)]
pub struct CatalogUpdate<'a> {
    /// Client of the registry holding the catalog.
    pub client: &'a RegistryClient,
    /// The catalog image, by tag.
    pub target: &'a ImageReference,
    /// The base every written image is built on (the catalog read back is only a source of
    /// entries, so an image never stacks old catalog layers).
    pub base: BaseRef<'a>,
    /// Labels and command of the written image.
    pub options: &'a ImageOptions,
    /// Limits applied to the catalog read back.
    pub limits: &'a CatalogLimits,
    /// Attempts before giving up with [`CatalogImageError::Contended`] (at least 1).
    pub max_attempts: u32,
}

/// What [`update_catalog`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateReport {
    /// The tag's digest before the update (`None`: the catalog did not exist).
    pub previous: Option<String>,
    /// What was pushed; `None` when the edit changed nothing and nothing was written.
    pub pushed: Option<PushReport>,
    /// Attempts it took (more than 1 when another writer moved the tag meanwhile).
    pub attempts: u32,
}

/// Reads the catalog at `update.target` (empty when the tag does not exist yet), applies
/// `edit` to it and writes the result as a new image on `update.base`, starting over when the
/// tag moved meanwhile. `edit` returns whether it changed anything; it may run once per
/// attempt, so it must be repeatable. The edited catalog is validated before anything is
/// written.
pub async fn update_catalog<E>(update: CatalogUpdate<'_>, mut edit: E) -> Result<UpdateReport>
where
    E: FnMut(&mut Catalog) -> std::result::Result<bool, CatalogError>,
{
    let tag = push_tag(update.target)?;
    let repository = &update.target.repository;
    let max_attempts = update.max_attempts.max(1);
    for attempt in 1..=max_attempts {
        if attempt > 1 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        let previous = update
            .client
            .head_manifest(repository, tag)
            .await?
            .map(|info| info.digest);
        let mut catalog = match &previous {
            // Read at the digest just seen, so the entries match the digest compared later.
            Some(digest) => {
                let mut at = update.target.clone();
                at.digest = Some(digest.clone());
                pull_catalog(update.client, &at, update.limits)
                    .await?
                    .catalog
            }
            None => Catalog::default(),
        };
        if !edit(&mut catalog)? && previous.is_some() {
            return Ok(UpdateReport {
                previous,
                pushed: None,
                attempts: attempt,
            });
        }
        let image = build_image(
            update.client,
            update.target,
            &catalog,
            update.base,
            update.options,
            &|_| {},
        )
        .await?;
        let now = update
            .client
            .head_manifest(repository, tag)
            .await?
            .map(|info| info.digest);
        if now != previous {
            // Another writer got there first: start over from its catalog.
            continue;
        }
        let digest = push_image(update.client, repository, tag, &image).await?;
        return Ok(UpdateReport {
            previous,
            pushed: Some(PushReport::of(digest, &image)),
            attempts: attempt,
        });
    }
    Err(CatalogImageError::Contended {
        reference: update.target.to_string(),
        attempts: max_attempts,
    })
}

/// A short, jittered pause before attempt `attempt` (2..): writers that collided should not
/// collide again in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base = 50u64 * u64::from(attempt.min(8));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(base + nanos % (base + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 2..20 {
            let d = backoff(attempt);
            let base = 50 * u64::from(attempt.min(8));
            assert!(d >= Duration::from_millis(base), "{attempt}: {d:?}");
            assert!(d <= Duration::from_millis(2 * base), "{attempt}: {d:?}");
        }
    }
}
