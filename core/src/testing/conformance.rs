//! The store conformance suite (feature `conformance`): one set of checks
//! that every [`EventStore`] + [`Outbox`] must pass, written once and run
//! against the in-memory, SQLite and PostgreSQL stores.
//!
//! - [`run_all`] runs every check on stores made by a `fresh` closure;
//! - [`run_all_with_reopen`] also closes and reopens a store (a `reopen`
//!   closure) to check that streams, snapshots, the outbox and command
//!   idempotency survive a restart (including a command from before the
//!   snapshot, which the store answers for through
//!   [`EventStore::command_records`]);
//! - each check is also a public function (`check_*`) returning a
//!   [`Failure`] instead of panicking, so an adapter can run one alone;
//! - [`RawRows`] is the one thing the suite needs beyond the ports: a
//!   closure writing a stored event row as given, to plant an event of an
//!   old schema version ([`memory_raw`] for the in-memory store);
//! - [`fixtures`] builds programmes, applicants and commands for tests.
//!
//! Every check uses its own programme id ([`programme_id`]), so a `fresh`
//! store may share its database with others; the outbox checks need a
//! store whose outbox holds nothing else (a new file, a new schema).
//!
//! ```
//! use grantflow_core::InMemoryStore;
//! use grantflow_core::conformance::{memory_raw, run_all_with_reopen};
//!
//! let passed = run_all_with_reopen(InMemoryStore::new, |s| s.clone(), memory_raw).unwrap();
//! assert_eq!(passed, 12);
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::engine::memory::InMemoryStore;
use crate::engine::ports::{EventStore, Outbox, OutboxStatus, Recorded, Snapshot, StoreError};
use crate::engine::{Engine, EngineConfig, EngineError, Outcome, SNAPSHOT_FORMAT};
use crate::ledger::money::Money;
use crate::messages::command::{Action, Command};
use crate::messages::event::{EVENT_SCHEMA_VERSION, Event, EventKind};
use crate::messages::ids::{ApplicationId, CommandId, NoticeId, ProgrammeId};
use crate::messages::notices::{Notice, Role};
use crate::messages::rejection::RejectionCode;
use crate::state::{CommandRecord, State};

/// A check that did not pass: which one and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The check's name, e.g. `append_and_load`.
    pub check: &'static str,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conformance check `{}` failed: {}",
            self.check, self.message
        )
    }
}

impl std::error::Error for Failure {}

/// Writes stored event rows exactly as given, bypassing the encoder: how
/// the suite plants an event written by an older grantflow. Called with the
/// store, the programme, the expected version and the rows' JSON; returns the
/// new version. A store must still decode such rows with [`Event::from_json`]
/// when it loads them. Adapters pass a closure over their raw import method.
pub trait RawRows<S>:
    FnMut(&mut S, &ProgrammeId, u64, &[String]) -> Result<u64, StoreError>
{
}

impl<S, F: FnMut(&mut S, &ProgrammeId, u64, &[String]) -> Result<u64, StoreError>> RawRows<S>
    for F
{
}

/// [`RawRows`] for the [`InMemoryStore`]: it keeps decoded events, so rows
/// are decoded (and upcast) as they are written.
pub fn memory_raw(
    store: &mut InMemoryStore,
    programme: &ProgrammeId,
    expected: u64,
    rows: &[String],
) -> Result<u64, StoreError> {
    let mut events = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let event = Event::from_json(row).map_err(|e| StoreError::Corrupt {
            programme: programme.clone(),
            version: expected + i as u64 + 1,
            detail: e.to_string(),
        })?;
        events.push(event);
    }
    store.append(programme, expected, &events, &[])
}

/// A programme id no other check (in this process) uses: `conf-<tag>-<pid>-<n>`.
pub fn programme_id(tag: &str) -> ProgrammeId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    ProgrammeId::new(format!("conf-{tag}-{}-{n}", std::process::id()))
}

/// Test data: programmes, applicants, commands and times.
pub mod fixtures {
    use std::sync::Arc;

    use chrono::{DateTime, Duration, TimeZone, Utc};
    use rust_decimal::Decimal;

    use crate::ledger::money::Money;
    use crate::messages::command::{Action, Command};
    use crate::messages::ids::{ApplicationId, CommandId};
    use crate::rules::applicant::{Applicant, Contact, CostRequest, Organisation};
    use crate::rules::programme::{Level, Programme};

    /// 09:00 UTC on 1 September 2020 plus `n` days: inside the preset's open period.
    pub fn day(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 9, 1, 9, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
            + Duration::days(n)
    }

    /// The 2020 preset with a pot of `pot_pounds` and no contingency.
    pub fn programme(pot_pounds: u32) -> Programme {
        let mut p = Programme::healthcare_cyber_essentials_2020();
        p.pot.value = Money::pounds(pot_pounds);
        p.allocation.contingency.value = Money::ZERO;
        p
    }

    /// An eligible VAT-registered medical supplier numbered `n`.
    pub fn applicant(n: u64) -> Applicant {
        Applicant {
            organisation: Organisation {
                name: format!("Supplier {n}"),
                company_number: Some(format!("{:08}", n % 100_000_000)),
                charity_number: None,
                ods_code: None,
                region: Some("North West".into()),
            },
            contact: Contact {
                name: "Office Manager".into(),
                email: format!("office{n}@supplier.example"),
            },
            sector: "medical-supplier".into(),
            employees: 20,
            uk_based: true,
            already_certified: false,
            vat_registered: true,
        }
    }

    /// Basic certification with two consultancy days at £450: an award of £1,200 under the preset.
    pub fn request() -> CostRequest {
        CostRequest {
            level: Level::Basic,
            consultancy_days: Decimal::from(2),
            day_rate: Money::pounds(450),
            plus_audit_quote: None,
        }
    }

    /// The award [`request`] earns a VAT-registered applicant under the preset.
    pub const AWARD_POUNDS: u32 = 1_200;

    /// A command with an id derived from `name`.
    pub fn command(name: &str, action: Action) -> Command {
        Command::new(CommandId::from_name(name), action)
    }

    /// `open` for `programme`, with an id derived from `tag`.
    pub fn open(tag: &str, programme: Programme) -> Command {
        command(
            &format!("{tag}/open"),
            Action::Open {
                programme: Box::new(programme),
            },
        )
    }

