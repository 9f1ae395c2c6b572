//! Core throughput: full-lifecycle commands per second in memory
//! (`decide` + `evolve`, one thread), against a baseline measured in the same
//! run: replaying the same events with `evolve` alone.
//!
//! `cargo bench --bench core_throughput` (1,000,000 applicants; set
//! `GRANTFLOW_BENCH_APPLICANTS` for another size;
//! `GRANTFLOW_BENCH_DECIDE_ONLY=1` stops after the timed decide + evolve runs,
//! for profiling them alone; `GRANTFLOW_BENCH_RUNS` sets the number of timed
//! runs of each side, 3 by default, whose median is the figure).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use grantflow::*;
use rust_decimal::Decimal;

// The allocator of the `grantflow` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::var("GRANTFLOW_BENCH_APPLICANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut programme = Programme::healthcare_cyber_essentials_2020();
    programme.pot.value = Money::pounds(
        u32::try_from(n)
            .unwrap_or(u32::MAX / 2_500)
            .saturating_mul(2_500)
            .max(10_000),
    );
    let start = Utc
        .with_ymd_and_hms(2020, 9, 1, 9, 0, 0)
        .single()
        .expect("date");

    // Commands are built before the clock starts.
    let mut commands = Vec::with_capacity(n * 8 + 1);
    let mut next = 0u128;
    let mut cmd = |action| {
        next += 1;
        Command::new(CommandId::new(uuid::Uuid::from_u128(next)), action)
    };
    commands.push(cmd(Action::Open {
        programme: Box::new(programme),
    }));
    let request = CostRequest {
        level: Level::Basic,
        consultancy_days: Decimal::from(2),
        day_rate: Money::pounds(450),
        plus_audit_quote: None,
    };
    for block in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let ids: Vec<ApplicationId> = block
            .iter()
            .map(|i| ApplicationId::new(uuid::Uuid::from_u128(u128::MAX - *i as u128)))
            .collect();
        for (i, id) in block.iter().zip(&ids) {
            let applicant = Applicant {
                organisation: Organisation {
                    name: format!("Firm {i}"),
                    company_number: Some(format!("{i:08}")),
                    charity_number: None,
                    ods_code: None,
                    region: None,
                },
                contact: Contact {
                    name: "Manager".into(),
                    email: format!("m{i}@firm.example"),
                },
                sector: if i % 2 == 0 {
                    "medical-supplier"
                } else {
                    "primary-care"
                }
                .into(),
                employees: (*i % 200) as u32,
                uk_based: true,
                already_certified: false,
                vat_registered: i % 3 != 0,
            };
            commands.push(cmd(Action::Submit {
                application: *id,
                applicant: Arc::new(applicant),
                request: request.clone(),
            }));
        }
        let steps: [&dyn Fn(ApplicationId, usize) -> Action; 7] = [
            &|id, _| Action::Accept { application: id },
            &|id, _| Action::Milestone {
                application: id,
                milestone: Milestone::ConsultancyEngaged,
            },
            &|id, _| Action::Milestone {
                application: id,
                milestone: Milestone::SelfAssessmentSubmitted,
            },
            &|id, i| Action::Claim {
                application: id,
                item: Item::Consultancy,
                invoice_ref: format!("C{i}"),
                amount: Money::pounds(900),
            },
            &|id, _| Action::Milestone {
                application: id,
                milestone: Milestone::AssessmentPassed,
            },
            &|id, i| Action::Claim {
                application: id,
                item: Item::CertificationFee,
                invoice_ref: format!("F{i}"),
                amount: Money::pounds(300),
            },
            &|id, _| Action::Complete { application: id },
        ];
        for step in steps {
            for (i, id) in block.iter().zip(&ids) {
                commands.push(cmd(step(*id, *i)));
            }
        }
    }
    let now = start + Duration::days(1);
    // Commands go in batches (`GRANTFLOW_BENCH_BATCH`, 32 by default), each
    // prefetched first (`State::prefetch`) as `Engine::execute_batch` does;
    // `GRANTFLOW_BENCH_PREFETCH=0` turns the prefetch off.
    let batch: usize = std::env::var("GRANTFLOW_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|b| *b > 0)
        .unwrap_or(32);
    let prefetch = std::env::var("GRANTFLOW_BENCH_PREFETCH").map_or(true, |v| v != "0");

    // `GRANTFLOW_BENCH_RUNS` timed runs (3 by default), each from an empty
    // state; every run is printed and the median is the figure.
    let runs: usize = std::env::var("GRANTFLOW_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(3);
    let mut decide_times = Vec::with_capacity(runs);
    let mut paid = Money::ZERO;
    let mut events_applied = 0;
    for _ in 0..runs {
        let (secs, applied, state_paid) = decide_and_evolve(&commands, now, batch, prefetch);
        decide_times.push(secs);
        (events_applied, paid) = (applied, state_paid);
    }
    let decide_secs = median(&decide_times);
    let rates = |times: &[f64], count: usize| {
        times
            .iter()
            .map(|t| format!("{:.2}", count as f64 / t / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if std::env::var_os("GRANTFLOW_BENCH_DECIDE_ONLY").is_some() {
        println!(
            "decide + evolve: {:.0} commands/s ({decide_secs:.2} s), median of {runs} runs: {} million; baseline skipped",
            commands.len() as f64 / decide_secs,
            rates(&decide_times, commands.len())
        );
        return;
    }

    // Untimed: collect the log for the baseline.
    let mut log = Vec::with_capacity(events_applied);
    let mut scratch = State::default();
    for c in &commands {
        if let Ok(events) = decide(&scratch, c, now) {
            for e in events {
                evolve(&mut scratch, &e).expect("applies");
                log.push(e);
            }
        }
    }
    drop(scratch);

    let mut replay_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let mut replayed = State::default();
        for e in &log {
            evolve(&mut replayed, e).expect("replays");
        }
        replay_times.push(t.elapsed().as_secs_f64());
        black_box(&replayed);
    }
    let replay_secs = median(&replay_times);

    let cmds = commands.len() as f64;
    let events = log.len() as f64;
    println!(
        "applicants: {n}, commands: {}, events: {}",
        commands.len(),
        log.len()
    );
    println!(
        "decide + evolve: {:.0} commands/s ({:.2} s), median of {runs} runs: {} million",
        cmds / decide_secs,
        decide_secs,
        rates(&decide_times, commands.len())
    );
    println!(
        "baseline, evolve only (replay): {:.0} events/s ({:.2} s), median of {runs} runs: {} million",
        events / replay_secs,
        replay_secs,
        rates(&replay_times, log.len())
    );
    println!(
        "ratio decide+evolve time / replay time: {:.2}",
        decide_secs / replay_secs
    );
    println!("paid: {}", paid.display_pounds());

    // The host's price of a cache miss, for reading the figures above: one
    // random read that depends on the one before, in a table as big as the
    // command index's slots (8 bytes per slot, at most 3/4 full).
    let slots = (commands.len() * 4 / 3).next_power_of_two().max(1 << 16);
    let miss = dependent_read_ns(slots);
    println!(
        "memory: a dependent random read in a {} MB table takes {miss:.0} ns; one command took {:.0} ns",
        (slots * 8) >> 20,
        decide_secs * 1e9 / cmds
    );
}

/// One timed run: decides and evolves every command from an empty state, as
/// an embedding service would (one event buffer reused; the events are
/// dropped once applied). Seconds taken, events applied and the pot paid.
fn decide_and_evolve(
    commands: &[Command],
    now: chrono::DateTime<Utc>,
    batch: usize,
    prefetch: bool,
) -> (f64, usize, Money) {
    let t = Instant::now();
    let mut state = State::default();
    let mut rejected = 0usize;
    let mut events_applied = 0usize;
    let mut events = Vec::new();
    for batch in commands.chunks(batch) {
        if prefetch {
            state.prefetch(batch);
        }
        for c in batch {
            match decide_into(&state, c, now, &mut events) {
                Ok(()) => {
                    for e in &events {
                        evolve(&mut state, e).expect("applies");
                    }
                    events_applied += events.len();
                }
                Err(_) => rejected += 1,
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(rejected, 0, "every command is accepted");
    state.check_invariants().expect("invariants");
    (secs, events_applied, state.pot().paid())
}

/// The middle value (the upper middle of an even count).
fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Nanoseconds per read when each read's address depends on the last one's
/// value, over a table of `slots` eight-byte words (a random cycle through
/// all of them, so the prefetcher cannot guess).
fn dependent_read_ns(slots: usize) -> f64 {
    // One cycle through every slot: Sattolo's shuffle of the identity,
    // driven by a fixed xorshift so that every run reads the same order.
    let mut next: Vec<u64> = (0..slots as u64).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..slots).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % i as u64) as usize;
        next.swap(i, j);
    }
    let reads = 2_000_000usize;
    let mut at = 0u64;
    let t = Instant::now();
    for _ in 0..reads {
        at = next[at as usize];
    }
    let secs = t.elapsed().as_secs_f64();
    black_box(at);
    secs * 1e9 / reads as f64
}
