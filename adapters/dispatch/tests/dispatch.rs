//! The dispatcher against the in-memory outbox, with a scripted notifier
//! (each notice answers a given sequence of outcomes) and a manual clock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use grantflow_core::OutboxStatus;
use grantflow_core::{
    DeliveryError, EventStore, InMemoryStore, Notice, NoticeId, Notifier, Outbox, ProgrammeId, Role,
};
use grantflow_dispatch::{
    DispatchConfig, DispatchError, Dispatcher, LogNotifier, ManualClock, Shutdown,
};

type Script = HashMap<NoticeId, VecDeque<Result<(), DeliveryError>>>;

#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<Script>>,
    delivered: Arc<Mutex<Vec<NoticeId>>>,
    attempts: Arc<Mutex<Vec<NoticeId>>>,
}

impl Scripted {
    fn answer(&self, id: NoticeId, outcomes: Vec<Result<(), DeliveryError>>) {
        self.script.lock().unwrap().insert(id, outcomes.into());
    }
    fn delivered(&self) -> Vec<NoticeId> {
        self.delivered.lock().unwrap().clone()
    }
    fn attempts_of(&self, id: NoticeId) -> usize {
        self.attempts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| **a == id)
            .count()
    }
}

impl Notifier for Scripted {
    fn deliver(&self, _programme: &ProgrammeId, notice: &Notice) -> Result<(), DeliveryError> {
        self.attempts.lock().unwrap().push(notice.id);
        let next = self
            .script
            .lock()
            .unwrap()
            .get_mut(&notice.id)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Ok(()));
        if next.is_ok() {
            self.delivered.lock().unwrap().push(notice.id);
        }
        next
    }
}

fn notice(name: &str) -> Notice {
    let mut data = BTreeMap::new();
    data.insert("programme".to_string(), "Test programme".to_string());
    Notice {
        id: NoticeId::from_name(name),
        template: "pot_topped_up".into(),
        recipient: Role::Finance,
        to: None,
        application: None,
        data,
    }
}

fn store_with(names: &[&str]) -> InMemoryStore {
    let mut store = InMemoryStore::new();
    let notices: Vec<_> = names.iter().map(|n| notice(n)).collect();
    store
        .append(&ProgrammeId::new("p"), 0, &[], &notices)
        .unwrap();
    store
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 10, 1, 9, 0, 0).unwrap()
}

fn config() -> DispatchConfig {
    DispatchConfig {
        batch_size: 10,
        lease: Duration::from_secs(60),
        max_attempts: 3,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(100),
        jitter_seed: 42,
        max_rounds: 50,
        poll_interval: Duration::from_millis(10),
        max_store_errors: 3,
    }
}

fn status(store: &InMemoryStore, id: NoticeId) -> (OutboxStatus, u32) {
    let e = store
        .outbox_entries()
        .into_iter()
        .find(|e| e.notice.id == id)
        .unwrap();
    (e.status, e.attempts)
}

#[test]
fn drain_delivers_and_acknowledges_each_notice_once() {
    let store = store_with(&["a", "b", "c"]);
    let notifier = Scripted::default();
    let clock = ManualClock::new(t0());
    let mut d = Dispatcher::with_clock(store.clone(), notifier.clone(), clock, config()).unwrap();
    let r = d.drain().unwrap();
    assert_eq!(
        (r.claimed, r.delivered, r.retried, r.dead_lettered, r.capped),
        (3, 3, 0, 0, false)
    );
    assert_eq!(
        notifier.delivered(),
        vec![
            NoticeId::from_name("a"),
            NoticeId::from_name("b"),
            NoticeId::from_name("c")
        ]
    );
    let again = d.drain().unwrap();
    assert_eq!((again.claimed, again.rounds), (0, 1));
    assert!(
        store
            .outbox_entries()
            .iter()
            .all(|e| e.status == OutboxStatus::Delivered && e.attempts == 1)
    );
}

#[test]
fn retryable_failures_back_off_then_deliver() {
    let store = store_with(&["flaky"]);
    let id = NoticeId::from_name("flaky");
    let notifier = Scripted::default();
    notifier.answer(
        id,
        vec![
            Err(DeliveryError::Retryable("503".into())),
            Err(DeliveryError::Retryable("503".into())),
        ],
    );
    let clock = ManualClock::new(t0());
    let mut d =
        Dispatcher::with_clock(store.clone(), notifier.clone(), clock.clone(), config()).unwrap();

    let r = d.drain().unwrap();
    assert_eq!((r.delivered, r.retried), (0, 1));
    let entry = store.outbox_entries().pop().unwrap();
    assert_eq!((entry.status, entry.attempts), (OutboxStatus::Pending, 1));
    assert_eq!(entry.last_error.as_deref(), Some("503"));
    // First retry: between half the base delay and the base delay.
    let wait1 = entry.next_attempt - t0();
    assert!(
        wait1 >= chrono::Duration::seconds(5) && wait1 <= chrono::Duration::seconds(10),
        "{wait1}"
    );

    // Not due yet: nothing is claimed, the drain stops at once.
    assert_eq!(d.drain().unwrap().claimed, 0);
    clock.set(entry.next_attempt);
    let r = d.drain().unwrap();
    assert_eq!((r.delivered, r.retried), (0, 1));
    let entry2 = store.outbox_entries().pop().unwrap();
    // Second retry: between 10 s and 20 s after the second failure.
    let wait2 = entry2.next_attempt - entry.next_attempt;
    assert!(
        wait2 >= chrono::Duration::seconds(10) && wait2 <= chrono::Duration::seconds(20),
        "{wait2}"
    );

    clock.set(entry2.next_attempt);
    let r = d.drain().unwrap();
    assert_eq!(r.delivered, 1);
    assert_eq!(status(&store, id), (OutboxStatus::Delivered, 3));
    assert_eq!(notifier.attempts_of(id), 3);
}

