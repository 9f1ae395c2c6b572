//! The driver: takes a population's [`Draw`]s through the full lifecycle of a
//! programme with the real core.
//!
//! It opens the programme, submits applications in arrival order, ticks
//! through time (daily or weekly), and reacts to the events the core returns:
//! an `Offered` event schedules the applicant's answer, `Accepted` schedules
//! consultancy, a self-assessment, the assessor's verdict, invoices, a Plus
//! audit and completion, each after the pre-drawn number of days. Nothing is
//! decided here: who is eligible, offered, waitlisted, lapsed or failed is
//! what the core says. The driver only records what it sees, week by week.
//!
//! Commands run through an [`Executor`]: [`Direct`] (`decide`/`evolve` on a
//! [`State`], for Monte Carlo speed), [`EngineExecutor`] (an [`Engine`] over
//! any [`EventStore`]) or [`FnExecutor`] (any closure).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use grantflow_core::EventKind;
use grantflow_core::{
    Action, Applicant, ApplicationId, Command, CommandId, Coverage, Engine, EngineError, Event,
    EventStore, Item, Milestone, Money, Programme, Rejection, StageKind, State, decide_into,
    evolve,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::population::{Answer, Draw, Profile};

/// Why a command did not apply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// The domain refused it (e.g. a claim after the award ended): the run goes on.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The executor failed (storage, a stream that does not replay): the run stops.
    #[error("{0}")]
    Fatal(String),
}

/// Runs one command at `now`: `events` is cleared, then holds the events it
/// recorded (a buffer the driver reuses from command to command).
pub trait Executor {
    fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Result<(), StepError>;
}

/// `decide` and `evolve` on an in-memory [`State`]: the fastest executor.
#[derive(Debug, Default)]
pub struct Direct {
    pub state: State,
}

impl Direct {
    /// An executor on an empty state.
    pub fn new() -> Direct {
        Direct::default()
    }

    /// Empties the state for the next trial, keeping the allocations of its maps.
    pub fn reset(&mut self) {
        self.state.clear();
    }
}

impl Executor for Direct {
    fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Result<(), StepError> {
        decide_into(&self.state, command, now, events).map_err(StepError::Rejected)?;
        for e in events.iter() {
            evolve(&mut self.state, e).map_err(|err| {
                StepError::Fatal(format!("evolve refused an event decide produced: {err}"))
            })?;
        }
        Ok(())
    }
}

/// An [`Engine`] over any store: every command is recorded as a real stream.
#[derive(Debug)]
pub struct EngineExecutor<'a, S>(pub &'a mut Engine<S>);

impl<S: EventStore> Executor for EngineExecutor<'_, S> {
    fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Result<(), StepError> {
        events.clear();
        match self.0.execute(command, now) {
            Ok(outcome) => {
                events.extend(outcome.events().iter().map(|r| r.event.clone()));
                Ok(())
            }
            Err(EngineError::Rejected(r)) => Err(StepError::Rejected(r)),
            Err(e) => Err(StepError::Fatal(e.to_string())),
        }
    }
}

/// Any closure that runs a command.
pub struct FnExecutor<F>(pub F);

impl<F> std::fmt::Debug for FnExecutor<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnExecutor")
    }
}

impl<F: FnMut(&Command, DateTime<Utc>) -> Result<Vec<Event>, StepError>> Executor
    for FnExecutor<F>
{
    fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Result<(), StepError> {
        *events = (self.0)(command, now)?;
        Ok(())
    }
}

/// How often the driver ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TickEvery {
    /// At 00:00 UTC every day: deadlines fire on the day they fall due.
    #[default]
    Daily,
    /// At 00:00 UTC every seventh day: faster, deadlines fire up to six days late.
    Weekly,
}

/// Driver settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriveOptions {
    pub tick: TickEvery,
    /// Nothing happens at or after this instant; the last tick is here.
    pub end: DateTime<Utc>,
    /// Distinguishes the ids of one run from another's in a shared store
    /// (application ids are `(salt, index)` UUIDs, command ids `(!salt, counter)`).
    pub id_salt: u64,
    /// Send the `open` command first (false when the executor's stream is open already).
    pub open: bool,
}

impl DriveOptions {
    /// Daily ticks from `start` until the programme's last possible activity:
    /// its closing day, plus the pass window, plus the Plus window, plus a month.
    pub fn for_programme(p: &Programme) -> DriveOptions {
        DriveOptions {
            tick: TickEvery::Daily,
            end: horizon(p),
            id_salt: 0,
            open: true,
        }
    }
}

/// 00:00 UTC on the programme's opening day.
pub fn opening(p: &Programme) -> DateTime<Utc> {
    p.opens.value.and_time(NaiveTime::MIN).and_utc()
}

