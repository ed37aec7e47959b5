//! Safe intake: a zip archive or a directory becomes an in-memory [`ManifestTree`].
//!
//! Nothing is written to disk, except by the spooling intake
//! ([`ManifestTree::from_zip_file_spooling`]), which streams the files its caller does not want
//! in memory into a directory the caller owns. Every limit of [`Limits`] is enforced on the bytes actually
//! decompressed, paths are rejected (never rewritten), and only regular files and directories are
//! accepted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, Write as _};
use std::path::{Path, PathBuf};

use zip::CompressionMethod;

use crate::error::{Error, display_name};
use crate::limits::Limits;

/// A file that the spooling intake ([`ManifestTree::from_zip_file_spooling`]) wrote to disk
/// instead of keeping it in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledFile {
    /// The `/`-separated path in the archive.
    pub path: String,
    /// Where its bytes are.
    pub location: PathBuf,
    /// Its size in bytes.
    pub len: u64,
}

/// Which files the spooling intake keeps in memory, and where it writes the others.
pub struct Spool<'a> {
    /// An existing directory for the spooled files; the caller removes it.
    pub dir: &'a Path,
    /// `keep_in_memory(path, declared size)`: `false` streams the file into `dir`.
    pub keep_in_memory: &'a dyn Fn(&str, u64) -> bool,
}

/// The files of an operator package, keyed by `/`-separated relative path, sorted by byte order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestTree {
    files: BTreeMap<String, Vec<u8>>,
}

