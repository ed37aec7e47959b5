//! Reading files out of image layers (tar, optionally gzip-compressed), applying them in order
//! with OCI whiteouts, under hard limits: a bundle image's `manifests/` + `metadata/`, or a
//! catalog image's configs directory.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use crate::error::CatalogError;
use crate::limits::CatalogLimits;
use crate::load::FileSet;

/// Counts the bytes read, failing past a limit; `exceeded` survives the error wrapping of the
/// decoders above it.
struct Counting<R> {
    inner: R,
    read: u64,
    limit: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.exceeded.set(true);
            return Err(std::io::Error::other("layer limit"));
        }
        Ok(n)
    }
}

/// Maps an I/O failure while reading a layer.
struct Errors {
    exceeded: Rc<Cell<bool>>,
    limit: u64,
}

impl Errors {
    fn map(&self, e: &std::io::Error) -> CatalogError {
        if self.exceeded.get() {
            CatalogError::limit("decompressed layer bytes", self.limit)
        } else {
            CatalogError::load("<layer>", format!("not a readable tar layer: {e}"))
        }
    }
}

/// Normalises an entry path (`./a/b` → `a/b`); `None` for paths that climb out.
fn clean(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Applies one layer to `files`, keeping regular files whose path starts with `prefix`
/// (`""` keeps all). Whiteouts in the layer delete from what lower layers put in `files`.
pub fn apply_layer<R: Read>(
    files: &mut FileSet,
    layer: R,
    prefix: &str,
    limits: &CatalogLimits,
) -> Result<(), CatalogError> {
    let exceeded = Rc::new(Cell::new(false));
    let errors = Errors {
        exceeded: Rc::clone(&exceeded),
        limit: limits.max_layer_bytes,
    };
    // Compressed and decompressed bytes are both bounded (the latter is what a bomb inflates).
    let mut raw = Counting {
        inner: layer,
        read: 0,
        limit: limits.max_layer_bytes,
        exceeded: Rc::clone(&exceeded),
    };
    let mut magic = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match raw.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(errors.map(&e)),
        }
    }
    let chained = std::io::Cursor::new(magic[..n].to_vec()).chain(raw);
    if n == 2 && magic == [0x1f, 0x8b] {
        let inflated = Counting {
            inner: flate2::read::GzDecoder::new(chained),
            read: 0,
            limit: limits.max_layer_bytes,
            exceeded,
        };
        read_tar(files, inflated, prefix, limits, &errors)
    } else {
        read_tar(files, chained, prefix, limits, &errors)
    }
}

fn read_tar<R: Read>(
    files: &mut FileSet,
    reader: R,
    prefix: &str,
    limits: &CatalogLimits,
    errors: &Errors,
) -> Result<(), CatalogError> {
    let mut archive = tar::Archive::new(reader);
    let mut added = FileSet::new();
    let mut deleted: Vec<String> = Vec::new();
    let mut opaque: Vec<String> = Vec::new();
    let entries = archive.entries().map_err(|e| errors.map(&e))?;
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_layer_entries {
            return Err(CatalogError::limit(
                "layer entries",
                limits.max_layer_entries as u64,
            ));
        }
        let mut entry = entry.map_err(|e| errors.map(&e))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(path) = clean(&raw) else { continue };
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
        if name == ".wh..wh..opq" {
            opaque.push(dir.to_owned());
            continue;
        }
        if let Some(target) = name.strip_prefix(".wh.") {
            deleted.push(if dir.is_empty() {
                target.to_owned()
            } else {
                format!("{dir}/{target}")
            });
            continue;
        }
        if !entry.header().entry_type().is_file() || !path.starts_with(prefix) {
            continue;
        }
        let size = entry.header().size().unwrap_or(0);
        if size > limits.max_file_bytes {
            return Err(CatalogError::limit(
                format!("file {path} in a layer"),
                limits.max_file_bytes,
            ));
        }
        if files.total_bytes() + added.total_bytes() + size > limits.max_total_bytes {
            return Err(CatalogError::limit(
                "bytes read from layers",
                limits.max_total_bytes,
            ));
        }
        let mut data = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
        entry
            .by_ref()
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut data)
            .map_err(|e| errors.map(&e))?;
        added.insert(path, data);
    }
    for dir in opaque {
        if dir.is_empty() {
            *files = FileSet::new();
        } else {
            files.remove_dir(&dir);
        }
    }
    for d in deleted {
        files.remove_dir(&d);
    }
    for (p, d) in added.iter() {
        files.insert(p, d.to_vec());
    }
    if files.len() > limits.max_files {
        return Err(CatalogError::limit(
            "files read from layers",
            limits.max_files as u64,
        ));
    }
    Ok(())
}

/// The bundle held by a bundle image's layer(s): `manifests/` and `metadata/`.
pub fn bundle_files_from_layers<R: Read>(
    layers: impl IntoIterator<Item = R>,
    limits: &CatalogLimits,
) -> Result<FileSet, CatalogError> {
    let mut files = FileSet::new();
    for layer in layers {
        apply_layer(&mut files, layer, "", limits)?;
    }
    let mut out = FileSet::new();
    for (p, d) in files.iter() {
        if p.starts_with("manifests/") || p.starts_with("metadata/") {
            out.insert(p, d.to_vec());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])], gzip: bool) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // Raw name bytes, so that hostile paths (`..`) can be forged too.
            h.as_old_mut().name[..p.len()].copy_from_slice(p.as_bytes());
            h.set_cksum();
            b.append(&h, *d).unwrap();
        }
        let tar = b.into_inner().unwrap();
        if gzip {
            manifest_bundle::package::gzip(&tar).unwrap()
        } else {
            tar
        }
    }

    #[test]
    fn layers_apply_in_order_with_whiteouts() {
        let l1 = tar_of(
            &[
                ("configs/a/catalog.json", b"1"),
                ("configs/b/catalog.json", b"2"),
                ("bin/opm", b"x"),
            ],
            true,
        );
        let l2 = tar_of(
            &[("configs/.wh.a", b""), ("./configs/c/catalog.json", b"3")],
            false,
        );
        let l3 = tar_of(
            &[
                ("configs/b/.wh..wh..opq", b""),
                ("configs/b/new.json", b"4"),
                ("../evil", b"!"),
            ],
            true,
        );
        let mut files = FileSet::new();
        for l in [&l1, &l2, &l3] {
            apply_layer(&mut files, &l[..], "configs/", &CatalogLimits::default()).unwrap();
        }
        let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["configs/b/new.json", "configs/c/catalog.json"]);
    }

    #[test]
    fn bombs_and_garbage_are_typed_errors() {
        let big = vec![0u8; 1 << 20];
        let layer = tar_of(&[("configs/x.json", &big)], true);
        let limits = CatalogLimits {
            max_layer_bytes: 64 * 1024,
            ..CatalogLimits::default()
        };
        let e = apply_layer(&mut FileSet::new(), &layer[..], "", &limits).unwrap_err();
        assert!(matches!(e, CatalogError::Limit { .. }), "{e}");
        let limits = CatalogLimits {
            max_file_bytes: 1000,
            ..CatalogLimits::default()
        };
        let e = apply_layer(&mut FileSet::new(), &layer[..], "", &limits).unwrap_err();
        assert!(matches!(e, CatalogError::Limit { .. }), "{e}");
        let e = apply_layer(
            &mut FileSet::new(),
            &b"\x1f\x8bnot gzip at all"[..],
            "",
            &CatalogLimits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, CatalogError::Load { .. }), "{e}");
    }
}