    /// A submission of application `n` (id and command id derived from `tag` and `n`).
    pub fn submit(tag: &str, n: u64) -> Command {
        command(
            &format!("{tag}/submit/{n}"),
            Action::Submit {
                application: application(tag, n),
                applicant: Arc::new(applicant(n)),
                request: request(),
            },
        )
    }

    /// The acceptance of application `n`'s offer.
    pub fn accept(tag: &str, n: u64) -> Command {
        command(
            &format!("{tag}/accept/{n}"),
            Action::Accept {
                application: application(tag, n),
            },
        )
    }

    /// The id of application `n`.
    pub fn application(tag: &str, n: u64) -> ApplicationId {
        ApplicationId::from_name(&format!("{tag}/{n}"))
    }
}

use fixtures::{day, programme};

type Check = Result<(), Failure>;

fn fail(check: &'static str, message: impl Into<String>) -> Failure {
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

trait Ctx<T> {
    fn ctx(self, check: &'static str, what: &str) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self, check: &'static str, what: &str) -> Result<T, Failure> {
        self.map_err(|e| fail(check, format!("{what}: {e}")))
    }
}

fn event(n: u64, at: DateTime<Utc>) -> Event {
    Event::new(
        CommandId::from_name(&format!("raw-{n}")),
        at,
        EventKind::PotToppedUp {
            amount: Money::pounds(u32::try_from(n % 1000).unwrap_or(1) + 1),
            note: format!("top-up {n}"),
        },
    )
}

fn notice(tag: &str, n: u64) -> Notice {
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

fn ensure_empty<S: EventStore>(check: &'static str, store: &mut S, p: &ProgrammeId) -> Check {
    let v = store.version(p).ctx(check, "version of a new programme")?;
    ensure!(
        check,
        v == 0,
        "programme `{p}` already holds {v} events: the store is not fresh"
    );
    Ok(())
}

/// A borrowed store, so that a check can run an engine and then look at the store again.
struct Borrowed<'a, S>(&'a mut S);

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

fn engine<S: EventStore>(
    check: &'static str,
    store: S,
    p: &ProgrammeId,
    config: EngineConfig,
) -> Result<Engine<S>, Failure> {
    Engine::with_config(store, p.clone(), config).ctx(check, "opening the engine")
}

fn borrowed<'a, S: EventStore>(
    check: &'static str,
    store: &'a mut S,
    p: &ProgrammeId,
    config: EngineConfig,
) -> Result<Engine<Borrowed<'a, S>>, Failure> {
    engine(check, Borrowed(store), p, config)
}

/// A fresh programme stream, checked empty, opened through a new engine
/// with the default settings: its id, its tag for fixtures, and the engine.
fn opened<'a, S: EventStore>(
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

