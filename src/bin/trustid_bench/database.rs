//! `--database postgres://…`: a fresh PostgreSQL database for one run,
//! created on the server the URL names and dropped after the run.

use anyhow::{Context, bail};
use sqlx::{Connection, Executor, PgConnection};

pub struct FreshDatabase {
    /// The URL given, on which the database is created and dropped.
    admin: String,
    name: String,
    /// The new database's URL, for the started servers.
    pub url: String,
}

impl FreshDatabase {
    pub async fn create(server: &str) -> anyhow::Result<Self> {
        let mut url = reqwest::Url::parse(server).context("--database is not a URL")?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            bail!("--database takes a postgres:// URL (SQLite is the default)");
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("trustid_bench_{}_{nanos}", std::process::id());
        let mut admin = PgConnection::connect(server)
            .await
            .with_context(|| format!("cannot connect to {}", redacted(server)))?;
        // The name is ours, made of [a-z0-9_]: nothing to quote.
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            admin: server.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    /// Drops the database, whatever the run left connected to it.
    pub async fn drop(self) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect(&self.admin).await?;
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await?;
        Ok(())
    }
}

/// A URL without its password, for messages.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}
