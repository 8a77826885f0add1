//! The command line: clap's derive definitions, with examples in `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::input::Shard;

const EXAMPLES: &str = "\
Examples:
  bfactor predict 1ubi.pdb -o 1ubi_predicted.pdb
  bfactor gnm structures/ -o gnm_out/ --cutoff 7.3
  bfactor compare data/set364/ --csv > pearson.csv
  bfactor plot 1ubi.cif -o 1ubi.svg
  bfactor train my_structures/ -o my_model.safetensors --epochs 50
  zcat 1ubi.pdb.gz | bfactor gnm - --input-format pdb -o - > 1ubi_gnm.pdb

PATH is a structure file (.pdb, .ent, .cif, .mmcif, each optionally .gz), a
directory (searched recursively for such files), a tar archive (.tar, .tar.gz,
.tgz: its structure members, read without unpacking, named ARCHIVE:MEMBER), or
- for standard input (with --input-format). --files-from LIST reads more PATHs from LIST (one per line),
and --shard K/N processes only part K of N of all inputs (contiguous parts, in
order). Files run in parallel. A file that fails is reported (file and
message) and the others go on; the exit status is then 1. Usage errors exit with
status 2. Outputs are written under a temporary name and renamed when complete,
and existing files are kept unless --force is given.";

const PREDICT_EXAMPLES: &str = "\
Examples:
  bfactor predict 1ubi.pdb                        per-chain summary only
  bfactor predict 1ubi.pdb -o 1ubi_pred.pdb       the prediction in the B column
  bfactor predict pdbs/ -o predicted/             one output file per input
  bfactor predict 3mht.pdb.gz -o out/ --format cif
  bfactor predict 1ubi.pdb --table csv > 1ubi.csv
  bfactor predict 1ubi.pdb --weights my_model.safetensors -o 1ubi_pred.pdb
  bfactor predict --files-from list.txt --shard 3/10 --table csv > part3.csv
  bfactor predict --files-from list.txt --shard 3/10 --table parquet -o part3.parquet";

const GNM_EXAMPLES: &str = "\
Examples:
  bfactor gnm 1ubi.pdb -o 1ubi_gnm.pdb            GNM B (fitted to the file's B) in the B column
  bfactor gnm pdbs/ -o gnm/ --cutoff 7.3          the classical 7.3 Å cutoff
  bfactor gnm model.pdb --scale none -o flucts.pdb   no experimental B: <ΔR²> as is
  bfactor gnm 1ubi.cif --table json > 1ubi.json";

const COMPARE_EXAMPLES: &str = "\
Examples:
  bfactor compare 1ubi.pdb 3mht.pdb.gz
  bfactor compare data/set364/ --csv > set364.csv
  bfactor compare pdbs/ --json --methods gnm,wcn --cutoff 7.3
  bfactor compare pdbs/ --table parquet -o compare.parquet

Each column is Pearson's r between a method's per-token values and the file's own
B column, per chain, over the tokens with an experimental B-factor. The last line
gives the mean of each column over all chains that have a value.";

const PLOT_EXAMPLES: &str = "\
Examples:
  bfactor plot 1ubi.pdb -o 1ubi.svg
  bfactor plot 3mht.pdb.gz -o 3mht.png --model gnm
  cat 1ubi.cif | bfactor plot - --input-format cif -o 1ubi.png";

const TRAIN_EXAMPLES: &str = "\
Examples:
  bfactor train crystal/ -o my_model.safetensors
  bfactor train crystal/ -o my_model.safetensors --epochs 40 --seed 7 --validation-fraction 0.2
  bfactor predict new.pdb --weights my_model.safetensors -o new_pred.pdb";

/// Predict crystallographic B-factors from structures, compare predictors and
/// the Gaussian network model with experiment, plot, and train.
#[derive(Debug, Parser)]
#[command(name = "bfactor", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
    /// No progress bar and no summary (errors are still reported).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Number of files processed at the same time (default: one per core).
    #[arg(short = 'j', long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Predict B-factors with the bundled structure predictor (or --weights)
    /// and write them into the B column.
    #[command(after_help = PREDICT_EXAMPLES)]
    Predict(PredictArgs),
    /// B-factors from the Gaussian network model (ProDy's GNM), fitted to each
    /// file's experimental B-factors, written into the B column.
    #[command(after_help = GNM_EXAMPLES)]
    Gnm(GnmArgs),
    /// Pearson's r of the predictor, the GNM and 1/WCN against each file's own
    /// B-factors, per chain, with the means over all chains.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Draw experimental and predicted B-factors along each chain (one panel
    /// per chain) to an SVG or PNG file.
    #[command(after_help = PLOT_EXAMPLES)]
    Plot(PlotArgs),
    /// Train the structure predictor on your own crystal structures (the code
    /// that made the bundled weights) and save the weights.
    #[command(after_help = TRAIN_EXAMPLES)]
    Train(TrainArgs),
    /// Turn a predicted model's pLDDT into B-factors for molecular replacement
    /// (Phenix's process_predicted_model convention), removing residues under
    /// a pLDDT threshold.
    #[command(name = "plddt-to-b", after_help = PLDDT_EXAMPLES)]
    PlddtToB(PlddtToBArgs),
}

