//! Eligibility, criterion by criterion: [`explain`] gives an [`Eligibility`]
//! with one [`Criterion`] per rule, each with its sentence and reference.
//!
//! The same function judges submissions (with the rules in force on the
//! submission date) and answers "am I eligible, and why not?" before anyone applies.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::applicant::Applicant;
use crate::programme::Programme;

/// One rule's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    /// Stable id: `open`, `sector`, `size`, `location` or `not_certified`.
    pub id: String,
    /// Whether the applicant meets it.
    pub passed: bool,
    /// A sentence for people.
    pub sentence: String,
    /// Where the rule comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The verdict on every criterion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// True when every criterion passed.
    pub eligible: bool,
    /// One entry per criterion, in a fixed order.
    pub criteria: Vec<Criterion>,
}

impl Eligibility {
    /// The criteria that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Criterion> {
        self.criteria.iter().filter(|c| !c.passed)
    }
}

/// Whether `applicant` is eligible on `on`, without building sentences.
pub fn is_eligible(p: &Programme, a: &Applicant, on: NaiveDate) -> bool {
    let e = &p.eligibility;
    p.opens.value <= on
        && on <= p.closes.value
        && p.sector(&a.sector).is_some_and(|(_, s)| s.eligible)
        && a.employees < e.max_employees_exclusive.value
        && (!e.uk_only.value || a.uk_based)
        && (!e.exclude_already_certified.value || !a.already_certified)
}

/// Judges `applicant` on every criterion with the rules in force on `on`.
pub fn explain(p: &Programme, a: &Applicant, on: NaiveDate) -> Eligibility {
    let e = &p.eligibility;
    let mut criteria = Vec::with_capacity(5);
    let open = p.opens.value <= on && on <= p.closes.value;
    criteria.push(Criterion {
        id: "open".into(),
        passed: open,
        sentence: if open {
            format!(
                "applications are open on {on} ({} to {})",
                p.opens.value, p.closes.value
            )
        } else {
            format!(
                "applications are taken from {} to {}, not on {on}",
                p.opens.value, p.closes.value
            )
        },
        reference: p.closes.provenance(),
    });
    match p.sector(&a.sector) {
        Some((_, s)) => criteria.push(Criterion {
            id: "sector".into(),
            passed: s.eligible,
            sentence: format!("{}: {}", s.name, s.reason),
            reference: s
                .reference
                .clone()
                .or_else(|| s.assumed.as_ref().map(|n| format!("assumed: {n}"))),
        }),
        None => criteria.push(Criterion {
            id: "sector".into(),
            passed: false,
            sentence: format!(
                "`{}` is not a sector of this programme; declared sectors: {}",
                a.sector,
                p.sectors
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            reference: None,
        }),
    }
    let max = e.max_employees_exclusive.value;
    let small = a.employees < max;
    criteria.push(Criterion {
        id: "size".into(),
        passed: small,
        sentence: if small {
            format!("{} staff is fewer than {max}: a small or medium-sized business", a.employees)
        } else {
            format!("{} staff is not fewer than {max}: only small and medium-sized businesses are funded", a.employees)
        },
        reference: e.max_employees_exclusive.provenance(),
    });
    let located = !e.uk_only.value || a.uk_based;
    criteria.push(Criterion {
        id: "location".into(),
        passed: located,
        sentence: match (e.uk_only.value, a.uk_based) {
            (false, _) => "the programme is open to organisations anywhere".into(),
            (true, true) => "the organisation is based in the UK".into(),
            (true, false) => "only organisations based in the UK are funded".into(),
        },
        reference: e.uk_only.provenance(),
    });
    let new = !e.exclude_already_certified.value || !a.already_certified;
    criteria.push(Criterion {
        id: "not_certified".into(),
        passed: new,
        sentence: match (e.exclude_already_certified.value, a.already_certified) {
            (true, true) => "the organisation already holds a valid certificate: the programme pays for new certification".into(),
            (false, true) => "holding a certificate already does not exclude you here".into(),
            (_, false) => "the organisation holds no valid certificate yet".into(),
        },
        reference: e.exclude_already_certified.provenance(),
    });
    let eligible = criteria.iter().all(|c| c.passed);
    Eligibility { eligible, criteria }
}
