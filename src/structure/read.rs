//! Reading PDB and mmCIF files (plain or gzip-compressed) into a [`Structure`].
//!
//! The rules are documented in the structure module's "Reading" section.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use pdbtbx::{Atom, Chain, Conformer, Model, Residue, Symmetry, UnitCell, PDB};
use rustc_hash::{FxHashMap, FxHashSet};

use super::provenance::BColumn;
pub use super::sites::MAX_BFACTOR;
use super::sites::{occupancy_index, scan, Scan};
use super::token::{tokenize, TokenMode};
use super::{FileFormat, Structure};
use crate::{Error, Result};

/// The default of [`ReadOptions::max_bytes`]: 512 MiB, more than the largest
/// entries of the PDB archive as uncompressed mmCIF.
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;

/// How to read a structure: which tokens to make, which atoms to keep, and the
/// largest file accepted.
///
/// ```
/// use bfactor::structure::{ReadOptions, TokenMode, DEFAULT_MAX_BYTES};
///
/// let options = ReadOptions::new()
///     .with_tokens(TokenMode::CaOnly)
///     .with_waters(false)
///     .with_hydrogens(false)
///     .with_max_decompressed_bytes(64 << 20);
/// assert_eq!(options.tokens, TokenMode::CaOnly);
/// assert_eq!(ReadOptions::new().max_bytes, DEFAULT_MAX_BYTES);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// How the structure is cut into tokens (default: [`TokenMode::Boltz2`]).
    pub tokens: TokenMode,
    /// Make a token of each water's atoms (default `false`: waters are skipped).
    pub waters: bool,
    /// Make tokens of ligand and water hydrogens (default `false`). Hydrogens of
    /// standard residues never are tokens: a residue's token is its
    /// representative heavy atom.
    pub hydrogens: bool,
    /// The largest text read, in bytes: a plain file's size, a `.gz` file's
    /// decompressed size (default [`DEFAULT_MAX_BYTES`]). Larger files are an
    /// [`Error::Format`], as is an mmCIF text of 2³² − 1 bytes or more whatever
    /// the limit.
    pub max_bytes: u64,
    /// What the B column holds (default [`BColumn::Detect`]: decided from the
    /// file, see [`super::provenance`]).
    pub b_column: BColumn,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            tokens: TokenMode::default(),
            waters: false,
            hydrogens: false,
            max_bytes: DEFAULT_MAX_BYTES,
            b_column: BColumn::Detect,
        }
    }
}

impl ReadOptions {
    /// Boltz-2 tokens, waters and hydrogens skipped, files up to
    /// [`DEFAULT_MAX_BYTES`].
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

    /// Sets what the B column holds: B-factors, pLDDT, or
    /// [`BColumn::Detect`] (the default).
    pub fn with_b_column(mut self, b_column: BColumn) -> Self {
        self.b_column = b_column;
        self
    }

    /// Sets the largest text read ([`ReadOptions::max_bytes`]), for plain and
    /// decompressed `.gz` files alike.
    pub fn with_max_decompressed_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
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
                return Err(Error::format(
                    path.display(),
                    "unknown structure format: expected a name ending in .pdb, .ent, .cif or \
                     .mmcif, optionally followed by .gz",
                ))
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
/// structure, is truncated, is larger than [`ReadOptions::max_bytes`] (for
/// `.gz`, decompressed), or (for `.gz`) is not valid gzip, [`Error::Empty`] if
/// it has no atoms or no tokens. A token whose representative atom is missing
/// is not an error: it is kept, masked, and listed by [`Structure::missing`].
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Structure> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    if path.is_dir() {
        let e = std::io::Error::from(std::io::ErrorKind::IsADirectory);
        return Err(Error::io(&shown, e));
    }
    let (format, gz) = FileFormat::from_path(path)?;
    let io = |e: std::io::Error| Error::io(&shown, e);
    let limit = options.max_bytes;
    let too_large = |what: &str| {
        Error::format(
            &shown,
            format!(
                "{what} is larger than the limit of {limit} bytes (ReadOptions::max_bytes; \
                 raise it with ReadOptions::with_max_decompressed_bytes if the file is genuine)"
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if !gz && size > limit {
        return Err(too_large("the file"));
    }
    let bytes = if gz {
        let mut compressed = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut compressed)
            .map_err(io)?;
        match gunzip(&compressed, limit) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(too_large("the decompressed text")),
            Err(e) => {
                return Err(Error::format(
                    &shown,
                    format!("not a valid gzip file ({e}); is it truncated?"),
                ))
            }
        }
    } else {
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(too_large("the file"));
        }
        bytes
    };
    let mut s = from_file_bytes(bytes, gz, format, options, &shown)?;
    s.path = Some(path.to_path_buf());
    Ok(s)
}

