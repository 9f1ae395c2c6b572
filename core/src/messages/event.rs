//! Events: the facts a programme records. An [`Event`] wraps one
//! [`EventKind`] with the command that caused it and the time; events are
//! never edited, and older schema versions keep loading through
//! [`Event::from_json`].
//!
//! The JSON of an event (schema version 3) is its envelope, with the kind
//! nested under `event`:
//!
//! ```json
//! {"schema_version":3,"command":"…","at":"2020-10-01T09:00:00Z",
//!  "event":{"type":"waitlisted","application":"…"}}
//! ```
//!
//! Versions 1 and 2 wrote one flat object (the envelope and the kind's
//! fields side by side); [`Event::from_json`] upcasts them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ledger::money::Money;
use crate::messages::command::Origin;
use crate::messages::ids::{ApplicationId, CommandId};
use crate::rules::applicant::{Applicant, CostRequest};
use crate::rules::coverage::{Coverage, Item};
use crate::rules::eligibility::Criterion;
use crate::rules::programme::Programme;

/// The schema version written with every new event.
pub const EVENT_SCHEMA_VERSION: u16 = 3;

/// A recorded fact, as written: its fields are the envelope of the JSON
/// form, the kind nested under `event`. A new optional envelope field is
/// one more field here, with `#[serde(default)]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The schema version this event was written with.
    pub schema_version: u16,
    /// The command that caused it.
    pub command: CommandId,
    /// The `now` of that command.
    #[serde(deserialize_with = "rfc3339::de")]
    pub at: DateTime<Utc>,
    /// What the command asked: on its first event only (absent on events
    /// written before command ids were checked against their command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// What happened.
    #[serde(rename = "event")]
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
#[non_exhaustive]
pub enum Reminder {
    /// An offer expires soon.
    OfferExpiring {
        #[serde(deserialize_with = "rfc3339::de")]
        expires: DateTime<Utc>,
    },
    /// The feedback window closes soon.
    FeedbackClosing {
        #[serde(deserialize_with = "rfc3339::de")]
        closes: DateTime<Utc>,
    },
    /// The Plus window closes soon.
    PlusWindowClosing {
        #[serde(deserialize_with = "rfc3339::de")]
        closes: DateTime<Utc>,
    },
    /// The certificate expires in `days` days.
    CertificateExpiring {
        #[serde(deserialize_with = "rfc3339::de")]
        expires: DateTime<Utc>,
        days: u32,
    },
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
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
        #[serde(deserialize_with = "rfc3339::de")]
        expires: DateTime<Utc>,
    },
    /// The offer was accepted; certification must pass by `pass_by`.
    Accepted {
        application: ApplicationId,
        #[serde(deserialize_with = "rfc3339::de")]
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
        #[serde(deserialize_with = "rfc3339::de")]
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
        #[serde(deserialize_with = "rfc3339::de")]
        expires: DateTime<Utc>,
        #[serde(default, deserialize_with = "rfc3339::de_option")]
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
        #[serde(deserialize_with = "rfc3339::de")]
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
#[non_exhaustive]
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
            origin: None,
            kind,
        }
    }

    /// Writes the event as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an event written by any schema version up to the current one,
    /// upcasting older versions. The result carries the current version.
    ///
    /// An event of the current version is read directly; one of an older
    /// version goes through a JSON tree, brought to the current shape.
    pub fn from_json(text: &str) -> Result<Event, DecodeError> {
        let malformed = |e: serde_json::Error| DecodeError::Malformed(e.to_string());
        let direct = serde_json::from_str::<Event>(text);
        if let Ok(event) = &direct
            && event.schema_version == EVENT_SCHEMA_VERSION
        {
            return direct.map_err(malformed);
        }
        let mut value: Value = serde_json::from_str(text).map_err(malformed)?;
        let version = value
            .get("schema_version")
            .and_then(Value::as_u64)
            .ok_or_else(|| DecodeError::Malformed("no schema_version".into()))?;
        let version = u16::try_from(version).unwrap_or(u16::MAX);
        match version.cmp(&EVENT_SCHEMA_VERSION) {
            std::cmp::Ordering::Greater => {
                return Err(DecodeError::TooNew {
                    found: version,
                    supported: EVENT_SCHEMA_VERSION,
                });
            }
            // Not an event of the current version: say what is wrong with it.
            std::cmp::Ordering::Equal => return direct.map_err(malformed),
            std::cmp::Ordering::Less => upcast(&mut value, version),
        }
        let mut event: Event = serde_json::from_value(value).map_err(malformed)?;
        event.schema_version = EVENT_SCHEMA_VERSION;
        Ok(event)
    }
}

