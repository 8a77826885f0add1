//! Reading PDB and mmCIF files (plain or gzip-compressed) into a [`Structure`].
//!
//! pdbtbx parses the file. Three things are done around it:
//!
//! - **Leniency.** pdbtbx's loosest level still rejects a file for a
//!   `StrictWarning` (for example a SEQRES record it cannot check against a
//!   residue with two residue types, as in 1EJG). Here a PDB file rejected for
//!   warnings alone, or for errors in records other than the coordinates (a
//!   `REMARK` it cannot parse), or whose header records make pdbtbx panic (an
//!   unknown space group in `CRYST1`), is read again with its coordinate records
//!   only (`ATOM`, `HETATM`, `MODEL`, `TER`), and what happened is kept in
//!   [`Structure::warnings`]. pdbtbx also rejects atom records without an element
//!   column (shorter than 78 characters) and blank occupancy or B-factor fields:
//!   such records are padded before pdbtbx sees them (a blank occupancy reads as
//!   1.00, a blank B-factor as 0.00, which masks the token).
//! - **No panics.** pdbtbx 0.12 panics on some damaged input (a truncated `ATOM`
//!   line, a missing mmCIF element) instead of returning an error. Atom records
//!   are checked first, so that the common cases become an [`Error::Format`]
//!   naming the line; the pdbtbx call itself also runs under
//!   [`std::panic::catch_unwind`], so that anything else becomes an
//!   [`Error::Format`] too (the panic message still goes to stderr through the
//!   panic hook; with `panic = "abort"` nothing can be caught).
//! - **The file's text is kept**, so that writing can replace B-factors in
//!   place. A `.gz` file is decompressed here (flate2) and its text goes the same
//!   way as a plain file's, whatever its name (`.pdb.gz`, `.ent.gz`, `.cif.gz`,
//!   `.mmcif.gz`).

use std::borrow::Cow;
use std::io::{BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use pdbtbx::{Context, ErrorLevel, PDBError, StrictnessLevel, PDB};

use super::sites::{occupancy_index, scan};
use super::token::{tokenize, TokenMode};
use super::{FileFormat, Structure};
use crate::{Error, Result};

/// How to read a structure: which tokens to make and which atoms to keep.
///
/// ```
/// use bfactor::structure::{ReadOptions, TokenMode};
///
/// let options = ReadOptions::new()
///     .with_tokens(TokenMode::CaOnly)
///     .with_waters(false)
///     .with_hydrogens(false);
/// assert_eq!(options.tokens, TokenMode::CaOnly);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// How the structure is cut into tokens (default: [`TokenMode::Boltz2`]).
    pub tokens: TokenMode,
    /// Make a token of each water's atoms (default `false`: waters are skipped).
    pub waters: bool,
    /// Make tokens of ligand and water hydrogens (default `false`). Hydrogens of
    /// standard residues never are tokens: a residue's token is its
    /// representative heavy atom.
    pub hydrogens: bool,
}

impl ReadOptions {
    /// Boltz-2 tokens, waters and hydrogens skipped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how the structure is cut into tokens.
    pub fn with_tokens(mut self, tokens: TokenMode) -> Self {
        self.tokens = tokens;
        self
    }

    /// Sets whether waters become tokens.
    pub fn with_waters(mut self, waters: bool) -> Self {
        self.waters = waters;
        self
    }

    /// Sets whether ligand and water hydrogens become tokens.
    pub fn with_hydrogens(mut self, hydrogens: bool) -> Self {
        self.hydrogens = hydrogens;
        self
    }
}

impl FileFormat {
    /// The format and compression of a file, from its name: `.pdb`, `.ent`,
    /// `.cif` or `.mmcif`, each optionally followed by `.gz` (case-insensitive).
    pub fn from_path(path: impl AsRef<Path>) -> Result<(FileFormat, bool)> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let (stem, gz) = match name.strip_suffix(".gz") {
            Some(stem) => (stem, true),
            None => (name.as_str(), false),
        };
        let format = match Path::new(stem).extension().and_then(|e| e.to_str()) {
            Some("pdb" | "ent") => FileFormat::Pdb,
            Some("cif" | "mmcif") => FileFormat::Mmcif,
            _ => {
                return Err(Error::Format {
                    path: path.display().to_string(),
                    message: "unknown structure format: expected a name ending in .pdb, .ent, \
                              .cif or .mmcif, optionally followed by .gz"
                        .into(),
                })
            }
        };
        Ok((format, gz))
    }
}