impl ManifestTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a zip archive held in memory.
    pub fn from_zip_bytes(bytes: &[u8], limits: &Limits) -> Result<Self, Error> {
        Self::from_zip_reader(std::io::Cursor::new(bytes), limits)
    }

    /// Reads a zip archive from a file (the upload spool of a server, a CLI argument).
    pub fn from_zip_file(path: &Path, limits: &Limits) -> Result<Self, Error> {
        let file =
            std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        Self::from_zip_reader(std::io::BufReader::new(file), limits)
    }

    /// Reads a zip archive from any seekable reader.
    pub fn from_zip_reader<R: Read + Seek>(reader: R, limits: &Limits) -> Result<Self, Error> {
        read_zip(reader, limits, None).map(|(tree, _)| tree)
    }

    /// The declared uncompressed size of every file entry of the zip archive at `path`, by entry
    /// name, read from the central directory alone (nothing is inflated or checked): what a
    /// caller needs to decide, before the intake, how much memory it will take. Declared sizes
    /// are an upper bound of what the intake accepts, since an entry inflating past its declared
    /// size is refused.
    pub fn zip_declared_sizes(path: &Path) -> Result<Vec<(String, u64)>, Error> {
        let file =
            std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        let mut archive =
            zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|_| Error::NotAZip)?;
        let mut sizes = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let entry = archive.by_index_raw(i).map_err(corrupt)?;
            if !entry.is_dir() {
                let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
                sizes.push((name, entry.size()));
            }
        }
        Ok(sizes)
    }

    /// Reads a zip archive from a file like [`ManifestTree::from_zip_file`], with the same checks
    /// and limits, but keeps in memory only the files `spool` asks for: the others are streamed
    /// into files under `spool.dir` and returned beside the tree, sorted by path. A server uses
    /// this to hold only the manifests in memory.
    pub fn from_zip_file_spooling(
        path: &Path,
        limits: &Limits,
        spool: &Spool<'_>,
    ) -> Result<(Self, Vec<SpooledFile>), Error> {
        let file =
            std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        read_zip(std::io::BufReader::new(file), limits, Some(spool))
    }

    /// Reads a directory recursively, as operator-courier reads a local tree (which is trusted
    /// more than an upload): symbolic links are followed when they resolve inside `root`
    /// ([`Error::LinkOutsideRoot`] otherwise, [`Error::LinkLoop`] for a directory link to one
    /// of its own ancestors, [`Error::BrokenLink`] when the target is missing), any file name
    /// Linux allows is read (a name that is not UTF-8 is keyed by its lossy form), and
    /// `limits` apply ([`Limits::for_directories`] is far above any real package). Special
    /// files (FIFOs, devices, sockets) are refused.
    pub fn from_dir(root: &Path, limits: &Limits) -> Result<Self, Error> {
        let canonical_root =
            std::fs::canonicalize(root).map_err(|e| Error::io(root.display().to_string(), e))?;
        let mut tree = ManifestTree::new();
        let mut total: u64 = 0;
        let mut entries = 0usize;
        // (directory on disk, key prefix, canonical directories from the root down to it)
        let mut stack = vec![(
            canonical_root.clone(),
            String::new(),
            vec![canonical_root.clone()],
        )];
        while let Some((dir, prefix, ancestors)) = stack.pop() {
            let listing =
                std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
            for item in listing {
                let item = item.map_err(|e| Error::io(dir.display().to_string(), e))?;
                entries += 1;
                if entries > limits.max_entries {
                    return Err(Error::TooManyEntries {
                        count: entries,
                        max: limits.max_entries,
                    });
                }
                let raw = item.file_name();
                let name = raw.to_string_lossy();
                let rel = if prefix.is_empty() {
                    name.into_owned()
                } else {
                    format!("{prefix}/{name}")
                };
                let depth = rel.split('/').count();
                if rel.len() > limits.max_path_len || depth > limits.max_path_depth {
                    return Err(Error::PathTooLong {
                        name: display_name(&rel),
                        max_len: limits.max_path_len,
                        max_depth: limits.max_path_depth,
                    });
                }
                let path = item.path();
                let link = std::fs::symlink_metadata(&path)
                    .map_err(|e| Error::io(rel.clone(), e))?
                    .file_type()
                    .is_symlink();
                let target = if link {
                    let Ok(target) = std::fs::canonicalize(&path) else {
                        return Err(Error::BrokenLink {
                            name: display_name(&rel),
                        });
                    };
                    if !target.starts_with(&canonical_root) {
                        return Err(Error::LinkOutsideRoot {
                            name: display_name(&rel),
                        });
                    }
                    target
                } else {
                    path
                };
                let meta = std::fs::metadata(&target).map_err(|e| Error::io(rel.clone(), e))?;
                if meta.is_dir() {
                    if link && ancestors.contains(&target) {
                        return Err(Error::LinkLoop {
                            name: display_name(&rel),
                        });
                    }
                    let mut below = ancestors.clone();
                    below.push(target.clone());
                    stack.push((target, rel, below));
                } else if meta.is_file() {
                    if tree.files.contains_key(&rel) {
                        // Two names that differ only in bytes that are not UTF-8.
                        return Err(Error::Duplicate {
                            name: display_name(&rel),
                        });
                    }
                    let file =
                        std::fs::File::open(&target).map_err(|e| Error::io(rel.clone(), e))?;
                    let data = read_capped(file, &rel, meta.len(), &mut total, limits)?;
                    tree.files.insert(rel, data);
                } else {
                    return Err(Error::NotRegularFile {
                        name: display_name(&rel),
                    });
                }
            }
        }
        Ok(tree)
    }

    /// Every file path, sorted by byte order (OMPS's `extracted_files`).
    pub fn paths(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// Iterates over `(path, contents)` in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The contents of `path`.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, path: impl Into<String>, contents: Vec<u8>) {
        self.files.insert(path.into(), contents);
    }

    /// Removes a file.
    pub fn remove(&mut self, path: &str) -> Option<Vec<u8>> {
        self.files.remove(path)
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the tree has no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Total size of all files in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|v| v.len() as u64).sum()
    }

    /// Files directly in directory `dir` (`""` for the root): `(file name, full path, contents)`.
    pub fn files_in<'a>(
        &'a self,
        dir: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a [u8])> + 'a {
        self.files.iter().filter_map(move |(path, data)| {
            let rest = if dir.is_empty() {
                Some(path.as_str())
            } else {
                path.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
            }?;
            (!rest.contains('/')).then_some((rest, path.as_str(), data.as_slice()))
        })
    }

    /// Immediate subdirectories of `dir` that hold at least one file somewhere below, sorted.
    pub fn subdirs(&self, dir: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        for path in self.files.keys() {
            let rest = if dir.is_empty() {
                Some(path.as_str())
            } else {
                path.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
            };
            if let Some((first, _)) = rest.and_then(|r| r.split_once('/')) {
                out.insert(first.to_owned());
            }
        }
        out.into_iter().collect()
    }

    /// Writes the tree below `dir` (which must exist). Used by callers that need files on disk.
    pub fn write_to(&self, dir: &Path) -> Result<(), Error> {
        for (path, data) in &self.files {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(path.clone(), e))?;
            }
            std::fs::write(&target, data).map_err(|e| Error::io(path.clone(), e))?;
        }
        Ok(())
    }
}

