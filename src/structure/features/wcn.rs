//! The all-heavy-atom weighted contact number of `gemmi wcn`: per atom
//! `1 / Σ_b occ_b / r_ab²` over every heavy atom within 15 Å, crystal
//! symmetry mates included, optionally smoothed by a Gaussian over the
//! neighbouring atoms' values.
//!
//! ```
//! use bfactor::structure::{self, features::{self, WcnConfig}, ReadOptions};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/structures/1ubi.pdb");
//! let st = structure::read(path, &ReadOptions::new())?;
//! let w = features::atom_wcn(&st, &WcnConfig::new())?;
//! assert_eq!(w.values.len(), w.atoms.len());
//! assert!(w.values.iter().all(|&v| v > 0.0)); // 1/WCN: larger is more flexible
//! let blurred = features::atom_wcn(&st, &WcnConfig::new().with_blur(Some(2.0)))?;
//! assert_eq!(blurred.atoms, w.atoms);
//! // One value per token: its representative atom's (here the CA).
//! let (per_token, defined) = w.token_values(&st);
//! assert_eq!(per_token.len(), st.tokens().len());
//! assert!(defined.iter().all(|&d| d));
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! # The definition (gemmi 0.7.5's `wcn` program, its defaults)
//!
//! - **Neighbours**: every atom of the first model that is not a hydrogen
//!   (element H or D; by the name's first letter where the file gives no
//!   element) and not in a water or buffer residue ([`BUFFER_OR_WATER`]), every
//!   alternate location, and their images under the crystal symmetry
//!   (every space-group operator and lattice translation, when the file has a
//!   unit cell and a space group and `crystal` is on).
//! - **Scored atoms**: the heavy atoms of occupancy above 0 of the polymer
//!   residues (a residue with an `ATOM` record, or named as an amino acid of
//!   [`crate::structure::PRODY_AMINO_ACIDS`] or a nucleotide).
//! - **WCN** of a scored atom `a`: `Σ_b w_b / r_ab^p` over the neighbours with
//!   `min_dist < r_ab < cutoff` (0.8 and 15 Å, `p = 2`). A neighbour with an
//!   alternate location other than `a`'s is skipped when `a` has one; `w_b` is
//!   `b`'s occupancy when `a` has no alternate location, else 1. The value is
//!   `1 / WCN`; an atom with no neighbour has none (left out, with a count in
//!   [`AtomWcn::lonely`]).
//! - **Blur** `σ`: each value becomes `Σ_b g_b v_b / Σ_b g_b` over the scored
//!   atoms (and their images) within `3σ` of it, itself included,
//!   `g_b = exp(-r²/2σ²)`, times `b`'s occupancy when `a` has no alternate
//!   location and `b` is another atom; the same alternate-location rule.
//!
//! Cost: linear in atoms (a cell list of side `cutoff`); about
//! `4/3·π·cutoff³·ρ` neighbours per atom.

use std::collections::HashMap;

use ndarray::Array1;
use rayon::prelude::*;

use super::atoms::{is_hydrogen, NUCLEOTIDES};
use super::grid::{dist2, Grid};
use super::lattice::{self, Affine};
use crate::structure::{Structure, PRODY_AMINO_ACIDS};
use crate::{Error, Result};

