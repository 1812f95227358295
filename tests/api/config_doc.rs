//! `docs/CONFIGURATION.md` matches the code: every setting of
//! `config::Settings` has a row with its variable and its default, and
//! every row is a setting. `trustid check-config` validates without
//! starting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

use crate::cli::trustid;

/// The reference table's rows: (setting, variable, default), as written.
fn documented() -> Vec<(String, String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CONFIGURATION.md")).unwrap();
    let unquote = |cell: &str| cell.trim().trim_matches('`').to_owned();
    doc.lines()
        .skip_while(|l| !l.starts_with("| setting |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
            (unquote(cells[0]), unquote(cells[1]), unquote(cells[3]))
        })
        .collect()
}

/// How the table writes a default.
fn written(default: &Value) -> String {
    match default {
        Value::Null => "unset".into(),
        Value::String(s) if s.is_empty() => "empty".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn the_configuration_reference_lists_every_setting_with_its_variable_and_default() {
    let defaults = serde_json::to_value(trustid::config::Settings::default()).unwrap();
    let defaults = defaults.as_object().unwrap();
    let rows = documented();
    let mut in_code: Vec<&str> = defaults.keys().map(String::as_str).collect();
    let mut in_doc: Vec<&str> = rows.iter().map(|(name, _, _)| name.as_str()).collect();
    in_code.sort_unstable();
    in_doc.sort_unstable();
    assert_eq!(in_doc, in_code, "docs/CONFIGURATION.md and config::Settings differ");
    for (name, variable, default) in &rows {
        assert_eq!(variable, &format!("TRUSTID_{}", name.to_ascii_uppercase()), "{name}");
        assert_eq!(default, &written(&defaults[name.as_str()]), "the default of {name}");
    }
}

#[test]
fn check_config_validates_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let ok = trustid(
        dir.path(),
        &["check-config", "--json"],
        &[("TRUSTID_ISSUER", "https://id.bank.example")],
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let seen: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(seen["issuer"], "https://id.bank.example");
    assert!(!dir.path().join("t.db").exists(), "nothing was created");
    assert!(!dir.path().join("keys").exists(), "nothing was created");

    let bad = trustid(
        dir.path(),
        &["check-config"],
        &[("TRUSTID_ISSUER", "http://id.bank.example")],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid setting `issuer`"));
    let file = dir.path().join("trustid.toml");
    std::fs::write(&file, "poll_interval = 0\n").unwrap();
    let bad = trustid(dir.path(), &["check-config", "--config", file.to_str().unwrap()], &[]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("poll_interval"));
    std::fs::write(&file, "fcm_service_account = \"missing.json\"\n").unwrap();
    let bad = trustid(dir.path(), &["check-config", "--config", file.to_str().unwrap()], &[]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("fcm_service_account"));
}
