//! What a run saw: the [`Trace`] of weekly [`WeekObs`], per-applicant
//! [`AppOutcome`]s and the pot's final [`PotTotals`].

use grantflow_core::{Money, StageKind};
use serde::{Deserialize, Serialize};

/// The pot, as seen at the end of a week.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekObs {
    /// Weeks since the start (0 = the start itself).
    pub week: u32,
    /// Not committed to anyone.
    pub available: Money,
    /// The lowest `available` seen during the week.
    pub min_available: Money,
    /// Reserved and not yet paid.
    pub reserved: Money,
    /// Paid so far.
    pub paid: Money,
    /// Released back so far (declines, lapses, withdrawals, failures, completion remainders).
    pub released: Money,
    /// Applications offered so far.
    pub offered: u32,
    /// Applications on the waitlist now.
    pub waitlisted: u32,
}

/// What became of one applicant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppOutcome {
    /// Eligible on submission (has a coverage estimate).
    pub eligible: bool,
    /// The award amount (zero when ineligible).
    pub award: Money,
    pub offered: bool,
    pub awarded: bool,
    pub certified: bool,
    pub plus_certified: bool,
    /// The stage at the end of the run (`submitted` if never submitted).
    pub stage: StageKind,
    pub paid: Money,
    pub released: Money,
}

impl Default for AppOutcome {
    fn default() -> Self {
        AppOutcome {
            eligible: false,
            award: Money::ZERO,
            offered: false,
            awarded: false,
            certified: false,
            plus_certified: false,
            stage: StageKind::Submitted,
            paid: Money::ZERO,
            released: Money::ZERO,
        }
    }
}

/// The pot's totals, tracked from the amounts the events carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PotTotals {
    pub credits: Money,
    pub available: Money,
    pub reserved: Money,
    pub paid: Money,
    pub released: Money,
}

/// What a run saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// One entry per week boundary from the start to the end.
    pub weeks: Vec<WeekObs>,
    /// One entry per draw, in the order of the draws.
    pub apps: Vec<AppOutcome>,
    /// The pot at the end.
    pub pot: PotTotals,
    /// Commands the core refused (late answers, claims after an award ended...).
    pub rejected: u32,
    /// Commands run.
    pub commands: u32,
}
