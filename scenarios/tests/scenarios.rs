use std::path::Path;

use grantflow_core::{Money, Programme};
use grantflow_scenarios::population::{DayRange, DaysMix, PoundsRange, SectorShare, SizeMix};
use grantflow_scenarios::*;

fn example_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenario-2020.toml")
}

#[test]
fn the_shipped_default_scenario_loads_and_is_the_documented_default() {
    let s = Scenario::load(&example_path()).unwrap();
    assert_eq!(s.programme, Programme::healthcare_cyber_essentials_2020());
    assert_eq!(s.population, Population::default_2020());
    assert_eq!(s.run, RunSettings::default());
}

fn key_of(text: &str) -> String {
    match Scenario::from_toml(text, None) {
        Ok(_) => panic!("accepted a bad scenario:\n{text}"),
        Err(e) => {
            assert!(e.to_string().contains(e.key().unwrap_or("?")), "{e}");
            e.key().unwrap_or_default().to_string()
        }
    }
}

#[test]
fn bad_scenario_files_name_the_key() {
    let base = std::fs::read_to_string(example_path()).unwrap();
    let bad = |from: &str, to: &str| {
        assert!(base.contains(from), "{from}");
        key_of(&base.replacen(from, to, 1))
    };
    assert_eq!(
        bad("first_pass = 0.80", "first_pass = 1.2"),
        "population.behaviour.first_pass"
    );
    assert_eq!(bad("trials = 1000 ", "trials = 0 "), "run.trials");
    assert_eq!(bad("min = 350", "min = -350"), "population.day_rate.min");
    assert_eq!(
        bad(
            "\"allocation.contingency\" = 10000",
            "\"allocation.contingency\" = -10000"
        ),
        "programme.allocation.contingency"
    );
    assert_eq!(
        bad(
            "\"allocation.contingency\" = 10000",
            "\"allocation.contingency\" = 600000"
        ),
        "programme.allocation.contingency"
    );
    assert_eq!(
        bad("non_uk = 0.01", "non_uk = 0.01\ncolour = \"red\""),
        "population.colour"
    );
    assert_eq!(bad("seed = 2020", "seed = 2020\nspeed = 3"), "run.speed");
    assert_eq!(
        bad("decline_offer = 0.05", "decline_offer = -0.05"),
        "population.behaviour.decline_offer"
    );
    assert_eq!(
        bad("sector = \"other\"", "sector = \"vets\""),
        "population.sectors[3].sector"
    );
    assert_eq!(
        bad("preset = \"healthcare-ce-2020\"", "preset = \"nope\""),
        "programme.preset"
    );
    assert_eq!(
        bad(
            "answer_days = { min = 1, max = 10 }",
            "answer_days = { min = 11, max = 10 }"
        ),
        "population.behaviour.answer_days"
    );
    assert_eq!(key_of("[run]\ntrials = \"many\"\n"), "run.trials");
    assert_eq!(key_of("flavour = 1\n"), "flavour");
    assert!(matches!(
        Scenario::from_toml("[run", None),
        Err(ScenarioError::Syntax(_))
    ));
}

/// A population with no randomness that matters: every applicant is an
/// eligible, VAT-registered micro medical supplier asking for 2 days at £500,
/// and passes everything, first time, without dropping out.
fn fixed_population(applicants: u32) -> Population {
    let mut p = Population::default_2020();
    p.applicants = applicants;
    p.sectors = vec![SectorShare {
        sector: "medical-supplier".into(),
        weight: 1.0,
        vat_registered: 1.0,
    }];
    p.sizes = SizeMix {
        micro: 1.0,
        small: 0.0,
        medium: 0.0,
        large: 0.0,
    };
    p.non_uk = 0.0;
    p.already_certified = 0.0;
    p.wants_plus = 0.0;
    p.consultancy_days = DaysMix {
        days: vec![2.0],
        weights: vec![1.0],
    };
    p.day_rate = PoundsRange {
        min: 500,
        mode: 500,
        max: 500,
        step: 1,
    };
    let b = &mut p.behaviour;
    b.decline_offer = 0.0;
    b.ignore_offer = 0.0;
    b.leave_waitlist = 0.0;
    b.withdraw_after_award = 0.0;
    b.never_finish = 0.0;
    b.first_pass = 1.0;
    b.second_pass = 1.0;
    b.answer_feedback = 1.0;
    b.answer_days = DayRange { min: 1, max: 10 };
    p
}

#[test]
fn without_randomness_the_funded_count_is_the_hand_count() {
    let mut s = Scenario::default_2020();
    s.population = fixed_population(1000);
    s.validate().unwrap();
    // Award: £300 fee + 2 days x £500 consultancy, no VAT (registered) = £1,300.
    // Offers may use £500,000 - £10,000 contingency = £490,000: floor(490,000 / 1,300) = 376.
    let award = 1_300u32;
    let capacity = (500_000 - 10_000) / award;
    assert_eq!(capacity, 376);
    let sim = simulate(&variants(&s, &[]).unwrap(), 3, 11, &|| {}).unwrap();
    for t in &sim.variants[0].trials {
        assert_eq!(t.eligible, 1000);
        assert_eq!(t.offered, capacity);
        assert_eq!(t.awarded, capacity);
        assert_eq!(t.certified, capacity);
        assert_eq!(t.completed, capacity);
        assert_eq!(t.paid, Money::pounds(capacity * award));
        assert_eq!(t.released, Money::ZERO);
        assert_eq!(t.waitlist_left, 1000 - capacity);
        assert_eq!(t.available, Money::pounds(500_000 - capacity * award));
        assert!(t.exhausted_week.is_some());
    }
}

