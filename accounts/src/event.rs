//! [`SignInEvent`]: the audit trail of sign-ins, failures and lockouts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How someone tried to sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Password and second-factor code.
    Password,
    /// A code sent by e-mail.
    EmailCode,
    /// A setup link.
    Setup,
    /// Signing out.
    SignOut,
}

/// What came of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInOutcome {
    /// Signed in.
    SignedIn,
    /// Wrong or unknown credentials.
    Failed,
    /// This failure locked the account or the address.
    Locked,
    /// Refused unheard: the account or the address was locked.
    Throttled,
    /// A code was sent.
    CodeSent,
    /// A password and second factor were set.
    SetUp,
    /// Signed out.
    SignedOut,
}

/// One line of the sign-in audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// The address given (normalised when it was one).
    pub email: String,
    /// How.
    pub method: Method,
    /// What came of it.
    pub outcome: SignInOutcome,
    /// The source address it was judged by.
    pub source: String,
}
