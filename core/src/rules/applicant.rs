//! What an applicant tells the programme: [`Applicant`] (who they are) and
//! [`CostRequest`] (what certification they want and what it will cost).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ledger::money::Money;
use crate::rules::programme::Level;
use crate::rules::text::{self, TextProblem};

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

/// A field of an application that cannot be accepted: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldProblem {
    /// The field, as written in JSON (`contact.name`).
    pub field: &'static str,
    pub problem: Problem,
}

/// Why a field of an application cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A free text is empty, too long or holds a control character.
    #[error(transparent)]
    Text(#[from] TextProblem),
    /// The contact's address does not have the shape of an e-mail address.
    #[error("`{0}` is not an email address: give one like name@example.org, without spaces")]
    NotAnEmail(String),
    /// A company, charity or ODS number holds something other than letters and digits.
    #[error("`{0}` is not a registration number: give 1 to 16 letters or digits")]
    NotARegistrationNumber(String),
    /// The consultancy days are negative, above a year or finer than hundredths.
    #[error("{0} is not a number of days from 0 to 365 with at most 2 decimals")]
    NotADayCount(Decimal),
}

/// The longest organisation or contact name, in characters.
pub const MAX_NAME: usize = 200;
/// The longest region, in characters.
pub const MAX_REGION: usize = 100;
/// The longest sector id, in characters.
pub const MAX_SECTOR: usize = 100;
/// The longest e-mail address, in characters.
pub const MAX_EMAIL: usize = 254;

impl Applicant {
    /// Checks the free-text fields with [`text::check`] (lengths in
    /// characters, no control characters) and the shapes of the e-mail
    /// address and registration numbers; eligibility is judged separately.
    /// The first problem found is returned.
    pub fn check(&self) -> Result<(), FieldProblem> {
        let org = &self.organisation;
        let texts = [
            ("organisation.name", Some(&org.name), 1, MAX_NAME),
            ("organisation.region", org.region.as_ref(), 1, MAX_REGION),
            ("contact.name", Some(&self.contact.name), 1, MAX_NAME),
            ("contact.email", Some(&self.contact.email), 0, MAX_EMAIL),
            ("sector", Some(&self.sector), 0, MAX_SECTOR),
        ];
        for (field, value, min, max) in texts {
            if let Some(value) = value {
                text::check(value, min, max).map_err(|p| FieldProblem {
                    field,
                    problem: p.into(),
                })?;
            }
        }
        if !email_ok(&self.contact.email) {
            return Err(FieldProblem {
                field: "contact.email",
                problem: Problem::NotAnEmail(self.contact.email.clone()),
            });
        }
        for (field, v) in [
            ("organisation.company_number", &org.company_number),
            ("organisation.charity_number", &org.charity_number),
            ("organisation.ods_code", &org.ods_code),
        ] {
            if let Some(v) = v {
                text::check(v, 1, 16).map_err(|p| FieldProblem {
                    field,
                    problem: p.into(),
                })?;
                if !v.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(FieldProblem {
                        field,
                        problem: Problem::NotARegistrationNumber(v.clone()),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Whether `raw`, trimmed, has the shape of an e-mail address: a non-empty
/// part before the first `@`, a domain after it holding a `.` but neither
/// starting nor ending with one, and no whitespace.
fn email_ok(raw: &str) -> bool {
    let email = raw.trim();
    !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
}

impl CostRequest {
    /// Checks the quoted figures.
    pub fn check(&self) -> Result<(), FieldProblem> {
        let d = self.consultancy_days;
        if d < Decimal::ZERO || d > Decimal::from(365) || d.normalize().scale() > 2 {
            return Err(FieldProblem {
                field: "consultancy_days",
                problem: Problem::NotADayCount(d),
            });
        }
        Ok(())
    }
}
