//! Writing key files: new files only, readable by their owner only, and
//! whole or not at all. Several instances may share one keys directory and
//! start together: a key file appears complete (written aside, then linked
//! into place) and the first instance's file is the one every instance keeps.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;

/// Writes a new key file, mode 0600, never over an existing one: an
/// existing file is an error (a rotation named twice).
pub fn write_new(path: &Path, pem: &[u8]) -> anyhow::Result<()> {
    match link_new(path, pem)? {
        true => Ok(()),
        false => anyhow::bail!("cannot create {}: it exists", path.display()),
    }
}

/// Writes the first key file of its kind unless another instance already
/// did: the file at `path` is then theirs, complete, and kept.
pub fn write_first(path: &Path, pem: &[u8]) -> anyhow::Result<()> {
    if !link_new(path, pem)? {
        tracing::info!(path = %path.display(), "another instance generated this key first; keeping it");
    }
    Ok(())
}

/// Writes `pem` to a file of its own beside `path`, synced, then links it
/// at `path` (atomic, never replacing). False when `path` existed.
fn link_new(path: &Path, pem: &[u8]) -> anyhow::Result<bool> {
    let aside = aside_of(path);
    let written = write_aside(&aside, pem).with_context(|| format!("cannot create {}", aside.display()));
    let linked = written.and_then(|()| match fs::hard_link(&aside, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    });
    let _ = fs::remove_file(&aside);
    if linked? {
        tracing::info!(path = %path.display(), "generated signing key");
        return Ok(true);
    }
    Ok(false)
}

/// A name no other writer uses (this process's id and a count of its
/// writes), which no key loader reads (not `*.pem`).
fn aside_of(path: &Path) -> PathBuf {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.partial", std::process::id()))
}

fn write_aside(aside: &Path, pem: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(aside)?;
    file.write_all(pem)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_file_is_kept_and_nothing_is_left_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("es256.pem");
        write_first(&path, b"first").unwrap();
        write_first(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        let err = write_new(&path, b"third").unwrap_err();
        assert!(err.to_string().contains("it exists"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["es256.pem"], "no partial file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
