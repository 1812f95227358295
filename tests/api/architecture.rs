//! The module layers of `src/`, and a test that holds the code to them.
//!
//! | layer   | modules                                   | may import                          |
//! |---------|-------------------------------------------|-------------------------------------|
//! | base    | `domain`, `clock`                         | nothing of the crate                |
//! | crypto  | `crypto`                                  | base                                |
//! | store   | `store`                                   | `domain`                            |
//! | engine  | `engine`                                  | base, `crypto`, `store`             |
//! | http    | `http` (what every face shares)           | base, `crypto`, `store`, `engine`   |
//! | faces   | `oidc`, `device_api`, `manage`, `ops`, `saml`, `console` | all of the above, never each other |
//! | client  | `device_cli` (the reference device)       | base, `crypto`                      |
//! | wiring  | `config`, `server`, `logging`, `refuse_nul`, `request_timeout`, `request_id`, `face`, `lib.rs`, binaries | anything |
//!
//! Only the wiring imports `config`: settings go down as values, each part
//! taking its own section. A module reaches another through `crate::NAME`
//! (in `use` lines, paths and macros) or a `super::` chain that climbs out of
//! its top-level module; both are read. Below the faces nothing imports
//! `axum`: the HTTP framework is the faces' business.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const BASE: &[&str] = &["domain", "clock"];

