//! What an applicant tells the programme: [`Applicant`] (who they are) and
//! [`CostRequest`] (what certification they want and what it will cost).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::programme::Level;

/// The organisation applying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Registered name.
    pub name: String,
    /// Companies House number, if a company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_number: Option<String>,
    /// Charity Commission number, if a charity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charity_number: Option<String>,
    /// NHS ODS code, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ods_code: Option<String>,
    /// UK region, e.g. `North West`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Organisation {
    /// The organisation identifier used in published grant data
    /// (`GB-COH-<number>`, `GB-CHC-<number>`, `GB-NHS-<ods>`), if any.
    pub fn org_id(&self) -> Option<String> {
        if let Some(n) = &self.company_number {
            return Some(format!("GB-COH-{n}"));
        }
        if let Some(n) = &self.charity_number {
            return Some(format!("GB-CHC-{n}"));
        }
        self.ods_code.as_ref().map(|c| format!("GB-NHS-{c}"))
    }
}

/// Who to write to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    pub email: String,
}

/// An applicant's answers to the eligibility questions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    pub organisation: Organisation,
    pub contact: Contact,
    /// A sector id declared by the programme.
    pub sector: String,
    /// Staff count.
    pub employees: u32,
    /// Whether the organisation is based in the UK.
    pub uk_based: bool,
    /// Whether it already holds a valid certificate at the level funded.
    pub already_certified: bool,
    /// Whether it is VAT-registered (and so reclaims VAT itself).
    pub vat_registered: bool,
}

/// The certification wanted and the quotes the applicant holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostRequest {
    /// Basic Cyber Essentials or Plus.
    pub level: Level,
    /// Consultancy days quoted (may be fractional, e.g. 1.5).
    pub consultancy_days: Decimal,
    /// Consultancy day rate quoted, before VAT.
    pub day_rate: Money,
    /// Plus audit quote before VAT; the programme's cap is assumed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plus_audit_quote: Option<Money>,
}

/// A field of an application that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub problem: String,
}

