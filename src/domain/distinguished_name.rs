//! X.500 distinguished names as RFC 4514 writes them (`CN=rp,O=Bank,C=SE`,
//! the last RDN first), for `tls_client_auth_subject_dn` (RFC 8705 §2.1.2).
//! Two names match when they have the same attributes in the same order,
//! types compared by name (short names and their OIDs are one), values
//! compared as X.520's caseIgnoreMatch does: case and runs of spaces do not
//! count. The attributes of a multi-valued RDN (`+`) match in any order.

use std::fmt;

/// One attribute: its type (upper-case short name, or a dotted OID when
/// it has none here) and its value, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub kind: String,
    pub value: String,
}

/// A relative distinguished name: one attribute, or several (`+`) whose
/// order does not count.
pub type Rdn = Vec<Attribute>;

/// A name, its RDNs in RFC 4514 order (most specific first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName(pub Vec<Rdn>);

/// Attribute type names (RFC 4514 §3, RFC 4519, and those eIDAS and Open
/// Banking certificates use) with their OIDs; the first name of an OID is
/// the one written.
const NAMES: [(&str, &str); 19] = [
    ("CN", "2.5.4.3"),
    ("SN", "2.5.4.4"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("TITLE", "2.5.4.12"),
    ("BUSINESSCATEGORY", "2.5.4.15"),
    ("POSTALCODE", "2.5.4.17"),
    ("GIVENNAME", "2.5.4.42"),
    ("GN", "2.5.4.42"),
    ("ORGANIZATIONIDENTIFIER", "2.5.4.97"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
    ("E", "1.2.840.113549.1.9.1"),
];

/// The type's one spelling: the first name of its OID, or the dotted OID
/// when it has no name here; `None` for an unknown name.
pub fn attribute_kind(name_or_oid: &str) -> Option<String> {
    let upper = name_or_oid.trim().to_ascii_uppercase();
    let oid = upper.strip_prefix("OID.").unwrap_or(&upper);
    let oid = NAMES.iter().find(|(name, _)| *name == oid).map_or(oid, |(_, oid)| *oid);
    if let Some((name, _)) = NAMES.iter().find(|(_, o)| *o == oid) {
        return Some((*name).to_owned());
    }
    let numeric = !oid.is_empty()
        && oid
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    numeric.then(|| oid.to_owned())
}

impl DistinguishedName {
    /// Parses an RFC 4514 string: RDNs separated by `,` (or `;`), the
    /// attributes of one RDN by `+`, each `type=value` with `\` escaping a
    /// special character or two hex digits.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rdns = vec![Vec::new()];
        let mut chars = text.chars().peekable();
        loop {
            let mut kind = String::new();
            for c in chars.by_ref() {
                if c == '=' {
                    break;
                }
                kind.push(c);
            }
            let kind = attribute_kind(&kind).ok_or_else(|| {
                format!(
                    "must be an RFC 4514 name such as CN=rp,O=Bank,C=SE (`{}` is not an attribute type)",
                    kind.trim()
                )
            })?;
            let mut value = Vec::<u8>::new();
            let mut next = None;
            while let Some(c) = chars.next() {
                match c {
                    ',' | ';' | '+' => {
                        next = Some(c);
                        break;
                    }
                    '\\' => {
                        let first = chars.next().ok_or("must not end with a lone `\\`")?;
                        match first.to_digit(16).zip(chars.peek().and_then(|c| c.to_digit(16))) {
                            Some((hi, lo)) => {
                                chars.next();
                                value.push(u8::try_from(hi * 16 + lo).map_err(|_| "bad escape")?);
                            }
                            None => value.extend(first.to_string().as_bytes()),
                        }
                    }
                    c => value.extend(c.to_string().as_bytes()),
                }
            }
            let value = String::from_utf8(value).map_err(|_| "holds an escape that is not UTF-8".to_owned())?;
            if value.trim().is_empty() {
                return Err(format!("gives {kind} no value"));
            }
            let attribute = Attribute {
                kind,
                value: value.trim().to_owned(),
            };
            if let Some(rdn) = rdns.last_mut() {
                rdn.push(attribute);
            }
            match next {
                None => return Ok(Self(rdns)),
                Some('+') => {}
                Some(_) => rdns.push(Vec::new()),
            }
        }
    }

    /// RDN by RDN in order; within one, the same attributes in any order;
    /// values by caseIgnoreMatch.
    pub fn matches(&self, other: &DistinguishedName) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| canonical(a) == canonical(b))
    }
}

/// An RDN's attributes as (type, folded value), sorted.
fn canonical(rdn: &Rdn) -> Vec<(String, String)> {
    let mut attributes: Vec<(String, String)> = rdn.iter().map(|a| (a.kind.clone(), folded(&a.value))).collect();
    attributes.sort();
    attributes
}

/// Case and runs of spaces do not count.
fn folded(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, a) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}=", a.kind)?;
                for (k, c) in a.value.chars().enumerate() {
                    let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
                        || (k == 0 && matches!(c, '#' | ' '));
                    if special {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(text: &str) -> DistinguishedName {
        DistinguishedName::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn names_match_by_type_and_case_insensitive_value_in_order() {
        let registered = dn("CN=Bank RP, O=Example Bank,C=SE");
        assert!(registered.matches(&dn("cn=bank  rp,o=EXAMPLE BANK,c=se")));
        assert!(registered.matches(&dn("2.5.4.3=Bank RP,OID.2.5.4.10=Example Bank,C=SE")));
        assert!(
            !registered.matches(&dn("CN=Bank RP,O=Example Bank")),
            "fewer attributes"
        );
        assert!(
            !registered.matches(&dn("O=Example Bank,CN=Bank RP,C=SE")),
            "another order"
        );
        assert!(
            !registered.matches(&dn("CN=Bank RQ,O=Example Bank,C=SE")),
            "another value"
        );
    }

    #[test]
    fn escapes_are_read_and_written() {
        let name = dn(r"CN=Smith\, John,O=A\2bB,OU=\#1");
        assert_eq!(name.0[0][0].value, "Smith, John");
        assert_eq!(name.0[1][0].value, "A+B");
        assert_eq!(name.0[2][0].value, "#1");
        assert_eq!(name.to_string(), r"CN=Smith\, John,O=A\+B,OU=\#1");
        assert!(dn(&name.to_string()).matches(&name));
    }

    #[test]
    fn what_is_not_a_name_is_refused() {
        for bad in ["", "not a DN", "CN=", "XYZ=a", "CN=a,", r"CN=a\", "CN=\\ff\\fe"] {
            assert!(DistinguishedName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