/// A structure from a file's bytes (decompressed): UTF-8 or Latin-1 text, as
/// [`read`] and [`read_bytes`] take it.
fn from_file_bytes(
    bytes: Vec<u8>,
    gz: bool,
    format: FileFormat,
    options: &ReadOptions,
    shown: &str,
) -> Result<Structure> {
    let (text, latin1) = decode(bytes, gz);
    let mut s = match (parse_text(text, format, options, shown), &latin1) {
        (Err(Error::Empty { unit, .. }), Some(note)) if unit == "atom" => {
            return Err(Error::format(
                shown,
                format!("{note}, and it holds no atom records: not a structure file"),
            ))
        }
        (result, _) => result?,
    };
    if let Some(note) = latin1 {
        s.warnings.insert(0, note);
        s.latin1 = true;
    }
    Ok(s)
}

/// Reads a structure from a file's bytes held in memory (a tar member, a
/// download, another library's output), in the given format: plain text (UTF-8,
/// or else Latin-1 with a warning, as [`read`]) or gzip-compressed (recognised by
/// its magic bytes). [`ReadOptions::max_bytes`] applies to the text (for gzip,
/// decompressed); errors as [`read`], naming `<bytes>`.
///
/// ```
/// use bfactor::structure::{self, FileFormat, ReadOptions};
///
/// let gz = std::fs::read("data/crystal/1UBQ.pdb.gz")?;
/// let st = structure::read_bytes(&gz, FileFormat::Pdb, &ReadOptions::new())?;
/// let file = structure::read("data/crystal/1UBQ.pdb.gz", &ReadOptions::new())?;
/// assert_eq!(st.tokens().len(), file.tokens().len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_bytes(data: &[u8], format: FileFormat, options: &ReadOptions) -> Result<Structure> {
    const SHOWN: &str = "<bytes>";
    let limit = options.max_bytes;
    let too_large = |what: &str| {
        Error::format(
            SHOWN,
            format!("{what} is larger than the limit of {limit} bytes (ReadOptions::max_bytes)"),
        )
    };
    let gz = data.starts_with(&[0x1f, 0x8b]);
    let bytes = if gz {
        match gunzip(data, limit) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(too_large("the decompressed text")),
            Err(e) => {
                return Err(Error::format(
                    SHOWN,
                    format!("not valid gzip data ({e}); is it truncated?"),
                ))
            }
        }
    } else {
        if data.len() as u64 > limit {
            return Err(too_large("the data"));
        }
        data.to_vec()
    };
    from_file_bytes(bytes, gz, format, options, SHOWN)
}

/// The text of a file: UTF-8, or else Latin-1 (every byte one character) with a
/// warning naming the first byte that is not UTF-8.
fn decode(bytes: Vec<u8>, gz: bool) -> (String, Option<String>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            let within = if gz { " of the decompressed text" } else { "" };
            let note = format!(
                "line {line}: not UTF-8 text (byte 0x{:02x} at offset {at}{within}): the file \
                 was read as Latin-1",
                bytes[at]
            );
            (bytes.iter().map(|&b| char::from(b)).collect(), Some(note))
        }
    }
}

