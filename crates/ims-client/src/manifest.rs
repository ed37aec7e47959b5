//! manifest.json version 1.0 (spec §6) and the Python `json.dumps(indent=4, sort_keys=True)`
//! layout shared by the manifest and the command line's output.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::ims::ArtifactLink;

/// The artifact kinds of an image, in manifest order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ArtifactKind {
    /// `-r`: the root filesystem (squashfs).
    Rootfs,
    /// `-k`: the kernel.
    Kernel,
    /// `-i`: the initrd.
    Initrd,
    /// `-d`: the debug kernel.
    DebugKernel,
    /// `-p`: boot parameters.
    BootParameters,
}

impl ArtifactKind {
    /// All kinds, in upload and manifest order.
    pub const ALL: [ArtifactKind; 5] = [
        ArtifactKind::Rootfs,
        ArtifactKind::Kernel,
        ArtifactKind::Initrd,
        ArtifactKind::DebugKernel,
        ArtifactKind::BootParameters,
    ];

    /// The object name under `<image id>/`, also the output's `artifact_type`.
    pub fn key_name(self) -> &'static str {
        match self {
            ArtifactKind::Rootfs => "rootfs",
            ArtifactKind::Kernel => "kernel",
            ArtifactKind::Initrd => "initrd",
            ArtifactKind::DebugKernel => "debug_kernel",
            ArtifactKind::BootParameters => "boot_parameters",
        }
    }

    /// The manifest `type`.
    pub fn media_type(self) -> &'static str {
        match self {
            ArtifactKind::Rootfs => "application/vnd.cray.image.rootfs.squashfs",
            ArtifactKind::Kernel => "application/vnd.cray.image.kernel",
            ArtifactKind::Initrd => "application/vnd.cray.image.initrd",
            ArtifactKind::DebugKernel => "application/vnd.cray.image.debug.kernel",
            ArtifactKind::BootParameters => "application/vnd.cray.image.parameters.boot",
        }
    }

    /// The kind of a manifest `type`; IMS treats any type starting with the rootfs type as rootfs.
    pub fn from_media_type(t: &str) -> Option<Self> {
        ArtifactKind::ALL.into_iter().find(|k| k.media_type() == t)
    }
}

/// One entry of `artifacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ManifestArtifact {
    /// Where the artifact is, with the ETag S3 reported.
    pub link: ArtifactLink,
    /// Hex MD5 of the whole file.
    pub md5: String,
    /// Media type, see [`ArtifactKind::media_type`].
    #[serde(rename = "type")]
    pub media_type: String,
}

/// manifest.json 1.0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The artifacts in upload order.
    pub artifacts: Vec<ManifestArtifact>,
    /// `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
    pub created: String,
    /// `1.0`.
    pub version: String,
}

/// Largest manifest IMS accepts (and we read back in the reuse check).
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

impl Manifest {
    /// A 1.0 manifest created now.
    pub fn new(artifacts: Vec<ManifestArtifact>) -> Self {
        Self::with_created(artifacts, now_python_naive())
    }

    /// A 1.0 manifest with a given `created` (for reproducible output).
    pub fn with_created(artifacts: Vec<ManifestArtifact>, created: String) -> Self {
        Self {
            artifacts,
            created,
            version: "1.0".to_owned(),
        }
    }

    /// The bytes written to S3: sorted keys, 4-space indent, no trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        python_json(&serde_json::to_value(self).expect("a manifest always serializes")).into_bytes()
    }

    /// Parses a manifest of any version (callers check `version`).
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// `{kind: md5}` for the five known kinds present; `None` when a kind appears twice.
    pub fn md5_by_kind(&self) -> Option<std::collections::BTreeMap<ArtifactKind, String>> {
        let mut map = std::collections::BTreeMap::new();
        for a in &self.artifacts {
            if let Some(kind) = ArtifactKind::from_media_type(&a.media_type) {
                if map.insert(kind, a.md5.clone()).is_some() {
                    return None;
                }
            }
        }
        Some(map)
    }
}

/// Python's `str()` of a naive datetime: `2026-12-01 21:33:37.528658`.
const PYTHON_NAIVE: &str = "%Y-%m-%d %H:%M:%S.%6f";

/// The current UTC time as Python prints a naive datetime: `2026-12-01 21:33:37.528658`.
pub fn now_python_naive() -> String {
    jiff::Timestamp::now().strftime(PYTHON_NAIVE).to_string()
}

/// Formats seconds since the epoch (UTC) plus microseconds as `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn python_naive(unix_secs: i64, micros: u32) -> String {
    let nanos = i32::try_from(micros.min(999_999) * 1000).unwrap_or(0);
    jiff::Timestamp::new(unix_secs, nanos)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime(PYTHON_NAIVE)
        .to_string()
}

/// `json.dumps(value, indent=4, sort_keys=True)`: sorted keys (serde_json's map is ordered),
/// 4-space indent, `", "`-free item separators, non-ASCII escaped as `\uXXXX` like Python's
/// default `ensure_ascii`.
pub fn python_json(value: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    value
        .serialize(&mut ser)
        .expect("serializing a Value into memory cannot fail");
    let text = String::from_utf8(out).expect("serde_json writes UTF-8");
    if text.is_ascii() {
        return text;
    }
    // Non-ASCII only occurs inside strings, so escaping every such char is exact.
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            escaped.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                let _ = write!(escaped, "\\u{unit:04x}");
            }
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_datetime_format() {
        assert_eq!(python_naive(0, 0), "1970-01-01 00:00:00.000000");
        // 2026-12-01 21:33:37.528658 UTC
        assert_eq!(
            python_naive(1_796_160_817, 528_658),
            "2026-12-01 21:33:37.528658"
        );
        assert_eq!(python_naive(951_782_400, 1), "2000-02-29 00:00:00.000001");
    }

    #[test]
    fn python_layout_escapes_like_ensure_ascii() {
        let v = serde_json::json!({"b": [], "a": {"name": "é😀"}, "c": {}});
        assert_eq!(
            python_json(&v),
            "{\n    \"a\": {\n        \"name\": \"\\u00e9\\ud83d\\ude00\"\n    },\n    \"b\": [],\n    \"c\": {}\n}"
        );
    }
}
