//! What the checks share: the [`Failure`] shorthands (`fail`, `ensure!`,
//! `.ctx`), test events and notices, and engines over a borrowed store.

use std::fmt;

use chrono::{DateTime, Utc};

use super::fixtures::{day, programme};
use super::{Failure, fixtures, programme_id};
use grantflow_core::Command;
use grantflow_core::Money;
use grantflow_core::{CommandId, NoticeId, ProgrammeId};
use grantflow_core::{CommandRecord, State};
use grantflow_core::{Engine, EngineConfig, Outcome};
use grantflow_core::{Event, EventKind};
use grantflow_core::{EventStore, Recorded, Snapshot, StoreError};
use grantflow_core::{Notice, Role};

pub(super) type Check = Result<(), Failure>;

pub(super) fn fail(check: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        check,
        message: message.into(),
    }
}

macro_rules! ensure {
    ($check:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(fail($check, format!($($fmt)+)));
        }
    };
}
pub(super) use ensure;

pub(super) trait Ctx<T> {
    fn ctx(self, check: &'static str, what: &str) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self, check: &'static str, what: &str) -> Result<T, Failure> {
        self.map_err(|e| fail(check, format!("{what}: {e}")))
    }
}

pub(super) fn event(n: u64, at: DateTime<Utc>) -> Event {
    Event::new(
        CommandId::from_name(&format!("raw-{n}")),
        at,
        EventKind::PotToppedUp {
            amount: Money::pounds(u32::try_from(n % 1000).unwrap_or(1) + 1),
            note: format!("top-up {n}"),
        },
    )
}

pub(super) fn notice(tag: &str, n: u64) -> Notice {
    let mut data = std::collections::BTreeMap::new();
    data.insert("programme".to_string(), tag.to_string());
    data.insert("n".to_string(), n.to_string());
    Notice {
        id: NoticeId::from_name(&format!("{tag}/notice/{n}")),
        template: "pot_topped_up".into(),
        recipient: Role::Finance,
        to: None,
        application: None,
        data,
    }
}

pub(super) fn ensure_empty<S: EventStore>(
    check: &'static str,
    store: &mut S,
    p: &ProgrammeId,
) -> Check {
    let v = store.version(p).ctx(check, "version of a new programme")?;
    ensure!(
        check,
        v == 0,
        "programme `{p}` already holds {v} events: the store is not fresh"
    );
    Ok(())
}

/// A borrowed store, so that a check can run an engine and then look at the store again.
pub(super) struct Borrowed<'a, S>(&'a mut S);

impl<S: EventStore> EventStore for Borrowed<'_, S> {
    fn load(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        self.0.load(programme, after, limit)
    }
    fn load_each(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
        each: &mut dyn FnMut(Recorded) -> bool,
    ) -> Result<usize, StoreError> {
        self.0.load_each(programme, after, limit, each)
    }
    fn version(&mut self, programme: &ProgrammeId) -> Result<u64, StoreError> {
        self.0.version(programme)
    }
    fn append(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<u64, StoreError> {
        self.0.append(programme, expected, events, notices)
    }
    fn command_records(
        &mut self,
        programme: &ProgrammeId,
        commands: &[CommandId],
    ) -> Result<Vec<(CommandId, CommandRecord)>, StoreError> {
        self.0.command_records(programme, commands)
    }
    fn load_snapshot(&mut self, programme: &ProgrammeId) -> Result<Option<Snapshot>, StoreError> {
        self.0.load_snapshot(programme)
    }
    fn save_snapshot(
        &mut self,
        programme: &ProgrammeId,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        self.0.save_snapshot(programme, snapshot)
    }
}

pub(super) fn engine<S: EventStore>(
    check: &'static str,
    store: S,
    p: &ProgrammeId,
    config: EngineConfig,
) -> Result<Engine<S>, Failure> {
    Engine::with_config(store, p.clone(), config).ctx(check, "opening the engine")
}

pub(super) fn borrowed<'a, S: EventStore>(
    check: &'static str,
    store: &'a mut S,
    p: &ProgrammeId,
    config: EngineConfig,
) -> Result<Engine<Borrowed<'a, S>>, Failure> {
    engine(check, Borrowed(store), p, config)
}

/// A fresh programme stream, checked empty, opened through a new engine
/// with the default settings: its id, its tag for fixtures, and the engine.
pub(super) fn opened<'a, S: EventStore>(
    check: &'static str,
    store: &'a mut S,
    name: &str,
) -> Result<(ProgrammeId, String, Engine<Borrowed<'a, S>>), Failure> {
    let p = programme_id(name);
    ensure_empty(check, store, &p)?;
    let tag = p.to_string();
    let mut eng = borrowed(check, store, &p, EngineConfig::default())?;
    exec(
        check,
        &mut eng,
        &fixtures::open(&tag, programme(10_000)),
        day(0),
    )?;
    Ok((p, tag, eng))
}

pub(super) fn exec<S: EventStore>(
    check: &'static str,
    engine: &mut Engine<S>,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Outcome, Failure> {
    engine.execute(command, now).map_err(|e| {
        fail(
            check,
            format!("command `{}` failed: {e}", command.action.name()),
        )
    })
}

/// Whether two states agree in all but their command index: what a
/// snapshot holds, so what an engine opened from one must agree with (the
/// index is checked apart).
pub(super) fn same_but_index(a: &State, b: &State) -> bool {
    a.programme() == b.programme()
        && a.version() == b.version()
        && a.last_at() == b.last_at()
        && a.pot() == b.pot()
        && a.sectors() == b.sectors()
        && a.applications() == b.applications()
        && a.waitlist() == b.waitlist()
        && a.deadlines() == b.deadlines()
        && a.invoices() == b.invoices()
}

/// Checks that the store's command records agree with a complete index.
pub(super) fn same_records<S: EventStore>(
    check: &'static str,
    store: &mut S,
    p: &ProgrammeId,
    live: &State,
) -> Check {
    let ids: Vec<CommandId> = live.commands().keys().copied().collect();
    let mut stored = store
        .command_records(p, &ids)
        .ctx(check, "command_records")?;
    stored.sort_by_key(|(id, _)| *id);
    let mut want: Vec<(CommandId, CommandRecord)> =
        live.commands().iter().map(|(id, r)| (*id, *r)).collect();
    want.sort_by_key(|(id, _)| *id);
    // A store reports where a command's events sit; what it asked is on its first event.
    let located = |records: &mut Vec<(CommandId, CommandRecord)>| {
        for (_, r) in records.iter_mut() {
            r.origin = None;
        }
    };
    located(&mut stored);
    located(&mut want);
    ensure!(
        check,
        stored == want,
        "the store's command records {stored:?} differ from the index folded from the events {want:?}"
    );
    Ok(())
}

pub(super) fn all_events<S: EventStore>(
    check: &'static str,
    store: &mut S,
    p: &ProgrammeId,
) -> Result<Vec<Recorded>, Failure> {
    store
        .load(p, 0, usize::MAX)
        .ctx(check, "loading the whole stream")
}
