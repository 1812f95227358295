//! Online backups and restores of the SQLite file. A backup is SQLite's own
//! `VACUUM INTO` from one read transaction: a consistent copy of every
//! commit made before it began, taken while the server runs, synced and
//! checked (`PRAGMA integrity_check`) before it is reported. A restore
//! refuses while a server runs on the database: `serve` holds a shared lock
//! on `<file>.serving` for its whole life ([`ServingLock`]) and a restore
//! needs it exclusively. The file it replaces is kept beside it, never
//! deleted.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail, ensure};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

/// What a checked copy holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checked {
    pub file: PathBuf,
    pub bytes: u64,
    pub transactions: i64,
    pub schema_version: i64,
}

/// The database file a `sqlite://` URL names.
pub fn file_of(database_url: &str) -> anyhow::Result<PathBuf> {
    ensure!(
        database_url.starts_with("sqlite:"),
        "backup and restore copy a SQLite file; for PostgreSQL use pg_dump and pg_restore (docs/OPERATIONS.md)"
    );
    Ok(SqliteConnectOptions::from_str(database_url)?.get_filename().to_owned())
}

fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Held by `serve` while it runs: a restore cannot replace the file under it.
pub struct ServingLock {
    /// The lock lives as long as this open file.
    _held: File,
}

impl ServingLock {
    pub fn take(database_url: &str) -> anyhow::Result<Self> {
        let lock = sibling(&file_of(database_url)?, ".serving");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .with_context(|| format!("cannot open {}", lock.display()))?;
        file.lock_shared()
            .with_context(|| format!("cannot lock {}", lock.display()))?;
        Ok(Self { _held: file })
    }
}

/// The serving lock, taken exclusively: while it is held no `serve` runs
/// on the database (`doing` names the refused operation).
pub fn not_served(database_url: &str, doing: &str) -> anyhow::Result<File> {
    let file = file_of(database_url)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(sibling(&file, ".serving"))?;
    if lock.try_lock().is_err() {
        bail!(
            "a trustid server is running on {}: stop it before {doing} (nothing was changed)",
            file.display()
        );
    }
    Ok(lock)
}

/// Copies the database at `database_url` to `to` (which must not exist).
pub async fn backup(database_url: &str, to: &Path) -> anyhow::Result<Checked> {
    let from = file_of(database_url)?;
    ensure!(from.is_file(), "there is no database at {}", from.display());
    ensure!(!to.exists(), "{} exists already: name a new file", to.display());
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&from)).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(to.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot write {}", to.display()))?;
    conn.close().await?;
    File::open(to)?.sync_all()?;
    check(to).await
}

/// Replaces the database at `database_url` with the backup `from`; the file
/// it replaces is kept as `<file>.before-restore-<unix time>`.
pub async fn restore(database_url: &str, from: &Path, now: i64) -> anyhow::Result<Checked> {
    let to = file_of(database_url)?;
    check(from)
        .await
        .with_context(|| format!("{} is not a usable trustid backup", from.display()))?;
    let lock = not_served(database_url, "restoring")?;
    if to.exists() {
        let kept = sibling(&to, &format!(".before-restore-{now}"));
        // The write-ahead log belongs to the file it goes with.
        for suffix in ["-wal", "-shm"] {
            let part = sibling(&to, suffix);
            if part.exists() {
                std::fs::rename(&part, sibling(&kept, suffix))?;
            }
        }
        std::fs::rename(&to, &kept)?;
        tracing::info!(kept = %kept.display(), "the replaced database is kept");
    }
    let partial = sibling(&to, ".restoring");
    std::fs::copy(from, &partial)?;
    File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &to)?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    drop(lock);
    check(&to).await
}

/// Opens `file` read-only and checks it is a whole trustid database.
async fn check(file: &Path) -> anyhow::Result<Checked> {
    let options = SqliteConnectOptions::new().filename(file).read_only(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    ensure!(integrity == "ok", "integrity check failed: {integrity}");
    let schema_version: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await
            .context("no trustid schema in it")?;
    let transactions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transactions")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(Checked {
        file: file.to_owned(),
        bytes: std::fs::metadata(file)?.len(),
        transactions,
        schema_version,
    })
}
