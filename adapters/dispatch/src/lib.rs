//! # grantflow-dispatch
//!
//! The outbox dispatcher: it takes the notices a store's outbox holds and
//! delivers them, at least once, through any [`Notifier`].
//!
//! - [`Dispatcher`] — generic over any [`Outbox`] and any [`Notifier`] (and a
//!   [`Clock`]). Each round it *claims* due notices with a lease, delivers
//!   them one by one and *acknowledges* each delivery. A
//!   [`DeliveryError::Retryable`] failure is retried later with exponential
//!   backoff and jitter ([`Backoff`], seeded from [`DispatchConfig::jitter_seed`]),
//!   up to [`DispatchConfig::max_attempts`] attempts; after the last one, or at
//!   once on a [`DeliveryError::Permanent`] failure, the notice goes to the
//!   dead-letter state, where [`Dispatcher::dead_letters`] lists it and
//!   [`Dispatcher::requeue`] puts it back in the queue.
//! - [`Dispatcher::drain`] is one-shot: rounds until nothing is due, at most
//!   [`DispatchConfig::max_rounds`] of them. [`Dispatcher::run`] is the
//!   long-running loop, stopped cleanly by a [`Shutdown`] handle.
//! - [`Clock`] is the wall clock ([`SystemClock`]) or one a test moves by
//!   hand ([`ManualClock`]).
//! - [`LogNotifier`] writes one line per notice to stdout or any
//!   [`Write`], for local runs.
//!
//! Every notice carries its stable [`NoticeId`]: a notice may be delivered
//! twice (a crash between delivery and acknowledgement, a lease that ran
//! out), always with the same id, so receivers can drop duplicates.
//!
//! ```
//! use grantflow_core::{InMemoryStore, Notice, NoticeId, ProgrammeId, Role, Outbox, EventStore};
//! use grantflow_dispatch::{DispatchConfig, Dispatcher, LogNotifier};
//!
//! let mut store = InMemoryStore::new();
//! let notice = Notice {
//!     id: NoticeId::from_name("example"),
//!     template: "pot_topped_up".into(),
//!     recipient: Role::Finance,
//!     to: None,
//!     application: None,
//!     data: Default::default(),
//! };
//! store.append(&ProgrammeId::new("demo"), 0, &[], &[notice]).unwrap();
//! let mut dispatcher = Dispatcher::new(store.clone(), LogNotifier::new(Vec::new()), DispatchConfig::default()).unwrap();
//! let report = dispatcher.drain().unwrap();
//! assert_eq!(report.delivered, 1);
//! let (_, log, _) = dispatcher.into_parts();
//! assert!(String::from_utf8(log.into_inner()).unwrap().contains("pot_topped_up"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, missing_docs)]

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_core::OutboxEntry;
use grantflow_core::{
    DeliveryError, Notice, NoticeId, Notifier, Outbox, ProgrammeId, Role, StoreError,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Where the dispatcher reads the time.
pub trait Clock {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock moved by hand; clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        match self.now.lock() {
            Ok(mut g) => *g = now,
            Err(poisoned) => *poisoned.into_inner() = now,
        }
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let now = self.now();
        self.set(add(now, by));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        match self.now.lock() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// `t + d`, saturating at the largest time.
fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    let delta = TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
    t.checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// How the dispatcher claims, retries and waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchConfig {
    /// Notices claimed per round.
    pub batch_size: usize,
    /// How long a claim hides notices from other dispatchers. Should exceed
    /// `batch_size` times the notifier's timeout, or a slow batch may be
    /// claimed (and delivered) twice.
    pub lease: Duration,
    /// Delivery attempts before a notice is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// The delay before the first retry; it doubles with each further attempt.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// Seed of the jitter source: the same seed and the same failures give the same delays.
    pub jitter_seed: u64,
    /// The most rounds one [`Dispatcher::drain`] runs.
    pub max_rounds: usize,
    /// How long [`Dispatcher::run`] waits when nothing is due.
    pub poll_interval: Duration,
    /// Consecutive store failures [`Dispatcher::run`] tolerates before it stops with the error.
    pub max_store_errors: u32,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            batch_size: 100,
            lease: Duration::from_secs(300),
            max_attempts: 8,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(3600),
            jitter_seed: 0x6772_616e_7466_6c6f,
            max_rounds: 10_000,
            poll_interval: Duration::from_secs(1),
            max_store_errors: 10,
        }
    }
}

