//! The CIBA `binding_message`: plain text, or the JSON object of seed 003
//! (`action_context`, `appId`, `bindingMessage`, `userStatus`). Parsed once at
//! the edge; everything downstream holds a [`BindingMessage`].

use serde::Deserialize;

use super::user::UserStatus;

/// Longest text a device is asked to show, in characters.
pub const MAX_DISPLAY_CHARS: usize = 256;

/// Why a binding message was refused; the text goes to the client verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidBindingMessage(pub String);

/// What a backchannel request is for (seed 003 `action_context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionContext {
    Authentication,
    Provisioning,
    /// A SAML login (issue 18): an authentication a browser waits for. No
    /// client can ask for it in a binding message; only the SAML face starts one.
    Saml,
}

impl ActionContext {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionContext::Authentication => "authentication",
            ActionContext::Provisioning => "provisioning",
            ActionContext::Saml => "saml",
        }
    }

    /// Whether the user is being authenticated (the lockout and `appId`
    /// rules apply), not provisioned.
    pub fn authenticates(self) -> bool {
        matches!(self, ActionContext::Authentication | ActionContext::Saml)
    }
}

/// A parsed binding message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingMessage {
    pub context: ActionContext,
    /// The app the user or device must be associated with (required for provisioning).
    pub app_id: Option<String>,
    /// The exact text the device shows and whose hash it signs.
    pub display_text: String,
    /// Only for provisioning: the status to give the user. When absent a new
    /// user is created `active` and an existing one keeps its status.
    pub user_status: Option<UserStatus>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Structured {
    action_context: String,
    #[serde(rename = "appId")]
    app_id: Option<String>,
    #[serde(rename = "bindingMessage")]
    binding_message: Option<String>,
    #[serde(rename = "userStatus")]
    user_status: Option<String>,
}

impl BindingMessage {
    /// Parses the raw parameter. Text that starts with `{` is taken to be the
    /// structured form, so a malformed object is an error, not shown as text.
    pub fn parse(raw: &str) -> Result<Self, InvalidBindingMessage> {
        if raw.trim_start().starts_with('{') {
            Self::parse_structured(raw)
        } else {
            Ok(Self {
                context: ActionContext::Authentication,
                app_id: None,
                display_text: displayable(raw)?,
                user_status: None,
            })
        }
    }

    fn parse_structured(raw: &str) -> Result<Self, InvalidBindingMessage> {
        let s: Structured =
            serde_json::from_str(raw).map_err(|e| bad(format!("binding_message is not a valid JSON object: {e}")))?;
        let context = match s.action_context.as_str() {
            "authentication" => ActionContext::Authentication,
            "provisioning" => ActionContext::Provisioning,
            other => {
                return Err(bad(format!(
                    "action_context must be `authentication` or `provisioning`, not `{other}`"
                )));
            }
        };
        let app_id = match s.app_id {
            Some(a) if a.trim().is_empty() => return Err(bad("appId must not be empty")),
            Some(a) if a.len() > 128 || a.chars().any(char::is_control) => {
                return Err(bad("appId must be at most 128 printable characters"));
            }
            other => other,
        };
        if context == ActionContext::Provisioning && app_id.is_none() {
            return Err(bad("appId is required when action_context is provisioning"));
        }
        let user_status = match (context, s.user_status) {
            (ActionContext::Authentication | ActionContext::Saml, Some(_)) => {
                return Err(bad("userStatus is only allowed when action_context is provisioning"));
            }
            (ActionContext::Authentication | ActionContext::Saml, None) => None,
            // Absent: the user is created active, and an existing user keeps its status.
            (ActionContext::Provisioning, None) => None,
            (ActionContext::Provisioning, Some(v)) => match v.as_str() {
                "active" => Some(UserStatus::Active),
                "locked" => Some(UserStatus::Locked),
                _ => return Err(bad(format!("userStatus must be `active` or `locked`, not `{v}`"))),
            },
        };
        let text = s
            .binding_message
            .ok_or_else(|| bad("bindingMessage (the text shown on the device) is required"))?;
        Ok(Self {
            context,
            app_id,
            display_text: displayable(&text)?,
            user_status,
        })
    }
}

