//! The 2020 programme end to end: 600 applicants from a realistic mix
//! (sizes, sectors, some ineligible, GP practices among them) go through the
//! whole lifecycle on the engine with the in-memory store. The pot must end
//! exact to the penny, hundreds of firms funded, and no GP practice funded.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use grantflow_core::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rust_decimal::Decimal;

/// What one applicant will do, drawn up front.
#[derive(Clone, Debug)]
struct Behaviour {
    arrival_day: i64,
    answer: u8,
    first_pass: bool,
    resubmits: bool,
    second_pass: bool,
    withdraws: bool,
}

fn population() -> Vec<(Applicant, CostRequest, Behaviour)> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let sector = proptest::prop_oneof![45 => proptest::strategy::Just("medical-supplier"), 40 => proptest::strategy::Just("primary-care"), 10 => proptest::strategy::Just("gp-practice"), 5 => proptest::strategy::Just("other")];
    let size =
        proptest::prop_oneof![50 => 1u32..10, 35 => 10u32..50, 13 => 50u32..250, 2 => 250u32..600];
    let one = (
        (sector, size, 0u8..100, 0u8..100, 0u8..100, 1u32..=6),
        (
            350u32..=750,
            0i64..182,
            0u8..100,
            0u8..100,
            0u8..100,
            0u8..100,
            0u8..100,
        ),
    );
    let strategy = proptest::collection::vec(one, 600);
    let drawn = strategy.new_tree(&mut runner).expect("draws").current();
    drawn
        .into_iter()
        .enumerate()
        .map(
            |(
                n,
                (
                    (sector, employees, cert, uk, vat, half_days),
                    (rate, day, answer, pass, resub, pass2, withdraw),
                ),
            )| {
                let applicant = Applicant {
                    organisation: Organisation {
                        name: format!("Healthcare Firm {n:03} Ltd"),
                        company_number: Some(format!("{:08}", 10_000_000 + n)),
                        charity_number: None,
                        ods_code: None,
                        region: Some("London".into()),
                    },
                    contact: Contact {
                        name: "Practice Manager".into(),
                        email: format!("manager{n}@firm{n}.example"),
                    },
                    sector: sector.to_string(),
                    employees,
                    uk_based: uk >= 2,
                    already_certified: cert < 5,
                    vat_registered: vat < 60,
                };
                let request = CostRequest {
                    level: Level::Basic,
                    consultancy_days: Decimal::new(i64::from(half_days) * 5, 1),
                    day_rate: Money::pounds(rate),
                    plus_audit_quote: None,
                };
                let behaviour = Behaviour {
                    arrival_day: day,
                    answer,
                    first_pass: pass < 80,
                    resubmits: resub < 85,
                    second_pass: pass2 < 90,
                    withdraws: withdraw < 3,
                };
                (applicant, request, behaviour)
            },
        )
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Next {
    Answer,
    Engage,
    SubmitSa,
    Mark,
    Resubmit,
    ClaimFee,
    Complete,
}