const PLDDT_EXAMPLES: &str = "\
Examples:
  bfactor plddt-to-b AF-P69905-F1-model_v4.pdb -o search_model.pdb
  bfactor plddt-to-b fold_model_0.cif -o search_model.cif --min-plddt 50
  bfactor plddt-to-b model.cif -o all.cif --keep-all

Every atom's B becomes 8π²/3 · rmsd², rmsd = 1.5 · exp(4 · (0.7 − pLDDT/100)) Å
(pLDDT 70: 1.5 Å, 59.2 Å²). Residues whose mean pLDDT is under --min-plddt (70,
as Phenix) are removed. The output keeps the input's format and every other
record; a PDB column holds B up to 999.99 (pLDDT down to about 35): for lower
pLDDT kept with --keep-all, write mmCIF.";

/// `bfactor plddt-to-b`.
#[derive(Debug, Args)]
pub struct PlddtToBArgs {
    /// The predicted model (.pdb, .ent, .cif, .mmcif, optionally .gz).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// The search model: the input's format, optionally .gz.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Remove residues whose mean pLDDT is under this (0-100).
    #[arg(
        long,
        default_value_t = 70.0,
        value_name = "PLDDT",
        conflicts_with = "keep_all"
    )]
    pub min_plddt: f64,
    /// Keep every residue.
    #[arg(long)]
    pub keep_all: bool,
    /// Read the B column as pLDDT even if the file does not say it is a
    /// prediction.
    #[arg(long)]
    pub assume_plddt: bool,
    /// Overwrite an existing output.
    #[arg(long)]
    pub force: bool,
}

/// Where structures come from.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Structure files (.pdb, .ent, .cif, .mmcif, optionally .gz),
    /// directories (searched recursively), tar archives (.tar, .tar.gz,
    /// .tgz), or - for standard input.
    #[arg(required_unless_present = "files_from", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also read the PATHs listed in LIST, one per line, after those of the
    /// command line (- reads the list from standard input); blank lines and
    /// lines starting with # are skipped.
    #[arg(long, value_name = "LIST")]
    pub files_from: Option<PathBuf>,
    /// Process only part K of N of the inputs (after directories are expanded
    /// and --files-from read): the K-th of N contiguous runs of the ordered
    /// list, so that N jobs (K = 1..N) cover every input exactly once.
    #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// How structures are read.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The format of standard input (PATH `-`); gzip-compressed input is
    /// recognised by itself.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,
    /// How residues become tokens: one per amino acid at CA (the predictor's
    /// and the classical GNM's nodes, as `prody gnm`), or Boltz-2's tokens (one
    /// per standard residue or nucleotide at CB, CA for glycine, C4/C2 for
    /// nucleotides; one per ligand atom).
    #[arg(long, value_enum, default_value_t = TokenChoice::Ca, value_name = "MODE")]
    pub tokens: TokenChoice,
    /// What the B column holds: decided from each file (its experimental
    /// method, ModelCIF items, a predictor named in the header, or for a
    /// headerless file one value per residue in [0, 100]), B-factors, or
    /// pLDDT (a predicted model's confidence, 0-100 or 0-1).
    #[arg(long, value_enum, default_value_t = BColumnChoice::Detect, value_name = "WHAT")]
    pub b_column: BColumnChoice,
}

/// What the B column holds, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BColumnChoice {
    /// Decided from each file.
    Detect,
    /// B-factors.
    BFactor,
    /// pLDDT.
    Plddt,
}

/// A structure file format named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// PDB.
    Pdb,
    /// PDBx/mmCIF.
    #[value(alias = "mmcif")]
    Cif,
}

/// How residues become tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenChoice {
    /// One token per amino acid, at CA.
    Ca,
    /// Boltz-2 tokens.
    Boltz2,
}

/// An output structure format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// PDB.
    Pdb,
    /// PDBx/mmCIF.
    #[value(alias = "mmcif")]
    Cif,
    /// Gzip-compressed PDB.
    #[value(name = "pdb.gz")]
    PdbGz,
    /// Gzip-compressed mmCIF.
    #[value(name = "cif.gz")]
    CifGz,
}

impl OutputFormat {
    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Pdb => "pdb",
            OutputFormat::Cif => "cif",
            OutputFormat::PdbGz => "pdb.gz",
            OutputFormat::CifGz => "cif.gz",
        }
    }
}

/// A per-token table's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
    /// A Parquet file (-o OUT.parquet), with the per-file table (status,
    /// error, tokens, per-chain Pearson r) in OUT.files.parquet.
    Parquet,
}

