//! Given/when/then: command ids. The identical command sent again returns
//! its first outcome; another command under a recorded id is refused with
//! `command_id_reused`; blank ids are refused; a refused command records
//! nothing and may be retried under its id.

use grantflow_core::*;
use grantflow_testkit::conformance::fixtures::{self, day};

const TAG: &str = "command-ids";

fn opened() -> State {
    let mut state = State::default();
    run(
        &mut state,
        &fixtures::open(TAG, fixtures::programme(10_000)),
        day(0),
    )
    .unwrap();
    state
}

fn run(
    state: &mut State,
    command: &Command,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Event>, Rejection> {
    let events = decide(state, command, now)?;
    for e in &events {
        evolve(state, e).expect("decided events apply");
    }
    Ok(events)
}

fn top_up(id: CommandId, pounds: u32) -> Command {
    Command::new(
        id,
        Action::TopUp {
            amount: Money::pounds(pounds),
            note: "more".into(),
        },
    )
}

#[test]
fn another_command_under_a_recorded_id_is_refused_naming_the_first() {
    // Given a top-up recorded under id X and an open offer
    let mut state = opened();
    run(&mut state, &fixtures::submit(TAG, 1), day(0)).unwrap();
    let x = CommandId::from_name("x");
    run(&mut state, &top_up(x, 100), day(1)).unwrap();
    let before = state.clone();
    // When an accept is sent under X
    let accept = Command::new(
        x,
        Action::Accept {
            application: fixtures::application(TAG, 1),
        },
    );
    let refused = run(&mut state, &accept, day(2)).unwrap_err();
    // Then it is refused, naming the top-up and when it was recorded, and nothing changed
    assert_eq!(refused.code, RejectionCode::CommandIdReused);
    assert!(
        refused.message.contains("`top_up`")
            && refused.message.contains("2020-09-02 09:00:00 UTC")
            && refused.message.contains("`accept`"),
        "{}",
        refused.message
    );
    assert_eq!(state, before);
    // And the offer is still open for an accept under a new id
    let accept = Command::new(CommandId::from_name("y"), accept.action);
    run(&mut state, &accept, day(2)).unwrap();
}

#[test]
fn the_same_kind_with_other_details_is_refused_too() {
    let mut state = opened();
    let x = CommandId::from_name("x");
    run(&mut state, &top_up(x, 100), day(1)).unwrap();
    let refused = run(&mut state, &top_up(x, 200), day(1)).unwrap_err();
    assert_eq!(refused.code, RejectionCode::CommandIdReused);
    assert!(
        refused.message.contains("different details"),
        "{}",
        refused.message
    );
}

#[test]
fn the_identical_command_again_records_nothing() {
    let mut state = opened();
    let x = CommandId::from_name("x");
    run(&mut state, &top_up(x, 100), day(1)).unwrap();
    let before = state.clone();
    // Even at a later `now`: a retry is the same command.
    assert_eq!(run(&mut state, &top_up(x, 100), day(3)).unwrap(), []);
    assert_eq!(state, before);
}

#[test]
fn the_engine_answers_a_retry_with_its_first_outcome_and_refuses_a_reuse() {
    let p = ProgrammeId::new(TAG);
    let config = EngineConfig {
        snapshot_every: 2,
        ..EngineConfig::default()
    };
    let mut engine = Engine::with_config(InMemoryStore::new(), p.clone(), config).unwrap();
    engine
        .execute(&fixtures::open(TAG, fixtures::programme(10_000)), day(0))
        .unwrap();
    let x = CommandId::from_name("x");
    let first = engine.execute(&top_up(x, 100), day(1)).unwrap();
    for n in 1..=4 {
        engine.execute(&fixtures::submit(TAG, n), day(1)).unwrap();
    }
    // Reopened from a snapshot, the engine no longer holds X in its state: it asks the store.
    let store = engine.into_store();
    let mut engine = Engine::with_config(store, p, config).unwrap();
    assert!(!engine.state().commands().contains_key(&x));
    let again = engine.execute(&top_up(x, 100), day(2)).unwrap();
    assert_eq!(
        again,
        Outcome::Duplicate {
            events: first.events().to_vec()
        }
    );
    let version = engine.state().version();
    let reused = engine.execute(&top_up(x, 999), day(2)).unwrap_err();
    assert!(
        matches!(&reused, EngineError::Rejected(r) if r.code == RejectionCode::CommandIdReused),
        "{reused:?}"
    );
    assert_eq!(engine.state().version(), version);
}

#[test]
fn a_refused_command_may_be_retried_under_its_id() {
    // Given an application that is not yet certified
    let mut state = opened();
    run(&mut state, &fixtures::submit(TAG, 1), day(0)).unwrap();
    run(&mut state, &fixtures::accept(TAG, 1), day(0)).unwrap();
    let a = fixtures::application(TAG, 1);
    let milestone = |m| {
        Command::new(
            CommandId::from_name(&format!("{m:?}")),
            Action::Milestone {
                application: a,
                milestone: m,
            },
        )
    };
    // When a fee claim is refused (not certified yet)
    let claim = Command::new(
        CommandId::from_name("claim"),
        Action::Claim {
            application: a,
            item: Item::CertificationFee,
            invoice_ref: "F-1".into(),
            amount: Money::pounds(300),
        },
    );
    assert_eq!(
        run(&mut state, &claim, day(1)).unwrap_err().code,
        RejectionCode::MilestoneNotReached
    );
    // Then, once certified, the same command under the same id is paid
    for m in [
        Milestone::ConsultancyEngaged,
        Milestone::SelfAssessmentSubmitted,
        Milestone::AssessmentPassed,
    ] {
        run(&mut state, &milestone(m), day(2)).unwrap();
    }
    let paid = run(&mut state, &claim, day(3)).unwrap();
    assert_eq!(paid.len(), 1);
}

#[test]
fn blank_ids_are_refused() {
    for blank in ["", " ", "\t\n"] {
        let e = CommandId::given(blank).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }
    assert_eq!(CommandId::given(" a ").unwrap(), CommandId::from_name("a"));
    let uuid = "6a1c5e0e-3b4f-4d2a-9c55-0f6b7d3e2a11";
    assert_eq!(CommandId::given(uuid).unwrap().to_string(), uuid);
}