/// The decompressed bytes of a gzip file (all its members, as `gzip -d` reads
/// concatenated files), or `None` if they exceed `limit` bytes (decompression
/// stops there).
fn gunzip(bytes: &[u8], limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let guess = (bytes.len() as u64).saturating_mul(4).min(limit) as usize;
    let mut out = Vec::with_capacity(guess);
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)?;
    Ok((out.len() as u64 <= limit).then_some(out))
}

/// Reads a structure from its text, in the given format. See [`read`].
/// [`ReadOptions::max_bytes`] applies to the text's length.
pub fn read_str(text: &str, format: FileFormat, options: &ReadOptions) -> Result<Structure> {
    if text.len() as u64 > options.max_bytes {
        return Err(Error::format(
            "<text>",
            format!(
                "the text ({} bytes) is larger than the limit of {} bytes \
                 (ReadOptions::max_bytes)",
                text.len(),
                options.max_bytes
            ),
        ));
    }
    parse_text(text.to_string(), format, options, "<text>")
}

pub(crate) fn parse_text(
    text: String,
    format: FileFormat,
    options: &ReadOptions,
    shown: &str,
) -> Result<Structure> {
    let format_error = |message: String| Error::format(shown, message);
    let scanned = scan(&text, format).map_err(format_error)?;
    let index = occupancy_index(&scanned.sites);
    let (pdb, warnings) = build_pdb(&scanned, shown)?;
    let mut s = build(pdb, warnings, format, Some(&index), options, shown)?;
    s.settle(&scanned);
    s.source = Some(text);
    Ok(s)
}

/// An atom's identity: chain, residue number, insertion code, name, alternate
/// location.
type AtomKey<'a> = (&'a str, isize, Option<&'a str>, &'a str, Option<&'a str>);

/// pdbtbx's model of the first model's atoms, with the unit cell and space
/// group, and the warnings of reading.
pub(crate) fn build_pdb(scanned: &Scan, shown: &str) -> Result<(PDB, Vec<String>)> {
    let Scan {
        sites,
        cell,
        space_group,
        id,
        warnings,
        ..
    } = scanned;
    let mut warnings = warnings.clone();
    let mut pdb = PDB::new();
    pdb.identifier = id.clone();
    if let Some([a, b, c, alpha, beta, gamma]) = *cell {
        pdb.unit_cell = Some(UnitCell::new(a, b, c, alpha, beta, gamma));
    }
    if let Some((group, line)) = space_group {
        match Symmetry::new(group).or_else(|| hexagonal_setting(group)) {
            Some(symmetry) => pdb.symmetry = Some(symmetry),
            None => warnings.push(format!(
                "line {line}: Invalid space group `{group}` (pdbtbx does not know it): the \
                 structure has no symmetry, the unit cell is kept"
            )),
        }
    }
    // Residues whose records come back after another residue's, and atoms
    // written twice: merged, and said so.
    let mut reappear: Vec<usize> = Vec::new();
    let mut repeated: Vec<usize> = Vec::new();
    let first: Vec<&super::sites::Site> = sites.iter().filter(|s| s.model == 0).collect();
    let n = first.len();
    let mut seen_res: FxHashSet<(&str, isize, Option<&str>)> =
        FxHashSet::with_capacity_and_hasher(n / 4, Default::default());
    let mut last_res: FxHashMap<&str, (isize, Option<&str>)> = FxHashMap::default();
    let mut seen_atom: FxHashSet<AtomKey<'_>> =
        FxHashSet::with_capacity_and_hasher(n, Default::default());
    for s in &first {
        let key = (s.res_seq, s.icode.as_deref());
        let chain = s.chain.as_str();
        if last_res.get(chain) != Some(&key) {
            if !seen_res.insert((chain, key.0, key.1)) {
                reappear.push(s.line);
            }
            last_res.insert(chain, key);
        }
        let atom_key = (chain, key.0, key.1, s.atom.as_str(), s.alt.as_deref());
        if !seen_atom.insert(atom_key) {
            repeated.push(s.line);
        }
    }
    drop((seen_res, last_res, seen_atom));
    for (lines, what) in [
        (
            &reappear,
            "start a residue that appeared before, after other residues of its chain: their \
             atoms are merged into it",
        ),
        (
            &repeated,
            "repeat an atom of their residue (same name and alternate location): the first \
             is used",
        ),
    ] {
        if let Some(first_line) = lines.first() {
            warnings.push(format!(
                "{} atom record(s) {what} (first at line {first_line})",
                lines.len()
            ));
        }
    }
    let built = catch_unwind(AssertUnwindSafe(
        || -> std::result::Result<Model, String> {
            let mut chains = Chains::default();
            for s in &first {
                let [x, y, z] = s.xyz;
                let atom = Atom::new(
                    s.hetero,
                    s.serial,
                    s.atom.as_str(),
                    x,
                    y,
                    z,
                    s.occ,
                    s.b,
                    s.element.as_str(),
                    s.charge,
                )
                .ok_or_else(|| format!("line {}: pdbtbx refuses the atom", s.line))?;
                chains.add_atom(
                    atom,
                    &s.chain,
                    (s.res_seq, s.icode.as_deref()),
                    (s.res_name.as_str(), s.alt.as_deref()),
                );
            }
            let mut model = Model::new(1);
            for chain in chains.chains {
                model.add_chain(chain);
            }
            Ok(model)
        },
    ));
    let model = match built {
        Ok(Ok(model)) => model,
        Ok(Err(message)) => return Err(Error::format(shown, message)),
        Err(payload) => {
            return Err(Error::format(
                shown,
                format!(
                    "pdbtbx failed on input that passed the checks ({}): please report it",
                    panic_message(&*payload)
                ),
            ))
        }
    };
    if model.atom_count() > 0 {
        pdb.add_model(model);
    }
    Ok((pdb, warnings))
}

