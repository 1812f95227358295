//! SAML Web SSO end to end: a pysaml2 SP (`tests/saml-sp/sp.py`) loads
//! `/saml/metadata`, sends AuthnRequests over both bindings, a test device
//! approves or denies, and the SP parses the Response trustid's page posts.
//! The browser is played by reqwest (cookies by hand, no redirects
//! followed); `saml_browser` does it with Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod export;
mod flows;
mod lifecycle;
mod logout;
mod refusals;

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tempfile::TempDir;
use trustid::domain::saml_cert::{CertUse, SpCertificate};
use trustid::domain::saml_sp::{EntityId, SamlSpSettings, SignedParts};
use url::Url;

use crate::common::{TestApp, spawn_app};
use crate::saml_xml::python;

pub(crate) const SP_ENTITY: &str = "https://sp.example/saml";
pub(crate) const ACS: &str = "http://127.0.0.1:1/acs";

/// trustid with one registered SP, and the SP's files: trustid's metadata
/// as served, the SP's key and certificate.
pub(crate) struct Sso {
    pub app: TestApp,
    /// The SP's ACS: registered with trustid and told to pysaml2.
    acs: String,
    dir: TempDir,
}

/// What `sp.py authn` or `sp.py logout` printed.
pub(crate) struct Outgoing {
    pub request_id: String,
    pub url: String,
    pub form: Option<Vec<(String, String)>>,
}

impl Sso {
    /// `adjust` sees the SP's settings and the path of its certificate.
    pub async fn new(adjust: impl FnOnce(&mut SamlSpSettings, &SpCertificate)) -> Option<Self> {
        Self::with_acs(ACS, adjust).await
    }

    /// As [`Sso::new`], with the SP's ACS at `acs` (a real test SP).
    pub async fn with_acs(acs: &str, adjust: impl FnOnce(&mut SamlSpSettings, &SpCertificate)) -> Option<Self> {
        python()?;
        Self::on(spawn_app().await, acs, adjust).await
    }

