//! [`IdTable`]: the hash index behind [`Applications`](crate::applications::Applications),
//! [`CommandIndex`](crate::CommandIndex) and [`Invoices`](crate::Invoices).
//! It maps a key (a UUID or a text) to a position in a list its owner keeps,
//! and stores nothing but that position and a few bits of the key's hash.
//!
//! Each slot is one `u64`: the position plus one in the low 40 bits (zero
//! means empty) and 24 bits of the hash above them. Lookups probe linearly
//! from the slot the hash picks, so a lookup or insert touches one cache
//! line of the table in the common case, and a full key comparison happens
//! only when those 24 bits match. The table never holds the keys themselves;
//! the owner's list does, in insertion order, so growing that list writes
//! memory front to back.
//!
//! The hash is a fixed mix of the id's bits (no per-process seed, because
//! the core has no randomness). Ids chosen to collide would make probes
//! long; ids from UUID v4/v5/v7 generators, or counted up one by one, do not.

use std::hash::Hasher;

use uuid::Uuid;

/// Low bits of a slot: the position plus one.
const POSITION_BITS: u32 = 40;
const POSITION_MASK: u64 = (1 << POSITION_BITS) - 1;
/// The most entries a table indexes (positions `0..MAX_ENTRIES`).
pub(crate) const MAX_ENTRIES: usize = (1 << POSITION_BITS) - 2;

