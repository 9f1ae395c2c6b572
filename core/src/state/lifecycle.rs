//! The certification lifecycle of one application: [`Stage`] (an enum with
//! the data each stage needs), its fieldless [`StageKind`], the [`Trigger`]s
//! that move it, and [`TRANSITIONS`], the table of every allowed move.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an application is, with the deadlines that stage runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Received; judged within the same command.
    Submitted,
    /// Failed an eligibility criterion (final).
    Ineligible,
    /// Eligible, waiting for money in arrival order.
    Waitlisted,
    /// Money reserved; the applicant must accept before `expires`.
    Offered { expires: DateTime<Utc> },
    /// The applicant declined the offer (final).
    Declined,
    /// The offer expired (final).
    Lapsed,
    /// Accepted; must pass by `pass_by`.
    Awarded { pass_by: DateTime<Utc> },
    /// A consultant is preparing the organisation.
    ConsultancyEngaged { pass_by: DateTime<Utc> },
    /// The self-assessment is with the assessor.
    SelfAssessmentSubmitted { pass_by: DateTime<Utc>, attempt: u8 },
    /// The first attempt failed; the applicant may answer feedback until `respond_by`.
    FeedbackDue {
        pass_by: DateTime<Utc>,
        respond_by: DateTime<Utc>,
    },
    /// Certification failed: second fail or a window ended (final).
    Failed,
    /// Certified to Cyber Essentials; a funded Plus audit must pass by `plus_by`.
    Certified { plus_by: Option<DateTime<Utc>> },
    /// The Plus audit is booked.
    PlusAuditBooked { plus_by: DateTime<Utc>, attempt: u8 },
    /// The first Plus audit failed; re-test by `retest_by`.
    PlusRetest {
        plus_by: DateTime<Utc>,
        retest_by: DateTime<Utc>,
    },
    /// Certified to Cyber Essentials Plus.
    PlusCertified,
    /// Plus was not achieved; the basic certificate stands.
    PlusNotAchieved,
    /// Closed after certification; unpaid money released (final).
    Completed,
    /// Withdrawn by the applicant (final).
    Withdrawn,
}

/// A stage without its data, for tables, filters and counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StageKind {
    Submitted,
    Ineligible,
    Waitlisted,
    Offered,
    Declined,
    Lapsed,
    Awarded,
    ConsultancyEngaged,
    SelfAssessmentSubmitted,
    FeedbackDue,
    Failed,
    Certified,
    PlusAuditBooked,
    PlusRetest,
    PlusCertified,
    PlusNotAchieved,
    Completed,
    Withdrawn,
}

impl StageKind {
    /// Every stage.
    pub const ALL: [StageKind; 18] = [
        StageKind::Submitted,
        StageKind::Ineligible,
        StageKind::Waitlisted,
        StageKind::Offered,
        StageKind::Declined,
        StageKind::Lapsed,
        StageKind::Awarded,
        StageKind::ConsultancyEngaged,
        StageKind::SelfAssessmentSubmitted,
        StageKind::FeedbackDue,
        StageKind::Failed,
        StageKind::Certified,
        StageKind::PlusAuditBooked,
        StageKind::PlusRetest,
        StageKind::PlusCertified,
        StageKind::PlusNotAchieved,
        StageKind::Completed,
        StageKind::Withdrawn,
    ];

    /// The stable name, e.g. `self_assessment_submitted`.
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Submitted => "submitted",
            StageKind::Ineligible => "ineligible",
            StageKind::Waitlisted => "waitlisted",
            StageKind::Offered => "offered",
            StageKind::Declined => "declined",
            StageKind::Lapsed => "lapsed",
            StageKind::Awarded => "awarded",
            StageKind::ConsultancyEngaged => "consultancy_engaged",
            StageKind::SelfAssessmentSubmitted => "self_assessment_submitted",
            StageKind::FeedbackDue => "feedback_due",
            StageKind::Failed => "failed",
            StageKind::Certified => "certified",
            StageKind::PlusAuditBooked => "plus_audit_booked",
            StageKind::PlusRetest => "plus_retest",
            StageKind::PlusCertified => "plus_certified",
            StageKind::PlusNotAchieved => "plus_not_achieved",
            StageKind::Completed => "completed",
            StageKind::Withdrawn => "withdrawn",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<StageKind> {
        StageKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether nothing but a clawback can follow.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            StageKind::Ineligible
                | StageKind::Declined
                | StageKind::Lapsed
                | StageKind::Failed
                | StageKind::Completed
                | StageKind::Withdrawn
        )
    }

    /// Whether the application holds (or held) an accepted award.
    pub fn is_funded(self) -> bool {
        matches!(
            self,
            StageKind::Awarded
                | StageKind::ConsultancyEngaged
                | StageKind::SelfAssessmentSubmitted
                | StageKind::FeedbackDue
                | StageKind::Certified
                | StageKind::PlusAuditBooked
                | StageKind::PlusRetest
                | StageKind::PlusCertified
                | StageKind::PlusNotAchieved
                | StageKind::Completed
        )
    }

    /// Whether the application reached a certificate.
    pub fn is_certified(self) -> bool {
        matches!(
            self,
            StageKind::Certified
                | StageKind::PlusAuditBooked
                | StageKind::PlusRetest
                | StageKind::PlusCertified
                | StageKind::PlusNotAchieved
        )
    }
}