    /// As [`Sso::new`], on a trustid started with its own settings.
    pub async fn on(app: TestApp, acs: &str, adjust: impl FnOnce(&mut SamlSpSettings, &SpCertificate)) -> Option<Self> {
        python()?;
        let dir = tempfile::tempdir().unwrap();
        let pem = String::from_utf8(trustid::crypto::saml_keys::generate_pem(app.clock_now()).unwrap()).unwrap();
        let at = pem.find("-----BEGIN CERTIFICATE").unwrap();
        std::fs::write(dir.path().join("sp-key.pem"), &pem[..at]).unwrap();
        std::fs::write(dir.path().join("sp-cert.pem"), &pem[at..]).unwrap();
        let cert = SpCertificate::parse(&pem[at..], CertUse::Signing).unwrap();
        let mut settings = SamlSpSettings::new(EntityId::parse(SP_ENTITY).unwrap(), Url::parse(acs).unwrap());
        settings.display_name = "Intranet & <Portal>".into();
        adjust(&mut settings, &cert);
        trustid::engine::saml_sps::add_saml_sp(app.store(), settings, true, app.clock_now())
            .await
            .unwrap();
        let metadata = app.http.get(app.url("/saml/metadata")).send().await.unwrap();
        assert_eq!(metadata.status(), 200);
        std::fs::write(dir.path().join("idp.xml"), metadata.text().await.unwrap()).unwrap();
        Some(Self {
            app,
            acs: acs.to_owned(),
            dir,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sp(&self, command: &str) -> Command {
        let mut cmd = Command::new(python().unwrap());
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/saml-sp/sp.py"))
            .arg(command)
            .arg("--idp-metadata")
            .arg(self.path("idp.xml"))
            .args(["--entity-id", SP_ENTITY, "--acs", &self.acs])
            .arg("--key")
            .arg(self.path("sp-key.pem"))
            .arg("--cert")
            .arg(self.path("sp-cert.pem"));
        cmd
    }

    fn outgoing(cmd: &mut Command) -> Outgoing {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "sp.py: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        Outgoing {
            request_id: v["request_id"].as_str().unwrap().to_owned(),
            url: v["url"].as_str().unwrap().to_owned(),
            form: v["form"].as_object().map(|f| {
                f.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect()
            }),
        }
    }

    /// An AuthnRequest from pysaml2 over `binding` (`redirect` or `post`).
    pub fn authn(&self, binding: &str, sign: bool) -> Outgoing {
        let mut cmd = self.sp("authn");
        cmd.args(["--binding", binding]);
        if sign {
            cmd.arg("--sign");
        }
        Self::outgoing(&mut cmd)
    }

    pub fn logout(&self, binding: &str, sign: bool, name_id: &str) -> Outgoing {
        let mut cmd = self.sp("logout");
        cmd.args(["--binding", binding, "--name-id", name_id]);
        if sign {
            cmd.arg("--sign");
        }
        Self::outgoing(&mut cmd)
    }

    /// The browser delivering `out` to trustid.
    pub async fn send(&self, out: &Outgoing) -> reqwest::Response {
        match &out.form {
            None => self.app.http.get(&out.url).send().await.unwrap(),
            Some(form) => self.app.http.post(&out.url).form(form).send().await.unwrap(),
        }
    }

    /// Whether `xmlsec1` verifies the signature on the element whose ID
    /// attribute is `id_attr` (e.g. `urn:...:assertion:Assertion`) with
    /// trustid's published certificate.
    pub async fn xmlsec1_verifies(&self, xml: &str, id_attr: &str) -> bool {
        let keys = self.app.state.keys.ready().await;
        let cert = crate::saml_xml::pem_of(&keys.saml().unwrap().published_certs()[0]);
        std::fs::write(self.path("idp-cert.pem"), cert).unwrap();
        std::fs::write(self.path("signed.xml"), xml).unwrap();
        let out = Command::new(crate::saml_xml::xmlsec1().unwrap())
            .arg("--verify")
            .arg("--pubkey-cert-pem")
            .arg(self.path("idp-cert.pem"))
            .arg("--id-attr:ID")
            .arg(id_attr)
            .args(["--enabled-reference-uris", "same-doc"])
            .arg(self.path("signed.xml"))
            .output()
            .unwrap();
        if !out.status.success() {
            println!("xmlsec1: {}", String::from_utf8_lossy(&out.stderr));
        }
        out.status.success()
    }

    /// pysaml2's reading of a posted Response: `Ok(parsed)` or `Err(why)`.
    pub fn parse(&self, response_b64: &str, request_id: Option<&str>, want: SignedParts) -> Result<Value, String> {
        let file = self.path("response.b64");
        std::fs::write(&file, response_b64).unwrap();
        let (response, assertions) = match want {
            SignedParts::Response => ("yes", "no"),
            SignedParts::Assertion => ("no", "yes"),
            SignedParts::Both => ("yes", "yes"),
        };
        let mut cmd = self.sp("parse");
        cmd.arg("--response-file").arg(&file).args([
            "--want-response-signed",
            response,
            "--want-assertions-signed",
            assertions,
        ]);
        if let Some(id) = request_id {
            cmd.args(["--in-response-to", id]);
        }
        let out = cmd.output().unwrap();
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// A page as the browser holds it: status, body, and the cookie it set.
pub(crate) struct Page {
    pub status: u16,
    pub html: String,
    pub cookie: Option<String>,
    pub location: Option<String>,
    pub csp: Option<String>,
}

impl Page {
    pub async fn from(res: reqwest::Response) -> Self {
        let header = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let cookie = header("set-cookie").map(|c| c.split(';').next().unwrap().to_owned());
        let (location, csp) = (header("location"), header("content-security-policy"));
        Self {
            status: res.status().as_u16(),
            cookie,
            location,
            csp,
            html: res.text().await.unwrap(),
        }
    }

    /// The `action` of the page's form.
    pub fn form_action(&self) -> String {
        unescape(&attr_after(&self.html, "<form method=\"post\" action=\"").unwrap())
    }

    /// The value of the hidden field `name`, if the page has it.
    pub fn field(&self, name: &str) -> Option<String> {
        attr_after(&self.html, &format!("name=\"{name}\" value=\"")).map(|v| unescape(&v))
    }
}

fn attr_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

fn unescape(v: &str) -> String {
    v.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The XML of a posted `SAMLResponse`.
pub(crate) fn decoded(response_b64: &str) -> String {
    String::from_utf8(STANDARD.decode(response_b64).unwrap()).unwrap()
}

/// Starts a login: the AuthnRequest, then the who-are-you form for `user`.
/// Returns the cookie and the wait URL.
pub(crate) async fn start_login(sso: &Sso, out: &Outgoing, user: &str) -> (String, String) {
    let page = Page::from(sso.send(out).await).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let cookie = page.cookie.clone().expect("the login sets its cookie");
    let res = sso
        .app
        .http
        .post(page.form_action())
        .header("cookie", &cookie)
        .form(&[("who", user)])
        .send()
        .await
        .unwrap();
    let named = Page::from(res).await;
    assert_eq!(named.status, 303, "{}", named.html);
    (cookie, named.location.unwrap())
}

/// The wait page as the browser with `cookie` sees it.
pub(crate) async fn wait_page(sso: &Sso, wait_url: &str, cookie: &str) -> Page {
    Page::from(
        sso.app
            .http
            .get(wait_url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap(),
    )
    .await
}
