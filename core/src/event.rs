//! Events: the facts a programme records. An [`Event`] wraps one
//! [`EventKind`] with the command that caused it and the time; events are
//! never edited, and older schema versions keep loading through
//! [`Event::from_json`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::applicant::{Applicant, CostRequest};
use crate::coverage::{Coverage, Item};
use crate::eligibility::Criterion;
use crate::ids::{ApplicationId, CommandId};
use crate::money::Money;
use crate::programme::Programme;

/// The schema version written with every new event.
pub const EVENT_SCHEMA_VERSION: u16 = 2;

/// A recorded fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The schema version this event was written with.
    pub schema_version: u16,
    /// The command that caused it.
    pub command: CommandId,
    /// The `now` of that command.
    pub at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Why a certification attempt ended without a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The self-assessment failed twice.
    SecondFail,
    /// The feedback window closed without a resubmission.
    FeedbackWindowEnded,
    /// Six months (the pass window) went by without a pass.
    PassWindowEnded,
}

/// Why Cyber Essentials Plus was not achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlusEnd {
    /// The Plus audit failed twice.
    SecondFail,
    /// The Plus or re-test window ended.
    WindowEnded,
}

/// A reminder fired by a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reminder", rename_all = "snake_case")]
pub enum Reminder {
    /// An offer expires soon.
    OfferExpiring { expires: DateTime<Utc> },
    /// The feedback window closes soon.
    FeedbackClosing { closes: DateTime<Utc> },
    /// The Plus window closes soon.
    PlusWindowClosing { closes: DateTime<Utc> },
    /// The certificate expires in `days` days.
    CertificateExpiring { expires: DateTime<Utc>, days: u32 },
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The programme opened with these rules; the pot is credited.
    ProgrammeOpened { programme: Box<Programme> },
    /// Money was added to the pot.
    PotToppedUp { amount: Money, note: String },
    /// An application arrived; its coverage was computed with the rules in force (absent when ineligible).
    Submitted {
        application: ApplicationId,
        applicant: Arc<Applicant>,
        request: CostRequest,
        coverage: Option<Coverage>,
    },
    /// It failed these criteria.
    FoundIneligible {
        application: ApplicationId,
        failed: Vec<Criterion>,
    },
    /// It joined the waitlist.
    Waitlisted { application: ApplicationId },
    /// Money was reserved and offered until `expires`.
    Offered {
        application: ApplicationId,
        amount: Money,
        expires: DateTime<Utc>,
    },
    /// The offer was accepted; certification must pass by `pass_by`.
    Accepted {
        application: ApplicationId,
        pass_by: DateTime<Utc>,
    },
    /// The offer was declined; `released` went back to the pot.
    Declined {
        application: ApplicationId,
        released: Money,
    },
    /// The offer expired; `released` went back to the pot.
    Lapsed {
        application: ApplicationId,
        released: Money,
    },
    /// The applicant withdrew; `released` went back to the pot.
    Withdrawn {
        application: ApplicationId,
        released: Money,
        reason: String,
    },
    /// Consultancy began.
    ConsultancyEngaged { application: ApplicationId },
    /// A self-assessment was submitted (attempt 1 or 2).
    SelfAssessmentSubmitted {
        application: ApplicationId,
        attempt: u8,
    },
    /// The first attempt failed; feedback may be answered until `respond_by`.
    AssessmentFailed {
        application: ApplicationId,
        respond_by: DateTime<Utc>,
    },
    /// Certification ended without a certificate; `released` went back to the pot.
    CertificationFailed {
        application: ApplicationId,
        reason: FailureReason,
        released: Money,
    },
    /// Certified until `expires`; a funded Plus audit must pass by `plus_by`.
    Certified {
        application: ApplicationId,
        expires: DateTime<Utc>,
        plus_by: Option<DateTime<Utc>>,
    },
    /// A Plus audit was booked (attempt 1 or 2).
    PlusAuditBooked {
        application: ApplicationId,
        attempt: u8,
    },
    /// The first Plus audit failed; re-test by `retest_by`.
    PlusAuditFailed {
        application: ApplicationId,
        retest_by: DateTime<Utc>,
    },
    /// Certified to Cyber Essentials Plus.
    PlusCertified { application: ApplicationId },
    /// Plus was not achieved.
    PlusNotAchieved {
        application: ApplicationId,
        reason: PlusEnd,
    },
    /// An invoice was paid from the award's reservation.
    ClaimPaid {
        application: ApplicationId,
        item: Item,
        invoice_ref: String,
        amount: Money,
    },
    /// The award closed; `released` went back to the pot.
    Completed {
        application: ApplicationId,
        released: Money,
    },
    /// A paid amount was recovered into the pot.
    ClawedBack {
        application: ApplicationId,
        amount: Money,
        reason: String,
    },
    /// A time-based reminder is due.
    ReminderDue {
        application: ApplicationId,
        reminder: Reminder,
    },
}