#[test]
fn the_last_retry_dead_letters_and_requeue_brings_it_back() {
    let store = store_with(&["down", "fine"]);
    let down = NoticeId::from_name("down");
    let notifier = Scripted::default();
    notifier.answer(
        down,
        (0..3)
            .map(|i| Err(DeliveryError::Retryable(format!("timeout {i}"))))
            .collect(),
    );
    let clock = ManualClock::new(t0());
    let mut d =
        Dispatcher::with_clock(store.clone(), notifier.clone(), clock.clone(), config()).unwrap();
    let mut dead = 0;
    for _ in 0..5 {
        dead += d.drain().unwrap().dead_lettered;
        clock.advance(Duration::from_secs(1000));
    }
    assert_eq!(dead, 1);
    assert_eq!(
        notifier.attempts_of(down),
        3,
        "max_attempts bounds the attempts"
    );
    let letters = d.dead_letters(10).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].notice.id, down);
    assert!(
        letters[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts: timeout 2")
    );

    assert_eq!(d.requeue_dead_letters(10).unwrap(), 1);
    assert!(d.dead_letters(10).unwrap().is_empty());
    let r = d.drain().unwrap();
    assert_eq!(r.delivered, 1);
    assert_eq!(
        status(&store, down),
        (OutboxStatus::Delivered, 1),
        "attempts were reset by the requeue"
    );
    assert_eq!(
        notifier.delivered().iter().filter(|i| **i == down).count(),
        1
    );
}

#[test]
fn permanent_failure_dead_letters_at_once() {
    let store = store_with(&["bad"]);
    let bad = NoticeId::from_name("bad");
    let notifier = Scripted::default();
    notifier.answer(
        bad,
        vec![Err(DeliveryError::Permanent("400 Bad Request".into()))],
    );
    let mut d = Dispatcher::with_clock(
        store.clone(),
        notifier.clone(),
        ManualClock::new(t0()),
        config(),
    )
    .unwrap();
    let r = d.drain().unwrap();
    assert_eq!((r.delivered, r.retried, r.dead_lettered), (0, 0, 1));
    assert_eq!(status(&store, bad), (OutboxStatus::DeadLetter, 1));
    assert!(
        d.dead_letters(10).unwrap()[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("400 Bad Request")
    );
    // Single requeue by id.
    d.requeue(bad).unwrap();
    assert_eq!(d.drain().unwrap().delivered, 1);
    assert!(matches!(
        d.requeue(NoticeId::from_name("unknown")),
        Err(DispatchError::Store(_))
    ));
}

#[test]
fn drain_stops_at_the_round_cap() {
    let store = store_with(&["1", "2", "3", "4", "5"]);
    let cfg = DispatchConfig {
        batch_size: 1,
        max_rounds: 2,
        ..config()
    };
    let mut d = Dispatcher::with_clock(
        store.clone(),
        Scripted::default(),
        ManualClock::new(t0()),
        cfg,
    )
    .unwrap();
    let r = d.drain().unwrap();
    assert_eq!((r.rounds, r.delivered, r.capped), (2, 2, true));
    let r = d.drain().unwrap();
    assert_eq!((r.delivered, r.capped), (2, true));
    let r = d.drain().unwrap();
    assert_eq!((r.delivered, r.rounds, r.capped), (1, 2, false));
}

#[test]
fn a_lease_hides_a_claimed_notice_until_it_runs_out() {
    let mut store = store_with(&["leased"]);
    let id = NoticeId::from_name("leased");
    // Another dispatcher claimed it and died before acknowledging.
    let claimed = store
        .claim(t0(), t0() + chrono::Duration::seconds(60), 10)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let notifier = Scripted::default();
    let clock = ManualClock::new(t0() + chrono::Duration::seconds(30));
    let mut d =
        Dispatcher::with_clock(store.clone(), notifier.clone(), clock.clone(), config()).unwrap();
    assert_eq!(d.drain().unwrap().claimed, 0);
    clock.set(t0() + chrono::Duration::seconds(61));
    assert_eq!(d.drain().unwrap().delivered, 1);
    assert_eq!(notifier.delivered(), vec![id]);
}

#[test]
fn run_delivers_what_arrives_and_stops_on_shutdown() {
    let store = store_with(&["first"]);
    let notifier = Scripted::default();
    let shutdown = Shutdown::new();
    let cfg = DispatchConfig {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..config()
    };
    let mut d = Dispatcher::new(store.clone(), notifier.clone(), cfg).unwrap();
    let stop = shutdown.clone();
    let handle = std::thread::spawn(move || d.run(&stop));

    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while notifier.delivered().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        notifier.delivered().len()
    };
    assert_eq!(wait_for(1), 1);
    // A notice added while the loop runs, failing once first: retried after its backoff.
    let later = notice("later");
    notifier.answer(later.id, vec![Err(DeliveryError::Retryable("busy".into()))]);
    let mut writer = store.clone();
    writer
        .append(&ProgrammeId::new("p"), 0, &[], std::slice::from_ref(&later))
        .unwrap();
    assert_eq!(wait_for(2), 2);
    assert_eq!(notifier.attempts_of(later.id), 2);

    let stopped_at = Instant::now();
    shutdown.trigger();
    let report = handle.join().unwrap().unwrap();
    assert!(stopped_at.elapsed() < Duration::from_secs(5));
    assert_eq!((report.delivered, report.retried), (2, 1));
}

