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
//! The state keeps its large collections ([`Applications`](applications::Applications),
//! the [`CommandIndex`] of commands seen, the claimed [`Invoices`]) in
//! insertion order, in hash maps keyed by id. A loop over many commands can
//! reuse one event buffer with [`decide_into`] and warm each batch with
//! [`State::prefetch`].
//!
//! The core does no I/O and reads no clock or random source: time is the
//! `now` argument, ids are supplied by the caller. Storage, notification
//! delivery and frontends are adapter crates that implement the [`ports`].
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
//! assert_eq!(engine.state().pot.available, Money::pounds(500_000));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod applicant;
pub mod applications;
pub mod command;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod coverage;
pub mod deadlines;
pub mod decide;
pub mod eligibility;
pub mod engine;
pub mod event;
pub mod idempotency;
pub mod ids;
pub mod invoices;
pub mod ledger;
pub mod lifecycle;
pub mod memory;
pub mod money;
pub mod notices;
pub mod ports;
pub mod programme;
pub mod rejection;
pub mod state;
#[cfg(feature = "proptest")]
pub mod strategies;
pub mod text;

pub use applicant::{Applicant, Contact, CostRequest, Organisation};
pub use command::{Action, Command};
pub use coverage::{Coverage, Item};
pub use decide::{decide, decide_into};
pub use eligibility::{Criterion, Eligibility, explain};
pub use engine::{Engine, EngineConfig, EngineError, Outcome};
pub use event::{Event, EventKind};
pub use idempotency::CommandIndex;
pub use ids::{ApplicationId, CommandId, NoticeId, ProgrammeId};
pub use invoices::Invoices;
pub use ledger::{Account, Pot};
pub use lifecycle::{Milestone, Stage, StageKind};
pub use memory::InMemoryStore;
pub use money::{Money, MoneyError};
pub use notices::{Notice, Role};
pub use ports::{DeliveryError, EventStore, Notifier, Outbox, Recorded, StoreError};
pub use programme::{Level, Programme, RulesError, WaitlistPolicy};
pub use rejection::{Rejection, RejectionCode};
pub use state::{Application, CommandRecord, State, evolve};
pub use text::TextProblem;
