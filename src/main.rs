//! The `repact-hw` command: a thin shell over the library. It parses arguments, calls the
//! library, and is the only place that prints errors and picks exit codes.

mod cli;

use repact_hw::error::exit_code;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(cli::Failure::Usage(e)) => {
            // clap formats its own message (with the usage line); help and version are not
            // errors and exit 0.
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(exit_code::USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(cli::Failure::Run(e)) => {
            if is_broken_pipe(&e) {
                // `repact-hw inspect | head`: the reader left; that is not our failure.
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn is_broken_pipe(e: &repact_hw::Error) -> bool {
    matches!(e, repact_hw::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}