/// The zip intake; with `spool`, the files it does not keep are streamed to disk.
fn read_zip<R: Read + Seek>(
    reader: R,
    limits: &Limits,
    spool: Option<&Spool<'_>>,
) -> Result<(ManifestTree, Vec<SpooledFile>), Error> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|_| Error::NotAZip)?;
    if archive.has_duplicate_names() {
        // The zip reader keeps one record per name; find the duplicated name for the message.
        let name = duplicated_name(archive.into_inner()).unwrap_or_else(|| "?".to_owned());
        return Err(Error::Duplicate {
            name: display_name(&name),
        });
    }
    let count = archive.len();

    // Declared sizes are only an early reject; the real limit is enforced while reading.
    let mut declared: u64 = 0;
    for i in 0..count {
        let entry = archive.by_index_data(i).map_err(corrupt)?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > limits.max_total_bytes {
        return Err(Error::TooLarge {
            seen: declared,
            max: limits.max_total_bytes,
        });
    }
    if count > limits.max_entries {
        return Err(Error::TooManyEntries {
            count,
            max: limits.max_entries,
        });
    }

    let mut plan = Vec::with_capacity(count);
    let mut seen = PathSet::default();
    let mut ranges = Vec::with_capacity(count);
    for i in 0..count {
        let entry = archive.by_index_raw(i).map_err(corrupt)?;
        let name = entry_name(entry.name_raw())?;
        if entry.encrypted() {
            return Err(Error::Encrypted {
                name: display_name(&name),
            });
        }
        let is_dir = name.ends_with('/');
        let path = check_path(name.strip_suffix('/').unwrap_or(&name), &name, limits)?;
        if let Some(mode) = entry.unix_mode() {
            let kind = mode & 0o170_000;
            let regular = kind == 0 || kind == 0o100_000 || (is_dir && kind == 0o040_000);
            if !regular || entry.is_symlink() {
                return Err(Error::NotRegularFile {
                    name: display_name(&name),
                });
            }
        }
        if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(Error::UnsupportedCompression {
                name: display_name(&name),
            });
        }
        seen.add(&path, is_dir, &name)?;
        let data_start = entry.data_start().unwrap_or_else(|| entry.header_start());
        ranges.push((
            entry.header_start(),
            data_start.saturating_add(entry.compressed_size()),
            name.clone(),
        ));
        if !is_dir {
            plan.push((i, path, name, entry.size()));
        }
    }
    check_overlaps(&mut ranges)?;

    let mut tree = ManifestTree::new();
    let mut spooled = Vec::new();
    let mut total: u64 = 0;
    for (index, path, name, declared) in plan {
        let entry = archive.by_index(index).map_err(|e| match e {
            zip::result::ZipError::UnsupportedArchive(_) => Error::UnsupportedCompression {
                name: display_name(&name),
            },
            other => corrupt(other),
        })?;
        let size = entry.size();
        match spool {
            Some(spool) if !(spool.keep_in_memory)(&path, declared) => {
                let location = spool.dir.join(format!("entry-{index}"));
                let len = spool_capped(entry, &name, &mut total, limits, &location)?;
                spooled.push(SpooledFile {
                    path,
                    location,
                    len,
                });
            }
            _ => {
                let data = read_capped(entry, &name, size, &mut total, limits)?;
                tree.files.insert(path, data);
            }
        }
    }
    spooled.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((tree, spooled))
}

