use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before any other thread starts and anything opens a database (see the functions
    // for why).
    payerwatch::allocator::bound_large_allocations();
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
