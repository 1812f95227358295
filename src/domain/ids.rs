//! Identifiers: random public ones, and the typed ids of the records the
//! engine passes around (a `UserId` cannot be handed where a `DeviceId` is
//! wanted).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// 16 random bytes (128 bits): public identifiers that must not be guessable.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An id that sorts by `ms` (12 hex digits in front), then 128 random bits
/// (base64url): ids made later sort later.
pub fn time_ordered_id(ms: i64) -> String {
    format!("{:012x}{}", ms.max(0), random_id())
}

/// The ms a [`time_ordered_id`] was made at; `None` for another id.
pub fn time_of(id: &str) -> Option<i64> {
    i64::from_str_radix(id.get(..12)?, 16).ok()
}

/// A string id with its own type. It holds whatever the store or the
/// network gave: the checks on a new id's form belong to who creates it.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        /// Reads as the `&str` the store and the wire take; a function that
        /// wants one kind of id still takes the typed value.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A user's id: what `login_hint` names and the ID token's `sub`.
    UserId
);
string_id!(
    /// A device's id, chosen at registration.
    DeviceId
);
string_id!(
    /// A transaction's public id (`trustid.transaction_id`), not its
    /// `auth_req_id`.
    TransactionId
);
string_id!(
    /// A relying party's `client_id`.
    ClientId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_url_safe_characters_and_unique() {
        let id = random_id();
        assert_eq!(id.len(), 22);
        assert_ne!(id, random_id());
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn a_typed_id_reads_and_prints_as_its_string() {
        let id = UserId::new("alice");
        assert_eq!(id, "alice");
        assert_eq!(id.to_string(), "alice");
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("alice"));
        assert_ne!(UserId::new("alice"), UserId::new("bob"));
    }
}