/// Brings the JSON of an event of an older schema `version` to the current
/// shape. Version 1 named a claim's supplier reference `invoice`; versions
/// 1 and 2 wrote the kind's fields beside the envelope's, not under `event`.
fn upcast(value: &mut Value, version: u16) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if version == 1
        && obj.get("type").and_then(Value::as_str) == Some("claim_paid")
        && let Some(invoice) = obj.remove("invoice")
    {
        obj.insert("invoice_ref".into(), invoice);
    }
    if version <= 2 {
        // The envelope of those versions; any other field was the kind's.
        const ENVELOPE: [&str; 3] = ["schema_version", "command", "at"];
        let (envelope, kind) = std::mem::take(obj)
            .into_iter()
            .partition::<serde_json::Map<_, _>, _>(|(k, _)| ENVELOPE.contains(&k.as_str()));
        *obj = envelope;
        obj.insert("event".into(), Value::Object(kind));
    }
}

/// Reading the timestamps of events with chrono's RFC 3339 parser
/// (`DateTime::parse_from_rfc3339`): chrono's `Deserialize` of a
/// `DateTime<Utc>` takes its general, relaxed parser, which was a fifth of
/// the instructions of a replay. The encoder writes RFC 3339; any text that
/// is not strict RFC 3339 still goes to the relaxed parser, so what reads
/// and the errors are as before.
mod rfc3339 {
    use std::fmt;

    use chrono::{DateTime, Utc};
    use serde::de::{self, Deserialize, Deserializer, Visitor};

    struct Stamp(DateTime<Utc>);

