//! The tables every command builds: one row per token ([`TokenRow`]) and one
//! row per input file ([`FileRow`], a failed file included), written as CSV or
//! JSON (`--table csv|json`, tokens only), as Parquet (`--table parquet -o
//! OUT.parquet`, with the file table in `OUT.files.parquet`), or as Arrow IPC
//! bytes (the Python package's `predict_files`).
//!
//! Each table's columns are listed once, in [`TOKEN_COLUMNS`] and
//! [`FILE_COLUMNS`]: a column is a name and how a row gives its value, so a new
//! column is a field of the row and one line of its list.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
    UInt64Array,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields, Schema};
use bfactor::structure::Structure;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::input::Input;
use crate::methods::{self, Values};
use crate::report::write_atomically;

/// One token's values from one method.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRow {
    /// The input, as messages name it (`ARCHIVE:MEMBER` for a tar member).
    pub file: String,
    /// Chain identifier.
    pub chain: String,
    /// Residue sequence number.
    pub residue_number: isize,
    /// Insertion code (empty if none).
    pub insertion_code: String,
    /// Residue name.
    pub residue_name: String,
    /// The token's representative atom (`atom` in Parquet).
    pub atom_name: String,
    /// The file's B-factor, `None` where the library's mask drops it (no
    /// experimental B: all zero, as in NMR or predicted models).
    pub experimental_b: Option<f64>,
    /// A predicted model's pLDDT (its B column, 0-100), `None` for other files.
    pub plddt: Option<f64>,
    /// Where the file comes from (`X-ray (1.80 Å)`, `predicted (AlphaFold
    /// DB)`; Parquet only).
    #[serde(skip)]
    pub provenance: String,
    /// The method: `predictor`, `gnm`, `inverse_wcn` or `atom_wcn` (Parquet only).
    #[serde(skip)]
    pub method: &'static str,
    /// The method's value, `None` where it has none.
    pub prediction: Option<f64>,
}

/// One chain's agreement of one method with experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainStat {
    /// Chain identifier.
    pub chain: String,
    /// The method, as in [`TokenRow::method`].
    pub method: &'static str,
    /// The chain's tokens with an experimental B-factor.
    pub tokens: u64,
    /// Pearson's r of the method against experiment over those tokens.
    pub pearson: Option<f64>,
}

/// One input's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// The input, as in [`TokenRow::file`].
    pub file: String,
    /// `ok` or `error`.
    pub status: &'static str,
    /// Why the input failed.
    pub error: Option<String>,
    /// Its tokens (none for a failed input).
    pub tokens: Option<u64>,
    /// Where it comes from, as [`TokenRow::provenance`] (none for a failed
    /// input).
    pub provenance: Option<String>,
    /// Per chain and method, Pearson's r against experiment.
    pub chains: Vec<ChainStat>,
}

/// What one successfully processed input adds to the tables.
#[derive(Debug, Default)]
pub struct Tabled {
    /// Its token rows.
    pub tokens: Vec<TokenRow>,
    /// How many tokens the structure has.
    pub n_tokens: usize,
    /// Its provenance.
    pub provenance: String,
    /// Its per-chain statistics.
    pub chains: Vec<ChainStat>,
}

impl Tabled {
    /// Adds the rows and per-chain statistics of `method`'s `values` on `st`.
    pub fn add(
        &mut self,
        file: &str,
        st: &Structure,
        exp: &Values,
        method: &'static str,
        values: &Values,
    ) {
        self.n_tokens = st.tokens().len();
        self.provenance = st.provenance().to_string();
        let plddt = st.plddt();
        self.tokens
            .extend(st.tokens().iter().enumerate().map(|(i, t)| TokenRow {
                file: file.to_string(),
                chain: t.chain.clone(),
                residue_number: t.residue_number,
                insertion_code: t.insertion_code.clone().unwrap_or_default(),
                residue_name: t.residue_name.clone(),
                atom_name: t.atom_name.clone(),
                experimental_b: exp.defined[i].then(|| exp.values[i]),
                plddt: plddt.as_ref().map(|p| p[i]).filter(|p| p.is_finite()),
                provenance: self.provenance.clone(),
                method,
                prediction: values.defined[i].then(|| values.values[i]),
            }));
        self.chains
            .extend(st.chains().into_iter().map(|c| ChainStat {
                chain: c.id.clone(),
                method,
                tokens: c.tokens.clone().filter(|&i| exp.defined[i]).count() as u64,
                pearson: methods::pearson(values, exp, c.tokens.clone()),
            }));
    }
}