/// The residue names gemmi 0.7.5 tabulates as water or buffer (its
/// `ResidueKind::HOH` and `BUF`, every name of up to three characters): their
/// atoms are not neighbours. Ions such as `CA`, `ZN`, `MG` and `CL` are in it.
pub const BUFFER_OR_WATER: &[&str] = &[
    "12P", "144", "15P", "16D", "1BO", "1PS", "2OS", "3CO", "3NI", "ACA", "ACN", "ACT", "ACY",
    "AG", "AL", "AZI", "B3P", "B7G", "BA", "BCN", "BE7", "BEQ", "BR", "BRO", "BTB", "BU1", "BU2",
    "BU3", "C10", "C15", "C8E", "CA", "CAC", "CBM", "CBX", "CCN", "CD", "CE1", "CIT", "CL", "CLO",
    "CM", "CM5", "CN", "CO", "CPS", "CRY", "CS", "CU", "CU1", "CXE", "CYN", "DDQ", "DHD", "DIA",
    "DIO", "DMF", "DMS", "DMU", "DMX", "DOD", "DOX", "DR6", "DXG", "EDO", "EEE", "EGL", "EOH",
    "ETF", "F", "FCY", "FE", "FE2", "FLO", "FMT", "FRU", "GBL", "GLO", "GOL", "GPX", "H2O", "HEZ",
    "HG", "HOH", "HTG", "HTO", "ICI", "ICT", "IDO", "IOD", "IOH", "IPA", "IPH", "JEF", "K", "LAT",
    "LBT", "LDA", "LI", "LMT", "MA4", "MG", "MG8", "MHA", "MN", "MN3", "MOH", "MPD", "MPO", "MRD",
    "MRY", "MTL", "N8E", "NA", "NCO", "NH4", "NHE", "NI", "NO3", "OTE", "P33", "P4C", "PB", "PDO",
    "PE4", "PE7", "PE8", "PEU", "PG5", "PG6", "PGE", "PGO", "PGQ", "PGR", "PIG", "PIN", "POL",
    "RB", "SAL", "SBT", "SCN", "SDS", "SO4", "SOR", "SPD", "SPK", "SPM", "SR", "TAR", "TAU", "TBU",
    "TEP", "TFP", "TLA", "TMA", "TRS", "TRT", "UMQ", "URE", "WAT", "XPE", "Y1", "YT3", "ZN", "ZN2",
];

/// The settings of [`atom_wcn`]: gemmi's defaults, with `with_*` setters.
///
/// ```
/// use bfactor::structure::features::WcnConfig;
///
/// let c = WcnConfig::new().with_cutoff(12.0).with_blur(Some(2.0)).with_crystal(false);
/// assert!(c.validate().is_ok());
/// assert!(WcnConfig::new().with_cutoff(0.5).validate().is_err()); // below min_dist
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WcnConfig {
    /// Largest distance counted (Å), default 15.
    pub cutoff: f64,
    /// Pairs at most this far apart are not counted (Å), default 0.8.
    pub min_dist: f64,
    /// The exponent `p` of `1/r^p`, default 2 (0 counts contacts).
    pub exponent: f64,
    /// Gaussian smoothing `σ` (Å), default `None`.
    pub blur: Option<f64>,
    /// Whether symmetry mates count (default true; gemmi's `--no-crystal` is false).
    pub crystal: bool,
}

impl Default for WcnConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl WcnConfig {
    /// gemmi's defaults: cutoff 15 Å, `min_dist` 0.8 Å, `p = 2`, no blur, crystal on.
    pub fn new() -> Self {
        Self {
            cutoff: 15.0,
            min_dist: 0.8,
            exponent: 2.0,
            blur: None,
            crystal: true,
        }
    }

    /// Another cutoff (Å).
    pub fn with_cutoff(mut self, cutoff: f64) -> Self {
        self.cutoff = cutoff;
        self
    }

    /// Another minimum distance (Å).
    pub fn with_min_dist(mut self, min_dist: f64) -> Self {
        self.min_dist = min_dist;
        self
    }

    /// Another exponent.
    pub fn with_exponent(mut self, exponent: f64) -> Self {
        self.exponent = exponent;
        self
    }

    /// Gaussian smoothing `σ` (Å), or none.
    pub fn with_blur(mut self, blur: Option<f64>) -> Self {
        self.blur = blur;
        self
    }

    /// Symmetry mates on or off.
    pub fn with_crystal(mut self, crystal: bool) -> Self {
        self.crystal = crystal;
        self
    }

    /// Checks the ranges: `0 ≤ min_dist < cutoff ≤ 100` Å, `exponent` finite
    /// and `≥ 0`, `blur` (if any) finite, `> 0` and `≤ 20` Å.
    pub fn validate(&self) -> Result<()> {
        if !(self.min_dist.is_finite() && self.min_dist >= 0.0) {
            return Err(Error::config(
                "min_dist",
                self.min_dist,
                "a distance >= 0 Å",
            ));
        }
        if !(self.cutoff.is_finite() && self.cutoff > self.min_dist && self.cutoff <= 100.0) {
            return Err(Error::config(
                "cutoff",
                self.cutoff,
                format!(
                    "a distance above min_dist ({} Å) and at most 100 Å",
                    self.min_dist
                ),
            ));
        }
        if !(self.exponent.is_finite() && self.exponent >= 0.0) {
            return Err(Error::config(
                "exponent",
                self.exponent,
                "a finite number >= 0",
            ));
        }
        if let Some(s) = self.blur {
            if !(s.is_finite() && s > 0.0 && s <= 20.0) {
                return Err(Error::config("blur", s, "a width above 0 and at most 20 Å"));
            }
        }
        Ok(())
    }
}

