//! Deterministic test images: pseudo-random layers per seed (each layer its own digest), a
//! config, and a **pretty-printed** manifest, so any re-serialisation on the way through a
//! client or registry changes the digest and is caught.

use serde_json::json;
use sha2::Digest as _;

/// OCI or Docker v2 schema 2 media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `application/vnd.oci.image.*`.
    Oci,
    /// `application/vnd.docker.distribution.manifest.v2+json` and friends.
    Docker,
}

impl Flavor {
    /// Media type of an image manifest.
    pub fn manifest_type(self) -> &'static str {
        match self {
            Flavor::Oci => "application/vnd.oci.image.manifest.v1+json",
            Flavor::Docker => "application/vnd.docker.distribution.manifest.v2+json",
        }
    }

    /// Media type of an index / manifest list.
    pub fn index_type(self) -> &'static str {
        match self {
            Flavor::Oci => "application/vnd.oci.image.index.v1+json",
            Flavor::Docker => "application/vnd.docker.distribution.manifest.list.v2+json",
        }
    }

    /// Media type of the image config.
    pub fn config_type(self) -> &'static str {
        match self {
            Flavor::Oci => "application/vnd.oci.image.config.v1+json",
            Flavor::Docker => "application/vnd.docker.container.image.v1+json",
        }
    }

    /// Media type of a gzip layer.
    pub fn layer_type(self) -> &'static str {
        match self {
            Flavor::Oci => "application/vnd.oci.image.layer.v1.tar+gzip",
            Flavor::Docker => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        }
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(data))
}

/// `len` deterministic pseudo-random bytes for `seed` (xorshift), so every seed gives its own
/// digest and a test can be repeated byte for byte.
pub fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A manifest (or index) as bytes with its media type and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    /// Media type.
    pub media_type: &'static str,
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// `sha256:` of the bytes.
    pub digest: String,
}

impl RawManifest {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Self {
        Self {
            media_type,
            digest: sha256_digest(&bytes),
            bytes,
        }
    }
}

/// An image: config, layers and manifest.
#[derive(Debug, Clone)]
pub struct TestImage {
    /// Config blob.
    pub config: Vec<u8>,
    /// Layer blobs.
    pub layers: Vec<Vec<u8>>,
    /// The manifest.
    pub manifest: RawManifest,
}

fn descriptor(media_type: &str, data: &[u8]) -> serde_json::Value {
    json!({"mediaType": media_type, "digest": sha256_digest(data), "size": data.len()})
}

impl TestImage {
    /// An image for `arch` with layers of `layer_sizes` bytes drawn from `seed`.
    pub fn new(seed: &str, arch: &str, layer_sizes: &[usize], flavor: Flavor) -> Self {
        let layers = layer_sizes
            .iter()
            .enumerate()
            .map(|(i, n)| noise(&format!("{seed}-{i}"), *n))
            .collect();
        Self::with_layers(seed, arch, layers, flavor)
    }

    /// An image with the given layers (to share a layer between images).
    pub fn with_layers(seed: &str, arch: &str, layers: Vec<Vec<u8>>, flavor: Flavor) -> Self {
        let config = serde_json::to_vec(&json!({
            "architecture": arch, "os": "linux",
            "config": {"Labels": {"test.seed": seed, "operators.operatorframework.io.bundle.package.v1": "demo"}},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha256_digest(l)).collect::<Vec<_>>()},
        }))
        .expect("JSON");
        let manifest = serde_json::to_vec_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": flavor.manifest_type(),
            "config": descriptor(flavor.config_type(), &config),
            "layers": layers.iter().map(|l| descriptor(flavor.layer_type(), l)).collect::<Vec<_>>(),
        }))
        .expect("JSON");
        Self {
            config,
            layers,
            manifest: RawManifest::new(flavor.manifest_type(), manifest),
        }
    }
}

/// An index (manifest list) over `children`, each with its architecture.
pub fn index(children: &[(&RawManifest, &str)], flavor: Flavor) -> RawManifest {
    let manifests: Vec<_> = children
        .iter()
        .map(|(m, arch)| {
            json!({"mediaType": m.media_type, "digest": m.digest, "size": m.bytes.len(),
                   "platform": {"architecture": arch, "os": "linux"}})
        })
        .collect();
    let bytes = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2, "mediaType": flavor.index_type(), "manifests": manifests,
    }))
    .expect("JSON");
    RawManifest::new(flavor.index_type(), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_deterministic_and_distinct_per_seed() {
        let first = TestImage::new("a", "amd64", &[100, 200], Flavor::Oci);
        let again = TestImage::new("a", "amd64", &[100, 200], Flavor::Oci);
        let other = TestImage::new("b", "amd64", &[100, 200], Flavor::Oci);
        assert_eq!(first.manifest, again.manifest);
        assert_ne!(first.manifest.digest, other.manifest.digest);
        assert_ne!(first.layers[0], first.layers[1]);
        assert_eq!(first.layers[1].len(), 200);
        let manifest: serde_json::Value = serde_json::from_slice(&first.manifest.bytes).unwrap();
        assert_eq!(
            manifest["layers"][1]["digest"],
            sha256_digest(&first.layers[1])
        );
        assert_eq!(manifest["config"]["digest"], sha256_digest(&first.config));
        // Pretty-printed on purpose.
        assert!(first.manifest.bytes.contains(&b'\n'));
        let list = index(
            &[(&first.manifest, "amd64"), (&other.manifest, "arm64")],
            Flavor::Docker,
        );
        let parsed: serde_json::Value = serde_json::from_slice(&list.bytes).unwrap();
        assert_eq!(
            parsed["manifests"][1]["digest"],
            other.manifest.digest.as_str()
        );
        assert_eq!(list.media_type, Flavor::Docker.index_type());
    }
}
