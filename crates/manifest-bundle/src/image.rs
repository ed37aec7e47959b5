//! Operator bundle images built without a container builder: one reproducible layer holding
//! `manifests/` and `metadata/`, an OCI config whose labels are the bundle annotations, and an
//! OCI image manifest. Same input, same digests.

use std::collections::BTreeMap;

use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::bundle::BundleDir;
use crate::error::Error;
use crate::package::{deterministic_tar, gzip, hex};

/// Media type of the layer.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Media type of the config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of the manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// A bundle image ready to push: blobs and manifest with their digests (`sha256:<hex>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleImage {
    /// The gzip-compressed layer.
    pub layer: Vec<u8>,
    /// Digest of the compressed layer.
    pub layer_digest: String,
    /// Digest of the uncompressed layer tar (`rootfs.diff_ids`).
    pub diff_id: String,
    /// The config JSON.
    pub config: Vec<u8>,
    /// Digest of the config.
    pub config_digest: String,
    /// The OCI image manifest JSON.
    pub manifest: Vec<u8>,
    /// Digest of the manifest (the image digest).
    pub manifest_digest: String,
    /// The labels set in the config (the bundle annotations).
    pub labels: BTreeMap<String, String>,
}

fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

/// Builds the image of one bundle directory.
pub fn build_image(bundle: &BundleDir) -> Result<BundleImage, Error> {
    let tar = deterministic_tar("", &bundle.files)?;
    let diff_id = digest(&tar);
    let layer = gzip(&tar)?;
    let layer_digest = digest(&layer);
    let labels: BTreeMap<String, String> = bundle.annotations.iter().cloned().collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .map_err(|e| Error::Conversion(format!("cannot encode the image config: {e}")))?;
    let config_digest = digest(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer.len()}],
    }))
    .map_err(|e| Error::Conversion(format!("cannot encode the image manifest: {e}")))?;
    let manifest_digest = digest(&manifest);
    Ok(BundleImage {
        layer,
        layer_digest,
        diff_id,
        config,
        config_digest,
        manifest,
        manifest_digest,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;
    use crate::{Limits, ManifestTree, to_bundles, validate_tree};

    fn etcd_bundles() -> Vec<BundleDir> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/operators/etcd");
        let tree = ManifestTree::from_dir(&dir, &Limits::default()).unwrap();
        let (manifests, _) = validate_tree(&tree, None, &Limits::default().yaml).unwrap();
        to_bundles(&manifests, &tree).unwrap()
    }

    #[test]
    fn image_is_reproducible_and_self_consistent() {
        let bundles = etcd_bundles();
        let a = build_image(&bundles[0]).unwrap();
        let b = build_image(&etcd_bundles()[0]).unwrap();
        assert_eq!(a, b, "same input, same bytes and digests");
        assert_ne!(
            a.manifest_digest,
            build_image(&bundles[1]).unwrap().manifest_digest
        );

        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&a.layer[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(a.diff_id, digest(&tar));
        assert_eq!(a.layer_digest, digest(&a.layer));
        let mut names = Vec::new();
        for entry in tar::Archive::new(&tar[..]).entries().unwrap() {
            let entry = entry.unwrap();
            assert_eq!(entry.header().mtime().unwrap(), 0);
            names.push(entry.path().unwrap().display().to_string());
        }
        assert_eq!(names[0], "manifests/");
        assert!(names.contains(&"metadata/annotations.yaml".to_owned()));
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("manifests/") || n.starts_with("metadata/"))
        );

        let config: serde_json::Value = serde_json::from_slice(&a.config).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], a.diff_id.as_str());
        assert_eq!(
            config["config"]["Labels"]["operators.operatorframework.io.bundle.package.v1"],
            "etcd"
        );
        // Five bundle labels: etcd 0.6.1 is only in `alpha`, so it has no default-channel label
        // (the package's default, `singlenamespace-alpha`, is not among its channels).
        assert_eq!(config["config"]["Labels"].as_object().unwrap().len(), 5);
        let manifest: serde_json::Value = serde_json::from_slice(&a.manifest).unwrap();
        assert_eq!(manifest["config"]["digest"], a.config_digest.as_str());
        assert_eq!(manifest["layers"][0]["digest"], a.layer_digest.as_str());
        assert_eq!(manifest["layers"][0]["size"], a.layer.len());
    }
}
