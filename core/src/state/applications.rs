//! Where the state keeps its applications: [`Applications`] maps each
//! [`ApplicationId`] to its [`Application`], in arrival order (an
//! [`IndexMap`], so an application's arrival number is also its index).

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::messages::ids::ApplicationId;
use crate::state::Application;

/// Every application of a programme, in arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applications {
    by_id: IndexMap<ApplicationId, Application, FxBuildHasher>,
}

impl Applications {
    /// The application with this id.
    pub fn get(&self, id: &ApplicationId) -> Option<&Application> {
        self.by_id.get(id)
    }

    /// The application with this id, to change.
    pub(crate) fn get_mut(&mut self, id: &ApplicationId) -> Option<&mut Application> {
        self.by_id.get_mut(id)
    }

    /// The application that arrived `arrival`-th (0-based).
    pub fn by_arrival(&self, arrival: u64) -> Option<&Application> {
        let index = usize::try_from(arrival).ok()?;
        self.by_id.get_index(index).map(|(_, app)| app)
    }

    /// Whether an application has this id.
    pub fn contains_key(&self, id: &ApplicationId) -> bool {
        self.by_id.contains_key(id)
    }

    /// How many applications arrived.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether none arrived.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every application, in arrival order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Application> + ExactSizeIterator {
        self.by_id.values()
    }

    /// Every application with its id, in arrival order.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&ApplicationId, &Application)> + ExactSizeIterator {
        self.by_id.iter()
    }

    /// Makes room for `additional` more applications.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.by_id.reserve(additional);
    }

    /// Removes every application, keeping the capacity.
    pub(crate) fn clear(&mut self) {
        self.by_id.clear();
    }

    /// Adds the next arrival. Refused with the application's id (and nothing
    /// changes) if the id is taken or `app.arrival` is not the next arrival number.
    pub(crate) fn push(&mut self, app: Application) -> Result<(), ApplicationId> {
        if self.by_id.contains_key(&app.id) || usize::try_from(app.arrival) != Ok(self.len()) {
            return Err(app.id);
        }
        self.by_id.insert(app.id, app);
        Ok(())
    }
}

/// Written as a map from id to application, in arrival order.
impl Serialize for Applications {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.by_id.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Applications {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let read =
            IndexMap::<ApplicationId, Application, FxBuildHasher>::deserialize(deserializer)?;
        let mut all = Vec::with_capacity(read.len());
        for (id, app) in read {
            if id != app.id {
                return Err(D::Error::custom(format!(
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
                D::Error::custom(format!(
                    "application {id} has arrival {arrival}, which is taken or leaves a gap"
                ))
            })?;
        }
        Ok(out)
    }
}
