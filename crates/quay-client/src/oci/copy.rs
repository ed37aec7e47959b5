//! Digest-preserving image copy between registries.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};

use super::auth::Scopes;
use super::types::{Descriptor, Manifest, media_types};
use super::{RegistryClient, UploadStart, validate_repo};
use crate::error::QuayError;

/// Options of [`copy_image`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyOptions {
    /// How many blobs of one manifest are transferred at the same time (default 4).
    pub blob_concurrency: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            blob_concurrency: 4,
        }
    }
}

impl CopyOptions {
    /// Sets [`CopyOptions::blob_concurrency`] (at least 1).
    #[must_use]
    pub fn blob_concurrency(mut self, n: usize) -> Self {
        self.blob_concurrency = n.max(1);
        self
    }
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyReport {
    /// Digest of the top manifest (identical on both sides).
    pub digest: String,
    /// Media type of the top manifest.
    pub media_type: String,
    /// Manifests pushed (children and top).
    pub manifests_pushed: usize,
    /// Child manifests already present on the destination.
    pub manifests_skipped: usize,
    /// Blobs transferred through this process.
    pub blobs_copied: usize,
    /// Blobs mounted from the source repository (same registry).
    pub blobs_mounted: usize,
    /// Blobs already present on the destination.
    pub blobs_skipped: usize,
    /// Bytes of blobs transferred.
    pub bytes_copied: u64,
}

#[derive(Default)]
struct Counters {
    manifests_pushed: AtomicUsize,
    manifests_skipped: AtomicUsize,
    blobs_copied: AtomicUsize,
    blobs_mounted: AtomicUsize,
    blobs_skipped: AtomicUsize,
    bytes_copied: AtomicU64,
}

struct Ctx<'a> {
    src: &'a RegistryClient,
    src_repo: &'a str,
    dst: &'a RegistryClient,
    dst_repo: &'a str,
    same_registry: bool,
    opts: &'a CopyOptions,
    counters: Counters,
}

/// Copies `src_repo:src_reference` from `src` to `dst_repo:dst_reference` on `dst`, keeping
/// every digest: manifests and indexes are pushed with their exact source bytes and media type,
/// children before their index, blobs before their manifest. Blobs already on the destination
/// are skipped; on the same registry they are mounted from `src_repo`; otherwise they are
/// streamed through with their digest verified. An index is copied with all its children.
///
/// `dst_reference` is a tag (or the source digest).
pub async fn copy_image(
    src: &RegistryClient,
    src_repo: &str,
    src_reference: &str,
    dst: &RegistryClient,
    dst_repo: &str,
    dst_reference: &str,
    opts: &CopyOptions,
) -> Result<CopyReport, QuayError> {
    validate_repo(src_repo)?;
    validate_repo(dst_repo)?;
    let ctx = Ctx {
        src,
        src_repo,
        dst,
        dst_repo,
        same_registry: src.same_registry(dst),
        opts,
        counters: Counters::default(),
    };
    let top = src.get_manifest(src_repo, src_reference).await?;
    let (digest, media_type) = (top.digest.clone(), top.media_type.clone());
    copy_tree(&ctx, top, dst_reference).await?;
    let c = &ctx.counters;
    Ok(CopyReport {
        digest,
        media_type,
        manifests_pushed: c.manifests_pushed.load(Ordering::Relaxed),
        manifests_skipped: c.manifests_skipped.load(Ordering::Relaxed),
        blobs_copied: c.blobs_copied.load(Ordering::Relaxed),
        blobs_mounted: c.blobs_mounted.load(Ordering::Relaxed),
        blobs_skipped: c.blobs_skipped.load(Ordering::Relaxed),
        bytes_copied: c.bytes_copied.load(Ordering::Relaxed),
    })
}

type BoxFut<'a> = Pin<Box<dyn Future<Output = Result<(), QuayError>> + Send + 'a>>;