impl DispatchConfig {
    /// Checks that the settings make sense.
    pub fn validate(&self) -> Result<(), DispatchError> {
        let bad = |s: &str| Err(DispatchError::Config(s.to_string()));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1");
        }
        if self.max_rounds == 0 {
            return bad("max_rounds must be at least 1");
        }
        if self.base_delay > self.max_delay {
            return bad("base_delay must not be longer than max_delay");
        }
        if self.lease.is_zero() {
            return bad("lease must be longer than zero");
        }
        if self.poll_interval.is_zero() {
            return bad("poll_interval must be longer than zero");
        }
        Ok(())
    }
}

/// Exponential backoff with "equal jitter" from a seeded source: the delay
/// before retry `n` (after `n` failed attempts) is half of
/// `min(max, base * 2^(n-1))` plus a random part of up to the other half.
/// Delays never shrink below half the exponential value, so they grow with
/// each attempt while retries of many notices are spread out.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    rng: ChaCha8Rng,
}

impl Backoff {
    /// A backoff from `base` up to `max`, with jitter seeded by `seed`.
    pub fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            base,
            max: max.max(base),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The ceiling of the delay after `failures` failed attempts (before jitter).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(63);
        let factor = 1u64 << shift;
        let nanos = (self.base.as_nanos())
            .saturating_mul(u128::from(factor))
            .min(self.max.as_nanos());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The delay before the next attempt after `failures` failed attempts.
    pub fn delay(&mut self, failures: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(failures).as_nanos()).unwrap_or(u64::MAX);
        let half = ceiling / 2;
        let jitter = if ceiling - half == 0 {
            0
        } else {
            self.rng.random_range(0..=ceiling - half)
        };
        Duration::from_nanos(half.saturating_add(jitter))
    }
}

/// Why the dispatcher stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The outbox failed. Notices claimed and not yet acknowledged are
    /// delivered again once their lease runs out.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration cannot work.
    #[error("invalid dispatcher configuration: {0}")]
    Config(String),
}

/// What a drain, round or run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Rounds run (each claims once).
    pub rounds: usize,
    /// Notices claimed.
    pub claimed: usize,
    /// Notices delivered and acknowledged.
    pub delivered: usize,
    /// Failed attempts scheduled for a retry.
    pub retried: usize,
    /// Notices moved to the dead-letter state.
    pub dead_lettered: usize,
    /// The drain stopped at [`DispatchConfig::max_rounds`] with notices possibly still due.
    pub capped: bool,
}

impl DrainReport {
    fn add(&mut self, other: &DrainReport) {
        self.rounds += other.rounds;
        self.claimed += other.claimed;
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead_lettered += other.dead_lettered;
        self.capped = other.capped;
    }
}

/// A handle that stops [`Dispatcher::run`]; clones share the same flag.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A handle not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps an existing flag (e.g. one a signal handler sets).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Shutdown(flag)
    }

    /// The shared flag.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }

    /// Asks the loop to stop after the batch it is delivering.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Delivers an outbox's notices through a notifier. See the [crate docs](crate).
pub struct Dispatcher<O, N, C = SystemClock> {
    outbox: O,
    notifier: N,
    clock: C,
    config: DispatchConfig,
    backoff: Backoff,
}

impl<O, N, C> fmt::Debug for Dispatcher<O, N, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<O: Outbox, N: Notifier> Dispatcher<O, N, SystemClock> {
    /// A dispatcher reading the wall clock.
    pub fn new(outbox: O, notifier: N, config: DispatchConfig) -> Result<Self, DispatchError> {
        Self::with_clock(outbox, notifier, SystemClock, config)
    }
}

impl<O: Outbox, N: Notifier, C: Clock> Dispatcher<O, N, C> {
    /// A dispatcher reading `clock`.
    pub fn with_clock(
        outbox: O,
        notifier: N,
        clock: C,
        config: DispatchConfig,
    ) -> Result<Self, DispatchError> {
        config.validate()?;
        let backoff = Backoff::new(config.base_delay, config.max_delay, config.jitter_seed);
        Ok(Dispatcher {
            outbox,
            notifier,
            clock,
            config,
            backoff,
        })
    }

    /// The settings.
    pub fn config(&self) -> &DispatchConfig {
        &self.config
    }

    /// The outbox.
    pub fn outbox(&self) -> &O {
        &self.outbox
    }

    /// The outbox, mutably.
    pub fn outbox_mut(&mut self) -> &mut O {
        &mut self.outbox
    }

