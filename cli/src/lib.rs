//! The `bfactor` command as a library: [`run_from`] parses a command line and
//! runs it, so that the `bfactor` binary (a thin `main`) and the Python
//! package's `bfactor` console script run the same code, with the same
//! subcommands, output and exit statuses.
//!
//! The command's own documentation is `bfactor --help` (and `docs/cli.md`).
//!
//! ```no_run
//! // What `bfactor compare 1ubi.pdb` does; the exit status comes back.
//! let status = bfactor_cli::run_from(["bfactor", "compare", "1ubi.pdb"]);
//! assert_eq!(status, 0);
//! ```

mod annotate;
mod args;
mod commands;
mod compare;
mod input;
mod methods;
mod plot;
mod report;
mod table;

use std::ffi::OsString;

use bfactor::structure::gnm::GnmConfig;
use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command};
use crate::report::Exit;

/// Exit status of a run in which every input succeeded.
pub const EXIT_SUCCESS: i32 = 0;
/// Exit status of a run in which an input failed (the others went on) or a
/// fatal error stopped the run.
pub const EXIT_FAILURE: i32 = 1;
/// Exit status of a usage error (as clap reports it).
pub const EXIT_USAGE: i32 = 2;

/// Runs the `bfactor` command on `args` (the program name first, as in
/// [`std::env::args_os`]) and returns its exit status: [`EXIT_SUCCESS`],
/// [`EXIT_FAILURE`] or [`EXIT_USAGE`] (also `0` for `--help` and `--version`).
///
/// Output goes to standard output and errors to standard error, as the binary
/// writes them. The process is never exited from here, so a host (the Python
/// package) keeps running.
pub fn run_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that print to stdout, status 0.
            let _ = e.print();
            return e.exit_code();
        }
    };
    if let Some(jobs) = cli.jobs {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(jobs))
            .build_global()
        {
            eprintln!("error: cannot start {jobs} threads: {e}");
            return EXIT_FAILURE;
        }
    }
    match run(&cli) {
        Ok(0) => EXIT_SUCCESS,
        Ok(failures) => {
            if !cli.quiet {
                let s = if failures == 1 { "" } else { "s" };
                eprintln!("{failures} input{s} failed");
            }
            EXIT_FAILURE
        }
        Err(Exit::Usage(message)) => {
            let e = Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message);
            let _ = e.print();
            e.exit_code()
        }
        Err(Exit::Fatal(message)) => {
            eprintln!("error: {message}");
            EXIT_FAILURE
        }
    }
}

/// The tables of `bfactor predict --table parquet` as Arrow IPC stream bytes
/// (tokens, files), for the predictor's values on every structure of `paths`
/// (files, directories, tar archives, as the command takes them; tokens one
/// per amino acid at CA, or Boltz-2's with `boltz2_tokens`), computed on the
/// current rayon pool. A file that fails is a row of the file table with status
/// `error` and its message; the number of such rows comes third.
///
/// # Errors
/// What stops the whole batch (standard input named without a format), as a
/// message.
pub fn predict_tables(
    paths: &[std::path::PathBuf],
    predictor: bfactor::structure::predict::Predictor,
    boltz2_tokens: bool,
) -> Result<(Vec<u8>, Vec<u8>, usize), String> {
    let message = |e: Exit| match e {
        Exit::Usage(m) | Exit::Fatal(m) => m,
    };
    let expanded = input::expand(paths).map_err(message)?;
    let read = args::ReadArgs {
        input_format: None,
        tokens: if boltz2_tokens {
            args::TokenChoice::Boltz2
        } else {
            args::TokenChoice::Ca
        },
        b_column: args::BColumnChoice::Detect,
    };
    let reader = input::Reader::new(&read, &expanded.inputs).map_err(message)?;
    let model = annotate::Model::Predictor(predictor);
    let (tokens, files, failures) = annotate::tabulate(&expanded, &reader, &model, true);
    let tokens = table::record_batch(table::TOKEN_COLUMNS, &tokens)?;
    let files = table::record_batch(table::FILE_COLUMNS, &files)?;
    Ok((
        table::ipc_bytes(&tokens)?,
        table::ipc_bytes(&files)?,
        failures,
    ))
}

fn run(cli: &Cli) -> Result<usize, Exit> {
    match &cli.command {
        Command::Predict(a) => {
            let predictor = methods::predictor(a.weights.as_deref()).map_err(Exit::Fatal)?;
            let model = if a.per_atom {
                if predictor.atom_model().is_none() {
                    return Err(Exit::Fatal(
                        "--per-atom: these weights have no per-atom model (train them again \
                         with this version, or use the bundled predictor)"
                            .into(),
                    ));
                }
                annotate::Model::PredictorAtoms(predictor)
            } else {
                annotate::Model::Predictor(predictor)
            };
            annotate::run(&a.input, &a.output, &model, cli.quiet)
        }
        Command::Gnm(a) => {
            let config = GnmConfig::new().with_cutoff(a.cutoff);
            config
                .validate()
                .map_err(|e| Exit::Usage(format!("--cutoff: {e}")))?;
            let model = annotate::Model::Gnm {
                config,
                scale: a.scale,
            };
            annotate::run(&a.input, &a.output, &model, cli.quiet)
        }
        Command::Compare(a) => compare::run(a, cli.quiet),
        Command::Plot(a) => commands::plot(a, cli.quiet),
        Command::Train(a) => commands::train(a, cli.quiet),
        Command::PlddtToB(a) => commands::plddt_to_b(a, cli.quiet),
    }
}
