//! The deadline index: every pending [`Deadline`] of a programme, in the
//! order a tick fires them (time, then arrival, then [`DeadlineKind`]).
//!
//! [`Deadlines`] keeps one queue per [`DeadlineKind`], in time order, under
//! keys packed into integers: a kind's deadlines are `now` plus that kind's
//! window, and `now` never goes back, so adding one is nearly always a push
//! at the back of its queue, and removing one a binary search. A tick reads
//! the fronts of the queues.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::messages::ids::ApplicationId;

/// What a deadline does when it comes due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadlineKind {
    OfferReminder,
    FeedbackReminder,
    PlusReminder,
    CertificateReminder(u32),
    OfferExpiry,
    FeedbackClose,
    PassWindow,
    PlusRetest,
    PlusWindow,
}

impl DeadlineKind {
    /// The kind as one integer with the same order: the variant's rank in
    /// the high half, a certificate reminder's days in the low half.
    fn code(self) -> u64 {
        let (rank, days) = match self {
            DeadlineKind::OfferReminder => (0, 0),
            DeadlineKind::FeedbackReminder => (1, 0),
            DeadlineKind::PlusReminder => (2, 0),
            DeadlineKind::CertificateReminder(days) => (3, days),
            DeadlineKind::OfferExpiry => (4, 0),
            DeadlineKind::FeedbackClose => (5, 0),
            DeadlineKind::PassWindow => (6, 0),
            DeadlineKind::PlusRetest => (7, 0),
            DeadlineKind::PlusWindow => (8, 0),
        };
        (rank << 32) | u64::from(days)
    }

    fn from_code(code: u64) -> DeadlineKind {
        // The low half holds the days, so the cast keeps exactly them.
        let days = (code & u64::from(u32::MAX)) as u32;
        match code >> 32 {
            0 => DeadlineKind::OfferReminder,
            1 => DeadlineKind::FeedbackReminder,
            2 => DeadlineKind::PlusReminder,
            3 => DeadlineKind::CertificateReminder(days),
            4 => DeadlineKind::OfferExpiry,
            5 => DeadlineKind::FeedbackClose,
            6 => DeadlineKind::PassWindow,
            7 => DeadlineKind::PlusRetest,
            _ => DeadlineKind::PlusWindow,
        }
    }
}

/// A timed duty. Ordered by time, then arrival, then kind: a tick fires them in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Deadline {
    pub at: DateTime<Utc>,
    pub arrival: u64,
    pub kind: DeadlineKind,
    pub application: ApplicationId,
}

/// A deadline's place in the index. The derived order (time and arrival
/// packed into one integer, then kind) is the order of [`Deadline`]; an
/// application's arrival is unique, so the key identifies the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    /// From the most significant bit: seconds since [`EPOCH`] (41 bits),
    /// nanoseconds including a leap second's (31 bits), arrival (56 bits).
    at_arrival: u128,
    kind: u64,
}

/// The zero of the packed seconds: 1 January 1800. With 41 bits the packed
/// range runs to about the year 71,000; `now` is limited to the years 1900 to
/// 9999 and every window to a few years, so deadlines stay well inside it.
const EPOCH: i64 = -5_364_662_400;
const SECS_BITS: u32 = 41;
const NANOS_BITS: u32 = 31;
const ARRIVAL_BITS: u32 = 56;

fn pack(at: DateTime<Utc>, arrival: u64) -> u128 {
    let secs = at
        .timestamp()
        .saturating_sub(EPOCH)
        .clamp(0, (1 << SECS_BITS) - 1) as u128;
    let nanos = u128::from(at.timestamp_subsec_nanos()) & ((1 << NANOS_BITS) - 1);
    let arrival = u128::from(arrival.min((1 << ARRIVAL_BITS) - 1));
    (secs << (NANOS_BITS + ARRIVAL_BITS)) | (nanos << ARRIVAL_BITS) | arrival
}

/// The packed value of the first deadline after `at`: every key below it is due.
fn due_limit(at: DateTime<Utc>) -> u128 {
    pack(at, (1 << ARRIVAL_BITS) - 1).saturating_add(1)
}

fn unpack(at_arrival: u128) -> (DateTime<Utc>, u64) {
    let arrival = (at_arrival & ((1 << ARRIVAL_BITS) - 1)) as u64;
    let nanos = ((at_arrival >> ARRIVAL_BITS) & ((1 << NANOS_BITS) - 1)) as u32;
    let secs = (at_arrival >> (NANOS_BITS + ARRIVAL_BITS)) as i64 + EPOCH;
    let at = DateTime::from_timestamp(secs, nanos).unwrap_or(DateTime::<Utc>::MAX_UTC);
    (at, arrival)
}

