//! [`Draft`]: what someone typed into a form, kept between the post that
//! sent it and the page that shows it again (with its errors), or until
//! they send a form of several pages.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// A form's answers and its errors, under a key its page chooses. Never
/// holds a password or a code: pages leave those out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The hash of the session that wrote it (`None` before sign-in): a
    /// draft is shown only to that session.
    pub owner: Option<String>,
    /// Each field's text as typed.
    pub values: BTreeMap<String, String>,
    /// `(field, message)` for each answer that was not right, in the
    /// form's order.
    pub errors: Vec<(String, String)>,
    /// When it was last written ([`Accounts::save_draft`](crate::Accounts::save_draft) sets it).
    pub written: DateTime<Utc>,
}

impl Draft {
    /// How long a draft is kept after it was last written.
    pub const LIFETIME: TimeDelta = TimeDelta::hours(12);

    /// When it is forgotten.
    pub fn expires(&self) -> DateTime<Utc> {
        self.written + Draft::LIFETIME
    }

    /// Whether the session with hash `session` (or no session) wrote it,
    /// and it is still kept at `now`.
    pub fn is_for(&self, session: Option<&str>, now: DateTime<Utc>) -> bool {
        self.owner.as_deref() == session && now < self.expires()
    }

    /// The text typed into `field` (empty if nothing was).
    pub fn value(&self, field: &str) -> &str {
        self.values.get(field).map(String::as_str).unwrap_or("")
    }

    /// The error of `field`, if it has one.
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::{Accounts, MemoryRecords};

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 9, 1, 9, 0, 0).unwrap() + TimeDelta::hours(hours)
    }

    /// Given a draft one session wrote, when another session, someone
    /// signed out, or anyone after its lifetime reads it, then they find
    /// nothing; its own session finds it, and a take finds it once.
    #[test]
    fn a_draft_is_its_sessions_own_for_its_lifetime() {
        let mut accounts = Accounts::new(MemoryRecords::new());
        let mut draft = Draft {
            owner: Some("session-a".into()),
            ..Draft::default()
        };
        draft.values.insert("organisation".into(), "Surgery".into());
        draft.errors.push(("days".into(), "Enter the days".into()));
        accounts.save_draft("apply/p", &draft, at(0)).unwrap();

        let mine = accounts.draft("apply/p", Some("session-a"), at(1)).unwrap();
        assert_eq!(
            mine.as_ref().map(|d| d.value("organisation")),
            Some("Surgery")
        );
        assert_eq!(
            mine.as_ref().and_then(|d| d.error("days")),
            Some("Enter the days")
        );
        assert_eq!(mine.as_ref().map(|d| d.written), Some(at(0)));
        assert_eq!(
            accounts.draft("apply/p", Some("session-b"), at(1)).unwrap(),
            None
        );
        assert_eq!(accounts.draft("apply/p", None, at(1)).unwrap(), None);
        assert_eq!(
            accounts
                .draft("apply/p", Some("session-a"), at(12))
                .unwrap(),
            None
        );

        assert_eq!(
            accounts
                .take_draft("apply/p", Some("session-b"), at(1))
                .unwrap(),
            None
        );
        assert!(
            accounts
                .take_draft("apply/p", Some("session-a"), at(1))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            accounts
                .take_draft("apply/p", Some("session-a"), at(1))
                .unwrap(),
            None
        );
    }
}