/// One scored atom of [`AtomWcn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtomId {
    /// Chain identifier.
    pub chain: String,
    /// Residue number.
    pub residue_number: isize,
    /// Insertion code, if any.
    pub insertion_code: Option<String>,
    /// Residue name.
    pub residue_name: String,
    /// Atom name.
    pub atom_name: String,
    /// Alternate location, if any.
    pub alt_loc: Option<String>,
}

impl AtomId {
    /// The identity of `atom` of `conformer`, in residue `(number, icode)` of
    /// chain `chain`.
    pub(crate) fn new(
        chain: &str,
        (number, icode): (isize, Option<&str>),
        conformer: &pdbtbx::Conformer,
        atom: &pdbtbx::Atom,
    ) -> Self {
        Self {
            chain: chain.to_string(),
            residue_number: number,
            insertion_code: icode.map(str::to_string),
            residue_name: conformer.name().to_string(),
            atom_name: atom.name().to_string(),
            alt_loc: conformer.alternative_location().map(str::to_string),
        }
    }
}

/// Per scored atom, `1 / WCN` (blurred if asked), in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct AtomWcn {
    /// The scored atoms.
    pub atoms: Vec<AtomId>,
    /// Their values, `[atoms]`, all finite and positive.
    pub values: Array1<f64>,
    /// Scored atoms left out because no neighbour was within the cutoff.
    pub lonely: usize,
}

impl AtomWcn {
    /// One value per token of `st`: its representative atom's (of its first
    /// alternate location), with `false` where that atom has none.
    pub fn token_values(&self, st: &Structure) -> (Array1<f64>, Vec<bool>) {
        let mut index: HashMap<(&str, isize, Option<&str>, &str), usize> = HashMap::new();
        for (i, a) in self.atoms.iter().enumerate() {
            index
                .entry((
                    a.chain.as_str(),
                    a.residue_number,
                    a.insertion_code.as_deref(),
                    a.atom_name.as_str(),
                ))
                .or_insert(i);
        }
        let tokens = st.tokens();
        let mut values = Array1::zeros(tokens.len());
        let mut defined = vec![false; tokens.len()];
        for (k, t) in tokens.iter().enumerate() {
            let key = (
                t.chain.as_str(),
                t.residue_number,
                t.insertion_code.as_deref(),
                t.atom_name.as_str(),
            );
            if let (true, Some(&i)) = (t.present, index.get(&key)) {
                values[k] = self.values[i];
                defined[k] = true;
            }
        }
        (values, defined)
    }
}

/// A neighbour: an atom or an image of one.
#[derive(Clone, Copy)]
struct Point {
    pos: [f64; 3],
    occ: f64,
    /// Alternate location label (0 for none).
    alt: u8,
    /// The original atom (index into `atoms`).
    atom: u32,
}

/// `1 / WCN` of every scored atom of `st` (see the module doc).
///
/// Errors: [`Error::Config`] for an invalid `config`; [`Error::Format`] for an
/// alternate-location label longer than one character.
pub fn atom_wcn(st: &Structure, config: &WcnConfig) -> Result<AtomWcn> {
    let field = Field::new(st, config)?;
    let value = match config.blur {
        Some(sigma) => field.blurred(sigma),
        None => field.raw.clone(),
    };
    let mut atoms = Vec::with_capacity(field.ids.len());
    let mut values = Vec::with_capacity(field.ids.len());
    let mut lonely = 0;
    for (id, v) in field.ids.into_iter().zip(value) {
        match v {
            Some(v) if v.is_finite() => {
                atoms.push(id);
                values.push(v);
            }
            _ => lonely += 1,
        }
    }
    Ok(AtomWcn {
        atoms,
        values: Array1::from(values),
        lonely,
    })
}

/// The scored atoms of a structure with their `1 / WCN`, raw and blurred
/// (`None` where an atom has no neighbour).
pub(crate) struct RawAndBlurred {
    pub(crate) ids: Vec<AtomId>,
    pub(crate) raw: Vec<Option<f64>>,
    pub(crate) blurred: Vec<Option<f64>>,
}

