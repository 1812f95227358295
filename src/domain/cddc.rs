//! Seed 001's CDDC evidence (client device data collection): what a
//! relying party's web page read of the browser. Registration keeps it as
//! evidence; adaptive rules compare its fingerprint with the user's earlier
//! ones.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `cddc` as the seeds send it: `{"browserCDDC": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cddc {
    #[serde(rename = "browserCDDC")]
    pub browser_cddc: Option<BrowserCddc>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BrowserCddc {
    pub fingerprint_raw: Option<String>,
    pub fingerprint_hash: Option<String>,
}

impl Cddc {
    /// The browser's fingerprint as rules compare it: the hash the page
    /// computed, else the SHA-256 (hex) of the raw fingerprint.
    pub fn fingerprint(&self) -> Option<String> {
        let browser = self.browser_cddc.as_ref()?;
        if let Some(hash) = browser
            .fingerprint_hash
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            return Some(hash.to_owned());
        }
        let raw = browser.fingerprint_raw.as_deref().filter(|r| !r.is_empty())?;
        Some(
            Sha256::digest(raw.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cddc(raw: Option<&str>, hash: Option<&str>) -> Cddc {
        Cddc {
            browser_cddc: Some(BrowserCddc {
                fingerprint_raw: raw.map(str::to_owned),
                fingerprint_hash: hash.map(str::to_owned),
            }),
        }
    }

    #[test]
    fn the_hash_is_the_fingerprint_else_the_raw_value_hashed() {
        assert_eq!(cddc(Some("raw"), Some("abc")).fingerprint().as_deref(), Some("abc"));
        let hashed = cddc(Some("raw"), None).fingerprint().unwrap();
        assert_eq!(hashed.len(), 64);
        assert_eq!(cddc(Some("raw"), Some(" ")).fingerprint(), Some(hashed));
        assert_eq!(cddc(None, None).fingerprint(), None);
        assert_eq!(Cddc { browser_cddc: None }.fingerprint(), None);
    }
}
