//! Events: the facts a programme records. An [`Event`] wraps one
//! [`EventKind`] with the command that caused it and the time; events are
//! never edited, and older schema versions keep loading through
//! [`Event::from_json`].
//!
//! The JSON of an event is one flat object: `schema_version`, `command`,
//! `at`, then the kind's `type` and its fields. [`Event`] reads it in one
//! pass when `type` comes before the kind's fields (as [`Event::to_json`]
//! writes it), and buffers the fields only when it does not.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, VariantAccess,
    Visitor,
};
use serde::{Deserialize, Serialize};

use crate::applicant::{Applicant, CostRequest};
use crate::command::Origin;
use crate::coverage::{Coverage, Item};
use crate::eligibility::Criterion;
use crate::ids::{ApplicationId, CommandId};
use crate::money::Money;
use crate::programme::Programme;

/// The schema version written with every new event.
pub const EVENT_SCHEMA_VERSION: u16 = 2;

/// A recorded fact.
///
/// Its `Deserialize` accepts the fields in any order; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The schema version this event was written with.
    pub schema_version: u16,
    /// The command that caused it.
    pub command: CommandId,
    /// The `now` of that command.
    pub at: DateTime<Utc>,
    /// What the command asked: on its first event only (absent on events
    /// written before command ids were checked against their command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
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
    OfferExpiring {
        #[serde(deserialize_with = "timestamp::de")]
        expires: DateTime<Utc>,
    },
    /// The feedback window closes soon.
    FeedbackClosing {
        #[serde(deserialize_with = "timestamp::de")]
        closes: DateTime<Utc>,
    },
    /// The Plus window closes soon.
    PlusWindowClosing {
        #[serde(deserialize_with = "timestamp::de")]
        closes: DateTime<Utc>,
    },
    /// The certificate expires in `days` days.
    CertificateExpiring {
        #[serde(deserialize_with = "timestamp::de")]
        expires: DateTime<Utc>,
        days: u32,
    },
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

/// The fields of each [`EventKind`], named by their variant: the
/// externally tagged shape serde reads without buffering. It mirrors
/// `EventKind` field for field (the compiler checks names and types, the
/// tests that every variant is here).
#[derive(Deserialize)]
#[serde(remote = "EventKind", rename_all = "snake_case")]
#[allow(dead_code)]
enum KindFields {
    ProgrammeOpened {
        programme: Box<Programme>,
    },
    PotToppedUp {
        amount: Money,
        note: String,
    },
    Submitted {
        application: ApplicationId,
        applicant: Arc<Applicant>,
        request: CostRequest,
        coverage: Option<Coverage>,
    },
    FoundIneligible {
        application: ApplicationId,
        failed: Vec<Criterion>,
    },
    Waitlisted {
        application: ApplicationId,
    },
    Offered {
        application: ApplicationId,
        amount: Money,
        #[serde(deserialize_with = "timestamp::de")]
        expires: DateTime<Utc>,
    },
    Accepted {
        application: ApplicationId,
        #[serde(deserialize_with = "timestamp::de")]
        pass_by: DateTime<Utc>,
    },
    Declined {
        application: ApplicationId,
        released: Money,
    },
    Lapsed {
        application: ApplicationId,
        released: Money,
    },
    Withdrawn {
        application: ApplicationId,
        released: Money,
        reason: String,
    },
    ConsultancyEngaged {
        application: ApplicationId,
    },
    SelfAssessmentSubmitted {
        application: ApplicationId,
        attempt: u8,
    },
    AssessmentFailed {
        application: ApplicationId,
        #[serde(deserialize_with = "timestamp::de")]
        respond_by: DateTime<Utc>,
    },
    CertificationFailed {
        application: ApplicationId,
        reason: FailureReason,
        released: Money,
    },
    Certified {
        application: ApplicationId,
        #[serde(deserialize_with = "timestamp::de")]
        expires: DateTime<Utc>,
        #[serde(default, deserialize_with = "timestamp::de_option")]
        plus_by: Option<DateTime<Utc>>,
    },
    PlusAuditBooked {
        application: ApplicationId,
        attempt: u8,
    },
    PlusAuditFailed {
        application: ApplicationId,
        #[serde(deserialize_with = "timestamp::de")]
        retest_by: DateTime<Utc>,
    },
    PlusCertified {
        application: ApplicationId,
    },
    PlusNotAchieved {
        application: ApplicationId,
        reason: PlusEnd,
    },
    ClaimPaid {
        application: ApplicationId,
        item: Item,
        invoice_ref: String,
        amount: Money,
    },
    Completed {
        application: ApplicationId,
        released: Money,
    },
    ClawedBack {
        application: ApplicationId,
        amount: Money,
        reason: String,
    },
    ReminderDue {
        application: ApplicationId,
        reminder: Reminder,
    },
}