/// The PDB's name of a rhombohedral group in its hexagonal setting (`H 3`,
/// `H 3 2`, as gemmi and the PDB write them) as pdbtbx knows it (`R 3 :h`).
fn hexagonal_setting(group: &str) -> Option<Symmetry> {
    let rest = group.trim().strip_prefix("H ")?;
    Symmetry::new(format!("R {} :h", rest.trim()))
}

/// A model's chains built in file order, as pdbtbx's `Model::add_atom` builds
/// them (the same chains, residues, conformers and atoms, in the same order),
/// with the chain and residue found by a hash lookup rather than a scan of every
/// chain: linear in the atoms on files of thousands of chains.
#[derive(Default)]
struct Chains {
    chains: Vec<Chain>,
    /// Each chain's index in `chains`, by identifier.
    chain_index: FxHashMap<String, usize>,
    /// Each residue's index in its chain, by chain index and the residue's
    /// `id()` (the last residue with that id, as `Chain::add_atom`'s reverse scan
    /// finds it).
    residue_index: FxHashMap<(usize, isize, Option<String>), usize>,
}

impl Chains {
    /// Adds `atom` as `Model::add_atom(atom, chain_id, residue_id, conformer_id)`
    /// would, panicking where it panics.
    fn add_atom(
        &mut self,
        atom: Atom,
        chain_id: &str,
        residue_id: (isize, Option<&str>),
        conformer_id: (&str, Option<&str>),
    ) {
        let chain_id = chain_id.trim();
        let c = match self.chain_index.get(chain_id) {
            Some(&c) => c,
            None => {
                let chain = Chain::new(chain_id).expect("Invalid characters in chain creation");
                self.chain_index
                    .insert(chain.id().to_string(), self.chains.len());
                self.chains.push(chain);
                self.chains.len() - 1
            }
        };
        let chain = &mut self.chains[c];
        let key = (c, residue_id.0, residue_id.1.map(str::to_string));
        let r = match self.residue_index.get(&key) {
            Some(&r) => r,
            None => {
                let residue = Residue::new(residue_id.0, residue_id.1, None)
                    .expect("Invalid chars in Residue creation");
                let (number, icode) = residue.id();
                let stored = (c, number, icode.map(str::to_string));
                chain.add_residue(residue);
                let r = chain.residue_count() - 1;
                self.residue_index.insert(stored, r);
                r
            }
        };
        let residue = chain.residue_mut(r).expect("the residue just found");
        let (name, alt) = conformer_id;
        // `Residue::add_atom` compares the upper-cased, trimmed name: a name
        // already in that form is looked up here without allocating.
        let prepared = !name.is_empty()
            && name.trim() == name
            && name
                .bytes()
                .all(|b| (32..127).contains(&b) && !b.is_ascii_lowercase());
        if !prepared {
            residue.add_atom(atom, conformer_id);
            return;
        }
        let found = residue.conformers().position(|k| k.id() == (name, alt));
        match found {
            Some(k) => residue
                .conformer_mut(k)
                .expect("the conformer just found")
                .add_atom(atom),
            None => {
                let mut conformer =
                    Conformer::new(name, alt, None).expect("Invalid chars in Residue creation");
                conformer.add_atom(atom);
                residue.add_conformer(conformer);
            }
        }
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

pub(crate) fn build(
    pdb: PDB,
    mut warnings: Vec<String>,
    format: FileFormat,
    occupancies: Option<&super::sites::OccupancyIndex>,
    options: &ReadOptions,
    shown: &str,
) -> Result<Structure> {
    let tokens = match pdb.models().next() {
        Some(model) => {
            let (tokens, notes) = tokenize(model, options, occupancies);
            warnings.extend(notes);
            tokens
        }
        None => Vec::new(),
    };
    if pdb.atom_count() == 0 {
        return Err(Error::empty(shown, vec![0], "atom"));
    }
    if tokens.is_empty() {
        let mode = match options.tokens {
            TokenMode::CaOnly => "CA-only tokens: one per amino-acid residue with a CA",
            TokenMode::Boltz2 => "Boltz-2 tokens: residues, nucleotides and ligand atoms",
        };
        let waters = if options.waters { ", waters" } else { "" };
        return Err(Error::empty(
            format!("the token list of {shown} ({mode}{waters})"),
            vec![0],
            "token",
        ));
    }
    Ok(Structure {
        pdb,
        tokens,
        format,
        source: None,
        path: None,
        warnings,
        latin1: false,
        options: options.clone(),
        resolution: None,
        provenance: Default::default(),
        b_values: super::BValues::BFactors,
        plddt: None,
        plddt_scale: 1.0,
        ensemble: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Chains` builds the model `Model::add_atom` builds, atom for atom, on
    /// identities that exercise its lookups: chains that come back, residues
    /// that reappear, insertion codes, alternate locations and residue names in
    /// either case (pdbtbx compares some of them upper-cased, some as given).
    #[test]
    fn chains_build_what_model_add_atom_builds() {
        let chains = ["A", "B", " C", "A "];
        let icodes = [None, Some("A"), Some("a")];
        let names = ["ALA", "ala", " GLY", "GLY"];
        let alts = [None, Some("A"), Some("b")];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            ((state >> 33) as usize) % n
        };
        for round in 0..20 {
            let mut model = Model::new(1);
            let mut built = Chains::default();
            for serial in 0..200 {
                let atom = || {
                    Atom::new(
                        serial % 7 == 0,
                        serial,
                        "CA",
                        serial as f64,
                        round as f64,
                        0.5,
                        1.0,
                        10.0,
                        "C",
                        0,
                    )
                    .unwrap()
                };
                let chain = chains[next(chains.len())];
                let residue = (next(4) as isize, icodes[next(icodes.len())]);
                let conformer = (names[next(names.len())], alts[next(alts.len())]);
                model.add_atom(atom(), chain, residue, conformer);
                built.add_atom(atom(), chain, residue, conformer);
            }
            let mut ours = Model::new(1);
            for chain in built.chains {
                ours.add_chain(chain);
            }
            assert_eq!(ours, model, "round {round}");
            let hetero = |m: &Model| m.atoms().map(|a| a.hetero()).collect::<Vec<_>>();
            assert_eq!(hetero(&ours), hetero(&model));
            assert!(model.chain_count() >= 3 && model.residue_count() > 20);
        }
    }
}
