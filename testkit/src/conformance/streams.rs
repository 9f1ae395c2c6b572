//! The stream checks: appending and loading, paging, and version
//! conflicts (at the store and through the engine's retry).

use chrono::{DateTime, TimeZone, Utc};

use super::fixtures::{day, programme};
use super::harness::{
    Check, Ctx, all_events, borrowed, ensure, ensure_empty, event, exec, fail, notice,
};
use super::{fixtures, programme_id};
use grantflow_core::CommandId;
use grantflow_core::EngineConfig;
use grantflow_core::Money;
use grantflow_core::{Event, EventKind};
use grantflow_core::{EventStore, Outbox, Recorded, StoreError};

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
        eng.state().pot().credits() == Money::pounds(10_500),
        "the engine did not fold the other writer's event: credits {}",
        eng.state().pot().credits()
    );
    Ok(())
}