impl EventKind {
    /// The stable name of the event type, e.g. `claim_paid`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ProgrammeOpened { .. } => "programme_opened",
            EventKind::PotToppedUp { .. } => "pot_topped_up",
            EventKind::Submitted { .. } => "submitted",
            EventKind::FoundIneligible { .. } => "found_ineligible",
            EventKind::Waitlisted { .. } => "waitlisted",
            EventKind::Offered { .. } => "offered",
            EventKind::Accepted { .. } => "accepted",
            EventKind::Declined { .. } => "declined",
            EventKind::Lapsed { .. } => "lapsed",
            EventKind::Withdrawn { .. } => "withdrawn",
            EventKind::ConsultancyEngaged { .. } => "consultancy_engaged",
            EventKind::SelfAssessmentSubmitted { .. } => "self_assessment_submitted",
            EventKind::AssessmentFailed { .. } => "assessment_failed",
            EventKind::CertificationFailed { .. } => "certification_failed",
            EventKind::Certified { .. } => "certified",
            EventKind::PlusAuditBooked { .. } => "plus_audit_booked",
            EventKind::PlusAuditFailed { .. } => "plus_audit_failed",
            EventKind::PlusCertified { .. } => "plus_certified",
            EventKind::PlusNotAchieved { .. } => "plus_not_achieved",
            EventKind::ClaimPaid { .. } => "claim_paid",
            EventKind::Completed { .. } => "completed",
            EventKind::ClawedBack { .. } => "clawed_back",
            EventKind::ReminderDue { .. } => "reminder_due",
        }
    }

    /// The application the event is about, if any.
    pub fn application(&self) -> Option<ApplicationId> {
        match self {
            EventKind::ProgrammeOpened { .. } | EventKind::PotToppedUp { .. } => None,
            EventKind::Submitted { application, .. }
            | EventKind::FoundIneligible { application, .. }
            | EventKind::Waitlisted { application }
            | EventKind::Offered { application, .. }
            | EventKind::Accepted { application, .. }
            | EventKind::Declined { application, .. }
            | EventKind::Lapsed { application, .. }
            | EventKind::Withdrawn { application, .. }
            | EventKind::ConsultancyEngaged { application }
            | EventKind::SelfAssessmentSubmitted { application, .. }
            | EventKind::AssessmentFailed { application, .. }
            | EventKind::CertificationFailed { application, .. }
            | EventKind::Certified { application, .. }
            | EventKind::PlusAuditBooked { application, .. }
            | EventKind::PlusAuditFailed { application, .. }
            | EventKind::PlusCertified { application }
            | EventKind::PlusNotAchieved { application, .. }
            | EventKind::ClaimPaid { application, .. }
            | EventKind::Completed { application, .. }
            | EventKind::ClawedBack { application, .. }
            | EventKind::ReminderDue { application, .. } => Some(*application),
        }
    }
}

/// An event that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The JSON does not describe an event.
    #[error("event JSON is malformed: {0}")]
    Malformed(String),
    /// Written by a newer grantflow.
    #[error(
        "event schema version {found} is newer than this grantflow reads ({supported}): upgrade grantflow"
    )]
    TooNew { found: u16, supported: u16 },
}

impl Event {
    /// A new event at the current schema version.
    pub fn new(command: CommandId, at: DateTime<Utc>, kind: EventKind) -> Event {
        Event {
            schema_version: EVENT_SCHEMA_VERSION,
            command,
            at,
            kind,
        }
    }

    /// Writes the event as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an event written by any schema version up to the current one,
    /// upcasting older versions. The result carries the current version.
    pub fn from_json(text: &str) -> Result<Event, DecodeError> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let version = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| DecodeError::Malformed("no schema_version".into()))?;
        let version = u16::try_from(version).map_err(|_| DecodeError::TooNew {
            found: u16::MAX,
            supported: EVENT_SCHEMA_VERSION,
        })?;
        if version > EVENT_SCHEMA_VERSION {
            return Err(DecodeError::TooNew {
                found: version,
                supported: EVENT_SCHEMA_VERSION,
            });
        }
        if version == 1 {
            upcast_v1(&mut value);
        }
        let mut event: Event =
            serde_json::from_value(value).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        event.schema_version = EVENT_SCHEMA_VERSION;
        Ok(event)
    }
}

/// Version 1 named a claim's supplier reference `invoice` and wrote reminders
/// for certificates without the expiry date.
fn upcast_v1(value: &mut serde_json::Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if obj.get("type").and_then(|t| t.as_str()) == Some("claim_paid") {
        if let Some(invoice) = obj.remove("invoice") {
            obj.insert("invoice_ref".into(), invoice);
        }
    }
    obj.insert(
        "schema_version".into(),
        serde_json::Value::from(EVENT_SCHEMA_VERSION),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_claims_upcast() {
        let v1 = r#"{"schema_version":1,"command":"00000000-0000-0000-0000-000000000001","at":"2020-10-01T09:00:00Z","type":"claim_paid","application":"00000000-0000-0000-0000-000000000002","item":"certification_fee","invoice":"INV-1","amount":"360.00"}"#;
        let e = Event::from_json(v1).unwrap();
        assert_eq!(e.schema_version, EVENT_SCHEMA_VERSION);
        assert!(
            matches!(&e.kind, EventKind::ClaimPaid { invoice_ref, .. } if invoice_ref == "INV-1")
        );
        let too_new = v1.replace("\"schema_version\":1", "\"schema_version\":99");
        assert_eq!(
            Event::from_json(&too_new),
            Err(DecodeError::TooNew {
                found: 99,
                supported: EVENT_SCHEMA_VERSION
            })
        );
        assert!(matches!(
            Event::from_json("{"),
            Err(DecodeError::Malformed(_))
        ));
    }
}