impl std::fmt::Display for StageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Stage {
    /// The stage without its data.
    pub fn kind(&self) -> StageKind {
        match self {
            Stage::Submitted => StageKind::Submitted,
            Stage::Ineligible => StageKind::Ineligible,
            Stage::Waitlisted => StageKind::Waitlisted,
            Stage::Offered { .. } => StageKind::Offered,
            Stage::Declined => StageKind::Declined,
            Stage::Lapsed => StageKind::Lapsed,
            Stage::Awarded { .. } => StageKind::Awarded,
            Stage::ConsultancyEngaged { .. } => StageKind::ConsultancyEngaged,
            Stage::SelfAssessmentSubmitted { .. } => StageKind::SelfAssessmentSubmitted,
            Stage::FeedbackDue { .. } => StageKind::FeedbackDue,
            Stage::Failed => StageKind::Failed,
            Stage::Certified { .. } => StageKind::Certified,
            Stage::PlusAuditBooked { .. } => StageKind::PlusAuditBooked,
            Stage::PlusRetest { .. } => StageKind::PlusRetest,
            Stage::PlusCertified => StageKind::PlusCertified,
            Stage::PlusNotAchieved => StageKind::PlusNotAchieved,
            Stage::Completed => StageKind::Completed,
            Stage::Withdrawn => StageKind::Withdrawn,
        }
    }

    /// The pass deadline of a stage before certification.
    pub fn pass_by(&self) -> Option<DateTime<Utc>> {
        match *self {
            Stage::Awarded { pass_by }
            | Stage::ConsultancyEngaged { pass_by }
            | Stage::SelfAssessmentSubmitted { pass_by, .. }
            | Stage::FeedbackDue { pass_by, .. } => Some(pass_by),
            _ => None,
        }
    }
}

/// A milestone an assessor or administrator records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Milestone {
    /// A consultant starts readiness work.
    ConsultancyEngaged,
    /// The self-assessment questionnaire is submitted, signed by a board member.
    SelfAssessmentSubmitted,
    /// The assessor passed the self-assessment.
    AssessmentPassed,
    /// The assessor failed the self-assessment.
    AssessmentFailed,
    /// The Plus audit is booked.
    PlusAuditBooked,
    /// The Plus audit passed.
    PlusAuditPassed,
    /// The Plus audit failed.
    PlusAuditFailed,
}

impl Milestone {
    /// Every milestone.
    pub const ALL: [Milestone; 7] = [
        Milestone::ConsultancyEngaged,
        Milestone::SelfAssessmentSubmitted,
        Milestone::AssessmentPassed,
        Milestone::AssessmentFailed,
        Milestone::PlusAuditBooked,
        Milestone::PlusAuditPassed,
        Milestone::PlusAuditFailed,
    ];
}

/// What moves an application from one stage to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trigger {
    /// A new application arrives.
    Submit,
    /// Submitted and ineligible.
    SubmitIneligible,
    /// Submitted, eligible, no room (or a strict queue ahead).
    SubmitWaitlisted,
    /// Submitted, eligible and funded at once.
    SubmitOffered,
    /// Money released and the waitlisted application now fits.
    Reoffer,
    Accept,
    Decline,
    /// The offer window ended at a tick.
    OfferExpired,
    Withdraw,
    Milestone(Milestone),
    /// The first self-assessment failed.
    FirstFail,
    /// The second self-assessment failed.
    SecondFail,
    /// The 6-month pass window ended at a tick.
    PassWindowEnded,
    /// The feedback window ended at a tick without a resubmission.
    FeedbackWindowEnded,
    /// The first Plus audit failed.
    PlusFirstFail,
    /// The second Plus audit failed.
    PlusSecondFail,
    /// The Plus window or the re-test window ended at a tick.
    PlusWindowEnded,
    Complete,
}

use StageKind as S;
use Trigger as T;

