//! Runs `grantflow simulate` without the CLI crate:
//! `cargo run -p grantflow-scenarios --release --example simulate -- examples/scenario-2020.toml --trials 200`
use clap::Parser;
use grantflow_scenarios::SimulateArgs;

#[derive(Parser)]
#[command(
    name = "simulate",
    about = "Monte Carlo budget scenarios over the grantflow core"
)]
struct Cli {
    #[command(flatten)]
    args: SimulateArgs,
}

fn main() {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    if let Err(e) = grantflow_scenarios::cli::run(&cli.args, &mut out) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
