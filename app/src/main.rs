//! `easel`: opens the studio, or runs a command-line command.

use clap::Parser;
use easel::cli;

fn main() {
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(
        args.command
            .unwrap_or_else(|| cli::Command::Studio(Default::default())),
    ) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
