//! The distributions a population is made of: ranges of days and pounds,
//! the sector, size and consultancy-day mixes, arrivals and the behaviour model.

use grantflow_core::Money;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A share of applicants with some property: a probability from 0 to 1.
pub type Probability = f64;

/// Whole days, drawn uniformly from `min` to `max` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayRange {
    pub min: u16,
    pub max: u16,
}

impl DayRange {
    /// A range from `min` to `max` days.
    pub const fn new(min: u16, max: u16) -> DayRange {
        DayRange { min, max }
    }

    pub(super) fn draw(&self, rng: &mut impl Rng) -> u16 {
        if self.max <= self.min {
            self.min
        } else {
            rng.random_range(self.min..=self.max)
        }
    }
}

/// An amount in whole pounds from a triangular distribution (`min`, `mode`,
/// `max`), rounded to the nearest `step` pounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoundsRange {
    pub min: u32,
    pub mode: u32,
    pub max: u32,
    #[serde(default = "one")]
    pub step: u32,
}

fn one() -> u32 {
    1
}

impl PoundsRange {
    pub(super) fn draw(&self, rng: &mut impl Rng) -> Money {
        let (a, c, b) = (
            f64::from(self.min),
            f64::from(self.mode),
            f64::from(self.max),
        );
        let x = if b <= a {
            a
        } else {
            let u: f64 = rng.random();
            let f = (c - a) / (b - a);
            if u < f {
                a + ((b - a) * (c - a) * u).sqrt()
            } else {
                b - ((b - a) * (b - c) * (1.0 - u)).sqrt()
            }
        };
        let step = f64::from(self.step.max(1));
        let pounds = ((x / step).round() * step).clamp(a, b.max(a));
        // In range of u32 by the clamp; whole pounds keep the amount exact.
        Money::pounds(pounds as u32)
    }
}

/// A sector's share of applicants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectorShare {
    /// A sector id of the programme, e.g. `gp-practice`.
    pub sector: String,
    /// Relative weight (the weights need not add up to 1).
    pub weight: f64,
    /// Share of this sector's applicants that are VAT-registered.
    pub vat_registered: Probability,
}

/// Staff counts by size band: relative weights; the count is uniform within the band.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeMix {
    /// 1 to 9 staff.
    pub micro: f64,
    /// 10 to 49 staff.
    pub small: f64,
    /// 50 to 249 staff.
    pub medium: f64,
    /// 250 to 1,000 staff (not an SME: ineligible under the 2020 rules).
    pub large: f64,
}

/// Consultancy days quoted: a discrete distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaysMix {
    /// Days, at most two decimals (e.g. 1.5).
    pub days: Vec<f64>,
    /// Relative weights, one per entry of `days`.
    pub weights: Vec<f64>,
}

/// When applications arrive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// Weeks from the opening day over which applications arrive.
    pub weeks: u16,
    /// Each week's share of arrivals is this times the week before's
    /// (1 = even; below 1 = front-loaded, as after an announcement).
    pub weekly_decay: f64,
}

/// How applicants behave after they apply. Probabilities are per applicant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehaviourModel {
    /// Declines an offer.
    pub decline_offer: Probability,
    /// Never answers an offer, which lapses.
    pub ignore_offer: Probability,
    /// Days from an offer to the answer.
    pub answer_days: DayRange,
    /// Gives up waiting on the waitlist (withdraws from it).
    pub leave_waitlist: Probability,
    /// Days on the waitlist before giving up.
    pub waitlist_patience_days: DayRange,
    /// Withdraws after accepting, before finishing.
    pub withdraw_after_award: Probability,
    /// Days from acceptance to the withdrawal.
    pub withdraw_days: DayRange,
    /// Engages a consultant and then never finishes within the pass window.
    pub never_finish: Probability,
    /// Days from acceptance to engaging a consultant.
    pub engage_days: DayRange,
    /// Days of readiness work before the self-assessment is submitted.
    pub prepare_days: DayRange,
    /// Days the assessor takes to mark.
    pub marking_days: DayRange,
    /// Passes the self-assessment at the first attempt.
    pub first_pass: Probability,
    /// Answers the assessor's feedback within the feedback window after a first fail.
    pub answer_feedback: Probability,
    /// Passes at the second attempt.
    pub second_pass: Probability,
    /// Days from the basic certificate to the Plus audit.
    pub plus_booking_days: DayRange,
    /// Passes the Plus audit at the first attempt.
    pub plus_first_pass: Probability,
    /// Days from a failed Plus audit to the re-test.
    pub plus_retest_days: DayRange,
    /// Passes the Plus re-test.
    pub plus_retest_pass: Probability,
    /// Days from a milestone to the supplier's invoice being claimed.
    pub invoice_days: DayRange,
}
