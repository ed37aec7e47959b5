//! The App Registry blob, built the way operator-courier builds it, but reproducibly.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::error::Error;
use crate::layout::{Layout, Manifests};
use crate::tree::{ManifestTree, SpooledFile};
use crate::yaml::{self, Mapping, Yaml};

/// Files courier removes from every pushed tree.
const REMOVED_FILES: [&str; 2] = ["art.yaml", "image-references"];

/// A packaged release, ready for `POST /cnr/api/v1/packages/<org>/<repo>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRegistryBlob {
    /// The gzip-compressed tar archive.
    pub tar_gz: Vec<u8>,
    /// Hex sha256 of the **uncompressed** tar: how the App Registry identifies the blob.
    pub tar_sha256: String,
    /// The top directory inside the archive.
    pub top_dir: String,
}

impl AppRegistryBlob {
    /// Standard base64 with padding and no line breaks, as the push body wants it.
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.tar_gz)
    }
}

/// The files that go into the blob: flat → one synthesised `bundle.yaml`; nested → the whole tree.
/// `art.yaml` and `image-references` are removed everywhere.
pub fn blob_contents(manifests: &Manifests, tree: &ManifestTree) -> Result<ManifestTree, Error> {
    let mut out = match manifests.layout {
        Layout::Flat => {
            let mut t = ManifestTree::new();
            t.insert("bundle.yaml", flat_bundle_yaml(manifests).into_bytes());
            t
        }
        Layout::Nested => tree.clone(),
        Layout::Bundle => return Err(Error::Structural(crate::Structural::NoPackage)),
    };
    let doomed: Vec<String> = out.paths().into_iter().filter(|p| is_removed(p)).collect();
    for p in doomed {
        out.remove(&p);
    }
    Ok(out)
}

/// Whether courier removes this file from pushed trees.
fn is_removed(path: &str) -> bool {
    REMOVED_FILES.contains(&path.rsplit('/').next().unwrap_or(path))
}

/// courier's flat-layout `bundle.yaml`: under `data`, each kind as a string holding a YAML list.
pub fn flat_bundle_yaml(manifests: &Manifests) -> String {
    let section = |docs: Vec<Yaml>| -> Yaml {
        if docs.is_empty() {
            Yaml::Str(String::new())
        } else {
            Yaml::Str(yaml::emit(&Yaml::Seq(docs), true))
        }
    };
    let version = manifests.versions.first();
    let csvs = version
        .map(|v| v.csvs.iter().map(|d| d.value.clone()).collect())
        .unwrap_or_default();
    let crds = version
        .map(|v| v.crds.iter().map(|d| d.value.clone()).collect())
        .unwrap_or_default();
    let packages = manifests.package.iter().map(|d| d.value.clone()).collect();
    let mut data = Mapping::new();
    data.insert(Yaml::Str("clusterServiceVersions".into()), section(csvs));
    data.insert(Yaml::Str("customResourceDefinitions".into()), section(crds));
    data.insert(Yaml::Str("packages".into()), section(packages));
    let mut root = Mapping::new();
    root.insert(Yaml::Str("data".into()), Yaml::Map(data));
    yaml::emit(&Yaml::Map(root), true)
}

