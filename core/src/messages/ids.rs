//! Identifiers. All are supplied by the caller (or derived deterministically),
//! never drawn from a random source inside the core.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The namespace under which names are turned into ids with [`ApplicationId::from_name`] and friends.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6a1c_5e0e_3b4f_4d2a_9c55_0f6b_7d3e_2a11);

/// An id given as empty or blank text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the {what} id is empty: give a UUID or a non-blank text such as `{what}-0001`")]
pub struct BlankId {
    /// Which kind of id: `command`, `application` or `notice`.
    pub what: &'static str,
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $label:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn new(id: Uuid) -> Self {
                Self(id)
            }

            /// A stable id derived from a name (UUID v5 in the grantflow namespace):
            /// the same name always gives the same id.
            pub fn from_name(name: &str) -> Self {
                Self(Uuid::new_v5(&NAMESPACE, format!(concat!($label, ":{}"), name).as_bytes()))
            }

            /// An id a caller gave as text: surrounding whitespace is trimmed, a
            /// UUID is taken as it is and any other text is turned into an id
            /// with [`Self::from_name`]. Empty or blank text is refused.
            pub fn given(text: &str) -> Result<Self, BlankId> {
                let text = text.trim();
                if text.is_empty() {
                    return Err(BlankId { what: $label });
                }
                Ok(Self::parse_or_name(text))
            }

            /// A UUID is taken as it is; any other text is turned into an id with [`Self::from_name`].
            pub fn parse_or_name(text: &str) -> Self {
                match Uuid::parse_str(text) {
                    Ok(id) => Self(id),
                    Err(_) => Self::from_name(text),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// One application for funding, chosen by the caller at submission.
    ApplicationId,
    "application"
);
uuid_id!(
    /// One command; repeating a command with the same id does nothing new.
    CommandId,
    "command"
);
uuid_id!(
    /// One notice; receivers use it to drop duplicate deliveries.
    NoticeId,
    "notice"
);

/// A programme's stream name, e.g. `healthcare-ce-2020`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProgrammeId(pub String);

impl ProgrammeId {
    /// Wraps a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProgrammeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