/// An object key or the `type` tag, borrowed from the input when it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Key<'de> {
    fn into_de<E: de::Error>(self) -> de::value::CowStrDeserializer<'de, E> {
        self.0.into_deserializer()
    }
}

/// The fields every event carries besides its kind.
#[derive(Default)]
struct Envelope {
    schema_version: Option<u16>,
    command: Option<CommandId>,
    at: Option<timestamp::Stamp>,
    origin: Option<Origin>,
}

impl Envelope {
    /// Reads the value of `key` if it is an envelope field (`Ok(false)` if not).
    fn read<'de, M: MapAccess<'de>>(&mut self, key: &str, map: &mut M) -> Result<bool, M::Error> {
        fn once<'de, T: Deserialize<'de>, M: MapAccess<'de>>(
            slot: &mut Option<T>,
            name: &'static str,
            map: &mut M,
        ) -> Result<(), M::Error> {
            if slot.is_some() {
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(map.next_value()?);
            Ok(())
        }
        match key {
            "schema_version" => once(&mut self.schema_version, "schema_version", map)?,
            "command" => once(&mut self.command, "command", map)?,
            "at" => once(&mut self.at, "at", map)?,
            "origin" => once(&mut self.origin, "origin", map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish<E: de::Error>(self, kind: EventKind) -> Result<Event, E> {
        Ok(Event {
            schema_version: self
                .schema_version
                .ok_or_else(|| de::Error::missing_field("schema_version"))?,
            command: self
                .command
                .ok_or_else(|| de::Error::missing_field("command"))?,
            at: self.at.ok_or_else(|| de::Error::missing_field("at"))?.0,
            origin: self.origin,
            kind,
        })
    }
}

/// The rest of an event object after its `type`, as the kind's fields:
/// envelope fields met on the way are taken out into the [`Envelope`].
struct KindBody<'a, M> {
    map: &'a mut M,
    envelope: &'a mut Envelope,
}

impl<'de, M: MapAccess<'de>> MapAccess<'de> for KindBody<'_, M> {
    type Error = M::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, M::Error> {
        while let Some(key) = self.map.next_key::<Key<'de>>()? {
            if key.0 == "type" {
                return Err(de::Error::duplicate_field("type"));
            }
            if !self.envelope.read(&key.0, self.map)? {
                return seed.deserialize(key.into_de()).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, M::Error> {
        self.map.next_value_seed(seed)
    }
}

/// Presents `type` and the fields after it as an externally tagged enum,
/// which the derived reader of [`KindFields`] reads field by field.
struct Tagged<'a, 'de, M> {
    tag: Key<'de>,
    body: KindBody<'a, M>,
}

impl<'a, 'de, M: MapAccess<'de>> Deserializer<'de> for Tagged<'a, 'de, M> {
    type Error = M::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, M::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'a, 'de, M: MapAccess<'de>> EnumAccess<'de> for Tagged<'a, 'de, M> {
    type Error = M::Error;
    type Variant = KindBody<'a, M>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, KindBody<'a, M>), M::Error> {
        let variant = seed.deserialize(self.tag.into_de())?;
        Ok((variant, self.body))
    }
}

impl<'de, M: MapAccess<'de>> VariantAccess<'de> for KindBody<'_, M> {
    type Error = M::Error;

    fn unit_variant(self) -> Result<(), M::Error> {
        Err(de::Error::custom("an event type without fields"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, M::Error> {
        Err(de::Error::custom("an event type with one unnamed field"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, M::Error> {
        Err(de::Error::custom("an event type with unnamed fields"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, M::Error> {
        visitor.visit_map(self)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Event, M::Error> {
        let mut envelope = Envelope::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if envelope.read(&key.0, &mut map)? {
                continue;
            }
            if key.0 == "type" {
                // The usual order: the kind's fields follow, read directly.
                let tag: Key<'de> = map.next_value()?;
                let kind = KindFields::deserialize(Tagged {
                    tag,
                    body: KindBody {
                        map: &mut map,
                        envelope: &mut envelope,
                    },
                })?;
                return envelope.finish(kind);
            }
            // A kind's field before `type`: keep the rest, then read the kind from it.
            let mut rest = serde_json::Map::new();
            rest.insert(key.0.into_owned(), map.next_value()?);
            while let Some(key) = map.next_key::<Key<'de>>()? {
                if envelope.read(&key.0, &mut map)? {
                    continue;
                }
                let name = key.0.into_owned();
                if rest.contains_key(&name) {
                    return Err(de::Error::custom(format_args!("duplicate field `{name}`")));
                }
                let value = map.next_value()?;
                rest.insert(name, value);
            }
            let kind = EventKind::deserialize(serde_json::Value::Object(rest))
                .map_err(de::Error::custom)?;
            return envelope.finish(kind);
        }
        Err(de::Error::missing_field("type"))
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor)
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
    /// An event of the current version is read in one pass; any other (or
    /// malformed) text goes through a JSON tree, which upcasts older
    /// versions and names what is wrong.
    pub fn from_json(text: &str) -> Result<Event, DecodeError> {
        if let Ok(event) = serde_json::from_str::<Event>(text) {
            if event.schema_version == EVENT_SCHEMA_VERSION {
                return Ok(event);
            }
        }
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

/// Reading the timestamps of events. Every event carries at least one, and
/// chrono's general RFC 3339 parser was about a fifth of a replay's work, so
/// the one shape the encoder writes (chrono's `Serialize` of a
/// `DateTime<Utc>`: `YYYY-MM-DDTHH:MM:SS`, a fraction of 3, 6 or 9 digits
/// when the nanoseconds are not 0, then `Z`) is read directly; any other
/// text goes to chrono's parser, so the results and errors are chrono's.
mod timestamp {
    use std::fmt;

    use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
    use serde::de::{self, Deserialize, Deserializer, Visitor};

    /// What chrono's `DateTime<Utc>::from_str` gives for `text`.
    pub(super) fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        match encoded(text.as_bytes()) {
            Some(t) => Ok(t),
            None => text.parse(),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f]Z` with 1 to 9 digits of fraction, a valid
    /// date and a time of day without a leap second; `None` for anything
    /// else (which chrono then reads or refuses).
    fn encoded(b: &[u8]) -> Option<DateTime<Utc>> {
        let [
            y0,
            y1,
            y2,
            y3,
            b'-',
            m0,
            m1,
            b'-',
            d0,
            d1,
            b'T',
            h0,
            h1,
            b':',
            i0,
            i1,
            b':',
            s0,
            s1,
            rest @ ..,
        ] = b
        else {
            return None;
        };
        let nano = match rest {
            [b'Z'] => 0,
            [b'.', frac @ .., b'Z'] if (1..=9).contains(&frac.len()) => {
                const SCALE: [u32; 10] = [
                    0,
                    100_000_000,
                    10_000_000,
                    1_000_000,
                    100_000,
                    10_000,
                    1_000,
                    100,
                    10,
                    1,
                ];
                number(frac)? * SCALE[frac.len()]
            }
            _ => return None,
        };
        let year = number(&[*y0, *y1, *y2, *y3])?;
        let date = NaiveDate::from_ymd_opt(
            i32::try_from(year).ok()?,
            number(&[*m0, *m1])?,
            number(&[*d0, *d1])?,
        )?;
        // `from_hms_nano_opt` refuses an hour over 23, a minute or second
        // over 59 and a fraction of a second or more.
        let time = NaiveTime::from_hms_nano_opt(
            number(&[*h0, *h1])?,
            number(&[*i0, *i1])?,
            number(&[*s0, *s1])?,
            nano,
        )?;
        Some(date.and_time(time).and_utc())
    }

    /// The value of up to 9 ASCII digits; `None` if any byte is not a digit.
    fn number(digits: &[u8]) -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }

    /// A timestamp read as chrono's `Deserialize` reads a `DateTime<Utc>`.
    pub(super) struct Stamp(pub(super) DateTime<Utc>);

    impl<'de> Deserialize<'de> for Stamp {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct StampVisitor;
            impl Visitor<'_> for StampVisitor {
                type Value = Stamp;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    // chrono's words, so that errors read as before.
                    f.write_str("an RFC 3339 formatted date and time string")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Stamp, E> {
                    parse(v).map(Stamp).map_err(E::custom)
                }
            }
            deserializer.deserialize_str(StampVisitor)
        }
    }

    /// For `#[serde(deserialize_with)]` on a `DateTime<Utc>` field.
    pub(super) fn de<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        Stamp::deserialize(deserializer).map(|s| s.0)
    }

    /// For `#[serde(default, deserialize_with)]` on an `Option<DateTime<Utc>>` field.
    pub(super) fn de_option<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<Stamp>::deserialize(deserializer).map(|s| s.map(|s| s.0))
    }

    #[cfg(test)]
    mod tests {
        use chrono::{SecondsFormat, TimeZone};
        use proptest::prelude::*;

        use super::*;

        fn same_as_chrono(text: &str) {
            let ours = parse(text);
            let chrono = text.parse::<DateTime<Utc>>();
            assert_eq!(ours, chrono, "{text:?}");
            // Through serde too: the same value, or an error with the same words.
            let json = serde_json::to_string(text).unwrap();
            let ours = serde_json::from_str::<Stamp>(&json).map(|s| s.0);
            let chrono = serde_json::from_str::<DateTime<Utc>>(&json);
            match (ours, chrono) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text:?}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text:?}"),
                (a, b) => panic!("{text:?}: {a:?} against chrono's {b:?}"),
            }
        }

        /// Any instant from year 0 to 9999, with nanoseconds of each precision.
        fn instant() -> impl Strategy<Value = DateTime<Utc>> {
            let min = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap().timestamp();
            let max = Utc
                .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
                .unwrap()
                .timestamp();
            let nanos = prop_oneof![
                Just(0u32),
                (0u32..1_000).prop_map(|n| n * 1_000_000),
                (0u32..1_000_000).prop_map(|n| n * 1_000),
                0u32..1_000_000_000,
            ];
            (min..=max, nanos)
                .prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).unwrap())
        }

        /// Text close to the encoder's shape: its characters, digits and a
        /// few others, in runs of about its length.
        fn near_valid() -> impl Strategy<Value = String> {
            let written = instant().prop_map(|t| {
                serde_json::to_value(t)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            });
            (
                written,
                proptest::collection::vec(
                    (
                        0usize..32,
                        prop::sample::select(b"0123456789-:.TtZz +/x9\x00".to_vec()),
                    ),
                    0..4,
                ),
                0usize..40,
            )
                .prop_map(|(text, edits, cut)| {
                    let mut bytes = text.into_bytes();
                    for (at, byte) in edits {
                        if bytes.is_empty() {
                            break;
                        }
                        let at = at % (bytes.len() + 1);
                        match at % 3 {
                            0 if at < bytes.len() => bytes[at] = byte,
                            1 if at < bytes.len() => {
                                bytes.remove(at);
                            }
                            _ => bytes.insert(at.min(bytes.len()), byte),
                        }
                    }
                    if cut < bytes.len() && cut % 4 == 0 {
                        bytes.truncate(cut);
                    }
                    String::from_utf8_lossy(&bytes).into_owned()
                })
        }

        proptest! {
            #[test]
            fn written_instants_read_back(t in instant()) {
                let written = serde_json::to_value(t).unwrap();
                let text = written.as_str().unwrap();
                prop_assert_eq!(encoded(text.as_bytes()), Some(t), "{}", text);
                same_as_chrono(text);
                for form in [SecondsFormat::Secs, SecondsFormat::Millis, SecondsFormat::Micros, SecondsFormat::Nanos, SecondsFormat::AutoSi] {
                    same_as_chrono(&t.to_rfc3339_opts(form, true));
                    same_as_chrono(&t.to_rfc3339_opts(form, false));
                }
            }

            #[test]
            fn fields_in_and_out_of_range(
                y in 0u32..10_000, m in 0u32..14, d in 0u32..33,
                h in 0u32..26, i in 0u32..62, s in 0u32..62,
                frac in "(\\.[0-9]{0,11})?",
            ) {
                same_as_chrono(&format!("{y:04}-{m:02}-{d:02}T{h:02}:{i:02}:{s:02}{frac}Z"));
            }

            #[test]
            fn near_valid_text(text in near_valid()) {
                same_as_chrono(&text);
            }

            #[test]
            fn any_text(text in "[0-9TZ:.+-]{0,32}|\\PC{0,32}") {
                same_as_chrono(&text);
            }
        }

        #[test]
        fn month_ends_of_every_year() {
            for y in 0..10_000 {
                for (m, d) in [
                    (2, 28),
                    (2, 29),
                    (2, 30),
                    (4, 30),
                    (4, 31),
                    (12, 31),
                    (12, 32),
                ] {
                    same_as_chrono(&format!("{y:04}-{m:02}-{d:02}T00:00:00Z"));
                }
            }
        }

        #[test]
        fn edge_cases() {
            for text in [
                "2020-10-01T09:00:00Z",
                "2020-02-29T00:00:00Z",
                "2021-02-29T00:00:00Z",
                "1900-02-29T00:00:00Z",
                "2000-02-29T23:59:59.999999999Z",
                "2000-04-31T00:00:00Z",
                "2000-13-01T00:00:00Z",
                "2000-00-01T00:00:00Z",
                "2000-01-00T00:00:00Z",
                "2000-01-01T24:00:00Z",
                "2000-01-01T23:60:00Z",
                "2000-01-01T23:59:60Z",
                "2016-12-31T23:59:60Z",
                "2016-12-31T23:59:60.5Z",
                "2000-01-01T00:00:00.Z",
                "2000-01-01T00:00:00.1Z",
                "2000-01-01T00:00:00.1234567891Z",
                "2000-01-01T00:00:00z",
                "2000-01-01t00:00:00Z",
                "2000-01-01 00:00:00Z",
                "2000-01-01T00:00:00+00:00",
                "2000-01-01T00:00:00 UTC",
                "0000-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
                "+10000-01-01T00:00:00Z",
                "-0001-01-01T00:00:00Z",
                "2000-01-01T00:00:00Z ",
                " 2000-01-01T00:00:00Z",
                "2000-1-01T00:00:00Z",
                "2000-01-01T00:00:00",
                "",
            ] {
                same_as_chrono(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    use super::*;
    use crate::applicant::{Contact, Organisation};
    use crate::programme::Level;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 10, day, 9, 0, 0).unwrap()
    }

    /// Where a kind stands in [`samples`]: exhaustive, so a new variant
    /// fails to compile until it has a sample (and a line in `KindFields`).
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

    type Pairs = Vec<(String, serde_json::Value)>;

    /// The event's JSON with its keys in another order: `order` sorts the
    /// top-level (key, value) pairs.
    fn reordered(e: &Event, order: impl FnOnce(&mut Pairs)) -> String {
        let serde_json::Value::Object(map) = serde_json::to_value(e).unwrap() else {
            panic!("an event is not an object")
        };
        let mut pairs: Vec<_> = map.into_iter().collect();
        order(&mut pairs);
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
            .collect();
        format!("{{{}}}", body.join(","))
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
                json.starts_with("{\"schema_version\":2,\"command\":"),
                "{json}"
            );
            assert_eq!(Event::from_json(&json).as_ref(), Ok(&e), "{json}");
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
            // Through a JSON tree too (keys then come sorted, `type` late).
            let tree = serde_json::to_value(&e).unwrap();
            assert_eq!(serde_json::from_value::<Event>(tree).unwrap(), e);
            // The kind alone still reads with the tag anywhere.
            let kind_json = serde_json::to_string(&e.kind).unwrap();
            assert_eq!(
                serde_json::from_str::<EventKind>(&kind_json).unwrap(),
                e.kind
            );
        }
    }

    #[test]
    fn the_written_form_is_unchanged() {
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
        let json = format!(
            r#"{{"schema_version":2,"command":"{}","at":"2020-10-01T09:00:00Z","type":"claim_paid","application":"{}","item":"certification_fee","invoice_ref":"INV-1","amount":"360.00"}}"#,
            CommandId::from_name("c"),
            ApplicationId::from_name("app")
        );
        assert_eq!(e.to_json(), json);
        assert_eq!(Event::from_json(&json), Ok(e));
    }

    #[test]
    fn fields_in_any_order_decode() {
        for e in samples() {
            let orders: [fn(&mut Pairs); 4] = [
                |p| p.reverse(),
                |p| p.sort_by(|a, b| a.0.cmp(&b.0)),
                // `type` first, the envelope last.
                |p| {
                    p.sort_by_key(|(k, _)| match k.as_str() {
                        "type" => 0,
                        "schema_version" | "command" | "at" => 2,
                        _ => 1,
                    })
                },
                // `type` last.
                |p| p.sort_by_key(|(k, _)| k == "type"),
            ];
            for order in orders {
                let json = reordered(&e, order);
                assert_eq!(Event::from_json(&json).as_ref(), Ok(&e), "{json}");
            }
        }
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
        let no_version = good.replace("\"schema_version\":2,", "");
        assert!(malformed(&no_version).contains("schema_version"));
        // A repeated key is refused by the one-pass reader; `from_json` then
        // reads the text as a JSON tree, where the last value wins (as it always did).
        let twice = good.replace("\"type\":", "\"at\":\"2020-10-01T09:00:00Z\",\"type\":");
        let err = serde_json::from_str::<Event>(&twice).unwrap_err();
        assert!(err.to_string().contains("duplicate field `at`"), "{err}");
        assert_eq!(Event::from_json(&twice).as_ref(), Ok(&samples()[1]));
        let tag_twice = good.replace("\"note\":", "\"type\":\"waitlisted\",\"note\":");
        let err = serde_json::from_str::<Event>(&tag_twice).unwrap_err();
        assert!(err.to_string().contains("duplicate field `type`"), "{err}");
        assert!(malformed(&tag_twice).contains("missing field `application`"));
        let wrong_type = good.replace("\"type\":\"pot_topped_up\"", "\"type\":7");
        malformed(&wrong_type);
        for text in [
            "",
            "[]",
            "null",
            "7",
            "{}",
            "{\"type\":\"waitlisted\"}",
            &good[..good.len() - 1],
            &format!("{good}x"),
        ] {
            malformed(text);
        }
    }

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
        // Any other version-one event reads as it was, at the current version.
        for e in samples() {
            let v1 = e
                .to_json()
                .replace("\"schema_version\":2", "\"schema_version\":1");
            assert_eq!(Event::from_json(&v1).as_ref(), Ok(&e), "{v1}");
        }
        // A current event that still says `invoice` is malformed, not upcast.
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