/// Where predicted structures go.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write each structure with the values in its B column: a file for one
    /// input, a directory for several (or a directory input, or a name ending
    /// in /); - writes the structure to standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Output format (default: the input's format and compression).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,
    /// Overwrite existing output files.
    #[arg(long)]
    pub force: bool,
    /// Print the per-token values (file, chain, residue, name, experimental B,
    /// prediction) to standard output, instead of the summary; parquet writes
    /// them to -o OUT.parquet (and no structure), with a row per input file in
    /// OUT.files.parquet.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub table: Option<TableFormat>,
}

/// `bfactor predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Weights saved by `bfactor train` (default: the bundled predictor).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// Write a value per heavy atom into the structures (-o): side chains get
    /// their own B, not their residue's (--table stays per residue; the summary
    /// adds a per-atom line).
    #[arg(long, requires = "output")]
    pub per_atom: bool,
}

/// How GNM square fluctuations become B-factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GnmScale {
    /// Least-squares fit of k in B = k·<ΔR²> to the file's B column.
    Fit,
    /// <ΔR²> as is (γ = 1; for files without experimental B-factors).
    None,
}

/// `bfactor gnm`.
#[derive(Debug, Args)]
pub struct GnmArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Contact cutoff in Å (ProDy's default 10; 7.3 is the classical choice).
    #[arg(long, default_value_t = bfactor::structure::gnm::DEFAULT_CUTOFF, value_name = "Å")]
    pub cutoff: f64,
    /// What is written: B fitted to the file's B column, or <ΔR²> as is.
    #[arg(long, value_enum, default_value_t = GnmScale::Fit)]
    pub scale: GnmScale,
}

/// A method compared with experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// The structure predictor.
    Predictor,
    /// The Gaussian network model.
    Gnm,
    /// 1/WCN, the inverse weighted contact number (Σ 1/r² over the CA atoms).
    Wcn,
    /// gemmi's all-heavy-atom 1/WCN at each token's atom (Σ occupancy/r² over
    /// the heavy atoms within 15 Å, symmetry mates included; `--blur`).
    AtomWcn,
}

/// `bfactor compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Comma-separated values (one line per chain; means on standard error).
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// JSON: {"chains": [...], "mean": {...}}.
    #[arg(long)]
    pub json: bool,
    /// The methods to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Method::Predictor, Method::Gnm, Method::Wcn])]
    pub methods: Vec<Method>,
    /// Weights saved by `bfactor train` (default: the bundled predictor).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// GNM contact cutoff in Å.
    #[arg(long, default_value_t = bfactor::structure::gnm::DEFAULT_CUTOFF, value_name = "Å")]
    pub cutoff: f64,
    /// Gaussian smoothing σ of atom-wcn (gemmi wcn's --blur; 2 Å is its best
    /// setting on data/crystal), in Å.
    #[arg(long, value_name = "Å")]
    pub blur: Option<f64>,
    /// Write every method's per-token values to -o OUT.parquet (column
    /// method) and a row per input file with the per-chain Pearson r to
    /// OUT.files.parquet, instead of the per-chain table.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with_all = ["csv", "json"], requires = "output")]
    pub table: Option<CompareTable>,
    /// The Parquet file of --table parquet.
    #[arg(short, long, value_name = "OUT.parquet", requires = "table")]
    pub output: Option<PathBuf>,
    /// Overwrite an existing --table parquet output.
    #[arg(long)]
    pub force: bool,
}

/// `bfactor compare --table`'s formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareTable {
    /// A Parquet file.
    Parquet,
}

/// What `bfactor plot` draws against experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotModel {
    /// The structure predictor.
    Predictor,
    /// The Gaussian network model, fitted to the file's B column.
    Gnm,
}

/// `bfactor plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// One structure file, or - for standard input.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    #[command(flatten)]
    pub read: ReadArgs,
    /// The picture: OUT.svg or OUT.png.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// What is drawn against the experimental B-factors.
    #[arg(long, value_enum, default_value_t = PlotModel::Predictor)]
    pub model: PlotModel,
    /// Weights saved by `bfactor train` (default: the bundled predictor).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// GNM contact cutoff in Å (with --model gnm).
    #[arg(long, default_value_t = bfactor::structure::gnm::DEFAULT_CUTOFF, value_name = "Å")]
    pub cutoff: f64,
    /// Overwrite an existing picture.
    #[arg(long)]
    pub force: bool,
}

/// `bfactor train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where the weights are saved.
    #[arg(short, long, value_name = "WEIGHTS")]
    pub output: PathBuf,
    /// Passes over the training structures (default: the library's).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Seed of the initial weights and the validation split.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Share of the structures held out for validation.
    #[arg(long, value_name = "F")]
    pub validation_fraction: Option<f64>,
    /// Overwrite an existing weight file.
    #[arg(long)]
    pub force: bool,
}
