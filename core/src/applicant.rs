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
        let name = self.organisation.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(FieldProblem {
                field: "organisation.name",
                problem: "give the organisation's name (1 to 200 characters)".into(),
            });
        }
        if self.contact.name.trim().is_empty() || self.contact.name.len() > 200 {
            return Err(FieldProblem {
                field: "contact.name",
                problem: "give the contact's name (1 to 200 characters)".into(),
            });
        }
        let email = self.contact.email.trim();
        let ok = email.len() <= 254
            && email.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            })
            && !has_whitespace(email);
        if !ok {
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
    use super::has_whitespace;

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
