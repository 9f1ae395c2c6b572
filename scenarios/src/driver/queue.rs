//! The driver's plan: each applicant's next steps ([`Act`]) in time order, in
//! day buckets and a heap ([`Queue`]), coming out as from one heap of everything.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use grantflow_core::Item;

use super::clock::DAY;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Act {
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

/// A planned step: when, its order of planning (ties at the same instant run
/// in the order they were planned), the applicant and the step.
pub(super) type Entry = (i64, u64, u32, Act);

/// Days ahead the [`Queue`] keeps in buckets; later steps wait in a heap.
pub(super) const BUCKET_DAYS: usize = 4096;

/// The driver's plan, in `(time, order)` order. Steps are kept in buckets by
/// day from the start; when their day comes up they are sorted into `due`,
/// which then holds about a day's steps instead of the whole run's, and steps
/// planned for a day already under way are inserted in place. Steps planned
/// in time order (the arrivals, planned first) can wait in a `lane` of their
/// own instead, which needs no sorting and is merged in as steps are taken.
/// The order in which steps come out is exactly that of one heap of everything.
#[derive(Debug, Default)]
pub(super) struct Queue {
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
    pub(super) fn reset(&mut self, start: i64, end: i64) {
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

    pub(super) fn push(&mut self, at: i64, app: u32, act: Act) {
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
    pub(super) fn push_in_order(&mut self, at: i64, app: u32, act: Act) {
        if self.lane.last().is_some_and(|last| last.0 > at) {
            return self.push(at, app, act);
        }
        self.seq += 1;
        self.lane.push((at, self.seq, app, act));
    }

    /// Makes every step before `until` available to [`Queue::pop_before`].
    pub(super) fn advance(&mut self, until: i64) {
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
    pub(super) fn pop_before(&mut self, until: i64) -> Option<Entry> {
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
