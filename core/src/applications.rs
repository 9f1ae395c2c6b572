//! Where the state keeps its applications: [`Applications`] stores each
//! [`Application`] in arrival order, with a small hash index from
//! [`ApplicationId`] to its position (an `IdTable`, eight
//! bytes per application).
//!
//! Applications move through their lifecycle roughly in arrival order, so
//! neighbouring commands touch neighbouring entries; the hash index holds
//! only an id and a position per application, which keeps it small enough
//! to stay mostly in cache while the applications themselves grow.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id_table::{self, IdTable, MAX_ENTRIES};
use crate::ids::ApplicationId;
use crate::state::Application;

/// Every application of a programme, in arrival order.
#[derive(Clone, Default)]
pub struct Applications {
    by_arrival: Vec<Application>,
    index: IdTable,
}

fn hash(id: &ApplicationId) -> u64 {
    id_table::hash(&id.0)
}

impl Applications {
    /// The application with this id.
    pub fn get(&self, id: &ApplicationId) -> Option<&Application> {
        self.position(id).map(|i| &self.by_arrival[i])
    }

    #[inline]
    fn position(&self, id: &ApplicationId) -> Option<usize> {
        let all = &self.by_arrival;
        self.index.find(hash(id), |i| all[i].id == *id)
    }

    /// The application with this id, to change.
    pub fn get_mut(&mut self, id: &ApplicationId) -> Option<&mut Application> {
        self.position(id).map(|i| &mut self.by_arrival[i])
    }

    /// The application that arrived `arrival`-th (0-based).
    pub fn by_arrival(&self, arrival: u64) -> Option<&Application> {
        usize::try_from(arrival)
            .ok()
            .and_then(|i| self.by_arrival.get(i))
    }

    /// Whether an application has this id.
    pub fn contains_key(&self, id: &ApplicationId) -> bool {
        self.position(id).is_some()
    }

    /// How many applications arrived.
    pub fn len(&self) -> usize {
        self.by_arrival.len()
    }

    /// Whether none arrived.
    pub fn is_empty(&self) -> bool {
        self.by_arrival.is_empty()
    }

    /// Every application, in arrival order.
    pub fn values(&self) -> std::slice::Iter<'_, Application> {
        self.by_arrival.iter()
    }

    /// Every application with its id, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&ApplicationId, &Application)> {
        self.by_arrival.iter().map(|a| (&a.id, a))
    }

    /// Makes room for `additional` more applications.
    pub fn reserve(&mut self, additional: usize) {
        self.by_arrival.reserve(additional);
        let all = &self.by_arrival;
        self.index.reserve(additional, |i| hash(&all[i].id));
    }

    /// Removes every application, keeping the capacity.
    pub fn clear(&mut self) {
        self.by_arrival.clear();
        self.index.clear();
    }

    /// Adds the next arrival. Refused with the application's id (and nothing
    /// changes) if the id is taken or `app.arrival` is not the next arrival number.
    pub(crate) fn push(&mut self, app: Application) -> Result<(), ApplicationId> {
        let next = self.by_arrival.len();
        // One hash for the check and the indexing.
        let h = hash(&app.id);
        let all = &self.by_arrival;
        if next >= MAX_ENTRIES
            || self.index.find(h, |i| all[i].id == app.id).is_some()
            || usize::try_from(app.arrival) != Ok(next)
        {
            return Err(app.id);
        }
        self.by_arrival.push(app);
        let all = &self.by_arrival;
        self.index.insert(h, next, |i| hash(&all[i].id));
        Ok(())
    }
}

impl PartialEq for Applications {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived from the list.
        self.by_arrival == other.by_arrival
    }
}

impl Eq for Applications {}

impl fmt::Debug for Applications {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Written as a map from id to application, in arrival order.
impl Serialize for Applications {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Applications {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Apps;
        impl<'de> Visitor<'de> for Apps {
            type Value = Applications;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from application id to application")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Applications, A::Error> {
                let mut all: Vec<Application> = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((id, app)) = map.next_entry::<ApplicationId, Application>()? {
                    if id != app.id {
                        return Err(serde::de::Error::custom(format!(
                            "application {} is filed under id {id}",
                            app.id
                        )));
                    }
                    all.push(app);
                }
                all.sort_by_key(|a| a.arrival);
                let mut out = Applications::default();
                out.reserve(all.len());
                for app in all {
                    let (id, arrival) = (app.id, app.arrival);
                    out.push(app).map_err(|_| {
                        serde::de::Error::custom(format!(
                            "application {id} has arrival {arrival}, which is taken or leaves a gap"
                        ))
                    })?;
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(Apps)
    }
}