/// Reads a structure file: PDB (`.pdb`, `.ent`) or mmCIF (`.cif`, `.mmcif`),
/// plain or gzip-compressed (`.gz`); the format comes from the name.
///
/// Only the first model is read. Errors: [`Error::Io`] if the file cannot be
/// read, [`Error::Format`] (naming the line or loop row) if it is not a valid
/// structure or is truncated (or, for `.gz`, not valid gzip), [`Error::Empty`] if it has no atoms or no tokens.
/// A token whose representative atom is missing is not an error: it is kept,
/// masked, and listed by [`Structure::missing`].
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Structure> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let (format, gz) = FileFormat::from_path(path)?;
    let io = |e: std::io::Error| Error::Io {
        path: shown.clone(),
        message: e.to_string(),
    };
    let bytes = std::fs::read(path).map_err(io)?;
    let bytes = if gz {
        gunzip(&bytes).map_err(|e| Error::Format {
            path: shown.clone(),
            message: format!("not a valid gzip file ({e}); is it truncated?"),
        })?
    } else {
        bytes
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let within = if gz { " of the decompressed text" } else { "" };
        Error::Format {
            path: shown.clone(),
            message: format!("line {line}: not UTF-8 text (invalid byte at offset {at}{within})"),
        }
    })?;
    let mut s = parse_text(text, format, options, &shown)?;
    s.path = Some(path.to_path_buf());
    Ok(s)
}

/// The decompressed bytes of a gzip file (all its members, as `gzip -d` reads
/// concatenated files).
fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4));
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// Reads a structure from its text, in the given format. See [`read`].
pub fn read_str(text: &str, format: FileFormat, options: &ReadOptions) -> Result<Structure> {
    parse_text(text.to_string(), format, options, "<text>")
}

fn parse_text(
    text: String,
    format: FileFormat,
    options: &ReadOptions,
    shown: &str,
) -> Result<Structure> {
    // Check the atom records first: pdbtbx panics on some damaged ones.
    let sites = scan(&text, format).map_err(|message| Error::Format {
        path: shown.to_string(),
        message,
    })?;
    let input = match format {
        FileFormat::Pdb => filled_atom_records(&text),
        FileFormat::Mmcif => Cow::Borrowed(text.as_str()),
    };
    let (pdb, warnings) = parse_with_pdbtbx(format, shown, |opts| {
        opts.read_raw(BufReader::new(input.as_bytes()))
    })?;
    drop(input);
    let index = occupancy_index(&sites);
    let mut s = build(pdb, warnings, format, Some(&index), options, shown)?;
    s.source = Some(text);
    Ok(s)
}

/// The PDB text as pdbtbx needs it: pdbtbx rejects atom records shorter than
/// 78 columns (no element symbol, common in files written by simulation tools)
/// and blank occupancy or B-factor fields. Such records are padded to 80
/// columns, a blank occupancy reads as 1.00 and a blank B-factor as 0.00 (so the
/// token is masked). Line numbers are unchanged.
fn filled_atom_records(text: &str) -> Cow<'_, str> {
    let needs = |l: &str| {
        let l = l.trim_end_matches(['\n', '\r']);
        let atom = l.len() > 6 && (l.starts_with("ATOM  ") || l.starts_with("HETATM"));
        atom && (l.len() < 80 || l[54..60].trim().is_empty() || l[60..66].trim().is_empty())
    };
    if !text.split_inclusive('\n').any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for raw in text.split_inclusive('\n') {
        if !needs(raw) {
            out.push_str(raw);
            continue;
        }
        // Atom records are ASCII and at least 54 long: checked by `scan` first.
        let l = raw.trim_end_matches(['\n', '\r']);
        let mut line = format!("{l:<80}");
        if line[54..60].trim().is_empty() {
            line.replace_range(54..60, "  1.00");
        }
        if line[60..66].trim().is_empty() {
            line.replace_range(60..66, "  0.00");
        }
        out.push_str(&line);
        out.push_str(&raw[l.len()..]);
    }
    Cow::Owned(out)
}

type ReadResult = std::result::Result<(PDB, Vec<PDBError>), Vec<PDBError>>;

