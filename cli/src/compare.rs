//! `bfactor compare`: Pearson's r of each method against each chain's own
//! experimental B-factors, or, labelled as such, a cryo-EM map's B-factors, an
//! NMR ensemble's spread, or a predicted model's pLDDT (never passed off as
//! experiment: their means are apart).

use std::io::Write as _;

use bfactor::structure::gnm::GnmConfig;
use bfactor::structure::predict::Predictor;
use serde::Serialize;

use crate::args::{CompareArgs, CompareTable, Method};
use crate::input::{collect, Reader};
use crate::methods::{self, Reference};
use crate::report::{Batch, Exit};
use crate::table::{self, Tabled};

/// One chain's correlations.
#[derive(Debug, Clone, Serialize)]
pub struct ChainRow {
    file: String,
    chain: String,
    /// Where the file comes from (`X-ray (1.80 Å)`, `predicted (AlphaFold DB)`).
    provenance: String,
    /// What the correlations are against: `experiment`, `cryo-EM B`, `NMR
    /// ensemble` or `pLDDT`.
    reference: &'static str,
    /// Tokens with a reference value.
    tokens: usize,
    predictor: Option<f64>,
    gnm: Option<f64>,
    inverse_wcn: Option<f64>,
    atom_wcn: Option<f64>,
}

