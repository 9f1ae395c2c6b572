//! Supplier invoice references already claimed: [`Invoices`] maps each
//! reference to the [`ApplicationId`] it was paid against, so that the same
//! invoice is never paid twice.
//!
//! References that differ only in letter case or in surrounding white space
//! (`INV-1`, `inv-1`, `" INV-1 "`) are the same invoice: the index is keyed
//! on the reference trimmed and lower-cased, and keeps the reference as
//! first claimed for display. References are kept in the order claimed (an
//! [`IndexMap`]).

use std::fmt;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::messages::ids::ApplicationId;

/// The key an invoice reference is filed under: trimmed and lower-cased.
fn normalised(reference: &str) -> String {
    reference.trim().to_lowercase()
}

/// Claimed invoice references, each with the application it was paid against.
///
/// Equal to another when they hold the same references against the same
/// applications, in whatever order they were claimed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Invoices {
    /// By normalised reference: the reference as given, and its application.
    entries: IndexMap<String, (Box<str>, ApplicationId), FxBuildHasher>,
}

impl Invoices {
    /// The application this reference (or one differing only in case or
    /// surrounding white space) was paid against, if it was claimed.
    pub fn get(&self, reference: &str) -> Option<&ApplicationId> {
        self.entries.get(&normalised(reference)).map(|(_, app)| app)
    }

    /// Whether this reference, or one differing only in case or
    /// surrounding white space, was claimed.
    pub fn contains_key(&self, reference: &str) -> bool {
        self.entries.contains_key(&normalised(reference))
    }

    /// Records `reference` against `application`, or moves it there (keeping
    /// the reference as first given); returns the application it was
    /// recorded against before.
    pub(crate) fn insert(
        &mut self,
        reference: &str,
        application: ApplicationId,
    ) -> Option<ApplicationId> {
        match self.entries.entry(normalised(reference)) {
            indexmap::map::Entry::Occupied(mut e) => {
                Some(std::mem::replace(&mut e.get_mut().1, application))
            }
            indexmap::map::Entry::Vacant(e) => {
                e.insert((reference.into(), application));
                None
            }
        }
    }

    /// How many references were claimed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every reference (as first given) with its application, in the order claimed.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ApplicationId)> {
        self.entries.values().map(|(r, a)| (&**r, a))
    }

    /// Forgets every reference, keeping the capacity.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

impl fmt::Debug for Invoices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Written as a map from reference (as given) to application id, in the order claimed.
impl Serialize for Invoices {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// Refuses a reference written twice. Two spellings of one reference (from
/// a stream recorded before references were normalised) read as replaying
/// their claims does: one entry, against the later application.
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
                let mut seen = std::collections::HashSet::new();
                while let Some((reference, application)) =
                    map.next_entry::<String, ApplicationId>()?
                {
                    out.insert(&reference, application);
                    if !seen.insert(reference.clone()) {
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
    use uuid::Uuid;

    fn app(n: u128) -> ApplicationId {
        ApplicationId::new(Uuid::from_u128(n))
    }

    #[test]
    fn references_differing_in_case_or_white_space_are_one_invoice() {
        let mut refs = Invoices::default();
        assert_eq!(refs.insert("INV-1", app(1)), None);
        for same in ["INV-1", "inv-1", " INV-1 ", "inv-1 ", "\tInv-1\n"] {
            assert!(refs.contains_key(same), "{same:?}");
            assert_eq!(refs.get(same), Some(&app(1)), "{same:?}");
        }
        assert!(!refs.contains_key("INV-12"));
        assert_eq!(refs.insert(" inv-1", app(2)), Some(app(1)));
        assert_eq!(refs.len(), 1);
        // Displayed as first given.
        assert_eq!(refs.iter().collect::<Vec<_>>(), [("INV-1", &app(2))]);
    }

    #[test]
    fn the_json_form_round_trips_in_claim_order() {
        let mut refs = Invoices::default();
        refs.insert("B-2", app(2));
        refs.insert("a-1", app(1));
        let json = serde_json::to_string(&refs).expect("encodes");
        assert_eq!(
            json,
            format!(r#"{{"B-2":"{}","a-1":"{}"}}"#, app(2).0, app(1).0)
        );
        let back: Invoices = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, refs);
        assert!(back.contains_key("A-1 "));
    }

    #[test]
    fn a_repeated_reference_in_a_snapshot_is_refused() {
        let id = Uuid::from_u128(1);
        let json = format!(r#"{{"A-1":"{id}","A-1":"{id}"}}"#);
        let err = serde_json::from_str::<Invoices>(&json).expect_err("refused");
        assert!(err.to_string().contains("appears twice"), "{err}");
        // Two spellings (claimed before references were normalised) are one.
        let json = format!(r#"{{"A-1":"{id}","a-1":"{}"}}"#, app(2).0);
        let refs = serde_json::from_str::<Invoices>(&json).expect("decodes");
        assert_eq!(refs.get("A-1"), Some(&app(2)));
    }
}