/// Runs pdbtbx (first model only, loosest level), leniently and without letting
/// a panic out.
fn parse_with_pdbtbx(
    format: FileFormat,
    shown: &str,
    run: impl Fn(&mut pdbtbx::ReadOptions) -> ReadResult,
) -> Result<(PDB, Vec<String>)> {
    let attempt = |atomic_only: bool| -> std::result::Result<ReadResult, String> {
        let mut opts = pdbtbx::ReadOptions::new();
        opts.set_level(StrictnessLevel::Loose)
            .set_format(match format {
                FileFormat::Pdb => pdbtbx::Format::Pdb,
                FileFormat::Mmcif => pdbtbx::Format::Mmcif,
            })
            .set_only_first_model(true)
            .set_only_atomic_coords(atomic_only);
        // pdbtbx 0.12 panics on some malformed input; see the module docs.
        catch_unwind(AssertUnwindSafe(|| run(&mut opts))).map_err(|p| panic_message(&*p))
    };
    let panicked = |what: String| Error::Format {
        path: shown.to_string(),
        message: format!("pdbtbx failed on malformed input ({what})"),
    };
    let retried = |why: Vec<String>| -> Result<(PDB, Vec<String>)> {
        match attempt(true).map_err(panicked)? {
            Ok((pdb, more)) => {
                let mut warnings = why;
                warnings.push(
                    "the file was read again with its coordinate records alone (ATOM, HETATM, \
                     MODEL, TER), because of the problem above"
                        .into(),
                );
                warnings.extend(more.iter().map(describe));
                Ok((pdb, warnings))
            }
            Err(errors) => Err(to_error(&errors, shown)),
        }
    };
    // mmCIF has no header records to leave out: no second attempt.
    let pdb_format = format == FileFormat::Pdb;
    match attempt(false) {
        Ok(Ok((pdb, warnings))) => Ok((pdb, warnings.iter().map(describe).collect())),
        Ok(Err(errors)) if pdb_format && only_header_trouble(&errors) => {
            retried(errors.iter().map(describe).collect())
        }
        Ok(Err(errors)) => Err(to_error(&errors, shown)),
        // A panic on a header record (e.g. an unknown space group in CRYST1).
        Err(what) if pdb_format => retried(vec![format!("pdbtbx failed ({what})")]),
        Err(what) => Err(panicked(what)),
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Whether every error that fails the file is a warning, or is about a record
/// other than the coordinates (a `REMARK` pdbtbx cannot parse, say): then the
/// file is worth reading again with its coordinate records alone.
fn only_header_trouble(errors: &[PDBError]) -> bool {
    let coordinates = |l: &str| {
        ["ATOM", "HETATM", "MODEL", "ENDMDL", "TER", "END"]
            .iter()
            .any(|r| l.starts_with(r))
    };
    let failing: Vec<&PDBError> = errors
        .iter()
        .filter(|e| e.fails(StrictnessLevel::Loose))
        .collect();
    !failing.is_empty()
        && failing.iter().all(|e| {
            e.level() >= ErrorLevel::StrictWarning
                || match e.context() {
                    Context::FullLine { line, .. } | Context::Line { line, .. } => {
                        !coordinates(line)
                    }
                    Context::Range { lines, .. } | Context::RangeHighlights { lines, .. } => {
                        lines.first().is_some_and(|l| !coordinates(l))
                    }
                    _ => false,
                }
        })
}

/// The most severe of pdbtbx's errors, as an [`Error`]: `Empty` for a file
/// without atoms, `Format` (with the line) otherwise.
fn to_error(errors: &[PDBError], shown: &str) -> Error {
    let Some(worst) = errors.iter().min_by_key(|e| e.level()) else {
        return Error::Format {
            path: shown.to_string(),
            message: "pdbtbx failed without saying why".into(),
        };
    };
    if worst.short_description() == "No Atoms" {
        return Error::Empty {
            what: shown.to_string(),
            shape: vec![0],
            unit: "atom".into(),
        };
    }
    let failing = errors
        .iter()
        .filter(|e| e.fails(StrictnessLevel::Loose))
        .count();
    let mut message = describe(worst);
    if failing > 1 {
        message.push_str(&format!(" (and {} more)", failing - 1));
    }
    Error::Format {
        path: shown.to_string(),
        message,
    }
}

/// One pdbtbx error on one line: level, title, explanation, and where.
fn describe(e: &PDBError) -> String {
    let place = match e.context() {
        Context::FullLine { linenumber, line }
        | Context::Line {
            linenumber, line, ..
        } => {
            format!(" at line {linenumber}: `{}`", super::cif::excerpt(line))
        }
        Context::Range {
            start_linenumber,
            lines,
            ..
        }
        | Context::RangeHighlights {
            start_linenumber,
            lines,
            ..
        } => format!(
            " at lines {start_linenumber}-{}",
            start_linenumber + lines.len().saturating_sub(1)
        ),
        Context::Show { line } => format!(" ({})", super::cif::excerpt(line)),
        _ => String::new(),
    };
    format!(
        "{}: {}{place}: {}",
        e.level(),
        e.short_description(),
        e.long_description()
    )
}

fn build(
    pdb: PDB,
    warnings: Vec<String>,
    format: FileFormat,
    occupancies: Option<&super::sites::OccupancyIndex>,
    options: &ReadOptions,
    shown: &str,
) -> Result<Structure> {
    let tokens = match pdb.models().next() {
        Some(model) => tokenize(model, options, occupancies),
        None => Vec::new(),
    };
    if pdb.atom_count() == 0 {
        return Err(Error::Empty {
            what: shown.to_string(),
            shape: vec![0],
            unit: "atom".into(),
        });
    }
    if tokens.is_empty() {
        return Err(Error::Empty {
            what: format!("the tokens of {shown} (with {options:?})"),
            shape: vec![0],
            unit: "token".into(),
        });
    }
    Ok(Structure {
        pdb,
        tokens,
        format,
        source: None,
        path: None,
        warnings,
    })
}
