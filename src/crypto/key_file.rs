//! Writing key files: new files only, readable by their owner only.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes a new key file, mode 0600, never over an existing one.
pub fn write_new(path: &Path, pem: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(pem)?;
    tracing::info!(path = %path.display(), "generated signing key");
    Ok(())
}
