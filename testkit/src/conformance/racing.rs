//! Racing writers: several threads, each with its own handle on one store
//! and its own [`Engine`], submit, accept and withdraw against one small
//! pot. Afterwards the stream has no gap, the pot was never overspent at
//! any version, and every command a writer saw acknowledged is in the log,
//! whole and once.

use std::collections::{BTreeMap, BTreeSet};

use grantflow_core::{
    Action, Command, CommandId, Engine, EngineConfig, EngineError, EventStore, Outcome,
    ProgrammeId, StageKind, State, evolve,
};

use super::fixtures::{self, day};
use super::harness::{Check, Ctx, ensure, fail};
use super::programme_id;

const CHECK: &str = "racing_writers";
/// Threads writing at once.
pub const WRITERS: u64 = 4;
/// Applications each writer submits.
const APPS: u64 = 20;
/// Five awards of the fixtures' £1,200: most of the 80 applications wait.
const POT_POUNDS: u32 = 6_000;
/// How often a writer goes back to the store when others keep winning.
const ROUNDS: usize = 10_000;

/// Engine settings for racing writers: conflicts are the point, so an
/// engine retries many times before it gives up.
fn racing() -> EngineConfig {
    EngineConfig {
        max_conflict_retries: 1_000,
        ..EngineConfig::default()
    }
}

/// Runs a command until it is decided, catching up while others win.
fn run<S: EventStore>(engine: &mut Engine<S>, command: &Command) -> Result<Outcome, String> {
    for _ in 0..ROUNDS {
        match engine.execute(command, day(5)) {
            Err(EngineError::Contention { .. }) => {
                engine.catch_up().map_err(|e| e.to_string())?;
            }
            Ok(outcome) => return Ok(outcome),
            Err(e) => return Err(format!("{:?}: {e}", command.action.kind())),
        }
    }
    Err(format!(
        "{:?} lost the race {ROUNDS} times",
        command.action.kind()
    ))
}

/// One racing writer on the programme `tag` (opened with
/// [`fixtures::open`]): submits `apps` applications numbered from
/// `writer * 1000`, accepts whatever of its own is on offer after each
/// (its own or one re-offered from the waitlist), and withdraws every third
/// award it accepted, releasing money that the waitlist then takes. Every
/// command is sent at `fixtures::day(5)`, so no writer's command is ever
/// earlier than another's. Returns the ids of the commands it saw
/// acknowledged.
pub fn race_writer<S: EventStore>(
    engine: &mut Engine<S>,
    tag: &str,
    writer: u64,
    apps: u64,
) -> Result<Vec<CommandId>, String> {
    let mut acknowledged = Vec::new();
    let mut accepted = 0u64;
    for i in 0..apps {
        let n = writer * 1000 + i;
        let submit = fixtures::submit(tag, n);
        run(engine, &submit).map_err(|e| format!("writer {writer} submit {n}: {e}"))?;
        acknowledged.push(submit.id);
        engine.catch_up().map_err(|e| e.to_string())?;
        let offered: Vec<u64> = (writer * 1000..=n)
            .filter(|m| {
                engine
                    .state()
                    .application(&fixtures::application(tag, *m))
                    .is_some_and(|a| a.stage().kind() == StageKind::Offered)
            })
            .collect();
        for m in offered {
            let accept = fixtures::accept(tag, m);
            // Time stands still here, so no offer lapses: a refusal is a defect.
            run(engine, &accept).map_err(|e| format!("writer {writer} accept {m}: {e}"))?;
            acknowledged.push(accept.id);
            accepted += 1;
            if accepted % 3 == 0 {
                let withdraw = fixtures::command(
                    &format!("{tag}/withdraw/{m}"),
                    Action::Withdraw {
                        application: fixtures::application(tag, m),
                        reason: "changed supplier".into(),
                    },
                );
                run(engine, &withdraw).map_err(|e| format!("writer {writer} withdraw {m}: {e}"))?;
                acknowledged.push(withdraw.id);
            }
        }
    }
    Ok(acknowledged)
}

