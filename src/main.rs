use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before anything opens a database (see the function for why).
    payerwatch::db::sqlite_process::disable_memory_statistics();
    let cli = payerwatch::cli::Cli::parse();
    match payerwatch::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
