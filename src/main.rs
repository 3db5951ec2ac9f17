//! The `meshsim` command: parses arguments and maps errors to exit codes (0 ok, 1 a check
//! failed, 2 bad input or usage).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("meshsim: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
