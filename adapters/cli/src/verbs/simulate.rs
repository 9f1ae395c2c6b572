//! `grantflow simulate`: the scenario runner's own arguments, parsed apart,
//! and its run.

use crate::error::{CliError, CliResult};

/// The scenario runner's arguments, parsed on their own.
#[derive(Debug, clap::Parser)]
#[command(
    name = "grantflow simulate",
    about = "Monte Carlo budget scenarios: many seeded trials of a programme, summarised as percentiles.",
    after_help = "Examples:\n  grantflow simulate --trials 200 --seed 7\n  grantflow simulate --applicants 800 --json"
)]
struct SimulateCli {
    #[command(flatten)]
    args: grantflow_scenarios::cli::SimulateArgs,
}

pub(super) fn simulate(args: &[String]) -> CliResult<()> {
    use clap::Parser as _;
    let parsed = match SimulateCli::try_parse_from(
        std::iter::once("grantflow simulate".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(p) => p,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            out!("{e}");
            return Ok(());
        }
        Err(e) => return Err(crate::error::clap_usage(&e, Some("simulate"))),
    };
    let mut stdout = std::io::stdout().lock();
    grantflow_scenarios::cli::run(&parsed.args, &mut stdout)
        .map_err(|e| CliError::usage(format!("simulate: {e}")))
}