/// The two tables of a batch: the problems of the input list first (paths
/// that gave no structure), then every input in order, a failed one as a row
/// with status `error` and its message.
pub fn gather(
    problems: &[(String, String)],
    inputs: &[Input],
    results: impl IntoIterator<Item = Result<Tabled, String>>,
) -> (Vec<TokenRow>, Vec<FileRow>) {
    let mut tokens = Vec::new();
    let mut files: Vec<FileRow> = problems
        .iter()
        .map(|(path, message)| FileRow::error(path, message))
        .collect();
    for (input, result) in inputs.iter().zip(results) {
        let file = input.display();
        match result {
            Ok(t) => {
                files.push(FileRow {
                    file,
                    status: "ok",
                    error: None,
                    tokens: Some(t.n_tokens as u64),
                    provenance: Some(t.provenance),
                    chains: t.chains,
                });
                tokens.extend(t.tokens);
            }
            Err(message) => files.push(FileRow::error(&file, &message)),
        }
    }
    (tokens, files)
}

impl FileRow {
    fn error(file: &str, message: &str) -> FileRow {
        FileRow {
            file: file.to_string(),
            status: "error",
            error: Some(message.to_string()),
            tokens: None,
            provenance: None,
            chains: Vec::new(),
        }
    }
}

/// How a row gives a column's value.
pub enum Get<R> {
    /// Text, never null.
    Text(fn(&R) -> &str),
    /// Text or null.
    MaybeText(fn(&R) -> Option<&str>),
    /// A signed integer, never null.
    Int(fn(&R) -> i64),
    /// A count or null.
    MaybeCount(fn(&R) -> Option<u64>),
    /// A float or null.
    MaybeFloat(fn(&R) -> Option<f64>),
    /// A list of per-chain statistics.
    Chains(fn(&R) -> &[ChainStat]),
}

/// A column: its name and how a row gives its value.
pub struct Column<R> {
    /// The column's name.
    pub name: &'static str,
    /// Its values.
    pub get: Get<R>,
}

/// The token table's columns.
pub const TOKEN_COLUMNS: &[Column<TokenRow>] = &[
    Column {
        name: "file",
        get: Get::Text(|r| &r.file),
    },
    Column {
        name: "chain",
        get: Get::Text(|r| &r.chain),
    },
    Column {
        name: "residue_number",
        get: Get::Int(|r| r.residue_number as i64),
    },
    Column {
        name: "insertion_code",
        get: Get::Text(|r| &r.insertion_code),
    },
    Column {
        name: "residue_name",
        get: Get::Text(|r| &r.residue_name),
    },
    Column {
        name: "atom",
        get: Get::Text(|r| &r.atom_name),
    },
    Column {
        name: "experimental_b",
        get: Get::MaybeFloat(|r| r.experimental_b),
    },
    Column {
        name: "plddt",
        get: Get::MaybeFloat(|r| r.plddt),
    },
    Column {
        name: "provenance",
        get: Get::Text(|r| &r.provenance),
    },
    Column {
        name: "method",
        get: Get::Text(|r| r.method),
    },
    Column {
        name: "prediction",
        get: Get::MaybeFloat(|r| r.prediction),
    },
];

/// The file table's columns.
pub const FILE_COLUMNS: &[Column<FileRow>] = &[
    Column {
        name: "file",
        get: Get::Text(|r| &r.file),
    },
    Column {
        name: "status",
        get: Get::Text(|r| r.status),
    },
    Column {
        name: "error",
        get: Get::MaybeText(|r| r.error.as_deref()),
    },
    Column {
        name: "tokens",
        get: Get::MaybeCount(|r| r.tokens),
    },
    Column {
        name: "provenance",
        get: Get::MaybeText(|r| r.provenance.as_deref()),
    },
    Column {
        name: "chains",
        get: Get::Chains(|r| &r.chains),
    },
];

fn chain_fields() -> Fields {
    Fields::from(vec![
        Field::new("chain", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new("tokens", DataType::UInt64, false),
        Field::new("pearson", DataType::Float64, true),
    ])
}

fn chains_array(stats: Vec<&[ChainStat]>) -> ArrayRef {
    let all: Vec<&ChainStat> = stats.iter().flat_map(|s| s.iter()).collect();
    let values = StructArray::new(
        chain_fields(),
        vec![
            Arc::new(StringArray::from_iter_values(
                all.iter().map(|s| s.chain.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(all.iter().map(|s| s.method))),
            Arc::new(UInt64Array::from_iter_values(all.iter().map(|s| s.tokens))),
            Arc::new(Float64Array::from_iter(all.iter().map(|s| s.pearson))),
        ],
        None,
    );
    Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(
            DataType::Struct(chain_fields()),
            false,
        )),
        OffsetBuffer::from_lengths(stats.iter().map(|s| s.len())),
        Arc::new(values),
        None,
    ))
}

