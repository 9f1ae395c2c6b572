//! [`RecordStore`], the port the sign-in records are kept through, and
//! [`Accounts`], the typed records over it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::account::{Account, EmailCode, Session, Setup};
use crate::draft::Draft;
use crate::email::Email;
use crate::event::SignInEvent;
use crate::throttle::{Throttle, ThrottleKey};

/// The kinds of record, each a table of its own keyed by text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// [`Account`]s by e-mail address.
    Account,
    /// [`Setup`] links by the hash of their secret.
    Setup,
    /// [`EmailCode`]s by e-mail address.
    Code,
    /// [`Session`]s by the hash of their cookie's secret.
    Session,
    /// [`Throttle`]s by [`ThrottleKey::as_key`].
    Throttle,
    /// [`Draft`]s of forms by the key their page chose.
    Draft,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Account,
        Kind::Setup,
        Kind::Code,
        Kind::Session,
        Kind::Throttle,
        Kind::Draft,
    ];

    /// The kind's name as a store keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Setup => "setup",
            Kind::Code => "code",
            Kind::Session => "session",
            Kind::Throttle => "throttle",
            Kind::Draft => "draft",
        }
    }
}

/// A store could not keep or give back a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The store failed (its message says how).
    #[error("the sign-in records could not be reached: {0}")]
    Unavailable(String),
    /// A record is not what this version writes.
    #[error("a stored {kind} record is damaged ({detail}): restore it from a backup or remove it")]
    Damaged {
        /// Its kind.
        kind: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// Where sign-in records are kept: text bodies under a kind and a key, and
/// an append-only trail of events. Every call is one statement, so several
/// servers may share one store.
pub trait RecordStore: Send {
    /// The body under `key`, if any (expired or not).
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError>;
    /// Puts `body` under `key`, replacing what was there; a record with an
    /// expiry may be removed by [`RecordStore::purge`] after it.
    fn put(
        &mut self,
        kind: Kind,
        key: &str,
        body: &str,
        expires: Option<DateTime<Utc>>,
    ) -> Result<(), RecordError>;
    /// Removes the record under `key` and returns its body. Of two callers
    /// taking one record at once, only one gets it.
    fn take(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError>;
    /// At most `limit` bodies of a kind, in key order.
    fn list(&mut self, kind: Kind, limit: usize) -> Result<Vec<String>, RecordError>;
    /// Removes every record that expired before `now`; returns how many.
    fn purge(&mut self, now: DateTime<Utc>) -> Result<u64, RecordError>;
    /// Appends one event body to the trail.
    fn append_event(&mut self, body: &str) -> Result<(), RecordError>;
    /// The newest `limit` event bodies, newest first.
    fn events(&mut self, limit: usize) -> Result<Vec<String>, RecordError>;
}

impl<S: RecordStore + ?Sized> RecordStore for Box<S> {
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError> {
        (**self).get(kind, key)
    }
    fn put(
        &mut self,
        kind: Kind,
        key: &str,
        body: &str,
        expires: Option<DateTime<Utc>>,
    ) -> Result<(), RecordError> {
        (**self).put(kind, key, body, expires)
    }
    fn take(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError> {
        (**self).take(kind, key)
    }
    fn list(&mut self, kind: Kind, limit: usize) -> Result<Vec<String>, RecordError> {
        (**self).list(kind, limit)
    }
    fn purge(&mut self, now: DateTime<Utc>) -> Result<u64, RecordError> {
        (**self).purge(now)
    }
    fn append_event(&mut self, body: &str) -> Result<(), RecordError> {
        (**self).append_event(body)
    }
    fn events(&mut self, limit: usize) -> Result<Vec<String>, RecordError> {
        (**self).events(limit)
    }
}

/// A body and its expiry.
type Stored = (String, Option<DateTime<Utc>>);

/// Records in memory, for tests and embedders that keep nothing.
#[derive(Debug, Default)]
pub struct MemoryRecords {
    records: BTreeMap<(Kind, String), Stored>,
    events: Vec<String>,
}

impl MemoryRecords {
    /// An empty store.
    pub fn new() -> MemoryRecords {
        MemoryRecords::default()
    }
}

impl RecordStore for MemoryRecords {
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError> {
        Ok(self
            .records
            .get(&(kind, key.to_string()))
            .map(|(b, _)| b.clone()))
    }

    fn put(
        &mut self,
        kind: Kind,
        key: &str,
        body: &str,
        expires: Option<DateTime<Utc>>,
    ) -> Result<(), RecordError> {
        self.records
            .insert((kind, key.to_string()), (body.to_string(), expires));
        Ok(())
    }

    fn take(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError> {
        Ok(self
            .records
            .remove(&(kind, key.to_string()))
            .map(|(b, _)| b))
    }

    fn list(&mut self, kind: Kind, limit: usize) -> Result<Vec<String>, RecordError> {
        Ok(self
            .records
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .take(limit)
            .map(|(_, (b, _))| b.clone())
            .collect())
    }

    fn purge(&mut self, now: DateTime<Utc>) -> Result<u64, RecordError> {
        let before = self.records.len();
        self.records
            .retain(|_, (_, expires)| expires.is_none_or(|e| e >= now));
        Ok((before - self.records.len()) as u64)
    }

    fn append_event(&mut self, body: &str) -> Result<(), RecordError> {
        self.events.push(body.to_string());
        Ok(())
    }

    fn events(&mut self, limit: usize) -> Result<Vec<String>, RecordError> {
        Ok(self.events.iter().rev().take(limit).cloned().collect())
    }
}

/// The sign-in records, typed, over a [`RecordStore`].
#[derive(Debug)]
pub struct Accounts<S> {
    store: S,
}

fn decode<T: DeserializeOwned>(kind: Kind, body: Option<String>) -> Result<Option<T>, RecordError> {
    body.map(|b| {
        serde_json::from_str(&b).map_err(|e| RecordError::Damaged {
            kind: kind.as_str(),
            detail: e.to_string(),
        })
    })
    .transpose()
}

fn encode<T: Serialize>(kind: Kind, value: &T) -> Result<String, RecordError> {
    serde_json::to_string(value).map_err(|e| RecordError::Damaged {
        kind: kind.as_str(),
        detail: e.to_string(),
    })
}

impl<S: RecordStore> Accounts<S> {
    /// The records in `store`.
    pub fn new(store: S) -> Accounts<S> {
        Accounts { store }
    }

    /// The store underneath.
    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    fn get<T: DeserializeOwned>(
        &mut self,
        kind: Kind,
        key: &str,
    ) -> Result<Option<T>, RecordError> {
        let body = self.store.get(kind, key)?;
        decode(kind, body)
    }

    fn put<T: Serialize>(
        &mut self,
        kind: Kind,
        key: &str,
        value: &T,
        expires: Option<DateTime<Utc>>,
    ) -> Result<(), RecordError> {
        let body = encode(kind, value)?;
        self.store.put(kind, key, &body, expires)
    }

    fn take<T: DeserializeOwned>(
        &mut self,
        kind: Kind,
        key: &str,
    ) -> Result<Option<T>, RecordError> {
        let body = self.store.take(kind, key)?;
        decode(kind, body)
    }

    /// The account signing in with `email`.
    pub fn account(&mut self, email: &Email) -> Result<Option<Account>, RecordError> {
        self.get(Kind::Account, email.as_str())
    }

    /// Saves `account`, replacing the one with its address.
    pub fn save_account(&mut self, account: &Account) -> Result<(), RecordError> {
        self.put(Kind::Account, account.email.as_str(), account, None)
    }

    /// At most `limit` accounts, by address.
    pub fn accounts(&mut self, limit: usize) -> Result<Vec<Account>, RecordError> {
        self.store
            .list(Kind::Account, limit)?
            .into_iter()
            .filter_map(|b| decode(Kind::Account, Some(b)).transpose())
            .collect()
    }

    /// Keeps a setup link under the hash of its secret.
    pub fn save_setup(&mut self, hash: &str, setup: &Setup) -> Result<(), RecordError> {
        self.put(Kind::Setup, hash, setup, Some(setup.expires))
    }

    /// The setup link with this hash, if it works at `now`.
    pub fn setup(&mut self, hash: &str, now: DateTime<Utc>) -> Result<Option<Setup>, RecordError> {
        Ok(self
            .get::<Setup>(Kind::Setup, hash)?
            .filter(|s| now < s.expires))
    }

    /// Uses up the setup link with this hash; `None` if it was already used or expired.
    pub fn take_setup(
        &mut self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Setup>, RecordError> {
        Ok(self
            .take::<Setup>(Kind::Setup, hash)?
            .filter(|s| now < s.expires))
    }

    /// Keeps the code sent to `email`, replacing any earlier one.
    pub fn save_code(&mut self, email: &Email, code: &EmailCode) -> Result<(), RecordError> {
        self.put(Kind::Code, email.as_str(), code, Some(code.expires))
    }

    /// Takes the code sent to `email` (put it back with [`Accounts::save_code`]
    /// after a wrong try), so that a code is used at most once.
    pub fn take_code(&mut self, email: &Email) -> Result<Option<EmailCode>, RecordError> {
        self.take(Kind::Code, email.as_str())
    }

    /// Keeps a session under the hash of its cookie's secret.
    pub fn save_session(&mut self, hash: &str, session: &Session) -> Result<(), RecordError> {
        self.put(Kind::Session, hash, session, Some(session.expires))
    }

    /// The session with this hash, if it has not ended at `now`.
    pub fn session(
        &mut self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, RecordError> {
        Ok(self
            .get::<Session>(Kind::Session, hash)?
            .filter(|s| now < s.expires))
    }

    /// Ends the session with this hash.
    pub fn end_session(&mut self, hash: &str) -> Result<Option<Session>, RecordError> {
        self.take(Kind::Session, hash)
    }

    /// The throttle of `key` (an empty one if none is kept).
    pub fn throttle(&mut self, key: &ThrottleKey) -> Result<Throttle, RecordError> {
        Ok(self.get(Kind::Throttle, &key.as_key())?.unwrap_or_default())
    }

    /// Saves the throttle of `key`, or forgets it when it holds nothing.
    pub fn save_throttle(
        &mut self,
        key: &ThrottleKey,
        throttle: &Throttle,
    ) -> Result<(), RecordError> {
        if *throttle == Throttle::default() {
            self.store.take(Kind::Throttle, &key.as_key())?;
            return Ok(());
        }
        let expires = throttle.expires(key.limit());
        self.put(Kind::Throttle, &key.as_key(), throttle, expires)
    }

    /// Keeps `draft` under `key` until [`Draft::LIFETIME`] after `now`.
    pub fn save_draft(
        &mut self,
        key: &str,
        draft: &Draft,
        now: DateTime<Utc>,
    ) -> Result<(), RecordError> {
        let draft = Draft {
            written: now,
            ..draft.clone()
        };
        self.put(Kind::Draft, key, &draft, Some(draft.expires()))
    }

    /// The draft under `key`, if the session with hash `session` (or, for
    /// `None`, someone not signed in) wrote it and it is kept at `now`.
    pub fn draft(
        &mut self,
        key: &str,
        session: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Draft>, RecordError> {
        Ok(self
            .get::<Draft>(Kind::Draft, key)?
            .filter(|d| d.is_for(session, now)))
    }

    /// Takes the draft under `key` as [`Accounts::draft`] reads it: a second
    /// take finds nothing. Another session's draft is left where it is.
    pub fn take_draft(
        &mut self,
        key: &str,
        session: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Draft>, RecordError> {
        if self.draft(key, session, now)?.is_none() {
            return Ok(None);
        }
        self.take::<Draft>(Kind::Draft, key)
    }

    /// Appends an event to the sign-in trail.
    pub fn record(&mut self, event: &SignInEvent) -> Result<(), RecordError> {
        let body = encode(Kind::Account, event)?;
        self.store.append_event(&body)
    }

    /// The newest `limit` sign-in events, newest first.
    pub fn events(&mut self, limit: usize) -> Result<Vec<SignInEvent>, RecordError> {
        self.store
            .events(limit)?
            .into_iter()
            .map(|b| {
                serde_json::from_str(&b).map_err(|e| RecordError::Damaged {
                    kind: "sign-in event",
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Forgets expired codes, sessions, setup links, throttles and drafts.
    pub fn purge(&mut self, now: DateTime<Utc>) -> Result<u64, RecordError> {
        self.store.purge(now)
    }
}