/// Copies what `manifest` references, then pushes it as `put_ref`.
fn copy_tree<'a>(ctx: &'a Ctx<'a>, manifest: Manifest, put_ref: &'a str) -> BoxFut<'a> {
    Box::pin(async move {
        if manifest.is_index() {
            for child in manifest.index()?.manifests {
                if ctx
                    .dst
                    .head_manifest(ctx.dst_repo, &child.digest)
                    .await?
                    .is_some()
                {
                    ctx.counters
                        .manifests_skipped
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let child_manifest = ctx.src.get_manifest(ctx.src_repo, &child.digest).await?;
                let digest = child_manifest.digest.clone();
                copy_tree(ctx, child_manifest, &digest).await?;
            }
        } else if media_types::is_image_manifest(&manifest.media_type) {
            let image = manifest.image()?;
            let mut blobs: Vec<Descriptor> = Vec::with_capacity(image.layers.len() + 1);
            for d in std::iter::once(image.config).chain(image.layers) {
                if !blobs.iter().any(|b| b.digest == d.digest) {
                    blobs.push(d);
                }
            }
            futures_util::stream::iter(blobs.into_iter().map(|d| copy_blob(ctx, d)))
                .buffer_unordered(ctx.opts.blob_concurrency.max(1))
                .try_collect::<Vec<()>>()
                .await?;
        } else {
            return Err(QuayError::InvalidArgument(format!(
                "cannot copy manifest of media type {:?}",
                manifest.media_type
            )));
        }
        ctx.dst
            .put_manifest(ctx.dst_repo, put_ref, &manifest)
            .await?;
        ctx.counters
            .manifests_pushed
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    })
}

async fn copy_blob(ctx: &Ctx<'_>, desc: Descriptor) -> Result<(), QuayError> {
    let digest = desc.digest.as_str();
    super::types::validate_digest(digest)?;
    if ctx.dst.blob_exists(ctx.dst_repo, digest).await?.is_some() {
        ctx.counters.blobs_skipped.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    let mount = ctx.same_registry.then_some((digest, ctx.src_repo));
    let scopes = if ctx.same_registry {
        Scopes::push(ctx.dst_repo).with(&Scopes::pull(ctx.src_repo))
    } else {
        Scopes::push(ctx.dst_repo)
    };
    let loc = match ctx.dst.start_upload(ctx.dst_repo, mount, &scopes).await? {
        UploadStart::Mounted => {
            ctx.counters.blobs_mounted.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        UploadStart::Session(loc) => loc,
    };
    let result = transfer(ctx, &desc, &loc, &scopes).await;
    match result {
        Ok(n) => {
            ctx.counters.blobs_copied.fetch_add(1, Ordering::Relaxed);
            ctx.counters.bytes_copied.fetch_add(n, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            ctx.dst.cancel_upload(&loc, &scopes).await;
            Err(e)
        }
    }
}

/// Moves the bytes of one blob into an open upload session; returns the byte count.
///
/// Blobs up to the chunk size stream straight into the closing `PUT` (two requests in all);
/// larger ones stream into one `PATCH` and are closed by an empty `PUT`, as skopeo does. Either
/// way the bytes pass through without being buffered, and their digest is checked as they go.
async fn transfer(
    ctx: &Ctx<'_>,
    desc: &Descriptor,
    loc: &url::Url,
    scopes: &Scopes,
) -> Result<u64, QuayError> {
    let digest = desc.digest.as_str();
    let stream = ctx
        .src
        .blob_stream_sized(ctx.src_repo, digest, Some(desc.size))
        .await?;
    let outcome = stream.outcome();
    let single_put = desc.size <= ctx.dst.chunk_size() as u64;
    let sent = if single_put {
        ctx.dst
            .finish_upload_body(
                loc,
                scopes,
                digest,
                reqwest::Body::wrap_stream(stream),
                desc.size,
            )
            .await
            .map(|()| None)
    } else {
        ctx.dst.patch_stream(loc, scopes, stream).await.map(Some)
    };
    // The stream records the digest of what it read; a mismatch aborts the body, which shows
    // up as a transport error from the request, so check the outcome first.
    let actual = outcome.lock().expect("outcome lock poisoned").clone();
    match actual {
        Some(actual) if actual != digest => {
            return Err(QuayError::DigestMismatch {
                expected: digest.to_owned(),
                actual,
            });
        }
        Some(_) => {}
        None => {
            sent?;
            // The registry answered before the whole blob was sent; never trust such an upload.
            return Err(QuayError::InvalidResponse(format!(
                "registry answered before blob {digest} was fully sent"
            )));
        }
    }
    if let Some(next) = sent? {
        ctx.dst
            .finish_upload(&next, scopes, digest, Bytes::new())
            .await?;
    }
    Ok(desc.size)
}
