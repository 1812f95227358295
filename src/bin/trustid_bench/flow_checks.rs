//! Issue 23's targets for completed authentications, judged against node's
//! full flows measured in the same session (`--compare-flows`: the JSON of
//! `../shared/peers/bench_ciba.py --phases c`, whose `c2_flows_loaded` is
//! node's flows/s at the same concurrency, device approving at once).

use super::report::{Check, Results, thousands};

/// Node's flows/s from a `bench_ciba.py` JSON.
pub fn node_flows(path: &std::path::Path) -> anyhow::Result<f64> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    json["c2_flows_loaded"]["rate_per_s"].as_f64().with_context(|| {
        format!(
            "{}: no c2_flows_loaded.rate_per_s (bench_ciba.py --phases c)",
            path.display()
        )
    })
}

pub fn checks(r: &Results) -> Vec<Check> {
    let mut out = Vec::new();
    let postgres = r.config["database"].as_str() == Some("postgres");
    let Some(load) = r.phase("flow_load") else {
        return out;
    };
    let factor = if postgres { 1.0 } else { 2.0 };
    let (target, met) = match r.config["node_flows_per_s"].as_f64() {
        Some(node) => (
            format!("≥ {factor} × node {} = {}", thousands(node), thousands(factor * node)),
            Some(load.rate_per_s >= factor * node),
        ),
        None => (
            format!("≥ {factor} × node's full flows side by side (--compare-flows NODE.json)"),
            None,
        ),
    };
    out.push(Check {
        what: "completed authentications/s".into(),
        value: thousands(load.rate_per_s),
        target,
        met,
    });
    if postgres {
        return out;
    }
    if let Some(p99) = load.latency.as_ref().map(|l| l.p99_ms) {
        out.push(Check {
            what: "completed authentications p99".into(),
            value: format!("{p99:.1} ms"),
            target: "< 50 ms".into(),
            met: Some(p99 < 50.0),
        });
    }
    if let Some(p50) = r.phase("flow_seq").and_then(|p| p.latency.as_ref()).map(|l| l.p50_ms) {
        out.push(Check {
            what: "one authentication alone, p50".into(),
            value: format!("{p50:.2} ms"),
            target: "< 2.5 ms".into(),
            met: Some(p50 < 2.5),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(database: &str, node: Option<f64>) -> Results {
        let phase = serde_json::json!({
            "name": "flow_load", "what": "", "ok_kind": "token", "concurrency": 32, "ok": 1,
            "rate_per_s": 1000.0, "latency": null, "counts": {}, "examples": [],
            "usage": {"elapsed_s": 1.0, "bench_cpu_cores": null, "server_cpu_cores": null,
                      "other_cpu_cores": null, "server_rss_peak_mib": null, "server_rss_end_mib": null}
        });
        let mut r = Results {
            phases: vec![serde_json::from_value(phase).unwrap()],
            ..Results::default()
        };
        r.config = serde_json::json!({"database": database, "node_flows_per_s": node});
        r
    }

    #[test]
    fn flows_are_judged_twice_node_on_sqlite_and_once_on_postgresql() {
        assert_eq!(checks(&results("sqlite", Some(600.0)))[0].met, Some(false));
        assert_eq!(checks(&results("sqlite", Some(400.0)))[0].met, Some(true));
        assert_eq!(checks(&results("postgres", Some(600.0)))[0].met, Some(true));
        assert_eq!(
            checks(&results("sqlite", None))[0].met,
            None,
            "no node run: shown, not judged"
        );
    }

    #[test]
    fn a_node_json_without_full_flows_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.json");
        std::fs::write(&path, r#"{"a_auth": {"rate_per_s": 1}}"#).unwrap();
        assert!(node_flows(&path).is_err());
        std::fs::write(&path, r#"{"c2_flows_loaded": {"rate_per_s": 660.2}}"#).unwrap();
        assert_eq!(node_flows(&path).unwrap(), 660.2);
    }
}
