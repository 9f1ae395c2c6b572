//! The worked examples of the allocation policy, as given/when/then tests:
//! pot £1,000, no contingency, awards of the sizes shown, in this order.

mod common;

use common::*;
use grantflow_core::*;
use std::sync::Arc;

/// Awards are whatever the request asks: no assessment fee, no caps in the way.
fn programme(policy: WaitlistPolicy) -> Programme {
    let mut p = small_programme(1_000);
    p.allocation.policy.value = policy;
    for fees in &mut p.coverage.certification_fee {
        fees.value = grantflow_core::FeeTable::flat(Money::ZERO);
    }
    p.coverage.consultancy_day_rate_cap.value = Money::pounds(1_000_000);
    p
}

/// A request whose award is exactly `pounds`: one consultancy day at that rate.
fn request(pounds: u32) -> CostRequest {
    CostRequest {
        level: Level::Basic,
        consultancy_days: rust_decimal::Decimal::ONE,
        day_rate: Money::pounds(pounds),
        plus_audit_quote: None,
    }
}

fn submit(g: &mut Given, n: u32, pounds: u32) -> Vec<&'static str> {
    Given::names(&g.submit(n, request(pounds)))
}

const A: u32 = 1;
const B: u32 = 2;
const C: u32 = 3;
const D: u32 = 4;

#[test]
fn skip_ahead_passes_over_what_does_not_fit() {
    let mut g = Given::programme(programme(WaitlistPolicy::SkipAhead));
    assert_eq!(submit(&mut g, A, 600), ["submitted", "offered"]);
    assert_eq!(submit(&mut g, B, 500), ["submitted", "waitlisted"]);
    assert_eq!(submit(&mut g, C, 300), ["submitted", "offered"]);
    assert_eq!(g.state.pot().available(), Money::pounds(100));
    assert_eq!(submit(&mut g, D, 200), ["submitted", "waitlisted"]);

    g.advance_days(2);
    let declined_on = g.now;
    let events = g.ok(Action::Decline {
        application: app(C),
    });
    assert_eq!(Given::names(&events), ["declined", "offered"]);
    assert!(
        matches!(events[1].kind, EventKind::Offered { application, expires, .. } if application == app(D) && expires == declined_on + chrono::Duration::days(14))
    );
    assert_eq!(g.stage(B), StageKind::Waitlisted);
    assert_eq!(g.state.pot().available(), Money::pounds(200));

    let events = g.ok(Action::Withdraw {
        application: app(A),
        reason: String::new(),
    });
    assert_eq!(Given::names(&events), ["withdrawn", "offered"]);
    assert_eq!(g.stage(B), StageKind::Offered);
    assert_eq!(g.state.pot().available(), Money::pounds(300));
}

#[test]
fn strict_keeps_the_queue() {
    let mut g = Given::programme(programme(WaitlistPolicy::Strict));
    assert_eq!(submit(&mut g, A, 600), ["submitted", "offered"]);
    assert_eq!(submit(&mut g, B, 500), ["submitted", "waitlisted"]);
    assert_eq!(
        submit(&mut g, C, 300),
        ["submitted", "waitlisted"],
        "C fits but joins the queue behind B"
    );
    assert_eq!(submit(&mut g, D, 200), ["submitted", "waitlisted"]);
    assert_eq!(g.state.pot().available(), Money::pounds(400));

    let events = g.ok(Action::Withdraw {
        application: app(B),
        reason: String::new(),
    });
    assert_eq!(Given::names(&events), ["withdrawn", "offered"]);
    assert_eq!(g.stage(C), StageKind::Offered);
    assert_eq!(
        g.stage(D),
        StageKind::Waitlisted,
        "D does not fit and the queue stops there"
    );
    assert_eq!(g.state.pot().available(), Money::pounds(100));

    let events = g.ok(Action::Decline {
        application: app(C),
    });
    assert_eq!(Given::names(&events), ["declined", "offered"]);
    assert_eq!(
        g.stage(D),
        StageKind::Offered,
        "a later release of £300 offers D"
    );
}

#[test]
fn a_lapse_releases_to_the_waitlist_before_the_next_deadline() {
    // A 14-day offer made at 09:00 on day 0 lapses at the first tick on or after day 14, 09:00.
    let mut g = Given::programme(programme(WaitlistPolicy::SkipAhead));
    submit(&mut g, A, 600);
    submit(&mut g, B, 400);
    submit(&mut g, C, 500);
    assert_eq!(g.stage(C), StageKind::Waitlisted);
    g.advance_days(14);
    g.now -= chrono::Duration::hours(1);
    let early: Vec<_> = Given::names(&g.ok(Action::Tick))
        .into_iter()
        .filter(|n| *n != "reminder_due")
        .collect();
    assert!(early.is_empty(), "not yet due: {early:?}");
    g.now += chrono::Duration::hours(1);
    let events = g.ok(Action::Tick);
    // Both deadlines are due; ties go in arrival order: A's deadline comes first; its £600 goes to C before B's deadline is handled.
    assert_eq!(Given::names(&events), ["lapsed", "offered", "lapsed"]);
    assert!(
        matches!(events[1].kind, EventKind::Offered { application, expires, .. } if application == app(C) && expires == g.now + chrono::Duration::days(14))
    );
    assert_eq!(g.state.pot().available(), Money::pounds(500));
}

#[test]
fn contingency_is_kept_inside_available() {
    let mut p = programme(WaitlistPolicy::SkipAhead);
    p.allocation.contingency.value = Money::pounds(300);
    let mut g = Given::programme(p);
    assert_eq!(submit(&mut g, A, 600), ["submitted", "offered"]);
    assert_eq!(
        submit(&mut g, B, 200),
        ["submitted", "waitlisted"],
        "£400 available, £300 of it kept back"
    );
    assert_eq!(submit(&mut g, C, 100), ["submitted", "offered"]);
}

#[test]
fn ring_fences_cap_a_sector() {
    let mut p = programme(WaitlistPolicy::SkipAhead);
    p.allocation.ring_fences.push(grantflow_core::RingFence {
        sector: "primary-care".into(),
        cap: Money::pounds(500),
        reference: None,
        assumed: Some("test".into()),
    });
    let mut g = Given::programme(p);
    let pc = |n| Action::Submit {
        application: app(n),
        applicant: Arc::new(applicant(n, "primary-care")),
        request: request(300),
    };
    assert_eq!(Given::names(&g.ok(pc(1))), ["submitted", "offered"]);
    assert_eq!(
        Given::names(&g.ok(pc(2))),
        ["submitted", "waitlisted"],
        "£600 would break the £500 fence"
    );
    assert_eq!(
        submit(&mut g, 3, 400),
        ["submitted", "offered"],
        "other sectors are not fenced"
    );
    let events = g.ok(Action::Decline {
        application: app(1),
    });
    assert_eq!(Given::names(&events), ["declined", "offered"]);
}