/// Scans the raw central-directory records for the first name that occurs twice.
fn duplicated_name<R: Read + Seek>(mut reader: R) -> Option<String> {
    const MAX_SCAN: u64 = 256 * 1024 * 1024;
    reader.seek(std::io::SeekFrom::Start(0)).ok()?;
    let mut bytes = Vec::new();
    reader.take(MAX_SCAN).read_to_end(&mut bytes).ok()?;
    let mut seen = BTreeSet::new();
    let mut pos = 0;
    while let Some(found) = bytes[pos..].windows(4).position(|w| w == b"PK\x01\x02") {
        let start = pos + found;
        let field = |at: usize| {
            bytes
                .get(start + at..start + at + 2)
                .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
        };
        let name_len = field(28)?;
        let name = bytes.get(start + 46..start + 46 + name_len)?;
        let name = String::from_utf8_lossy(name).into_owned();
        if !seen.insert(name.clone()) {
            return Some(name);
        }
        pos = start + 4;
    }
    None
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(corrupt)`
fn corrupt(e: zip::result::ZipError) -> Error {
    Error::CorruptArchive {
        detail: e.to_string(),
    }
}

fn entry_name(raw: &[u8]) -> Result<String, Error> {
    match std::str::from_utf8(raw) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(Error::NonUtf8Name {
            lossy: display_name(&String::from_utf8_lossy(raw)),
        }),
    }
}

/// Validates a relative path and returns it unchanged. Paths are rejected, never rewritten.
fn check_path(path: &str, original: &str, limits: &Limits) -> Result<String, Error> {
    let unsafe_path = || Error::UnsafePath {
        name: display_name(original),
    };
    if path.is_empty() || path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return Err(unsafe_path());
    }
    if path.len() > 1 && path.as_bytes()[1] == b':' {
        return Err(unsafe_path()); // a drive letter
    }
    let mut depth = 0;
    for component in path.split('/') {
        if component.is_empty() || component == "." || component == ".." {
            return Err(unsafe_path());
        }
        depth += 1;
    }
    if path.len() > limits.max_path_len || depth > limits.max_path_depth {
        return Err(Error::PathTooLong {
            name: display_name(original),
            max_len: limits.max_path_len,
            max_depth: limits.max_path_depth,
        });
    }
    Ok(path.to_owned())
}

/// Tracks files and directories to find duplicates and file/directory clashes.
#[derive(Default)]
struct PathSet {
    files: BTreeSet<String>,
    dirs: BTreeSet<String>,
    explicit_dirs: BTreeSet<String>,
}

impl PathSet {
    fn add(&mut self, path: &str, is_dir: bool, original: &str) -> Result<(), Error> {
        let dup = || Error::Duplicate {
            name: display_name(original),
        };
        if self.files.contains(path) {
            return Err(dup());
        }
        if is_dir {
            if !self.explicit_dirs.insert(path.to_owned()) {
                return Err(dup());
            }
            self.dirs.insert(path.to_owned());
        } else {
            if self.dirs.contains(path) {
                return Err(dup());
            }
            self.files.insert(path.to_owned());
        }
        // Every ancestor is a directory and must not be a file.
        let mut end = 0;
        while let Some(pos) = path[end..].find('/') {
            let ancestor = &path[..end + pos];
            if self.files.contains(ancestor) {
                return Err(dup());
            }
            self.dirs.insert(ancestor.to_owned());
            end += pos + 1;
        }
        Ok(())
    }
}

fn check_overlaps(ranges: &mut [(u64, u64, String)]) -> Result<(), Error> {
    ranges.sort_by_key(|r| r.0);
    for pair in ranges.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(Error::OverlappingEntries {
                name: display_name(&pair[1].2),
            });
        }
    }
    Ok(())
}

/// Reads one file, failing as soon as the per-file or the running total limit is passed.
fn read_capped(
    reader: impl Read,
    name: &str,
    size_hint: u64,
    total: &mut u64,
    limits: &Limits,
) -> Result<Vec<u8>, Error> {
    let remaining_total = limits.max_total_bytes.saturating_sub(*total);
    let cap = remaining_total.min(limits.max_entry_bytes);
    // The declared size is untrusted, but capped it is a good first allocation: growing by
    // doubling would reserve up to twice the file.
    let mut data = Vec::with_capacity(usize::try_from(size_hint.min(cap)).unwrap_or(0));
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| read_error(name, e))?;
    count_capped(name, data.len() as u64, total, limits)?;
    Ok(data)
}

/// [`read_capped`] into a new file at `location`; the number of bytes written.
fn spool_capped(
    mut reader: impl Read,
    name: &str,
    total: &mut u64,
    limits: &Limits,
    location: &Path,
) -> Result<u64, Error> {
    let cap = limits
        .max_total_bytes
        .saturating_sub(*total)
        .min(limits.max_entry_bytes);
    let mut file = std::fs::File::create_new(location).map_err(|e| Error::io("spool", e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut len: u64 = 0;
    while len <= cap {
        let n = reader.read(&mut buf).map_err(|e| read_error(name, e))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])
            .map_err(|e| Error::io("spool", e))?;
        len += n as u64;
    }
    count_capped(name, len, total, limits)?;
    Ok(len)
}

/// A failure while inflating an entry.
fn read_error(name: &str, e: std::io::Error) -> Error {
    if e.to_string().to_ascii_lowercase().contains("checksum") {
        return Error::CrcMismatch {
            name: display_name(name),
        };
    }
    if matches!(
        e.kind(),
        std::io::ErrorKind::Other
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::UnexpectedEof
    ) {
        return Error::CorruptArchive {
            detail: format!("{}: {e}", display_name(name)),
        };
    }
    Error::io(display_name(name), e)
}

/// Adds an entry's `len` to the running `total`, failing past the per-entry or total limit.
fn count_capped(name: &str, len: u64, total: &mut u64, limits: &Limits) -> Result<(), Error> {
    let remaining_total = limits.max_total_bytes.saturating_sub(*total);
    let cap = remaining_total.min(limits.max_entry_bytes);
    if len > cap {
        if len > remaining_total {
            return Err(Error::TooLarge {
                seen: *total + len,
                max: limits.max_total_bytes,
            });
        }
        return Err(Error::EntryTooLarge {
            name: display_name(name),
            max: limits.max_entry_bytes,
        });
    }
    *total += len;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields endless bytes and counts how many were pulled.
    struct Endless<'a>(&'a mut u64);

    impl Read for Endless<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            buf.fill(b'x');
            *self.0 += buf.len() as u64;
            Ok(buf.len())
        }
    }

    #[test]
    fn read_capped_stops_at_the_total_on_actual_bytes() {
        let limits = Limits {
            max_total_bytes: 10_000,
            max_entry_bytes: 1_000_000,
            ..Limits::default()
        };
        let mut pulled = 0;
        let mut total = 4_000;
        let err = read_capped(Endless(&mut pulled), "bomb", 0, &mut total, &limits).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { seen, max: 10_000 } if seen > 10_000),
            "{err:?}"
        );
        assert!(pulled < 64 * 1024, "read {pulled} bytes for a 6 KB budget");
    }

    #[test]
    fn read_capped_enforces_per_entry_limit_and_counts_total() {
        let limits = Limits {
            max_total_bytes: 10_000,
            max_entry_bytes: 100,
            ..Limits::default()
        };
        let mut total = 0;
        let data = read_capped(&b"0123456789"[..], "ok", 10, &mut total, &limits).unwrap();
        assert_eq!((data.len(), total), (10, 10));
        let mut pulled = 0;
        let err =
            read_capped(Endless(&mut pulled), "big", 1 << 40, &mut total, &limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Archive entry 'big' is larger than limit (100B)"
        );
    }

    #[test]
    fn paths_are_rejected_not_rewritten() {
        let limits = Limits::default();
        for bad in ["/a", "a/../b", "..", "a\\b", "./a", "a//b", "C:x", "a/./b"] {
            assert!(
                matches!(check_path(bad, bad, &limits), Err(Error::UnsafePath { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            check_path("a/b.yaml", "a/b.yaml", &limits).unwrap(),
            "a/b.yaml"
        );
    }
}
