//! The console's SAML service providers page.

use trustid::domain::saml_sp::{EntityId, SamlSpSettings, SignedParts};
use url::Url;

use crate::console::{app_with_admin, get, location, sign_in};

#[tokio::test]
async fn the_sps_are_listed_with_what_they_receive() {
    let app = app_with_admin().await;
    assert_eq!(location(&get(&app, "/admin/saml", None).await), "/admin/sign-in");
    let cookie = sign_in(&app).await;
    let empty = get(&app, "/admin/saml", Some(&cookie)).await.text().await.unwrap();
    assert!(empty.contains("No service provider yet"), "{empty}");
    let mut settings = SamlSpSettings::new(
        EntityId::parse("https://portal.example/saml").unwrap(),
        Url::parse("https://portal.example/acs").unwrap(),
    );
    settings.display_name = "Portal <intranet>".into();
    settings.sign = SignedParts::Both;
    settings.attributes = Some(vec![trustid::domain::claims::Evidence::UserId]);
    trustid::engine::saml_sps::add_saml_sp(app.store(), settings, false, app.clock_now())
        .await
        .unwrap();
    let html = get(&app, "/admin/saml", Some(&cookie)).await.text().await.unwrap();
    for shown in [
        "https://portal.example/saml",
        "https://portal.example/acs",
        "Portal &#60;intranet&#62;",
        "TRUSTID.USERID",
        "<td>both</td>",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
}
