//! Coverage: what the programme pays for one application. [`estimate`] turns
//! an [`Applicant`] and [`CostRequest`] into a [`Coverage`]: one covered
//! amount per [`Item`], caps applied, each rounded once by
//! [`round_pence`](crate::ledger::money::round_pence), and the award amount.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ledger::money::{Money, MoneyError};
use crate::rules::applicant::{Applicant, CostRequest};
use crate::rules::programme::{Level, Programme, SizeBand, VatPolicy, in_force};

/// A covered line item: what an invoice can be claimed against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// Readiness consultancy.
    Consultancy,
    /// The Cyber Essentials assessment fee.
    CertificationFee,
    /// The Cyber Essentials Plus audit.
    PlusAudit,
}

impl Item {
    /// Every item, in claim order.
    pub const ALL: [Item; 3] = [Item::Consultancy, Item::CertificationFee, Item::PlusAudit];

    /// Position in per-item arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The item's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Consultancy => "consultancy",
            Item::CertificationFee => "certification_fee",
            Item::PlusAudit => "plus_audit",
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The covered amounts for one application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Covered amount per item, indexed by [`Item::index`].
    pub items: [Money; 3],
    /// Sum of the items.
    pub total: Money,
    /// The award: the total, capped by the programme's award cap.
    pub award: Money,
}

impl Coverage {
    /// The covered amount for `item`.
    pub fn item(&self, item: Item) -> Money {
        self.items[item.index()]
    }
}

/// Why no coverage can be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoverageError {
    /// No fee table is in force on the date.
    #[error(
        "no certification fee table is in force on {0}: the programme's rules do not cover that date"
    )]
    NoFeeTable(NaiveDate),
    /// A computed amount left the range of money.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// `days * rate` when it is a whole number of pence within [`Money::MAX`]
/// (days of at most two decimal places, as requests give them), computed
/// on integers; `None` when the product needs rounding or is out of range.
fn exact_pence(days: Decimal, rate: Money) -> Option<Money> {
    let unit = match days.scale() {
        0 => 1,
        1 => 10,
        2 => 100,
        _ => return None,
    };
    let product = days.mantissa().checked_mul(i128::from(rate.pence()))?;
    if product < 0 || product % unit != 0 {
        return None;
    }
    let pence = u64::try_from(product / unit).ok()?;
    Money::from_pence(pence).ok()
}

