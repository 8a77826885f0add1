//! `bfactor predict` and `bfactor gnm`: values per token, written into the B
//! column, summarised per chain or listed per token.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use bfactor::structure::gnm::GnmConfig;
use bfactor::structure::predict::Predictor;
use bfactor::structure::{self, FileFormat, Structure};

use crate::args::{GnmScale, InputArgs, OutputArgs, OutputFormat, TableFormat};
use crate::input::{collect, Input, Reader};
use crate::methods::{self, Values};
use crate::report::{Batch, Exit};
use crate::table::{self, Tabled, TokenRow};

/// What gives the values.
pub enum Model {
    /// The structure predictor.
    Predictor(Predictor),
    /// The structure predictor, per heavy atom in the structures written
    /// (`predict --per-atom`; summaries and tables stay per token).
    PredictorAtoms(Predictor),
    /// The Gaussian network model.
    Gnm {
        /// Cutoff and γ.
        config: GnmConfig,
        /// Fitted to experiment or not.
        scale: GnmScale,
    },
}

/// Where structures are written.
enum Target {
    /// Nowhere (summary or table only).
    None,
    /// To standard output, in this format.
    Stdout(FileFormat),
    /// One file per input: the destination of each.
    Files(Vec<PathBuf>),
}

struct FileResult {
    summary: String,
    table: Tabled,
    text: Option<String>,
}

fn format_of(f: OutputFormat) -> (FileFormat, bool) {
    match f {
        OutputFormat::Pdb => (FileFormat::Pdb, false),
        OutputFormat::Cif => (FileFormat::Mmcif, false),
        OutputFormat::PdbGz => (FileFormat::Pdb, true),
        OutputFormat::CifGz => (FileFormat::Mmcif, true),
    }
}

fn extension(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Pdb => "pdb",
        FileFormat::Mmcif => "cif",
    }
}

/// The output name of an input in an output directory: the input's name, or
/// its stem with the extension of `--format`.
fn output_name(input: &Input, format: Option<OutputFormat>, reader: &Reader) -> String {
    match input {
        Input::Stdin => {
            let ext = format
                .map(OutputFormat::extension)
                .unwrap_or_else(|| extension(reader.stdin_format().unwrap_or(FileFormat::Pdb)));
            format!("stdin.{ext}")
        }
        Input::File(path) => file_output_name(path, format),
        Input::Member(m) => file_output_name(Path::new(&m.name), format),
    }
}

/// The output name of the structure file `path` (its last component).
fn file_output_name(path: &Path, format: Option<OutputFormat>) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "structure.pdb".into());
    match format {
        None => name,
        Some(f) => {
            let base = name
                .strip_suffix(".gz")
                .or_else(|| name.strip_suffix(".GZ"))
                .unwrap_or(&name);
            let stem = Path::new(base)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| base.to_string());
            format!("{stem}.{}", f.extension())
        }
    }
}

