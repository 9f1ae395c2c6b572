//! Testing your own programme: the rules a service runs, checked the way
//! grantflow checks its preset. Run with
//! `cargo run -p grantflow-testkit --example own_programme`.
//!
//! 1. Your rules: here the 2020 preset with a smaller pot, a contingency
//!    and a strict queue, as a regional programme might set them.
//! 2. Histories drawn for those rules, leaning on clawbacks and late
//!    submissions, each run beside the reference model and checked
//!    against the ledger's invariants after every command.
//! 3. The store conformance suite on the store the service uses (here the
//!    in-memory store; pass your own `fresh`, `reopen` and `another`).

use grantflow_core::{InMemoryStore, Money, Programme, WaitlistPolicy};
use grantflow_testkit::conformance::{assert_conformance, memory_raw, run_full_suite};
use grantflow_testkit::model::check_history;
use grantflow_testkit::strategies::{Weights, steps_weighted};
use proptest::test_runner::{Config, TestRunner};

fn our_programme() -> Programme {
    let mut p = Programme::healthcare_cyber_essentials_2020();
    p.id = "regional-ce-2020".into();
    p.name = "Regional Cyber Essentials support".into();
    p.pot.value = Money::pounds(12_000);
    p.allocation.contingency.value = Money::pounds(1_000);
    p.allocation.policy.value = WaitlistPolicy::Strict;
    p
}

fn main() {
    let programme = our_programme();
    if let Err(e) = programme.validate() {
        panic!("the rules do not validate: {e}");
    }

    let weights = Weights {
        clawback: 9,
        late: 6,
        ..Weights::default()
    };
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let counted = std::cell::Cell::new(0u64);
    runner
        .run(&steps_weighted(&programme, 8, 60, &weights), |steps| {
            let n = check_history(programme.clone(), &steps)?;
            counted.set(counted.get() + n);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("the core and the reference model disagree: {e}"));
    let commands = counted.get();
    println!("{commands} commands over 200 histories agreed with the reference model");

    let passed = assert_conformance(run_full_suite(
        InMemoryStore::new,
        |store| store,
        |store| store.clone(),
        memory_raw,
    ));
    println!("the store passed all {passed} conformance checks");
}