    /// The notifier.
    pub fn notifier(&self) -> &N {
        &self.notifier
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Gives back the outbox, the notifier and the clock.
    pub fn into_parts(self) -> (O, N, C) {
        (self.outbox, self.notifier, self.clock)
    }

    /// One round: claims up to [`DispatchConfig::batch_size`] due notices,
    /// delivers each and records the outcome.
    pub fn round(&mut self) -> Result<DrainReport, DispatchError> {
        let now = self.clock.now();
        let lease_until = add(now, self.config.lease);
        let claimed = self
            .outbox
            .claim(now, lease_until, self.config.batch_size)?;
        let mut report = DrainReport {
            rounds: 1,
            claimed: claimed.len(),
            ..DrainReport::default()
        };
        for entry in claimed {
            self.deliver_one(&entry, &mut report)?;
        }
        Ok(report)
    }

    fn deliver_one(
        &mut self,
        entry: &OutboxEntry,
        report: &mut DrainReport,
    ) -> Result<(), DispatchError> {
        let id = entry.notice.id;
        match self.notifier.deliver(&entry.programme, &entry.notice) {
            Ok(()) => {
                self.outbox.acknowledge(id)?;
                report.delivered += 1;
            }
            Err(DeliveryError::Permanent(why)) => {
                self.outbox.dead_letter(id, &format!("permanent: {why}"))?;
                report.dead_lettered += 1;
            }
            Err(DeliveryError::Retryable(why)) => {
                let failures = entry.attempts.saturating_add(1);
                if failures >= self.config.max_attempts {
                    self.outbox
                        .dead_letter(id, &format!("gave up after {failures} attempts: {why}"))?;
                    report.dead_lettered += 1;
                } else {
                    let delay = self.backoff.delay(failures);
                    let next = add(self.clock.now(), delay);
                    self.outbox.retry_later(id, next, &why)?;
                    report.retried += 1;
                }
            }
        }
        Ok(())
    }

    /// Delivers until no notice is due, at most [`DispatchConfig::max_rounds`]
    /// rounds (then [`DrainReport::capped`] is set). Notices waiting for a
    /// retry later than now stay pending.
    pub fn drain(&mut self) -> Result<DrainReport, DispatchError> {
        let mut total = DrainReport::default();
        for _ in 0..self.config.max_rounds {
            let round = self.round()?;
            total.add(&round);
            if round.claimed == 0 {
                total.capped = false;
                return Ok(total);
            }
        }
        total.capped = true;
        Ok(total)
    }

    /// Drains, waits [`DispatchConfig::poll_interval`] when nothing is due,
    /// and again, until `shutdown` is triggered. A stop takes effect after the
    /// batch being delivered; the wait is cut short by it. Store failures are
    /// retried after a wait, up to [`DispatchConfig::max_store_errors`] in a
    /// row, then returned.
    pub fn run(&mut self, shutdown: &Shutdown) -> Result<DrainReport, DispatchError> {
        let mut total = DrainReport::default();
        let mut store_errors = 0u32;
        while !shutdown.is_triggered() {
            match self.round() {
                Ok(round) => {
                    store_errors = 0;
                    total.add(&round);
                    if round.claimed == 0 {
                        sleep_unless(shutdown, self.config.poll_interval);
                    }
                }
                Err(DispatchError::Store(e)) => {
                    store_errors += 1;
                    if store_errors >= self.config.max_store_errors {
                        return Err(DispatchError::Store(e));
                    }
                    sleep_unless(shutdown, self.config.poll_interval);
                }
                Err(e) => return Err(e),
            }
        }
        total.capped = false;
        Ok(total)
    }

    /// Up to `limit` dead-lettered notices.
    pub fn dead_letters(&mut self, limit: usize) -> Result<Vec<OutboxEntry>, DispatchError> {
        Ok(self.outbox.dead_letters(limit)?)
    }

    /// Puts a dead-lettered notice back in the queue, due now, with its attempts reset.
    pub fn requeue(&mut self, id: NoticeId) -> Result<(), DispatchError> {
        let now = self.clock.now();
        Ok(self.outbox.requeue(id, now)?)
    }

    /// Re-queues up to `limit` dead-lettered notices; returns how many.
    pub fn requeue_dead_letters(&mut self, limit: usize) -> Result<usize, DispatchError> {
        let dead = self.outbox.dead_letters(limit)?;
        let now = self.clock.now();
        for entry in &dead {
            self.outbox.requeue(entry.notice.id, now)?;
        }
        Ok(dead.len())
    }
}

/// Sleeps up to `total` in short slices, returning early once `shutdown` is triggered.
fn sleep_unless(shutdown: &Shutdown, total: Duration) {
    const SLICE: Duration = Duration::from_millis(20);
    let mut left = total;
    while !left.is_zero() && !shutdown.is_triggered() {
        let step = left.min(SLICE);
        std::thread::sleep(step);
        left = left.saturating_sub(step);
    }
}

/// The name of a role as written in logs and payloads.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Applicant => "applicant",
        Role::Finance => "finance",
        Role::Assessor => "assessor",
    }
}

