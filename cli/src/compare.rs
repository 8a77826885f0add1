//! `bfactor compare`: Pearson's r of each method against each chain's own
//! experimental B-factors.

use std::io::Write as _;

use bfactor::structure::gnm::GnmConfig;
use bfactor::structure::predict::Predictor;
use serde::Serialize;

use crate::args::{CompareArgs, CompareTable, Method};
use crate::input::{collect, Reader};
use crate::methods;
use crate::report::{Batch, Exit};
use crate::table::{self, Tabled};

/// One chain's correlations.
#[derive(Debug, Clone, Serialize)]
pub struct ChainRow {
    file: String,
    chain: String,
    /// Tokens with an experimental B-factor.
    tokens: usize,
    predictor: Option<f64>,
    gnm: Option<f64>,
    inverse_wcn: Option<f64>,
}

/// The mean of each column over the chains where it has a value.
#[derive(Debug, Clone, Serialize)]
struct Means {
    chains: usize,
    predictor: Option<f64>,
    predictor_chains: usize,
    gnm: Option<f64>,
    gnm_chains: usize,
    inverse_wcn: Option<f64>,
    inverse_wcn_chains: usize,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    chains: &'a [ChainRow],
    mean: Means,
}

fn column_mean(values: impl Iterator<Item = Option<f64>>) -> (Option<f64>, usize) {
    let (sum, n) = values
        .flatten()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    ((n > 0).then(|| sum / n as f64), n)
}

/// Runs `bfactor compare`; returns the number of failures.
pub fn run(args: &CompareArgs, quiet: bool) -> Result<usize, Exit> {
    let parquet = match args.table {
        Some(CompareTable::Parquet) => {
            let out = table::check_parquet_output(args.output.as_deref()).map_err(Exit::Usage)?;
            if let Some(kept) = table::kept(out, args.force, quiet) {
                return Ok(kept);
            }
            Some(out)
        }
        None => None,
    };
    let expanded = collect(&args.input)?;
    let inputs = &expanded.inputs;
    let reader = Reader::new(&args.input.read, inputs)?;
    let config = GnmConfig::new().with_cutoff(args.cutoff);
    config
        .validate()
        .map_err(|e| Exit::Usage(format!("--cutoff: {e}")))?;
    let wants = |m: Method| args.methods.contains(&m);
    let predictor: Option<Predictor> = if wants(Method::Predictor) {
        Some(methods::predictor(args.weights.as_deref()).map_err(Exit::Fatal)?)
    } else {
        None
    };
    let batch = Batch::new(inputs.len(), quiet);
    for (path, message) in &expanded.problems {
        batch.fail(path, message);
    }
    let results = batch.run_results(inputs, |_, input| {
        let st = reader.read(input)?;
        let exp = methods::experimental(&st);
        if !exp.defined.iter().any(|&d| d) {
            return Err(
                "no experimental B-factors to compare with (all 0, as in NMR or \
                        predicted models)"
                    .into(),
            );
        }
        let pred = match &predictor {
            Some(p) => Some(methods::predicted(p, &st)?),
            None => None,
        };
        let gnm = if wants(Method::Gnm) {
            Some(methods::gnm_fluctuations(&st, &config)?)
        } else {
            None
        };
        let wcn = if wants(Method::Wcn) {
            Some(methods::inverse_wcn_values(&st)?)
        } else {
            None
        };
        let file = input.display();
        let mut tabled = Tabled::default();
        if parquet.is_some() {
            for (method, v) in [("predictor", &pred), ("gnm", &gnm), ("inverse_wcn", &wcn)] {
                if let Some(v) = v {
                    tabled.add(&file, &st, &exp, method, v);
                }
            }
        }
        let rows = st
            .chains()
            .into_iter()
            .map(|c| {
                let r = c.tokens.clone();
                let r_of = |v: &Option<methods::Values>| {
                    v.as_ref()
                        .and_then(|v| methods::pearson(v, &exp, r.clone()))
                };
                ChainRow {
                    file: file.clone(),
                    chain: c.id.clone(),
                    tokens: r.clone().filter(|&i| exp.defined[i]).count(),
                    predictor: r_of(&pred),
                    gnm: r_of(&gnm),
                    inverse_wcn: r_of(&wcn),
                }
            })
            .collect::<Vec<_>>();
        Ok((rows, tabled))
    });
    if let Some(out) = parquet {
        let tables = results.into_iter().map(|r| r.map(|(_, t)| t));
        let (tokens, files) = table::gather(&expanded.problems, inputs, tables);
        table::write_tables(out, args.force, quiet, &tokens, &files).map_err(Exit::Fatal)?;
        return Ok(batch.failures());
    }
    let rows: Vec<ChainRow> = results
        .into_iter()
        .flatten()
        .flat_map(|(rows, _)| rows)
        .collect();
    let (predictor_mean, predictor_chains) = column_mean(rows.iter().map(|r| r.predictor));
    let (gnm_mean, gnm_chains) = column_mean(rows.iter().map(|r| r.gnm));
    let (wcn_mean, wcn_chains) = column_mean(rows.iter().map(|r| r.inverse_wcn));
    let means = Means {
        chains: rows.len(),
        predictor: predictor_mean,
        predictor_chains,
        gnm: gnm_mean,
        gnm_chains,
        inverse_wcn: wcn_mean,
        inverse_wcn_chains: wcn_chains,
    };

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let failed = |e: std::io::Error| Exit::Fatal(format!("cannot write to standard output: {e}"));
    if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &JsonOut {
                chains: &rows,
                mean: means,
            },
        )
        .map_err(|e| Exit::Fatal(format!("cannot write the results: {e}")))?;
        writeln!(out).map_err(failed)?;
    } else if args.csv {
        let mut w = csv::Writer::from_writer(&mut out);
        for row in &rows {
            w.serialize(row)
                .map_err(|e| Exit::Fatal(format!("cannot write the results: {e}")))?;
        }
        w.flush().map_err(failed)?;
        if !quiet {
            eprintln!("{}", mean_line(&means, &args.methods));
        }
    } else {
        out.write_all(table(&rows, &means, &args.methods).as_bytes())
            .map_err(failed)?;
    }
    out.flush().map_err(failed)?;
    Ok(batch.failures())
}

