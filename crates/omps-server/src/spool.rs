//! Per-process working directories that survive nothing: uploads being received, archives
//! being extracted, releases being written. Each process claims its own directory under a
//! shared root and holds an exclusive lock on a file in it; at start-up every directory whose
//! lock is free belonged to a process that died (crash, `kill -9`) and is removed. Several
//! processes (replicas sharing a data directory) never touch each other's files.

use std::fs::File;
use std::path::{Path, PathBuf};

const LOCK: &str = "lock";
const PREFIX: &str = "instance-";

/// This process's directory under a root; removed when dropped.
#[derive(Debug)]
pub struct InstanceDir {
    dir: PathBuf,
    // Held for the life of the process: other processes see the directory as in use.
    _lock: File,
}

/// What start-up clean-up removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleanup {
    /// Directories of dead processes removed.
    pub directories: usize,
}

fn random_suffix() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

impl InstanceDir {
    /// Creates `root` if needed, removes the directories of dead processes, and claims a new
    /// directory for this one.
    pub fn claim(root: &Path) -> std::io::Result<(Self, Cleanup)> {
        std::fs::create_dir_all(root)?;
        let cleanup = remove_dead(root)?;
        loop {
            let dir = root.join(format!("{PREFIX}{}", random_suffix()));
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let lock = File::create(dir.join(LOCK))?;
            // A concurrent start-up may hold it while deciding whether the directory is dead;
            // it then removes it and this process picks another name.
            match try_lock(&lock) {
                // Between our create and our lock, another process may have found the lock free,
                // taken the directory for a dead one and removed it; our lock then holds an
                // unlinked file. Only a lock on the file still at that path claims the directory.
                Ok(true) if still_at(&lock, &dir.join(LOCK))? => {
                    return Ok((Self { dir, _lock: lock }, cleanup));
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A new temporary file in the directory, removed when dropped.
    pub fn tempfile(&self) -> std::io::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix("tmp-")
            .tempfile_in(&self.dir)
    }

    /// A new temporary directory in the directory, removed when dropped.
    pub fn tempdir(&self) -> std::io::Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("tmp-")
            .tempdir_in(&self.dir)
    }
}

impl Drop for InstanceDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Takes the exclusive lock of `file` if nobody holds it (`flock`, released when the process
/// ends however it ends).
fn try_lock(file: &File) -> std::io::Result<bool> {
    match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether `path` is the file `file` has open (not removed or replaced meanwhile).
fn still_at(file: &File, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt as _;
    let open = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(at) => Ok(at.dev() == open.dev() && at.ino() == open.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes every instance directory under `root` whose lock nobody holds (nothing when `root`
/// does not exist).
pub fn remove_dead(root: &Path) -> std::io::Result<Cleanup> {
    let mut cleanup = Cleanup::default();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cleanup),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) || !entry.file_type()?.is_dir() {
            continue;
        }
        let dir = entry.path();
        // A directory without its lock file is being created right now (or its creator died
        // before it could lock anything, leaving it empty): only the lock decides.
        let Ok(lock) = File::open(dir.join(LOCK)) else {
            continue;
        };
        // Another clean-up may have removed it between our open and our lock.
        if try_lock(&lock)? && still_at(&lock, &dir.join(LOCK))? {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => cleanup.directories += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(cleanup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_removed_between_create_and_lock_is_not_claimed() {
        let root = tempfile::tempdir().unwrap();
        // Another process's claim, stopped after creating its lock file but before locking it.
        let dir = root.path().join(format!("{PREFIX}racing"));
        std::fs::create_dir(&dir).unwrap();
        let lock = File::create(dir.join(LOCK)).unwrap();
        // A start-up clean-up now finds the lock free and removes the directory.
        assert_eq!(remove_dead(root.path()).unwrap().directories, 1);
        // The lock still succeeds (on the unlinked file), but it no longer claims anything.
        assert!(try_lock(&lock).unwrap());
        assert!(!still_at(&lock, &dir.join(LOCK)).unwrap());
        // A directory that stayed is claimed by its lock.
        let (claimed, _) = InstanceDir::claim(root.path()).unwrap();
        let held = File::open(claimed.path().join(LOCK)).unwrap();
        assert!(still_at(&held, &claimed.path().join(LOCK)).unwrap());
    }

    #[test]
    fn two_clean_ups_of_one_dead_directory_both_succeed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(format!("{PREFIX}dead"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(LOCK), b"").unwrap();
        // The second clean-up opened the lock file before the first removed the directory.
        let late = File::open(dir.join(LOCK)).unwrap();
        assert_eq!(remove_dead(root.path()).unwrap().directories, 1);
        assert!(try_lock(&late).unwrap());
        assert!(!still_at(&late, &dir.join(LOCK)).unwrap());
        assert_eq!(remove_dead(root.path()).unwrap().directories, 0);
    }

    #[test]
    fn dead_directories_are_removed_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let (live, first) = InstanceDir::claim(root.path()).unwrap();
        assert_eq!(first, Cleanup::default());
        let leftover = live.tempfile().unwrap().keep().unwrap().1;
        // A dead process: its directory and files stay, its lock is gone.
        let dead = root.path().join(format!("{PREFIX}dead"));
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK), b"").unwrap();
        std::fs::write(dead.join("tmp-upload"), b"half an upload").unwrap();

        let (second, cleanup) = InstanceDir::claim(root.path()).unwrap();
        assert_eq!(cleanup.directories, 1);
        assert!(!dead.exists());
        assert!(leftover.exists(), "a live process's files are kept");
        assert_ne!(second.path(), live.path());
        let path = live.path().to_owned();
        drop(live);
        assert!(!path.exists(), "removed on drop");
    }
}