/// Writes one line per notice: id, programme, template, recipient and data
/// (as JSON). For local runs and debugging; never fails a delivery unless the
/// writer does.
pub struct LogNotifier<W> {
    out: Mutex<W>,
}

impl<W> fmt::Debug for LogNotifier<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogNotifier").finish_non_exhaustive()
    }
}

impl LogNotifier<std::io::Stdout> {
    /// Writes to standard output.
    pub fn stdout() -> Self {
        LogNotifier::new(std::io::stdout())
    }
}

impl<W: Write> LogNotifier<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        LogNotifier {
            out: Mutex::new(out),
        }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        match self.out.into_inner() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The line written for a notice (without the newline).
    pub fn line(programme: &ProgrammeId, notice: &Notice) -> String {
        let data = serde_json::to_string(&notice.data).unwrap_or_else(|_| "{}".to_string());
        let to = notice.to.as_deref().unwrap_or("-");
        let app = notice
            .application
            .map_or_else(|| "-".to_string(), |a| a.to_string());
        format!(
            "notice {} programme={} template={} recipient={} to={} application={} data={}",
            notice.id,
            programme,
            notice.template,
            role_name(notice.recipient),
            to,
            app,
            data
        )
    }
}

impl<W: Write> Notifier for LogNotifier<W> {
    fn deliver(&self, programme: &ProgrammeId, notice: &Notice) -> Result<(), DeliveryError> {
        let line = Self::line(programme, notice);
        let mut out = self
            .out
            .lock()
            .map_err(|_| DeliveryError::Retryable("the log writer's lock is poisoned".into()))?;
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| DeliveryError::Retryable(format!("cannot write the log line: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_bounds_and_is_seeded() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        let mut a = Backoff::new(base, max, 7);
        let mut b = Backoff::new(base, max, 7);
        let mut c = Backoff::new(base, max, 8);
        let da: Vec<_> = (1..=10).map(|n| a.delay(n)).collect();
        let db: Vec<_> = (1..=10).map(|n| b.delay(n)).collect();
        let dc: Vec<_> = (1..=10).map(|n| c.delay(n)).collect();
        assert_eq!(da, db, "same seed, same delays");
        assert_ne!(da, dc, "another seed, other delays");
        for (i, d) in da.iter().enumerate() {
            let n = u32::try_from(i).unwrap() + 1;
            let ceiling = Backoff::new(base, max, 0).ceiling(n);
            assert!(
                *d >= ceiling / 2 && *d <= ceiling,
                "attempt {n}: {d:?} outside [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
        assert_eq!(Backoff::new(base, max, 0).ceiling(1), base);
        assert_eq!(Backoff::new(base, max, 0).ceiling(3), base * 4);
        assert_eq!(Backoff::new(base, max, 0).ceiling(40), max);
        assert_eq!(Backoff::new(base, max, 0).ceiling(u32::MAX), max);
        assert_eq!(
            Backoff::new(Duration::ZERO, Duration::ZERO, 0).delay(3),
            Duration::ZERO
        );
    }

    #[test]
    fn config_is_checked() {
        assert!(DispatchConfig::default().validate().is_ok());
        let bad = [
            DispatchConfig {
                batch_size: 0,
                ..DispatchConfig::default()
            },
            DispatchConfig {
                max_attempts: 0,
                ..DispatchConfig::default()
            },
            DispatchConfig {
                max_rounds: 0,
                ..DispatchConfig::default()
            },
            DispatchConfig {
                base_delay: Duration::from_secs(10),
                max_delay: Duration::from_secs(1),
                ..DispatchConfig::default()
            },
            DispatchConfig {
                poll_interval: Duration::ZERO,
                ..DispatchConfig::default()
            },
            DispatchConfig {
                lease: Duration::ZERO,
                ..DispatchConfig::default()
            },
        ];
        for c in bad {
            assert!(
                matches!(c.validate(), Err(DispatchError::Config(_))),
                "{c:?}"
            );
        }
    }
}
