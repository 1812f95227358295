//! A certificate's subject as RFC 4514 reads it, from the DER of its X.509
//! `Name` (a SEQUENCE of RDNs, each a SET of type-and-value pairs). OpenSSL
//! lists the attributes flat and names types it knows by long names; the
//! structure and the OIDs are what `tls_client_auth_subject_dn` compares.

use crate::domain::distinguished_name::{Attribute, DistinguishedName, attribute_kind};

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// The name in RFC 4514 order (the last RDN first); `None` if the DER is
/// not a well-formed `Name`.
pub fn parse(der: &[u8]) -> Option<DistinguishedName> {
    let (tag, mut rdns_der, rest) = tlv(der)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let mut rdns = Vec::new();
    while !rdns_der.is_empty() {
        let (tag, mut set, rest) = tlv(rdns_der)?;
        rdns_der = rest;
        if tag != SET {
            return None;
        }
        let mut rdn = Vec::new();
        while !set.is_empty() {
            let (tag, pair, rest) = tlv(set)?;
            set = rest;
            let (oid_tag, oid, value_der) = tlv(pair)?;
            if tag != SEQUENCE || oid_tag != OID {
                return None;
            }
            let (value_tag, value, rest) = tlv(value_der)?;
            if !rest.is_empty() {
                return None;
            }
            rdn.push(Attribute {
                kind: attribute_kind(&oid_text(oid)?)?,
                value: text(value_tag, value).unwrap_or_else(|| hex_form(value_der)),
            });
        }
        rdns.push(rdn);
    }
    rdns.reverse();
    Some(DistinguishedName(rdns))
}

/// One DER element: its tag, its contents, what follows it. Single-byte
/// tags and definite lengths only (DER has no others for a `Name`).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x83 => {
            let count = usize::from(first & 0x7f);
            let (bytes, rest) = rest.split_at_checked(count)?;
            (bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)), rest)
        }
        _ => return None,
    };
    let (contents, rest) = rest.split_at_checked(length)?;
    Some((tag, contents, rest))
}

/// Dotted decimal of an OID's contents.
fn oid_text(bytes: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut arc: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        arc = arc.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (arc / 40).min(2);
                arcs.extend([first, arc - first * 40]);
            } else {
                arcs.push(arc);
            }
            arc = 0;
        } else if i + 1 == bytes.len() {
            return None;
        }
    }
    (!arcs.is_empty()).then(|| arcs.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

/// A directory string's text; `None` for a type that is not one.
fn text(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String
        0x0c => String::from_utf8(value.to_vec()).ok(),
        // PrintableString, IA5String, VisibleString
        0x13 | 0x16 | 0x1a => value.is_ascii().then(|| String::from_utf8_lossy(value).into_owned()),
        // TeletexString, read as Latin-1 as everyone does
        0x14 => Some(value.iter().map(|&b| char::from(b)).collect()),
        // BMPString (UTF-16BE)
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            value
                .len()
                .is_multiple_of(2)
                .then(|| String::from_utf16(&units).ok())
                .flatten()
        }
        // UniversalString (UTF-32BE)
        0x1c => value
            .chunks_exact(4)
            .map(|q| char::from_u32(u32::from_be_bytes([q[0], q[1], q[2], q[3]])))
            .collect::<Option<String>>()
            .filter(|_| value.len().is_multiple_of(4)),
        _ => None,
    }
}

/// RFC 4514 §2.4: a value of another type is `#` and its DER in hex.
fn hex_form(der: &[u8]) -> String {
    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
    format!("#{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_lengths_decode() {
        assert_eq!(oid_text(&[0x55, 0x04, 0x03]).as_deref(), Some("2.5.4.3"));
        assert_eq!(oid_text(&[0x55, 0x04, 0x61]).as_deref(), Some("2.5.4.97"));
        assert_eq!(
            oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).as_deref(),
            Some("1.2.840.113549.1.9.1")
        );
        assert_eq!(oid_text(&[0x86]), None, "an arc cut short");
        assert_eq!(
            tlv(&[0x04, 0x81, 0x02, 0xaa, 0xbb]),
            Some((0x04, &[0xaa, 0xbb][..], &[][..]))
        );
        assert_eq!(tlv(&[0x04, 0x05, 0xaa]), None, "shorter than it says");
        assert_eq!(tlv(&[0x1f, 0x01, 0x00]), None, "multi-byte tag");
    }

    #[test]
    fn strings_of_each_type_and_others_in_hex() {
        assert_eq!(text(0x0c, "Bänk".as_bytes()).as_deref(), Some("Bänk"));
        assert_eq!(text(0x13, b"Bank").as_deref(), Some("Bank"));
        assert_eq!(text(0x14, &[0x42, 0xe4]).as_deref(), Some("Bä"));
        assert_eq!(text(0x1e, &[0x00, 0x42, 0x00, 0xe4]).as_deref(), Some("Bä"));
        assert_eq!(text(0x1c, &[0, 0, 0, 0x42]).as_deref(), Some("B"));
        assert_eq!(text(0x1e, &[0x00]), None);
        assert_eq!(text(0x04, b"raw"), None);
        assert_eq!(hex_form(&[0x04, 0x01, 0xff]), "#0401ff");
    }
}
