//! Pushing a built image: the one path used by every tool that builds images (the OMPS server's
//! OCI store and `omps bundle push`).

use bytes::Bytes;

use super::{Manifest, RegistryClient};
use crate::QuayError;

/// An image built in memory: its layer blobs, its config blob and the manifest naming them.
#[derive(Debug, Clone)]
pub struct ImageToPush {
    /// Layer blobs, in manifest order.
    pub layers: Vec<Bytes>,
    /// The config blob.
    pub config: Bytes,
    /// The manifest, pushed with its exact bytes and media type.
    pub manifest: Manifest,
}

impl ImageToPush {
    /// Total bytes of blobs and manifest, for progress reporting.
    pub fn total_bytes(&self) -> u64 {
        let blobs: usize = self.layers.iter().map(Bytes::len).sum();
        (blobs + self.config.len() + self.manifest.bytes.len()) as u64
    }
}

impl RegistryClient {
    /// Pushes `image` to `repo` under `tag`: the layers, then the config (each skipped when the
    /// registry has it), then the manifest; returns the manifest digest the registry confirmed.
    pub async fn push_image(
        &self,
        repo: &str,
        tag: &str,
        image: &ImageToPush,
    ) -> Result<String, QuayError> {
        self.push_image_with_progress(repo, tag, image, &|_, _| {})
            .await
    }

    /// [`RegistryClient::push_image`], calling `progress(part, bytes)` after each part
    /// (`"layer"`, `"config"`, `"manifest"`) with the bytes it held.
    pub async fn push_image_with_progress(
        &self,
        repo: &str,
        tag: &str,
        image: &ImageToPush,
        progress: &(dyn Fn(&str, u64) + Send + Sync),
    ) -> Result<String, QuayError> {
        for layer in &image.layers {
            self.push_blob(repo, layer.clone()).await?;
            progress("layer", layer.len() as u64);
        }
        self.push_blob(repo, image.config.clone()).await?;
        progress("config", image.config.len() as u64);
        let digest = self.put_manifest(repo, tag, &image.manifest).await?;
        progress("manifest", image.manifest.bytes.len() as u64);
        Ok(digest)
    }
}