/// The covered line items and award for an application judged on `on`.
pub fn estimate(
    p: &Programme,
    a: &Applicant,
    r: &CostRequest,
    on: NaiveDate,
) -> Result<Coverage, CoverageError> {
    let c = &p.coverage;
    let vat_covered = match c.vat.value {
        VatPolicy::Never => false,
        VatPolicy::Always => true,
        VatPolicy::UnlessRegistered => !a.vat_registered,
    };
    let factor = if vat_covered {
        Decimal::ONE + c.vat_rate.value
    } else {
        Decimal::ONE
    };
    // A computed net amount, with VAT when it is covered, rounded to pence.
    let gross = |net: Decimal| Money::from_computed(if vat_covered { net * factor } else { net });
    // The same for an amount already in pence: without VAT it is as it stands.
    let gross_of = |net: Money| {
        if vat_covered {
            gross(net.as_decimal())
        } else {
            Ok(net)
        }
    };

    let fees = in_force(&c.certification_fee, on).ok_or(CoverageError::NoFeeTable(on))?;
    let fee = gross_of(fees.value.fee(SizeBand::of(a.employees)))?;

    let days = r
        .consultancy_days
        .min(c.consultancy_days_cap.value)
        .max(Decimal::ZERO);
    let rate = r.day_rate.min(c.consultancy_day_rate_cap.value);
    let consultancy = match exact_pence(days, rate) {
        // Whole pence without VAT: nothing to round, the product stands.
        Some(pence) if !vat_covered => pence,
        _ => gross(days * rate.as_decimal())?,
    };

    let plus = if r.level == Level::Plus && c.plus_funded.value {
        let quote = r.plus_audit_quote.unwrap_or(c.plus_audit_cap.value);
        gross_of(quote.min(c.plus_audit_cap.value))?
    } else {
        Money::ZERO
    };

    let mut items = [Money::ZERO; 3];
    items[Item::Consultancy.index()] = consultancy;
    items[Item::CertificationFee.index()] = fee;
    items[Item::PlusAudit.index()] = plus;
    let total = consultancy.checked_add(fee)?.checked_add(plus)?;
    let award = total.min(c.award_cap.value);
    Ok(Coverage {
        items,
        total,
        award,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::applicant::{Contact, Organisation};
    use proptest::prelude::*;

    proptest! {
        /// The integer product, when it answers, is what rounding the
        /// decimal product gives; it answers for every exact product.
        #[test]
        fn exact_pence_agrees_with_the_decimal_product(
            mantissa in prop_oneof![0i64..100, 0i64..10_000, any::<i64>()],
            scale in 0u32..4,
            pence in prop_oneof![0u64..100_000, 0u64..=100_000_000_000_000],
            negative in any::<bool>(),
        ) {
            let mut days = Decimal::new(mantissa, scale);
            days.set_sign_negative(negative);
            let rate = Money::from_pence(pence).expect("in range");
            let general = days
                .checked_mul(rate.as_decimal())
                .map(Money::from_computed);
            match exact_pence(days, rate) {
                Some(fast) => prop_assert_eq!(general, Some(Ok(fast))),
                None => {
                    // Only inexact, negative or out-of-range products go the long way.
                    let exact = general
                        .clone()
                        .and_then(Result::ok)
                        .is_some_and(|m| m.as_decimal() == days * rate.as_decimal());
                    prop_assert!(!exact || scale > 2 || days.is_sign_negative(), "{days} x {rate}");
                }
            }
        }
    }

    fn applicant(employees: u32, vat_registered: bool) -> Applicant {
        Applicant {
            organisation: Organisation {
                name: "Acme Medical".into(),
                company_number: Some("01234567".into()),
                charity_number: None,
                ods_code: None,
                region: None,
            },
            contact: Contact {
                name: "A Person".into(),
                email: "a@example.org".into(),
            },
            sector: "medical-supplier".into(),
            employees,
            uk_based: true,
            already_certified: false,
            vat_registered,
        }
    }

    #[test]
    fn preset_covers_fee_and_consultancy_with_vat_for_unregistered() {
        let p = Programme::healthcare_cyber_essentials_2020();
        let on = NaiveDate::from_ymd_opt(2020, 10, 1).unwrap();
        let r = CostRequest {
            level: Level::Basic,
            consultancy_days: Decimal::new(15, 1),
            day_rate: Money::pounds(500),
            plus_audit_quote: None,
        };
        let c = estimate(&p, &applicant(20, false), &r, on).unwrap();
        assert_eq!(c.item(Item::CertificationFee), Money::pounds(360));
        assert_eq!(c.item(Item::Consultancy), Money::pounds(900));
        assert_eq!(c.total, Money::pounds(1260));
        assert_eq!(c.award, Money::pounds(1260));
        let c = estimate(&p, &applicant(20, true), &r, on).unwrap();
        assert_eq!(c.total, Money::pounds(1050));
    }

    #[test]
    fn caps_apply_and_the_dated_table_is_used() {
        let p = Programme::healthcare_cyber_essentials_2020();
        let on = NaiveDate::from_ymd_opt(2022, 2, 1).unwrap();
        let r = CostRequest {
            level: Level::Basic,
            consultancy_days: Decimal::from(10),
            day_rate: Money::pounds(900),
            plus_audit_quote: None,
        };
        let c = estimate(&p, &applicant(100, true), &r, on).unwrap();
        assert_eq!(c.item(Item::Consultancy), Money::pounds(1800));
        assert_eq!(c.item(Item::CertificationFee), Money::pounds(450));
        assert_eq!(c.award, Money::pounds(2250));
        let c = estimate(&p, &applicant(100, false), &r, on).unwrap();
        assert_eq!(c.total, Money::pounds(2700));
        assert_eq!(c.award, Money::pounds(2500));
    }

    #[test]
    fn plus_only_when_funded() {
        let mut p = Programme::healthcare_cyber_essentials_2020();
        let on = NaiveDate::from_ymd_opt(2020, 10, 1).unwrap();
        let r = CostRequest {
            level: Level::Plus,
            consultancy_days: Decimal::ZERO,
            day_rate: Money::ZERO,
            plus_audit_quote: Some(Money::pounds(3000)),
        };
        assert_eq!(
            estimate(&p, &applicant(5, true), &r, on)
                .unwrap()
                .item(Item::PlusAudit),
            Money::ZERO
        );
        p.coverage.plus_funded.value = true;
        assert_eq!(
            estimate(&p, &applicant(5, true), &r, on)
                .unwrap()
                .item(Item::PlusAudit),
            Money::pounds(1400)
        );
    }
}
