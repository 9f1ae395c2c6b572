//! Eligibility, criterion by criterion: [`explain`] gives an [`Eligibility`]
//! with one [`Criterion`] per rule, each with its sentence and reference.
//!
//! The same function judges submissions (with the rules in force on the
//! submission date) and answers "am I eligible, and why not?" before anyone applies.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::rules::applicant::Applicant;
use crate::rules::programme::Programme;

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
    let mut criteria = Vec::with_capacity(5);
    judge(p, a, on, true, &mut criteria);
    let eligible = criteria.iter().all(|c| c.passed);
    Eligibility { eligible, criteria }
}

/// The criteria `applicant` fails on `on`, in the order of [`explain`],
/// without writing the sentences of those it passes.
pub fn failed(p: &Programme, a: &Applicant, on: NaiveDate) -> Vec<Criterion> {
    let mut criteria = Vec::new();
    judge(p, a, on, false, &mut criteria);
    criteria
}

/// Pushes the verdict on each criterion to `out`; a passed one only when
/// `with_passed`. Sentences are written only for what is pushed.
fn judge(p: &Programme, a: &Applicant, on: NaiveDate, with_passed: bool, out: &mut Vec<Criterion>) {
    let e = &p.eligibility;
    let open = p.opens.value <= on && on <= p.closes.value;
    let sector = p.sector(&a.sector);
    let max = e.max_employees_exclusive.value;
    let small = a.employees < max;
    let located = !e.uk_only.value || a.uk_based;
    let new = !e.exclude_already_certified.value || !a.already_certified;
    let verdicts = [
        open,
        sector.is_some_and(|(_, s)| s.eligible),
        small,
        located,
        new,
    ];
    // Room for exactly what is pushed, in one allocation.
    out.reserve_exact(verdicts.iter().filter(|&&v| with_passed || !v).count());
    let mut push = |id: &str,
                    passed: bool,
                    sentence: &dyn Fn() -> String,
                    reference: &dyn Fn() -> Option<String>| {
        if with_passed || !passed {
            out.push(Criterion {
                id: id.into(),
                passed,
                sentence: sentence(),
                reference: reference(),
            });
        }
    };
    push(
        "open",
        open,
        &|| {
            if open {
                format!(
                    "applications are open on {on} ({} to {})",
                    p.opens.value, p.closes.value
                )
            } else {
                format!(
                    "applications are taken from {} to {}, not on {on}",
                    p.opens.value, p.closes.value
                )
            }
        },
        &|| p.closes.provenance(),
    );
    match sector {
        Some((_, s)) => push(
            "sector",
            s.eligible,
            &|| [s.name.as_str(), ": ", &s.reason].concat(),
            &|| {
                s.reference
                    .clone()
                    .or_else(|| s.assumed.as_ref().map(|n| format!("assumed: {n}")))
            },
        ),
        None => push(
            "sector",
            false,
            &|| {
                format!(
                    "`{}` is not a sector of this programme; declared sectors: {}",
                    a.sector,
                    p.sectors
                        .iter()
                        .map(|s| s.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            &|| None,
        ),
    }
    push(
        "size",
        small,
        &|| {
            let employees = a.employees;
            if small {
                format!("{employees} staff is fewer than {max}: a small or medium-sized business")
            } else {
                format!(
                    "{employees} staff is not fewer than {max}: only small and medium-sized businesses are funded"
                )
            }
        },
        &|| e.max_employees_exclusive.provenance(),
    );
    push(
        "location",
        located,
        &|| {
            match (e.uk_only.value, a.uk_based) {
                (false, _) => "the programme is open to organisations anywhere",
                (true, true) => "the organisation is based in the UK",
                (true, false) => "only organisations based in the UK are funded",
            }
            .into()
        },
        &|| e.uk_only.provenance(),
    );
    push(
        "not_certified",
        new,
        &|| {
            match (e.exclude_already_certified.value, a.already_certified) {
                (true, true) => "the organisation already holds a valid certificate: the programme pays for new certification",
                (false, true) => "holding a certificate already does not exclude you here",
                (_, false) => "the organisation holds no valid certificate yet",
            }
            .into()
        },
        &|| e.exclude_already_certified.provenance(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::applicant::{Contact, Organisation};
    use proptest::prelude::*;

    /// A VAT-registered applicant "Acme" with the answers that matter to eligibility.
    fn acme(sector: String, employees: u32, uk_based: bool, already_certified: bool) -> Applicant {
        Applicant {
            organisation: Organisation {
                name: "Acme".into(),
                company_number: None,
                charity_number: None,
                ods_code: None,
                region: None,
            },
            contact: Contact {
                name: "A".into(),
                email: "a@acme.example".into(),
            },
            sector,
            employees,
            uk_based,
            already_certified,
            vat_registered: true,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The size and sector sentences read as intended.
        #[test]
        fn sentences_are_as_formatted(
            employees in prop_oneof![0u32..400, any::<u32>()],
            max in prop_oneof![1u32..400, any::<u32>()],
            sector in 0usize..8,
            uk_based: bool,
            already_certified: bool,
            days in 0i64..4000,
        ) {
            let mut p = Programme::healthcare_cyber_essentials_2020();
            p.eligibility.max_employees_exclusive.value = max;
            let sector = p
                .sectors
                .get(sector)
                .map_or_else(|| "bakery".to_string(), |s| s.id.clone());
            let a = acme(sector, employees, uk_based, already_certified);
            let on = NaiveDate::from_ymd_opt(2019, 1, 1).expect("date")
                + chrono::Duration::days(days);
            let all = explain(&p, &a, on);
            let small = employees < max;
            let size = if small {
                format!("{employees} staff is fewer than {max}: a small or medium-sized business")
            } else {
                format!(
                    "{employees} staff is not fewer than {max}: only small and medium-sized businesses are funded"
                )
            };
            prop_assert_eq!(&all.criteria[2].sentence, &size);
            if let Some((_, s)) = p.sector(&a.sector) {
                prop_assert_eq!(&all.criteria[1].sentence, &format!("{}: {}", s.name, s.reason));
            }
            let want: Vec<Criterion> = all.failed().cloned().collect();
            let got = failed(&p, &a, on);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn failed_lists_what_explain_fails() {
        let p = Programme::healthcare_cyber_essentials_2020();
        let on = NaiveDate::from_ymd_opt(2020, 10, 1).expect("date");
        let base = acme("medical-supplier".into(), 10, true, false);
        let variants = [
            base.clone(),
            Applicant {
                sector: "gp-practice".into(),
                ..base.clone()
            },
            Applicant {
                sector: "bakery".into(),
                employees: 400,
                uk_based: false,
                already_certified: true,
                ..base.clone()
            },
        ];
        for a in &variants {
            let all = explain(&p, a, on);
            let want: Vec<Criterion> = all.failed().cloned().collect();
            assert_eq!(failed(&p, a, on), want);
            assert_eq!(all.eligible, want.is_empty());
            assert_eq!(is_eligible(&p, a, on), all.eligible);
        }
        let late = NaiveDate::from_ymd_opt(2030, 1, 1).expect("date");
        assert_eq!(failed(&p, &base, late).len(), 1);
    }
}