/// A text a phone can show: non-empty, bounded, no control characters.
fn displayable(text: &str) -> Result<String, InvalidBindingMessage> {
    if text.trim().is_empty() {
        return Err(bad("the text to show on the device must not be empty"));
    }
    if text.chars().count() > MAX_DISPLAY_CHARS {
        return Err(bad(format!(
            "the text to show on the device is longer than {MAX_DISPLAY_CHARS} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(bad("the text to show on the device contains control characters"));
    }
    Ok(text.to_owned())
}

fn bad(msg: impl Into<String>) -> InvalidBindingMessage {
    InvalidBindingMessage(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_an_authentication_message() {
        let m = BindingMessage::parse("Pay 10 EUR to ACME").unwrap();
        assert_eq!(m.context, ActionContext::Authentication);
        assert_eq!(m.display_text, "Pay 10 EUR to ACME");
        assert_eq!(m.app_id, None);
    }

    #[test]
    fn structured_provisioning_leaves_user_status_to_the_default() {
        let m = BindingMessage::parse(r#"{"action_context":"provisioning","appId":"bank","bindingMessage":"Enrol"}"#)
            .unwrap();
        assert_eq!(m.context, ActionContext::Provisioning);
        assert_eq!(m.app_id.as_deref(), Some("bank"));
        assert_eq!(m.user_status, None);
        assert_eq!(m.display_text, "Enrol");
        let locked = BindingMessage::parse(
            r#"{"action_context":"provisioning","appId":"bank","bindingMessage":"Enrol","userStatus":"locked"}"#,
        )
        .unwrap();
        assert_eq!(locked.user_status, Some(UserStatus::Locked));
    }

    #[test]
    fn structured_authentication_keeps_app_and_text() {
        let m = BindingMessage::parse(
            r#"{"action_context":"authentication","appId":"shop","bindingMessage":"Log in 4711"}"#,
        )
        .unwrap();
        assert_eq!(m.app_id.as_deref(), Some("shop"));
        assert_eq!(m.user_status, None);
    }

    #[test]
    fn invalid_messages_are_refused() {
        let long = "x".repeat(MAX_DISPLAY_CHARS + 1);
        let cases = [
            ("{not json", "malformed JSON"),
            (
                r#"{"action_context":"login","bindingMessage":"x"}"#,
                "unknown action_context",
            ),
            (
                r#"{"action_context":"authentication","bindingMessage":"x","userStatus":"locked"}"#,
                "userStatus outside provisioning",
            ),
            (
                r#"{"action_context":"provisioning","bindingMessage":"x"}"#,
                "provisioning without appId",
            ),
            (
                r#"{"action_context":"provisioning","appId":"a","bindingMessage":"x","userStatus":"gone"}"#,
                "unknown userStatus",
            ),
            (r#"{"action_context":"authentication"}"#, "no text to show"),
            (
                r#"{"action_context":"authentication","bindingMessage":"x","extra":1}"#,
                "unknown member",
            ),
            (
                r#"{"action_context":"authentication","appId":"","bindingMessage":"x"}"#,
                "empty appId",
            ),
            ("line\nbreak", "control character"),
            ("   ", "blank"),
            (long.as_str(), "too long"),
        ];
        for (raw, why) in cases {
            assert!(BindingMessage::parse(raw).is_err(), "{why}: {raw}");
        }
    }

    #[test]
    fn unicode_text_within_the_limit_is_shown_as_is() {
        let m = BindingMessage::parse("Zahlung 10 € an Café 東京 ✅").unwrap();
        assert_eq!(m.display_text, "Zahlung 10 € an Café 東京 ✅");
    }
}
