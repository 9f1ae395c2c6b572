//! Which commands a state has applied: [`CommandIndex`] maps each
//! [`CommandId`] to its [`CommandRecord`] (where its events sit in the
//! stream), so that a repeated command is answered instead of acting twice.
//!
//! The index grows by one entry per command for the life of a programme.
//! Entries are kept in the order their commands were first seen (an
//! [`IndexMap`]).

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use crate::messages::command::Origin;
use crate::messages::event::Event;
use crate::messages::ids::CommandId;

/// Where a command's events sit in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Version of its first event (1-based).
    pub first_version: u64,
    /// How many events it recorded.
    pub events: u32,
    /// What it asked and when it was recorded, read from its first event;
    /// `None` from a store that reports only where the events sit, or for
    /// events written before origins were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<(Origin, DateTime<Utc>)>,
}

impl CommandRecord {
    /// Where a command's events sit, without what it asked.
    pub fn located(first_version: u64, events: u32) -> CommandRecord {
        CommandRecord {
            first_version,
            events,
            origin: None,
        }
    }
}

/// The commands seen, each with its record, in the order first seen.
///
/// Equal to another when they hold the same commands with the same
/// records, in whatever order they were seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandIndex {
    entries: IndexMap<CommandId, CommandRecord, FxBuildHasher>,
}

impl CommandIndex {
    /// The record of this command, if it was seen.
    pub fn get(&self, id: &CommandId) -> Option<&CommandRecord> {
        self.entries.get(id)
    }

    /// Whether this command was seen.
    pub fn contains_key(&self, id: &CommandId) -> bool {
        self.entries.contains_key(id)
    }

    /// Records `id`, or replaces its record; returns the record replaced.
    pub(crate) fn insert(&mut self, id: CommandId, record: CommandRecord) -> Option<CommandRecord> {
        self.entries.insert(id, record)
    }

    /// Counts one more event of command `id`, whose first event is
    /// `version` if the command is new.
    pub(crate) fn record_event(&mut self, event: &Event, version: u64) {
        self.entries
            .entry(event.command)
            .or_insert(CommandRecord {
                first_version: version,
                events: 0,
                origin: event.origin.map(|o| (o, event.at)),
            })
            .events += 1;
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
        self.entries.iter()
    }

    /// Every command id, in the order first seen.
    pub fn keys(&self) -> impl Iterator<Item = &CommandId> {
        self.entries.keys()
    }

    /// Every record, in the order first seen.
    pub fn values(&self) -> impl Iterator<Item = &CommandRecord> {
        self.entries.values()
    }

    /// Forgets every command, keeping the capacity.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

impl FromIterator<(CommandId, CommandRecord)> for CommandIndex {
    fn from_iter<I: IntoIterator<Item = (CommandId, CommandRecord)>>(iter: I) -> Self {
        CommandIndex {
            entries: iter.into_iter().collect(),
        }
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
                    let event = Event::new(id, chrono::DateTime::UNIX_EPOCH, crate::messages::event::EventKind::PotToppedUp { amount: crate::Money::pounds(1), note: String::new() });
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
