//! The store conformance suite against the reference [`InMemoryStore`].
#![cfg(feature = "conformance")]

use grantflow_core::InMemoryStore;
use grantflow_core::conformance::{assert_conformance, memory_raw, run_all, run_all_with_reopen};

#[test]
fn in_memory_store_conforms() {
    let passed = assert_conformance(run_all(InMemoryStore::new, memory_raw));
    assert_eq!(passed, 11);
}

#[test]
fn in_memory_store_conforms_across_handles() {
    // A clone is another handle onto the same data: "reopening" keeps everything.
    let passed = assert_conformance(run_all_with_reopen(
        InMemoryStore::new,
        |store| store.clone(),
        memory_raw,
    ));
    assert_eq!(passed, 12);
}
