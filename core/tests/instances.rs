//! Two engines over one store, as two service instances: a stale instance
//! neither refuses what the stream allows nor applies a command twice.

mod common;

use common::*;
use grantflow_core::*;
use std::sync::Arc;

fn open_two() -> (Engine<InMemoryStore>, Engine<InMemoryStore>) {
    let store = InMemoryStore::new();
    let p = small_programme(3_000);
    let id = ProgrammeId::new(&p.id);
    let mut a = Engine::open(store.clone(), id.clone()).expect("opens");
    a.execute(
        &Command::new(
            CommandId::from_name("open"),
            Action::Open {
                programme: Box::new(p),
            },
        ),
        start(),
    )
    .expect("open");
    let b = Engine::open(store, id).expect("opens");
    (a, b)
}

fn submit(n: u32) -> Command {
    Command::new(
        CommandId::from_name(&format!("submit-{n}")),
        Action::Submit {
            application: app(n),
            applicant: Arc::new(applicant(n, "medical-supplier")),
            request: basic_request(),
        },
    )
}

#[test]
fn a_stale_instance_sees_what_another_wrote_before_refusing() {
    let (mut a, mut b) = open_two();
    a.execute(&submit(1), start()).expect("submitted on A");
    // B has not seen the submission, yet accepting it works.
    let accept = Command::new(
        CommandId::from_name("accept-1"),
        Action::Accept {
            application: app(1),
        },
    );
    let outcome = b.execute(&accept, start()).expect("accepted on B");
    assert_eq!(outcome.events()[0].event.kind.name(), "accepted");
    // A truly unknown application is still refused.
    let unknown = Command::new(
        CommandId::from_name("accept-9"),
        Action::Accept {
            application: app(9),
        },
    );
    assert!(
        matches!(b.execute(&unknown, start()), Err(EngineError::Rejected(r)) if r.code == RejectionCode::UnknownApplication)
    );
}

#[test]
fn a_command_retried_on_another_instance_is_applied_once() {
    let (mut a, mut b) = open_two();
    let first = a.execute(&submit(1), start()).expect("applied on A");
    let again = b.execute(&submit(1), start()).expect("answered on B");
    assert!(matches!(again, Outcome::Duplicate { .. }));
    assert_eq!(again.events(), first.events());
    b.catch_up().expect("reads");
    assert_eq!(b.state().applications().len(), 1);
    assert_eq!(b.state(), a.state());
}

#[test]
fn group_commits_decide_on_the_newest_state() {
    let (mut a, mut b) = open_two();
    a.execute(&submit(1), start()).expect("submitted on A");
    let batch = vec![
        (
            Command::new(
                CommandId::from_name("accept-1"),
                Action::Accept {
                    application: app(1),
                },
            ),
            start(),
        ),
        (submit(2), start()),
    ];
    let results = b.execute_batch(&batch).expect("batch");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    b.state().check_invariants().expect("invariants");
}