impl Key {
    fn of(d: &Deadline) -> Key {
        Key {
            at_arrival: pack(d.at, d.arrival),
            kind: d.kind.code(),
        }
    }

    fn deadline(self, application: ApplicationId) -> Deadline {
        let (at, arrival) = unpack(self.at_arrival);
        Deadline {
            at,
            arrival,
            kind: DeadlineKind::from_code(self.kind),
            application,
        }
    }
}

/// One kind's deadlines in time order; removed ones stay as gaps until
/// they reach the front.
#[derive(Clone, Debug, Default)]
struct Queue {
    kind: u64,
    slots: VecDeque<Slot>,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    at_arrival: u128,
    /// `None` once removed.
    application: Option<ApplicationId>,
}

impl Queue {
    fn find(&self, at_arrival: u128) -> Option<usize> {
        // Most lookups are for the front (a reminder or expiry that a tick
        // fired, the oldest deadline of its kind) or for one that went
        // before it (a fired reminder its stage's change removes again).
        let front = self.slots.front()?.at_arrival;
        if at_arrival <= front {
            return (at_arrival == front).then_some(0);
        }
        self.slots
            .binary_search_by_key(&at_arrival, |s| s.at_arrival)
            .ok()
    }

    fn trim_front(&mut self) {
        while self.slots.front().is_some_and(|s| s.application.is_none()) {
            self.slots.pop_front();
        }
    }
}

/// Pending deadlines in firing order.
///
/// Each kind of deadline is `now` plus a window of that kind, and `now`
/// never goes back, so a kind's deadlines nearly always arrive in time
/// order: each kind has a queue where adding is a push at the back and
/// removing a binary search. A deadline that arrives earlier than the last
/// of its kind (a Plus re-test cut short by the Plus window) goes to a small
/// ordered map beside the queues.
#[derive(Clone, Debug, Default)]
pub struct Deadlines {
    queues: Vec<Queue>,
    stray: BTreeMap<Key, ApplicationId>,
    len: usize,
}

impl Deadlines {
    fn queue(&self, kind: u64) -> Option<&Queue> {
        self.queues.iter().find(|q| q.kind == kind)
    }

    fn queue_mut(&mut self, kind: u64) -> &mut Queue {
        let i = match self.queues.iter().position(|q| q.kind == kind) {
            Some(i) => i,
            None => {
                self.queues.push(Queue {
                    kind,
                    slots: VecDeque::new(),
                });
                self.queues.len() - 1
            }
        };
        &mut self.queues[i]
    }

    /// Adds a deadline; returns whether it was new.
    pub(crate) fn insert(&mut self, d: Deadline) -> bool {
        let key = Key::of(&d);
        if !self.stray.is_empty() && self.stray.contains_key(&key) {
            return false;
        }
        let q = self.queue_mut(key.kind);
        if q.slots.back().is_none_or(|s| s.at_arrival < key.at_arrival) {
            q.slots.push_back(Slot {
                at_arrival: key.at_arrival,
                application: Some(d.application),
            });
        } else {
            // Out of time order for its kind (or a repeat).
            if let Some(i) = q.find(key.at_arrival) {
                if q.slots[i].application.is_some() {
                    return false;
                }
            }
            self.stray.insert(key, d.application);
        }
        self.len += 1;
        true
    }

    /// Removes a deadline; returns whether it was pending.
    pub(crate) fn remove(&mut self, d: &Deadline) -> bool {
        let key = Key::of(d);
        if let Some(q) = self.queues.iter_mut().find(|q| q.kind == key.kind) {
            if let Some(i) = q.find(key.at_arrival) {
                if q.slots[i].application.take().is_some() {
                    q.trim_front();
                    self.len -= 1;
                    return true;
                }
            }
        }
        if self.stray.remove(&key).is_some() {
            self.len -= 1;
            return true;
        }
        false
    }

    /// Whether the deadline is pending.
    pub fn contains(&self, d: &Deadline) -> bool {
        let key = Key::of(d);
        let queued = self
            .queue(key.kind)
            .and_then(|q| q.find(key.at_arrival).and_then(|i| q.slots[i].application));
        queued.or_else(|| self.stray.get(&key).copied()) == Some(d.application)
    }