/// The scored atoms of `st` with their `1 / WCN`, raw and with a `sigma` blur,
/// from one field.
pub(crate) fn raw_and_blurred(
    st: &Structure,
    config: &WcnConfig,
    sigma: f64,
) -> Result<RawAndBlurred> {
    let field = Field::new(st, config)?;
    let blurred = field.blurred(sigma);
    Ok(RawAndBlurred {
        ids: field.ids,
        raw: field.raw,
        blurred,
    })
}

/// The atoms, their images and the scored atoms' `1 / WCN`, with a cell list
/// for queries at any point (the descriptors' centres).
pub(crate) struct Field {
    config: WcnConfig,
    /// The atoms, then their images.
    points: Vec<Point>,
    grid: Grid,
    /// For each atom, its index among the scored atoms.
    scored_of: Vec<Option<u32>>,
    /// The scored atoms (indices into `points`).
    scored: Vec<usize>,
    ids: Vec<AtomId>,
    /// `1 / WCN` per scored atom (`None`: no neighbour).
    raw: Vec<Option<f64>>,
    /// The scored atoms without an alternate location: position (bits) → WCN
    /// (the sum [`Field::sum_at`] gives there, the same bits).
    by_position: HashMap<[u64; 3], f64>,
}

/// Cell side of the neighbour search (Å): a 15 Å query visits 7³ cells.
const CELL: f64 = 5.0;

impl Field {
    pub(crate) fn new(st: &Structure, config: &WcnConfig) -> Result<Self> {
        config.validate()?;
        let mut points: Vec<Point> = Vec::new();
        let mut ids: Vec<AtomId> = Vec::new();
        let mut scored_of: Vec<Option<u32>> = Vec::new();
        if let Some(model) = st.pdb().model(0) {
            for chain in model.chains() {
                for residue in chain.residues() {
                    let Some(first) = residue.conformers().next() else {
                        continue;
                    };
                    let name = first.name().to_ascii_uppercase();
                    if BUFFER_OR_WATER.contains(&name.as_str()) {
                        continue;
                    }
                    let polymer = PRODY_AMINO_ACIDS.contains(&name.as_str())
                        || NUCLEOTIDES.contains(&name.as_str())
                        || residue.atoms().any(|a| !a.hetero());
                    let (number, icode) = residue.id();
                    for conformer in residue.conformers() {
                        let alt_label = conformer.alternative_location();
                        let alt = match alt_label.map(str::as_bytes) {
                            None => 0,
                            Some([b]) => *b,
                            Some(other) => {
                                return Err(Error::format(
                                    st.path()
                                        .map_or("<structure>".into(), |p| p.display().to_string()),
                                    format!(
                                        "an alternate location of one character, not `{}`",
                                        String::from_utf8_lossy(other)
                                    ),
                                ))
                            }
                        };
                        for atom in conformer.atoms() {
                            if is_hydrogen(atom) {
                                continue;
                            }
                            let (x, y, z) = atom.pos();
                            let occ = atom.occupancy();
                            let index = points.len() as u32;
                            points.push(Point {
                                pos: [x, y, z],
                                occ,
                                alt,
                                atom: index,
                            });
                            if polymer && occ != 0.0 {
                                scored_of.push(Some(ids.len() as u32));
                                ids.push(AtomId::new(chain.id(), (number, icode), conformer, atom));
                            } else {
                                scored_of.push(None);
                            }
                        }
                    }
                }
            }
        }
        let n_atoms = points.len();
        // Images within the cutoff of an atom, and within the widest blur the
        // descriptors use of a centre.
        let reach = config
            .cutoff
            .max(3.0 * config.blur.unwrap_or(0.0))
            .max(3.0 * MAX_BLUR);
        if config.crystal && n_atoms > 0 {
            let positions: Vec<[f64; 3]> = points.iter().map(|p| p.pos).collect();
            if let Some(images) = lattice::images_of(st, &positions, reach) {
                points.extend(mates(&points[..n_atoms], &positions, &images, reach));
            }
        }
        let positions: Vec<[f64; 3]> = points.iter().map(|p| p.pos).collect();
        let grid = Grid::new(&positions, CELL);
        let scored: Vec<usize> = (0..n_atoms).filter(|&i| scored_of[i].is_some()).collect();
        let mut field = Self {
            config: *config,
            points,
            grid,
            scored_of,
            scored,
            ids,
            raw: Vec::new(),
            by_position: HashMap::new(),
        };
        let sums: Vec<f64> = field
            .scored
            .par_iter()
            .map(|&i| {
                let a = field.points[i];
                field.sum_at(&a.pos, a.alt)
            })
            .collect();
        field.raw = sums.iter().map(|&s| (s > 0.0).then(|| 1.0 / s)).collect();
        field.by_position = field
            .scored
            .iter()
            .zip(&sums)
            .filter(|(&i, _)| field.points[i].alt == 0)
            .map(|(&i, &s)| (field.points[i].pos.map(f64::to_bits), s))
            .collect();
        Ok(field)
    }