/// What each top-level module of `src/` may import, besides itself.
fn allowed() -> BTreeMap<&'static str, Vec<&'static str>> {
    let base = BASE.to_vec();
    let with = |extra: &[&'static str]| -> Vec<&'static str> { base.iter().chain(extra).copied().collect() };
    let face = with(&["crypto", "store", "engine", "http"]);
    BTreeMap::from([
        ("domain", vec![]),
        ("clock", vec![]),
        ("crypto", with(&[])),
        ("store", vec!["domain"]),
        ("engine", with(&["crypto", "store"])),
        ("http", with(&["crypto", "store", "engine"])),
        ("oidc", face.clone()),
        ("device_api", face.clone()),
        ("manage", face.clone()),
        ("ops", face.clone()),
        ("saml", face.clone()),
        ("console", face),
        ("device_cli", with(&["crypto"])),
    ])
}

/// The layers that must not name the HTTP framework.
const NO_AXUM: &[&str] = &["domain", "clock", "crypto", "store", "engine"];

/// The wiring: may import anything.
const WIRING: &[&str] = &[
    "config",
    "server",
    "logging",
    "refuse_nul",
    "request_timeout",
    "request_id",
    "face",
    "lib",
    "main",
    "main_tests",
    "bin",
];

#[test]
fn every_import_follows_the_layer_table() {
    let violations = violations(&src_dir());
    assert!(
        violations.is_empty(),
        "imports against the layer table (tests/api/architecture.rs):\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_module_of_src_is_in_the_layer_table() {
    let table = allowed();
    let unknown: Vec<String> = rust_files(&src_dir())
        .iter()
        .map(|f| owner(&src_dir(), f))
        .filter(|m| !table.contains_key(m.as_str()) && !WIRING.contains(&m.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(unknown.is_empty(), "modules missing from the layer table: {unknown:?}");
}

/// The check must be able to fail: an edge against the table, written in
/// each form the scanner reads, is caught.
#[test]
fn an_edge_against_the_table_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    write("domain/user.rs", "use crate::config::Settings;\n");
    write("store/mod.rs", "use crate::{domain::user::User, engine::AppState};\n");
    write(
        "engine/start.rs",
        "fn f() { crate::oidc::error::OAuthError::invalid_request(\"x\"); }\n",
    );
    write(
        "oidc/token.rs",
        "use crate::device_api::proof::Proven;\n// crate::manage in a comment is not an import\n",
    );
    write("http/x.rs", "macro_rules! m { () => { $crate::server::serve() }; }\n");
    write(
        "manage/ok.rs",
        "use crate::{domain, engine::AppState, http::ApiError};\n",
    );
    write(
        "engine/delivery/send.rs",
        "use super::super::super::oidc::error::OAuthError;\n",
    );
    write(
        "engine/delivery/ok.rs",
        "use super::super::AppState;\nmod tests {\n    use super::super::super::AppState;\n}\n",
    );
    write(
        "crypto/keys.rs",
        "use axum::body::Bytes;\nfn f() { crate::\n    config::load(); }\n",
    );
    let found = violations(dir.path());
    let expected = [
        "crypto/keys.rs: crypto -> axum",
        "crypto/keys.rs: crypto -> config",
        "domain/user.rs: domain -> config",
        "engine/delivery/send.rs: engine -> oidc",
        "engine/start.rs: engine -> oidc",
        "http/x.rs: http -> server",
        "oidc/token.rs: oidc -> device_api",
        "store/mod.rs: store -> engine",
    ];
    assert_eq!(found, expected, "{found:#?}");
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn violations(src: &Path) -> Vec<String> {
    let table = allowed();
    let mut out = Vec::new();
    for file in rust_files(src) {
        let from = owner(src, &file);
        if WIRING.contains(&from.as_str()) {
            continue;
        }
        let Some(allowed) = table.get(from.as_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let mut refs = crate_refs(&text);
        refs.extend(super_refs(&text, module_depth(src, &file)));
        if NO_AXUM.contains(&from.as_str()) && code_of(&text).contains("axum::") {
            refs.insert("axum".to_owned());
        }
        for to in refs {
            if to != from && !allowed.contains(&to.as_str()) {
                let rel = file.strip_prefix(src).unwrap().display().to_string();
                out.push(format!("{rel}: {from} -> {to}"));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The top-level module a file belongs to (`lib` and `main` for the roots).
fn owner(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level modules a file names through `crate::` (also `$crate::`
/// and the groups of `use crate::{a, b::c}`), comments left out.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let code = code_of(text);
    let mut refs = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = rest[at + "crate::".len()..].trim_start();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `mycrate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            refs.extend(group_heads(group));
        } else {
            refs.insert(ident(rest));
        }
    }
    refs.retain(|r| !r.is_empty() && r != "self");
    refs
}

/// The text without `//` comments (a `//` inside a string literal cuts the
/// rest of its line too: such a line is written with the path first).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How many `super::` steps lead from the file's module to the crate root:
/// `engine/delivery/owed.rs` is `engine::delivery::owed` (3), `engine/mod.rs`
/// is `engine` (1).
fn module_depth(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).unwrap();
    let parts = rel.components().count();
    if rel.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// The top-level modules reached by `super::` chains that climb to the root.
fn super_refs(text: &str, depth: usize) -> BTreeSet<String> {
    let code = code_of(text);
    let mut refs = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("super::") {
        let before = rest[..at].chars().next_back();
        // Inside an inline `mod name { ... }` (tests, a prelude) a chain
        // needs one step more to leave the file's module.
        let read = code.len() - rest.len() + at;
        let inline = usize::from(code[..read].split("mod ").skip(1).any(opens_block));
        rest = &rest[at..];
        let mut steps = 0;
        while let Some(next) = rest.strip_prefix("super::") {
            steps += 1;
            rest = next.trim_start();
        }
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if steps >= depth + inline {
            if let Some(group) = rest.strip_prefix('{') {
                refs.extend(group_heads(group));
            } else {
                refs.insert(ident(rest));
            }
        }
    }
    refs.retain(|r| !r.is_empty() && r != "self");
    refs
}

/// Whether text after `mod ` is `name {`: an inline module.
fn opens_block(after_mod: &str) -> bool {
    let name = ident(after_mod);
    !name.is_empty() && after_mod[name.len()..].trim_start().starts_with('{')
}

/// The first identifier of each item of a `{...}` group (nesting skipped).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && depth == 0 && (c.is_alphanumeric() || c == '_') => {
                heads.push(ident(&group[i..]));
                at_item_start = false;
            }
            _ => {}
        }
    }
    heads
}

fn ident(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}