    /// The pending deadlines whose packed time is below `limit`, in firing order.
    fn collect_below(&self, limit: u128) -> Vec<Deadline> {
        let mut keyed: Vec<(Key, ApplicationId)> = Vec::new();
        for q in &self.queues {
            for s in q.slots.iter().take_while(|s| s.at_arrival < limit) {
                if let Some(a) = s.application {
                    keyed.push((
                        Key {
                            at_arrival: s.at_arrival,
                            kind: q.kind,
                        },
                        a,
                    ));
                }
            }
        }
        keyed.extend(
            self.stray
                .iter()
                .take_while(|(k, _)| k.at_arrival < limit)
                .map(|(k, a)| (*k, *a)),
        );
        keyed.sort_unstable_by_key(|(k, _)| *k);
        keyed.into_iter().map(|(k, a)| k.deadline(a)).collect()
    }

    /// Every pending deadline, in firing order.
    pub fn iter(&self) -> impl Iterator<Item = Deadline> + use<> {
        self.collect_below(u128::MAX).into_iter()
    }

    /// The deadlines due at `now` (at or before it), in firing order.
    pub fn due(&self, now: DateTime<Utc>) -> impl Iterator<Item = Deadline> + use<> {
        self.collect_below(due_limit(now)).into_iter()
    }

    /// Whether any deadline is due at `now`: the same answer as
    /// `due(now).next().is_some()`, from the fronts of the queues alone.
    pub fn any_due(&self, now: DateTime<Utc>) -> bool {
        let limit = due_limit(now);
        // A queue's front is its earliest slot; a removed front is trimmed
        // away, and were one left, it would only send a tick the long way.
        self.queues
            .iter()
            .any(|q| q.slots.front().is_some_and(|s| s.at_arrival < limit))
            || self
                .stray
                .first_key_value()
                .is_some_and(|(k, _)| k.at_arrival < limit)
    }

    /// How many deadlines are pending.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every deadline, keeping the queues' capacity.
    pub(crate) fn clear(&mut self) {
        for q in &mut self.queues {
            q.slots.clear();
        }
        self.stray.clear();
        self.len = 0;
    }
}

/// Two indexes are equal when they hold the same deadlines, however their
/// queues are laid out.
impl PartialEq for Deadlines {
    fn eq(&self, other: &Deadlines) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Deadlines {}

impl FromIterator<Deadline> for Deadlines {
    fn from_iter<I: IntoIterator<Item = Deadline>>(iter: I) -> Self {
        let mut out = Deadlines::default();
        for d in iter {
            out.insert(d);
        }
        out
    }
}

/// Written as the list of deadlines in firing order.
impl Serialize for Deadlines {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Deadlines {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<Deadline>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, nanos).single().expect("instant")
    }

    #[test]
    fn the_index_orders_as_deadlines_order() {
        let app = |n: u128| ApplicationId::new(uuid::Uuid::from_u128(n));
        let base = Utc
            .with_ymd_and_hms(2020, 9, 1, 9, 0, 0)
            .single()
            .expect("date");
        let times = [
            at(-2_208_988_800, 0),            // 1900
            at(1_483_228_799, 1_500_000_000), // within a leap second
            base,
            base + Duration::nanoseconds(1),
            base + Duration::days(1),
            at(253_402_300_799, 999_999_999), // the end of 9999
            at(-5_364_662_400, 0),            // 1800, the packed zero
        ];
        let kinds = [
            DeadlineKind::PlusWindow,
            DeadlineKind::OfferReminder,
            DeadlineKind::CertificateReminder(30),
            DeadlineKind::CertificateReminder(7),
            DeadlineKind::CertificateReminder(u32::MAX),
            DeadlineKind::PassWindow,
        ];
        let mut all = Vec::new();
        for (i, t) in times.iter().enumerate() {
            for (j, k) in kinds.iter().enumerate() {
                let arrival = ((i * 7 + j * 3) % 5) as u64;
                all.push(Deadline {
                    at: *t,
                    arrival,
                    kind: *k,
                    application: app(u128::from(arrival as u32)),
                });
            }
        }
        let index: Deadlines = all.iter().copied().collect();
        for d in &all {
            assert_eq!(Key::of(d).deadline(d.application), *d, "round trip");
        }
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(index.iter().collect::<Vec<_>>(), sorted);
        let due: Vec<_> = index.due(base).collect();
        assert!(due.iter().all(|d| d.at <= base));
        assert_eq!(due.len(), sorted.iter().filter(|d| d.at <= base).count());
        let mut index = index;
        assert!(index.contains(&sorted[3]));
        assert!(index.remove(&sorted[3]));
        assert!(!index.remove(&sorted[3]));
        assert_eq!(index.len(), sorted.len() - 1);
        let json = serde_json::to_string(&index).expect("json");
        let back: Deadlines = serde_json::from_str(&json).expect("back");
        assert_eq!(back, index);
    }

