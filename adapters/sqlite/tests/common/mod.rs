//! Shared by the SQLite tests: a writer that submits and accepts awards
//! against one pot, and checks of a stored stream.
#![allow(dead_code)]

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use grantflow_core::Recorded;
use grantflow_core::notices;
use grantflow_core::{
    Engine, EngineConfig, EngineError, EventKind, EventStore, NoticeId, Outcome, ProgrammeId,
    StageKind, State, evolve,
};
use grantflow_sqlite::SqliteStore;
use grantflow_testkit::conformance::fixtures;

/// The `now` of every writer command: all writers share one instant, so no
/// command is ever earlier than the newest event.
pub fn now() -> DateTime<Utc> {
    fixtures::day(5)
}

/// Engine settings for racing writers: conflicts are expected, keep retrying.
pub fn racing() -> EngineConfig {
    EngineConfig {
        max_conflict_retries: 10_000,
        ..EngineConfig::default()
    }
}

/// Runs a command, retrying when other writers keep winning.
pub fn run<S: EventStore>(
    engine: &mut Engine<S>,
    command: &grantflow_core::Command,
) -> Result<Outcome, EngineError> {
    loop {
        match engine.execute(command, now()) {
            Err(EngineError::Contention { .. }) => engine.catch_up()?,
            other => return other,
        }
    }
}

/// One writer (the testkit's racing writer): submits `apps` applications
/// numbered from `writer * 1000`, accepts its offers, and withdraws every
/// third accepted award.
pub fn writer<S: EventStore>(
    engine: &mut Engine<S>,
    tag: &str,
    writer: u64,
    apps: u64,
) -> Result<(), String> {
    grantflow_testkit::conformance::race_writer(engine, tag, writer, apps).map(|_| ())
}

/// Checks a whole stream: versions 1..=n without gap or duplicate, every
/// prefix replays with the ledger balanced and reserved + paid within the
/// pot's credits, each command's events are contiguous and complete (no
/// submission without its outcome), and the outbox holds exactly the notices
/// the events call for. Returns the final state.
pub fn check_stream(
    store: &mut SqliteStore,
    programme: &ProgrammeId,
) -> Result<(State, Vec<Recorded>), String> {
    let events = store
        .load(programme, 0, usize::MAX)
        .map_err(|e| format!("load: {e}"))?;
    for (i, r) in events.iter().enumerate() {
        if r.version != i as u64 + 1 {
            return Err(format!(
                "event {i} has version {}: a gap or a duplicate",
                r.version
            ));
        }
    }
    let (count, distinct, max): (i64, i64, i64) = store
        .connection()
        .query_row(
            "SELECT count(*), count(DISTINCT version), coalesce(max(version), 0) FROM events WHERE programme_id = ?1",
            [programme.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| e.to_string())?;
    if count != distinct || count != max || count != events.len() as i64 {
        return Err(format!(
            "{count} rows, {distinct} distinct versions, max {max}, {} loaded",
            events.len()
        ));
    }
    let mut state = State::default();
    let mut expected_notices = BTreeSet::new();
    let mut seen_commands = BTreeSet::new();
    let mut i = 0;
    while i < events.len() {
        let command = events[i].event.command;
        if !seen_commands.insert(command) {
            return Err(format!(
                "command {command} has events at two places in the stream (version {})",
                events[i].version
            ));
        }
        let mut j = i;
        while j < events.len() && events[j].event.command == command {
            j += 1;
        }
        let group: Vec<_> = events[i..j].iter().map(|r| r.event.clone()).collect();
        if let EventKind::Submitted { coverage, .. } = &group[0].kind {
            let decided = group.get(1).map(|e| &e.kind);
            let complete = matches!(
                (coverage, decided),
                (None, Some(EventKind::FoundIneligible { .. }))
                    | (
                        Some(_),
                        Some(EventKind::Offered { .. } | EventKind::Waitlisted { .. })
                    )
            );
            if !complete {
                return Err(format!(
                    "the submission at version {} is not followed by its decision: half applied",
                    events[i].version
                ));
            }
        }
        expected_notices.extend(notices(&state, &group).into_iter().map(|n| n.id));
        for e in &group {
            evolve(&mut state, e).map_err(|err| format!("replay: {err}"))?;
            let pot = state.pot();
            let committed = pot
                .reserved()
                .checked_add(pot.paid())
                .map_err(|e| e.to_string())?;
            if committed > pot.credits() {
                return Err(format!(
                    "at version {} reserved {} + paid {} exceed the pot's credits {}",
                    state.version(),
                    pot.reserved(),
                    pot.paid(),
                    pot.credits()
                ));
            }
        }
        state
            .check_invariants()
            .map_err(|e| format!("invariants at version {}: {e}", state.version()))?;
        i = j;
    }
    let stored: BTreeSet<NoticeId> = store
        .outbox_entries(programme)
        .map_err(|e| format!("outbox: {e}"))?
        .into_iter()
        .map(|e| e.notice.id)
        .collect();
    if stored != expected_notices {
        return Err(format!(
            "the outbox holds {} notices, the events call for {}: events and notices were not written together",
            stored.len(),
            expected_notices.len()
        ));
    }
    Ok((state, events))
}

/// Checks the state after racing writers: every application decided, money exact.
pub fn check_awards(state: &State, pot_pounds: u32, submitted: usize) -> Result<(), String> {
    if state.applications().len() != submitted {
        return Err(format!(
            "{} applications recorded, {submitted} submitted",
            state.applications().len()
        ));
    }
    let mut committed = grantflow_core::Money::ZERO;
    for app in state.applications().values() {
        if matches!(app.stage().kind(), StageKind::Offered | StageKind::Awarded) {
            committed = committed
                .checked_add(app.award())
                .map_err(|e| e.to_string())?;
        }
    }
    if committed != state.pot().reserved() {
        return Err(format!(
            "offered and awarded applications hold {committed}, the pot reserves {}",
            state.pot().reserved()
        ));
    }
    let pot = grantflow_core::Money::pounds(pot_pounds);
    if state.pot().credits() != pot || committed > pot {
        return Err(format!(
            "credits {} and committed {committed} for a pot of {pot}",
            state.pot().credits()
        ));
    }
    Ok(())
}