    impl<'de> Deserialize<'de> for Stamp {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct StampVisitor;
            impl Visitor<'_> for StampVisitor {
                type Value = Stamp;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an RFC 3339 formatted date and time string")
                }
                fn visit_str<E: de::Error>(self, text: &str) -> Result<Stamp, E> {
                    DateTime::parse_from_rfc3339(text)
                        .map(|t| t.to_utc())
                        .or_else(|_| text.parse())
                        .map(Stamp)
                        .map_err(E::custom)
                }
            }
            deserializer.deserialize_str(StampVisitor)
        }
    }

    /// For `#[serde(deserialize_with)]` on a `DateTime<Utc>` field.
    pub(super) fn de<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        Stamp::deserialize(d).map(|s| s.0)
    }

    /// For `#[serde(default, deserialize_with)]` on an `Option<DateTime<Utc>>` field.
    pub(super) fn de_option<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<Stamp>::deserialize(d).map(|s| s.map(|s| s.0))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// The same value as chrono's `Deserialize`, or an error in the same words.
        #[test]
        fn reads_as_chrono_does() {
            for text in [
                "2020-10-01T09:00:00Z",
                "2020-10-01T09:00:00.5Z",
                "2020-10-01T09:00:00.123456789Z",
                "2020-10-01T09:00:00+01:00",
                "2020-10-01t09:00:00z",
                "2020-10-01 09:00:00Z",
                "2020-10-01T09:00:00 UTC",
                "2020-1-1T9:00:00Z",
                "2016-12-31T23:59:60Z",
                "2021-02-29T00:00:00Z",
                "+10000-01-01T00:00:00Z",
                "2020-10-01T09:00:00",
                "2020-10-01T09:00:00Z ",
                "",
                "later",
            ] {
                let json = serde_json::Value::from(text);
                let ours = de(&json).map_err(|e| e.to_string());
                let chrono = DateTime::<Utc>::deserialize(&json).map_err(|e| e.to_string());
                assert_eq!(ours, chrono, "{text:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    use super::*;
    use crate::rules::applicant::{Contact, Organisation};
    use crate::rules::programme::Level;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 10, day, 9, 0, 0).unwrap()
    }

    /// Where a kind stands in [`samples`]: exhaustive, so a new variant
    /// fails to compile until it has a sample.
    fn variant_index(kind: &EventKind) -> usize {
        match kind {
            EventKind::ProgrammeOpened { .. } => 0,
            EventKind::PotToppedUp { .. } => 1,
            EventKind::Submitted { .. } => 2,
            EventKind::FoundIneligible { .. } => 3,
            EventKind::Waitlisted { .. } => 4,
            EventKind::Offered { .. } => 5,
            EventKind::Accepted { .. } => 6,
            EventKind::Declined { .. } => 7,
            EventKind::Lapsed { .. } => 8,
            EventKind::Withdrawn { .. } => 9,
            EventKind::ConsultancyEngaged { .. } => 10,
            EventKind::SelfAssessmentSubmitted { .. } => 11,
            EventKind::AssessmentFailed { .. } => 12,
            EventKind::CertificationFailed { .. } => 13,
            EventKind::Certified { .. } => 14,
            EventKind::PlusAuditBooked { .. } => 15,
            EventKind::PlusAuditFailed { .. } => 16,
            EventKind::PlusCertified { .. } => 17,
            EventKind::PlusNotAchieved { .. } => 18,
            EventKind::ClaimPaid { .. } => 19,
            EventKind::Completed { .. } => 20,
            EventKind::ClawedBack { .. } => 21,
            EventKind::ReminderDue { .. } => 22,
        }
    }
    const VARIANTS: usize = 23;

    /// At least one event of every kind, with optional fields both set and absent.
    fn samples() -> Vec<Event> {
        let app = ApplicationId::from_name("app");
        let m = Money::pounds(300);
        let applicant = Applicant {
            organisation: Organisation {
                name: "Supplier \"One\" \u{e9}".into(),
                company_number: Some("01234567".into()),
                charity_number: None,
                ods_code: None,
                region: Some("North West".into()),
            },
            contact: Contact {
                name: "Office Manager".into(),
                email: "office@supplier.example".into(),
            },
            sector: "medical-supplier".into(),
            employees: 20,
            uk_based: true,
            already_certified: false,
            vat_registered: true,
        };
        let request = CostRequest {
            level: Level::Basic,
            consultancy_days: Decimal::new(25, 1),
            day_rate: Money::pounds(450),
            plus_audit_quote: Some(Money::pounds(1_000)),
        };
        let coverage = Coverage {
            items: [Money::pounds(900), m, Money::ZERO],
            total: Money::pounds(1_200),
            award: Money::pounds(1_200),
        };
        let kinds = vec![
            EventKind::ProgrammeOpened {
                programme: Box::new(Programme::healthcare_cyber_essentials_2020()),
            },
            EventKind::PotToppedUp {
                amount: Money::from_pence(12_345).unwrap(),
                note: "line\nbreak".into(),
            },
            EventKind::Submitted {
                application: app,
                applicant: Arc::new(applicant.clone()),
                request: request.clone(),
                coverage: Some(coverage),
            },
            EventKind::Submitted {
                application: app,
                applicant: Arc::new(applicant),
                request,
                coverage: None,
            },
            EventKind::FoundIneligible {
                application: app,
                failed: vec![Criterion {
                    id: "size".into(),
                    passed: false,
                    sentence: "too large".into(),
                    reference: Some("source".into()),
                }],
            },
            EventKind::Waitlisted { application: app },
            EventKind::Offered {
                application: app,
                amount: m,
                expires: at(15),
            },
            EventKind::Accepted {
                application: app,
                pass_by: at(20),
            },
            EventKind::Declined {
                application: app,
                released: m,
            },
            EventKind::Lapsed {
                application: app,
                released: m,
            },
            EventKind::Withdrawn {
                application: app,
                released: m,
                reason: "closed".into(),
            },
            EventKind::ConsultancyEngaged { application: app },
            EventKind::SelfAssessmentSubmitted {
                application: app,
                attempt: 2,
            },
            EventKind::AssessmentFailed {
                application: app,
                respond_by: at(3),
            },
            EventKind::CertificationFailed {
                application: app,
                reason: FailureReason::FeedbackWindowEnded,
                released: m,
            },
            EventKind::Certified {
                application: app,
                expires: at(30),
                plus_by: Some(at(29)),
            },
            EventKind::Certified {
                application: app,
                expires: at(30),
                plus_by: None,
            },
            EventKind::PlusAuditBooked {
                application: app,
                attempt: 1,
            },
            EventKind::PlusAuditFailed {
                application: app,
                retest_by: at(28),
            },
            EventKind::PlusCertified { application: app },
            EventKind::PlusNotAchieved {
                application: app,
                reason: PlusEnd::WindowEnded,
            },
            EventKind::ClaimPaid {
                application: app,
                item: Item::PlusAudit,
                invoice_ref: "INV-1".into(),
                amount: m,
            },
            EventKind::Completed {
                application: app,
                released: Money::ZERO,
            },
            EventKind::ClawedBack {
                application: app,
                amount: m,
                reason: "overstated".into(),
            },
            EventKind::ReminderDue {
                application: app,
                reminder: Reminder::OfferExpiring { expires: at(15) },
            },
            EventKind::ReminderDue {
                application: app,
                reminder: Reminder::CertificateExpiring {
                    expires: at(15),
                    days: 30,
                },
            },
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, k)| Event::new(CommandId::from_name(&format!("c{i}")), at(1), k))
            .collect()
    }

    /// The event's JSON in the flat shape of schema versions 1 and 2: the
    /// kind's fields beside the envelope's.
    fn flat(e: &Event, version: u16) -> String {
        let Value::Object(mut map) = serde_json::to_value(e).unwrap() else {
            panic!("an event is not an object")
        };
        let Some(Value::Object(kind)) = map.remove("event") else {
            panic!("no event object")
        };
        map.insert("schema_version".into(), Value::from(version));
        map.extend(kind);
        Value::Object(map).to_string()
    }

    /// The event's JSON with the keys of the envelope, and of the kind,
    /// in reverse alphabetical order (`type` first in the kind).
    fn reversed(e: &Event) -> String {
        fn text(value: Value, depth: u8) -> String {
            match value {
                Value::Object(map) if depth > 0 => {
                    let pairs: Vec<String> = map
                        .into_iter()
                        .rev()
                        .map(|(k, v)| format!("{}:{}", Value::from(k), text(v, depth - 1)))
                        .collect();
                    format!("{{{}}}", pairs.join(","))
                }
                other => other.to_string(),
            }
        }
        text(serde_json::to_value(e).unwrap(), 2)
    }

    #[test]
    fn samples_cover_every_kind() {
        let mut seen = [false; VARIANTS];
        for e in samples() {
            seen[variant_index(&e.kind)] = true;
        }
        assert!(seen.iter().all(|s| *s), "kinds without a sample: {seen:?}");
    }

    #[test]
    fn every_kind_round_trips() {
        for e in samples() {
            let json = e.to_json();
            assert!(
                json.starts_with("{\"schema_version\":3,\"command\":"),
                "{json}"
            );
            assert_eq!(Event::from_json(&json).as_ref(), Ok(&e), "{json}");
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
            // Through a JSON tree too (keys then come sorted, `type` late).
            let tree = serde_json::to_value(&e).unwrap();
            assert_eq!(serde_json::from_value::<Event>(tree).unwrap(), e);
            // Keys in any order.
            let json = reversed(&e);
            assert_eq!(Event::from_json(&json).as_ref(), Ok(&e), "{json}");
        }
    }

    #[test]
    fn the_written_form() {
        let e = Event::new(
            CommandId::from_name("c"),
            at(1),
            EventKind::ClaimPaid {
                application: ApplicationId::from_name("app"),
                item: Item::CertificationFee,
                invoice_ref: "INV-1".into(),
                amount: Money::from_pence(36_000).unwrap(),
            },
        );
        let (c, a) = (CommandId::from_name("c"), ApplicationId::from_name("app"));
        let json = format!(
            r#"{{"schema_version":3,"command":"{c}","at":"2020-10-01T09:00:00Z","event":{{"type":"claim_paid","application":"{a}","item":"certification_fee","invoice_ref":"INV-1","amount":"360.00"}}}}"#,
        );
        assert_eq!(e.to_json(), json);
        assert_eq!(Event::from_json(&json).as_ref(), Ok(&e));
        // As version 2 wrote it.
        let v2 = format!(
            r#"{{"schema_version":2,"command":"{c}","at":"2020-10-01T09:00:00Z","type":"claim_paid","application":"{a}","item":"certification_fee","invoice_ref":"INV-1","amount":"360.00"}}"#,
        );
        assert_eq!(Event::from_json(&v2), Ok(e));
    }

    fn malformed(text: &str) -> String {
        match Event::from_json(text) {
            Err(DecodeError::Malformed(m)) => m,
            other => panic!("{text} gave {other:?}"),
        }
    }

    #[test]
    fn bad_events_are_typed_errors() {
        let good = samples()[1].to_json();
        let unknown = good.replace("pot_topped_up", "pot_emptied");
        assert!(malformed(&unknown).contains("unknown variant `pot_emptied`"));
        let no_amount = good.replace("\"amount\"", "\"amount_\"");
        assert!(malformed(&no_amount).contains("missing field `amount`"));
        let no_at = good.replace("\"at\"", "\"at_\"");
        assert!(malformed(&no_at).contains("missing field `at`"));
        let no_type = good.replace("\"type\"", "\"kind\"");
        assert!(malformed(&no_type).contains("missing field `type`"));
        let no_event = good.replace("\"event\"", "\"kind\"");
        assert!(malformed(&no_event).contains("missing field `event`"));
        let no_version = good.replace("\"schema_version\":3,", "");
        assert!(malformed(&no_version).contains("schema_version"));
        let twice = good.replace("\"event\":", "\"at\":\"2020-10-01T09:00:00Z\",\"event\":");
        assert!(malformed(&twice).contains("duplicate field `at`"));
        let tag_twice = good.replace("\"note\":", "\"type\":\"waitlisted\",\"note\":");
        assert!(malformed(&tag_twice).contains("duplicate field `type`"));
        let wrong_type = good.replace("\"type\":\"pot_topped_up\"", "\"type\":7");
        malformed(&wrong_type);
        for text in [
            "",
            "[]",
            "null",
            "7",
            "{}",
            "{\"type\":\"waitlisted\"}",
            "{\"schema_version\":3}",
            "{\"schema_version\":2}",
            "{\"schema_version\":1,\"event\":7}",
            &good[..good.len() - 1],
            &format!("{good}x"),
        ] {
            malformed(text);
        }
    }

    #[test]
    fn older_versions_upcast() {
        let v1 = r#"{"schema_version":1,"command":"00000000-0000-0000-0000-000000000001","at":"2020-10-01T09:00:00Z","type":"claim_paid","application":"00000000-0000-0000-0000-000000000002","item":"certification_fee","invoice":"INV-1","amount":"360.00"}"#;
        let e = Event::from_json(v1).unwrap();
        assert_eq!(e.schema_version, EVENT_SCHEMA_VERSION);
        assert!(
            matches!(&e.kind, EventKind::ClaimPaid { invoice_ref, .. } if invoice_ref == "INV-1")
        );
        for too_new in [4, 99, 70_000] {
            let text = v1.replace(
                "\"schema_version\":1",
                &format!("\"schema_version\":{too_new}"),
            );
            assert_eq!(
                Event::from_json(&text),
                Err(DecodeError::TooNew {
                    found: u16::try_from(too_new).unwrap_or(u16::MAX),
                    supported: EVENT_SCHEMA_VERSION
                })
            );
        }
        assert!(matches!(
            Event::from_json("{"),
            Err(DecodeError::Malformed(_))
        ));
        // Any other event of version 1 or 2 reads as it was, at the current version.
        for e in samples() {
            for version in [1, 2] {
                let old = flat(&e, version);
                assert_eq!(Event::from_json(&old).as_ref(), Ok(&e), "{old}");
            }
        }
        // A version-2 claim that still says `invoice` is malformed, not upcast.
        let v2 = v1.replace("\"schema_version\":1", "\"schema_version\":2");
        assert!(malformed(&v2).contains("invoice_ref"));
    }

    proptest::proptest! {
        #[test]
        fn no_text_panics(which in 0usize..64, cut in 0usize..400, byte in 0u8..128, at in 0usize..400) {
            let samples = samples();
            let json = samples[which % samples.len()].to_json();
            let mut bytes = json.into_bytes();
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(bytes.len() - cut % bytes.len());
            let text = String::from_utf8_lossy(&bytes);
            let _ = Event::from_json(&text);
        }
    }
}