#[test]
fn log_notifier_writes_one_line_per_notice() {
    let store = store_with(&["x", "y"]);
    let mut d = Dispatcher::new(store, LogNotifier::new(Vec::new()), config()).unwrap();
    assert_eq!(d.drain().unwrap().delivered, 2);
    let (_, log, _) = d.into_parts();
    let text = String::from_utf8(log.into_inner()).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with(&format!(
        "notice {} programme=p template=pot_topped_up recipient=finance",
        NoticeId::from_name("x")
    )));
    assert!(
        lines[0].ends_with(r#"data={"programme":"Test programme"}"#),
        "{}",
        lines[0]
    );
}

/// A writer that always fails: the log notifier reports a retryable failure.
struct Broken;
impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_log_writer_is_retryable() {
    let n = LogNotifier::new(Broken);
    let err = n.deliver(&ProgrammeId::new("p"), &notice("z")).unwrap_err();
    assert!(matches!(err, DeliveryError::Retryable(m) if m.contains("disk full")));
}

/// An outbox whose `claim` fails a given number of times first.
struct Unreliable {
    inner: InMemoryStore,
    failures_left: u32,
}

impl Outbox for Unreliable {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<grantflow_core::OutboxEntry>, grantflow_core::StoreError> {
        if self.failures_left > 0 {
            self.failures_left -= 1;
            return Err(grantflow_core::StoreError::Unavailable {
                detail: "database is locked".into(),
            });
        }
        self.inner.claim(now, lease_until, limit)
    }
    fn acknowledge(&mut self, id: NoticeId) -> Result<(), grantflow_core::StoreError> {
        self.inner.acknowledge(id)
    }
    fn retry_later(
        &mut self,
        id: NoticeId,
        next: DateTime<Utc>,
        error: &str,
    ) -> Result<(), grantflow_core::StoreError> {
        self.inner.retry_later(id, next, error)
    }
    fn dead_letter(&mut self, id: NoticeId, error: &str) -> Result<(), grantflow_core::StoreError> {
        self.inner.dead_letter(id, error)
    }
    fn dead_letters(
        &mut self,
        limit: usize,
    ) -> Result<Vec<grantflow_core::OutboxEntry>, grantflow_core::StoreError> {
        self.inner.dead_letters(limit)
    }
    fn requeue(
        &mut self,
        id: NoticeId,
        now: DateTime<Utc>,
    ) -> Result<(), grantflow_core::StoreError> {
        self.inner.requeue(id, now)
    }
}

#[test]
fn run_rides_out_a_few_store_failures_and_stops_on_a_persistent_one() {
    let store = store_with(&["a"]);
    let notifier = Scripted::default();
    let shutdown = Shutdown::new();
    let outbox = Unreliable {
        inner: store.clone(),
        failures_left: 2,
    };
    let mut d = Dispatcher::new(outbox, notifier.clone(), config()).unwrap();
    let stop = shutdown.clone();
    let handle = std::thread::spawn(move || d.run(&stop));
    let deadline = Instant::now() + Duration::from_secs(10);
    while notifier.delivered().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    shutdown.trigger();
    assert_eq!(handle.join().unwrap().unwrap().delivered, 1);

    // Failing for good: the loop gives up after max_store_errors (3) in a row.
    let outbox = Unreliable {
        inner: store_with(&["b"]),
        failures_left: u32::MAX,
    };
    let mut d = Dispatcher::new(outbox, Scripted::default(), config()).unwrap();
    let err = d.run(&Shutdown::new()).unwrap_err();
    assert!(
        matches!(
            err,
            DispatchError::Store(grantflow_core::StoreError::Unavailable { .. })
        ),
        "{err:?}"
    );
    // A one-shot drain reports the failure at once.
    assert!(matches!(d.drain(), Err(DispatchError::Store(_))));
}
