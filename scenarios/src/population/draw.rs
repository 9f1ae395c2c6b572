//! One simulated applicant: [`Draw`], with its pre-drawn [`Behaviour`] and
//! its [`Answer`] to an offer.

use grantflow_core::{Applicant, CostRequest};
use serde::{Deserialize, Serialize};

use super::Profile;

/// What an applicant does with an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Accept,
    Decline,
    /// Lets it lapse.
    Ignore,
}

/// One applicant's pre-drawn behaviour. Days are counted from the event named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    pub answer: Answer,
    /// Offer to answer.
    pub answer_days: u16,
    /// Waitlisted to withdrawal, if the applicant gives up waiting.
    pub waitlist_patience_days: Option<u16>,
    /// Acceptance to withdrawal, if the applicant withdraws.
    pub withdraw_days: Option<u16>,
    /// Engages a consultant but never submits.
    pub never_finish: bool,
    /// Acceptance to consultancy engaged.
    pub engage_days: u16,
    /// Consultancy engaged to self-assessment submitted.
    pub prepare_days: u16,
    /// Submission to the assessor's verdict (each attempt).
    pub marking_days: u16,
    pub first_pass: bool,
    pub answers_feedback: bool,
    pub second_pass: bool,
    /// Certified to Plus audit.
    pub plus_booking_days: u16,
    pub plus_first_pass: bool,
    /// Failed Plus audit to re-test.
    pub plus_retest_days: u16,
    pub plus_retest_pass: bool,
    /// Milestone to invoice claimed.
    pub invoice_days: u16,
}

impl Draw {
    /// The applicant as the core sees it (see [`Profile::applicant`]).
    pub fn applicant(&self) -> Applicant {
        self.profile.applicant()
    }
}

/// One simulated applicant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Draw {
    pub profile: Profile,
    pub request: CostRequest,
    /// Minutes after 00:00 UTC on the programme's opening day.
    pub arrival_minutes: u32,
    pub behaviour: Behaviour,
}