#[test]
fn six_hundred_applicants_through_the_2020_programme() {
    let programme = Programme::healthcare_cyber_essentials_2020();
    let mut engine =
        Engine::open(InMemoryStore::new(), ProgrammeId::new(&programme.id)).expect("opens");
    let start: DateTime<Utc> = Utc
        .with_ymd_and_hms(2020, 9, 1, 9, 0, 0)
        .single()
        .expect("date");
    let mut seq = 0u64;
    let mut exec = |engine: &mut Engine<InMemoryStore>, action: Action, now: DateTime<Utc>| {
        seq += 1;
        let result = engine.execute(
            &Command::new(CommandId::from_name(&format!("preset-{seq}")), action),
            now,
        );
        engine.state().check_invariants().expect("invariants hold");
        result
    };
    exec(
        &mut engine,
        Action::Open {
            programme: Box::new(programme.clone()),
        },
        start,
    )
    .expect("open");

    let people = population();
    let ids: Vec<ApplicationId> = (0..people.len())
        .map(|n| ApplicationId::from_name(&format!("preset-app-{n}")))
        .collect();
    let mut plan: BTreeMap<i64, Vec<(usize, Next)>> = BTreeMap::new();
    let mut arrivals: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (n, (_, _, b)) in people.iter().enumerate() {
        arrivals.entry(b.arrival_day).or_default().push(n);
    }
    let mut claims = Money::ZERO;
    let mut invoice = 0;
    for day in 0..420 {
        let now = start + Duration::days(day);
        for n in arrivals.remove(&day).unwrap_or_default() {
            let (a, r, _) = &people[n];
            exec(
                &mut engine,
                Action::Submit {
                    application: ids[n],
                    applicant: Arc::new(a.clone()),
                    request: r.clone(),
                },
                now,
            )
            .expect("submission accepted");
        }
        // Offers made today (on submission or from the waitlist) are answered in 3 days.
        for (n, id) in ids.iter().enumerate() {
            if let Some(app) = engine.state().application(id) {
                if let Stage::Offered { expires } = app.stage() {
                    if expires == now + Duration::days(14) {
                        plan.entry(day + 3).or_default().push((n, Next::Answer));
                    }
                }
            }
        }
        for (n, next) in plan.remove(&day).unwrap_or_default() {
            let b = &people[n].2;
            let id = ids[n];
            let stage = engine.state().application(&id).map(|a| a.stage().kind());
            let follow = match next {
                Next::Answer if stage == Some(StageKind::Offered) => match b.answer {
                    0..=4 => {
                        exec(&mut engine, Action::Decline { application: id }, now).map(|_| None)
                    }
                    5..=9 => Ok(None), // never answers: the offer lapses
                    _ => exec(&mut engine, Action::Accept { application: id }, now)
                        .map(|_| Some((7, Next::Engage))),
                },
                Next::Engage if b.withdraws => exec(
                    &mut engine,
                    Action::Withdraw {
                        application: id,
                        reason: "merged with another firm".into(),
                    },
                    now,
                )
                .map(|_| None),
                Next::Engage => exec(
                    &mut engine,
                    Action::Milestone {
                        application: id,
                        milestone: Milestone::ConsultancyEngaged,
                    },
                    now,
                )
                .map(|_| Some((14, Next::SubmitSa))),
                Next::SubmitSa => {
                    exec(
                        &mut engine,
                        Action::Milestone {
                            application: id,
                            milestone: Milestone::SelfAssessmentSubmitted,
                        },
                        now,
                    )
                    .expect("submitted");
                    let payable = engine
                        .state()
                        .application(&id)
                        .map(|a| a.payable(Item::Consultancy))
                        .unwrap_or(Money::ZERO);
                    if !payable.is_zero() {
                        invoice += 1;
                        exec(
                            &mut engine,
                            Action::Claim {
                                application: id,
                                item: Item::Consultancy,
                                invoice_ref: format!("CONS-{invoice}"),
                                amount: payable,
                            },
                            now,
                        )
                        .expect("claim");
                        claims = claims.checked_add(payable).expect("sum");
                    }
                    Ok(Some((5, Next::Mark)))
                }
                Next::Mark => {
                    let attempt = match engine.state().application(&id).map(|a| a.stage()) {
                        Some(Stage::SelfAssessmentSubmitted { attempt, .. }) => attempt,
                        _ => 0,
                    };
                    let pass = if attempt == 1 {
                        b.first_pass
                    } else {
                        b.second_pass
                    };
                    let m = if pass {
                        Milestone::AssessmentPassed
                    } else {
                        Milestone::AssessmentFailed
                    };
                    exec(
                        &mut engine,
                        Action::Milestone {
                            application: id,
                            milestone: m,
                        },
                        now,
                    )
                    .expect("marked");
                    Ok(match (pass, attempt) {
                        (true, _) => Some((2, Next::ClaimFee)),
                        (false, 1) if b.resubmits => Some((1, Next::Resubmit)),
                        _ => None,
                    })
                }
                Next::Resubmit => exec(
                    &mut engine,
                    Action::Milestone {
                        application: id,
                        milestone: Milestone::SelfAssessmentSubmitted,
                    },
                    now,
                )
                .map(|_| Some((3, Next::Mark))),
                Next::ClaimFee => {
                    let payable = engine
                        .state()
                        .application(&id)
                        .map(|a| a.payable(Item::CertificationFee))
                        .unwrap_or(Money::ZERO);
                    invoice += 1;
                    exec(
                        &mut engine,
                        Action::Claim {
                            application: id,
                            item: Item::CertificationFee,
                            invoice_ref: format!("IASME-{invoice}"),
                            amount: payable,
                        },
                        now,
                    )
                    .expect("fee claim");
                    claims = claims.checked_add(payable).expect("sum");
                    Ok(Some((10, Next::Complete)))
                }
                Next::Complete => {
                    exec(&mut engine, Action::Complete { application: id }, now).map(|_| None)
                }
                Next::Answer => Ok(None),
            };
            if let Some((after, next)) = follow.expect("planned step accepted") {
                plan.entry(day + after).or_default().push((n, next));
            }
        }
        exec(&mut engine, Action::Tick, now + Duration::hours(12)).expect("tick");
    }

    let state = engine.state();
    let count = |k: StageKind| {
        state
            .applications()
            .values()
            .filter(|a| a.stage().kind() == k)
            .count()
    };
    let funded = state
        .applications()
        .values()
        .filter(|a| !a.account().reserved_at_award().is_zero() && a.account().paid() > Money::ZERO)
        .count();
    let certified = state
        .applications()
        .values()
        .filter(|a| a.certificate_expires().is_some())
        .count();
    let gp_offered = state
        .applications()
        .values()
        .filter(|a| {
            a.applicant().sector == "gp-practice" && !a.account().reserved_at_award().is_zero()
        })
        .count();
    let gp_applied = state
        .applications()
        .values()
        .filter(|a| a.applicant().sector == "gp-practice")
        .count();

    println!(
        "funded {funded}, certified {certified}, ineligible {}, GP practices {gp_applied}, waitlist {}, paid {}, released {}",
        count(StageKind::Ineligible),
        state.waitlist().len(),
        state.pot().paid().display_pounds(),
        state.pot().released().display_pounds()
    );
    assert_eq!(state.applications().len(), 600);
    assert!(gp_applied > 20, "GP practices applied: {gp_applied}");
    assert_eq!(gp_offered, 0, "no GP practice is funded");
    assert!(count(StageKind::Ineligible) >= gp_applied);
    assert!(funded >= 200, "hundreds of firms funded: {funded}");
    assert!(certified >= 200, "hundreds certified: {certified}");
    // Every award has resolved: nothing reserved, nothing on offer.
    assert_eq!(
        count(StageKind::Offered)
            + count(StageKind::Awarded)
            + count(StageKind::ConsultancyEngaged),
        0
    );
    let pot = state.pot();
    assert_eq!(pot.reserved(), Money::ZERO);
    assert_eq!(
        pot.paid(),
        claims,
        "paid equals the invoices paid, to the penny"
    );
    assert_eq!(pot.credits(), Money::pounds(500_000));
    assert_eq!(
        pot.available().checked_add(pot.paid()).expect("sum"),
        pot.credits(),
        "the pot ends exact to the penny"
    );
    assert!(
        pot.released() > Money::ZERO,
        "withdrawals, lapses and completions released money"
    );
    let last_notices = engine.store_mut().outbox_entries().len();
    assert!(last_notices > 1_000, "notices queued: {last_notices}");
}
