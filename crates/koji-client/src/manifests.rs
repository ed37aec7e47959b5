//! Finding and downloading the operator-manifests archive of an OSBS build.

use std::path::Path;

use futures_util::StreamExt;
use md5::Md5;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use url::Url;

use crate::Client;
use crate::error::KojiError;
use crate::types::{Build, BuildState, ChecksumType, ListArchives};

/// The build type (btype) OSBS registers the manifests zip under.
pub const OPERATOR_MANIFESTS_BTYPE: &str = "operator-manifests";

/// Everything except RFC 3986 unreserved characters is encoded, so NVR parts with `+`, `^`,
/// spaces or `/` stay a single, unambiguous path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the build metadata says the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveSource {
    /// Preferred: `extra.typeinfo["operator-manifests"].archive`, a file of the
    /// `operator-manifests` build type.
    Typeinfo {
        /// The archive file name.
        filename: String,
    },
    /// Legacy: `extra.operator_manifests_archive`, a file among the build logs.
    LegacyLog {
        /// The archive file name.
        filename: String,
    },
}

impl ArchiveSource {
    /// The archive file name.
    pub fn filename(&self) -> &str {
        match self {
            Self::Typeinfo { filename } | Self::LegacyLog { filename } => filename,
        }
    }
}

/// Reads the archive location from a build's `extra`; `None` when the build is not an
/// operator image (no key, `extra` nil or not a mapping, name not a non-empty string).
pub fn archive_source(build: &Build) -> Option<ArchiveSource> {
    let extra = build.extra.as_ref()?.as_object()?;
    let name = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let preferred = extra
        .get("typeinfo")
        .and_then(|t| t.get(OPERATOR_MANIFESTS_BTYPE))
        .and_then(|t| t.get("archive"));
    if let Some(filename) = name(preferred) {
        return Some(ArchiveSource::Typeinfo { filename });
    }
    name(extra.get("operator_manifests_archive"))
        .map(|filename| ArchiveSource::LegacyLog { filename })
}

/// Joins `topurl` and path segments with exactly one `/`, percent-encoding each segment.
/// Segments `.`/`..` and empty ones are refused (they would change the meaning of the path).
pub fn join_url<'a>(
    topurl: &str,
    segments: impl IntoIterator<Item = &'a str>,
) -> Result<Url, KojiError> {
    let mut text = topurl.trim_end_matches('/').to_owned();
    for seg in segments {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(KojiError::InvalidConfig {
                reason: format!("refusing path segment {seg:?} in a Koji file URL"),
            });
        }
        text.push('/');
        text.extend(utf8_percent_encode(seg, SEGMENT));
    }
    Url::parse(&text).map_err(|e| KojiError::InvalidConfig {
        reason: format!("invalid Koji file URL {text:?}: {e}"),
    })
}

/// URL of a file of the `operator-manifests` build type, following Koji's path rules
/// (`[vol/<volume>/]packages/<name>/<version>/<release>/files/operator-manifests/<file>`;
/// the volume prefix only for a volume other than `DEFAULT`).
pub fn typeinfo_archive_url(topurl: &str, build: &Build, filename: &str) -> Result<Url, KojiError> {
    let mut segments: Vec<&str> = Vec::with_capacity(9);
    if let Some(vol) = build
        .volume_name
        .as_deref()
        .filter(|v| *v != "DEFAULT" && !v.is_empty())
    {
        segments.extend(["vol", vol]);
    }
    segments.extend([
        "packages",
        &build.name,
        &build.version,
        &build.release,
        "files",
        OPERATOR_MANIFESTS_BTYPE,
        filename,
    ]);
    join_url(topurl, segments)
}

/// URL of a file given by a path relative to the file root (as `getBuildLogs` returns).
/// `.` segments are dropped: the hub joins `logs/<dir>/<file>` with `dir = "."` for a file
/// directly in the logs directory, as OSBS stored legacy manifests archives. `..` stays refused.
pub fn relative_url(topurl: &str, path: &str) -> Result<Url, KojiError> {
    join_url(
        topurl,
        path.split('/').filter(|s| !s.is_empty() && *s != "."),
    )
}

