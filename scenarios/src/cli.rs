//! The `simulate` command, for the `grantflow` binary: [`SimulateArgs`]
//! (clap arguments) and [`run`], which loads the scenario, applies the
//! overrides and variations, runs the trials with a progress bar on a
//! terminal, and prints a percentile table, JSON or CSV, and writes plots.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plot::{PlotError, write_plots};
use crate::report::{summary_json, table, to_csv, to_json};
use crate::scenario::{Scenario, ScenarioError, Vary, variants};
use crate::sim::{SimError, Simulation, simulate};

/// `grantflow simulate [SCENARIO] [--trials N] [--seed S] [--applicants N] [--vary key=v1,v2]... [--json [--per-trial]|--csv] [--plots DIR]`
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML); the 2020 default scenario when absent.
    pub scenario: Option<PathBuf>,
    /// Trials per variant (overrides the scenario's `run.trials`).
    #[arg(long)]
    pub trials: Option<u32>,
    /// Seed (overrides `run.seed`); the same seed gives the same results.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Applicants per trial (overrides `population.applicants`).
    #[arg(long)]
    pub applicants: Option<u32>,
    /// Compare values of one parameter, e.g. `allocation.policy=skip_ahead,strict`; repeat to combine.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Print the summary (the table's percentiles) as JSON; with --per-trial, the raw per-trial results.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// With --json: print every trial's results instead of the summary.
    #[arg(long, requires = "json")]
    pub per_trial: bool,
    /// Print the raw per-trial results as CSV.
    #[arg(long)]
    pub csv: bool,
    /// Write the fan chart and the histogram (SVG and PNG) of each variant into this folder.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Worker threads (default: rayon's choice, `RAYON_NUM_THREADS` or one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Why `simulate` failed.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("`--vary {0}`")]
    Vary(String),
    #[error(transparent)]
    Simulation(#[from] SimError),
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("cannot start {0} worker threads")]
    Threads(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Loads the scenario named by `args` and applies its overrides (not the variations).
pub fn scenario(args: &SimulateArgs) -> Result<Scenario, SimulateError> {
    let mut s = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default_2020(),
    };
    if let Some(t) = args.trials {
        s.set("run.trials", &t.to_string())?;
    }
    if let Some(seed) = args.seed {
        s.set("run.seed", &seed.to_string())?;
    }
    if let Some(n) = args.applicants {
        s.set("population.applicants", &n.to_string())?;
    }
    Ok(s)
}

/// Runs the simulation `args` describe and returns it (no output).
pub fn simulation(
    args: &SimulateArgs,
    progress: &(dyn Fn() + Sync),
) -> Result<Simulation, SimulateError> {
    let base = scenario(args)?;
    let vary = args
        .vary
        .iter()
        .map(|v| v.parse::<Vary>().map_err(SimulateError::Vary))
        .collect::<Result<Vec<_>, _>>()?;
    let vs = variants(&base, &vary)?;
    let go = || simulate(&vs, base.run.trials, base.run.seed, progress);
    Ok(match args.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| SimulateError::Threads(format!("{n}: {e}")))?
            .install(go)?,
        None => go()?,
    })
}

/// Runs `grantflow simulate`: prints a table of percentiles (side by side when
/// a parameter is varied), or `--json` the same summary (`--per-trial`: the
/// raw results) / `--csv` raw results, to `out`, and
/// writes plots when `--plots DIR` is given.
pub fn run(args: &SimulateArgs, out: &mut impl Write) -> Result<(), SimulateError> {
    let base = scenario(args)?;
    let vary_count: u64 = args
        .vary
        .iter()
        .filter_map(|v| v.parse::<Vary>().ok())
        .map(|v| v.values.len() as u64)
        .product();
    let total = u64::from(base.run.trials);
    let bar = if std::io::stderr().is_terminal() && std::io::stdout().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {pos}/{len} trials ({per_sec}, eta {eta}) {wide_bar}",
        ) {
            b.set_style(style);
        }
        if vary_count > 1 {
            b.set_message(format!("{vary_count} variants"));
        }
        b
    } else {
        ProgressBar::hidden()
    };
    let tick = || bar.inc(1);
    let sim = simulation(args, &tick)?;
    bar.finish_and_clear();
    if args.json && args.per_trial {
        writeln!(out, "{}", to_json(&sim))?;
    } else if args.json {
        writeln!(out, "{}", summary_json(&sim))?;
    } else if args.csv {
        write!(out, "{}", to_csv(&sim))?;
    } else {
        writeln!(out, "scenario: {}", base.name)?;
        write!(out, "{}", table(&sim))?;
    }
    if let Some(dir) = &args.plots {
        let paths = write_plots(&sim, dir)?;
        if !args.json && !args.csv {
            for p in paths {
                writeln!(out, "wrote {}", p.display())?;
            }
        }
    }
    Ok(())
}
