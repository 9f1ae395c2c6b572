//! Supplier invoice references already claimed: [`Invoices`] maps each
//! reference to the [`ApplicationId`] it was paid against, so that the same
//! invoice is never paid twice.
//!
//! References are kept in the order they were claimed, with an
//! `IdTable` of positions to find them; a new reference's
//! lookup reads one slot and compares texts only when 24 bits of their
//! hashes match.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id_table::{self, IdTable, MAX_ENTRIES};
use crate::ids::ApplicationId;

/// Claimed invoice references, each with the application it was paid against.
#[derive(Clone, Default)]
pub struct Invoices {
    entries: Vec<(Box<str>, ApplicationId)>,
    table: IdTable,
}

impl Invoices {
    #[inline]
    fn position(&self, reference: &str) -> Option<usize> {
        let entries = &self.entries;
        self.table.find(id_table::hash_text(reference), |p| {
            &*entries[p].0 == reference
        })
    }

    /// The application this reference was paid against, if it was claimed.
    pub fn get(&self, reference: &str) -> Option<&ApplicationId> {
        self.position(reference).map(|p| &self.entries[p].1)
    }

    /// Whether this reference was claimed.
    pub fn contains_key(&self, reference: &str) -> bool {
        self.position(reference).is_some()
    }

    /// Records `reference` against `application`, or moves it there; returns
    /// the application it was recorded against before.
    ///
    /// # Panics
    /// When 2^40 − 2 references are held already.
    pub fn insert(&mut self, reference: &str, application: ApplicationId) -> Option<ApplicationId> {
        // One hash for the lookup and the indexing.
        let h = id_table::hash_text(reference);
        let entries = &self.entries;
        if let Some(p) = self.table.find(h, |p| &*entries[p].0 == reference) {
            return Some(std::mem::replace(&mut self.entries[p].1, application));
        }
        let position = self.entries.len();
        assert!(position < MAX_ENTRIES, "invoice index full");
        self.entries.push((reference.into(), application));
        let entries = &self.entries;
        self.table
            .insert(h, position, |p| id_table::hash_text(&entries[p].0));
        None
    }

    /// How many references were claimed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every reference with its application, in the order claimed.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ApplicationId)> {
        self.entries.iter().map(|(r, a)| (&**r, a))
    }

    /// Forgets every reference, keeping the capacity.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.table.clear();
    }
}

/// Equal when they hold the same references against the same applications,
/// in whatever order they were claimed.
impl PartialEq for Invoices {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(r, a)| other.get(r) == Some(a))
    }
}

impl Eq for Invoices {}

impl fmt::Debug for Invoices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Written as a map from reference to application id, in the order claimed.
impl Serialize for Invoices {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Invoices {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Refs;
        impl<'de> Visitor<'de> for Refs {
            type Value = Invoices;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from invoice reference to application id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Invoices, A::Error> {
                let mut out = Invoices::default();
                while let Some((reference, application)) =
                    map.next_entry::<String, ApplicationId>()?
                {
                    if out.insert(&reference, application).is_some() {
                        return Err(serde::de::Error::custom(format!(
                            "invoice reference {reference:?} appears twice"
                        )));
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(Refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use uuid::Uuid;

    proptest! {
        /// Inserting and finding references agrees with a plain map, and the
        /// JSON form round-trips.
        #[test]
        fn agrees_with_a_map(
            steps in prop::collection::vec(("[A-C]{0,3}", 0u128..5), 0..200),
        ) {
            let mut refs = Invoices::default();
            let mut model: HashMap<String, ApplicationId> = HashMap::new();
            for (reference, app) in steps {
                let app = ApplicationId::new(Uuid::from_u128(app));
                prop_assert_eq!(refs.insert(&reference, app), model.insert(reference.clone(), app));
                prop_assert_eq!(refs.len(), model.len());
            }
            for (reference, app) in &model {
                prop_assert_eq!(refs.get(reference), Some(app));
            }
            prop_assert!(!refs.contains_key("not claimed"));
            let json = serde_json::to_string(&refs).expect("encodes");
            let back: Invoices = serde_json::from_str(&json).expect("decodes");
            prop_assert_eq!(back, refs);
        }
    }

    #[test]
    fn a_repeated_reference_in_a_snapshot_is_refused() {
        let id = Uuid::from_u128(1);
        let json = format!(r#"{{"A-1":"{id}","A-1":"{id}"}}"#);
        let err = serde_json::from_str::<Invoices>(&json).expect_err("refused");
        assert!(err.to_string().contains("appears twice"), "{err}");
    }
}