fn mean_line(m: &Means, methods: &[Method]) -> String {
    let mut parts = Vec::new();
    let shown = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
    for method in [Method::Predictor, Method::Gnm, Method::Wcn] {
        if !methods.contains(&method) {
            continue;
        }
        let (name, v, n) = match method {
            Method::Predictor => ("predictor", m.predictor, m.predictor_chains),
            Method::Gnm => ("gnm", m.gnm, m.gnm_chains),
            Method::Wcn => ("1/wcn", m.inverse_wcn, m.inverse_wcn_chains),
        };
        parts.push(format!("{name} {} ({n} chains)", shown(v)));
    }
    format!(
        "mean Pearson r over {} chains: {}",
        m.chains,
        parts.join(", ")
    )
}

/// The readable table: one line per chain, the means last.
fn table(rows: &[ChainRow], means: &Means, methods: &[Method]) -> String {
    let file_width = rows
        .iter()
        .map(|r| r.file.chars().count())
        .chain(std::iter::once(4))
        .max()
        .unwrap_or(4);
    let chain_width = rows
        .iter()
        .map(|r| r.chain.chars().count())
        .chain(std::iter::once(5))
        .max()
        .unwrap_or(5);
    let columns: Vec<(Method, &str)> = [
        (Method::Predictor, "predictor"),
        (Method::Gnm, "gnm"),
        (Method::Wcn, "1/wcn"),
    ]
    .into_iter()
    .filter(|(m, _)| methods.contains(m))
    .collect();
    let value = |r: &ChainRow, m: Method| match m {
        Method::Predictor => r.predictor,
        Method::Gnm => r.gnm,
        Method::Wcn => r.inverse_wcn,
    };
    let cell = |v: Option<f64>| v.map_or(format!("{:>9}", "-"), |v| format!("{v:>9.3}"));
    let mut s = format!(
        "{:<file_width$}  {:<chain_width$}  {:>6}",
        "file", "chain", "tokens"
    );
    for (_, name) in &columns {
        s.push_str(&format!("  {name:>9}"));
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "{:<file_width$}  {:<chain_width$}  {:>6}",
            r.file, r.chain, r.tokens
        ));
        for (m, _) in &columns {
            s.push_str(&format!("  {}", cell(value(r, *m))));
        }
        s.push('\n');
    }
    let label = format!("mean over {} chains", means.chains);
    s.push_str(&format!(
        "{label:<width$}",
        width = file_width + chain_width + 10
    ));
    for (m, _) in &columns {
        let v = match m {
            Method::Predictor => means.predictor,
            Method::Gnm => means.gnm,
            Method::Wcn => means.inverse_wcn,
        };
        s.push_str(&format!("  {}", cell(v)));
    }
    s.push('\n');
    s
}
