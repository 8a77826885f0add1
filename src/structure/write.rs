//! Writing per-token values into the B-factor column of a structure file.
//!
//! Every atom of a standard residue gets its residue's token value (hydrogens
//! and alternate locations included); a ligand or water atom gets its own
//! token's value. Atoms that are no token (waters and hydrogens that were
//! skipped, later models' atoms of residues absent from the first) keep their B-factor.
//!
//! **In place.** When the structure was read from a file (plain or `.gz`) or
//! with [`super::read_str`], and is written in the same format, only the B-factor
//! fields change: every other byte of the text is kept (header records, `ANISOU`,
//! `CONECT`, other models, which get the same values residue by residue). PDB
//! values are written `%6.2f` in columns 61-66; mmCIF values with up to 4
//! decimals. A `.gz` output is that text, gzip-compressed (flate2), so a `.gz`
//! source written to a `.gz` name of the same format decompresses to the
//! source's text with new B-factors.
//!
//! A file that was read as Latin-1 (not UTF-8) is written back as Latin-1.
//! An mmCIF file whose `_atom_site` loop has no `B_iso_or_equiv` column cannot
//! be written in place (an [`Error::Format`] says so); write it as PDB.
//!
//! **Through pdbtbx.** Otherwise (another format than the source's) pdbtbx
//! writes the text from its model of the first model, which keeps atoms,
//! coordinates, occupancies, the unit cell and symmetry, but no other header
//! records; it is compressed too for a `.gz` name.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use ndarray::{ArrayBase, Data, Ix1};
use pdbtbx::{Atom, StrictnessLevel, PDB};

use super::per_atom::AtomPrediction;
use super::read::panic_message;
use super::sites::scan;
use super::token::MoleculeKind;
use super::{FileFormat, Structure};
use crate::{check, Error, Float, Result};

/// Writes one value per token into the B-factor column of a copy of the
/// structure's file, as PDB (`.pdb`, `.ent`) or mmCIF (`.cif`, `.mmcif`),
/// optionally gzip-compressed (`.gz`); the format comes from `path`'s name.
///
/// `values` must have one finite value per token ([`Error::ShapeMismatch`],
/// [`Error::NonFinite`]); for PDB output each must fit the `%6.2f` column
/// (-99.99 to 999.99, else [`Error::OutOfRange`]). See the module docs for which atoms
/// get which value and what is kept.
pub fn write<F, S>(
    structure: &Structure,
    values: &ArrayBase<S, Ix1>,
    path: impl AsRef<Path>,
) -> Result<()>
where
    F: Float,
    S: Data<Elem = F>,
{
    let path = path.as_ref();
    let shown = path.display().to_string();
    let (format, gz) = FileFormat::from_path(path)?;
    let values = checked(structure, values, format)?;
    let text = render(structure, &values, &Overrides::none(), format, &shown)?;
    emit(structure, text, format, gz, path, &shown)
}

/// Writes per-atom values ([`Predictor::predict_atoms`]) into the B-factor
/// column, as [`write()`] does for per-token ones: each predicted atom gets its
/// own value (alternate locations of it and the same atom in later models
/// included), every other atom of a token its token's value
/// (`prediction.token_values`: hydrogens, and with Boltz-2's tokens ligand
/// atoms and modified residues, cut per atom there), and atoms of no token
/// (waters; ligands with CA-only tokens) keep the file's B.
///
/// Errors as [`write()`], for both series; [`Error::Config`] if the sites do not
/// belong to `structure`.
///
/// [`Predictor::predict_atoms`]: super::predict::Predictor::predict_atoms
pub fn write_atoms(
    structure: &Structure,
    prediction: &AtomPrediction,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let (format, gz) = FileFormat::from_path(path)?;
    let (values, overrides) = checked_atoms(structure, prediction, format)?;
    let text = render(structure, &values, &overrides, format, &shown)?;
    emit(structure, text, format, gz, path, &shown)
}

