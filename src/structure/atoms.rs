//! Structures from atoms held in memory (a Biotite `AtomArray`, a frame of a
//! simulation, atoms built by a program), and back: which token each atom takes
//! its value from.
//!
//! [`from_atoms`] makes the same [`Structure`] that [`super::read`] makes from a
//! file holding those atoms (one model, no unit cell, no resolution): the same tokens, masks
//! and warnings, with each atom's 1-based position in the slice where a file's
//! warning names a line. [`atom_tokens`] maps atoms to tokens by the rule
//! [`super::write`] uses (every atom of a standard residue takes its residue's
//! token, a ligand or water atom its own), so predictions go back into the
//! caller's per-atom B-factors.

use super::read::{build, build_pdb, ReadOptions};
use super::sites::{occupancy_index, physical, printable, Name, Notes, Scan, Site};
use super::write::TokenIndex;
use super::{FileFormat, Structure};
use crate::{Error, Result};

/// What [`from_atoms`] and [`atom_tokens`] name in their errors.
const SHOWN: &str = "<atoms>";

/// One atom, as a caller holding atoms in memory gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct AtomRecord {
    /// Chain identifier (printable ASCII, e.g. `"A"`; may be empty).
    pub chain: String,
    /// Residue number.
    pub residue_number: isize,
    /// Insertion code, if any (`None` or an empty string for none).
    pub insertion_code: Option<String>,
    /// Residue name, e.g. `"ALA"` (compared upper-case).
    pub residue_name: String,
    /// Atom name, e.g. `"CA"` (compared upper-case).
    pub atom_name: String,
    /// Element symbol, e.g. `"C"` (compared upper-case; may be empty: no element).
    pub element: String,
    /// A `HETATM` record rather than `ATOM`.
    pub hetero: bool,
    /// Coordinates in Å (finite).
    pub coords: [f64; 3],
    /// Isotropic B-factor in Å² (0 for none: the token is then masked).
    pub bfactor: f64,
    /// Occupancy (1 for a fully occupied atom).
    pub occupancy: f64,
}

/// A [`Structure`] from atoms (see the module docs). `options` choose the tokens,
/// waters and hydrogens as for [`super::read`] (`max_bytes` does not apply).
///
/// Errors: [`Error::Empty`] for no atoms or no tokens, [`Error::NonFinite`] for a
/// coordinate, B-factor or occupancy that is NaN or infinite (naming the atom),
/// [`Error::Format`] for an identifier that is not printable ASCII. Non-physical
/// B-factors (negative or above [`super::MAX_BFACTOR`]) and occupancies (outside
/// 0 to 1) are read as a file's are: 0, masked, with a warning. The structure has
/// no source text: [`super::write`] writes it through pdbtbx.
///
/// ```
/// use bfactor::structure::{atom_tokens, from_atoms, AtomRecord, ReadOptions, TokenMode};
///
/// let atom = |name: &str, element: &str, x: f64| AtomRecord {
///     chain: "A".into(),
///     residue_number: 1,
///     insertion_code: None,
///     residue_name: "GLY".into(),
///     atom_name: name.into(),
///     element: element.into(),
///     hetero: false,
///     coords: [x, 0.0, 0.0],
///     bfactor: 20.0,
///     occupancy: 1.0,
/// };
/// let atoms = [atom("N", "N", 0.0), atom("CA", "C", 1.46), atom("C", "C", 2.0), atom("O", "O", 3.2)];
/// let st = from_atoms(&atoms, &ReadOptions::new().with_tokens(TokenMode::CaOnly))?;
/// assert_eq!(st.tokens().len(), 1);
/// assert_eq!(st.tokens()[0].atom_name, "CA");
/// assert_eq!(atom_tokens(&st, &atoms), vec![Some(0); 4]);
/// # Ok::<(), bfactor::Error>(())
/// ```
pub fn from_atoms(atoms: &[AtomRecord], options: &ReadOptions) -> Result<Structure> {
    let mut notes = Notes::default();
    let mut sites = Vec::with_capacity(atoms.len());
    for (i, a) in atoms.iter().enumerate() {
        for (k, v) in a.coords.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::non_finite("atoms' coords", vec![i, k], *v));
            }
        }
        if !a.bfactor.is_finite() {
            return Err(Error::non_finite("atoms' bfactor", vec![i], a.bfactor));
        }
        if !a.occupancy.is_finite() {
            return Err(Error::non_finite("atoms' occupancy", vec![i], a.occupancy));
        }
        let icode = a
            .insertion_code
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let fields = [
            ("chain", a.chain.as_str()),
            ("residue name", &a.residue_name),
            ("atom name", &a.atom_name),
            ("element", &a.element),
            ("insertion code", icode.unwrap_or("")),
        ];
        if let Some((what, value)) = fields.iter().find(|(_, v)| !printable(v)) {
            return Err(Error::format(
                SHOWN,
                format!(
                    "atom {}: its {what} {value:?} is not printable ASCII",
                    i + 1
                ),
            ));
        }
        let place = || format!("atom {}", i + 1);
        let b = if a.bfactor < 0.0 {
            notes.add("have a negative B-factor: read as 0, masked", place);
            0.0
        } else {
            a.bfactor
        };
        let (occ, b) = physical(a.occupancy, b, &mut notes, &place);
        sites.push(Site {
            model: 0,
            chain: Name::new(a.chain.trim()),
            res_seq: a.residue_number,
            icode: icode.map(str::to_string),
            atom: Name::new(&a.atom_name.trim().to_uppercase()),
            alt: None,
            occupancy: Some(a.occupancy),
            b_field: None,
            b_pad: 0,
            line: i + 1,
            record: 0..0,
            hetero: a.hetero,
            serial: i + 1,
            res_name: Name::new(&a.residue_name.trim().to_uppercase()),
            xyz: a.coords,
            b,
            occ,
            element: Name::upper(a.element.trim()),
            charge: 0,
        });
    }
    if sites.is_empty() {
        return Err(Error::empty("atoms", vec![0], "atom"));
    }
    let scanned = Scan {
        sites,
        warnings: notes.into_warnings(),
        ..Scan::default()
    };
    let index = occupancy_index(&scanned.sites);
    let (pdb, warnings) = build_pdb(&scanned, SHOWN)?;
    let mut st = build(pdb, warnings, FileFormat::Pdb, Some(&index), options, SHOWN)?;
    st.settle(&scanned);
    Ok(st)
}

/// For each atom, the token of `structure` it takes its value from (the rule
/// [`super::write`] uses), or `None` for an atom that is no token's (a skipped
/// water or hydrogen, a residue the structure does not hold).
///
/// With `structure` made by [`from_atoms`] from the same atoms, every atom of a
/// token's residue maps to it; values `v[t]` per token become per-atom values
/// `atom_tokens(..).map(|t| v[t])`.
pub fn atom_tokens(structure: &Structure, atoms: &[AtomRecord]) -> Vec<Option<usize>> {
    let index = TokenIndex::new(structure);
    atoms
        .iter()
        .map(|a| {
            let icode = a
                .insertion_code
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            index.get(
                a.chain.trim(),
                a.residue_number,
                icode,
                &a.atom_name.trim().to_uppercase(),
            )
        })
        .collect()
}