fn exec<S: EventStore>(
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

/// The state without its command index: what a snapshot holds, so what an
/// engine opened from one must agree with (the index is checked apart).
fn without_index(state: &State) -> State {
    let mut s = state.clone();
    s.commands.clear();
    s
}

/// Checks that the store's command records agree with a complete index.
fn same_records<S: EventStore>(
    check: &'static str,
    store: &mut S,
    p: &ProgrammeId,
    live: &State,
) -> Check {
    let ids: Vec<CommandId> = live.commands.keys().copied().collect();
    let mut stored = store
        .command_records(p, &ids)
        .ctx(check, "command_records")?;
    stored.sort_by_key(|(id, _)| *id);
    let mut want: Vec<(CommandId, CommandRecord)> =
        live.commands.iter().map(|(id, r)| (*id, *r)).collect();
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

fn all_events<S: EventStore>(
    check: &'static str,
    store: &mut S,
    p: &ProgrammeId,
) -> Result<Vec<Recorded>, Failure> {
    store
        .load(p, 0, usize::MAX)
        .ctx(check, "loading the whole stream")
}

/// Appending and loading: versions count from 1, `after` and `limit` page,
/// streams are separate, events come back equal.
pub fn check_append_and_load<S: EventStore>(store: &mut S) -> Check {
    const C: &str = "append_and_load";
    let p = programme_id("append");
    let other = programme_id("append-other");
    ensure_empty(C, store, &p)?;
    ensure_empty(C, store, &other)?;
    ensure!(
        C,
        store
            .load(&p, 0, 10)
            .ctx(C, "load of an empty stream")?
            .is_empty(),
        "an empty stream loaded events"
    );
    let first: Vec<Event> = (1..=3).map(|n| event(n, day(0))).collect();
    let v = store.append(&p, 0, &first, &[]).ctx(C, "first append")?;
    ensure!(
        C,
        v == 3,
        "append of 3 events to an empty stream returned version {v}, expected 3"
    );
    let second: Vec<Event> = (4..=5).map(|n| event(n, day(1))).collect();
    let v = store.append(&p, 3, &second, &[]).ctx(C, "second append")?;
    ensure!(C, v == 5, "second append returned version {v}, expected 5");
    let v = store.append(&p, 5, &[], &[]).ctx(C, "empty append")?;
    ensure!(
        C,
        v == 5,
        "an empty append returned version {v}, expected 5"
    );
    ensure!(
        C,
        store.version(&p).ctx(C, "version")? == 5,
        "version() is not 5 after 5 events"
    );
    let loaded = all_events(C, store, &p)?;
    let expected: Vec<Recorded> = first
        .iter()
        .chain(&second)
        .enumerate()
        .map(|(i, e)| Recorded {
            version: i as u64 + 1,
            event: e.clone(),
        })
        .collect();
    ensure!(
        C,
        loaded == expected,
        "the stream did not load back as written: {loaded:?}"
    );
    let page = store.load(&p, 1, 2).ctx(C, "load after 1, limit 2")?;
    ensure!(
        C,
        page == expected[1..3],
        "load(after 1, limit 2) gave versions {:?}",
        page.iter().map(|r| r.version).collect::<Vec<_>>()
    );
    ensure!(
        C,
        store
            .load(&p, 5, 10)
            .ctx(C, "load after the end")?
            .is_empty(),
        "loading after the last version returned events"
    );
    ensure!(
        C,
        store
            .load(&p, 99, 10)
            .ctx(C, "load far after the end")?
            .is_empty(),
        "loading past the end returned events"
    );
    ensure!(
        C,
        store.load(&p, 0, 0).ctx(C, "load with limit 0")?.is_empty(),
        "load with limit 0 returned events"
    );
    ensure!(
        C,
        store.version(&other).ctx(C, "other version")? == 0,
        "appending to one stream changed another"
    );
    let v = store
        .append(&other, 0, &first[..1], &[])
        .ctx(C, "append to a second stream")?;
    ensure!(C, v == 1, "the second stream's first append returned {v}");
    ensure!(
        C,
        store.version(&p).ctx(C, "version")? == 5,
        "appending to another stream changed this one"
    );
    Ok(())
}

/// Paging: loading in pages of any size gives the whole stream, in order.
pub fn check_paging<S: EventStore>(store: &mut S) -> Check {
    const C: &str = "paging";
    let p = programme_id("paging");
    ensure_empty(C, store, &p)?;
    let mut version = 0;
    for chunk in 0..5u64 {
        let events: Vec<Event> = (0..7)
            .map(|i| event(chunk * 7 + i, day(chunk as i64)))
            .collect();
        version = store.append(&p, version, &events, &[]).ctx(C, "append")?;
    }
    ensure!(C, version == 35, "35 events appended, version {version}");
    let whole = all_events(C, store, &p)?;
    ensure!(
        C,
        whole.len() == 35,
        "whole stream has {} events",
        whole.len()
    );
    for limit in [1usize, 4, 7, 10, 34, 35, 36] {
        let mut got = Vec::new();
        loop {
            let page = store
                .load(&p, got.len() as u64, limit)
                .ctx(C, "load a page")?;
            ensure!(
                C,
                page.len() <= limit,
                "a page of limit {limit} held {} events",
                page.len()
            );
            let n = page.len();
            got.extend(page);
            if n < limit {
                break;
            }
        }
        ensure!(
            C,
            got == whole,
            "pages of {limit} did not add up to the stream"
        );
    }
    Ok(())
}

/// Version conflicts: appending at a stale or future version is a typed
/// [`StoreError::Conflict`] that writes nothing (neither events nor notices).
pub fn check_conflicts<S: EventStore + Outbox>(store: &mut S) -> Check {
    const C: &str = "conflicts";
    let p = programme_id("conflict");
    ensure_empty(C, store, &p)?;
    let events: Vec<Event> = (1..=3).map(|n| event(n, day(0))).collect();
    store.append(&p, 0, &events, &[]).ctx(C, "first append")?;
    for expected in [0u64, 2, 4, 10] {
        let n = notice(p.as_str(), expected);
        match store.append(&p, expected, &events[..1], std::slice::from_ref(&n)) {
            Err(StoreError::Conflict {
                programme,
                expected: e,
                actual,
            }) => {
                ensure!(
                    C,
                    programme == p && e == expected && actual == 3,
                    "conflict reported programme `{programme}` expected {e} actual {actual}; wanted `{p}`, {expected}, 3"
                );
            }
            other => {
                return Err(fail(
                    C,
                    format!(
                        "append at expected {expected} on a stream at 3 gave {other:?}, not a conflict"
                    ),
                ));
            }
        }
        let v = store.version(&p).ctx(C, "version")?;
        ensure!(C, v == 3, "a conflicting append changed the version to {v}");
        let far = Utc
            .with_ymd_and_hms(2999, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let claimed = store.claim(far, far, 10_000).ctx(C, "claim")?;
        ensure!(
            C,
            !claimed.iter().any(|e| e.notice.id == n.id),
            "a conflicting append wrote its notice"
        );
        for e in claimed {
            store.acknowledge(e.notice.id).ctx(C, "acknowledge")?;
        }
    }
    ensure!(
        C,
        all_events(C, store, &p)?.len() == 3,
        "the stream grew after conflicts"
    );

    // The engine retries a conflict by catching up and deciding again.
    let q = programme_id("conflict-engine");
    ensure_empty(C, store, &q)?;
    let tag = q.to_string();
    let mut eng = borrowed(C, store, &q, EngineConfig::default())?;
    exec(
        C,
        &mut eng,
        &fixtures::open(&tag, programme(10_000)),
        day(0),
    )?;
    let behind_its_back = Event::new(
        CommandId::from_name(&format!("{tag}/top-up")),
        day(1),
        EventKind::PotToppedUp {
            amount: Money::pounds(500),
            note: "another writer".into(),
        },
    );
    eng.store_mut()
        .append(&q, 1, &[behind_its_back], &[])
        .ctx(C, "append by another writer")?;
    let out = exec(C, &mut eng, &fixtures::submit(&tag, 1), day(2))?;
    let first = out.events().first().map(|r| r.version);
    ensure!(
        C,
        first == Some(3),
        "after a conflict the engine appended at version {first:?}, expected 3"
    );
    ensure!(
        C,
        eng.state().pot.credits == Money::pounds(10_500),
        "the engine did not fold the other writer's event: credits {}",
        eng.state().pot.credits
    );
    Ok(())
}

/// Idempotency: a repeated command id returns the first outcome, also from
/// a new engine over the same store.
pub fn check_idempotency<S: EventStore>(store: &mut S) -> Check {
    const C: &str = "idempotency";
    let (p, tag, mut eng) = opened(C, store, "idem")?;
    let submit = fixtures::submit(&tag, 1);
    let first = exec(C, &mut eng, &submit, day(1))?;
    ensure!(
        C,
        matches!(first, Outcome::Applied { .. }) && !first.events().is_empty(),
        "first submission was not applied: {first:?}"
    );
    let again = exec(C, &mut eng, &submit, day(2))?;
    ensure!(
        C,
        again
            == Outcome::Duplicate {
                events: first.events().to_vec()
            },
        "a repeated command id gave {again:?}"
    );
    let version = eng.state().version;
    drop(eng);
    let mut eng = borrowed(C, store, &p, EngineConfig::default())?;
    let third = exec(C, &mut eng, &submit, day(3))?;
    ensure!(
        C,
        third
            == Outcome::Duplicate {
                events: first.events().to_vec()
            },
        "a repeat through a new engine gave {third:?}"
    );
    ensure!(
        C,
        eng.state().version == version,
        "a repeat changed the version"
    );
    Ok(())
}

/// The command index: [`EventStore::command_records`] gives the first
/// version and event count of each id asked about that recorded events in
/// this programme, leaves out the others (and other programmes' events),
/// and takes many ids in one call.
pub fn check_command_records<S: EventStore>(store: &mut S) -> Check {
    const C: &str = "command_records";
    let p = programme_id("records");
    let other = programme_id("records-other");
    ensure_empty(C, store, &p)?;
    ensure_empty(C, store, &other)?;
    let id = |n: u64| CommandId::from_name(&format!("{p}/cmd/{n}"));
    let at = |n: u64, c: u64| {
        let mut e = event(n, day(0));
        e.command = id(c);
        e
    };
    // Command 1 records three events, 2 one, 3 two (in a later append).
    store
        .append(&p, 0, &[at(1, 1), at(2, 1), at(3, 1), at(4, 2)], &[])
        .ctx(C, "append")?;
    store
        .append(&p, 4, &[at(5, 3), at(6, 3)], &[])
        .ctx(C, "second append")?;
    // Command 4 recorded only in another programme.
    store
        .append(&other, 0, &[at(7, 4)], &[])
        .ctx(C, "append to another programme")?;
    ensure!(
        C,
        store.command_records(&p, &[]).ctx(C, "no ids")?.is_empty(),
        "asking about no ids gave records"
    );
    let mut got = store
        .command_records(&p, &[id(3), id(9), id(1), id(4), id(2), id(1)])
        .ctx(C, "command_records")?;
    got.sort_by_key(|(c, _)| *c);
    got.dedup();
    let rec = |first_version, events| CommandRecord::located(first_version, events);
    let mut want = vec![(id(1), rec(1, 3)), (id(2), rec(4, 1)), (id(3), rec(5, 2))];
    want.sort_by_key(|(c, _)| *c);
    ensure!(
        C,
        got == want,
        "command_records gave {got:?}, expected {want:?}"
    );
    let many: Vec<CommandId> = (0..5_000).map(|n| id(n + 100)).chain([id(2)]).collect();
    let got = store
        .command_records(&p, &many)
        .ctx(C, "command_records of 5,001 ids")?;
    ensure!(
        C,
        got == vec![(id(2), rec(4, 1))],
        "5,001 ids with one known gave {got:?}"
    );
    Ok(())
}

/// Idempotency from a snapshot: an engine opened from a snapshot (which
/// holds no command index) still returns the recorded outcome for a command
/// from before the snapshot, alone or in a group commit next to commands of
/// the tail and new ones.
pub fn check_idempotency_from_snapshot<S: EventStore>(store: &mut S) -> Check {
    const C: &str = "idempotency_from_snapshot";
    let p = programme_id("idem-snap");
    ensure_empty(C, store, &p)?;
    let tag = p.to_string();
    let config = EngineConfig {
        snapshot_every: 5,
        ..EngineConfig::default()
    };
    let mut eng = borrowed(C, store, &p, config)?;
    exec(
        C,
        &mut eng,
        &fixtures::open(&tag, programme(10_000)),
        day(0),
    )?;
    // A top-up before the snapshot: repeated, it would decide to events again.
    let top_up = Command::new(
        CommandId::from_name(&format!("{tag}-top-up")),
        Action::TopUp {
            amount: Money::pounds(100),
            note: "before the snapshot".into(),
        },
    );
    let top_up_out = exec(C, &mut eng, &top_up, day(0))?;
    let mut outcomes = Vec::new();
    for n in 0..3 {
        let c = fixtures::submit(&tag, n);
        let out = exec(C, &mut eng, &c, day(1))?;
        outcomes.push((c, out));
    }
    let live = eng.state().clone();
    drop(eng);
    let snap = store
        .load_snapshot(&p)
        .ctx(C, "load snapshot")?
        .ok_or_else(|| fail(C, "no snapshot with snapshot_every = 5"))?;
    let (before, after): (Vec<_>, Vec<_>) = outcomes
        .iter()
        .partition(|(_, o)| o.events().last().is_some_and(|r| r.version <= snap.version));
    ensure!(
        C,
        !before.is_empty() && !after.is_empty(),
        "the snapshot at {} does not split the submissions",
        snap.version
    );
    // Alone.
    let mut eng = borrowed(C, store, &p, config)?;
    ensure!(
        C,
        without_index(eng.state()) == without_index(&live),
        "opening from the snapshot gave another state"
    );
    let again = exec(C, &mut eng, &top_up, day(2))?;
    ensure!(
        C,
        again
            == Outcome::Duplicate {
                events: top_up_out.events().to_vec()
            },
        "a top-up from before the snapshot, repeated, gave {again:?}, first {top_up_out:?}"
    );
    for (c, out) in &outcomes {
        let again = exec(C, &mut eng, c, day(2))?;
        ensure!(
            C,
            again
                == Outcome::Duplicate {
                    events: out.events().to_vec()
                },
            "a repeat from a snapshot-opened engine gave {again:?}, first {out:?}"
        );
    }
    drop(eng);
    // In one group commit: old, tail, new, and the new one repeated.
    let mut eng = borrowed(C, store, &p, config)?;
    let (old, old_out) = before[0];
    let (tail, tail_out) = after[0];
    let new = fixtures::submit(&tag, 10);
    let results = eng
        .execute_batch(&[
            (old.clone(), day(2)),
            (new.clone(), day(2)),
            (tail.clone(), day(2)),
            (new.clone(), day(2)),
        ])
        .ctx(C, "execute_batch")?;
    let dup = |o: &Outcome| Outcome::Duplicate {
        events: o.events().to_vec(),
    };
    ensure!(
        C,
        results[0].as_ref().ok() == Some(&dup(old_out))
            && results[2].as_ref().ok() == Some(&dup(tail_out)),
        "repeats in a group commit gave {:?} and {:?}",
        results[0],
        results[2]
    );
    let Ok(applied @ Outcome::Applied { .. }) = &results[1] else {
        return Err(fail(
            C,
            format!("a new command in the batch gave {:?}", results[1]),
        ));
    };
    ensure!(
        C,
        results[3].as_ref().ok() == Some(&dup(applied)),
        "a command repeated inside the batch gave {:?}",
        results[3]
    );
    let version = eng.state().version;
    drop(eng);
    let mut replayed = borrowed(C, store, &p, config)?;
    replayed.replay_all().ctx(C, "replay_all")?;
    ensure!(
        C,
        replayed.state().version == version
            && replayed.state().commands.len() == live.commands.len() + 1,
        "the stream holds {} commands at version {}, expected {} at {version}",
        replayed.state().commands.len(),
        replayed.state().version,
        live.commands.len() + 1
    );
    let full = replayed.state().clone();
    drop(replayed);
    // Asked directly, with nothing to write: a recorded command is named as
    // such, a new one answers with the version.
    let recorded = store
        .append_command(&p, version, &top_up.id, &[], &[])
        .ctx(C, "append_command of a recorded command")?;
    let fresh = store
        .append_command(
            &p,
            version,
            &CommandId::from_name(&format!("{tag}-new")),
            &[],
            &[],
        )
        .ctx(C, "append_command of a new command")?;
    ensure!(
        C,
        recorded.is_none() && fresh == Some(version),
        "append_command with nothing to write gave {recorded:?} and {fresh:?} at version {version}"
    );
    same_records(C, store, &p, &full)?;
    Ok(())
}

/// Snapshots: the engine saves them every N events; opening from the newest
/// gives the same state as a full replay; unusable snapshots are ignored.
pub fn check_snapshots<S: EventStore>(store: &mut S) -> Check {
    const C: &str = "snapshots";
    let p = programme_id("snap");
    ensure_empty(C, store, &p)?;
    ensure!(
        C,
        store
            .load_snapshot(&p)
            .ctx(C, "load a missing snapshot")?
            .is_none(),
        "a new programme has a snapshot"
    );
    let tag = p.to_string();
    let config = EngineConfig {
        snapshot_every: 4,
        ..EngineConfig::default()
    };
    let mut eng = borrowed(C, store, &p, config)?;
    exec(C, &mut eng, &fixtures::open(&tag, programme(6_000)), day(0))?;
    for n in 0..9 {
        let t = day(1) + Duration::hours(2 * n as i64);
        exec(C, &mut eng, &fixtures::submit(&tag, n), t)?;
        if n % 2 == 0 {
            // Some offers are accepted; the waitlisted ones are refused.
            match eng.execute(&fixtures::accept(&tag, n), t + Duration::hours(1)) {
                Ok(_) | Err(EngineError::Rejected(_)) => {}
                Err(e) => return Err(fail(C, format!("accept failed: {e}"))),
            }
        }
    }
    let live = eng.state().clone();
    drop(eng);
    let snap = store
        .load_snapshot(&p)
        .ctx(C, "load snapshot")?
        .ok_or_else(|| {
            fail(
                C,
                "no snapshot after more than 4 events with snapshot_every = 4",
            )
        })?;
    ensure!(
        C,
        snap.format == SNAPSHOT_FORMAT,
        "snapshot format {} came back, {} was saved",
        snap.format,
        SNAPSHOT_FORMAT
    );
    ensure!(
        C,
        snap.version > 0 && snap.version <= live.version,
        "snapshot at version {} for a stream at {}",
        snap.version,
        live.version
    );
    let from_snapshot = borrowed(C, store, &p, config)?;
    ensure!(
        C,
        without_index(from_snapshot.state()) == without_index(&live),
        "opening from the snapshot gave a state unlike the live one"
    );
    ensure!(
        C,
        from_snapshot
            .state()
            .commands
            .values()
            .all(|r| r.first_version > snap.version),
        "the command index came back from the snapshot"
    );
    drop(from_snapshot);
    same_records(C, store, &p, &live)?;
    let mut replayed = borrowed(C, store, &p, config)?;
    replayed.replay_all().ctx(C, "replay_all")?;
    ensure!(
        C,
        replayed.state() == &live,
        "a full replay differs from the state opened from the snapshot"
    );
    replayed.state().check_invariants().ctx(C, "invariants")?;
    drop(replayed);

    // The newest snapshot is returned, with its format and data as saved.
    let q = programme_id("snap-raw");
    ensure_empty(C, store, &q)?;
    let a = Snapshot {
        version: 3,
        format: 1,
        data: "{\"a\":1}".into(),
    };
    let b = Snapshot {
        version: 7,
        format: 1,
        data: "{\"b\":\"é ✓\"}".into(),
    };
    store.save_snapshot(&q, &a).ctx(C, "save snapshot")?;
    store
        .save_snapshot(&q, &b)
        .ctx(C, "save a newer snapshot")?;
    let got = store.load_snapshot(&q).ctx(C, "load snapshot")?;
    ensure!(
        C,
        got.as_ref() == Some(&b),
        "the newest snapshot came back as {got:?}"
    );
    ensure!(
        C,
        store
            .load_snapshot(&p)
            .ctx(C, "load snapshot")?
            .is_some_and(|s| s.version == snap.version),
        "a snapshot of another programme replaced this one"
    );

    // A snapshot of an unknown format or unreadable data is ignored: full replay.
    for bad in [
        Snapshot {
            version: live.version,
            format: 999,
            data: "{}".into(),
        },
        Snapshot {
            version: live.version,
            format: SNAPSHOT_FORMAT,
            data: "not json".into(),
        },
    ] {
        store
            .save_snapshot(&p, &bad)
            .ctx(C, "save an unusable snapshot")?;
        let eng = borrowed(C, store, &p, config)?;
        ensure!(
            C,
            eng.state() == &live,
            "an unusable snapshot (format {}) was not ignored",
            bad.format
        );
    }
    Ok(())
}

/// The outbox: notices written with events are claimed, leased, acknowledged,
/// retried, dead-lettered and re-queued. Needs an outbox holding nothing else.
pub fn check_outbox<S: EventStore + Outbox>(store: &mut S) -> Check {
    const C: &str = "outbox";
    let p = programme_id("outbox");
    ensure_empty(C, store, &p)?;
    let t0 = day(0);
    let before = store
        .claim(t0 + Duration::days(10_000), t0, 10_000)
        .ctx(C, "claim on an empty outbox")?;
    ensure!(
        C,
        before.is_empty(),
        "the outbox is not empty before the check ({} due notices)",
        before.len()
    );
    let notices: Vec<Notice> = (0..5).map(|n| notice(p.as_str(), n)).collect();
    store
        .append(&p, 0, &[event(1, t0)], &notices[..3])
        .ctx(C, "append with notices")?;
    store
        .append(&p, 1, &[event(2, t0 + Duration::minutes(1))], &notices[3..])
        .ctx(C, "append with more notices")?;
    // A notice id already in the outbox is not queued twice.
    store
        .append(&p, 2, &[event(3, t0 + Duration::hours(2))], &notices[..1])
        .ctx(C, "append with a repeated notice")?;

    ensure!(
        C,
        store
            .claim(t0 - Duration::seconds(1), t0, 10)
            .ctx(C, "claim early")?
            .is_empty(),
        "notices were claimable before their events' time"
    );
    let lease = t0 + Duration::minutes(5);
    let first = store.claim(t0, lease, 2).ctx(C, "claim 2")?;
    let ids: Vec<NoticeId> = first.iter().map(|e| e.notice.id).collect();
    ensure!(
        C,
        ids == [notices[0].id, notices[1].id],
        "claim(limit 2) returned {ids:?}, expected the first two notices in order"
    );
    for e in &first {
        ensure!(
            C,
            e.programme == p
                && e.status == OutboxStatus::Pending
                && e.attempts == 0
                && e.last_error.is_none()
                && e.next_attempt <= t0,
            "a new entry looks wrong: {e:?}"
        );
    }
    ensure!(
        C,
        first[0].notice == notices[0],
        "the notice came back changed: {:?}",
        first[0].notice
    );
    let second = store
        .claim(t0 + Duration::minutes(2), lease, 10)
        .ctx(C, "claim the rest")?;
    let ids: Vec<NoticeId> = second.iter().map(|e| e.notice.id).collect();
    ensure!(
        C,
        ids == [notices[2].id, notices[3].id, notices[4].id],
        "a second claim returned {ids:?}: leased notices must stay hidden, the repeated one must not be queued twice"
    );
    ensure!(
        C,
        store
            .claim(t0 + Duration::minutes(4), lease, 10)
            .ctx(C, "claim while leased")?
            .is_empty(),
        "leased notices were claimed again"
    );

    store.acknowledge(notices[0].id).ctx(C, "acknowledge")?;
    store
        .retry_later(notices[1].id, t0 + Duration::hours(3), "HTTP 503")
        .ctx(C, "retry_later")?;
    store
        .dead_letter(notices[2].id, "HTTP 410 gone")
        .ctx(C, "dead_letter")?;
    // After the lease ends the unacknowledged ones come back; the retried one waits for its time.
    let after_lease = store
        .claim(lease, lease + Duration::minutes(5), 10)
        .ctx(C, "claim after the lease")?;
    let ids: Vec<NoticeId> = after_lease.iter().map(|e| e.notice.id).collect();
    ensure!(
        C,
        ids == [notices[3].id, notices[4].id],
        "after the lease ended claim returned {ids:?}"
    );
    let retried = store
        .claim(t0 + Duration::hours(3), t0 + Duration::hours(4), 10)
        .ctx(C, "claim the retried")?;
    ensure!(
        C,
        retried.len() == 3 && retried[0].notice.id == notices[1].id,
        "the retried notice was not claimable at its time: {retried:?}"
    );
    let r = &retried[0];
    ensure!(
        C,
        r.attempts == 1
            && r.last_error.as_deref() == Some("HTTP 503")
            && r.next_attempt == t0 + Duration::hours(3)
            && r.status == OutboxStatus::Pending,
        "a retried entry looks wrong: {r:?}"
    );

    let dead = store.dead_letters(10).ctx(C, "dead_letters")?;
    ensure!(
        C,
        dead.len() == 1 && dead[0].notice.id == notices[2].id,
        "dead letters: {dead:?}"
    );
    ensure!(
        C,
        dead[0].status == OutboxStatus::DeadLetter
            && dead[0].attempts == 1
            && dead[0].last_error.as_deref() == Some("HTTP 410 gone"),
        "a dead letter looks wrong: {:?}",
        dead[0]
    );
    ensure!(
        C,
        store.dead_letters(0).ctx(C, "dead_letters(0)")?.is_empty(),
        "dead_letters(0) returned entries"
    );

    let t1 = t0 + Duration::days(1);
    store.requeue(notices[2].id, t1).ctx(C, "requeue")?;
    ensure!(
        C,
        store.dead_letters(10).ctx(C, "dead_letters")?.is_empty(),
        "a re-queued notice is still dead-lettered"
    );
    for e in [notices[1].id, notices[3].id, notices[4].id] {
        store.acknowledge(e).ctx(C, "acknowledge")?;
    }
    let requeued = store
        .claim(t1, t1 + Duration::minutes(5), 10)
        .ctx(C, "claim the re-queued")?;
    ensure!(
        C,
        requeued.len() == 1
            && requeued[0].notice.id == notices[2].id
            && requeued[0].attempts == 0
            && requeued[0].next_attempt == t1,
        "after requeue claim returned {requeued:?}"
    );
    store.acknowledge(notices[2].id).ctx(C, "acknowledge")?;
    ensure!(
        C,
        store
            .claim(t1 + Duration::days(10_000), t1, 10)
            .ctx(C, "final claim")?
            .is_empty(),
        "acknowledged notices were claimed again"
    );

    let unknown = NoticeId::from_name(&format!("{p}/no-such-notice"));
    let results = [
        store.acknowledge(unknown),
        store.retry_later(unknown, t1, "x"),
        store.dead_letter(unknown, "x"),
        store.requeue(unknown, t1),
    ];
    for r in results {
        ensure!(
            C,
            r == Err(StoreError::UnknownNotice(unknown)),
            "an unknown notice id gave {r:?}, not UnknownNotice"
        );
    }
    Ok(())
}

/// The engine's notices reach the outbox in the same append as their events.
pub fn check_engine_notices<S: EventStore + Outbox>(store: &mut S) -> Check {
    const C: &str = "engine_notices";
    let (p, tag, mut eng) = opened(C, store, "notices")?;
    let out = exec(C, &mut eng, &fixtures::submit(&tag, 1), day(1))?;
    let Outcome::Applied { notices, .. } = out else {
        return Err(fail(C, "the submission was not applied"));
    };
    ensure!(C, notices >= 1, "an offer made no notice");
    drop(eng);
    let far = day(100_000);
    let claimed: Vec<_> = store
        .claim(far, far, 10_000)
        .ctx(C, "claim")?
        .into_iter()
        .filter(|e| e.programme == p)
        .collect();
    ensure!(
        C,
        claimed.len() == notices,
        "the outbox holds {} notices of the programme, the engine reported {notices}",
        claimed.len()
    );
    ensure!(
        C,
        claimed.iter().any(|e| e.notice.template == "offer_made"
            && e.notice.to.as_deref() == Some("office1@supplier.example")),
        "no offer_made notice to the applicant: {claimed:?}"
    );
    for e in claimed {
        store.acknowledge(e.notice.id).ctx(C, "acknowledge")?;
    }
    Ok(())
}

/// Upcasting: a `claim_paid` event of schema version 1 (field `invoice`)
/// stored as it was written loads as the current version; a row of a newer
/// version is a typed error.
pub fn check_upcasting<S: EventStore>(store: &mut S, raw: &mut impl RawRows<S>) -> Check {
    const C: &str = "upcasting";
    let p = programme_id("upcast");
    ensure_empty(C, store, &p)?;
    let v1 = r#"{"schema_version":1,"command":"00000000-0000-0000-0000-000000000001","at":"2020-10-01T09:00:00Z","type":"claim_paid","application":"00000000-0000-0000-0000-000000000002","item":"certification_fee","invoice":"INV-1","amount":"360.00"}"#;
    let current = event(7, day(3)).to_json();
    let v = raw(store, &p, 0, &[v1.to_string(), current]).ctx(C, "append raw rows")?;
    ensure!(C, v == 2, "two raw rows gave version {v}");
    let loaded = all_events(C, store, &p)?;
    ensure!(
        C,
        loaded.len() == 2,
        "{} events loaded, 2 stored",
        loaded.len()
    );
    let e = &loaded[0].event;
    ensure!(
        C,
        e.schema_version == EVENT_SCHEMA_VERSION,
        "an old event loaded with schema version {}",
        e.schema_version
    );
    ensure!(
        C,
        matches!(&e.kind, EventKind::ClaimPaid { invoice_ref, amount, .. } if invoice_ref == "INV-1" && *amount == Money::from_pence(36_000).unwrap_or(Money::ZERO)),
        "the v1 claim did not upcast: {e:?}"
    );
    ensure!(
        C,
        loaded[1].event == event(7, day(3)),
        "a current event next to an old one changed: {:?}",
        loaded[1].event
    );
    // New events append after raw ones.
    let v = store
        .append(&p, 2, &[event(8, day(4))], &[])
        .ctx(C, "append after raw rows")?;
    ensure!(C, v == 3, "append after raw rows gave version {v}");
    Ok(())
}

/// Group commit: a batch with a rejected command in the middle records the
/// others in one append, reports the rejection in its slot and writes nothing for it.
pub fn check_group_commit<S: EventStore>(store: &mut S) -> Check {
    const C: &str = "group_commit";
    let (p, tag, mut eng) = opened(C, store, "batch")?;
    let ghost = fixtures::command(
        &format!("{tag}/accept-ghost"),
        Action::Accept {
            application: ApplicationId::from_name(&format!("{tag}/ghost")),
        },
    );
    let batch = vec![
        (fixtures::submit(&tag, 1), day(1)),
        (ghost.clone(), day(1)),
        (fixtures::submit(&tag, 2), day(1)),
        (fixtures::accept(&tag, 1), day(2)),
    ];
    let results = eng.execute_batch(&batch).ctx(C, "execute_batch")?;
    ensure!(
        C,
        results.len() == 4,
        "{} results for 4 commands",
        results.len()
    );
    ensure!(
        C,
        matches!(&results[1], Err(r) if r.code == RejectionCode::UnknownApplication),
        "the accept of an unknown application gave {:?}",
        results[1]
    );
    let mut next = 2;
    for i in [0usize, 2, 3] {
        let Ok(Outcome::Applied { events, .. }) = &results[i] else {
            return Err(fail(
                C,
                format!("batch slot {i} was not applied: {:?}", results[i]),
            ));
        };
        ensure!(C, !events.is_empty(), "batch slot {i} recorded nothing");
        for r in events {
            ensure!(
                C,
                r.version == next,
                "batch slot {i} recorded version {}, expected {next}",
                r.version
            );
            next += 1;
        }
    }
    let version = eng.state().version;
    ensure!(
        C,
        version == next - 1,
        "the engine is at {version}, the batch ended at {}",
        next - 1
    );
    let live = eng.state().clone();
    ensure!(
        C,
        !live.commands.contains_key(&ghost.id),
        "the rejected command was recorded"
    );
    drop(eng);
    ensure!(
        C,
        store.version(&p).ctx(C, "version")? == version,
        "the store's version differs from the engine's"
    );
    let stored = all_events(C, store, &p)?;
    ensure!(
        C,
        !stored.iter().any(|r| r.event.command == ghost.id),
        "the rejected command wrote events"
    );
    let mut eng = borrowed(C, store, &p, EngineConfig::default())?;
    ensure!(
        C,
        eng.state() == &live,
        "reloading after a batch gave a different state"
    );
    // Replaying the batch: the applied ones are duplicates, the rejected one is rejected again.
    let again = eng.execute_batch(&batch).ctx(C, "repeat the batch")?;
    for i in [0usize, 2, 3] {
        let want = results[i].as_ref().ok().map(|o| o.events().to_vec());
        ensure!(
            C,
            matches!(&again[i], Ok(Outcome::Duplicate { events }) if Some(events) == want.as_ref()),
            "repeated slot {i} gave {:?}",
            again[i]
        );
    }
    ensure!(
        C,
        again[1].is_err(),
        "the rejected command was accepted on repeat"
    );
    ensure!(
        C,
        eng.state().version == version,
        "repeating a batch wrote events"
    );
    // A batch over the limit is refused whole.
    let small = EngineConfig {
        max_batch: 2,
        ..EngineConfig::default()
    };
    let mut eng = borrowed(C, store, &p, small)?;
    let refused = eng.execute_batch(&[
        (fixtures::submit(&tag, 3), day(3)),
        (fixtures::submit(&tag, 4), day(3)),
        (fixtures::submit(&tag, 5), day(3)),
    ]);
    ensure!(
        C,
        matches!(
            refused,
            Err(EngineError::BatchTooLarge { given: 3, max: 2 })
        ),
        "an oversized batch gave {refused:?}"
    );
    ensure!(
        C,
        store.version(&p).ctx(C, "version")? == version,
        "an oversized batch wrote events"
    );
    Ok(())
}

/// Reopening: streams, snapshots, the outbox and command idempotency survive
/// closing the store and opening it again.
pub fn check_reopen<S: EventStore + Outbox>(
    store: S,
    reopen: &mut impl FnMut(S) -> S,
) -> Result<S, Failure> {
    const C: &str = "reopen";
    let mut store = store;
    let p = programme_id("reopen");
    ensure_empty(C, &mut store, &p)?;
    let tag = p.to_string();
    let config = EngineConfig {
        snapshot_every: 3,
        ..EngineConfig::default()
    };
    let mut eng = engine(C, store, &p, config)?;
    exec(
        C,
        &mut eng,
        &fixtures::open(&tag, programme(10_000)),
        day(0),
    )?;
    let submit = fixtures::submit(&tag, 1);
    let first = exec(C, &mut eng, &submit, day(1))?;
    exec(C, &mut eng, &fixtures::submit(&tag, 2), day(1))?;
    let live = eng.state().clone();
    let mut store = eng.into_store();
    let snapshot = store.load_snapshot(&p).ctx(C, "load snapshot")?;
    ensure!(
        C,
        snapshot.is_some(),
        "no snapshot was saved with snapshot_every = 3"
    );
    let far = day(100_000);
    let due = store
        .claim(far, day(0), 10_000)
        .ctx(C, "claim")?
        .into_iter()
        .filter(|e| e.programme == p)
        .count();

    let mut store = reopen(store);
    ensure!(
        C,
        store
            .load_snapshot(&p)
            .ctx(C, "load snapshot after reopen")?
            == snapshot,
        "the snapshot changed across a reopen"
    );
    let after = store
        .claim(far, day(0), 10_000)
        .ctx(C, "claim after reopen")?
        .into_iter()
        .filter(|e| e.programme == p)
        .count();
    ensure!(
        C,
        after == due && due > 0,
        "{due} notices were due before the reopen, {after} after"
    );
    let snapshot_version = snapshot.as_ref().map_or(0, |s| s.version);
    let first_last = first.events().last().map_or(0, |r| r.version);
    ensure!(
        C,
        first_last <= snapshot_version,
        "the first submission (to version {first_last}) is not inside the snapshot at {snapshot_version}"
    );
    let mut eng = engine(C, store, &p, config)?;
    ensure!(
        C,
        without_index(eng.state()) == without_index(&live),
        "the state after a reopen differs"
    );
    // A command from before the snapshot, repeated after opening from it.
    let again = exec(C, &mut eng, &submit, day(2))?;
    ensure!(
        C,
        again
            == Outcome::Duplicate {
                events: first.events().to_vec()
            },
        "after a reopen a repeated command from before the snapshot gave {again:?}"
    );
    let version = eng.state().version;
    let store = reopen(eng.into_store());
    let mut eng = engine(C, store, &p, config)?;
    let batch = eng
        .execute_batch(&[(submit.clone(), day(2)), (submit.clone(), day(2))])
        .ctx(C, "repeat in a group commit after a reopen")?;
    ensure!(
        C,
        batch.iter().all(|r| r.as_ref().ok()
            == Some(&Outcome::Duplicate {
                events: first.events().to_vec()
            })),
        "after a reopen a group commit repeating a command from before the snapshot gave {batch:?}"
    );
    ensure!(
        C,
        eng.state().version == version,
        "repeating commands after a reopen wrote events"
    );
    let store = reopen(eng.into_store());
    let mut eng = engine(C, store, &p, config)?;
    eng.replay_all().ctx(C, "replay_all after reopen")?;
    ensure!(
        C,
        eng.state() == &live && eng.state().version == version,
        "a full replay after a reopen differs"
    );
    let mut store = eng.into_store();
    for e in store.claim(far, far, 10_000).ctx(C, "claim")? {
        store.acknowledge(e.notice.id).ctx(C, "acknowledge")?;
    }
    Ok(store)
}

fn collect(failures: &mut Vec<Failure>, passed: &mut usize, result: Check) {
    match result {
        Ok(()) => *passed += 1,
        Err(f) => failures.push(f),
    }
}

/// Runs every check except reopening; each on a store from `fresh`.
/// Returns the number of checks passed, or every failure.
pub fn run_all<S: EventStore + Outbox>(
    mut fresh: impl FnMut() -> S,
    mut raw: impl RawRows<S>,
) -> Result<usize, Vec<Failure>> {
    let mut failures = Vec::new();
    let mut passed = 0;
    collect(
        &mut failures,
        &mut passed,
        check_append_and_load(&mut fresh()),
    );
    collect(&mut failures, &mut passed, check_paging(&mut fresh()));
    collect(&mut failures, &mut passed, check_conflicts(&mut fresh()));
    collect(&mut failures, &mut passed, check_idempotency(&mut fresh()));
    collect(
        &mut failures,
        &mut passed,
        check_command_records(&mut fresh()),
    );
    collect(
        &mut failures,
        &mut passed,
        check_idempotency_from_snapshot(&mut fresh()),
    );
    collect(&mut failures, &mut passed, check_snapshots(&mut fresh()));
    collect(&mut failures, &mut passed, check_outbox(&mut fresh()));
    collect(
        &mut failures,
        &mut passed,
        check_engine_notices(&mut fresh()),
    );
    collect(
        &mut failures,
        &mut passed,
        check_upcasting(&mut fresh(), &mut raw),
    );
    collect(&mut failures, &mut passed, check_group_commit(&mut fresh()));
    if failures.is_empty() {
        Ok(passed)
    } else {
        Err(failures)
    }
}

/// [`run_all`], then the reopen check: `reopen` closes a store and opens it
/// again on the same data (a file path, a database URL).
pub fn run_all_with_reopen<S: EventStore + Outbox>(
    mut fresh: impl FnMut() -> S,
    mut reopen: impl FnMut(S) -> S,
    raw: impl RawRows<S>,
) -> Result<usize, Vec<Failure>> {
    let (mut passed, mut failures) = match run_all(&mut fresh, raw) {
        Ok(n) => (n, Vec::new()),
        Err(f) => (0, f),
    };
    // Idempotency and the outbox again, each on a store that was closed and reopened first.
    let result = check_reopen(fresh(), &mut reopen).and_then(|store| {
        let mut store = reopen(store);
        check_idempotency(&mut store)?;
        let mut store = reopen(store);
        check_engine_notices(&mut store)
    });
    collect(&mut failures, &mut passed, result);
    if failures.is_empty() {
        Ok(passed)
    } else {
        Err(failures)
    }
}

/// Panics with every failure: for `#[test]` functions.
pub fn assert_conformance(result: Result<usize, Vec<Failure>>) -> usize {
    match result {
        Ok(n) => n,
        Err(failures) => {
            let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
            panic!(
                "{} conformance check(s) failed:\n{}",
                failures.len(),
                text.join("\n")
            )
        }
    }
}
