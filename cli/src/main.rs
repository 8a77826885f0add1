//! The `bfactor` command: B-factor prediction, the Gaussian network model and
//! their comparison with experiment on PDB and mmCIF files, one or thousands at
//! a time. `bfactor --help` lists the subcommands, each with examples.

use std::process::ExitCode;

fn main() -> ExitCode {
    let status = bfactor_cli::run_from(std::env::args_os());
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}