/// Runs `bfactor predict` or `bfactor gnm`; returns the number of failures.
pub fn run(
    input: &InputArgs,
    output: &OutputArgs,
    model: &Model,
    quiet: bool,
) -> Result<usize, Exit> {
    if output.table == Some(TableFormat::Parquet) {
        return run_parquet(input, output, model, quiet);
    }
    let expanded = collect(input)?;
    let inputs = &expanded.inputs;
    let reader = Reader::new(&input.read, inputs)?;
    let target = target(output, &expanded, &reader)?;
    let batch = Batch::new(inputs.len(), quiet);
    for (path, message) in &expanded.problems {
        batch.fail(path, message);
    }
    let results = batch.run(inputs, |i, inp| {
        let dest = match &target {
            Target::Files(dests) => Some(dests[i].as_path()),
            _ => None,
        };
        if let Some(dest) = dest {
            if !output.force && dest.exists() {
                return Err(format!(
                    "{} exists (use --force to overwrite it)",
                    dest.display()
                ));
            }
        }
        let st = reader.read(inp)?;
        process(inp, &st, model, &target, dest, output)
    });

    // Structures to standard output, then the table or the summary.
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let write_failed =
        |e: std::io::Error| Exit::Fatal(format!("cannot write to standard output: {e}"));
    for r in results.iter().flatten() {
        if let Some(text) = &r.text {
            out.write_all(text.as_bytes()).map_err(write_failed)?;
        }
    }
    let rows = results.iter().flatten().flat_map(|r| r.table.tokens.iter());
    match output.table {
        Some(TableFormat::Csv) => {
            let mut w = csv::Writer::from_writer(&mut out);
            for row in rows {
                w.serialize(row)
                    .map_err(|e| Exit::Fatal(format!("cannot write the table: {e}")))?;
            }
            w.flush().map_err(write_failed)?;
        }
        Some(TableFormat::Json) => {
            let rows: Vec<&TokenRow> = rows.collect();
            serde_json::to_writer_pretty(&mut out, &rows)
                .map_err(|e| Exit::Fatal(format!("cannot write the table: {e}")))?;
            writeln!(out).map_err(write_failed)?;
        }
        Some(TableFormat::Parquet) => unreachable!("written by run_parquet"),
        None if !quiet => {
            for r in results.iter().flatten() {
                if matches!(target, Target::Stdout(_)) {
                    eprint!("{}", r.summary);
                } else {
                    out.write_all(r.summary.as_bytes()).map_err(write_failed)?;
                }
            }
        }
        None => {}
    }
    out.flush().map_err(write_failed)?;
    Ok(batch.failures())
}

/// `--table parquet -o OUT.parquet`: the token and file tables, no structure.
fn run_parquet(
    input: &InputArgs,
    output: &OutputArgs,
    model: &Model,
    quiet: bool,
) -> Result<usize, Exit> {
    let out = table::check_parquet_output(output.output.as_deref()).map_err(Exit::Usage)?;
    if output.format.is_some() {
        return Err(Exit::Usage(
            "--format names a structure format; --table parquet writes no structure".into(),
        ));
    }
    if let Some(kept) = table::kept(out, output.force, quiet) {
        return Ok(kept);
    }
    let expanded = collect(input)?;
    let reader = Reader::new(&input.read, &expanded.inputs)?;
    let (tokens, files, failures) = tabulate(&expanded, &reader, model, quiet);
    table::write_tables(out, output.force, quiet, &tokens, &files).map_err(Exit::Fatal)?;
    Ok(failures)
}

/// The token and file tables of `model` on every input, and how many inputs
/// failed.
pub fn tabulate(
    expanded: &crate::input::Inputs,
    reader: &Reader,
    model: &Model,
    quiet: bool,
) -> (Vec<TokenRow>, Vec<table::FileRow>, usize) {
    let batch = Batch::new(expanded.inputs.len(), quiet);
    for (path, message) in &expanded.problems {
        batch.fail(path, message);
    }
    let results = batch.run_results(&expanded.inputs, |_, inp| {
        let st = reader.read(inp)?;
        let exp = methods::experimental(&st);
        let (values, _) = values(model, &st, &exp)?;
        let mut t = Tabled::default();
        t.add(&inp.display(), &st, &exp, model.method(), &values);
        Ok(t)
    });
    let (tokens, files) = table::gather(&expanded.problems, &expanded.inputs, results);
    (tokens, files, batch.failures())
}

impl Model {
    /// The method's name in tables.
    pub fn method(&self) -> &'static str {
        match self {
            Model::Predictor(_) | Model::PredictorAtoms(_) => "predictor",
            Model::Gnm { .. } => "gnm",
        }
    }
}

/// The model's values on `st`, and what they are.
fn values(model: &Model, st: &Structure, exp: &Values) -> Result<(Values, String), String> {
    Ok(match model {
        Model::Predictor(p) | Model::PredictorAtoms(p) => {
            (methods::predicted(p, st)?, "predicted B".to_string())
        }
        Model::Gnm { config, scale } => {
            let sq = methods::gnm_fluctuations(st, config)?;
            match scale {
                GnmScale::Fit => {
                    let (k, v) = methods::gnm_fitted(&sq, exp)?;
                    (
                        v,
                        format!("GNM B = {k:.4}·<ΔR²> ({} Å cutoff)", config.cutoff),
                    )
                }
                GnmScale::None => (sq, format!("GNM <ΔR²> ({} Å cutoff)", config.cutoff)),
            }
        }
    })
}

