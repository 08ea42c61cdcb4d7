//! File-system steps the store relies on for crash safety: atomic replace,
//! directory sync, and the writer's lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `bytes` so that a reader or a crash sees the old
/// contents or the new ones, never a mix: write a temporary file beside it,
/// sync it, rename it over, sync the directory. The temporary's name is
/// this process's and this call's own, created exclusively, so two writers
/// never write into one file (or into the file the other just renamed into
/// place, which someone may have mapped).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    // A bare file name's parent is "", which cannot be opened to sync.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut tmp_name = name.to_os_string();
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".{}.{call}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Leave no half-written temporary behind to take space on a full disk.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A file written beside `target` and renamed over it only once its
/// writer commits, so that what is read at `target` is always a whole,
/// checked file: a download that fails half way, or is refused, never
/// replaces the copy that was there. Dropped without [`Staged::commit`],
/// the temporary is removed.
#[derive(Debug)]
pub struct Staged {
    tmp: std::path::PathBuf,
    target: std::path::PathBuf,
    file: Option<File>,
    bytes: u64,
    crc: crc32fast::Hasher,
}

impl Staged {
    /// A new temporary beside `target` (named `<target>.<pid>.<n>.tmp`,
    /// created exclusively).
    pub fn create(target: &Path) -> io::Result<Self> {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
        let mut tmp_name = name.to_os_string();
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        tmp_name.push(format!(".{}.{call}.tmp", std::process::id()));
        let tmp = target.with_file_name(tmp_name);
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        Ok(Self {
            tmp,
            target: target.to_owned(),
            file: Some(file),
            bytes: 0,
            crc: crc32fast::Hasher::new(),
        })
    }

    /// The bytes written so far.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// The CRC-32 of what was written so far.
    pub fn crc32(&self) -> u32 {
        self.crc.clone().finalize()
    }

    /// Where the contents can be read back before committing (to check
    /// them).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Syncs the temporary and renames it over the target, then syncs the
    /// directory: from here on the target holds exactly what was written.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("already committed"))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.target)?;
        let dir = match self.target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        sync_dir(dir)
    }
}

impl Write for Staged {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("already committed"))?;
        let n = file.write(buf)?;
        let written = buf.get(..n).unwrap_or_default();
        self.crc.update(written);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Makes the directory's entries (a new or renamed file) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Takes the writer's exclusive lock on `path`, without waiting. `Ok(None)`
/// means another holder has it. The lock lives as long as the returned file
/// and is released by the kernel if the process dies.
pub(crate) fn try_lock(path: &Path) -> io::Result<Option<File>> {
    lock(path, false)
}

/// Takes an exclusive lock on `path`; with `wait`, blocks until it is free
/// (so `Ok(None)` only comes without `wait`).
pub(crate) fn lock(path: &Path, wait: bool) -> io::Result<Option<File>> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let how = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        let rc = loop {
            // SAFETY: flock only reads the descriptor, which `f` keeps open.
            let rc = unsafe { libc::flock(f.as_raw_fd(), how) };
            if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break rc;
            }
        };
        if rc != 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::WouldBlock {
                Ok(None)
            } else {
                Err(err)
            };
        }
    }
    Ok(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_staged_file_replaces_its_target_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("list.txt");
        fs::write(&p, b"old").unwrap();
        let mut staged = Staged::create(&p).unwrap();
        staged.write_all(b"new list").unwrap();
        assert_eq!(staged.len(), 8);
        assert_eq!(staged.crc32(), crc32fast::hash(b"new list"));
        assert_eq!(fs::read(staged.path()).unwrap(), b"new list");
        drop(staged);
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut staged = Staged::create(&p).unwrap();
        staged.write_all(b"new").unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let held = try_lock(&p).unwrap();
        assert!(held.is_some());
        assert!(try_lock(&p).unwrap().is_none());
        drop(held);
        assert!(try_lock(&p).unwrap().is_some());
    }
}
