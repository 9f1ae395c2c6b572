//! [`References`]: the reference each application was submitted under,
//! kept beside the engines, so that exports name applications as their
//! applicants did (the core knows them by id only).

use std::collections::HashMap;

use grantflow_core::{ApplicationId, ProgrammeId, StoreError};

/// Where the server keeps the references applications were submitted under.
pub trait References: Send {
    /// Remembers that `id` was submitted as `reference` (a pair kept
    /// already is kept). Called before the submission runs: an id derived
    /// from a reference is always that reference's id.
    fn remember(
        &mut self,
        programme: &ProgrammeId,
        id: ApplicationId,
        reference: &str,
    ) -> Result<(), StoreError>;

    /// Every reference of `programme`, by application id.
    fn all(
        &mut self,
        programme: &ProgrammeId,
    ) -> Result<HashMap<ApplicationId, String>, StoreError>;
}

/// References in memory: lost when the server stops (exports then name
/// applications by id). The CLI's `serve` keeps them in the database.
#[derive(Debug, Default)]
pub struct MemoryReferences {
    by_programme: HashMap<ProgrammeId, HashMap<ApplicationId, String>>,
}

impl References for MemoryReferences {
    fn remember(
        &mut self,
        programme: &ProgrammeId,
        id: ApplicationId,
        reference: &str,
    ) -> Result<(), StoreError> {
        self.by_programme
            .entry(programme.clone())
            .or_default()
            .entry(id)
            .or_insert_with(|| reference.to_string());
        Ok(())
    }

    fn all(
        &mut self,
        programme: &ProgrammeId,
    ) -> Result<HashMap<ApplicationId, String>, StoreError> {
        Ok(self
            .by_programme
            .get(programme)
            .cloned()
            .unwrap_or_default())
    }
}
