//! Property tests of the allocation rules and the ledger, over random
//! programmes and random command sequences (1,000 cases each by default;
//! set `PROPTEST_CASES` for longer soaks).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use grantflow_core::*;
use grantflow_testkit::assert_invariants;
use grantflow_testkit::strategies::{self, Run, Step, applicant, cost_request, steps};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

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

/// Whether `app`'s award fits the room left in `state` by the allocation
/// rules, worked out here from the ledger's figures (not by the core's own
/// check): the pot's available money less the contingency, and, in a
/// ring-fenced sector, the fence less what the sector has committed.
fn fits_room_left(state: &State, app: &Application) -> bool {
    let Some(p) = state.programme() else {
        return false;
    };
    let Ok(room) = state
        .pot()
        .available()
        .checked_sub(p.allocation.contingency.value)
    else {
        return false;
    };
    if app.award() > room {
        return false;
    }
    let Some(sector) = app.sector().map(usize::from) else {
        return true;
    };
    let fence = p.sectors.get(sector).and_then(|s| {
        p.allocation
            .ring_fences
            .iter()
            .find(|rf| rf.sector == s.id)
            .map(|rf| rf.cap)
    });
    match fence {
        None => true,
        Some(cap) => {
            let committed = state
                .sectors()
                .get(sector)
                .expect("a total for every declared sector")
                .committed();
            committed.checked_add(app.award()).is_ok_and(|t| t <= cap)
        }
    }
}

/// What the waitlist policy promises after every command: under
/// `skip_ahead` nothing waiting fits the room left (it would have been
/// offered); under `strict` the head of the queue does not fit.
fn waitlist_is_settled(state: &State) -> Result<(), String> {
    let Some(p) = state.programme() else {
        return Ok(());
    };
    let strict = p.allocation.policy.value == WaitlistPolicy::Strict;
    for (position, (_, id)) in state.waitlist().iter().enumerate() {
        let app = state
            .application(&id)
            .ok_or("a waitlisted id has no application")?;
        if fits_room_left(state, app) {
            return Err(format!(
                "{} waits at position {position} for {} while {} is available (contingency {}): it fits",
                id,
                app.award(),
                state.pot().available(),
                p.allocation.contingency.value
            ));
        }
        if strict {
            break;
        }
    }
    Ok(())
}

/// The opening pot plus every top-up and every clawback in `log`.
fn credits_from_log(log: &[Event]) -> Money {
    log.iter().fold(Money::ZERO, |sum, e| {
        let amount = match &e.kind {
            EventKind::ProgrammeOpened { programme } => programme.pot.value,
            EventKind::PotToppedUp { amount, .. } | EventKind::ClawedBack { amount, .. } => *amount,
            _ => Money::ZERO,
        };
        sum.checked_add(amount).expect("credits within 64 bits")
    })
}

