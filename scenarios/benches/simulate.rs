//! Benchmark: 1,000 trials of the 2020 programme with 1,000 applicants each,
//! full lifecycle, on 1 and on 2 threads. Run with
//! `cargo bench -p grantflow-scenarios --bench simulate` (add `-- TRIALS APPLICANTS` to change the size).
use std::time::Instant;

use grantflow_scenarios::{Scenario, simulate, variants};

// The `grantflow` binary uses the same allocator: trials allocate and free
// many small objects, which the system allocator handles poorly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let trials: u32 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let applicants: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let mut s = Scenario::default_2020();
    s.population.applicants = applicants;
    let vs = match variants(&s, &[]) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    // Warm-up: page in code and the allocator's arenas.
    let _ = simulate(&vs, 8, 1, &|| {});
    let mut results = Vec::new();
    for threads in [1usize, 2] {
        let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
            return;
        };
        let mut best = f64::INFINITY;
        let mut awarded = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let sim = pool.install(|| simulate(&vs, trials, 2020, &|| {}));
            let secs = t.elapsed().as_secs_f64();
            best = best.min(secs);
            if let Ok(sim) = sim {
                awarded = sim.variants[0]
                    .trials
                    .iter()
                    .map(|t| u64::from(t.awarded))
                    .sum::<u64>();
            }
        }
        println!(
            "{trials} trials x {applicants} applicants, {threads} thread(s): best of 3 {best:.3} s ({:.2} ms/trial; {awarded} awards in all)",
            best * 1000.0 / f64::from(trials.max(1))
        );
        results.push(best);
    }
    if let [one, two] = results[..] {
        println!("speed-up 1 -> 2 threads: {:.2}x", one / two);
    }
}