/// An expected checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// Algorithm.
    pub kind: ChecksumType,
    /// Lower-case hex digest.
    pub hex: String,
}

/// A located operator-manifests archive, ready to download.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestsArchive {
    /// The build.
    pub build: Build,
    /// Where the metadata pointed.
    pub source: ArchiveSource,
    /// Download URL.
    pub url: Url,
    /// Size from `listArchives`, when known.
    pub size: Option<u64>,
    /// Checksum from `listArchives`, when known and of a supported kind.
    pub checksum: Option<Checksum>,
}

impl ManifestsArchive {
    /// The archive file name.
    pub fn filename(&self) -> &str {
        self.source.filename()
    }
}

enum Hasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    fn new(kind: ChecksumType) -> Option<Self> {
        match kind {
            ChecksumType::Md5 => Some(Self::Md5(Md5::new())),
            ChecksumType::Sha1 => Some(Self::Sha1(Sha1::new())),
            ChecksumType::Sha256 => Some(Self::Sha256(Sha256::new())),
            ChecksumType::Unknown(_) => None,
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Md5(h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> String {
        match self {
            Self::Md5(h) => hex(&h.finalize()),
            Self::Sha1(h) => hex(&h.finalize()),
            Self::Sha256(h) => hex(&h.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl Client {
    /// Finds the operator-manifests archive of a build the way OMPS does:
    ///
    /// 1. `getBuild(nvr)`; nil or a malformed NVR → [`KojiError::BuildNotFound`];
    /// 2. the build must be COMPLETE → else [`KojiError::BuildNotComplete`];
    /// 3. `extra.typeinfo["operator-manifests"].archive` → URL under `files/operator-manifests/`,
    ///    plus size/checksum from `listArchives` when the hub knows them;
    /// 4. else `extra.operator_manifests_archive` → the matching entry of `getBuildLogs`
    ///    (none → [`KojiError::ArchiveNotFound`]);
    /// 5. else [`KojiError::NotAnOperatorImage`] (also when `extra` is nil).
    ///
    /// Needs the file root URL ([`ClientBuilder::topurl`](crate::ClientBuilder::topurl)).
    pub async fn find_operator_manifests(&self, nvr: &str) -> Result<ManifestsArchive, KojiError> {
        let topurl = self
            .topurl
            .clone()
            .ok_or_else(|| KojiError::InvalidConfig {
                reason: "the Koji file root URL (topurl) is not configured".to_owned(),
            })?;
        let build = match self.get_build(nvr).await {
            Ok(Some(build)) => build,
            Ok(None) => {
                return Err(KojiError::BuildNotFound {
                    nvr: nvr.to_owned(),
                });
            }
            Err(e) if e.is_invalid_nvr() => {
                return Err(KojiError::BuildNotFound {
                    nvr: nvr.to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        if build.state != BuildState::Complete {
            return Err(KojiError::BuildNotComplete {
                nvr: nvr.to_owned(),
                state: build.state,
            });
        }
        let source = archive_source(&build).ok_or_else(|| KojiError::NotAnOperatorImage {
            nvr: nvr.to_owned(),
        })?;
        match &source {
            ArchiveSource::Typeinfo { filename } => {
                let url = typeinfo_archive_url(&topurl, &build, filename)?;
                let (size, checksum) = self.archive_facts(build.id, filename).await?;
                Ok(ManifestsArchive {
                    build,
                    source,
                    url,
                    size,
                    checksum,
                })
            }
            ArchiveSource::LegacyLog { filename } => {
                let logs = self.get_build_logs(build.id).await?;
                let entry = logs
                    .into_iter()
                    .find(|l| &l.name == filename)
                    .ok_or_else(|| KojiError::ArchiveNotFound {
                        nvr: nvr.to_owned(),
                        file: filename.clone(),
                    })?;
                let url = relative_url(&topurl, &entry.path)?;
                Ok(ManifestsArchive {
                    build,
                    source,
                    url,
                    size: None,
                    checksum: None,
                })
            }
        }
    }

    /// Size and checksum of the archive, if `listArchives` knows it. A fault (a hub without the
    /// `operator-manifests` type) only means there is nothing to verify against.
    async fn archive_facts(
        &self,
        build_id: i64,
        filename: &str,
    ) -> Result<(Option<u64>, Option<Checksum>), KojiError> {
        let filter = ListArchives {
            build_id: Some(build_id),
            btype: Some(OPERATOR_MANIFESTS_BTYPE.to_owned()),
            filename: Some(filename.to_owned()),
        };
        let rows = match self.list_archives(&filter).await {
            Ok(rows) => rows,
            Err(e @ KojiError::Fault { .. }) => {
                tracing::warn!(error = %e, "listArchives failed; archive will not be verified");
                return Ok((None, None));
            }
            Err(e) => return Err(e),
        };
        let Some(row) = rows.into_iter().find(|r| r.filename == filename) else {
            return Ok((None, None));
        };
        let size = row.size.and_then(|s| u64::try_from(s).ok());
        let checksum = match (row.checksum, row.checksum_type) {
            (Some(hex), Some(kind))
                if !hex.is_empty() && !matches!(kind, ChecksumType::Unknown(_)) =>
            {
                Some(Checksum {
                    kind,
                    hex: hex.to_ascii_lowercase(),
                })
            }
            _ => None,
        };
        Ok((size, checksum))
    }

    /// Downloads the archive into memory, at most `max_size` bytes, verifying the checksum.
    pub async fn download_to_vec(
        &self,
        archive: &ManifestsArchive,
        max_size: u64,
    ) -> Result<Vec<u8>, KojiError> {
        let mut buf = Vec::new();
        self.download_to_writer(archive, max_size, &mut buf).await?;
        Ok(buf)
    }

    /// Downloads the archive into a new file at `path` (removed again on failure).
    pub async fn download_to_file(
        &self,
        archive: &ManifestsArchive,
        max_size: u64,
        path: &Path,
    ) -> Result<u64, KojiError> {
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|source| KojiError::Io { source })?;
        let result = self.download_to_writer(archive, max_size, &mut file).await;
        let result = match result {
            Ok(n) => file
                .sync_all()
                .await
                .map(|()| n)
                .map_err(|source| KojiError::Io { source }),
            Err(e) => Err(e),
        };
        if result.is_err() {
            drop(file);
            let _ = tokio::fs::remove_file(path).await;
        }
        result
    }

    /// Streams the archive into `writer`: plain GET without credentials, the transfer
    /// timeout, at most `max_size` bytes, then the checksum check when one is known.
    /// Returns the number of bytes written. Not retried: the writer cannot be rewound.
    pub async fn download_to_writer<W: AsyncWrite + Unpin>(
        &self,
        archive: &ManifestsArchive,
        max_size: u64,
        writer: &mut W,
    ) -> Result<u64, KojiError> {
        let url = archive.url.as_str();
        let transport = |source| KojiError::Transport {
            method: "download".to_owned(),
            source,
        };
        let too_large = || KojiError::TooLarge {
            url: url.to_owned(),
            limit: max_size,
        };
        if archive.size.is_some_and(|s| s > max_size) {
            return Err(too_large());
        }
        let response = self
            .http
            .get(archive.url.clone())
            .timeout(self.transfer_timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(KojiError::DownloadStatus {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        if response.content_length().is_some_and(|len| len > max_size) {
            return Err(too_large());
        }
        let mut hasher = archive.checksum.as_ref().and_then(|c| Hasher::new(c.kind));
        let mut written: u64 = 0;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(transport)?;
            written += chunk.len() as u64;
            if written > max_size {
                return Err(too_large());
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            writer
                .write_all(&chunk)
                .await
                .map_err(|source| KojiError::Io { source })?;
        }
        writer
            .flush()
            .await
            .map_err(|source| KojiError::Io { source })?;
        if let (Some(h), Some(expected)) = (hasher, archive.checksum.as_ref()) {
            let actual = h.finish();
            if actual != expected.hex {
                return Err(KojiError::ChecksumMismatch {
                    file: archive.filename().to_owned(),
                    expected: expected.hex.clone(),
                    actual,
                });
            }
        }
        Ok(written)
    }
}