/// [`write_atoms`] to a string, in the given format (uncompressed).
pub fn write_atoms_string(
    structure: &Structure,
    prediction: &AtomPrediction,
    format: FileFormat,
) -> Result<String> {
    let (values, overrides) = checked_atoms(structure, prediction, format)?;
    render(structure, &values, &overrides, format, "<text>")
}

/// The token values and the per-atom ones, checked as [`checked`] does.
fn checked_atoms(
    structure: &Structure,
    prediction: &AtomPrediction,
    format: FileFormat,
) -> Result<(Vec<f64>, Overrides)> {
    let values = checked(structure, &prediction.token_values, format)?;
    let sites = &prediction.sites;
    check::same_shape(
        "values",
        prediction.values.shape(),
        &[sites.atoms.len()],
        "one value per predicted atom",
    )?;
    if sites.tokens.len() != sites.atoms.len() {
        return Err(Error::shape_mismatch(
            "sites.tokens",
            vec![sites.atoms.len()],
            vec![sites.tokens.len()],
            "one token per predicted atom",
        ));
    }
    check_values(
        "values",
        prediction.values.as_slice().unwrap_or(&[]),
        format,
    )?;
    let mut overrides = Overrides {
        atoms: vec![HashMap::new(); values.len()],
    };
    for ((&t, atom), &v) in sites
        .tokens
        .iter()
        .zip(&sites.atoms)
        .zip(&prediction.values)
    {
        let slot = overrides.atoms.get_mut(t).ok_or_else(|| {
            Error::config(
                "sites",
                format!("token {t}"),
                format!("sites of this structure ({} tokens)", values.len()),
            )
        })?;
        slot.entry(atom.atom_name.clone()).or_insert(v);
    }
    Ok((values, overrides))
}

/// Per token, the values of some of its residue's atoms by name.
struct Overrides {
    atoms: Vec<HashMap<String, f64>>,
}

impl Overrides {
    fn none() -> Self {
        Self { atoms: vec![] }
    }

    /// The value of atom `name` of token `i`'s residue.
    fn value(&self, values: &[f64], i: usize, name: &str) -> f64 {
        self.atoms
            .get(i)
            .and_then(|m| m.get(name))
            .copied()
            .unwrap_or(values[i])
    }
}

/// The text as the file's bytes (Latin-1 kept), gzip-compressed if asked.
fn emit(
    structure: &Structure,
    text: String,
    format: FileFormat,
    gz: bool,
    path: &Path,
    shown: &str,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io(shown, e);
    // A file read as Latin-1 is written back as Latin-1, byte for byte.
    let text = if structure.latin1 && structure.source.is_some() && format == structure.format {
        text.chars().map(|c| c as u32 as u8).collect()
    } else {
        text.into_bytes()
    };
    let bytes = if gz { gzip(&text).map_err(io)? } else { text };
    std::fs::write(path, bytes).map_err(io)
}

/// `bytes` gzip-compressed (one member, default level).
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// [`write()`] to a string instead of a file, in the given format (uncompressed).
/// For a file that was read as Latin-1 (see [`Structure::warnings`]) the string
/// holds its characters; [`write()`] gives the file's bytes back.
pub fn write_string<F, S>(
    structure: &Structure,
    values: &ArrayBase<S, Ix1>,
    format: FileFormat,
) -> Result<String>
where
    F: Float,
    S: Data<Elem = F>,
{
    let values = checked(structure, values, format)?;
    render(structure, &values, &Overrides::none(), format, "<text>")
}

/// One value per token, finite, and (for PDB) fitting its column; as `f64`.
fn checked<F: Float, S: Data<Elem = F>>(
    structure: &Structure,
    values: &ArrayBase<S, Ix1>,
    format: FileFormat,
) -> Result<Vec<f64>> {
    let n = structure.tokens().len();
    check::same_shape(
        "values",
        values.shape(),
        &[n],
        "one value per token of the structure",
    )?;
    check::finite("values", values)?;
    let values: Vec<f64> = values.iter().map(|v| v.to_f64_exact()).collect();
    check_values("values", &values, format)?;
    Ok(values)
}