/// The hash of an id: all 128 bits folded and mixed, so that ids which
/// differ in any bit, including ids counted up one by one, spread evenly.
#[inline]
pub(crate) fn hash(id: &Uuid) -> u64 {
    let (hi, lo) = id.as_u64_pair();
    mix(lo ^ hi.rotate_left(32).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The hash of a text, such as a supplier's invoice reference.
#[inline]
pub(crate) fn hash_text(text: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(text.as_bytes());
    mix(h.finish() ^ text.len() as u64)
}

/// Spreads every input bit over the whole word (the 64-bit finaliser
/// popularised by MurmurHash3), so that the high bits, which pick the
/// slot, depend on all of them.
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The tag bits of a hash, placed where a slot keeps them.
#[inline]
fn tag(h: u64) -> u64 {
    h & !POSITION_MASK
}

/// An open-addressing index of positions, keyed by id hashes.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdTable {
    /// Empty or a power of two long.
    slots: Vec<u64>,
    /// `64 - log2(slots.len())`: the hash's high bits pick the first slot.
    shift: u32,
    len: usize,
}

impl IdTable {
    /// How many positions are indexed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first slot to probe for hash `h` (the table is not empty).
    #[inline]
    fn start(&self, h: u64) -> usize {
        (h >> self.shift) as usize
    }

    /// The position whose id has hash `h` and for which `is_it` (given a
    /// position) confirms the full id.
    #[inline]
    pub(crate) fn find(&self, h: u64, mut is_it: impl FnMut(usize) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let want = tag(h);
        let mut i = self.start(h);
        // The table is at most three quarters full, so an empty slot ends
        // every probe; the bound is a second guard.
        for _ in 0..self.slots.len() {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            if slot & !POSITION_MASK == want {
                let position = (slot & POSITION_MASK) as usize - 1;
                if is_it(position) {
                    return Some(position);
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Indexes `position` under hash `h`. The caller has checked that no
    /// position holds the same id, and that `position < MAX_ENTRIES`.
    /// `hash_of` gives the hash of an indexed position, for growing.
    #[inline]
    pub(crate) fn insert(&mut self, h: u64, position: usize, hash_of: impl Fn(usize) -> u64) {
        debug_assert!(position < MAX_ENTRIES);
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow_to(self.len + 1, &hash_of);
        }
        self.place(h, position);
        self.len += 1;
    }

    fn place(&mut self, h: u64, position: usize) {
        let mask = self.slots.len() - 1;
        let mut i = self.start(h);
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = tag(h) | (position as u64 + 1);
    }

    /// Makes room for `additional` more positions without growing again.
    pub(crate) fn reserve(&mut self, additional: usize, hash_of: impl Fn(usize) -> u64) {
        let want = self.len.saturating_add(additional);
        if want.saturating_mul(4) > self.slots.len().saturating_mul(3) {
            self.grow_to(want, &hash_of);
        }
    }

    /// Rebuilds the slots for at least `entries` positions (the positions
    /// indexed now are `0..len`).
    fn grow_to(&mut self, entries: usize, hash_of: &impl Fn(usize) -> u64) {
        let capacity = entries
            .saturating_mul(4)
            .div_ceil(3)
            .max(16)
            .checked_next_power_of_two()
            .unwrap_or(1 << (usize::BITS - 1));
        // A fresh zeroed allocation: large ones come straight from the
        // operating system's zero pages instead of being written here.
        self.slots = vec![0; capacity];
        self.shift = 64 - capacity.trailing_zeros();
        for position in 0..self.len {
            self.place(hash_of(position), position);
        }
    }

    /// Forgets every position, keeping the capacity.
    pub(crate) fn clear(&mut self) {
        self.slots.fill(0);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn ids(raw: &[u128]) -> Vec<Uuid> {
        raw.iter().map(|r| Uuid::from_u128(*r)).collect()
    }

    proptest! {
        /// The table finds exactly the ids a plain map holds, whatever their
        /// pattern (random, counted, or sharing all but a few bits).
        #[test]
        fn agrees_with_a_map(
            raw in prop::collection::vec(
                prop_oneof![any::<u128>(), 0u128..64, (0u128..64).prop_map(|x| x << 100)],
                0..300,
            ),
            probes in prop::collection::vec(any::<u128>(), 0..50),
            reserve_first in any::<bool>(),
        ) {
            let mut list: Vec<Uuid> = Vec::new();
            let mut table = IdTable::default();
            let mut model: HashMap<Uuid, usize> = HashMap::new();
            if reserve_first {
                let all = ids(&raw);
                table.reserve(all.len(), |p| hash(&all[p]));
            }
            for id in ids(&raw) {
                let h = hash(&id);
                let found = table.find(h, |p| list[p] == id);
                prop_assert_eq!(found, model.get(&id).copied());
                if found.is_none() {
                    let position = list.len();
                    list.push(id);
                    let snapshot = list.clone();
                    table.insert(h, position, |p| hash(&snapshot[p]));
                    model.insert(id, position);
                }
            }
            prop_assert_eq!(table.len(), model.len());
            for id in ids(&probes).into_iter().chain(list.iter().copied()) {
                prop_assert_eq!(table.find(hash(&id), |p| list[p] == id), model.get(&id).copied());
            }
            table.clear();
            prop_assert_eq!(table.len(), 0);
            for id in &list {
                prop_assert_eq!(table.find(hash(id), |p| list[p] == *id), None);
            }
        }
    }

    /// Slots a lookup of hash `h` scans before it meets an empty one.
    fn scan_length(table: &IdTable, h: u64) -> usize {
        let mask = table.slots.len() - 1;
        let mut i = table.start(h);
        let mut n = 0;
        while table.slots[i] != 0 {
            n += 1;
            i = (i + 1) & mask;
        }
        n
    }

    #[test]
    fn counted_ids_spread_over_the_table() {
        // Ids counted up one by one must not pile into one run of slots:
        // a lookup of a new id would then scan the whole run.
        let list: Vec<Uuid> = (0..10_000u128).map(Uuid::from_u128).collect();
        let mut table = IdTable::default();
        for (p, id) in list.iter().enumerate() {
            table.insert(hash(id), p, |q| hash(&list[q]));
        }
        let new_ids =
            (1..=2_000u128).map(|k| Uuid::from_u128(k.wrapping_mul(0x2545_f491_4f6c_dd1d) << 17));
        let scanned: usize = new_ids.map(|id| scan_length(&table, hash(&id))).sum();
        let mean = scanned as f64 / 2_000.0;
        // Linear probing at this load (10,000 of 16,384 slots) expects about
        // 3.8 slots per missed lookup with a well-spread hash.
        assert!(mean < 8.0, "a new id scans {mean:.1} slots on average");
    }
}
