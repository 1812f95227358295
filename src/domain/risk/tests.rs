use serde_json::json;

use super::*;

fn facts() -> Facts {
    Facts {
        action: "payment".into(),
        custom_data: json!({"amount": 1500, "currency": "EUR", "payee": {"new": true}}),
        user_status: UserStatus::Active,
        device_count: 2,
        newest_device_age: Some(3_600),
        failed_attempts: 1,
        velocities: vec![
            Velocity {
                per: Per::User,
                window: 600,
                count: 4,
            },
            Velocity {
                per: Per::Address,
                window: 60,
                count: 0,
            },
        ],
        new_fingerprint: true,
        new_address: false,
        minute_of_day: 23 * 60 + 30,
    }
}

fn condition(text: serde_json::Value) -> Condition {
    serde_json::from_value(text.clone()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn each_condition_holds_or_not_on_the_facts() {
    let cases = [
        (json!({"type": "action", "any_of": ["signIn", "payment"]}), true),
        (json!({"type": "action", "any_of": ["signIn"]}), false),
        (
            json!({"type": "custom_data", "field": "amount", "op": "gt", "value": 1000}),
            true,
        ),
        (
            json!({"type": "custom_data", "field": "amount", "op": "le", "value": 1000}),
            false,
        ),
        (
            json!({"type": "custom_data", "field": "currency", "op": "eq", "value": "EUR"}),
            true,
        ),
        (
            json!({"type": "custom_data", "field": "currency", "op": "ne", "value": "EUR"}),
            false,
        ),
        (
            json!({"type": "custom_data", "field": "currency", "op": "gt", "value": "A"}),
            false,
        ),
        (
            json!({"type": "custom_data", "field": "payee.new", "op": "eq", "value": true}),
            true,
        ),
        (
            json!({"type": "custom_data", "field": "missing", "op": "ne", "value": 1}),
            false,
        ),
        (json!({"type": "user_status", "any_of": ["active"]}), true),
        (json!({"type": "user_status", "any_of": ["locked"]}), false),
        (json!({"type": "device_count", "op": "ge", "value": 2}), true),
        (json!({"type": "device_count", "op": "lt", "value": 2}), false),
        (json!({"type": "device_age", "op": "lt", "value": 86400}), true),
        (json!({"type": "device_age", "op": "gt", "value": 86400}), false),
        (json!({"type": "failed_attempts", "op": "eq", "value": 1}), true),
        (json!({"type": "failed_attempts", "op": "gt", "value": 2}), false),
        (
            json!({"type": "velocity", "per": "user", "window": 600, "op": "ge", "value": 4}),
            true,
        ),
        (
            json!({"type": "velocity", "per": "user", "window": 600, "op": "gt", "value": 4}),
            false,
        ),
        (
            json!({"type": "velocity", "per": "address", "window": 60, "op": "eq", "value": 0}),
            true,
        ),
        (
            json!({"type": "velocity", "per": "address", "window": 3600, "op": "eq", "value": 0}),
            false,
        ),
        (json!({"type": "new_fingerprint"}), true),
        (json!({"type": "new_address"}), false),
        (json!({"type": "time_of_day", "from": "22:00", "to": "06:00"}), true),
        (json!({"type": "time_of_day", "from": "08:00", "to": "23:30"}), false),
        (json!({"type": "time_of_day", "from": "23:00", "to": "23:59"}), true),
    ];
    let facts = facts();
    for (text, want) in cases {
        let rule = Rule {
            name: "r".into(),
            conditions: vec![condition(text.clone())],
            outcome: Outcome::Block,
            applies_to: vec![Point::Action],
            executive: false,
        };
        assert_eq!(rule.holds(&facts), want, "{text}");
    }
    let mut no_device = facts.clone();
    no_device.newest_device_age = None;
    let age = condition(json!({"type": "device_age", "op": "lt", "value": 86400}));
    assert!(!condition_holds(&age, &no_device), "no device, no age");
}

#[test]
fn the_first_rule_that_applies_and_holds_decides_and_none_means_allow() {
    let rules: Vec<Rule> = serde_json::from_value(json!([
        {"name": "night logins", "conditions": [{"type": "action", "any_of": ["signIn"]}], "outcome": "BLOCK"},
        {"name": "big payments", "conditions": [{"type": "custom_data", "field": "amount", "op": "gt", "value": 1000}],
         "outcome": "CHALLENGE_REQUIRED"},
        {"name": "everything", "outcome": "BLOCK", "applies_to": ["action", "backchannel"]},
    ]))
    .unwrap();
    let facts = facts();
    let verdict = evaluate(&rules, Point::Action, &facts);
    assert_eq!(verdict.outcome, Outcome::ChallengeRequired);
    assert_eq!(verdict.rule.as_deref(), Some("big payments"));
    let verdict = evaluate(&rules, Point::Backchannel, &facts);
    assert_eq!(
        (verdict.outcome, verdict.rule.as_deref()),
        (Outcome::Block, Some("everything")),
        "only rules applying at the backchannel"
    );
    let verdict = evaluate(&rules[..1], Point::Action, &facts);
    assert_eq!((verdict.outcome, verdict.rule), (Outcome::Allow, None));
    let executive: Rule =
        serde_json::from_value(json!({"name": "e", "outcome": "CHALLENGE_REQUIRED", "executive": true})).unwrap();
    assert!(executive.validate().is_ok());
    assert!(evaluate([&executive], Point::Action, &facts).executive);
    assert_eq!(
        velocities(
            &serde_json::from_value::<Vec<Rule>>(json!([
                {"name": "a", "outcome": "BLOCK", "conditions": [
                    {"type": "velocity", "per": "user", "window": 60, "op": "gt", "value": 3},
                    {"type": "velocity", "per": "user", "window": 60, "op": "gt", "value": 5},
                    {"type": "velocity", "per": "address", "window": 60, "op": "gt", "value": 5}]}
            ]))
            .unwrap()
        ),
        vec![(Per::User, 60), (Per::Address, 60)],
        "each count read once"
    );
}

#[test]
fn rules_that_cannot_work_are_refused_with_a_reason() {
    let bad = [
        json!({"name": "", "outcome": "BLOCK"}),
        json!({"name": "x", "outcome": "BLOCK", "applies_to": []}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "action", "any_of": []}]}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "user_status", "any_of": []}]}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "custom_data", "field": "a..b", "op": "eq", "value": 1}]}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "velocity", "per": "user", "window": 0, "op": "gt", "value": 1}]}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "time_of_day", "from": "24:00", "to": "06:00"}]}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "time_of_day", "from": "7:00", "to": "06:00"}]}),
        json!({"name": "x", "outcome": "BLOCK", "executive": true}),
    ];
    for text in bad {
        let rule: Rule = serde_json::from_value(text.clone()).unwrap();
        assert!(rule.validate().is_err(), "{text}");
    }
    for text in [
        json!({"name": "x", "outcome": "MAYBE"}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "astrology"}]}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "device_count", "op": "about", "value": 1}]}),
        json!({"name": "x", "outcome": "BLOCK", "extra": 1}),
    ] {
        assert!(serde_json::from_value::<Rule>(text.clone()).is_err(), "{text}");
    }
}
