//! [`Role`]: what a signed-in caller may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The roles the money needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Applies, and reads, accepts, declines or withdraws its own applications only.
    Applicant,
    /// Records certification milestones.
    Assessor,
    /// Pays claims, tops up the pot, claws back, completes awards, reads the ledger.
    Finance,
    /// Reads everything, changes nothing.
    Auditor,
    /// Sets programmes up, runs ticks and manages users.
    Admin,
}

impl Role {
    /// Every role, in the order above.
    pub const ALL: [Role; 5] = [
        Role::Applicant,
        Role::Assessor,
        Role::Finance,
        Role::Auditor,
        Role::Admin,
    ];

    /// The role as written in files, URLs and the OpenAPI document.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Applicant => "applicant",
            Role::Assessor => "assessor",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Whether the role is held by staff, who sign in with a password and
    /// a second factor (applicants sign in by an e-mailed code).
    pub fn is_staff(self) -> bool {
        self != Role::Applicant
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: use applicant, assessor, finance, auditor or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}
