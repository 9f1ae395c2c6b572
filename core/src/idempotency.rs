//! Which commands a state has applied: [`CommandIndex`] maps each
//! [`CommandId`] to its [`CommandRecord`] (where its events sit in the
//! stream), so that a repeated command is answered instead of acting twice.
//!
//! The index grows by one entry per command for the life of a programme,
//! which makes it the largest structure in a long-running [`State`](crate::State).
//! Entries are kept in the order their commands were first seen, and an
//! `IdTable` of positions finds them: recording a command
//! appends to the list and writes one table slot, and a new id's lookup
//! reads one slot's cache line.

use std::fmt;

use crate::event::Event;
use crate::id_table::{self, IdTable, MAX_ENTRIES};
use crate::ids::CommandId;
use crate::state::CommandRecord;

/// The commands seen, each with its record, in the order first seen.
#[derive(Clone, Default)]
pub struct CommandIndex {
    entries: Vec<(CommandId, CommandRecord)>,
    table: IdTable,
}

fn hash(id: &CommandId) -> u64 {
    id_table::hash(&id.0)
}

impl CommandIndex {
    #[inline]
    fn position(&self, id: &CommandId) -> Option<usize> {
        let entries = &self.entries;
        self.table.find(hash(id), |p| entries[p].0 == *id)
    }

    /// The record of this command, if it was seen.
    pub fn get(&self, id: &CommandId) -> Option<&CommandRecord> {
        self.position(id).map(|p| &self.entries[p].1)
    }

    /// Whether this command was seen.
    pub fn contains_key(&self, id: &CommandId) -> bool {
        self.position(id).is_some()
    }

    /// Records `id`, or replaces its record; returns the record replaced.
    ///
    /// # Panics
    /// When the index already holds 2^40 − 2 commands (a bound no stream
    /// of events this side of a petabyte reaches).
    pub fn insert(&mut self, id: CommandId, record: CommandRecord) -> Option<CommandRecord> {
        if let Some(p) = self.position(&id) {
            return Some(std::mem::replace(&mut self.entries[p].1, record));
        }
        self.push(id, record);
        None
    }

    fn push(&mut self, id: CommandId, record: CommandRecord) {
        let position = self.entries.len();
        assert!(position < MAX_ENTRIES, "command index full");
        self.entries.push((id, record));
        let entries = &self.entries;
        self.table
            .insert(hash(&id), position, |p| hash(&entries[p].0));
    }

    /// Counts one more event of command `id`, whose first event is
    /// `version` if the command is new. The events of one command come
    /// one after another, so its second and later events find it at the
    /// end of the list without a lookup.
    #[inline]
    pub(crate) fn record_event(&mut self, event: &Event, version: u64) {
        let id = event.command;
        if let Some((last, record)) = self.entries.last_mut()
            && *last == id
        {
            record.events += 1;
            return;
        }
        match self.position(&id) {
            Some(p) => self.entries[p].1.events += 1,
            None => self.push(
                id,
                CommandRecord {
                    first_version: version,
                    events: 1,
                    origin: event.origin.map(|o| (o, event.at)),
                },
            ),
        }
    }

    /// How many commands were seen.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every command with its record, in the order first seen.
    pub fn iter(&self) -> impl Iterator<Item = (&CommandId, &CommandRecord)> {
        self.entries.iter().map(|(id, r)| (id, r))
    }

    /// Every command id, in the order first seen.
    pub fn keys(&self) -> impl Iterator<Item = &CommandId> {
        self.entries.iter().map(|(id, _)| id)
    }

    /// Every record, in the order first seen.
    pub fn values(&self) -> impl Iterator<Item = &CommandRecord> {
        self.entries.iter().map(|(_, r)| r)
    }

    /// Makes room for `additional` more commands.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        let entries = &self.entries;
        self.table.reserve(additional, |p| hash(&entries[p].0));
    }

    /// Forgets every command, keeping the capacity.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.table.clear();
    }
}

/// Equal when they hold the same commands with the same records, in
/// whatever order they were seen.
impl PartialEq for CommandIndex {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(id, r)| other.get(id) == Some(r))
    }
}

impl Eq for CommandIndex {}

impl fmt::Debug for CommandIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FromIterator<(CommandId, CommandRecord)> for CommandIndex {
    fn from_iter<I: IntoIterator<Item = (CommandId, CommandRecord)>>(iter: I) -> Self {
        let mut index = CommandIndex::default();
        for (id, record) in iter {
            index.insert(id, record);
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use uuid::Uuid;

    proptest! {
        /// Recording events and inserting records agree with a plain map.
        #[test]
        fn agrees_with_a_map(
            steps in prop::collection::vec((0u128..40, any::<bool>(), 1u64..1000), 0..400),
        ) {
            let mut index = CommandIndex::default();
            let mut model: HashMap<CommandId, CommandRecord> = HashMap::new();
            for (raw, is_event, version) in steps {
                let id = CommandId::new(Uuid::from_u128(raw));
                if is_event {
                    let event = Event::new(id, chrono::DateTime::UNIX_EPOCH, crate::event::EventKind::PotToppedUp { amount: crate::Money::pounds(1), note: String::new() });
                    index.record_event(&event, version);
                    model
                        .entry(id)
                        .or_insert(CommandRecord::located(version, 0))
                        .events += 1;
                } else {
                    let record = CommandRecord::located(version, 2);
                    prop_assert_eq!(index.insert(id, record), model.insert(id, record));
                }
                prop_assert_eq!(index.len(), model.len());
            }
            for raw in 0u128..40 {
                let id = CommandId::new(Uuid::from_u128(raw));
                prop_assert_eq!(index.get(&id), model.get(&id));
            }
            let rebuilt: CommandIndex = model.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(&rebuilt, &index);
        }
    }
}
