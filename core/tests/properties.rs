//! Property tests of the allocation rules and the ledger, over random
//! programmes and random command sequences (1,000 cases each by default;
//! set `PROPTEST_CASES` for longer soaks).

use std::collections::{BTreeMap, BTreeSet};

use grantflow_core::strategies::{
    self, Run, Step, applicant, assert_invariants, cost_request, steps,
};
use grantflow_core::*;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The generator's programmes: a small pot, either policy, a contingency,
/// maybe Plus, maybe a ring-fence, any VAT policy.
fn programmes() -> impl Strategy<Value = Programme> {
    strategies::programme()
}

fn histories() -> impl Strategy<Value = (Programme, Vec<Step>)> {
    strategies::history(8, 60)
}

fn releases(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Declined { .. }
            | EventKind::Lapsed { .. }
            | EventKind::Withdrawn { .. }
            | EventKind::CertificationFailed { .. }
            | EventKind::Completed { .. }
    )
}

proptest! {
    #![proptest_config(config())]

    /// credits = available + reserved + paid after every event, no overspend,
    /// the contingency is never touched by offers, awards within caps.
    #[test]
    fn ledger_conserves_money_and_never_overspends((p, steps) in histories()) {
        let contingency = p.allocation.contingency.value;
        let cap = p.coverage.award_cap.value;
        let mut run = Run::open(p);
        for step in &steps {
            let before = run.state.clone();
            let outcome = run.apply(step);
            assert_invariants(&run.state);
            let pot = run.state.pot();
            prop_assert!(pot.reserved().checked_add(pot.paid()).expect("sum") <= pot.credits());
            prop_assert!(pot.available() >= contingency, "offers never dip into the contingency");
            if let Some(Ok(events)) = &outcome {
                for e in events {
                    if let EventKind::Offered { application, amount, .. } = &e.kind {
                        prop_assert!(*amount <= cap);
                        prop_assert_eq!(Some(*amount), run.state.application(application).and_then(|a| a.coverage()).map(|c| c.award));
                    }
                }
            }
            if let Some(Err(_)) = &outcome {
                prop_assert_eq!(&run.state, &before, "a rejection changes nothing");
            }
        }
    }

    /// Every reservation resolves at most once, and only a reservation resolves.
    #[test]
    fn reservations_resolve_at_most_once((p, steps) in histories()) {
        let mut run = Run::open(p);
        for step in &steps {
            let _ = run.apply(step);
        }
        let mut offered = BTreeSet::new();
        let mut resolved = BTreeSet::new();
        for e in &run.log {
            if let EventKind::Offered { application, .. } = &e.kind {
                prop_assert!(offered.insert(*application), "offered twice");
            }
            if releases(&e.kind) {
                let a = e.kind.application().expect("about an application");
                if matches!(e.kind, EventKind::Withdrawn { released, .. } if released.is_zero()) && !offered.contains(&a) {
                    continue;
                }
                prop_assert!(offered.contains(&a), "released without a reservation");
                prop_assert!(resolved.insert(a), "resolved twice");
            }
        }
    }

    /// Repeating a command id changes nothing; replaying the log (also through
    /// JSON) rebuilds an equal state; events and commands round-trip.
    #[test]
    fn repeats_are_no_ops_and_replay_rebuilds_the_state((p, mut steps) in histories()) {
        steps.push(Step::Repeat);
        let mut run = Run::open(p);
        let mut commands = Vec::new();
        for step in &steps {
            let before = run.state.clone();
            let Some(cmd) = run.command(step) else { continue };
            let repeat = matches!(step, Step::Repeat);
            let result = run.execute(cmd.clone());
            if repeat && before.commands().contains_key(&cmd.id) {
                prop_assert_eq!(result, Ok(Vec::new()));
                prop_assert_eq!(&run.state, &before);
            }
            commands.push(cmd);
        }
        let mut replayed = State::default();
        for e in &run.log {
            let json = e.to_json();
            let back = Event::from_json(&json).expect("event decodes");
            prop_assert_eq!(&back, e);
            evolve(&mut replayed, &back).expect("replays");
        }
        prop_assert_eq!(&replayed, &run.state);
        // Prefetching any commands (repeats, unknown ids, claims) does not panic
        // and leaves the state as it was.
        replayed.prefetch(&commands);
        prop_assert_eq!(&replayed, &run.state);
        // A snapshot holds the state without the command index (history, not state).
        let snapshot = State::from_snapshot(&run.state.to_snapshot().expect("encodes")).expect("decodes");
        prop_assert!(snapshot.commands().is_empty());
        prop_assert_eq!(snapshot.version(), run.state.version());
        prop_assert_eq!(snapshot.last_at(), run.state.last_at());
        prop_assert_eq!(snapshot.programme(), run.state.programme());
        prop_assert_eq!(snapshot.pot(), run.state.pot());
        prop_assert_eq!(snapshot.sectors(), run.state.sectors());
        prop_assert_eq!(snapshot.applications(), run.state.applications());
        prop_assert_eq!(snapshot.waitlist(), run.state.waitlist());
        prop_assert_eq!(snapshot.deadlines(), run.state.deadlines());
        prop_assert_eq!(snapshot.invoices(), run.state.invoices());
        for c in &commands {
            let back: Command = serde_json::from_str(&serde_json::to_string(c).expect("encodes")).expect("command decodes");
            prop_assert_eq!(&back, c);
        }
    }

    /// Waitlist offers keep arrival order: after each release, re-offers go in
    /// arrival order; under `strict` only the head of the queue is ever offered.
    #[test]
    fn waitlist_offers_keep_arrival_order((p, steps) in histories()) {
        let strict = p.allocation.policy.value == WaitlistPolicy::Strict;
        let mut run = Run::open(p);
        for step in &steps {
            let waiting: BTreeMap<u64, ApplicationId> = run.state.waitlist().iter().collect();
            let Some(Ok(events)) = run.apply(step) else { continue };
            let mut last_arrival = None;
            let mut queue: Vec<ApplicationId> = waiting.values().copied().collect();
            for e in &events {
                match &e.kind {
                    EventKind::Offered { application, .. } if waiting.values().any(|w| w == application) => {
                        let arrival = run.state.application(application).expect("exists").arrival();
                        prop_assert!(last_arrival < Some(arrival), "re-offers in arrival order");
                        last_arrival = Some(arrival);
                        if strict {
                            prop_assert_eq!(queue.first(), Some(application), "strict offers only the head");
                        }
                        queue.retain(|q| q != application);
                    }
                    EventKind::Withdrawn { application, .. } => {
                        queue.retain(|q| q != application);
                        last_arrival = None;
                    }
                    // Each release starts a new pass over the waitlist.
                    kind if releases(kind) || matches!(kind, EventKind::ClawedBack { .. } | EventKind::PotToppedUp { .. }) => last_arrival = None,
                    EventKind::Offered { .. } if strict => prop_assert!(queue.is_empty(), "strict: a new submission is offered only with an empty queue"),
                    _ => {}
                }
            }
        }
    }

    /// Eligibility and coverage are functions of their inputs.
    #[test]
    fn eligibility_and_coverage_are_deterministic(
        (p, a, r) in programmes().prop_flat_map(|p| { let a = applicant(&p); (Just(p), a, cost_request()) }),
        days in 0i64..1_500,
    ) {
        let on = p.opens.value + chrono::Duration::days(days);
        let first = explain(&p, &a, on);
        prop_assert_eq!(&first, &explain(&p, &a, on));
        prop_assert_eq!(first.eligible, is_eligible(&p, &a, on));
                prop_assert_eq!(first.criteria.len(), 5);
        let c1 = estimate(&p, &a, &r, on);
        prop_assert_eq!(&c1, &estimate(&p, &a, &r, on));
        if let Ok(c) = c1 {
            prop_assert!(c.award <= p.coverage.award_cap.value);
            prop_assert!(c.award <= c.total);
            let sum = c.items.iter().try_fold(Money::ZERO, |s, m| s.checked_add(*m)).expect("sum");
            prop_assert_eq!(sum, c.total);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// No input text makes the boundary panic: amounts, events, commands, rules.
    #[test]
    fn no_text_input_panics(text in "\\PC{0,64}", digits in "[-+0-9.eE£]{0,40}") {
        let _ = text.parse::<Money>();
        let _ = digits.parse::<Money>();
        let _ = Event::from_json(&text);
        let _ = serde_json::from_str::<Command>(&text);
        let _ = Programme::from_toml(&text);
        let _ = Programme::from_json(&text);
    }

    /// Amounts that parse are valid money: never negative, pence precision, bounded.
    #[test]
    fn parsed_amounts_are_valid(digits in "[-+]?[0-9]{0,14}(\\.[0-9]{0,4})?(e[-+]?[0-9]{1,3})?") {
        if let Ok(m) = digits.parse::<Money>() {
            prop_assert!(m <= Money::MAX);
            prop_assert_eq!(m.as_decimal().scale(), 2);
            prop_assert!(!m.as_decimal().is_sign_negative() || m.is_zero());
            prop_assert_eq!(m.to_string().parse::<Money>(), Ok(m));
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// No instant, however far out, makes `decide` panic.
    #[test]
    fn no_instant_panics(secs in proptest::num::i64::ANY, steps in steps(&Programme::healthcare_cyber_essentials_2020(), 2, 8)) {
        let Some(now) = chrono::DateTime::<chrono::Utc>::from_timestamp(secs / 1_000, 0) else { return Ok(()) };
        let mut run = Run::open(Programme::healthcare_cyber_essentials_2020());
        run.now = now;
        for step in &steps {
            let _ = run.apply(step);
            assert_invariants(&run.state);
        }
    }
}
