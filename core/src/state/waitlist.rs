//! The [`Waitlist`]: eligible applications that did not fit the pot when
//! they arrived, in arrival order, with a count per award amount so the
//! allocator knows when nothing waiting can fit.

use std::collections::BTreeMap;

use crate::ledger::money::Money;
use crate::messages::ids::ApplicationId;

/// Waitlisted applications by arrival.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Waitlist {
    by_arrival: BTreeMap<u64, ApplicationId>,
    awards: BTreeMap<Money, u32>,
}

impl Waitlist {
    /// How many applications wait.
    pub fn len(&self) -> usize {
        self.by_arrival.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.by_arrival.is_empty()
    }

    /// The waiting applications' arrival numbers and ids, first come first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, ApplicationId)> + '_ {
        self.by_arrival.iter().map(|(a, id)| (*a, *id))
    }

    /// Whether this arrival waits under this id.
    pub fn holds(&self, arrival: u64, id: ApplicationId) -> bool {
        self.by_arrival.get(&arrival) == Some(&id)
    }

    /// The smallest award anyone waiting asks for.
    pub fn smallest_award(&self) -> Option<Money> {
        self.awards.keys().next().copied()
    }

    /// How many wait for each award amount.
    pub(crate) fn awards(&self) -> &BTreeMap<Money, u32> {
        &self.awards
    }

    pub(crate) fn join(&mut self, arrival: u64, id: ApplicationId, award: Money) {
        if self.by_arrival.insert(arrival, id).is_none() {
            *self.awards.entry(award).or_default() += 1;
        }
    }

    /// Takes the arrival off the list; returns whether it was on it.
    pub(crate) fn leave(&mut self, arrival: u64, award: Money) -> bool {
        if self.by_arrival.remove(&arrival).is_none() {
            return false;
        }
        if let Some(n) = self.awards.get_mut(&award) {
            *n -= 1;
            if *n == 0 {
                self.awards.remove(&award);
            }
        }
        true
    }

    pub(crate) fn clear(&mut self) {
        self.by_arrival.clear();
        self.awards.clear();
    }
}