    mod model {
        use std::collections::BTreeSet;

        use proptest::prelude::*;

        use super::*;

        #[derive(Clone, Debug)]
        enum Op {
            Insert { day: i64, arrival: u64, kind: u8 },
            Remove(usize),
            Due(i64),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0i64..40, 0u64..6, 0u8..10).prop_map(|(day, arrival, kind)| Op::Insert { day, arrival, kind }),
                2 => (0usize..64).prop_map(Op::Remove),
                1 => (0i64..40).prop_map(Op::Due),
            ]
        }

        fn kind(k: u8) -> DeadlineKind {
            match k {
                0 => DeadlineKind::OfferReminder,
                1 => DeadlineKind::FeedbackReminder,
                2 => DeadlineKind::PlusReminder,
                3 => DeadlineKind::CertificateReminder(30),
                4 => DeadlineKind::CertificateReminder(7),
                5 => DeadlineKind::OfferExpiry,
                6 => DeadlineKind::FeedbackClose,
                7 => DeadlineKind::PassWindow,
                8 => DeadlineKind::PlusRetest,
                _ => DeadlineKind::PlusWindow,
            }
        }

        proptest! {
            /// A queue's lookup, with its shortcuts at the front, finds what
            /// a scan of the slots finds, gaps and a wrapped-around buffer
            /// included.
            #[test]
            fn find_agrees_with_a_scan(
                keys in proptest::collection::btree_set(0u128..64, 0..24),
                gaps in proptest::collection::vec(any::<bool>(), 24),
                popped in 0usize..8,
                probe in 0u128..70,
            ) {
                let app = ApplicationId::new(uuid::Uuid::from_u128(1));
                // Slots pushed and popped first move the start, so that
                // the keys wrap around the end of the buffer.
                let mut q = Queue {
                    kind: 0,
                    slots: VecDeque::with_capacity(keys.len().max(8)),
                };
                for _ in 0..popped {
                    q.slots.push_back(Slot { at_arrival: 0, application: None });
                }
                for _ in 0..popped {
                    q.slots.pop_front();
                }
                for (k, gap) in keys.iter().zip(&gaps) {
                    q.slots.push_back(Slot {
                        at_arrival: *k,
                        application: (!gap).then_some(app),
                    });
                }
                let want = q.slots.iter().position(|s| s.at_arrival == probe);
                prop_assert_eq!(q.find(probe), want);
            }

            /// The queues hold exactly what an ordered set would, in the same
            /// order, whatever order deadlines come and go in.
            #[test]
            fn behaves_as_an_ordered_set(ops in proptest::collection::vec(op(), 0..120)) {
                let base = chrono::TimeZone::with_ymd_and_hms(&Utc, 2020, 9, 1, 9, 0, 0).single().expect("date");
                let mut index = Deadlines::default();
                let mut model: BTreeSet<Deadline> = BTreeSet::new();
                for op in ops {
                    match op {
                        Op::Insert { day, arrival, kind: k } => {
                            let d = Deadline {
                                at: base + chrono::Duration::days(day),
                                arrival,
                                kind: kind(k),
                                application: ApplicationId::new(uuid::Uuid::from_u128(u128::from(arrival) + 1)),
                            };
                            prop_assert_eq!(index.insert(d), model.insert(d));
                        }
                        Op::Remove(i) => {
                            if let Some(d) = model.iter().nth(i % model.len().max(1)).copied() {
                                prop_assert!(index.contains(&d));
                                prop_assert_eq!(index.remove(&d), model.remove(&d));
                                prop_assert!(!index.contains(&d));
                                prop_assert!(!index.remove(&d));
                            }
                        }
                        Op::Due(day) => {
                            let now = base + chrono::Duration::days(day);
                            let due: Vec<_> = index.due(now).collect();
                            let want: Vec<_> = model.iter().take_while(|d| d.at <= now).copied().collect();
                            prop_assert_eq!(index.any_due(now), !want.is_empty());
                            prop_assert_eq!(due, want);
                        }
                    }
                    prop_assert_eq!(index.len(), model.len());
                    prop_assert_eq!(index.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
                }
                let rebuilt: Deadlines = model.iter().copied().collect();
                prop_assert_eq!(&rebuilt, &index);
            }
        }
    }
}
