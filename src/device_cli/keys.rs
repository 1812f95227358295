//! The reference device's two P-256 keys, kept in a local JSON file that only
//! its owner may read (mode 0600), and the two things it signs with them: the
//! device proof (device key) and the decision (auth key). The formats are the
//! ones of `crate::crypto::device_jws`; this side uses p256 directly.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A fresh P-256 key: 32 random bytes, drawn again in the rare case they
/// are not a valid scalar.
pub fn random_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

pub use crate::crypto::p256_jwk::public_jwk;

/// RFC 7638 thumbprint of `key`'s public JWK: the id trustid gives a device.
pub fn thumbprint(key: &SigningKey) -> String {
    let jwk = public_jwk(key);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap_or_default(),
        jwk["y"].as_str().unwrap_or_default()
    );
    sha256_b64(&canonical)
}

/// base64url SHA-256: `bm_hash` of the text shown.
pub fn sha256_b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// A compact ES256 JWS (raw `r || s` signature, RFC 7518 §3.4).
pub fn sign_jws(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Seconds since the epoch, by this machine's clock.
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// What the user said besides approve or deny.
#[derive(Default)]
pub struct Choice {
    /// A denial: the user did not start this request.
    pub fraud: bool,
    /// Number matching: the number the relying party shows, as the user typed it.
    pub number: Option<String>,
    /// Executive level: the salted hash of the identity document scanned.
    pub document_hash: Option<String>,
}

/// What the key file holds: private JWKs (with `d`) and where the device registered.
#[derive(Serialize, Deserialize)]
struct Stored {
    server: String,
    device_id: String,
    device_key: Value,
    auth_key: Value,
}

fn private_jwk(key: &SigningKey) -> Value {
    let mut jwk = public_jwk(key);
    jwk["d"] = Value::from(URL_SAFE_NO_PAD.encode(key.to_bytes()));
    jwk
}

fn from_private_jwk(jwk: &Value, name: &str) -> anyhow::Result<SigningKey> {
    let d = jwk["d"]
        .as_str()
        .and_then(|d| URL_SAFE_NO_PAD.decode(d).ok())
        .with_context(|| format!("{name} has no valid \"d\""))?;
    let key = SigningKey::from_slice(&d).map_err(|_| anyhow::anyhow!("{name} is not a P-256 private key"))?;
    if public_jwk(&key)["x"] != jwk["x"] || public_jwk(&key)["y"] != jwk["y"] {
        bail!("{name}: x and y do not belong to d");
    }
    Ok(key)
}

/// The device's keys and the server it registered with.
pub struct DeviceKeys {
    pub server: String,
    pub device_key: SigningKey,
    pub auth_key: SigningKey,
}

impl DeviceKeys {
    pub fn generate(server: &str) -> Self {
        Self {
            server: server.to_owned(),
            device_key: random_key(),
            auth_key: random_key(),
        }
    }

    pub fn device_id(&self) -> String {
        thumbprint(&self.device_key)
    }

    /// The `DPoP` header for `method` on `htu` (the URL without its query).
    pub fn proof(&self, method: &str, htu: &str) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(&self.device_key)});
        let payload = json!({"htm": method, "htu": htu, "iat": now_s(), "jti": random_jti()});
        sign_jws(&self.device_key, &header, &payload)
    }

    /// A decision over transaction `txn` with the inbox's `nonce`, signed with
    /// the auth key; `shown` is the exact text the user saw, `choice` what
    /// else the user said (fraud, the number typed).
    pub fn decision(&self, txn: &str, nonce: &str, decision: &str, shown: &str, choice: &Choice) -> String {
        let mut payload = json!({
            "txn": txn,
            "nonce": nonce,
            "decision": decision,
            "bm_hash": sha256_b64(shown),
            "iat": now_s(),
        });
        if choice.fraud {
            payload["reason"] = Value::from("fraud");
        }
        if let Some(number) = &choice.number {
            payload["number"] = Value::from(number.as_str());
        }
        if let Some(hash) = &choice.document_hash {
            payload["document_hash"] = Value::from(hash.as_str());
        }
        sign_jws(
            &self.auth_key,
            &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
            &payload,
        )
    }

    /// Reads a key file written by [`DeviceKeys::save`].
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the key file {} (run `trustid device register` first)",
                path.display()
            )
        })?;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {} is readable by others; run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
        let stored: Stored = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a trustid device key file", path.display()))?;
        let keys = Self {
            server: stored.server,
            device_key: from_private_jwk(&stored.device_key, "device_key")?,
            auth_key: from_private_jwk(&stored.auth_key, "auth_key")?,
        };
        if keys.device_id() != stored.device_id {
            bail!("{}: device_id does not match the device key", path.display());
        }
        Ok(keys)
    }

    /// Writes the keys to a new file beside `path`, readable only by its
    /// owner, and returns it; [`commit`] then puts it in place.
    pub fn save_pending(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let stored = Stored {
            server: self.server.clone(),
            device_id: self.device_id(),
            device_key: private_jwk(&self.device_key),
            auth_key: private_jwk(&self.auth_key),
        };
        let mut name = path.file_name().context("the key file needs a file name")?.to_owned();
        name.push(format!(".tmp-{}", random_jti()));
        let tmp = path.with_file_name(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let written = serde_json::to_vec_pretty(&stored)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(file.write_all(&bytes)?))
            .and_then(|()| Ok(file.sync_all()?));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.context(format!("cannot write {}", tmp.display())));
        }
        Ok(tmp)
    }
}

/// Puts a file written by [`DeviceKeys::save_pending`] at `path`: never over
/// an existing file unless `force`.
pub fn commit(tmp: &Path, path: &Path, force: bool) -> anyhow::Result<()> {
    let placed = if force {
        std::fs::rename(tmp, path)
    } else {
        // A hard link fails if `path` exists, atomically: no check-then-write race.
        std::fs::hard_link(tmp, path).and_then(|()| std::fs::remove_file(tmp))
    };
    placed.with_context(|| format!("cannot write the key file {}", path.display()))
}

/// Refuses early, before registering, to overwrite a key file.
pub fn check_absent(path: &Path, force: bool) -> anyhow::Result<()> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        bail!(
            "{} exists already; pass --force to replace it (its keys are lost), or --key-file to use another file",
            path.display()
        );
    }
    Ok(())
}
