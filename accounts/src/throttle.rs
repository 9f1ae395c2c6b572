//! [`Throttle`]: failures in a sliding window, then growing lock periods.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::email::Email;

/// How many failures a key may have in a window before it is locked, and
/// for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Failures allowed in one window; the last of them locks the key.
    pub attempts: u32,
    /// The sliding window.
    pub window: TimeDelta,
    /// The first lock period; each later one in a row doubles it.
    pub first_lock: TimeDelta,
    /// The longest lock period.
    pub longest_lock: TimeDelta,
}

impl Limit {
    /// Per account: at most 10 failed sign-ins in 5 minutes (Cyber
    /// Essentials' user-access control), then 5, 10, 20 … up to 60 minutes.
    pub const ACCOUNT: Limit = Limit {
        attempts: 10,
        window: TimeDelta::minutes(5),
        first_lock: TimeDelta::minutes(5),
        longest_lock: TimeDelta::minutes(60),
    };

    /// Per source address: 30 failed sign-ins in 5 minutes, whatever
    /// accounts they name (a spraying campaign tries few passwords on many
    /// accounts), then the same growing locks.
    pub const ADDRESS: Limit = Limit {
        attempts: 30,
        window: TimeDelta::minutes(5),
        first_lock: TimeDelta::minutes(5),
        longest_lock: TimeDelta::minutes(60),
    };

    /// Per address asked for a sign-in code: 5 codes in 10 minutes, so the
    /// server cannot be made to flood someone's inbox.
    pub const CODE_REQUESTS: Limit = Limit {
        attempts: 5,
        window: TimeDelta::minutes(10),
        first_lock: TimeDelta::minutes(10),
        longest_lock: TimeDelta::minutes(60),
    };

    fn lock_after(self, lockouts: u32) -> TimeDelta {
        let mut lock = self.first_lock;
        for _ in 0..lockouts.min(16) {
            lock = (lock * 2).min(self.longest_lock);
        }
        lock.min(self.longest_lock)
    }
}

/// What a throttle counts against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThrottleKey {
    /// Failed sign-ins naming this address, whether or not it has an account.
    Account(Email),
    /// Failed sign-ins from this source address.
    Address(String),
    /// Codes asked for this address.
    CodeRequests(Email),
}

impl ThrottleKey {
    /// The key as records keep it.
    pub fn as_key(&self) -> String {
        match self {
            ThrottleKey::Account(e) => format!("account:{e}"),
            ThrottleKey::Address(a) => format!("address:{a}"),
            ThrottleKey::CodeRequests(e) => format!("codes:{e}"),
        }
    }

    /// The limit that applies to this key.
    pub fn limit(&self) -> Limit {
        match self {
            ThrottleKey::Account(_) => Limit::ACCOUNT,
            ThrottleKey::Address(_) => Limit::ADDRESS,
            ThrottleKey::CodeRequests(_) => Limit::CODE_REQUESTS,
        }
    }
}

/// One key's recent failures and lock.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    /// When each failure in the current window happened, oldest first; never
    /// more than the limit's attempts.
    pub recent: Vec<DateTime<Utc>>,
    /// Locked until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// Lock periods in a row (reset by a success, or a day without a lock).
    pub lockouts: u32,
}

impl Throttle {
    /// `Ok` when an attempt may be made at `now`; otherwise when it may.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        match self.locked_until {
            Some(until) if now < until => Err(until),
            _ => Ok(()),
        }
    }

    /// Counts a failure at `now`; returns the end of the lock it started, if it did.
    pub fn fail(&mut self, now: DateTime<Utc>, limit: Limit) -> Option<DateTime<Utc>> {
        if let Some(until) = self.locked_until {
            if now >= until + TimeDelta::days(1) {
                self.lockouts = 0;
            }
            if now >= until {
                self.locked_until = None;
            }
        }
        self.recent.retain(|t| *t > now - limit.window && *t <= now);
        self.recent.push(now);
        if self.recent.len() as u64 >= u64::from(limit.attempts) {
            let until = now + limit.lock_after(self.lockouts);
            self.recent.clear();
            self.locked_until = Some(until);
            self.lockouts = self.lockouts.saturating_add(1);
            return Some(until);
        }
        None
    }

    /// Forgets the failures and locks (after a successful sign-in).
    pub fn clear(&mut self) {
        *self = Throttle::default();
    }

    /// When this record may be forgotten: once its window and lock are over
    /// and a lock-free day has passed.
    pub fn expires(&self, limit: Limit) -> Option<DateTime<Utc>> {
        let window_end = self.recent.last().map(|t| *t + limit.window);
        let lock_end = self.locked_until.map(|t| t + TimeDelta::days(1));
        window_end.max(lock_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 6, 1, 9, 0, 0).unwrap() + TimeDelta::seconds(minute * 60)
    }

    #[test]
    fn ten_failures_in_five_minutes_lock_for_five_then_ten_minutes() {
        let mut t = Throttle::default();
        for i in 0..9 {
            assert_eq!(t.fail(at(0) + TimeDelta::seconds(i), Limit::ACCOUNT), None);
        }
        let until = t.fail(at(0) + TimeDelta::seconds(9), Limit::ACCOUNT);
        assert_eq!(until, Some(at(5) + TimeDelta::seconds(9)));
        assert!(t.check(at(5)).is_err());
        assert!(t.check(at(6)).is_ok());
        for _ in 0..9 {
            t.fail(at(6), Limit::ACCOUNT);
        }
        assert_eq!(t.fail(at(6), Limit::ACCOUNT), Some(at(16)));
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_lock() {
        let mut t = Throttle::default();
        for minute in 0..100 {
            assert_eq!(t.fail(at(minute), Limit::ACCOUNT), None);
            assert!(t.check(at(minute)).is_ok());
        }
    }

    #[test]
    fn no_more_than_the_limit_in_any_window_even_across_its_edge() {
        // Nine failures late in one window and more just after: the window
        // slides, so the tenth within five minutes still locks.
        let mut t = Throttle::default();
        for _ in 0..9 {
            t.fail(at(4), Limit::ACCOUNT);
        }
        assert!(t.fail(at(6), Limit::ACCOUNT).is_some());
    }

    #[test]
    fn locks_grow_to_the_longest_and_a_success_forgets_them() {
        let mut t = Throttle::default();
        let mut now = at(0);
        let mut locks = Vec::new();
        for _ in 0..6 {
            let mut until = None;
            for _ in 0..Limit::ACCOUNT.attempts {
                until = t.fail(now, Limit::ACCOUNT);
            }
            let until = until.unwrap();
            locks.push((until - now).num_minutes());
            now = until;
        }
        assert_eq!(locks, [5, 10, 20, 40, 60, 60]);
        t.clear();
        assert_eq!(t, Throttle::default());
    }

    #[test]
    fn a_day_without_a_lock_starts_the_growth_again() {
        let mut t = Throttle::default();
        for _ in 0..10 {
            t.fail(at(0), Limit::ACCOUNT);
        }
        assert_eq!(t.lockouts, 1);
        let later = at(0) + TimeDelta::days(2);
        let mut until = None;
        for _ in 0..10 {
            until = t.fail(later, Limit::ACCOUNT);
        }
        assert_eq!(until, Some(later + TimeDelta::minutes(5)));
    }
}