/// The mean of each column over the chains of one reference where it has a
/// value.
#[derive(Debug, Clone, Serialize)]
struct Means {
    reference: &'static str,
    chains: usize,
    predictor: Option<f64>,
    predictor_chains: usize,
    gnm: Option<f64>,
    gnm_chains: usize,
    inverse_wcn: Option<f64>,
    inverse_wcn_chains: usize,
    atom_wcn: Option<f64>,
    atom_wcn_chains: usize,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    chains: &'a [ChainRow],
    /// Against experiment (X-ray, or unknown origin).
    mean: &'a Means,
    /// Against every other reference, each apart.
    other_means: &'a [Means],
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
    bfactor::structure::features::WcnConfig::new()
        .with_blur(args.blur)
        .validate()
        .map_err(|e| Exit::Usage(format!("--blur: {e}")))?;
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
        let Some((reference, exp)) = methods::reference(&st) else {
            return Err(format!(
                "nothing to compare with: no experimental B-factors (all 0, as in NMR \
                 files), no ensemble of models, no pLDDT ({})",
                st.provenance()
            ));
        };
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
        let atom_wcn = if wants(Method::AtomWcn) {
            Some(methods::atom_wcn_values(&st, args.blur)?)
        } else {
            None
        };
        let file = input.display();
        let mut tabled = Tabled::default();
        if parquet.is_some() {
            // The table's experimental B and per-chain r are against experiment
            // only (a predicted model's pLDDT has a column of its own).
            let experimental = methods::experimental(&st);
            for (method, v) in [
                ("predictor", &pred),
                ("gnm", &gnm),
                ("inverse_wcn", &wcn),
                ("atom_wcn", &atom_wcn),
            ] {
                if let Some(v) = v {
                    tabled.add(&file, &st, &experimental, method, v);
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
                    provenance: st.provenance().to_string(),
                    reference: reference.label(),
                    tokens: r.clone().filter(|&i| exp.defined[i]).count(),
                    predictor: r_of(&pred),
                    gnm: r_of(&gnm),
                    inverse_wcn: r_of(&wcn),
                    atom_wcn: r_of(&atom_wcn),
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
    let means_of = |reference: Reference| {
        let of: Vec<&ChainRow> = rows
            .iter()
            .filter(|r| r.reference == reference.label())
            .collect();
        let (predictor, predictor_chains) = column_mean(of.iter().map(|r| r.predictor));
        let (gnm, gnm_chains) = column_mean(of.iter().map(|r| r.gnm));
        let (inverse_wcn, inverse_wcn_chains) = column_mean(of.iter().map(|r| r.inverse_wcn));
        let (atom_wcn, atom_wcn_chains) = column_mean(of.iter().map(|r| r.atom_wcn));
        Means {
            reference: reference.label(),
            chains: of.len(),
            predictor,
            predictor_chains,
            gnm,
            gnm_chains,
            inverse_wcn,
            inverse_wcn_chains,
            atom_wcn,
            atom_wcn_chains,
        }
    };
    let means = means_of(Reference::Experiment);
    let other_means: Vec<Means> = [Reference::CryoEm, Reference::NmrEnsemble, Reference::Plddt]
        .into_iter()
        .map(means_of)
        .filter(|m| m.chains > 0)
        .collect();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let failed = |e: std::io::Error| Exit::Fatal(format!("cannot write to standard output: {e}"));
    if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &JsonOut {
                chains: &rows,
                mean: &means,
                other_means: &other_means,
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
            for m in std::iter::once(&means).chain(&other_means) {
                if m.chains > 0 || other_means.is_empty() {
                    eprintln!("{}", mean_line(m, &args.methods));
                }
            }
        }
    } else {
        out.write_all(table(&rows, &means, &other_means, &args.methods).as_bytes())
            .map_err(failed)?;
    }
    out.flush().map_err(failed)?;
    Ok(batch.failures())
}

fn mean_line(m: &Means, methods: &[Method]) -> String {
    let mut parts = Vec::new();
    let shown = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
    for method in [Method::Predictor, Method::Gnm, Method::Wcn, Method::AtomWcn] {
        if !methods.contains(&method) {
            continue;
        }
        let (name, v, n) = match method {
            Method::Predictor => ("predictor", m.predictor, m.predictor_chains),
            Method::Gnm => ("gnm", m.gnm, m.gnm_chains),
            Method::Wcn => ("1/wcn", m.inverse_wcn, m.inverse_wcn_chains),
            Method::AtomWcn => ("atom 1/wcn", m.atom_wcn, m.atom_wcn_chains),
        };
        parts.push(format!("{name} {} ({n} chains)", shown(v)));
    }
    format!(
        "mean Pearson r against {} over {} chains: {}",
        against(m.reference),
        m.chains,
        parts.join(", ")
    )
}

/// How a mean line names its reference.
fn against(reference: &str) -> String {
    if reference == Reference::Plddt.label() {
        "pLDDT (confidence, not experiment)".into()
    } else {
        reference.to_string()
    }
}

/// The readable table: one line per chain, the means last.
fn table(rows: &[ChainRow], means: &Means, other: &[Means], methods: &[Method]) -> String {
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
        (Method::AtomWcn, "atom-wcn"),
    ]
    .into_iter()
    .filter(|(m, _)| methods.contains(m))
    .collect();
    let value = |r: &ChainRow, m: Method| match m {
        Method::Predictor => r.predictor,
        Method::Gnm => r.gnm,
        Method::Wcn => r.inverse_wcn,
        Method::AtomWcn => r.atom_wcn,
    };
    let cell = |v: Option<f64>| v.map_or(format!("{:>9}", "-"), |v| format!("{v:>9.3}"));
    let reference_width = rows
        .iter()
        .map(|r| r.reference.chars().count())
        .chain(std::iter::once(9))
        .max()
        .unwrap_or(9);
    let mut s = format!(
        "{:<file_width$}  {:<chain_width$}  {:<reference_width$}  {:>6}",
        "file", "chain", "reference", "tokens"
    );
    for (_, name) in &columns {
        s.push_str(&format!("  {name:>9}"));
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "{:<file_width$}  {:<chain_width$}  {:<reference_width$}  {:>6}",
            r.file, r.chain, r.reference, r.tokens
        ));
        for (m, _) in &columns {
            s.push_str(&format!("  {}", cell(value(r, *m))));
        }
        s.push('\n');
    }
    for m in std::iter::once(means).chain(other) {
        if m.chains == 0 && !other.is_empty() {
            continue;
        }
        let label = format!(
            "mean over {} chains, against {}",
            m.chains,
            against(m.reference)
        );
        s.push_str(&format!(
            "{label:<width$}",
            width = file_width + chain_width + reference_width + 12
        ));
        for (method, _) in &columns {
            let v = match method {
                Method::Predictor => m.predictor,
                Method::Gnm => m.gnm,
                Method::Wcn => m.inverse_wcn,
                Method::AtomWcn => m.atom_wcn,
            };
            s.push_str(&format!("  {}", cell(v)));
        }
        s.push('\n');
    }
    s
}
