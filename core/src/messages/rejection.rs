//! Domain rejections: a [`Rejection`] says why a command was refused, with a
//! stable [`RejectionCode`], a sentence saying what to do, and the rule or
//! state it came from. A rejected command changes nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable machine-readable reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectionCode {
    /// The programme has not been opened yet.
    NotOpened,
    /// The programme is already open.
    AlreadyOpened,
    /// The rules in an `open` command are invalid.
    InvalidRules,
    /// No application has that id.
    UnknownApplication,
    /// An application with that id exists already.
    DuplicateApplication,
    /// A field of the application is unusable.
    InvalidApplication,
    /// The coverage could not be computed (no fee table on that date).
    NoCoverage,
    /// The command is not allowed in the application's stage.
    IllegalTransition,
    /// A Plus milestone for an application without funded Plus.
    PlusNotFunded,
    /// The claim's milestone has not been reached.
    MilestoneNotReached,
    /// The supplier invoice reference was claimed already.
    DuplicateInvoice,
    /// The claim is larger than what is left for that item.
    ClaimExceedsCovered,
    /// An amount of zero where money must move.
    ZeroAmount,
    /// A clawback larger than the net paid amount.
    ClawbackExceedsPaid,
    /// A clawback before the award is closed.
    NotCompleted,
    /// `now` is earlier than the last recorded event.
    ClockWentBackwards,
    /// A free text (a command's note, reason or invoice reference, or an
    /// applicant's name, contact, region or sector) is too short, too long
    /// or holds a control character.
    InvalidText,
    /// The pot would leave the range of money.
    AmountOutOfRange,
    /// `now` is outside the years 1900 to 9999, or in a leap second.
    TimeOutOfRange,
    /// The command id was recorded before for a different command.
    CommandIdReused,
    /// The state does not take the events of its own deadlines: the
    /// programme's state is damaged (a defect, or a snapshot edited by
    /// hand), to be reported with the programme's event log. Nothing was
    /// recorded.
    InconsistentState,
}

impl RejectionCode {
    /// Every code.
    pub const ALL: [RejectionCode; 21] = [
        RejectionCode::NotOpened,
        RejectionCode::AlreadyOpened,
        RejectionCode::InvalidRules,
        RejectionCode::UnknownApplication,
        RejectionCode::DuplicateApplication,
        RejectionCode::InvalidApplication,
        RejectionCode::NoCoverage,
        RejectionCode::IllegalTransition,
        RejectionCode::PlusNotFunded,
        RejectionCode::MilestoneNotReached,
        RejectionCode::DuplicateInvoice,
        RejectionCode::ClaimExceedsCovered,
        RejectionCode::ZeroAmount,
        RejectionCode::ClawbackExceedsPaid,
        RejectionCode::NotCompleted,
        RejectionCode::ClockWentBackwards,
        RejectionCode::InvalidText,
        RejectionCode::AmountOutOfRange,
        RejectionCode::TimeOutOfRange,
        RejectionCode::CommandIdReused,
        RejectionCode::InconsistentState,
    ];

    /// The code as written on the wire, e.g. `illegal_transition`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::NotOpened => "not_opened",
            RejectionCode::AlreadyOpened => "already_opened",
            RejectionCode::InvalidRules => "invalid_rules",
            RejectionCode::UnknownApplication => "unknown_application",
            RejectionCode::DuplicateApplication => "duplicate_application",
            RejectionCode::InvalidApplication => "invalid_application",
            RejectionCode::NoCoverage => "no_coverage",
            RejectionCode::IllegalTransition => "illegal_transition",
            RejectionCode::PlusNotFunded => "plus_not_funded",
            RejectionCode::MilestoneNotReached => "milestone_not_reached",
            RejectionCode::DuplicateInvoice => "duplicate_invoice",
            RejectionCode::ClaimExceedsCovered => "claim_exceeds_covered",
            RejectionCode::ZeroAmount => "zero_amount",
            RejectionCode::ClawbackExceedsPaid => "clawback_exceeds_paid",
            RejectionCode::NotCompleted => "not_completed",
            RejectionCode::ClockWentBackwards => "clock_went_backwards",
            RejectionCode::InvalidText => "invalid_text",
            RejectionCode::AmountOutOfRange => "amount_out_of_range",
            RejectionCode::TimeOutOfRange => "time_out_of_range",
            RejectionCode::CommandIdReused => "command_id_reused",
            RejectionCode::InconsistentState => "inconsistent_state",
        }
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{code}: {message}")]
pub struct Rejection {
    /// Stable code.
    pub code: RejectionCode,
    /// What was wrong and what to do.
    pub message: String,
    /// The rule, field or stage involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Rejection {
    /// A rejection with a message and the rule or state involved.
    pub fn new(
        code: RejectionCode,
        message: impl Into<String>,
        subject: impl Into<String>,
    ) -> Rejection {
        Rejection {
            code,
            message: message.into(),
            subject: Some(subject.into()),
        }
    }
}
