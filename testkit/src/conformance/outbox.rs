//! The outbox checks: claims, leases, acknowledgements, retries, dead letters
//! and requeues, and the engine's notices written with their events.

use chrono::Duration;

use super::fixtures::day;
use super::harness::{Check, Ctx, ensure, ensure_empty, event, exec, fail, notice, opened};
use super::{fixtures, programme_id};
use grantflow_core::Notice;
use grantflow_core::NoticeId;
use grantflow_core::Outcome;
use grantflow_core::{EventStore, Outbox, OutboxStatus, StoreError};

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