/// The default end of a run: closing day + pass window + Plus window + 1 month.
pub fn horizon(p: &Programme) -> DateTime<Utc> {
    let months = p
        .windows
        .pass_months
        .value
        .saturating_add(p.windows.plus_months.value)
        .saturating_add(1);
    let close = p.closes.value.and_time(NaiveTime::MIN).and_utc() + Duration::days(1);
    close
        .checked_add_months(chrono::Months::new(months))
        .unwrap_or(close)
}

/// The pot, as seen at the end of a week.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekObs {
    /// Weeks since the start (0 = the start itself).
    pub week: u32,
    /// Not committed to anyone.
    pub available: Money,
    /// The lowest `available` seen during the week.
    pub min_available: Money,
    /// Reserved and not yet paid.
    pub reserved: Money,
    /// Paid so far.
    pub paid: Money,
    /// Released back so far (declines, lapses, withdrawals, failures, completion remainders).
    pub released: Money,
    /// Applications offered so far.
    pub offered: u32,
    /// Applications on the waitlist now.
    pub waitlisted: u32,
}

/// What became of one applicant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppOutcome {
    /// Eligible on submission (has a coverage estimate).
    pub eligible: bool,
    /// The award amount (zero when ineligible).
    pub award: Money,
    pub offered: bool,
    pub awarded: bool,
    pub certified: bool,
    pub plus_certified: bool,
    /// The stage at the end of the run (`submitted` if never submitted).
    pub stage: StageKind,
    pub paid: Money,
    pub released: Money,
}

impl Default for AppOutcome {
    fn default() -> Self {
        AppOutcome {
            eligible: false,
            award: Money::ZERO,
            offered: false,
            awarded: false,
            certified: false,
            plus_certified: false,
            stage: StageKind::Submitted,
            paid: Money::ZERO,
            released: Money::ZERO,
        }
    }
}

/// The pot's totals, tracked from the amounts the events carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PotTotals {
    pub credits: Money,
    pub available: Money,
    pub reserved: Money,
    pub paid: Money,
    pub released: Money,
}