/// The events an engine over `store` recorded, in order.
fn stored(store: &mut InMemoryStore, stream: &ProgrammeId) -> Vec<Event> {
    store
        .load(stream, 0, usize::MAX)
        .expect("the in-memory store loads")
        .into_iter()
        .map(|r| r.event)
        .collect()
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

    /// Given a random programme and history, when each step is decided
    /// directly and also sent through an engine over an in-memory store,
    /// then after every step: the invariants hold (credits = available +
    /// reserved + paid); credits equal the opening pot plus the top-ups and
    /// clawbacks in the log; no overspend; offers never dip into the
    /// contingency and stay within the award cap; under `skip_ahead` no
    /// waitlisted application fits the room left, under `strict` the head
    /// does not; the engine records the same events, and a rejected command
    /// appends nothing to the store and leaves the version where it was.
    #[test]
    fn ledger_conserves_money_and_never_overspends((p, steps) in histories()) {
        let contingency = p.allocation.contingency.value;
        let cap = p.coverage.award_cap.value;
        let stream = ProgrammeId::new(&p.id);
        let mut run = Run::open(p);
        let mut store = InMemoryStore::new();
        store.append(&stream, 0, &run.log, &[]).expect("the opening appends");
        let mut engine = Engine::open(store.clone(), stream.clone()).expect("the engine opens");
        for step in &steps {
            let Some(cmd) = run.command(step) else { continue };
            let version = engine.state().version();
            let executed = engine.execute(&cmd, run.now);
            let outcome = run.execute(cmd);
            match (&outcome, executed) {
                (Ok(events), Ok(Outcome::Applied { events: recorded, .. })) => {
                    let recorded: Vec<Event> = recorded.into_iter().map(|r| r.event).collect();
                    prop_assert_eq!(&recorded, events, "the engine records what decide decided");
                }
                (Ok(events), Ok(Outcome::Duplicate { .. })) => {
                    prop_assert!(events.is_empty(), "decide answers a repeat with no events");
                    prop_assert_eq!(engine.state().version(), version, "a repeat appends nothing");
                }
                (Err(rejection), Err(EngineError::Rejected(refused))) => {
                    prop_assert_eq!(&refused, rejection, "the engine refuses as decide refuses");
                    prop_assert_eq!(engine.state().version(), version, "a rejection moves the version");
                }
                (decided, executed) => {
                    prop_assert!(false, "decide gave {:?}, the engine {:?}", decided, executed);
                }
            }
            // The store holds exactly the run's log: a rejection appended nothing.
            prop_assert_eq!(store.version(&stream).expect("version"), run.log.len() as u64);
            if outcome.is_err() {
                prop_assert_eq!(&stored(&mut store, &stream), &run.log, "a rejection appends nothing");
            }
            prop_assert_eq!(engine.state(), &run.state);

            assert_invariants(&run.state);
            let pot = run.state.pot();
            prop_assert_eq!(pot.credits(), credits_from_log(&run.log), "credits = pot + top-ups + clawbacks");
            prop_assert!(pot.reserved().checked_add(pot.paid()).expect("sum") <= pot.credits());
            prop_assert!(pot.available() >= contingency, "offers never dip into the contingency");
            if let Err(broken) = waitlist_is_settled(&run.state) {
                prop_assert!(false, "after {:?}: {}", step, broken);
            }
            if let Ok(events) = &outcome {
                for e in events {
                    if let EventKind::Offered { application, amount, .. } = &e.kind {
                        prop_assert!(*amount <= cap);
                        prop_assert_eq!(Some(*amount), run.state.application(application).and_then(|a| a.coverage()).map(|c| c.award));
                    }
                }
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
        // Prefetching any commands (repeats, unknown ids, claims) does not
        // panic (it takes `&self`: it cannot change the state).
        replayed.prefetch(&commands);
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

    /// Given the preset opened and a history of steps, when the clock is set
    /// to a drawn instant (mostly valid ones near the programme's dates,
    /// also the edges of the supported years, leap seconds and any instant
    /// at all) and, part way through, jumps to another, then nothing panics,
    /// the invariants hold after every step, and an instant outside the
    /// years 1900 to 9999 or in a leap second is refused as
    /// `time_out_of_range` by every command but a repeat.
    #[test]
    fn no_instant_panics(
        first in instants(),
        jump in (instants(), 0usize..40),
        steps in steps(&Programme::healthcare_cyber_essentials_2020(), 2, 30),
    ) {
        let mut run = Run::open(Programme::healthcare_cyber_essentials_2020());
        run.now = first;
        for (i, step) in steps.iter().enumerate() {
            if i == jump.1 {
                run.now = jump.0;
            }
            let outcome = run.apply(step);
            assert_invariants(&run.state);
            // A repeat is answered from the command index before the time is read.
            if !supported(run.now) && !matches!(step, Step::Repeat) {
                if let Some(result) = outcome {
                    let code = result.err().map(|r| r.code);
                    prop_assert_eq!(code, Some(RejectionCode::TimeOutOfRange), "at {:?}", run.now);
                }
            }
        }
    }
}

/// Whether `decide` accepts `now` as a time: years 1900 to 9999, no leap second.
fn supported(now: DateTime<Utc>) -> bool {
    use chrono::{Datelike, Timelike};
    (1900..=9999).contains(&now.year()) && now.nanosecond() < 1_000_000_000
}

/// An instant at `secs` past the epoch and `nanos`, or the latest instant.
fn instant(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, nanos).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Instants for `no_instant_panics`: mostly valid and near the preset's
/// dates (its opening to three years on, where histories go deep), then
/// the edges of what `decide` accepts (1900, 9999 and a second either side,
/// leap seconds), any valid instant, and any instant chrono can hold.
fn instants() -> impl Strategy<Value = DateTime<Utc>> {
    let opens = Programme::healthcare_cyber_essentials_2020()
        .opens
        .value
        .and_hms_opt(9, 0, 0)
        .expect("a time")
        .and_utc()
        .timestamp();
    let day = |y, m, d| {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("a date")
            .and_utc()
            .timestamp()
    };
    let first_1900 = day(1900, 1, 1);
    let first_10000 = day(9999, 12, 31) + 86_400;
    let edges = vec![
        first_1900 - 1,
        first_1900,
        first_10000 - 1,
        first_10000,
        day(9999, 6, 30),
        day(2020, 8, 31),
        day(2021, 3, 31) + 86_399,
        day(2022, 1, 24),
    ];
    prop_oneof![
        12 => (0i64..3 * 366 * 86_400).prop_map(move |s| instant(opens + s, 0)),
        3 => (proptest::sample::select(edges), -3_600i64..=3_600).prop_map(|(e, s)| instant(e + s, 0)),
        1 => (0i64..3 * 366 * 86_400, 1_000_000_000u32..2_000_000_000)
            .prop_map(move |(s, n)| instant((opens + s) / 60 * 60 + 59, n)),
        2 => (first_1900..first_10000).prop_map(|s| instant(s, 0)),
        2 => (proptest::num::i64::ANY, 0u32..1_000_000_000).prop_map(|(s, n)| {
            DateTime::from_timestamp(s / 1_000, n).unwrap_or(DateTime::<Utc>::MIN_UTC)
        }),
    ]
}

/// The instants strategy draws valid instants most of the time: at least
/// half of 1,000 draws are times `decide` accepts, at or after the preset's
/// opening, so `no_instant_panics` runs histories rather than refusals.
#[test]
fn instants_are_mostly_valid_and_after_the_opening() {
    let opens = Programme::healthcare_cyber_essentials_2020()
        .opens
        .value
        .and_hms_opt(9, 0, 0)
        .expect("a time")
        .and_utc();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = instants();
    let mut usable = 0;
    let mut leap = 0;
    let mut out_of_range = 0;
    for _ in 0..1_000 {
        let now = strategy.new_tree(&mut runner).expect("draws").current();
        if supported(now) && now >= opens {
            usable += 1;
        }
        if chrono::Timelike::nanosecond(&now) >= 1_000_000_000 {
            leap += 1;
        }
        if !(1900..=9999).contains(&chrono::Datelike::year(&now)) {
            out_of_range += 1;
        }
    }
    assert!(usable >= 500, "{usable} of 1,000 instants usable");
    assert!(
        leap > 0 && out_of_range > 0,
        "{leap} leap seconds, {out_of_range} out of range"
    );
}
