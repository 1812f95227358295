//! Console administrators: who may sign in to `/admin`, and the rules their
//! e-mail and password follow. Operators create them with `trustid admin`.

use serde::Serialize;

/// The console's own client id.
pub const CONSOLE_CLIENT: &str = "console";
/// The start of the ids of the users holding admins' phones: only the
/// console's own client may ask them anything (`is_console_user`).
pub const CONSOLE_USER_PREFIX: &str = "console:";

/// Whether `user_id` holds an admin's phones (see [`CONSOLE_USER_PREFIX`]).
pub fn is_console_user(user_id: &str) -> bool {
    user_id.starts_with(CONSOLE_USER_PREFIX)
}

/// Shortest password taken: an admin can change every client and user.
pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 256;

/// An admin's sign-in name: an e-mail address, trimmed and lowercased, so
/// `Ops@Bank.example` and `ops@bank.example` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AdminEmail(String);

impl AdminEmail {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.contains('@'));
        if valid {
            Ok(Self(email))
        } else {
            Err(format!("`{}` is not an e-mail address", raw.trim()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AdminEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password an admin may choose: long enough, printable.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) || password.chars().any(char::is_control) {
        return Err(format!(
            "a password is {MIN_PASSWORD} to {MAX_PASSWORD} printable characters"
        ));
    }
    Ok(())
}

#[derive(Clone, PartialEq, Eq)]
pub struct Admin {
    /// 128 random bits; what sessions and the audit trail name.
    pub id: String,
    pub email: AdminEmail,
    /// argon2id, PHC string.
    pub password_hash: String,
    pub created_at: i64,
    /// When the password was last set: sessions from before are void.
    pub password_at: i64,
    pub disabled_at: Option<i64>,
    /// The trustid user holding the admin's phones (`console:…`), once
    /// the admin has begun binding one.
    pub device_user_id: Option<String>,
}

/// Debug output names the admin, never the password hash.
impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// A console session (the cookie holds the secret; only its digest is stored).
#[derive(Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// 128 random bits: how the admin's list of sessions names it.
    pub id: String,
    pub secret_digest: String,
    pub admin_id: String,
    /// The token every form of this session carries.
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub address: String,
    pub user_agent: String,
    /// The sign-in waits for the admin's phone to approve this transaction:
    /// not signed in yet.
    pub awaiting_transaction: Option<String>,
    /// Approved on the admin's phone (else opened by password alone).
    pub second_factor: bool,
}

/// Debug output names the session, never its digest or CSRF token.
impl std::fmt::Debug for AdminSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSession")
            .field("id", &self.id)
            .field("admin_id", &self.admin_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Seconds without a request after which a session ends.
pub const IDLE_TIMEOUT: i64 = 30 * 60;
/// Seconds after sign-in at which a session ends, used or not.
pub const ABSOLUTE_TIMEOUT: i64 = 12 * 3600;

impl AdminSession {
    /// Whether `admin` may still use this session at `now`.
    pub fn is_live(&self, admin: &Admin, now: i64) -> bool {
        self.revoked_at.is_none()
            && now < self.expires_at
            && now < self.last_seen_at + IDLE_TIMEOUT
            && admin.disabled_at.is_none()
            && admin.password_at <= self.created_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            AdminEmail::parse(" Ops@Bank.Example ").unwrap().as_str(),
            "ops@bank.example"
        );
        for bad in [
            "",
            "ops",
            "@bank.example",
            "ops@bank",
            "o ps@bank.example",
            "a@b@c.example",
        ] {
            assert!(AdminEmail::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_long_and_printable() {
        assert!(check_password("correct horse battery").is_ok());
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars\\n").is_ok());
        assert!(check_password("twelve chars\n").is_err());
        assert!(check_password(&"x".repeat(MAX_PASSWORD + 1)).is_err());
    }
}