/// Finite, and for PDB within the `%6.2f` column.
fn check_values(what: &str, values: &[f64], format: FileFormat) -> Result<()> {
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::non_finite(what, vec![i], values[i]));
    }
    if format == FileFormat::Pdb {
        if let Some(i) = values.iter().position(|v| format!("{v:.2}").len() > 6) {
            return Err(Error::out_of_range(
                what,
                vec![i],
                values[i],
                "-99.99 to 999.99 (the PDB B-factor column, %6.2f); write mmCIF, or rescale \
                 (see structure::scale)",
            ));
        }
    }
    Ok(())
}

/// Which token each atom takes its value from.
pub(crate) struct TokenIndex {
    residues: HashMap<(String, isize, Option<String>), Slot>,
}

enum Slot {
    /// A standard residue: all its atoms take this token's value.
    Residue(usize),
    /// Ligand or water atoms, by name.
    Atoms(HashMap<String, usize>),
}

impl TokenIndex {
    pub(crate) fn new(structure: &Structure) -> Self {
        let mut residues = HashMap::new();
        for (i, t) in structure.tokens().iter().enumerate() {
            let key = (t.chain.clone(), t.residue_number, t.insertion_code.clone());
            match t.kind {
                MoleculeKind::Ligand | MoleculeKind::Water => {
                    let slot = residues
                        .entry(key)
                        .or_insert_with(|| Slot::Atoms(HashMap::new()));
                    if let Slot::Atoms(atoms) = slot {
                        atoms.entry(t.atom_name.clone()).or_insert(i);
                    }
                }
                _ => {
                    residues.insert(key, Slot::Residue(i));
                }
            }
        }
        Self { residues }
    }

    pub(crate) fn get(
        &self,
        chain: &str,
        number: isize,
        icode: Option<&str>,
        atom: &str,
    ) -> Option<usize> {
        let key = (chain.to_string(), number, icode.map(str::to_string));
        match self.residues.get(&key)? {
            Slot::Residue(i) => Some(*i),
            Slot::Atoms(atoms) => atoms.get(atom).copied(),
        }
    }
}

/// An error for a token that no atom of the file matched (a bug, not bad input).
fn unmatched(structure: &Structure, hit: &[bool], shown: &str) -> Result<()> {
    match hit.iter().position(|h| !h) {
        None => Ok(()),
        Some(i) => {
            let t = &structure.tokens()[i];
            Err(Error::format(
                shown,
                format!(
                    "token {i} (chain {} residue {}{} {} atom {}) matches no atom record of the \
                     structure",
                    t.chain,
                    t.residue_number,
                    t.insertion_code.as_deref().unwrap_or(""),
                    t.residue_name,
                    t.atom_name
                ),
            ))
        }
    }
}

/// The file's text with new B-factors: in place if possible, else via pdbtbx.
fn render(
    structure: &Structure,
    values: &[f64],
    overrides: &Overrides,
    format: FileFormat,
    shown: &str,
) -> Result<String> {
    match &structure.source {
        Some(source) if format == structure.format => {
            in_place(structure, source, values, overrides, shown)
        }
        _ => {
            let pdb = assigned(structure, values, overrides, format, shown)?;
            let mut buf = Vec::new();
            pdbtbx_call(shown, || {
                let sink = BufWriter::new(&mut buf);
                match format {
                    FileFormat::Pdb => pdbtbx::save_pdb_raw(&pdb, sink, StrictnessLevel::Loose),
                    FileFormat::Mmcif => pdbtbx::save_mmcif_raw(&pdb, sink),
                }
            })?;
            String::from_utf8(buf)
                .map_err(|e| Error::format(shown, format!("pdbtbx wrote invalid UTF-8: {e}")))
        }
    }
}

