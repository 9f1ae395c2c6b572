//! Unix times as instants ([`Clock`]), cheap for steps that come in time order.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

pub(super) const DAY: i64 = 86_400;

/// Unix times as instants, keeping the date of the last day asked for:
/// steps come in time order, so most fall on the day of the one before.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Clock {
    day: i64,
    date: Option<NaiveDate>,
}

impl Clock {
    /// The instant `t` seconds after the Unix epoch, if representable
    /// (as [`DateTime::from_timestamp`] gives it).
    pub(super) fn at(&mut self, t: i64) -> Option<DateTime<Utc>> {
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
    pub(super) fn at_or_epoch(&mut self, t: i64) -> (DateTime<Utc>, i64) {
        match self.at(t) {
            Some(now) => (now, t),
            None => (DateTime::default(), 0),
        }
    }
}
