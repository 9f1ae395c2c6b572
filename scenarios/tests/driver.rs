use grantflow_core::{Engine, InMemoryStore, Programme, ProgrammeId, StageKind};
use grantflow_scenarios::{
    Direct, DriveOptions, EngineExecutor, Population, TickEvery, drive, opening,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn the_driver_tracks_the_real_ledger_and_ends_every_award() {
    let p = Programme::healthcare_cyber_essentials_2020();
    let draws = Population::default_2020().draw(&mut ChaCha8Rng::seed_from_u64(1), 600);
    let mut exec = Direct::new();
    let trace = drive(
        &p,
        &draws,
        opening(&p),
        &DriveOptions::for_programme(&p),
        &mut exec,
    )
    .unwrap();
    exec.state.check_invariants().unwrap();
    let pot = exec.state.pot();
    assert_eq!(
        (
            trace.pot.available,
            trace.pot.reserved,
            trace.pot.paid,
            trace.pot.released
        ),
        (pot.available(), pot.reserved(), pot.paid(), pot.released())
    );
    let stage_of = |i: usize| {
        exec.state
            .applications()
            .values()
            .find(|a| a.arrival() == i as u64)
            .map(|a| a.stage().kind())
    };
    // Submitted in arrival order, so the i-th arrival is draw i.
    for (i, a) in trace.apps.iter().enumerate() {
        assert_eq!(Some(a.stage), stage_of(i), "applicant {i}");
    }
    let awarded = trace.apps.iter().filter(|a| a.awarded).count();
    assert!(awarded > 100, "{awarded}");
    // Every accepted award has ended by the horizon: nothing is left reserved.
    assert!(
        trace
            .apps
            .iter()
            .filter(|a| a.awarded)
            .all(|a| a.stage.is_final()),
        "{:?}",
        trace
            .apps
            .iter()
            .filter(|a| a.awarded && !a.stage.is_final())
            .map(|a| a.stage)
            .collect::<Vec<_>>()
    );
    assert!(trace.apps.iter().any(|a| a.stage == StageKind::Completed));
    assert!(trace.weeks.len() > 50);
    assert!(trace.weeks.windows(2).all(|w| w[1].week == w[0].week + 1));
}

#[test]
fn the_engine_executor_records_the_same_history_as_decide_and_evolve() {
    let p = Programme::healthcare_cyber_essentials_2020();
    let draws = Population::default_2020().draw(&mut ChaCha8Rng::seed_from_u64(2), 120);
    let mut opts = DriveOptions::for_programme(&p);
    opts.tick = TickEvery::Weekly;
    let direct = drive(&p, &draws, opening(&p), &opts, &mut Direct::new()).unwrap();
    let mut engine = Engine::open(InMemoryStore::new(), ProgrammeId::new(&p.id)).unwrap();
    let via_engine = drive(
        &p,
        &draws,
        opening(&p),
        &opts,
        &mut EngineExecutor(&mut engine),
    )
    .unwrap();
    assert_eq!(direct, via_engine);
    assert_eq!(engine.state().pot().paid(), direct.pot.paid);
}
