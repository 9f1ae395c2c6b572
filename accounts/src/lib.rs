//! # grantflow-accounts
//!
//! Who may sign in to a grantflow server, kept apart from the grant
//! programme's core. Three things carry it:
//!
//! - [`Account`] — a staff member's or a service's account: its [`Email`],
//!   its [`Role`], its password hash and second-factor secret (made and
//!   checked by the HTTP adapter; this crate only keeps them).
//! - [`Throttle`] — the sign-in limits: failures in a sliding window per
//!   account, per source address and per code request, then growing lock
//!   periods ([`Limit`]). Keyed by what was typed, so an unknown account is
//!   throttled exactly like a known one.
//! - [`Accounts`] — the typed records ([`Account`], [`EmailCode`],
//!   [`Session`], setup links, throttles, [`SignInEvent`]s, and the
//!   [`Draft`]s of forms between a post and the page after it) over a
//!   [`RecordStore`], the port that SQLite and PostgreSQL implement
//!   ([`MemoryRecords`] here, for tests and embedders); [`conformance`]
//!   checks an implementation.
//!
//! Like the core, nothing here reads a clock, draws random numbers or does
//! I/O: the caller passes `now`, secrets arrive already hashed.
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use grantflow_accounts::{Limit, Throttle};
//!
//! let now = Utc.with_ymd_and_hms(2020, 6, 1, 9, 0, 0).unwrap();
//! let mut throttle = Throttle::default();
//! for _ in 0..Limit::ACCOUNT.attempts {
//!     assert!(throttle.check(now).is_ok());
//!     throttle.fail(now, Limit::ACCOUNT);
//! }
//! // The tenth failure in five minutes locks the account for five minutes.
//! assert_eq!(throttle.check(now), Err(now + TimeDelta::minutes(5)));
//! assert!(throttle.check(now + TimeDelta::minutes(5)).is_ok());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, missing_docs)]

mod account;
pub mod conformance;
mod draft;
mod email;
mod event;
mod records;
mod role;
mod throttle;

pub use account::{Account, EmailCode, Session, Setup};
pub use draft::Draft;
pub use email::{BadEmail, Email};
pub use event::{Method, SignInEvent, SignInOutcome};
pub use records::{Accounts, Kind, MemoryRecords, RecordError, RecordStore};
pub use role::{Role, UnknownRole};
pub use throttle::{Limit, Throttle, ThrottleKey};
