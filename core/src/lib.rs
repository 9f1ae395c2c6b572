//! # grantflow-core
//!
//! The pure domain model of a grant programme that pays for organisations'
//! security certification. Three abstractions carry it:
//!
//! - [`Programme`] — the rules as data (pot, eligibility, coverage, allocation
//!   policy, windows), every parameter with its source or assumption, dated
//!   where it changes over time.
//! - [`decide()`] and [`evolve`] — the Decider: `decide(&State, &Command, now)`
//!   returns the [`Event`]s a [`Command`] causes or a [`Rejection`];
//!   `evolve(&mut State, &Event)` folds them into the [`State`] (the pot's
//!   [`Pot`] ledger, every [`Application`] and its lifecycle [`Stage`]).
//! - [`Engine`] — loads a stream from an [`EventStore`], decides, appends with
//!   the expected version and the [`Notice`]s to send, and retries on conflict.
//!
//! [`State`] is read through accessors ([`State::pot`],
//! [`State::application`], [`State::applications`] in arrival order,
//! [`State::waitlist`], …); [`evolve`] is its only writer, so the ledger's
//! balance holds by construction. Snapshots have a versioned format of
//! their own ([`State::to_snapshot`], [`SNAPSHOT_FORMAT`]). A loop over many
//! commands can reuse one event buffer with [`decide_into`] and warm each
//! batch with [`State::prefetch`].
//!
//! The core does no I/O and reads no clock or random source: time is the
//! `now` argument, ids are supplied by the caller. Storage, notification
//! delivery and frontends are adapter crates that implement the ports
//! ([`EventStore`], [`Outbox`], [`Notifier`]).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use grantflow_core::*;
//!
//! let programme = Programme::healthcare_cyber_essentials_2020();
//! let mut engine = Engine::open(InMemoryStore::new(), ProgrammeId::new(&programme.id)).unwrap();
//! let now = Utc.with_ymd_and_hms(2020, 9, 1, 9, 0, 0).unwrap();
//! let open = Command::new(CommandId::from_name("open"), Action::Open { programme: Box::new(programme) });
//! engine.execute(&open, now).unwrap();
//! assert_eq!(engine.state().pot().available(), Money::pounds(500_000));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

mod decide;
mod engine;
mod ledger;
mod messages;
mod rules;
mod state;
#[cfg(any(test, feature = "fixtures"))]
mod testing;

pub use decide::{decide, decide_into};
pub use engine::memory::InMemoryStore;
pub use engine::ports::{
    DeliveryError, EventStore, Notifier, Outbox, OutboxEntry, OutboxStatus, Recorded, Snapshot,
    StoreError,
};
pub use engine::{Engine, EngineConfig, EngineError, Outcome, SNAPSHOT_FORMAT};
pub use ledger::money::{Money, MoneyError, round_pence};
pub use ledger::pot::{Account, InvariantViolation, LedgerError, Pot};
pub use messages::command::{Action, Command, CommandDigest, CommandKind, Origin};
pub use messages::event::{
    DecodeError, EVENT_SCHEMA_VERSION, Event, EventKind, FailureReason, PlusEnd, Reminder,
};
pub use messages::ids::{ApplicationId, BlankId, CommandId, NoticeId, ProgrammeId};
pub use messages::notices::{Notice, Role, TEMPLATES, notices};
pub use messages::rejection::{Rejection, RejectionCode};
pub use rules::applicant::{
    Applicant, Contact, CostRequest, FieldProblem, MAX_EMAIL, MAX_NAME, MAX_REGION, MAX_SECTOR,
    Organisation, Problem,
};
pub use rules::coverage::{Coverage, CoverageError, Item, estimate};
pub use rules::eligibility::{Criterion, Eligibility, explain, is_eligible};
pub use rules::programme::{
    AllocationRules, CoverageRules, Dated, EligibilityRules, FeeTable, Funder, Level, Param,
    Programme, RingFence, RulesError, SectorRule, SizeBand, VatPolicy, WaitlistPolicy, Windows,
};
pub use rules::text::{TextProblem, check as check_text};
pub use state::lifecycle::{Milestone, StageKind, TRANSITIONS, Trigger, transition};
pub use state::snapshot::SnapshotError;
pub use state::{
    Application, Applications, CommandIndex, CommandRecord, Deadline, DeadlineKind, Deadlines,
    Invoices, ReplayError, SectorTotals, Stage, State, Waitlist, evolve,
};
#[cfg(any(test, feature = "fixtures"))]
pub use testing::fixtures;