impl Applicant {
    /// Checks the free-text fields; eligibility is judged separately.
    pub fn check(&self) -> Result<(), FieldProblem> {
        let name = trimmed(&self.organisation.name);
        if name.is_empty() || name.len() > 200 {
            return Err(FieldProblem {
                field: "organisation.name",
                problem: "give the organisation's name (1 to 200 characters)".into(),
            });
        }
        if trimmed(&self.contact.name).is_empty() || self.contact.name.len() > 200 {
            return Err(FieldProblem {
                field: "contact.name",
                problem: "give the contact's name (1 to 200 characters)".into(),
            });
        }
        if !email_ok(&self.contact.email) {
            return Err(FieldProblem {
                field: "contact.email",
                problem: format!("`{}` is not an email address", self.contact.email),
            });
        }
        for (field, v) in [
            (
                "organisation.company_number",
                &self.organisation.company_number,
            ),
            (
                "organisation.charity_number",
                &self.organisation.charity_number,
            ),
            ("organisation.ods_code", &self.organisation.ods_code),
        ] {
            if let Some(v) = v {
                if v.is_empty() || v.len() > 16 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(FieldProblem {
                        field,
                        problem: format!(
                            "`{v}` is not a registration number (1 to 16 letters or digits)"
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `s.trim()`, without decoding characters when `s` begins and ends with a
/// printable ASCII character (the usual case), which `trim` would keep.
fn trimmed(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) if plain_ascii(first) && plain_ascii(last) => s,
        _ => s.trim(),
    }
}

/// An ASCII byte that is not whitespace: it stands for itself as a
/// character, and `trim` stops at it.
fn plain_ascii(b: u8) -> bool {
    b.is_ascii() && !ascii_space(b)
}

/// Whether `raw`, trimmed, has the shape of an e-mail address: at most 254
/// bytes, a non-empty part before the first `@`, a domain after it holding a
/// `.` but neither starting nor ending with one, and no whitespace.
fn email_ok(raw: &str) -> bool {
    email_ok_ascii(raw.as_bytes()).unwrap_or_else(|| email_ok_text(raw))
}

/// [`email_ok`] as written: the reference for [`email_ok_ascii`].
fn email_ok_text(raw: &str) -> bool {
    let email = raw.trim();
    email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !has_whitespace(email)
}

/// Eight copies of byte `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Nonzero when a byte of `x` is below `n` (`n` <= 128). Which bits are set
/// is not meaningful, only whether any is.
fn any_byte_below(x: u64, n: u8) -> bool {
    x.wrapping_sub(splat(n)) & !x & splat(0x80) != 0
}

/// The high bit (0x80) of each byte of `x` that is zero, and no other bit.
fn zero_bytes(x: u64) -> u64 {
    // Per byte: the low seven bits plus 0x7f reach the high bit unless they
    // are all zero, and cannot carry into the next byte.
    !(((x & splat(0x7f)) + splat(0x7f)) | x) & splat(0x80)
}

/// [`email_ok`] for the usual address, which is printable ASCII: `None` when
/// `raw` holds a byte below `!` (whitespace or a control) or outside ASCII,
/// for the character-wise check to judge. Bytes are read eight at a time.
// An inline scan for the `.`, which comes a few bytes after the `@`, costs
// less than the call to `memchr` that `contains` makes.
#[allow(clippy::manual_contains)]
fn email_ok_ascii(raw: &[u8]) -> Option<bool> {
    // No whitespace at all, so trimming leaves the address as it stands.
    let mut at = None;
    let mut chunks = raw.chunks_exact(8);
    let mut base = 0;
    let mut scan = |word: u64, base: usize| -> Option<()> {
        if any_byte_below(word, b'!') || word & splat(0x80) != 0 {
            return None;
        }
        if at.is_none() {
            let hits = zero_bytes(word ^ splat(b'@'));
            if hits != 0 {
                at = Some(base + (hits.trailing_zeros() / 8) as usize);
            }
        }
        Some(())
    };
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        scan(u64::from_le_bytes(w), base)?;
        base += 8;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Pad with a plain letter, which is neither `@` nor flagged.
        let mut w = [b'a'; 8];
        w[..rest.len()].copy_from_slice(rest);
        scan(u64::from_le_bytes(w), base)?;
    }
    let Some(at) = at else {
        return Some(false);
    };
    let domain = &raw[at + 1..];
    Some(
        raw.len() <= 254
            && at > 0
            && domain.first().is_some_and(|&b| b != b'.')
            && domain.last().is_some_and(|&b| b != b'.')
            && domain.iter().any(|&b| b == b'.'),
    )
}

/// The ASCII characters with the Unicode White_Space property (those for
/// which `char::is_whitespace` holds).
fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// Whether `s` holds a whitespace character (`char::is_whitespace`): a byte
/// scan for ASCII text, the usual case, and a character scan otherwise.
fn has_whitespace(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes().any(ascii_space)
    } else {
        s.contains(char::is_whitespace)
    }
}

impl CostRequest {
    /// Checks the quoted figures.
    pub fn check(&self) -> Result<(), FieldProblem> {
        let d = self.consultancy_days;
        if d < Decimal::ZERO || d > Decimal::from(365) || d.normalize().scale() > 2 {
            return Err(FieldProblem {
                field: "consultancy_days",
                problem: format!(
                    "{d} is not a number of days from 0 to 365 with at most 2 decimals"
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{email_ok, email_ok_text, has_whitespace, trimmed};
    use proptest::prelude::*;

    #[test]
    fn email_fast_path_agrees_on_edge_cases() {
        let long = format!("{}@x.org", "a".repeat(247));
        let longer = format!("{}@x.org", "a".repeat(248));
        for s in [
            "",
            "@",
            "a@b.c",
            "@b.c",
            "a@.c",
            "a@c.",
            "a@c",
            "a@@b.c",
            "a@b@c.d",
            "a.b@c",
            " a@b.c ",
            "a@b.c\t",
            "a @b.c",
            "a@b.c\u{a0}",
            "\u{2003}a@b.c",
            "é@b.c",
            "a@b.\u{1c}c",
            "abcdefg@",
            "abcdefgh@ijklmno.pq",
            "abcdefghijklmnop@q.r",
            "a@bcdefgh.",
            long.as_str(),
            longer.as_str(),
        ] {
            assert_eq!(email_ok(s), email_ok_text(s), "{s:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn email_fast_path_agrees(s in "[a-c@. \t\u{1c}\u{7f}\u{a0}\u{2003}é]{0,40}") {
            prop_assert_eq!(email_ok(&s), email_ok_text(&s));
        }

        #[test]
        fn email_fast_path_agrees_on_likely_addresses(
            user in "[a-z.]{0,20}",
            at in "@{0,2}",
            host in "[a-z0-9.-]{0,30}",
            pad in "[ \t]{0,1}",
            long in 0usize..300,
        ) {
            let s = format!("{pad}{user}{at}{host}{pad}");
            prop_assert_eq!(email_ok(&s), email_ok_text(&s));
            let s = format!("{}{s}", "x".repeat(long));
            prop_assert_eq!(email_ok(&s), email_ok_text(&s));
        }

        #[test]
        fn trimmed_is_trim(s in "[ab \t\n\u{b}\u{1c}\u{85}\u{a0}\u{3000}é]{0,12}") {
            prop_assert_eq!(trimmed(&s), s.trim());
        }
    }

    #[test]
    fn whitespace_scan_agrees_with_char_is_whitespace() {
        for c in (0u32..0x3100).filter_map(char::from_u32) {
            for s in [
                c.to_string(),
                format!("a{c}b@x.org"),
                format!("{c}é"),
                format!("{c} x{c}{c}"),
                format!("\t{c}"),
            ] {
                assert_eq!(
                    has_whitespace(&s),
                    s.contains(char::is_whitespace),
                    "{:?}",
                    s
                );
            }
        }
    }
}