/// What a run saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// One entry per week boundary from the start to the end.
    pub weeks: Vec<WeekObs>,
    /// One entry per draw, in the order of the draws.
    pub apps: Vec<AppOutcome>,
    /// The pot at the end.
    pub pot: PotTotals,
    /// Commands the core refused (late answers, claims after an award ended...).
    pub rejected: u32,
    /// Commands run.
    pub commands: u32,
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriveError {
    #[error("the executor failed: {0}")]
    Executor(String),
    #[error("the programme could not be opened: {0}")]
    Open(Rejection),
    #[error("the end {end} is not after the start {start}")]
    Empty {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Act {
    Submit,
    Answer,
    LeaveWaitlist,
    Withdraw,
    Engage,
    SubmitAssessment,
    Verdict(u8),
    Resubmit,
    BookPlus,
    PlusVerdict(u8),
    Claim(Item),
    Complete,
}

#[derive(Clone, Copy, Debug, Default)]
struct AppRun {
    out: AppOutcome,
    coverage: Option<Coverage>,
    claims_pending: u8,
    ready: bool,
    complete_scheduled: bool,
}

const DAY: i64 = 86_400;

/// A planned step: when, its order of planning (ties at the same instant run
/// in the order they were planned), the applicant and the step.
type Entry = (i64, u64, u32, Act);

/// Days ahead the [`Queue`] keeps in buckets; later steps wait in a heap.
const BUCKET_DAYS: usize = 4096;

/// The driver's plan, in `(time, order)` order. Steps are kept in buckets by
/// day from the start; when their day comes up they are sorted into `due`,
/// which then holds about a day's steps instead of the whole run's, and steps
/// planned for a day already under way are inserted in place. Steps planned
/// in time order (the arrivals, planned first) can wait in a `lane` of their
/// own instead, which needs no sorting and is merged in as steps are taken.
/// The order in which steps come out is exactly that of one heap of everything.
#[derive(Debug, Default)]
struct Queue {
    start: i64,
    seq: u64,
    /// Days before this one have been moved into `due`.
    moved: usize,
    /// Steps whose day has come up, latest first (the next one is last).
    due: Vec<Entry>,
    /// Steps of day `d` (from `start`) not yet moved, for `d < BUCKET_DAYS`.
    days: Vec<Vec<Entry>>,
    /// Steps of later days.
    far: BinaryHeap<Reverse<Entry>>,
    /// Steps planned with [`Queue::push_in_order`], in `(time, order)`
    /// order; those before `next` have been taken.
    lane: Vec<Entry>,
    next: usize,
}

/// What orders two steps: their time, then the order they were planned in
/// (unique, so no two steps compare equal).
fn key(e: &Entry) -> (i64, u64) {
    (e.0, e.1)
}

impl Queue {
    /// Empties the queue for a run from `start` to `end`, keeping its allocations.
    fn reset(&mut self, start: i64, end: i64) {
        self.start = start;
        self.seq = 0;
        self.moved = 0;
        self.due.clear();
        self.far.clear();
        self.lane.clear();
        self.next = 0;
        let days = usize::try_from((end - start).div_euclid(DAY))
            .unwrap_or(0)
            .saturating_add(1)
            .min(BUCKET_DAYS);
        for d in &mut self.days {
            d.clear();
        }
        self.days.resize_with(days.max(self.days.len()), Vec::new);
    }

    /// The day of `at` from the start, or `None` before the start.
    fn day(&self, at: i64) -> Option<usize> {
        usize::try_from((at - self.start).div_euclid(DAY)).ok()
    }

    fn push(&mut self, at: i64, app: u32, act: Act) {
        self.seq += 1;
        let e = (at, self.seq, app, act);
        match self.day(at) {
            Some(d) if d >= self.moved => match self.days.get_mut(d) {
                Some(bucket) => bucket.push(e),
                None => self.far.push(Reverse(e)),
            },
            _ => {
                // Planned for a day under way: after every later step.
                let k = key(&e);
                let at = self.due.partition_point(|d| key(d) > k);
                self.due.insert(at, e);
            }
        }
    }

    /// [`Queue::push`] for a step planned at or after every step planned so
    /// far with this method: it waits in the lane, unsorted. (A step out of
    /// that order is pushed as any other.)
    fn push_in_order(&mut self, at: i64, app: u32, act: Act) {
        if self.lane.last().is_some_and(|last| last.0 > at) {
            return self.push(at, app, act);
        }
        self.seq += 1;
        self.lane.push((at, self.seq, app, act));
    }

    /// Makes every step before `until` available to [`Queue::pop_before`].
    fn advance(&mut self, until: i64) {
        let Some(last) = self.day(until - 1) else {
            return;
        };
        let upto = last.saturating_add(1);
        if upto <= self.moved {
            return;
        }
        let before = self.due.len();
        let buckets = upto.min(self.days.len());
        if let Some(days) = self.days.get_mut(self.moved.min(buckets)..buckets) {
            for bucket in days {
                self.due.append(bucket);
            }
        }
        while let Some(Reverse(e)) = self.far.peek().copied() {
            if self.day(e.0).is_some_and(|d| d >= upto) {
                break;
            }
            self.far.pop();
            self.due.push(e);
        }
        if before == 0 {
            // Steps of one time share a day, so they came from one bucket, in
            // the order planned, or from `far`, in order: reversed, they are
            // latest planned first, and a stable sort by time keeps that.
            self.due.reverse();
            self.due.sort_by_key(|e| Reverse(e.0));
        } else if self.due.len() > before {
            self.due.sort_unstable_by_key(|e| Reverse(key(e)));
        }
        self.moved = upto;
    }

    /// The next step before `until`, if any (after [`Queue::advance`] to `until`).
    fn pop_before(&mut self, until: i64) -> Option<Entry> {
        let lane = self.lane.get(self.next).filter(|e| e.0 < until).copied();
        match (self.due.last().filter(|e| e.0 < until), lane) {
            (Some(due), Some(l)) if key(due) < key(&l) => self.due.pop(),
            (_, Some(l)) => {
                self.next += 1;
                Some(l)
            }
            (Some(_), None) => self.due.pop(),
            (None, None) => None,
        }
    }
}

/// A reusable driver: its buffers survive from one run to the next.
#[derive(Debug, Default)]
pub struct Driver {
    queue: Queue,
    apps: Vec<AppRun>,
    trace: Trace,
    /// The pot in pence (cheap to update on every event).
    pot: Pence,
    counter: u64,
    salt: u64,
    waitlisted: u32,
    offered: u32,
    /// The lowest `available` of the week so far, in pence.
    week_min: i64,
    /// Money was reserved since `week_min` was last brought up to date.
    reserved_since_min: bool,
    /// Buffers taken back from the last command that used them, for the next.
    spare: Spare,
    /// The applicant submitted for each draw, by index, kept for the next
    /// run: once the executor has let go of it (a [`Direct`] state is reset
    /// between trials) its texts are rewritten in place instead of allocated.
    applicants: Vec<Option<Arc<Applicant>>>,
    clock: Clock,
    /// The events of the command under way, reused from command to command.
    events: Vec<Event>,
}

/// Unix times as instants, keeping the date of the last day asked for:
/// steps come in time order, so most fall on the day of the one before.
#[derive(Debug, Default, Clone, Copy)]
struct Clock {
    day: i64,
    date: Option<NaiveDate>,
}

impl Clock {
    /// The instant `t` seconds after the Unix epoch, if representable
    /// (as [`DateTime::from_timestamp`] gives it).
    fn at(&mut self, t: i64) -> Option<DateTime<Utc>> {
        let day = t.div_euclid(DAY);
        let date = match self.date {
            Some(date) if self.day == day => date,
            cached => {
                // Mostly the next day (each tick moves on by one): counting
                // on to it is cheaper than finding the date of a Unix time.
                let next = cached
                    .filter(|_| self.day + 1 == day)
                    .and_then(|d| d.succ_opt());
                let date = match next {
                    Some(date) => date,
                    None => DateTime::from_timestamp(day.checked_mul(DAY)?, 0)?.date_naive(),
                };
                self.day = day;
                self.date = Some(date);
                date
            }
        };
        let secs = u32::try_from(t.rem_euclid(DAY)).ok()?;
        let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)?;
        Some(date.and_time(time).and_utc())
    }

    /// [`Clock::at`], or the epoch when `t` is out of range, with its Unix time.
    fn at_or_epoch(&mut self, t: i64) -> (DateTime<Utc>, i64) {
        match self.at(t) {
            Some(now) => (now, t),
            None => (DateTime::default(), 0),
        }
    }
}

/// What a command owns that the next one can reuse: its texts. (The
/// applicant is shared with the state once submitted, so it is not reused.)
#[derive(Debug, Default)]
struct Spare {
    invoice: String,
    reason: String,
}

impl Spare {
    /// Takes back the buffers of a command that has run.
    fn recycle(&mut self, action: Action) {
        match action {
            Action::Claim { invoice_ref, .. } => self.invoice = invoice_ref,
            Action::Withdraw { reason, .. } => self.reason = reason,
            _ => {}
        }
    }

    fn reason(&mut self, text: &str) -> String {
        let mut r = std::mem::take(&mut self.reason);
        r.clear();
        r.push_str(text);
        r
    }
}

/// Runs `draws` through `programme` from `start` with a fresh [`Driver`].
pub fn drive<E: Executor>(
    programme: &Programme,
    draws: &[Draw],
    start: DateTime<Utc>,
    options: &DriveOptions,
    executor: &mut E,
) -> Result<Trace, DriveError> {
    let mut d = Driver::new();
    d.run(programme, draws, start, options, executor)?;
    Ok(d.into_trace())
}

/// The pot's totals in pence, as [`PotTotals`].
#[derive(Clone, Copy, Debug, Default)]
struct Pence {
    credits: i64,
    available: i64,
    reserved: i64,
    paid: i64,
    released: i64,
}

impl Pence {
    fn totals(&self) -> PotTotals {
        PotTotals {
            credits: money(self.credits),
            available: money(self.available),
            reserved: money(self.reserved),
            paid: money(self.paid),
            released: money(self.released),
        }
    }
}

/// An amount in pence (amounts are kept with two decimals, read directly).
fn pence(m: Money) -> i64 {
    let d = m.as_decimal();
    if d.scale() == 2 {
        i64::try_from(d.mantissa()).unwrap_or(i64::MAX)
    } else {
        m.pence()
    }
}

/// Pence as money: at most [`Money::MAX`], at least zero.
fn money(pence: i64) -> Money {
    match u64::try_from(pence) {
        Ok(p) => Money::from_pence(p).unwrap_or(Money::MAX),
        Err(_) => Money::ZERO,
    }
}

/// `a + b` pence.
fn plus(a: i64, b: Money) -> i64 {
    a.saturating_add(pence(b))
}

/// `a - b` pence, or zero if `b` is larger.
fn minus(a: i64, b: Money) -> i64 {
    a.saturating_sub(pence(b)).max(0)
}

fn add(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap_or(Money::MAX)
}

impl Driver {
    pub fn new() -> Driver {
        Driver::default()
    }

    /// The trace of the last run.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Takes the trace of the last run.
    pub fn into_trace(self) -> Trace {
        self.trace
    }

    fn push(&mut self, at: i64, app: usize, act: Act) {
        self.queue.push(at, app as u32, act);
    }

    /// The applicant of draw `i`, written from `profile` into the one kept
    /// from the last run when nothing else holds it any more.
    fn applicant(&mut self, i: usize, profile: &Profile) -> Arc<Applicant> {
        let Some(slot) = self.applicants.get_mut(i) else {
            return Arc::new(profile.applicant());
        };
        match slot.as_mut().and_then(Arc::get_mut) {
            Some(a) => profile.write_applicant(a),
            None => *slot = Some(Arc::new(profile.applicant())),
        }
        slot.clone()
            .unwrap_or_else(|| Arc::new(profile.applicant()))
    }

    fn app_id(&self, i: usize) -> ApplicationId {
        ApplicationId::new(Uuid::from_u64_pair(self.salt, i as u64))
    }

    fn index(&self, id: ApplicationId) -> Option<usize> {
        let (hi, lo) = id.0.as_u64_pair();
        (hi == self.salt)
            .then_some(lo as usize)
            .filter(|i| *i < self.apps.len())
    }

    fn command(&mut self, action: Action) -> Command {
        self.counter += 1;
        Command::new(
            CommandId::new(Uuid::from_u64_pair(!self.salt, self.counter)),
            action,
        )
    }

    /// Runs `draws` (in arrival order) through `programme` from `start`.
    pub fn run<E: Executor>(
        &mut self,
        programme: &Programme,
        draws: &[Draw],
        start: DateTime<Utc>,
        options: &DriveOptions,
        executor: &mut E,
    ) -> Result<&Trace, DriveError> {
        if options.end <= start {
            return Err(DriveError::Empty {
                start,
                end: options.end,
            });
        }
        self.queue.reset(start.timestamp(), options.end.timestamp());
        self.apps.clear();
        self.apps.resize(draws.len(), AppRun::default());
        if self.applicants.len() < draws.len() {
            self.applicants.resize(draws.len(), None);
        }
        self.trace.weeks.clear();
        self.trace.apps.clear();
        self.trace.rejected = 0;
        self.trace.commands = 0;
        self.pot = Pence::default();
        self.counter = 0;
        self.reserved_since_min = false;
        self.salt = options.id_salt;
        self.waitlisted = 0;
        self.offered = 0;
        let t0 = start.timestamp();
        if options.open {
            let cmd = self.command(Action::Open {
                programme: Box::new(programme.clone()),
            });
            let mut events = std::mem::take(&mut self.events);
            let result = executor.execute(&cmd, start, &mut events);
            if result.is_ok() {
                self.observe(&events, draws, (start, t0));
            }
            self.events = events;
            match result {
                Ok(()) => {}
                Err(StepError::Rejected(r)) => return Err(DriveError::Open(r)),
                Err(StepError::Fatal(f)) => return Err(DriveError::Executor(f)),
            }
            self.spare.recycle(cmd.action);
        } else {
            self.pot.credits = pence(programme.pot.value);
            self.pot.available = pence(programme.pot.value);
        }
        self.week_min = self.pot.available;
        self.record_week(0);
        for (i, d) in draws.iter().enumerate() {
            let at = t0 + i64::from(d.arrival_minutes) * 60;
            self.queue.push_in_order(at, i as u32, Act::Submit);
        }
        let step = match options.tick {
            TickEvery::Daily => DAY,
            TickEvery::Weekly => 7 * DAY,
        };
        let end = options.end.timestamp();
        let mut k: i64 = 1;
        loop {
            let tick_at = (t0 + k * step).min(end);
            self.queue.advance(tick_at);
            while let Some((at, _, i, act)) = self.queue.pop_before(tick_at) {
                self.act(at, i as usize, act, draws, executor)?;
            }
            let now = match self.clock.at(tick_at) {
                Some(now) => (now, tick_at),
                None => (options.end, end),
            };
            let cmd = self.command(Action::Tick);
            self.exec(cmd, now, draws, executor)?;
            let elapsed = tick_at - t0;
            if elapsed % (7 * DAY) == 0 || tick_at >= end {
                self.record_week(((elapsed + 7 * DAY - 1) / (7 * DAY)) as u32);
            }
            if tick_at >= end {
                break;
            }
            k += 1;
        }
        self.trace.apps.extend(self.apps.iter().map(|a| a.out));
        self.trace.pot = self.pot.totals();
        Ok(&self.trace)
    }

    fn record_week(&mut self, week: u32) {
        let p = self.pot;
        self.trace.weeks.push(WeekObs {
            week,
            available: money(p.available),
            min_available: money(self.week_min.min(p.available)),
            reserved: money(p.reserved),
            paid: money(p.paid),
            released: money(p.released),
            offered: self.offered,
            waitlisted: self.waitlisted,
        });
        self.week_min = p.available;
    }

    /// Runs `cmd` at `now` (an instant and its Unix time), observes its
    /// events and keeps its buffers for the next command.
    fn exec<E: Executor>(
        &mut self,
        cmd: Command,
        now: (DateTime<Utc>, i64),
        draws: &[Draw],
        executor: &mut E,
    ) -> Result<bool, DriveError> {
        self.trace.commands += 1;
        let mut events = std::mem::take(&mut self.events);
        let result = executor.execute(&cmd, now.0, &mut events);
        self.spare.recycle(cmd.action);
        if result.is_ok() {
            self.observe(&events, draws, now);
        }
        self.events = events;
        match result {
            Ok(()) => Ok(true),
            Err(StepError::Rejected(_)) => {
                self.trace.rejected += 1;
                Ok(false)
            }
            Err(StepError::Fatal(f)) => Err(DriveError::Executor(f)),
        }
    }

    fn act<E: Executor>(
        &mut self,
        at: i64,
        i: usize,
        act: Act,
        draws: &[Draw],
        executor: &mut E,
    ) -> Result<(), DriveError> {
        let Some(draw) = draws.get(i) else {
            return Ok(());
        };
        let Some(app) = self.apps.get(i) else {
            return Ok(());
        };
        let stage = app.out.stage;
        let id = self.app_id(i);
        let milestone = |m| Action::Milestone {
            application: id,
            milestone: m,
        };
        let action = match act {
            Act::Submit => Action::Submit {
                application: id,
                applicant: self.applicant(i, &draw.profile),
                request: draw.request.clone(),
            },
            Act::Answer if stage == StageKind::Offered => match draw.behaviour.answer {
                Answer::Accept => Action::Accept { application: id },
                Answer::Decline => Action::Decline { application: id },
                Answer::Ignore => return Ok(()),
            },
            Act::LeaveWaitlist if stage == StageKind::Waitlisted => Action::Withdraw {
                application: id,
                reason: self.spare.reason("no longer waiting for funding"),
            },
            Act::Withdraw if stage.is_funded() && !stage.is_final() => Action::Withdraw {
                application: id,
                reason: self.spare.reason("withdrew from the programme"),
            },
            Act::Engage => milestone(Milestone::ConsultancyEngaged),
            Act::SubmitAssessment | Act::Resubmit => milestone(Milestone::SelfAssessmentSubmitted),
            Act::Verdict(attempt) => {
                let b = &draw.behaviour;
                let pass = if attempt <= 1 {
                    b.first_pass
                } else {
                    b.second_pass
                };
                milestone(if pass {
                    Milestone::AssessmentPassed
                } else {
                    Milestone::AssessmentFailed
                })
            }
            Act::BookPlus => milestone(Milestone::PlusAuditBooked),
            Act::PlusVerdict(attempt) => {
                let b = &draw.behaviour;
                let pass = if attempt <= 1 {
                    b.plus_first_pass
                } else {
                    b.plus_retest_pass
                };
                milestone(if pass {
                    Milestone::PlusAuditPassed
                } else {
                    Milestone::PlusAuditFailed
                })
            }
            Act::Claim(item) => {
                let amount = app
                    .coverage
                    .map_or(Money::ZERO, |c| c.item(item))
                    .min(app.out.award.saturating_sub(app.out.paid));
                if let Some(a) = self.apps.get_mut(i) {
                    a.claims_pending = a.claims_pending.saturating_sub(1);
                }
                if !amount.is_zero() && stage.is_funded() && stage != StageKind::Completed {
                    let mut invoice_ref = std::mem::take(&mut self.spare.invoice);
                    invoice_ref.clear();
                    // Writing to a `String` cannot fail.
                    let _ = write!(invoice_ref, "SIM-{i}-{}", item.as_str());
                    let cmd = self.command(Action::Claim {
                        application: id,
                        item,
                        invoice_ref,
                        amount,
                    });
                    let now = self.clock.at_or_epoch(at);
                    self.exec(cmd, now, draws, executor)?;
                }
                self.maybe_complete(at, i);
                return Ok(());
            }
            Act::Complete => Action::Complete { application: id },
            // The applicant's stage moved on: the planned step no longer applies.
            Act::Answer | Act::LeaveWaitlist | Act::Withdraw => return Ok(()),
        };
        if stage.is_final() && act != Act::Submit {
            self.spare.recycle(action);
            return Ok(());
        }
        let cmd = self.command(action);
        let now = self.clock.at_or_epoch(at);
        self.exec(cmd, now, draws, executor)?;
        Ok(())
    }

    fn maybe_complete(&mut self, at: i64, i: usize) {
        if let Some(a) = self.apps.get_mut(i) {
            if a.ready && a.claims_pending == 0 && !a.complete_scheduled {
                a.complete_scheduled = true;
                self.push(at, i, Act::Complete);
            }
        }
    }

    fn release(&mut self, i: usize, released: Money, stage: StageKind) {
        self.pot.reserved = minus(self.pot.reserved, released);
        self.pot.available = plus(self.pot.available, released);
        self.pot.released = plus(self.pot.released, released);
        if let Some(a) = self.apps.get_mut(i) {
            if a.out.stage == StageKind::Waitlisted {
                self.waitlisted = self.waitlisted.saturating_sub(1);
            }
            a.out.released = add(a.out.released, released);
            a.out.stage = stage;
        }
    }

    /// Takes in the events of a command run at `now` (an instant and its Unix time).
    fn observe(&mut self, events: &[Event], draws: &[Draw], now: (DateTime<Utc>, i64)) {
        for e in events {
            // A command's events carry its `now`: its Unix time is known.
            let at = if e.at == now.0 {
                now.1
            } else {
                e.at.timestamp()
            };
            self.on_event(e, at, draws);
        }
        // Only a reservation lowers what is available.
        if std::mem::take(&mut self.reserved_since_min) {
            self.week_min = self.week_min.min(self.pot.available);
        }
    }

    /// Takes in one event that happened at Unix time `at`.
    fn on_event(&mut self, e: &Event, at: i64, draws: &[Draw]) {
        let days = |n: u16| at + i64::from(n) * DAY;
        let Some(i) = e.kind.application().and_then(|id| self.index(id)) else {
            // Only the programme's own events are about no application.
            match &e.kind {
                EventKind::ProgrammeOpened { programme } => {
                    self.pot.credits = plus(self.pot.credits, programme.pot.value);
                    self.pot.available = plus(self.pot.available, programme.pot.value);
                }
                EventKind::PotToppedUp { amount, .. } => {
                    self.pot.credits = plus(self.pot.credits, *amount);
                    self.pot.available = plus(self.pot.available, *amount);
                }
                _ => {}
            }
            return;
        };
        let (Some(draw), Some(a)) = (draws.get(i), self.apps.get_mut(i)) else {
            return;
        };
        let b = &draw.behaviour;
        match &e.kind {
            EventKind::Submitted { coverage, .. } => {
                a.coverage = *coverage;
                a.out.eligible = coverage.is_some();
                a.out.award = coverage.map_or(Money::ZERO, |c| c.award);
            }
            EventKind::FoundIneligible { .. } => {
                a.out.eligible = false;
                a.out.award = Money::ZERO;
                a.out.stage = StageKind::Ineligible;
            }
            EventKind::Waitlisted { .. } => {
                a.out.stage = StageKind::Waitlisted;
                self.waitlisted += 1;
                if let Some(p) = b.waitlist_patience_days {
                    self.push(days(p), i, Act::LeaveWaitlist);
                }
            }
            EventKind::Offered { amount, .. } => {
                if a.out.stage == StageKind::Waitlisted {
                    self.waitlisted = self.waitlisted.saturating_sub(1);
                }
                a.out.stage = StageKind::Offered;
                a.out.offered = true;
                self.offered += 1;
                self.pot.reserved = plus(self.pot.reserved, *amount);
                self.pot.available = minus(self.pot.available, *amount);
                self.reserved_since_min = true;
                self.push(days(b.answer_days), i, Act::Answer);
            }
            EventKind::Accepted { .. } => {
                a.out.stage = StageKind::Awarded;
                a.out.awarded = true;
                self.push(days(b.engage_days), i, Act::Engage);
                if let Some(w) = b.withdraw_days {
                    self.push(days(w), i, Act::Withdraw);
                }
            }
            EventKind::Declined { released, .. } => self.release(i, *released, StageKind::Declined),
            EventKind::Lapsed { released, .. } => self.release(i, *released, StageKind::Lapsed),
            EventKind::Withdrawn { released, .. } => {
                self.release(i, *released, StageKind::Withdrawn)
            }
            EventKind::CertificationFailed { released, .. } => {
                self.release(i, *released, StageKind::Failed)
            }
            EventKind::Completed { released, .. } => {
                self.release(i, *released, StageKind::Completed)
            }
            EventKind::ConsultancyEngaged { .. } => {
                a.out.stage = StageKind::ConsultancyEngaged;
                if !b.never_finish {
                    self.push(days(b.prepare_days), i, Act::SubmitAssessment);
                }
            }
            EventKind::SelfAssessmentSubmitted { attempt, .. } => {
                a.out.stage = StageKind::SelfAssessmentSubmitted;
                let consultancy = a
                    .coverage
                    .map_or(Money::ZERO, |c| c.item(Item::Consultancy));
                let first = *attempt <= 1;
                if first && !consultancy.is_zero() {
                    a.claims_pending += 1;
                }
                self.push(days(b.marking_days), i, Act::Verdict(*attempt));
                if first && !consultancy.is_zero() {
                    self.push(days(b.invoice_days), i, Act::Claim(Item::Consultancy));
                }
            }
            EventKind::AssessmentFailed { respond_by, .. } => {
                a.out.stage = StageKind::FeedbackDue;
                if b.answers_feedback {
                    self.push((at + DAY).min(respond_by.timestamp()), i, Act::Resubmit);
                }
            }
            EventKind::Certified { plus_by, .. } => {
                a.out.stage = StageKind::Certified;
                a.out.certified = true;
                let fee = a
                    .coverage
                    .map_or(Money::ZERO, |c| c.item(Item::CertificationFee));
                if !fee.is_zero() {
                    a.claims_pending += 1;
                }
                if plus_by.is_none() {
                    a.ready = true;
                }
                if !fee.is_zero() {
                    self.push(days(b.invoice_days), i, Act::Claim(Item::CertificationFee));
                }
                if plus_by.is_some() {
                    self.push(days(b.plus_booking_days), i, Act::BookPlus);
                }
                self.maybe_complete(at, i);
            }
            EventKind::PlusAuditBooked { attempt, .. } => {
                a.out.stage = StageKind::PlusAuditBooked;
                self.push(days(b.marking_days), i, Act::PlusVerdict(*attempt));
            }
            EventKind::PlusAuditFailed { .. } => {
                a.out.stage = StageKind::PlusRetest;
                self.push(days(b.plus_retest_days), i, Act::BookPlus);
            }
            EventKind::PlusCertified { .. } => {
                a.out.stage = StageKind::PlusCertified;
                a.out.plus_certified = true;
                a.ready = true;
                let plus = a.coverage.map_or(Money::ZERO, |c| c.item(Item::PlusAudit));
                if !plus.is_zero() {
                    a.claims_pending += 1;
                    self.push(days(b.invoice_days), i, Act::Claim(Item::PlusAudit));
                }
                self.maybe_complete(at, i);
            }
            EventKind::PlusNotAchieved { .. } => {
                a.out.stage = StageKind::PlusNotAchieved;
                a.ready = true;
                self.maybe_complete(at, i);
            }
            EventKind::ClaimPaid { amount, .. } => {
                a.out.paid = add(a.out.paid, *amount);
                self.pot.reserved = minus(self.pot.reserved, *amount);
                self.pot.paid = plus(self.pot.paid, *amount);
            }
            EventKind::ClawedBack { amount, .. } => {
                self.pot.credits = plus(self.pot.credits, *amount);
                self.pot.available = plus(self.pot.available, *amount);
            }
            // Reminders, the opening, top-ups, and any event a newer core
            // adds: nothing the driver tracks changes.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The queue gives the steps in the order of one heap of everything,
    /// whatever the tick, including steps planned late or beyond the buckets.
    #[test]
    fn the_queue_keeps_the_order_of_a_single_heap() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let start = 1_600_000_000;
        for (step, days) in [(DAY, 40), (7 * DAY, 60), (DAY, BUCKET_DAYS as i64 + 30)] {
            let end = start + days * DAY - 3_600;
            let mut q = Queue::default();
            q.reset(start, end);
            let mut heap = BinaryHeap::new();
            let mut seq = 0;
            // Arrivals in time order (now and then one out of it), then the rest.
            let mut at = start - DAY;
            for app in 0..200 {
                at += rng.random_range(0..DAY / 2);
                let late = if app % 37 == 5 { 3 * DAY } else { 0 };
                seq += 1;
                q.push_in_order(at - late, app, Act::Submit);
                heap.push(Reverse((at - late, seq, app, Act::Submit)));
            }
            let mut plan = |q: &mut Queue, heap: &mut BinaryHeap<_>, at: i64, app: u32| {
                seq += 1;
                q.push(at, app, Act::Submit);
                heap.push(Reverse((at, seq, app, Act::Submit)));
            };
            for app in 200..500 {
                let at = start + rng.random_range(-DAY..days * DAY + 5 * DAY);
                plan(&mut q, &mut heap, at, app);
            }
            let mut k = 1;
            let mut seen = 0;
            loop {
                let until = (start + k * step).min(end);
                q.advance(until);
                loop {
                    let expected = match heap.peek() {
                        Some(Reverse(e)) if e.0 < until => {
                            let e = *e;
                            heap.pop();
                            Some(e)
                        }
                        _ => None,
                    };
                    let got = q.pop_before(until);
                    assert_eq!(got, expected);
                    let Some((at, _, app, _)) = got else {
                        break;
                    };
                    seen += 1;
                    // Plan more: the same instant, later today, days ahead, or even earlier.
                    if app < 5_000 && rng.random_bool(0.6) {
                        let later = match rng.random_range(0..4) {
                            0 => at,
                            1 => at + rng.random_range(0..DAY),
                            2 => at + rng.random_range(1..30) * DAY,
                            _ => at - rng.random_range(0..DAY),
                        };
                        plan(&mut q, &mut heap, later, app + 1_000);
                    }
                }
                if until >= end {
                    break;
                }
                k += 1;
            }
            assert!(seen > 500, "{seen}");
        }
    }
}
