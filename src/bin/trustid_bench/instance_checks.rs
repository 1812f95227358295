//! Issue 23's targets for several instances on one PostgreSQL: the pair's
//! rate on each phase at least one instance's (`--compare-single`: a
//! results.json of one instance on the same database, same session), no
//! auth_req_id redeemed twice and no ping sent twice — counted by the
//! flows and ping phases, never assumed.

use super::report::{Check, Results, thousands};

/// The phases whose rates the pair is judged on.
const JUDGED: [&str; 4] = ["backchannel", "polls", "flow_load", "trivial"];

/// What several instances cannot run: another server than the ones the
/// bench starts, SQLite (one process owns the file), or the phases that
/// restart one server.
pub fn refuse(instances: usize, database: bool, target: bool, chosen: &[String]) -> anyhow::Result<()> {
    if instances <= 1 {
        return Ok(());
    }
    anyhow::ensure!(
        database && !target,
        "--instances {instances} shares one PostgreSQL database between started servers: give --database"
    );
    let restarts = ["console", "console_open", "startup"];
    match chosen.iter().find(|c| restarts.contains(&c.as_str())) {
        Some(phase) => anyhow::bail!("--instances {instances} cannot run `{phase}`: it restarts one server"),
        None => Ok(()),
    }
}

/// `{phase: rate}` of one instance's results.json, for `config.single_instance`.
pub fn single_rates(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let single = super::report::load(path)?;
    anyhow::ensure!(
        single.config["instances"].as_u64().unwrap_or(1) == 1,
        "{}: not a run of one instance",
        path.display()
    );
    let rates: serde_json::Map<String, serde_json::Value> = JUDGED
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), single.phase(name)?.rate_per_s.into())))
        .collect();
    anyhow::ensure!(!rates.is_empty(), "{}: none of {JUDGED:?} was run", path.display());
    Ok(rates.into())
}

/// What no run may show, whatever its figures: an auth_req_id redeemed
/// twice or a ping sent twice. The bench fails on any.
pub fn violations(r: &Results) -> Vec<String> {
    let twice = r
        .phases
        .iter()
        .filter_map(|p| p.counts.get("redeemed_twice"))
        .sum::<u64>();
    let pings = r
        .phases
        .iter()
        .filter_map(|p| p.extra.get("duplicate_pings")?.as_u64())
        .sum::<u64>();
    let mut out = Vec::new();
    if twice > 0 {
        out.push(format!("{twice} auth_req_id(s) redeemed twice"));
    }
    if pings > 0 {
        out.push(format!("{pings} ping(s) sent twice"));
    }
    out
}

