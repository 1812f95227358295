//! `openapi.yaml` is the contract: it lists exactly the paths and methods the
//! router serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;

use common::*;
use trustid::http::paths::ALL_PATHS;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// `(path, method)` pairs of the spec, read from its `paths:` block.
fn spec_operations() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    let mut ops = BTreeSet::new();
    let mut in_paths = false;
    let mut path = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!(
                "/{}",
                p.trim_end_matches(':').trim_matches('\'').trim_matches('"')
            ));
        } else if let Some(m) = line.strip_prefix("    ").and_then(|m| m.strip_suffix(':'))
            && METHODS.contains(&m)
        {
            ops.insert((path.clone().unwrap(), m.to_owned()));
        }
    }
    ops
}

/// `path` with each `{parameter}` filled in.
fn concrete_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&rest[..start]);
        out.push_str("some-id");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_spec_names_every_mounted_path_and_no_other() {
    let spec_paths: BTreeSet<String> = spec_operations().into_iter().map(|(p, _)| p).collect();
    let served: BTreeSet<String> = ALL_PATHS.iter().map(|p| p.to_string()).collect();
    assert_eq!(spec_paths, served);
}

#[tokio::test]
async fn documented_methods_are_served_and_undocumented_ones_are_not() {
    let app = spawn_app().await;
    let ops = spec_operations();
    for path in ALL_PATHS {
        let concrete = concrete_path(path);
        for method in METHODS {
            let req = app
                .http
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .header("content-type", "application/x-www-form-urlencoded");
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            // The router's own 404 has no body; a handler's 404 (no such
            // login, say) says what is missing.
            let routed = status != 404 || !res.bytes().await.unwrap().is_empty();
            if ops.contains(&(path.to_owned(), method.to_owned())) {
                assert!(
                    routed && status != 405,
                    "{method} {path} is documented but answered {status}"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is not documented but answered {status}");
            }
        }
    }
}