#[test]
fn money_released_by_drop_outs_is_offered_to_the_waitlist() {
    let mut s = Scenario::default_2020();
    s.population = fixed_population(1000);
    s.population.behaviour.decline_offer = 0.2;
    s.population.behaviour.withdraw_after_award = 0.1;
    s.validate().unwrap();
    let sim = simulate(&variants(&s, &[]).unwrap(), 3, 12, &|| {}).unwrap();
    for t in &sim.variants[0].trials {
        assert!(t.released > Money::ZERO);
        assert!(
            t.offered > 376,
            "offered {} is not more than the initial capacity 376",
            t.offered
        );
        assert!(t.declined > 0 && t.withdrawn > 0);
        // Everything offered was either declined, withdrawn or certified and completed.
        assert_eq!(
            t.offered,
            t.declined + t.lapsed + t.withdrawn + t.completed + t.failed
        );
    }
}

fn json_with_threads(n: usize) -> String {
    let mut s = Scenario::default_2020();
    s.population.applicants = 300;
    let vary = ["allocation.policy=skip_ahead,strict"
        .parse::<Vary>()
        .unwrap()];
    let vs = variants(&s, &vary).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap();
    let sim = pool.install(|| simulate(&vs, 12, 99, &|| {})).unwrap();
    to_json(&sim)
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let one = json_with_threads(1);
    let two = json_with_threads(2);
    assert!(one == two, "1-thread and 2-thread JSON differ");
    assert!(one.contains("\"exhausted_week\""));
}

#[test]
fn policy_variants_see_the_same_applicants() {
    let mut s = Scenario::default_2020();
    s.population.applicants = 400;
    let vary = [
        "allocation.policy=skip_ahead,strict"
            .parse::<Vary>()
            .unwrap(),
        "allocation.contingency=0,25000".parse::<Vary>().unwrap(),
    ];
    let sim = simulate(&variants(&s, &vary).unwrap(), 5, 3, &|| {}).unwrap();
    assert_eq!(sim.variants.len(), 4);
    for t in 0..5 {
        let first = &sim.variants[0].trials[t];
        for v in &sim.variants[1..] {
            let other = &v.trials[t];
            assert_eq!(first.eligible, other.eligible);
            let apps = |r: &TrialResult| r.sectors.iter().map(|s| s.applicants).collect::<Vec<_>>();
            assert_eq!(apps(first), apps(other));
        }
    }
    // A bigger contingency funds no more firms than none, trial by trial.
    for (none, big) in sim.variants[0].trials.iter().zip(&sim.variants[1].trials) {
        assert!(
            big.awarded <= none.awarded + 5,
            "{} vs {}",
            big.awarded,
            none.awarded
        );
    }
    // Different seeds give different applicants.
    let other = simulate(&variants(&s, &[]).unwrap(), 1, 4, &|| {}).unwrap();
    assert_ne!(
        other.variants[0].trials[0].weekly_available,
        sim.variants[0].trials[0].weekly_available
    );
}

#[test]
fn the_cli_entry_prints_a_table_json_and_csv_and_rejects_bad_input() {
    let args = SimulateArgs {
        trials: Some(3),
        applicants: Some(150),
        vary: vec!["coverage.plus_funded=false,true".into()],
        ..SimulateArgs::default()
    };
    let mut out = Vec::new();
    cli::run(&args, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("coverage.plus_funded=true"), "{text}");
    assert!(text.contains("week pot exhausted"));
    let mut out = Vec::new();
    cli::run(
        &SimulateArgs {
            csv: true,
            ..args.clone()
        },
        &mut out,
    )
    .unwrap();
    let csv = String::from_utf8(out).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3);
    let mut out = Vec::new();
    cli::run(
        &SimulateArgs {
            json: true,
            ..args.clone()
        },
        &mut out,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["variants"].as_array().map(Vec::len), Some(2));
    assert!(
        v["variants"][0]["outputs"].as_array().is_some_and(|o| o
            .iter()
            .any(|x| x["output"] == "paid (gross)" && x["p50"].is_number())),
        "--json is the summary: {v}"
    );
    assert!(v["variants"][0].get("trials").is_none(), "{v}");
    let mut out = Vec::new();
    cli::run(
        &SimulateArgs {
            json: true,
            per_trial: true,
            ..args.clone()
        },
        &mut out,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["variants"][0]["trials"].as_array().map(Vec::len),
        Some(3),
        "--json --per-trial gives every trial: {v}"
    );
    let err = cli::run(
        &SimulateArgs {
            trials: Some(0),
            ..args.clone()
        },
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("run.trials"), "{err}");
    let err = cli::run(
        &SimulateArgs {
            vary: vec!["population.behaviour.first_pass=0.5,1.5".into()],
            ..args.clone()
        },
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("population.behaviour.first_pass"),
        "{err}"
    );
    assert!(
        cli::run(
            &SimulateArgs {
                vary: vec!["nonsense".into()],
                ..args
            },
            &mut Vec::new()
        )
        .is_err()
    );
}