/// `rows` as one Arrow record batch of `columns`.
pub fn record_batch<R>(columns: &[Column<R>], rows: &[R]) -> Result<RecordBatch, String> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for c in columns {
        let (data_type, nullable, array): (DataType, bool, ArrayRef) = match &c.get {
            Get::Text(f) => (
                DataType::Utf8,
                false,
                Arc::new(StringArray::from_iter_values(rows.iter().map(f))),
            ),
            Get::MaybeText(f) => (
                DataType::Utf8,
                true,
                Arc::new(StringArray::from_iter(rows.iter().map(f))),
            ),
            Get::Int(f) => (
                DataType::Int64,
                false,
                Arc::new(Int64Array::from_iter_values(rows.iter().map(f))),
            ),
            Get::MaybeCount(f) => (
                DataType::UInt64,
                true,
                Arc::new(UInt64Array::from_iter(rows.iter().map(f))),
            ),
            Get::MaybeFloat(f) => (
                DataType::Float64,
                true,
                Arc::new(Float64Array::from_iter(rows.iter().map(f))),
            ),
            Get::Chains(f) => (
                DataType::List(Arc::new(Field::new_list_field(
                    DataType::Struct(chain_fields()),
                    false,
                ))),
                false,
                chains_array(rows.iter().map(f).collect()),
            ),
        };
        fields.push(Field::new(c.name, data_type, nullable));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| format!("cannot build the table: {e}"))
}

/// Writes `batch` as a Parquet file (Snappy) at `path`.
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), String> {
    let failed = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| failed(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| failed(&e))?;
    w.write(batch).map_err(|e| failed(&e))?;
    w.close().map_err(|e| failed(&e))?;
    Ok(())
}

/// `batch` as the bytes of an Arrow IPC stream.
pub fn ipc_bytes(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let failed = |e: arrow_schema::ArrowError| format!("cannot encode the table: {e}");
    let mut bytes = Vec::new();
    let mut w =
        arrow_ipc::writer::StreamWriter::try_new(&mut bytes, &batch.schema()).map_err(failed)?;
    w.write(batch).map_err(failed)?;
    w.finish().map_err(failed)?;
    drop(w);
    Ok(bytes)
}

/// The file table written next to the token table `out` (`OUT.parquet`):
/// `OUT.files.parquet`.
pub fn files_table_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    out.with_file_name(format!("{stem}.files.parquet"))
}

/// Checks `-o OUT` for `--table parquet`: a name ending in `.parquet`.
pub fn check_parquet_output(out: Option<&Path>) -> Result<&Path, String> {
    let out = out.ok_or("--table parquet needs an output file (-o OUT.parquet)")?;
    if !out.to_string_lossy().ends_with(".parquet") {
        return Err(format!(
            "--table parquet writes a file whose name ends in .parquet; got -o {}",
            out.display()
        ));
    }
    Ok(out)
}

/// With `out` already there and no `force`: says so (not with `quiet`) and
/// gives the run's number of failures, 0, since that run finished.
pub fn kept(out: &Path, force: bool, quiet: bool) -> Option<usize> {
    if force || !out.exists() {
        return None;
    }
    if !quiet {
        eprintln!(
            "{} exists: kept, nothing done (use --force to overwrite it)",
            out.display()
        );
    }
    Some(0)
}

/// Writes the file table, then the token table, each under a temporary name
/// renamed when complete: a token table on disk means a finished run. With
/// `force` an existing token table is replaced.
/// Then says what it wrote, unless `quiet`.
pub fn write_tables(
    out: &Path,
    force: bool,
    quiet: bool,
    tokens: &[TokenRow],
    files: &[FileRow],
) -> Result<(), String> {
    let token_batch = record_batch(TOKEN_COLUMNS, tokens)?;
    let file_batch = record_batch(FILE_COLUMNS, files)?;
    // The file table alone is what an interrupted run left: replaced.
    write_atomically(&files_table_path(out), true, |tmp| {
        write_parquet(tmp, &file_batch)
    })?;
    write_atomically(out, force, |tmp| write_parquet(tmp, &token_batch))?;
    if !quiet {
        eprintln!(
            "wrote {} ({} rows) and {} ({} files)",
            out.display(),
            tokens.len(),
            files_table_path(out).display(),
            files.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_table_sits_next_to_the_token_table() {
        assert_eq!(
            files_table_path(Path::new("out/shard-0003.parquet")),
            PathBuf::from("out/shard-0003.files.parquet")
        );
        assert!(check_parquet_output(Some(Path::new("a.csv"))).is_err());
        assert!(check_parquet_output(None).is_err());
    }

    #[test]
    fn chain_lists_keep_their_rows() {
        let stat = |chain: &str| ChainStat {
            chain: chain.into(),
            method: "gnm",
            tokens: 3,
            pearson: None,
        };
        let rows = vec![
            FileRow::error("bad.pdb", "no atoms"),
            FileRow {
                file: "ok.pdb".into(),
                status: "ok",
                error: None,
                tokens: Some(5),
                provenance: Some("X-ray".into()),
                chains: vec![stat("A"), stat("B")],
            },
        ];
        let batch = record_batch(FILE_COLUMNS, &rows).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let lists = batch
            .column(5)
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        assert_eq!(lists.value_length(0), 0);
        assert_eq!(lists.value_length(1), 2);
    }
}
