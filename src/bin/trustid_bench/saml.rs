//! The SAML phase: SP-initiated logins one at a time, as a browser and a
//! phone make them. AuthnRequest (HTTP-Redirect, unsigned) → the
//! who-are-you form → the wait page's number → the device's inbox and
//! signed approval with that number → the wait page that carries the Response. Compared with `flow_seq` (the CIBA
//! flow), it shows what the SAML face adds.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::ciba;
use super::device::{now_s, random_b64};
use super::load::{self, Bounds, Done, Meter, Phase, Tally, closed_loop};
use super::phases::{Ctx, Phone};

/// The SP the bench registers; its ACS is never called (the bench reads the
/// posted form instead).
pub const SP_ENTITY_ID: &str = "https://bench-sp.example/saml";
pub const SP_ACS: &str = "http://127.0.0.1:9/acs";
pub const SP_NAME: &str = "Bench SP";

/// `trustid saml sps add` arguments for the bench's SP.
pub fn register_args() -> Vec<String> {
    [
        "saml",
        "sps",
        "add",
        "--entity-id",
        SP_ENTITY_ID,
        "--acs",
        SP_ACS,
        "--name",
        SP_NAME,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn authn_request_query(seq: u64) -> anyhow::Result<String> {
    let instant =
        time::OffsetDateTime::from_unix_timestamp(now_s())?.format(&time::format_description::well_known::Rfc3339)?;
    let xml = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_bench{seq}x{}" Version="2.0" IssueInstant="{instant}"><saml:Issuer>{SP_ENTITY_ID}</saml:Issuer></samlp:AuthnRequest>"#,
        random_b64().replace(['-', '_'], "0")
    );
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::default());
    deflate.write_all(xml.as_bytes())?;
    let request = STANDARD.encode(deflate.finish()?);
    Ok(form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLRequest", &request)
        .finish())
}

/// The text between `marker` and the next `"`, HTML entities of `&` undone.
fn attribute_after(html: &str, marker: &str) -> anyhow::Result<String> {
    let start = html.find(marker).context("marker not in the page")? + marker.len();
    let end = html[start..].find('"').context("unterminated attribute")?;
    Ok(html[start..start + end].replace("&amp;", "&"))
}

/// One login; `Ok(())` once the wait page holds the Response.
async fn login(http: &reqwest::Client, ctx: &Ctx, phone: &Phone, seq: u64) -> anyhow::Result<()> {
    let base = &ctx.ep.issuer;
    let res = http
        .get(format!("{base}/saml/sso?{}", authn_request_query(seq)?))
        .send()
        .await?;
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .context("the SSO page set no cookie")?;
    let page = res.text().await?;
    let action = attribute_after(&page, "<form method=\"post\" action=\"")?;
    let named = http
        .post(action)
        .header("cookie", &cookie)
        .form(&[("who", phone.user.as_str())])
        .send()
        .await?;
    if named.status() != 303 {
        bail!("the who-are-you form answered {}", named.status());
    }
    let wait = named
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("no wait page")?
        .to_owned();
    // The number the wait page shows, typed on the device.
    let waiting = http.get(&wait).header("cookie", &cookie).send().await?.text().await?;
    let number = waiting
        .split("id=\"saml-number\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .context("the wait page shows no number")?;
    let shown = format!("Sign in to {SP_NAME}");
    ciba::approve(http, ciba::At::issuer(base), &phone.device, &shown, Some(number)).await?;
    let answered = http.get(&wait).header("cookie", &cookie).send().await?.text().await?;
    if !answered.contains("name=\"SAMLResponse\"") {
        bail!("the wait page holds no Response");
    }
    Ok(())
}

/// Sequential SAML logins by `phone`, at most `samples`, within `max`.
pub async fn logins(ctx: &std::sync::Arc<Ctx>, phone: Phone, samples: usize, max: Duration) -> Phase {
    let name = "saml_seq";
    let what = "AuthnRequest → who-are-you form → wait page → inbox → signed approval → posted Response, one at a time";
    let http = match ciba::http_client() {
        Ok(http) => http,
        Err(e) => {
            let mut t = Tally::default();
            t.example(e.to_string());
            return load::phase(name, what, "response", 0, t, Default::default());
        }
    };
    let meter = Meter::start(&ctx.pids);
    let (c, phone) = (ctx.clone(), std::sync::Arc::new(phone));
    let bounds = Bounds {
        concurrency: 1,
        duration: max,
        max_ops: samples as u64,
    };
    let tally = closed_loop(bounds, move |_, seq| {
        let (http, c, phone) = (http.clone(), c.clone(), phone.clone());
        async move {
            let started = Instant::now();
            match login(&http, &c, &phone, seq).await {
                Ok(()) => Done::new("response", true, started),
                Err(e) => Done {
                    example: Some(e.to_string()),
                    ..Done::new("failed", false, started)
                },
            }
        }
    })
    .await;
    let usage = meter.finish().await;
    load::phase(name, what, "response", 1, tally, usage)
}
