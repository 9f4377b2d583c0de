use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = payerwatch::cli::Cli::parse();
    match payerwatch::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
