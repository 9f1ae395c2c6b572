//! A service embedding grantflow with the in-memory store: open the 2020
//! programme, take three applications through to certification and claims,
//! tick past an offer window, and print the pot.
//!
//! Run with `cargo run --example embedded`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use grantflow::{
    Action, Applicant, ApplicationId, Command, CommandId, Contact, CostRequest, Engine,
    InMemoryStore, Item, Level, Milestone, Money, Organisation, Programme, ProgrammeId, explain,
};
use rust_decimal::Decimal;
use std::sync::Arc;

fn applicant(name: &str, company: &str, sector: &str, employees: u32) -> Applicant {
    Applicant {
        organisation: Organisation {
            name: name.into(),
            company_number: Some(company.into()),
            charity_number: None,
            ods_code: None,
            region: Some("North West".into()),
        },
        contact: Contact {
            name: "Office Manager".into(),
            email: format!("office@{}.example", company.to_lowercase()),
        },
        sector: sector.into(),
        employees,
        uk_based: true,
        already_certified: false,
        vat_registered: true,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let programme = Programme::healthcare_cyber_essentials_2020();
    let mut engine = Engine::open(InMemoryStore::new(), ProgrammeId::new(&programme.id))?;
    let day = |n: i64| -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 9, 1, 9, 0, 0)
            .single()
            .expect("valid date")
            + Duration::days(n)
    };
    let mut seq = 0;
    let mut run = |engine: &mut Engine<InMemoryStore>, action: Action, now| {
        seq += 1;
        let cmd = Command::new(CommandId::from_name(&format!("embedded-{seq}")), action);
        engine.execute(&cmd, now)
    };

    // A GP practice asks first whether it is eligible: the answer explains itself.
    let gp = applicant("Riverside Surgery", "GP000001", "gp-practice", 30);
    let answer = explain(&programme, &gp, day(0).date_naive());
    println!("Is {} eligible? {}", gp.organisation.name, answer.eligible);
    for c in &answer.criteria {
        println!(
            "  [{}] {}: {}",
            if c.passed { "pass" } else { "FAIL" },
            c.id,
            c.sentence
        );
    }

    run(
        &mut engine,
        Action::Open {
            programme: Box::new(programme.clone()),
        },
        day(0),
    )?;
    let request = CostRequest {
        level: Level::Basic,
        consultancy_days: Decimal::from(2),
        day_rate: Money::pounds(450),
        plus_audit_quote: None,
    };
    let firms = [
        ("Acme Medical Supplies", "01234567", "medical-supplier", 40),
        ("Brook Pharmacy", "07654321", "primary-care", 8),
    ];
    let mut ids = Vec::new();
    for (name, company, sector, staff) in firms {
        let id = ApplicationId::from_name(company);
        let outcome = run(
            &mut engine,
            Action::Submit {
                application: id,
                applicant: Arc::new(applicant(name, company, sector, staff)),
                request: request.clone(),
            },
            day(1),
        )?;
        println!(
            "{name}: {}",
            outcome
                .events()
                .iter()
                .map(|r| r.event.kind.name())
                .collect::<Vec<_>>()
                .join(" -> ")
        );
        ids.push(id);
    }
    let (acme, brook) = (ids[0], ids[1]);
    run(&mut engine, Action::Accept { application: acme }, day(2))?;
    for m in [
        Milestone::ConsultancyEngaged,
        Milestone::SelfAssessmentSubmitted,
        Milestone::AssessmentPassed,
    ] {
        run(
            &mut engine,
            Action::Milestone {
                application: acme,
                milestone: m,
            },
            day(20),
        )?;
    }
    run(
        &mut engine,
        Action::Claim {
            application: acme,
            item: Item::Consultancy,
            invoice_ref: "CONS-0001".into(),
            amount: Money::pounds(900),
        },
        day(21),
    )?;
    run(
        &mut engine,
        Action::Claim {
            application: acme,
            item: Item::CertificationFee,
            invoice_ref: "IASME-0001".into(),
            amount: Money::pounds(300),
        },
        day(21),
    )?;
    run(&mut engine, Action::Complete { application: acme }, day(22))?;
    // Brook never answers its offer. Time binds at every command: its 14-day
    // window closed on day 15, so ACME's first milestone on day 20 carried the
    // lapse (and released Brook's money) before it was decided. A tick fires
    // deadlines that no other command carries; on day 23 none are left.
    let tick = run(&mut engine, Action::Tick, day(23))?;
    println!(
        "tick on day 23 (events): [{}]",
        tick.events()
            .iter()
            .map(|r| r.event.kind.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let brook_stage = engine.state().application(&brook).map(|a| a.stage().kind());
    println!("Brook Pharmacy is now {brook_stage:?}");

    let pot = engine.state().pot();
    println!(
        "pot: credits {} = available {} + reserved {} + paid {}",
        pot.credits().display_pounds(),
        pot.available().display_pounds(),
        pot.reserved().display_pounds(),
        pot.paid().display_pounds()
    );
    engine.state().check_invariants()?;
    assert_eq!(pot.paid(), Money::pounds(1200));
    Ok(())
}
