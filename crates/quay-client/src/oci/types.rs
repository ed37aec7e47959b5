//! Media types, descriptors, manifests and digests.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::QuayError;

/// Media types this client handles.
pub mod media_types {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// OCI gzip layer.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI uncompressed layer.
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    /// Docker gzip layer.
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /// The `Accept` value for manifest requests: every manifest and index type, so no registry
    /// down-converts or hides a manifest.
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.docker.distribution.manifest.v2+json";

    /// Whether `mt` is an index or manifest list.
    pub fn is_index(mt: &str) -> bool {
        mt == OCI_INDEX || mt == DOCKER_MANIFEST_LIST
    }

    /// Whether `mt` is a single-image manifest.
    pub fn is_image_manifest(mt: &str) -> bool {
        mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Checks that `digest` is `sha256:` plus 64 lowercase hex digits (the only algorithm this
/// client verifies).
pub fn validate_digest(digest: &str) -> Result<(), QuayError> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(QuayError::InvalidArgument(format!(
            "not a sha256 digest: {digest:?}"
        )))
    }
}

/// Whether a manifest reference is a digest rather than a tag.
pub(crate) fn is_digest_ref(reference: &str) -> bool {
    reference.contains(':')
}

/// Platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, ...).
    pub architecture: String,
    /// Operating system (`linux`, ...).
    pub os: String,
    /// CPU variant (`v8`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Platform (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// A descriptor for `data`.
    pub fn for_bytes(media_type: &str, data: &[u8]) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest: sha256_digest(data),
            size: data.len() as u64,
            platform: None,
        }
    }
}

/// The parts of an image manifest this client needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImageManifest {
    /// Config blob.
    pub config: Descriptor,
    /// Layer blobs.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// The parts of an index / manifest list this client needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImageIndex {
    /// Child manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// A manifest as stored by the registry: its exact bytes, media type and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Media type (from `Content-Type`, or the manifest's own `mediaType`).
    pub media_type: String,
    /// `sha256:` digest of `bytes`.
    pub digest: String,
    /// The exact bytes; pushing them unchanged keeps the digest.
    pub bytes: Bytes,
}

impl Manifest {
    /// A manifest for the given bytes; the digest is computed.
    pub fn new(media_type: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            media_type: media_type.into(),
            digest: sha256_digest(&bytes),
            bytes,
        }
    }

    /// Whether this is an index or manifest list.
    pub fn is_index(&self) -> bool {
        media_types::is_index(&self.media_type)
    }

    /// Parses an image manifest (config and layers).
    pub fn image(&self) -> Result<ImageManifest, QuayError> {
        if !media_types::is_image_manifest(&self.media_type) {
            return Err(QuayError::InvalidArgument(format!(
                "unsupported manifest media type {}",
                self.media_type
            )));
        }
        serde_json::from_slice(&self.bytes)
            .map_err(|e| QuayError::InvalidResponse(format!("invalid image manifest: {e}")))
    }

    /// Parses an index (child manifests).
    pub fn index(&self) -> Result<ImageIndex, QuayError> {
        if !self.is_index() {
            return Err(QuayError::InvalidArgument(format!(
                "not an index: {}",
                self.media_type
            )));
        }
        serde_json::from_slice(&self.bytes)
            .map_err(|e| QuayError::InvalidResponse(format!("invalid image index: {e}")))
    }
}

/// Media type named inside a manifest, used when `Content-Type` is missing or generic.
pub(crate) fn embedded_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        layers: Option<serde_json::Value>,
    }
    let p: Probe = serde_json::from_slice(bytes).ok()?;
    p.media_type.or_else(|| {
        // OCI allows omitting mediaType; guess from the shape.
        if p.manifests.is_some() {
            Some(media_types::OCI_INDEX.to_owned())
        } else if p.layers.is_some() {
            Some(media_types::OCI_MANIFEST.to_owned())
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn digest_validation() {
        validate_digest(&sha256_digest(b"x")).unwrap();
        for bad in [
            "sha256:abc",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "../../etc",
        ] {
            assert!(validate_digest(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn embedded_media_type_guesses() {
        assert_eq!(
            embedded_media_type(br#"{"schemaVersion":2,"manifests":[]}"#).as_deref(),
            Some(media_types::OCI_INDEX)
        );
        assert_eq!(
            embedded_media_type(
                br#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#
            )
            .as_deref(),
            Some(media_types::DOCKER_MANIFEST)
        );
        assert_eq!(embedded_media_type(b"nope"), None);
    }
}
