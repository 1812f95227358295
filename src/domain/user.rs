//! End users, named by the relying party's own identifier.

use super::ids::UserId;
use super::str_enum::str_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Locked,
    /// Unregistered (seed 001): kept for the audit trail, invisible to hints.
    Removed,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Locked => "locked",
            UserStatus::Removed => "removed",
        }
    }
}

str_enum!(
    UserStatus,
    "user status",
    [UserStatus::Active, UserStatus::Locked, UserStatus::Removed]
);

#[derive(Debug, Clone)]
pub struct User {
    /// The relying party's user identifier; also the ID token `sub`.
    pub id: UserId,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: UserStatus,
    /// Failed device decisions against this user's transactions.
    pub failed_attempts: i64,
    /// argon2 hash of the user's CIBA `user_code`, when one was set.
    pub user_code_hash: Option<String>,
    /// argon2 hash of the seed-001 `staticPassword`, when one was given.
    pub static_password_hash: Option<String>,
    pub created_at: i64,
}

#[cfg(test)]
impl User {
    /// An active user with nothing else set.
    pub fn sample(id: &str) -> Self {
        Self {
            id: id.into(),
            email: None,
            phone: None,
            status: UserStatus::Active,
            failed_attempts: 0,
            user_code_hash: None,
            static_password_hash: None,
            created_at: 0,
        }
    }
}
