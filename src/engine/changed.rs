//! What an operator's edit changed, for the audit trail: the names of the
//! members that differ, never their values (keys, certificates and URLs
//! are the client's or the provider's business).

use serde::Serialize;
use serde_json::Value;

/// The names of the members of `before` and `after` (serialised as JSON
/// objects) that differ, sorted; `nothing changed` when none does.
pub fn changed_members<T: Serialize>(before: &T, after: &T) -> String {
    let as_map = |v: &T| match serde_json::to_value(v) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (as_map(before), as_map(after));
    let mut names: Vec<&str> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        "nothing changed".into()
    } else {
        names.join(", ")
    }
}