/// Where the structures go, checked before any work.
fn target(
    output: &OutputArgs,
    expanded: &crate::input::Inputs,
    reader: &Reader,
) -> Result<Target, Exit> {
    let Some(out) = &output.output else {
        if output.format.is_some() {
            return Err(Exit::Usage("--format needs an output (-o OUT)".into()));
        }
        return Ok(Target::None);
    };
    let inputs = &expanded.inputs;
    let several = inputs.len() + expanded.problems.len() > 1 || expanded.batch;
    if out.as_os_str() == "-" {
        if several {
            return Err(Exit::Usage(
                "-o - (standard output) takes one input structure".into(),
            ));
        }
        if output.table.is_some() {
            return Err(Exit::Usage(
                "-o - and --table both write to standard output: choose one".into(),
            ));
        }
        let format = match output.format.map(format_of) {
            Some((_, true)) => {
                return Err(Exit::Usage(
                    "standard output is not compressed: use --format pdb or --format cif".into(),
                ))
            }
            Some((f, false)) => f,
            None => match inputs.first() {
                Some(Input::File(p)) => FileFormat::from_path(p)
                    .map(|(f, _)| f)
                    .unwrap_or(FileFormat::Pdb),
                _ => reader.stdin_format().unwrap_or(FileFormat::Pdb),
            },
        };
        return Ok(Target::Stdout(format));
    }
    let as_dir = several || out.is_dir() || out.to_string_lossy().ends_with('/');
    if !as_dir {
        let named = FileFormat::from_path(out).map_err(|_| {
            Exit::Usage(format!(
                "the output {} needs a structure file name (.pdb, .ent, .cif or .mmcif, \
                 optionally followed by .gz), or a directory name ending in /",
                out.display()
            ))
        })?;
        if let Some(f) = output.format {
            if format_of(f) != named {
                return Err(Exit::Usage(format!(
                    "--format {} disagrees with the output name {}",
                    f.extension(),
                    out.display()
                )));
            }
        }
        return Ok(Target::Files(vec![out.clone(); inputs.len()]));
    }
    let dests: Vec<PathBuf> = inputs
        .iter()
        .map(|i| out.join(output_name(i, output.format, reader)))
        .collect();
    let mut seen = std::collections::HashMap::new();
    for (i, d) in dests.iter().enumerate() {
        if let Some(j) = seen.insert(d.clone(), i) {
            return Err(Exit::Usage(format!(
                "{} and {} would both be written to {}: give them different names or run \
                 them separately",
                inputs[j].display(),
                inputs[i].display(),
                d.display()
            )));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| {
        Exit::Fatal(format!(
            "cannot create the directory {}: {e}",
            out.display()
        ))
    })?;
    Ok(Target::Files(dests))
}

fn process(
    input: &Input,
    st: &Structure,
    model: &Model,
    target: &Target,
    dest: Option<&Path>,
    output: &OutputArgs,
) -> Result<FileResult, String> {
    let exp = methods::experimental(st);
    if let (Model::PredictorAtoms(p), Target::Stdout(_) | Target::Files(_)) = (model, target) {
        return process_atoms(input, st, p, target, dest, output, &exp);
    }
    let (values, what) = values(model, st, &exp)?;
    let mut text = None;
    match (target, dest) {
        (Target::Stdout(format), _) => {
            text = Some(
                structure::write_string(st, &values.values, *format).map_err(|e| e.to_string())?,
            );
        }
        (_, Some(dest)) => crate::report::write_atomically(dest, output.force, |tmp| {
            structure::write(st, &values.values, tmp).map_err(|e| e.to_string())
        })?,
        _ => {}
    }
    let file = input.display();
    let summary = summary(&file, st, &values, &what, dest);
    let mut table = Tabled::default();
    if output.table.is_some() {
        table.add(&file, st, &exp, model.method(), &values);
    }
    Ok(FileResult {
        summary,
        table,
        text,
    })
}

/// [`process`] for `predict --per-atom` with structures to write: every heavy
/// atom of the amino-acid residues gets its own value, the summary says how
/// they correlate with the file's atoms.
fn process_atoms(
    input: &Input,
    st: &Structure,
    predictor: &Predictor,
    target: &Target,
    dest: Option<&Path>,
    output: &OutputArgs,
    exp: &Values,
) -> Result<FileResult, String> {
    let atoms = predictor.predict_atoms(st).map_err(|e| e.to_string())?;
    let mut text = None;
    match (target, dest) {
        (Target::Stdout(format), _) => {
            text = Some(
                structure::write_atoms_string(st, &atoms, *format).map_err(|e| e.to_string())?,
            );
        }
        (_, Some(dest)) => crate::report::write_atomically(dest, output.force, |tmp| {
            structure::write_atoms(st, &atoms, tmp).map_err(|e| e.to_string())
        })?,
        _ => {}
    }
    let values = Values {
        defined: vec![true; atoms.token_values.len()],
        values: atoms.token_values.clone(),
    };
    let file = input.display();
    let mut summary = summary(&file, st, &values, "predicted B", dest);
    if exp.defined.iter().any(|&d| d) {
        let rs = structure::per_atom::chain_pearsons(st, &atoms.sites, &atoms.values, 2)
            .map_err(|e| e.to_string())?;
        let n = atoms.sites.mask.iter().filter(|&&m| m > 0.0).count();
        if !rs.is_empty() {
            let mean = rs.iter().map(|r| r.1).sum::<f64>() / rs.len() as f64;
            let _ = writeln!(
                summary,
                "  per atom: {} heavy atoms predicted, mean per-chain r = {mean:.3} over the {n} \
                 with a B-factor",
                atoms.sites.atoms.len()
            );
        }
    }
    let mut table = Tabled::default();
    if output.table.is_some() {
        table.add(&file, st, exp, "predictor", &values);
    }
    Ok(FileResult {
        summary,
        table,
        text,
    })
}

fn summary(file: &str, st: &Structure, values: &Values, what: &str, dest: Option<&Path>) -> String {
    let chains = st.chains();
    let mut s = format!(
        "{file}: {} tokens in {} chain{}; {what}",
        st.tokens().len(),
        chains.len(),
        if chains.len() == 1 { "" } else { "s" }
    );
    if let Some(d) = dest {
        let _ = write!(s, " -> {}", d.display());
    }
    s.push('\n');
    if let Some(note) = methods::provenance_note(st) {
        let _ = writeln!(s, "  {note}");
    }
    let (reference, exp) = methods::reference(st)
        .unwrap_or((methods::Reference::Experiment, methods::experimental(st)));
    let (mean_label, r_label) = match reference {
        methods::Reference::Experiment => ("exp mean".to_string(), "Pearson r".to_string()),
        other => (
            format!("{} mean", other.label()),
            format!("r({})", other.label()),
        ),
    };
    let undefined = values.defined.iter().filter(|d| !**d).count();
    if undefined > 0 {
        let _ = writeln!(
            s,
            "  {undefined} token(s) without a value (missing atom or no contact), written as 0"
        );
    }
    let _ = writeln!(
        s,
        "  {:>5} {:>6} {:>10} {:>10} {:>9}",
        "chain", "tokens", mean_label, "mean", r_label
    );
    let num = |v: Option<f64>, width: usize, digits: usize| match v {
        Some(v) => format!("{v:>width$.digits$}"),
        None => format!("{:>width$}", "-"),
    };
    for c in &chains {
        let r = c.tokens.clone();
        let _ = writeln!(
            s,
            "  {:>5} {:>6} {} {} {}",
            c.id,
            r.len(),
            num(methods::mean(&exp, r.clone()), 10, 2),
            num(methods::mean(values, r.clone()), 10, 2),
            num(methods::pearson(values, &exp, r), 9, 3),
        );
    }
    s
}
