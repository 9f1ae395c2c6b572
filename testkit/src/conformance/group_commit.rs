//! The group-commit check: a batch with a rejected command records the
//! others in one append.

use super::fixtures;
use super::fixtures::day;
use super::harness::{Check, Ctx, all_events, borrowed, ensure, fail, opened};
use grantflow_core::Action;
use grantflow_core::ApplicationId;
use grantflow_core::EventStore;
use grantflow_core::RejectionCode;
use grantflow_core::{EngineConfig, EngineError, Outcome};

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
    let version = eng.state().version();
    ensure!(
        C,
        version == next - 1,
        "the engine is at {version}, the batch ended at {}",
        next - 1
    );
    let live = eng.state().clone();
    ensure!(
        C,
        !live.commands().contains_key(&ghost.id),
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
        eng.state().version() == version,
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