/// A top directory name `<repository>-<8 hex digits of the content hash>`: unique per content,
/// yet equal input gives an equal blob.
pub fn default_top_dir(repository: &str, contents: &ManifestTree) -> String {
    let entries: Vec<(&str, Source<'_>)> = contents
        .iter()
        .map(|(path, data)| (path, Source::Memory(data)))
        .collect();
    // In-memory sources cannot fail to read.
    top_dir_of(repository, &entries).unwrap_or_else(|_| repository.to_owned())
}

/// [`default_top_dir`] over sorted `entries`.
fn top_dir_of(repository: &str, entries: &[(&str, Source<'_>)]) -> Result<String, Error> {
    let mut hasher = Sha256::new();
    for (path, source) in entries {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update(source.len().to_le_bytes());
        std::io::copy(&mut source.reader(path)?, &mut hasher).map_err(|e| Error::io(*path, e))?;
    }
    let digest = hasher.finalize();
    Ok(format!("{repository}-{}", hex(&digest[..4])))
}

/// Builds the blob for `repository` from validated manifests.
pub fn app_registry_blob(
    manifests: &Manifests,
    tree: &ManifestTree,
    repository: &str,
) -> Result<AppRegistryBlob, Error> {
    app_registry_blob_spooled(manifests, tree, &[], repository)
}

/// [`app_registry_blob`] for an intake that left some files on disk
/// ([`ManifestTree::from_zip_file_spooling`]): the same bytes as if `spooled` were in `tree`, but
/// the tar is streamed through the hash and gzip, so only the compressed blob is held in memory.
pub fn app_registry_blob_spooled(
    manifests: &Manifests,
    tree: &ManifestTree,
    spooled: &[SpooledFile],
    repository: &str,
) -> Result<AppRegistryBlob, Error> {
    let contents = blob_contents(manifests, tree)?;
    let mut entries: Vec<(&str, Source<'_>)> = contents
        .iter()
        .map(|(path, data)| (path, Source::Memory(data)))
        .collect();
    // Flat blobs hold only the synthesised `bundle.yaml`; nested blobs the whole tree.
    if manifests.layout == Layout::Nested {
        entries.extend(
            spooled
                .iter()
                .filter(|f| !is_removed(&f.path))
                .map(|f| (f.path.as_str(), Source::File(&f.location, f.len))),
        );
        entries.sort_by(|a, b| a.0.cmp(b.0));
    }
    let top_dir = top_dir_of(repository, &entries)?;
    let hashing = HashingWriter {
        inner: flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), flate2::Compression::new(6)),
        hasher: Sha256::new(),
    };
    let hashing = tar_entries(&top_dir, &entries, hashing)?;
    let tar_sha256 = hex(&hashing.hasher.finalize());
    let tar_gz = hashing.inner.finish().map_err(|e| Error::io("gzip", e))?;
    Ok(AppRegistryBlob {
        tar_gz,
        tar_sha256,
        top_dir,
    })
}

/// Where a tar entry's bytes are.
enum Source<'a> {
    Memory(&'a [u8]),
    File(&'a std::path::Path, u64),
}

impl Source<'_> {
    fn len(&self) -> u64 {
        match self {
            Source::Memory(data) => data.len() as u64,
            Source::File(_, len) => *len,
        }
    }

    fn reader(&self, path: &str) -> Result<Box<dyn std::io::Read + '_>, Error> {
        match self {
            Source::Memory(data) => Ok(Box::new(*data)),
            Source::File(location, len) => Ok(Box::new(
                std::fs::File::open(location)
                    .map_err(|e| Error::io(path, e))?
                    .take(*len),
            )),
        }
    }
}

/// Writes through to `inner` and hashes what passes.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A ustar archive of `contents` under `prefix` (omitted when empty): sorted, directories before
/// their files, owner 0/0, mtime 0, modes 0755/0644.
pub fn deterministic_tar(prefix: &str, contents: &ManifestTree) -> Result<Vec<u8>, Error> {
    let entries: Vec<(&str, Source<'_>)> = contents
        .iter()
        .map(|(path, data)| (path, Source::Memory(data)))
        .collect();
    tar_entries(prefix, &entries, Vec::new())
}

/// [`deterministic_tar`] of sorted `entries` into `out`.
fn tar_entries<W: std::io::Write>(
    prefix: &str,
    entries: &[(&str, Source<'_>)],
    out: W,
) -> Result<W, Error> {
    let mut builder = tar::Builder::new(out);
    let mut dirs_done = BTreeSet::new();
    let join = |p: &str| {
        if prefix.is_empty() {
            p.to_owned()
        } else {
            format!("{prefix}/{p}")
        }
    };
    if !prefix.is_empty() {
        append_dir(&mut builder, prefix)?;
    }
    for (path, source) in entries {
        let mut end = 0;
        while let Some(pos) = path[end..].find('/') {
            let dir = &path[..end + pos];
            if dirs_done.insert(dir.to_owned()) {
                append_dir(&mut builder, &join(dir))?;
            }
            end += pos + 1;
        }
        let mut header = tar::Header::new_ustar();
        header.set_size(source.len());
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        normalise(&mut header);
        builder
            .append_data(&mut header, join(path), source.reader(path)?)
            .map_err(|e| Error::io(*path, e))?;
    }
    builder.into_inner().map_err(|e| Error::io("tar", e))
}

fn append_dir<W: std::io::Write>(builder: &mut tar::Builder<W>, path: &str) -> Result<(), Error> {
    let mut header = tar::Header::new_ustar();
    header.set_size(0);
    header.set_mode(0o755);
    header.set_entry_type(tar::EntryType::Directory);
    normalise(&mut header);
    builder
        .append_data(&mut header, format!("{path}/"), std::io::empty())
        .map_err(|e| Error::io(path, e))
}

fn normalise(header: &mut tar::Header) {
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    let _ = header.set_username("");
    let _ = header.set_groupname("");
}

/// gzip with a fixed header (no name, mtime 0) and a fixed level, so output is reproducible.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(data).map_err(|e| Error::io("gzip", e))?;
    encoder.finish().map_err(|e| Error::io("gzip", e))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
