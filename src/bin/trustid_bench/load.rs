//! Closed-loop load, latency percentiles, and CPU/RSS accounting from /proc.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Latency samples kept per worker and phase.
const MAX_SAMPLES: usize = 2_000_000;
/// Unexpected answers kept per worker, to show what went wrong.
const MAX_EXAMPLES: usize = 3;

/// What one worker saw.
#[derive(Default)]
pub struct Tally {
    pub lat_us: Vec<u32>,
    pub counts: BTreeMap<String, u64>,
    pub examples: Vec<String>,
}

impl Tally {
    pub fn count(&mut self, kind: &str) {
        match self.counts.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(kind.to_owned(), 1);
            }
        }
    }

    pub fn sample(&mut self, lat: Duration) {
        if self.lat_us.len() < MAX_SAMPLES {
            self.lat_us.push(lat.as_micros().min(u32::MAX as u128) as u32);
        }
    }

    pub fn example(&mut self, what: String) {
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(what);
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.lat_us.extend(other.lat_us);
        for (k, v) in other.counts {
            *self.counts.entry(k).or_default() += v;
        }
        for e in other.examples {
            self.example(e);
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

fn ms(us: u32) -> f64 {
    us as f64 / 1000.0
}

/// Nearest-rank percentiles of microsecond samples.
pub fn latency(mut v: Vec<u32>) -> Option<Latency> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let at = |p: f64| v[(((v.len() as f64) * p).ceil() as usize).clamp(1, v.len()) - 1];
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    Some(Latency {
        n: v.len(),
        p50_ms: ms(at(0.50)),
        p95_ms: ms(at(0.95)),
        p99_ms: ms(at(0.99)),
        mean_ms: (mean).round() / 1000.0,
        max_ms: ms(v[v.len() - 1]),
    })
}

/// CPU and memory over one phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Usage {
    pub elapsed_s: f64,
    /// Cores this bench process used (utime+stime from /proc/self/stat).
    pub bench_cpu_cores: Option<f64>,
    /// Cores the server used (/proc/PID/stat).
    pub server_cpu_cores: Option<f64>,
    /// Cores every other process used (from /proc/stat): noise.
    pub other_cpu_cores: Option<f64>,
    pub server_rss_peak_mib: Option<f64>,
    pub server_rss_end_mib: Option<f64>,
}

/// One measured phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub what: String,
    /// Which answers count as successes for `rate_per_s` and `latency`.
    pub ok_kind: String,
    pub concurrency: usize,
    pub ok: u64,
    pub rate_per_s: f64,
    pub latency: Option<Latency>,
    pub counts: BTreeMap<String, u64>,
    pub examples: Vec<String>,
    pub usage: Usage,
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn clk_tck() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process in ticks ("self" or a pid).
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// VmRSS of several processes (the instances of one server), summed; None
/// when there are none or one is gone.
pub fn rss_kib_sum(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| rss_kib(p)).sum()
}

/// utime + stime of several processes, summed.
fn cpu_ticks_sum(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| cpu_ticks(&p.to_string())).sum()
}

pub fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// (busy, total) ticks of the whole machine.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

/// Waits until processes other than this one and `pids` use less than
/// `threshold` cores (sampled over 1 s), for at most `max`. Returns the
/// seconds waited and the last reading.
pub async fn wait_idle(pids: &[u32], max: Duration, threshold: f64) -> (f64, f64) {
    let start = Instant::now();
    loop {
        let meter = Meter::start(pids);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let busy = meter.finish().await.other_cpu_cores.unwrap_or(0.0);
        if busy < threshold || start.elapsed() >= max {
            return (start.elapsed().as_secs_f64(), busy);
        }
    }
}

/// Measures a phase: CPU of the bench, the server and the rest, and the
/// server's peak RSS (sampled every 50 ms). A server of several instances
/// is measured as their sum.
pub struct Meter {
    start: Instant,
    bench0: Option<u64>,
    server0: Option<u64>,
    machine0: Option<(u64, u64)>,
    pids: Vec<u32>,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: Option<tokio::task::JoinHandle<()>>,
}

