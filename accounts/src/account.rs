//! The records kept about people: [`Account`], [`Setup`], [`EmailCode`], [`Session`].

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::role::Role;

/// A staff member's account. Applicants have none: they sign in by a code
/// sent to their address, and see only applications made with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The address it signs in with.
    pub email: Email,
    /// What it may do.
    pub role: Role,
    /// The password hash (a PHC string), once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The second factor's shared secret (base32), once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
    /// Whether a code from that secret has been shown to work; until then
    /// the account cannot sign in.
    #[serde(default)]
    pub totp_confirmed: bool,
    /// The last time step whose code was accepted, so no code works twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_last_step: Option<u64>,
    /// Switched off by an admin.
    #[serde(default)]
    pub disabled: bool,
    /// The key of the one setup link that may set it up: a new invitation
    /// replaces it, so an earlier link stops working. (`None` on accounts
    /// made before this was kept: any of their links works.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_link: Option<String>,
    /// When it was made.
    pub created: DateTime<Utc>,
}

impl Account {
    /// A new account with nothing set: its owner sets a password and a
    /// second factor through a [`Setup`] link.
    pub fn invited(email: Email, role: Role, now: DateTime<Utc>) -> Account {
        Account {
            email,
            role,
            password: None,
            totp_secret: None,
            totp_confirmed: false,
            totp_last_step: None,
            disabled: false,
            setup_link: None,
            created: now,
        }
    }

    /// Whether the account may sign in with a password and code.
    pub fn is_active(&self) -> bool {
        !self.disabled && self.password.is_some() && self.totp_confirmed
    }

    /// Whether the setup link kept under `key` may set it up: the newest
    /// one only.
    pub fn takes_setup_link(&self, key: &str) -> bool {
        self.setup_link.as_deref().is_none_or(|k| k == key)
    }

    /// How the account stands, in words for an admin.
    pub fn standing(&self) -> &'static str {
        if self.disabled {
            "disabled"
        } else if self.is_active() {
            "active"
        } else {
            "invited"
        }
    }
}

/// A one-time link that lets an account's owner set its password and
/// second factor. The link's secret is kept only as a hash (the record's key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setup {
    /// The account it sets up.
    pub email: Email,
    /// It works until then.
    pub expires: DateTime<Utc>,
}

impl Setup {
    /// How long a setup link works.
    pub const LIFETIME: TimeDelta = TimeDelta::days(3);
}

/// A sign-in code sent by e-mail: single use, short-lived, few tries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailCode {
    /// The code's hash.
    pub hash: String,
    /// It works until then.
    pub expires: DateTime<Utc>,
    /// Wrong codes given for it so far.
    pub tries: u32,
}

impl EmailCode {
    /// How long a code works.
    pub const LIFETIME: TimeDelta = TimeDelta::minutes(10);
    /// Wrong tries before a code is spent.
    pub const MAX_TRIES: u32 = 5;

    /// A code with hash `hash`, sent at `now`.
    pub fn sent(hash: String, now: DateTime<Utc>) -> EmailCode {
        EmailCode {
            hash,
            expires: now + EmailCode::LIFETIME,
            tries: 0,
        }
    }

    /// Whether the code still works at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires && self.tries < EmailCode::MAX_TRIES
    }
}

/// A signed-in session, kept under the hash of its cookie's secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Who signed in.
    pub email: Email,
    /// With what role.
    pub role: Role,
    /// The token every cookie-authenticated change must carry.
    pub csrf: String,
    /// When it began.
    pub started: DateTime<Utc>,
    /// It ends then.
    pub expires: DateTime<Utc>,
}

impl Session {
    /// How long a session lasts: a working day.
    pub const LIFETIME: TimeDelta = TimeDelta::hours(8);
}
