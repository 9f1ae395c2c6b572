//! Given/when/then: an invoice is paid once, however its reference is
//! written. References that differ only in letter case or surrounding
//! white space name the same invoice.

use grantflow_core::EngineError;
use grantflow_core::{
    Action, Command, Engine, InMemoryStore, Item, Milestone, Money, ProgrammeId, RejectionCode,
};
use grantflow_testkit::conformance::fixtures::{self, day};

const TAG: &str = "invoice-refs";

fn claim(name: &str, invoice_ref: &str) -> Command {
    fixtures::command(
        &format!("{TAG}/claim/{name}"),
        Action::Claim {
            application: fixtures::application(TAG, 1),
            item: Item::CertificationFee,
            invoice_ref: invoice_ref.into(),
            amount: Money::pounds(100),
        },
    )
}

/// Given an open programme with one certified application.
fn certified() -> Engine<InMemoryStore> {
    let mut engine =
        Engine::open(InMemoryStore::new(), ProgrammeId::new(TAG)).expect("engine opens");
    let mut run = |command: &Command| {
        engine.execute(command, day(1)).expect("accepted");
    };
    run(&fixtures::open(TAG, fixtures::programme(100_000)));
    run(&fixtures::submit(TAG, 1));
    run(&fixtures::accept(TAG, 1));
    for milestone in [
        Milestone::ConsultancyEngaged,
        Milestone::SelfAssessmentSubmitted,
        Milestone::AssessmentPassed,
    ] {
        run(&fixtures::command(
            &format!("{TAG}/{milestone:?}"),
            Action::Milestone {
                application: fixtures::application(TAG, 1),
                milestone,
            },
        ));
    }
    engine
}

#[test]
fn a_reference_in_another_case_or_with_spaces_is_a_duplicate_invoice() {
    let mut engine = certified();
    // When INV-1 is claimed, it is paid.
    engine
        .execute(&claim("first", "INV-1"), day(2))
        .expect("the first claim is paid");
    let pot = *engine.state().pot();
    assert_eq!(pot.paid(), Money::pounds(100));
    // Then the same invoice in lower case, or with spaces around it, is refused.
    for (name, again) in [("lower", "inv-1"), ("spaced", " INV-1 ")] {
        match engine.execute(&claim(name, again), day(3)) {
            Err(EngineError::Rejected(r)) => {
                assert_eq!(r.code, RejectionCode::DuplicateInvoice, "{again:?}: {r:?}");
                assert_eq!(r.code.as_str(), "duplicate_invoice");
            }
            other => panic!("{again:?} gave {other:?}"),
        }
        // And the pot is unchanged.
        assert_eq!(*engine.state().pot(), pot, "{again:?}");
    }
    // The reference is kept as first given.
    let refs: Vec<&str> = engine.state().invoices().iter().map(|(r, _)| r).collect();
    assert_eq!(refs, ["INV-1"]);
    assert!(engine.state().invoices().contains_key("inv-1 "));
}
