//! A trustid server the bench starts: a fresh directory, a free loopback
//! port, `TRUSTID_*` settings, and the `trustid` CLI run with the same
//! settings to create clients, users and bindings.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

pub struct Server {
    bin: PathBuf,
    pub dir: PathBuf,
    pub base: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
    spawned_at: Instant,
    keep_dir: bool,
}

/// The `trustid` binary next to this one (target/release/trustid for a release bench).
pub fn default_bin() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find the bench's own path")?;
    let bin = me.with_file_name("trustid");
    if !bin.exists() {
        bail!(
            "{} does not exist: build it (cargo build --release --bins) or pass --server-bin",
            bin.display()
        );
    }
    Ok(bin)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// A fresh directory and settings; nothing runs yet.
    pub fn prepare(bin: PathBuf, poll_interval: i64, keep_dir: bool) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("trustid-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let huge = "1000000000".to_owned();
        let env = vec![
            ("TRUSTID_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("TRUSTID_ISSUER".into(), base.clone()),
            (
                "TRUSTID_DATABASE_URL".into(),
                format!("sqlite://{}", dir.join("trustid.db").display()),
            ),
            ("TRUSTID_KEYS_DIR".into(), dir.join("keys").display().to_string()),
            ("TRUSTID_DEV".into(), "true".into()),
            ("TRUSTID_USER_REQUESTS_PER_MINUTE".into(), huge.clone()),
            ("TRUSTID_CLIENT_REQUESTS_PER_MINUTE".into(), huge),
            ("TRUSTID_POLL_INTERVAL".into(), poll_interval.to_string()),
            // Pending requests must outlive the whole bench.
            ("TRUSTID_REQUEST_EXPIRY".into(), "1800".into()),
            ("TRUSTID_LOG".into(), "warn".into()),
        ];
        Ok(Self {
            bin,
            dir,
            base,
            env,
            child: None,
            spawned_at: Instant::now(),
            keep_dir,
        })
    }

    /// Another instance of this server: its own port and directory (for its
    /// log), the same settings otherwise — issuer, keys and database.
    pub fn sibling(&self) -> anyhow::Result<Self> {
        let port = free_port()?;
        let dir = self.dir.with_file_name(format!(
            "{}-{port}",
            self.dir.file_name().and_then(|n| n.to_str()).unwrap_or("trustid-bench")
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "TRUSTID_LISTEN");
        env.push(("TRUSTID_LISTEN".into(), format!("127.0.0.1:{port}")));
        Ok(Self {
            bin: self.bin.clone(),
            dir,
            base: format!("http://127.0.0.1:{port}"),
            env,
            child: None,
            spawned_at: Instant::now(),
            keep_dir: self.keep_dir,
        })
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Sets (or overrides) the server setting `name`.
    pub fn set(&mut self, name: &str, value: &str) {
        let key = format!("TRUSTID_{}", name.to_ascii_uppercase());
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.to_owned()));
    }

    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (k, _) in std::env::vars() {
            if k.starts_with("TRUSTID_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        cmd
    }

    /// Starts `trustid serve`; its stderr goes to `server.log` in the directory.
    pub fn spawn(&mut self) -> anyhow::Result<u32> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))?;
        let mut cmd = self.command();
        cmd.arg("serve").stdout(Stdio::null()).stderr(Stdio::from(log));
        self.spawned_at = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        let pid = child.id();
        self.child = Some(child);
        Ok(pid)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Polls discovery until it answers 200; returns the time since spawn.
    pub async fn wait_ready(&mut self, http: &reqwest::Client, timeout: Duration) -> anyhow::Result<Duration> {
        let url = format!("{}/.well-known/openid-configuration", self.base);
        loop {
            if let Ok(res) = http.get(&url).send().await
                && res.status().is_success()
            {
                return Ok(self.spawned_at.elapsed());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "trustid serve exited ({status}) before it was ready; see {}",
                    self.log_tail()
                );
            }
            if self.spawned_at.elapsed() > timeout {
                bail!(
                    "trustid serve was not ready within {timeout:?}; see {}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn log_tail(&self) -> String {
        let path = self.dir.join("server.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        format!(
            "{} ({})",
            path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )
    }

    /// SIGINT (graceful), then SIGKILL after 30 s (a server under valgrind
    /// needs the time to write its profile).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// SIGKILL: no drain and no flush; what the database holds is what survives.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Runs `trustid ARGS --json` with the server's settings; returns its JSON.
    pub fn cli(&self, args: &[String]) -> anyhow::Result<Value> {
        self.cli_input(args, None)
    }

    /// [`Self::cli`] with `input` on its standard input (a password: never an argument).
    pub fn cli_input(&self, args: &[String], input: Option<&str>) -> anyhow::Result<Value> {
        let mut cmd = self.command();
        cmd.args(args)
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            writeln!(stdin, "{text}")?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "trustid {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout).with_context(|| format!("trustid {} did not print JSON", args.join(" ")))
    }

    /// Runs many CLI commands, `parallel` at a time, keeping their order.
    pub fn cli_many(&self, jobs: &[Vec<String>], parallel: usize) -> anyhow::Result<Vec<Value>> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<anyhow::Result<Value>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..parallel.max(1) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let result = self.cli(job);
                        if let Ok(mut all) = results.lock() {
                            all[i] = Some(result);
                        }
                    }
                });
            }
        });
        let all = results
            .into_inner()
            .map_err(|_| anyhow::anyhow!("a CLI thread panicked"))?;
        all.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a CLI job did not run"))))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