/// Every allowed transition: (from, trigger, to). `None` as `from` means no application yet.
pub const TRANSITIONS: &[(Option<StageKind>, Trigger, StageKind)] = &[
    (None, T::Submit, S::Submitted),
    (Some(S::Submitted), T::SubmitIneligible, S::Ineligible),
    (Some(S::Submitted), T::SubmitWaitlisted, S::Waitlisted),
    (Some(S::Submitted), T::SubmitOffered, S::Offered),
    (Some(S::Waitlisted), T::Reoffer, S::Offered),
    (Some(S::Waitlisted), T::Withdraw, S::Withdrawn),
    (Some(S::Offered), T::Accept, S::Awarded),
    (Some(S::Offered), T::Decline, S::Declined),
    (Some(S::Offered), T::OfferExpired, S::Lapsed),
    (Some(S::Offered), T::Withdraw, S::Withdrawn),
    (
        Some(S::Awarded),
        T::Milestone(Milestone::ConsultancyEngaged),
        S::ConsultancyEngaged,
    ),
    (Some(S::Awarded), T::Withdraw, S::Withdrawn),
    (Some(S::Awarded), T::PassWindowEnded, S::Failed),
    (
        Some(S::ConsultancyEngaged),
        T::Milestone(Milestone::SelfAssessmentSubmitted),
        S::SelfAssessmentSubmitted,
    ),
    (Some(S::ConsultancyEngaged), T::Withdraw, S::Withdrawn),
    (Some(S::ConsultancyEngaged), T::PassWindowEnded, S::Failed),
    (
        Some(S::SelfAssessmentSubmitted),
        T::Milestone(Milestone::AssessmentPassed),
        S::Certified,
    ),
    (
        Some(S::SelfAssessmentSubmitted),
        T::FirstFail,
        S::FeedbackDue,
    ),
    (Some(S::SelfAssessmentSubmitted), T::SecondFail, S::Failed),
    (Some(S::SelfAssessmentSubmitted), T::Withdraw, S::Withdrawn),
    (
        Some(S::SelfAssessmentSubmitted),
        T::PassWindowEnded,
        S::Failed,
    ),
    (
        Some(S::FeedbackDue),
        T::Milestone(Milestone::SelfAssessmentSubmitted),
        S::SelfAssessmentSubmitted,
    ),
    (Some(S::FeedbackDue), T::FeedbackWindowEnded, S::Failed),
    (Some(S::FeedbackDue), T::PassWindowEnded, S::Failed),
    (Some(S::FeedbackDue), T::Withdraw, S::Withdrawn),
    (
        Some(S::Certified),
        T::Milestone(Milestone::PlusAuditBooked),
        S::PlusAuditBooked,
    ),
    (Some(S::Certified), T::PlusWindowEnded, S::PlusNotAchieved),
    (Some(S::Certified), T::Complete, S::Completed),
    (Some(S::Certified), T::Withdraw, S::Withdrawn),
    (
        Some(S::PlusAuditBooked),
        T::Milestone(Milestone::PlusAuditPassed),
        S::PlusCertified,
    ),
    (Some(S::PlusAuditBooked), T::PlusFirstFail, S::PlusRetest),
    (
        Some(S::PlusAuditBooked),
        T::PlusSecondFail,
        S::PlusNotAchieved,
    ),
    (
        Some(S::PlusAuditBooked),
        T::PlusWindowEnded,
        S::PlusNotAchieved,
    ),
    (Some(S::PlusAuditBooked), T::Withdraw, S::Withdrawn),
    (
        Some(S::PlusRetest),
        T::Milestone(Milestone::PlusAuditBooked),
        S::PlusAuditBooked,
    ),
    (Some(S::PlusRetest), T::PlusWindowEnded, S::PlusNotAchieved),
    (Some(S::PlusRetest), T::Withdraw, S::Withdrawn),
    (Some(S::PlusCertified), T::Complete, S::Completed),
    (Some(S::PlusCertified), T::Withdraw, S::Withdrawn),
    (Some(S::PlusNotAchieved), T::Complete, S::Completed),
    (Some(S::PlusNotAchieved), T::Withdraw, S::Withdrawn),
];

/// Whether the table allows `trigger` from `from`, and to which stage.
pub fn transition(from: Option<StageKind>, trigger: Trigger) -> Option<StageKind> {
    TRANSITIONS
        .iter()
        .find(|(f, t, _)| *f == from && *t == trigger)
        .map(|(_, _, to)| *to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_a_function_and_final_stages_have_no_exit() {
        for (i, (f, t, _)) in TRANSITIONS.iter().enumerate() {
            assert!(
                !TRANSITIONS[..i].iter().any(|(g, u, _)| g == f && u == t),
                "duplicate row {f:?} {t:?}"
            );
            if let Some(f) = f {
                assert!(!f.is_final(), "{f} is final but has a transition");
            }
        }
        for k in StageKind::ALL {
            assert_eq!(StageKind::parse(k.as_str()), Some(k));
            if !k.is_final() {
                assert!(
                    TRANSITIONS.iter().any(|(f, _, _)| *f == Some(k)),
                    "{k} has no exit"
                );
            }
        }
    }
}
