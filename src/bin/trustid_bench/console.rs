//! The console phase (issue 19's figures): the admin console's pages read
//! one at a time, as an operator clicks, over a large history
//! (`console_rows.rs`); and the session a browser holds (`console_open.rs`
//! keeps one open during the backchannel phase).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;

use super::console_rows::History;
use super::load::{self, Bounds, Done, Meter, Phase, closed_loop};
use super::phases::Ctx;

/// The bench's admin: its password only ever reaches `trustid admin create`'s stdin.
pub const ADMIN_EMAIL: &str = "bench-admin@bench.example";

/// A signed-in console session, as a browser holds it.
#[derive(Clone)]
pub struct Admin {
    pub http: reqwest::Client,
    pub base: String,
    /// `trustid_admin=…`, as the browser sends it back.
    pub cookie: String,
}

impl Admin {
    /// `POST /admin/sign-in` from the issuer's origin; keeps the cookie.
    pub async fn sign_in(base: &str, password: &str) -> anyhow::Result<Self> {
        let http = super::ciba::http_client()?;
        let body = super::ciba::form(&[("email", ADMIN_EMAIL), ("password", password)]);
        let res = http
            .post(format!("{base}/admin/sign-in"))
            .header("origin", base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.contains("trustid_admin="))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        match cookie {
            Some(cookie) if res.status().is_redirection() => Ok(Self {
                http,
                base: base.to_owned(),
                cookie,
            }),
            _ => bail!("the console sign-in answered {} without a session", res.status()),
        }
    }

    /// GET a console path; the status and the page.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await?;
        let status = res.status().as_u16();
        Ok((status, res.text().await?))
    }
}

/// Rows a transactions page lists.
fn listed(page: &str) -> usize {
    page.matches("href=\"/admin/transactions/").count()
}

fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The kinds of request measured: name, what, and the paths it cycles through.
fn kinds(h: &History, clients: &[String]) -> Vec<(&'static str, String, Vec<String>)> {
    let pick = |n: usize, of: usize| (0..n).map(move |k| (k * 7919 + 13) % of.max(1));
    let busy = &clients[0];
    let ids = &h.sample_ids;
    let light = h.users.len() - 1;
    let mut users: Vec<String> = vec![format!("/admin/transactions?user={}", enc(&h.users[0]))];
    users.extend(pick(49, light).map(|u| format!("/admin/transactions?user={}", enc(&h.users[u + 1]))));
    vec![
        (
            "console_list",
            "GET /admin/transactions: the first page (50 newest)".into(),
            vec!["/admin/transactions".into()],
        ),
        (
            "console_filter",
            format!("GET /admin/transactions?status=denied&client=<the busiest client> ({busy})"),
            vec![format!("/admin/transactions?status=denied&client={}", enc(busy))],
        ),
        (
            "console_user",
            "GET /admin/transactions?user=U: the busiest user, then 49 others (skewed activity)".into(),
            users,
        ),
        (
            "console_device",
            "GET /admin/transactions?device=D over 50 devices".into(),
            pick(50, h.devices.len())
                .map(|d| format!("/admin/transactions?device={}", enc(&h.devices[d])))
                .collect(),
        ),
        (
            "console_day",
            format!(
                "GET /admin/transactions?from={0}&to={0}: the oldest full day",
                h.oldest_day
            ),
            vec![format!("/admin/transactions?from={0}&to={0}", h.oldest_day)],
        ),
        (
            "console_deep",
            "GET /admin/transactions?before=<id>: pages anywhere in the history".into(),
            pick(200, ids.len())
                .map(|i| format!("/admin/transactions?before={}", enc(&ids[i])))
                .collect(),
        ),
        (
            "console_detail",
            "GET /admin/transactions/{id}: the detail page and its timeline".into(),
            pick(200, ids.len())
                .map(|i| format!("/admin/transactions/{}", enc(&ids[i])))
                .collect(),
        ),
        (
            "console_dash",
            "GET /admin: the dashboard (counts of the last hour and day)".into(),
            vec!["/admin".into()],
        ),
        (
            "console_pending",
            "GET /admin/pending: the open requests".into(),
            vec!["/admin/pending".into()],
        ),
    ]
}

/// Each kind of console request, one at a time (an operator's clicks), for
/// at most `samples` requests or `bound` per kind.
pub async fn reads(
    ctx: &Arc<Ctx>,
    admin: &Admin,
    h: &History,
    clients: &[String],
    samples: usize,
    bound: Duration,
) -> Vec<Phase> {
    let mut out = Vec::new();
    for (name, what, paths) in kinds(h, clients) {
        super::log(&format!("console: {name} ..."));
        let first = admin.get(&paths[0]).await;
        let rows = match &first {
            Ok((200, page)) => Some(listed(page)),
            _ => None,
        };
        let paths = Arc::new(paths);
        let a = admin.clone();
        let meter = Meter::start(&ctx.pids);
        let bounds = Bounds {
            concurrency: 1,
            duration: bound,
            max_ops: samples as u64,
        };
        let tally = closed_loop(bounds, move |_, seq| {
            let (a, paths) = (a.clone(), paths.clone());
            async move {
                let path = &paths[(seq % paths.len() as u64) as usize];
                let started = Instant::now();
                match a.get(path).await {
                    Ok((200, _)) => Done::new("ok", true, started),
                    Ok((status, _)) => Done {
                        example: Some(format!("{path}: HTTP {status}")),
                        ..Done::new("http_other", false, started)
                    },
                    Err(e) => Done {
                        example: Some(e.to_string()),
                        ..Done::new("transport_error", false, started)
                    },
                }
            }
        })
        .await;
        let usage = meter.finish().await;
        let mut phase = load::phase(name, &what, "ok", 1, tally, usage);
        phase.extra.insert("rows".into(), json!(h.rows));
        if name != "console_detail" && name != "console_dash" {
            phase.extra.insert("listed_on_first_path".into(), json!(rows));
        }
        out.push(phase);
    }
    out
}
