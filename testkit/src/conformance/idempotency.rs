//! The command-id checks: idempotent repeats, the store's command records,
//! and repeats answered by an engine opened from a snapshot.

use super::fixtures::{day, programme};
use super::harness::{
    Check, Ctx, borrowed, ensure, ensure_empty, event, exec, fail, opened, same_but_index,
    same_records,
};
use super::{fixtures, programme_id};
use grantflow_core::CommandId;
use grantflow_core::CommandRecord;
use grantflow_core::EventStore;
use grantflow_core::Money;
use grantflow_core::{Action, Command};
use grantflow_core::{EngineConfig, Outcome};

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
    let version = eng.state().version();
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
        eng.state().version() == version,
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
        same_but_index(eng.state(), &live),
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
    let version = eng.state().version();
    drop(eng);
    let mut replayed = borrowed(C, store, &p, config)?;
    replayed.replay_all().ctx(C, "replay_all")?;
    ensure!(
        C,
        replayed.state().version() == version
            && replayed.state().commands().len() == live.commands().len() + 1,
        "the stream holds {} commands at version {}, expected {} at {version}",
        replayed.state().commands().len(),
        replayed.state().version(),
        live.commands().len() + 1
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
