//! The pot tracked in pence ([`Pence`]): cheap to update on every event,
//! read out as [`PotTotals`].

use grantflow_core::Money;

use super::PotTotals;

/// The pot's totals in pence, as [`PotTotals`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Pence {
    pub(super) credits: i64,
    pub(super) available: i64,
    pub(super) reserved: i64,
    pub(super) paid: i64,
    pub(super) released: i64,
}

impl Pence {
    pub(super) fn totals(&self) -> PotTotals {
        PotTotals {
            credits: money(self.credits),
            available: money(self.available),
            reserved: money(self.reserved),
            paid: money(self.paid),
            released: money(self.released),
        }
    }
}

/// An amount in pence (amounts are kept with two decimals, read directly).
pub(super) fn pence(m: Money) -> i64 {
    let d = m.as_decimal();
    if d.scale() == 2 {
        i64::try_from(d.mantissa()).unwrap_or(i64::MAX)
    } else {
        m.pence()
    }
}

/// Pence as money: at most [`Money::MAX`], at least zero.
pub(super) fn money(pence: i64) -> Money {
    match u64::try_from(pence) {
        Ok(p) => Money::from_pence(p).unwrap_or(Money::MAX),
        Err(_) => Money::ZERO,
    }
}

/// `a + b` pence.
pub(super) fn plus(a: i64, b: Money) -> i64 {
    a.saturating_add(pence(b))
}

/// `a - b` pence, or zero if `b` is larger.
pub(super) fn minus(a: i64, b: Money) -> i64 {
    a.saturating_sub(pence(b)).max(0)
}

pub(super) fn add(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap_or(Money::MAX)
}
