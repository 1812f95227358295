#![allow(clippy::unwrap_used)]
use super::*;
use crate::domain::claims::TABLE;

fn sp() -> SamlSpSettings {
    SamlSpSettings::new(
        EntityId::parse("https://sp.example.com/metadata").unwrap(),
        Url::parse("https://sp.example.com/acs").unwrap(),
    )
}

fn acs(url: &str, index: u16, is_default: bool) -> Acs {
    Acs {
        url: Url::parse(url).unwrap(),
        binding: AcsBinding::HttpPost,
        index,
        is_default,
    }
}

#[test]
fn registration_rules_hold() {
    type Mutation = fn(&mut SamlSpSettings);
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (|s| s.display_name = " ".into(), "display name", "blank name"),
        (|s| s.acs.clear(), "1 to 32 ACS", "no ACS"),
        (
            |s| s.acs = vec![acs("http://sp.example.com/acs", 0, false)],
            "https",
            "http ACS",
        ),
        (
            |s| s.acs = vec![acs("http://127.0.0.1:9/acs", 0, false)],
            "https",
            "loopback without dev",
        ),
        (
            |s| s.acs = vec![acs("https://sp.example.com/acs#f", 0, false)],
            "fragment",
            "fragment",
        ),
        (
            |s| s.acs.push(acs("https://sp.example.com/acs2", 0, false)),
            "index 0",
            "duplicate index",
        ),
        (
            |s| {
                s.acs = vec![
                    acs("https://sp.example.com/a", 0, true),
                    acs("https://sp.example.com/b", 1, true),
                ]
            },
            "one ACS endpoint may be the default",
            "two defaults",
        ),
        (
            |s| s.default_relay_state = Some("/home".into()),
            "needs IdP-initiated",
            "relay state alone",
        ),
        (
            |s| {
                s.idp_initiated = true;
                s.default_relay_state = Some("x".repeat(81));
            },
            "80 bytes",
            "long relay state",
        ),
        (|s| s.app_id = Some("".into()), "app id", "empty app id"),
        (|s| s.attributes = Some(vec![]), "at least one", "empty allow-list"),
    ];
    for (mutate, expected, why) in cases {
        let mut s = sp();
        mutate(&mut s);
        let err = s.validate(false).unwrap_err().to_string();
        assert!(err.contains(expected), "{why}: {err}");
    }
    assert!(sp().validate(false).is_ok());
    let mut dev = sp();
    dev.acs = vec![acs("http://127.0.0.1:9/acs", 0, false)];
    assert!(dev.validate(true).is_ok(), "http on loopback in dev mode");
}

#[test]
fn entity_ids_are_bounded_uris_without_spaces() {
    assert!(EntityId::parse("urn:example:sp").is_ok());
    for bad in ["", "has space", "tab\there", &"x".repeat(1025)] {
        assert!(EntityId::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn bindings_other_than_http_post_are_refused_for_responses() {
    assert_eq!(AcsBinding::from_urn(HTTP_POST_BINDING), Ok(AcsBinding::HttpPost));
    assert!(
        AcsBinding::from_urn(HTTP_REDIRECT_BINDING)
            .unwrap_err()
            .contains("cannot carry a Response")
    );
    assert!(
        AcsBinding::from_urn("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact")
            .unwrap_err()
            .contains("not supported")
    );
}

#[test]
fn attributes_are_an_allow_list_over_the_claim_table() {
    let picked = parse_attributes(&["TRUSTID.USERID".into(), " TRUSTID.DEVICEID ".into()]).unwrap();
    assert_eq!(picked, vec![Evidence::UserId, Evidence::DeviceId]);
    let err = parse_attributes(&["TRUSTID.PASSWORD".into()]).unwrap_err();
    assert!(err.contains("unknown attribute `TRUSTID.PASSWORD`"), "{err}");
    assert!(
        parse_attributes(&["trustid.userid".into()]).is_err(),
        "names are the SAML ones, exactly"
    );
    assert!(parse_attributes(&[]).is_err());
    let mut s = sp();
    s.attributes = Some(picked);
    let stored = serde_json::to_value(&s).unwrap();
    assert_eq!(
        stored["attributes"],
        serde_json::json!(["TRUSTID.USERID", "TRUSTID.DEVICEID"])
    );
    let back: SamlSpSettings = serde_json::from_value(stored).unwrap();
    assert_eq!(back, s);
}

#[test]
fn defaults_sign_the_response_release_everything_and_refuse_idp_initiated_login() {
    let s = sp();
    assert_eq!(s.sign, SignedParts::Response);
    assert!(!s.idp_initiated);
    let record = SamlSp {
        id: "x".into(),
        settings: s,
        created_at: 0,
    };
    assert!(TABLE.iter().all(|r| record.releases(r.0)));
    assert!(!record.requires_signed_requests());
    assert_eq!(record.default_acs().unwrap().url.as_str(), "https://sp.example.com/acs");
    let json = serde_json::to_value(&record.settings).unwrap();
    assert_eq!(json["name_id_format"], "persistent");
    assert_eq!(json["acs"][0]["binding"], HTTP_POST_BINDING);
}

#[test]
fn acs_endpoints_are_found_by_url_index_or_default_flag() {
    let mut s = sp();
    s.acs = vec![
        acs("https://sp.example.com/a", 3, false),
        acs("https://sp.example.com/b", 7, true),
    ];
    let record = SamlSp {
        id: "x".into(),
        settings: s,
        created_at: 0,
    };
    assert_eq!(record.acs_by_index(3).unwrap().url.as_str(), "https://sp.example.com/a");
    assert!(record.acs_by_index(0).is_none());
    assert!(record.acs_by_url("https://sp.example.com/b").is_some());
    assert!(record.acs_by_url("https://evil.example.com/b").is_none());
    assert_eq!(record.default_acs().unwrap().index, 7);
}

#[test]
fn name_id_formats_read_their_short_names_and_urns() {
    for f in NameIdFormat::ALL {
        assert_eq!(f.as_str().parse::<NameIdFormat>(), Ok(f));
        assert_eq!(NameIdFormat::from_urn(f.urn()), Some(f));
    }
    assert!("email".parse::<NameIdFormat>().is_err());
    assert_eq!("both".parse::<SignedParts>(), Ok(SignedParts::Both));
    assert!(SignedParts::Both.signs_response() && SignedParts::Both.signs_assertion());
    assert!(!SignedParts::Assertion.signs_response());
}

#[test]
fn post_endpoints_are_indexed_in_order_the_first_the_default() {
    let urls = ["https://sp.example.com/a", "https://sp.example.com/b"].map(|u| Url::parse(u).unwrap());
    let list = post_endpoints(urls.to_vec());
    assert_eq!(list, [acs(urls[0].as_str(), 0, true), acs(urls[1].as_str(), 1, false)]);
    let mut s = sp();
    s.acs = post_endpoints(vec![urls[0].clone(); MAX_ACS + 1]);
    assert!(
        s.validate(false).unwrap_err().message.contains("1 to 32 ACS"),
        "too many is refused"
    );
}