pub fn checks(r: &Results) -> Vec<Check> {
    let mut out = Vec::new();
    let instances = r.config["instances"].as_u64().unwrap_or(1);
    if instances < 2 {
        return out;
    }
    for name in JUDGED {
        let Some(pair) = r.phase(name) else { continue };
        let (target, met) = match r.config["single_instance"][name].as_f64() {
            Some(one) => (
                format!("≥ one instance's {}", thousands(one)),
                Some(pair.rate_per_s >= one),
            ),
            None => ("≥ one instance's (--compare-single ONE.json)".into(), None),
        };
        out.push(Check {
            what: format!("{instances} instances: {name}/s"),
            value: thousands(pair.rate_per_s),
            target,
            met,
        });
    }
    if let Some(flows) = r.phase("flow_load") {
        let twice = flows.counts.get("redeemed_twice").copied().unwrap_or(0);
        out.push(Check {
            what: format!("auth_req_ids redeemed twice ({} raced)", thousands(flows.ok as f64)),
            value: twice.to_string(),
            target: "0".into(),
            met: Some(twice == 0),
        });
    }
    if let Some(ping) = r.phase("ping") {
        let duplicates = ping.extra.get("duplicate_pings").and_then(|v| v.as_u64());
        let sent = ping.counts.get("ping").copied().unwrap_or(0);
        out.push(Check {
            what: format!("pings sent twice (of {sent})"),
            value: duplicates.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            target: "0".into(),
            met: duplicates.map(|d| d == 0),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(name: &str, rate: f64, counts: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "name": name, "what": "", "ok_kind": "ok", "concurrency": 32, "ok": 10,
            "rate_per_s": rate, "latency": null, "counts": counts, "examples": [], "extra": extra,
            "usage": {"elapsed_s": 1.0, "bench_cpu_cores": null, "server_cpu_cores": null,
                      "other_cpu_cores": null, "server_rss_peak_mib": null, "server_rss_end_mib": null}
        })
    }

    fn pair(twice: u64, duplicates: u64) -> Results {
        let phases = vec![
            phase("backchannel", 1000.0, serde_json::json!({}), serde_json::json!({})),
            phase(
                "flow_load",
                300.0,
                serde_json::json!({"token": 10, "redeemed_twice": twice}),
                serde_json::json!({}),
            ),
            phase(
                "ping",
                50.0,
                serde_json::json!({"ping": 10}),
                serde_json::json!({"duplicate_pings": duplicates}),
            ),
        ];
        let mut r = Results {
            phases: phases.into_iter().map(|p| serde_json::from_value(p).unwrap()).collect(),
            ..Results::default()
        };
        r.config = serde_json::json!({"instances": 2, "single_instance": {"backchannel": 900.0, "flow_load": 350.0}});
        r
    }

    fn met(checks: &[Check], what: &str) -> Option<bool> {
        checks.iter().find(|c| c.what.contains(what)).and_then(|c| c.met)
    }

    #[test]
    fn the_pair_is_judged_against_one_instance_and_counts_no_double_redemption_or_ping() {
        let clean = checks(&pair(0, 0));
        assert_eq!(met(&clean, "backchannel"), Some(true));
        assert_eq!(met(&clean, "flow_load"), Some(false), "300 < 350");
        assert_eq!(met(&clean, "redeemed twice"), Some(true));
        assert_eq!(met(&clean, "pings sent twice"), Some(true));
        let broken = checks(&pair(1, 2));
        assert_eq!(met(&broken, "redeemed twice"), Some(false));
        assert_eq!(met(&broken, "pings sent twice"), Some(false));
        assert!(violations(&pair(0, 0)).is_empty());
        assert_eq!(
            violations(&pair(1, 2)),
            ["1 auth_req_id(s) redeemed twice", "2 ping(s) sent twice"]
        );
    }

    #[test]
    fn several_instances_need_a_started_postgresql_and_no_restarting_phase() {
        let phases = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let flows = phases(&["flows", "polls"]);
        assert!(
            refuse(1, false, true, &phases(&["startup"])).is_ok(),
            "one instance: anything"
        );
        assert!(refuse(2, true, false, &flows).is_ok());
        let sqlite = refuse(2, false, false, &flows).unwrap_err().to_string();
        assert!(sqlite.contains("give --database"), "{sqlite}");
        assert!(refuse(2, true, true, &flows).is_err(), "a target server");
        let restart = refuse(2, true, false, &phases(&["flows", "console"]))
            .unwrap_err()
            .to_string();
        assert!(restart.contains("`console`"), "{restart}");
    }

    #[test]
    fn a_single_run_must_be_of_one_instance_and_hold_a_judged_phase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.json");
        let mut one = pair(0, 0);
        one.config = serde_json::json!({"instances": 1});
        std::fs::write(&path, serde_json::to_string(&one).unwrap()).unwrap();
        let rates = single_rates(&path).unwrap();
        assert_eq!(rates["backchannel"], 1000.0);
        assert_eq!(rates["flow_load"], 300.0);
        one.config = serde_json::json!({"instances": 2});
        std::fs::write(&path, serde_json::to_string(&one).unwrap()).unwrap();
        assert!(
            single_rates(&path)
                .unwrap_err()
                .to_string()
                .contains("not a run of one instance")
        );
        one.config = serde_json::json!({"instances": 1});
        one.phases.retain(|p| p.name == "ping");
        std::fs::write(&path, serde_json::to_string(&one).unwrap()).unwrap();
        assert!(single_rates(&path).unwrap_err().to_string().contains("was run"));
    }

    #[test]
    fn one_instance_is_not_judged_here() {
        let mut r = pair(1, 1);
        r.config["instances"] = 1.into();
        assert!(checks(&r).is_empty());
    }
}