/// Replaces the B-factor fields of `source`.
fn in_place(
    structure: &Structure,
    source: &str,
    values: &[f64],
    overrides: &Overrides,
    shown: &str,
) -> Result<String> {
    let index = TokenIndex::new(structure);
    let sites = scan(source, structure.format)
        .map_err(|message| Error::format(shown, message))?
        .sites;
    let mut hit = vec![false; values.len()];
    let mut out = String::with_capacity(source.len() + source.len() / 16);
    let mut copied = 0;
    for site in &sites {
        let Some(i) = index.get(&site.chain, site.res_seq, site.icode.as_deref(), &site.atom)
        else {
            continue;
        };
        let Some(field) = site.b_field.clone() else {
            return Err(Error::format(
                shown,
                "cannot write in place: the _atom_site loop has no B_iso_or_equiv column to \
                 write into (write PDB, a .pdb name, instead)",
            ));
        };
        hit[i] = true;
        out.push_str(&source[copied..field.start]);
        out.extend(std::iter::repeat_n(' ', site.b_pad));
        let v = overrides.value(values, i, site.atom.as_str());
        match structure.format {
            FileFormat::Pdb => out.push_str(&format!("{v:6.2}")),
            FileFormat::Mmcif => out.push_str(&cif_number(v)),
        }
        copied = field.end;
    }
    out.push_str(&source[copied..]);
    unmatched(structure, &hit, shown)?;
    Ok(out)
}

/// `v` with at most 4 decimals and no trailing zeros (`25.1`, `-0.0123`, `7`).
pub(crate) fn cif_number(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "-0" | "" => "0".to_string(),
        s => s.to_string(),
    }
}

/// A copy of pdbtbx's model with the values as B-factors.
fn assigned(
    structure: &Structure,
    values: &[f64],
    overrides: &Overrides,
    format: FileFormat,
    shown: &str,
) -> Result<PDB> {
    let index = TokenIndex::new(structure);
    let mut pdb = structure.pdb.clone();
    let mut hit = vec![false; values.len()];
    for model in pdb.models_mut() {
        for chain in model.chains_mut() {
            let chain_id = chain.id().to_string();
            for residue in chain.residues_mut() {
                let (number, icode) = residue.id();
                let icode = icode.map(str::to_string);
                for atom in residue.atoms_mut() {
                    let Some(i) = index.get(&chain_id, number, icode.as_deref(), atom.name())
                    else {
                        continue;
                    };
                    hit[i] = true;
                    let v = overrides.value(values, i, atom.name());
                    set_bfactor(atom, v).map_err(|message| Error::format(shown, message))?;
                }
            }
        }
    }
    unmatched(structure, &hit, shown)?;
    if format == FileFormat::Pdb {
        // pdbtbx's PDB writer cuts fields that are too wide without a word.
        if let Some(e) = pdbtbx::validate_pdb(&pdb).first() {
            return Err(Error::format(
                shown,
                format!(
                    "cannot be written as PDB ({}: {}); write mmCIF",
                    e.short_description(),
                    e.long_description()
                ),
            ));
        }
    }
    Ok(pdb)
}

/// pdbtbx refuses negative B-factors in `set_b_factor`; such an atom is rebuilt.
fn set_bfactor(atom: &mut Atom, b: f64) -> std::result::Result<(), String> {
    if b >= 0.0 {
        return atom.set_b_factor(b);
    }
    let (x, y, z) = atom.pos();
    let element = atom.element().map_or("", |e| e.symbol());
    let mut rebuilt = Atom::new(
        atom.hetero(),
        atom.serial_number(),
        atom.name(),
        x,
        y,
        z,
        atom.occupancy(),
        b,
        element,
        atom.charge(),
    )
    .ok_or_else(|| {
        format!(
            "pdbtbx cannot rebuild atom {} with B = {b}",
            atom.serial_number()
        )
    })?;
    if let Some(f) = atom.anisotropic_temperature_factors() {
        rebuilt.set_anisotropic_temperature_factors(f);
    }
    *atom = rebuilt;
    Ok(())
}

/// Runs a pdbtbx writer, turning its panics (it unwraps I/O results and some
/// lookups) into [`Error::Format`].
fn pdbtbx_call<T>(shown: &str, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        Error::format(
            shown,
            format!("pdbtbx's writer failed ({})", panic_message(&*payload)),
        )
    })
}