/// [`WRITERS`] threads race on `store`, each on a handle from `another`
/// (a second connection to the same file or database; for the in-memory
/// store, a clone that shares its data).
pub fn check_racing_writers<S: EventStore + Send>(
    mut store: S,
    mut another: impl FnMut(&S) -> S,
) -> Check {
    let programme = programme_id("racing");
    let tag = programme.as_str().to_string();
    {
        let mut engine = Engine::open(another(&store), programme.clone()).ctx(CHECK, "engine")?;
        let open = fixtures::open(&tag, fixtures::programme(POT_POUNDS));
        engine.execute(&open, day(0)).ctx(CHECK, "open")?;
    }
    let handles: Vec<S> = (0..WRITERS).map(|_| another(&store)).collect();
    // The writers start together, so that they contend from the first command.
    let start = std::sync::Barrier::new(handles.len());
    let results: Vec<Result<Vec<CommandId>, String>> = std::thread::scope(|s| {
        let running: Vec<_> = handles
            .into_iter()
            .enumerate()
            .map(|(w, handle)| {
                let (programme, tag, start) = (programme.clone(), tag.clone(), &start);
                s.spawn(move || {
                    let mut engine = Engine::with_config(handle, programme, racing())
                        .map_err(|e| e.to_string())?;
                    start.wait();
                    race_writer(&mut engine, &tag, w as u64, APPS)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a writer panicked".to_string()))
            })
            .collect()
    });
    let mut acknowledged = Vec::new();
    for (w, result) in results.into_iter().enumerate() {
        acknowledged.extend(result.map_err(|e| fail(CHECK, format!("writer {w}: {e}")))?);
    }
    check_stream(&mut store, &programme, &acknowledged)
}

/// The stream after the race: versions 1..=n, every prefix balanced and
/// within the pot, each command's events contiguous and recorded once, and
/// every acknowledged command among them.
fn check_stream<S: EventStore>(
    store: &mut S,
    programme: &ProgrammeId,
    acknowledged: &[CommandId],
) -> Check {
    let events = store
        .load(programme, 0, usize::MAX)
        .ctx(CHECK, "load the stream")?;
    let mut state = State::default();
    // Where each command's events start and end, by version.
    let mut spans: BTreeMap<CommandId, (u64, u64)> = BTreeMap::new();
    let mut previous: Option<CommandId> = None;
    for (i, recorded) in events.iter().enumerate() {
        let version = recorded.version;
        ensure!(
            CHECK,
            version == i as u64 + 1,
            "event {i} has version {version}: a gap or a duplicate"
        );
        let command = recorded.event.command;
        if previous != Some(command) {
            ensure!(
                CHECK,
                !spans.contains_key(&command),
                "command {command} has events at version {version} and before another command's: recorded twice or interleaved"
            );
            spans.insert(command, (version, version));
        } else if let Some(span) = spans.get_mut(&command) {
            span.1 = version;
        }
        previous = Some(command);
        evolve(&mut state, &recorded.event)
            .ctx(CHECK, &format!("evolve the event at version {version}"))?;
        state.check_invariants().ctx(
            CHECK,
            &format!("the ledger after version {version} (overspent or unbalanced)"),
        )?;
        let pot = state.pot();
        ensure!(
            CHECK,
            pot.reserved().pence() + pot.paid().pence() <= pot.credits().pence(),
            "after version {version}, reserved {} plus paid {} exceed the credits {}",
            pot.reserved(),
            pot.paid(),
            pot.credits()
        );
    }
    let lost: BTreeSet<&CommandId> = acknowledged
        .iter()
        .filter(|id| !spans.contains_key(id))
        .collect();
    ensure!(
        CHECK,
        lost.is_empty(),
        "{} acknowledged command(s) are not in the log, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let submitted = (WRITERS * APPS) as usize;
    ensure!(
        CHECK,
        state.applications().len() == submitted,
        "{} applications in the log, {submitted} submitted",
        state.applications().len()
    );
    ensure!(
        CHECK,
        state.pot().reserved().pence() > 0,
        "no award stands after the race: the writers did not contend for the pot"
    );
    Ok(())
}
