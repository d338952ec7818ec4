//! The `repact-hw` command: a thin shell over the library. It parses arguments, calls the
//! library, and is the only place that prints errors and picks exit codes.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
