//! The `bfactor` command: B-factor prediction, the Gaussian network model and
//! their comparison with experiment on PDB and mmCIF files, one or thousands at
//! a time. `bfactor --help` lists the subcommands, each with examples.

mod annotate;
mod args;
mod commands;
mod compare;
mod input;
mod methods;
mod plot;
mod report;

use std::process::ExitCode;

use bfactor::structure::gnm::GnmConfig;
use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command};
use crate::report::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(jobs) = cli.jobs {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(jobs))
            .build_global()
        {
            eprintln!("error: cannot start {jobs} threads: {e}");
            return ExitCode::FAILURE;
        }
    }
    match run(&cli) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failures) => {
            if !cli.quiet {
                let s = if failures == 1 { "" } else { "s" };
                eprintln!("{failures} input{s} failed");
            }
            ExitCode::FAILURE
        }
        Err(Exit::Usage(message)) => Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit(),
        Err(Exit::Fatal(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<usize, Exit> {
    match &cli.command {
        Command::Predict(a) => {
            let predictor = methods::predictor(a.weights.as_deref()).map_err(Exit::Fatal)?;
            let model = annotate::Model::Predictor(predictor);
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
    }
}
