//! A finance analyst's script: how many firms does the 2020 pot fund, and
//! when does it run dry, under three contingency reserves and both waitlist
//! policies? Every variant sees the same simulated applicants per trial.
//!
//! `cargo run -p grantflow-scenarios --release --example budget_scenarios`
use grantflow_scenarios::report::{OUTPUTS, spread};
use grantflow_scenarios::{Scenario, Vary, simulate, table, variants};

fn main() {
    let mut scenario = Scenario::default_2020();
    // Small enough to run in seconds; raise for tighter percentiles.
    scenario.run.trials = 100;
    let vary: Vec<Vary> = [
        "allocation.contingency=0,10000,25000",
        "allocation.policy=skip_ahead,strict",
    ]
    .iter()
    .filter_map(|v| v.parse().ok())
    .collect();
    let sim = match variants(&scenario, &vary)
        .map_err(|e| e.to_string())
        .and_then(|vs| simulate(&vs, scenario.run.trials, 2020, &|| {}).map_err(|e| e.to_string()))
    {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    print!("{}", table(&sim));
    let funded = OUTPUTS.iter().find(|o| o.name.starts_with("firms awarded"));
    let dry = OUTPUTS.iter().find(|o| o.name == "week pot exhausted");
    if let (Some(funded), Some(dry)) = (funded, dry) {
        println!("\nIn short (median of {} trials):", sim.trials);
        for v in &sim.variants {
            let f = spread(v, funded.get);
            let d = spread(v, dry.get);
            let week = if d.p50.is_finite() {
                format!("week {:.0}", d.p50)
            } else {
                "never".to_string()
            };
            println!(
                "  {:<60} {:>5.0} firms funded (p5-p95 {:.0}-{:.0}), pot runs dry {week}",
                v.label, f.p50, f.p5, f.p95
            );
        }
    }
}