impl Meter {
    pub fn start(pids: &[u32]) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = (!pids.is_empty()).then(|| {
            let (peak, stop, pids) = (peak.clone(), stop.clone(), pids.to_vec());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = rss_kib_sum(&pids) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        });
        Self {
            start: Instant::now(),
            bench0: cpu_ticks("self"),
            server0: cpu_ticks_sum(pids),
            machine0: machine_ticks(),
            pids: pids.to_vec(),
            peak,
            stop,
            sampler,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub async fn finish(mut self) -> Usage {
        let elapsed = self.start.elapsed().as_secs_f64().max(1e-9);
        let tck = clk_tck();
        let bench = cpu_ticks("self").zip(self.bench0).map(|(b, a)| b.saturating_sub(a));
        let server = cpu_ticks_sum(&self.pids)
            .zip(self.server0)
            .map(|(b, a)| b.saturating_sub(a));
        let machine = machine_ticks()
            .zip(self.machine0)
            .map(|((b1, _), (b0, _))| b1.saturating_sub(b0));
        let cores = |ticks: u64| ((ticks as f64 / tck / elapsed) * 100.0).round() / 100.0;
        let other = machine.map(|m| cores(m.saturating_sub(bench.unwrap_or(0) + server.unwrap_or(0))));
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.await;
        }
        let end = rss_kib_sum(&self.pids);
        if let Some(kib) = end {
            self.peak.fetch_max(kib, Ordering::Relaxed);
        }
        let peak = self.peak.load(Ordering::Relaxed);
        Usage {
            elapsed_s: (elapsed * 1000.0).round() / 1000.0,
            bench_cpu_cores: bench.map(cores),
            server_cpu_cores: server.map(cores),
            other_cpu_cores: other,
            server_rss_peak_mib: (peak > 0).then(|| mib(peak)),
            server_rss_end_mib: end.map(mib),
        }
    }
}

/// What one operation reports: its kind, whether it counts, and when the
/// measured part began (after any pacing wait).
pub struct Done {
    pub kind: &'static str,
    pub ok: bool,
    pub started: Instant,
    pub example: Option<String>,
}

impl Done {
    pub fn new(kind: &'static str, ok: bool, started: Instant) -> Self {
        Self {
            kind,
            ok,
            started,
            example: None,
        }
    }
}

/// Bounds of a closed-loop run.
#[derive(Clone, Copy)]
pub struct Bounds {
    pub concurrency: usize,
    pub duration: Duration,
    pub max_ops: u64,
}

/// Runs `op` in `concurrency` loops until the time or the count is used up;
/// `op` gets the worker index and a sequence number unique across workers.
pub async fn closed_loop<F, Fut>(bounds: Bounds, op: F) -> Tally
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Done> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + bounds.duration;
    let mut workers = Vec::with_capacity(bounds.concurrency);
    for w in 0..bounds.concurrency {
        let (op, next) = (op.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= bounds.max_ops {
                    break;
                }
                let done = op(w, seq).await;
                tally.count(done.kind);
                if let Some(e) = done.example {
                    tally.example(e);
                }
                if done.ok {
                    tally.sample(done.started.elapsed());
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for w in workers {
        match w.await {
            Ok(t) => all.merge(t),
            Err(e) => all.example(format!("worker panicked: {e}")),
        }
    }
    all
}

/// Turns a tally and its usage into a phase.
pub fn phase(name: &str, what: &str, ok_kind: &str, concurrency: usize, tally: Tally, usage: Usage) -> Phase {
    let ok = tally.counts.get(ok_kind).copied().unwrap_or(0);
    Phase {
        name: name.to_owned(),
        what: what.to_owned(),
        ok_kind: ok_kind.to_owned(),
        concurrency,
        ok,
        rate_per_s: (ok as f64 / usage.elapsed_s.max(1e-9)).round(),
        latency: latency(tally.lat_us),
        counts: tally.counts,
        examples: tally.examples,
        usage,
        extra: BTreeMap::new(),
    }
}
