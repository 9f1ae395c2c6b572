//! [`Driver::run`]: opens the programme, plans the arrivals, then ticks
//! through time taking the steps due, and records the pot week by week.

use chrono::{DateTime, Utc};
use grantflow_core::{Action, Command, Programme};

use super::clock::DAY;
use super::pot::{Pence, money, pence};
use super::queue::Act;
use super::{
    AppRun, DriveError, DriveOptions, Driver, Executor, StepError, TickEvery, Trace, WeekObs,
};
use crate::population::Draw;

impl Driver {
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
    pub(super) fn exec<E: Executor>(
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
}