    /// `Σ_b w_b / r^p` at `pos` for a centre of alternate location `alt` (0:
    /// none), over the neighbours with `min_dist < r < cutoff`.
    pub(crate) fn sum_at(&self, pos: &[f64; 3], alt: u8) -> f64 {
        let c = &self.config;
        let (c2, m2, p) = (c.cutoff * c.cutoff, c.min_dist * c.min_dist, c.exponent);
        let mut sum = 0.0;
        self.grid.for_each_candidate(pos, c.cutoff, |j| {
            let b = &self.points[j];
            let d2 = dist2(pos, &b.pos);
            if d2 > m2 && d2 < c2 && compatible(alt, b.alt) {
                let w = if p == 2.0 {
                    1.0 / d2
                } else if p == 0.0 {
                    1.0
                } else {
                    d2.powf(-0.5 * p)
                };
                sum += if alt == 0 { w * b.occ } else { w };
            }
        });
        sum
    }

    /// [`Self::sum_at`] at `pos` for a centre without alternate location: the
    /// scored atom's own sum where one is there, else computed.
    pub(crate) fn sum_at_atom(&self, pos: &[f64; 3]) -> f64 {
        match self.by_position.get(&pos.map(f64::to_bits)) {
            Some(&s) => s,
            None => self.sum_at(pos, 0),
        }
    }

    /// The Gaussian average of the scored atoms' `1 / WCN` within `3σ` of
    /// `pos` (weights times occupancy, except for `own`, the centre's own atom
    /// and its images; with `own` `None`, an atom exactly at `pos`), `None` if
    /// none is.
    pub(crate) fn blurred_at(
        &self,
        pos: &[f64; 3],
        alt: u8,
        own: Option<usize>,
        sigma: f64,
    ) -> Option<f64> {
        let mult = -0.5 / (sigma * sigma);
        let r2 = 9.0 * sigma * sigma;
        let (mut num, mut den) = (0.0, 0.0);
        self.grid.for_each_candidate(pos, 3.0 * sigma, |j| {
            let b = &self.points[j];
            let Some(kb) = self.scored_of[b.atom as usize] else {
                return;
            };
            let Some(vb) = self.raw[kb as usize] else {
                return;
            };
            let d2 = dist2(pos, &b.pos);
            if d2 >= r2 || !compatible(alt, b.alt) {
                return;
            }
            let mut g = (mult * d2).exp();
            let is_own = match own {
                Some(i) => b.atom as usize == i,
                None => b.pos == *pos,
            };
            if alt == 0 && !is_own {
                g *= b.occ;
            }
            num += g * vb;
            den += g;
        });
        (den > 0.0).then(|| num / den)
    }

    /// [`Self::blurred_at`] at every scored atom (`None` where its own value is).
    fn blurred(&self, sigma: f64) -> Vec<Option<f64>> {
        self.scored
            .par_iter()
            .enumerate()
            .map(|(k, &i)| {
                self.raw[k]?;
                let a = self.points[i];
                self.blurred_at(&a.pos, a.alt, Some(i), sigma)
            })
            .collect()
    }
}

/// The widest blur the descriptors ask of [`Field::blurred_at`] (Å).
pub(crate) const MAX_BLUR: f64 = 4.0;

fn compatible(a: u8, b: u8) -> bool {
    a == 0 || b == 0 || a == b
}

/// The images of `points` that can be within `reach` of one of them.
fn mates(points: &[Point], positions: &[[f64; 3]], images: &[Affine], reach: f64) -> Vec<Point> {
    let near = lattice::Near::new(positions, reach);
    images
        .par_iter()
        .flat_map_iter(|map| {
            points
                .iter()
                .filter_map(|p| {
                    let q = map.apply(&p.pos);
                    near.contains(&q).then_some(Point { pos: q, ..*p })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
