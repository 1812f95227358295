//! `FromStr` and `Display` for enums that have an `as_str`: the text form
//! stored in the database and sent on the wire.

/// `str_enum!(Type, "what", [Type::A, Type::B])`: parses exactly the strings
/// `as_str` returns, naming `what` in the error.
macro_rules! str_enum {
    ($ty:ty, $what:literal, [$($variant:expr),+]) => {
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                [$($variant),+]
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("unknown {} `{s}`", $what))
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use str_enum;
