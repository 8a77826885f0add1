//! What a file's B column holds: an experiment's B-factors (X-ray, neutron,
//! electron crystallography, cryo-EM, NMR), a predicted model's confidence
//! (pLDDT), or nothing usable.
//!
//! [`read`](super::read) decides it for every file ([`Structure::provenance`],
//! [`Structure::b_values`]) unless [`ReadOptions::b_column`](super::ReadOptions::b_column) says what the column
//! is. The rules, first that applies:
//!
//! 1. **ModelCIF** (mmCIF with `_audit_conform.dict_name mmcif_ma.dic` or any
//!    `_ma_*` category, as AlphaFold DB, AlphaFold 3, Boltz and ModelArchive
//!    write): predicted.
//! 2. **The experimental method**: PDB `EXPDTA`, mmCIF `_exptl.method` (the
//!    first method listed; `THEORETICAL MODEL` is predicted). `X-RAY`,
//!    `NEUTRON`, `ELECTRON CRYSTALLOGRAPHY`, `ELECTRON MICROSCOPY` (cryo-EM),
//!    `NMR` (solution or solid state); anything else is [`Method::Other`].
//! 3. **A predictor's name** in the header (PDB `HEADER`, `TITLE`, `KEYWDS`,
//!    `AUTHOR`, `REMARK`; mmCIF `_entry.id`, `_struct.title`,
//!    `_struct_keywords`, `_software`): predicted, by that predictor
//!    ([`PredictorName`]; e.g. AlphaFold DB's `TITLE ALPHAFOLD MONOMER V2.0
//!    PREDICTION FOR ...` or its `AF-<accession>-F1` entry IDs).
//! 4. **Headerless files** (none of the above): a predicted model, predictor
//!    unknown, if its B column looks like pLDDT: every residue with two or more
//!    atoms in the first model has one value for all its atoms, at least
//!    [`MIN_UNIFORM_RESIDUES`] such residues exist, the values are not all
//!    equal, and all lie in [0, 100]. A file of one atom per residue (a CA-only
//!    extract) never has such residues, so this rule never takes one for a
//!    prediction. Otherwise the provenance is [`Provenance::Unknown`] and the
//!    column is read as B-factors.
//!
//! Whatever rules 3 and 4 decided is said in [`Structure::warnings`].
//!
//! **A predicted model's B column is pLDDT** ([`BValues::Plddt`]) when all its
//! values lie in [0, 100]; values all in [0, 1] (ESMFold, some ColabFold
//! versions) are read as fractions and multiplied by 100, with a warning.
//! [`Structure::plddt`] gives them on the 0–100 scale; [`Structure::bfactors`]
//! reads 0 for every token (masked), so nothing downstream takes confidence
//! for experiment. A predicted model whose values leave [0, 100] holds neither
//! ([`BValues::Unusable`]).
//!
//! **Cryo-EM** B-factors (from real-space refinement) are read as B-factors,
//! with a warning: the bundled predictor was trained on X-ray structures.
//! **NMR** files usually hold no B-factors (0, masked); an ensemble of several
//! models gives a per-residue flexibility of its own
//! ([`Structure::ensemble_bfactors`]).
//!
//! **Unit cells**: cryo-EM and NMR files and predicted models never keep their
//! unit cell and space group (other methods and files of unknown provenance
//! do); a cell with an edge shorter than
//! 3 Å (AlphaFold DB's and NMR entries' `CRYST1 1.000 1.000 1.000 P 1`) is a
//! placeholder, as the lattice features already took it. Either way there are no
//! symmetry mates, and the warnings say so.
//!
//! ```
//! use bfactor::structure::{self, BValues, FileFormat, Method, Provenance, ReadOptions, TokenMode};
//!
//! let crystal = structure::read("data/crystal/1UBQ.pdb.gz", &ReadOptions::new())?;
//! assert_eq!(crystal.b_values(), BValues::BFactors);
//! assert!(matches!(
//!     crystal.provenance(),
//!     Provenance::Experimental { method: Method::XRay, resolution: Some(_) }
//! ));
//!
//! // A headerless model whose B column is one value per residue, in [0, 100].
//! let text = "\
//! ATOM      1  N   MET A   1      27.340  24.430   2.614  1.00 91.50           N
//! ATOM      2  CA  MET A   1      26.266  25.413   2.842  1.00 91.50           C
//! ATOM      3  N   GLN A   2      26.913  26.639   3.531  1.00 88.20           N
//! ATOM      4  CA  GLN A   2      26.335  27.770   4.258  1.00 88.20           C
//! ATOM      5  N   ILE A   3      26.850  29.021   3.898  1.00 74.00           N
//! ATOM      6  CA  ILE A   3      26.235  30.058   4.714  1.00 74.00           C
//! ";
//! let ca = ReadOptions::new().with_tokens(TokenMode::CaOnly);
//! let model = structure::read_str(text, FileFormat::Pdb, &ca)?;
//! assert!(model.provenance().is_predicted());
//! assert_eq!(model.b_values(), BValues::Plddt);
//! assert_eq!(model.plddt().unwrap().to_vec(), vec![91.5, 88.2, 74.0]);
//! assert!(model.mask().iter().all(|&m| m == 0.0)); // not experiment
//! # Ok::<(), bfactor::Error>(())
//! ```

use std::fmt;

use super::sites::{Scan, Site};
use super::Structure;

/// Cell edges shorter than this (Å) make a placeholder cell (the lattice
/// features' rule).
const MIN_CELL_EDGE: f64 = 3.0;

/// What the B column of a file is, as [`ReadOptions::b_column`] says.
///
/// [`ReadOptions::b_column`]: super::ReadOptions::b_column
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BColumn {
    /// Decide from the file (the rules of the [module docs](self)).
    #[default]
    Detect,
    /// B-factors, whatever the file says.
    BFactor,
    /// pLDDT (0–100, or 0–1 rescaled), whatever the file says.
    Plddt,
}

/// An experimental method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// X-ray diffraction.
    XRay,
    /// Neutron diffraction.
    Neutron,
    /// Electron crystallography (microED).
    ElectronCrystallography,
    /// Electron microscopy (single particle, tomography): cryo-EM.
    CryoEm,
    /// NMR, solution or solid state.
    Nmr,
    /// Another method, as the file names it (fiber diffraction, solution
    /// scattering, ...).
    Other(String),
}

impl Method {
    /// Whether the method measures a crystal (X-ray, neutron, electron
    /// crystallography): its unit cell makes a lattice.
    pub fn is_crystallographic(&self) -> bool {
        matches!(
            self,
            Method::XRay | Method::Neutron | Method::ElectronCrystallography
        )
    }

    /// The method named by a PDB `EXPDTA` or mmCIF `_exptl.method` value;
    /// `None` for `THEORETICAL MODEL` (a prediction).
    pub fn from_record(value: &str) -> Option<Method> {
        let v = value.trim().to_ascii_uppercase();
        let has = |s: &str| v.contains(s);
        Some(if has("THEORETICAL") {
            return None;
        } else if has("X-RAY") || has("XRAY") || has("X RAY") {
            Method::XRay
        } else if has("NEUTRON") {
            Method::Neutron
        } else if has("ELECTRON CRYSTALLOGRAPHY") || has("ELECTRON DIFFRACTION") {
            Method::ElectronCrystallography
        } else if has("ELECTRON MICROSCOPY")
            || has("CRYO-EM")
            || has("CRYOEM")
            || has("TOMOGRAPHY")
            || v == "EM"
        {
            Method::CryoEm
        } else if has("NMR") {
            Method::Nmr
        } else {
            Method::Other(value.trim().to_string())
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::XRay => f.write_str("X-ray"),
            Method::Neutron => f.write_str("neutron"),
            Method::ElectronCrystallography => f.write_str("electron crystallography"),
            Method::CryoEm => f.write_str("cryo-EM"),
            Method::Nmr => f.write_str("NMR"),
            Method::Other(name) => f.write_str(name),
        }
    }
}

/// A structure predictor, as a file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PredictorName {
    /// The AlphaFold Protein Structure Database (AlphaFold 2 models).
    AlphaFoldDb,
    /// AlphaFold 2 (also when a file names AlphaFold without a version).
    AlphaFold2,
    /// AlphaFold 3 (AlphaFold Server included).
    AlphaFold3,
    /// ColabFold.
    ColabFold,
    /// ESMFold.
    EsmFold,
    /// Boltz (1 or 2).
    Boltz,
    /// Chai (Chai-1).
    Chai,
    /// RoseTTAFold (2, All-Atom).
    RoseTtaFold,
    /// A prediction whose predictor the file does not name.
    Unknown,
}

impl fmt::Display for PredictorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PredictorName::AlphaFoldDb => "AlphaFold DB",
            PredictorName::AlphaFold2 => "AlphaFold 2",
            PredictorName::AlphaFold3 => "AlphaFold 3",
            PredictorName::ColabFold => "ColabFold",
            PredictorName::EsmFold => "ESMFold",
            PredictorName::Boltz => "Boltz",
            PredictorName::Chai => "Chai",
            PredictorName::RoseTtaFold => "RoseTTAFold",
            PredictorName::Unknown => "unknown predictor",
        })
    }
}

/// Where a structure comes from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Provenance {
    /// An experiment, with the resolution (Å) where the file gives one.
    Experimental {
        /// The method (the first listed).
        method: Method,
        /// The resolution, as [`Structure::resolution`] reads it.
        resolution: Option<f64>,
    },
    /// A predicted model.
    Predicted {
        /// The predictor, where the file names it.
        predictor: PredictorName,
    },
    /// The file says nothing of its origin (and its B column does not look
    /// like pLDDT).
    #[default]
    Unknown,
}

impl Provenance {
    /// Whether this is a predicted model.
    pub fn is_predicted(&self) -> bool {
        matches!(self, Provenance::Predicted { .. })
    }

    /// The experimental method, if any.
    pub fn method(&self) -> Option<&Method> {
        match self {
            Provenance::Experimental { method, .. } => Some(method),
            _ => None,
        }
    }
}

impl fmt::Display for Provenance {
    /// `X-ray (1.80 Å)`, `cryo-EM`, `predicted (AlphaFold DB)`, `unknown`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Experimental {
                method,
                resolution: Some(r),
            } => write!(f, "{method} ({r:.2} Å)"),
            Provenance::Experimental { method, .. } => write!(f, "{method}"),
            Provenance::Predicted { predictor } => write!(f, "predicted ({predictor})"),
            Provenance::Unknown => f.write_str("unknown"),
        }
    }
}

/// What a structure's B column was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BValues {
    /// B-factors (experimental, or of unknown origin): [`Structure::bfactors`].
    BFactors,
    /// A predicted model's pLDDT: [`Structure::plddt`]; the B-factors read 0.
    Plddt,
    /// Neither (a predicted model whose values leave [0, 100]): the B-factors
    /// read 0, and there is no pLDDT.
    Unusable,
}

/// The least number of multi-atom residues with one value for all their atoms
/// for a headerless file to be taken for a predicted model (rule 4).
pub const MIN_UNIFORM_RESIDUES: usize = 3;

/// The header's evidence, gathered by the parser.
#[derive(Debug, Clone, Default)]
pub(crate) struct Evidence {
    /// The first experimental method record (`EXPDTA`, `_exptl.method`) and its
    /// line.
    pub method: Option<(String, usize)>,
    /// The line of the first ModelCIF item (`_ma_*`, `mmcif_ma.dic`).
    pub modelcif: Option<usize>,
    /// Header text that may name a predictor, with the line of each piece.
    pub text: Vec<(String, usize)>,
    /// `(name, version)` of each `_software` row (mmCIF).
    pub software: Vec<(String, String)>,
    /// The resolution (Å) by source, first wins: PDB `REMARK 2` or mmCIF
    /// `_refine.ls_d_res_high`; `_reflns.d_resolution_high`;
    /// `_em_3d_reconstruction.resolution`.
    pub resolution: [Option<f64>; 3],
}

/// The words of `s`, lower-case, split at anything that is not a letter or a
/// digit.
fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The predictor named in `text` (one piece of header), if any.
fn named_predictor(text: &str, software: &[(String, String)]) -> Option<PredictorName> {
    let lower = text.to_ascii_lowercase();
    let w: Vec<String> = words(text).collect();
    let word = |x: &str| w.iter().any(|v| v == x);
    let prefix = |x: &str| w.iter().any(|v| v.starts_with(x));
    let v3 = software.iter().any(|(name, version)| {
        name.to_ascii_lowercase().contains("alphafold")
            && version.trim_start_matches(['v', 'V']).starts_with('3')
    });
    if lower.contains("alphafold db")
        || lower.contains("alphafold protein structure database")
        || lower.contains("alphafold monomer v2.0 prediction")
        || lower.trim_start().starts_with("af-") && lower.contains("-f")
    {
        Some(PredictorName::AlphaFoldDb)
    } else if word("alphafoldserver")
        || word("alphafold3")
        || lower.contains("alphafold 3")
        || lower.contains("alphafold v3")
        || (word("alphafold") && v3)
    {
        Some(PredictorName::AlphaFold3)
    } else if word("colabfold") {
        Some(PredictorName::ColabFold)
    } else if prefix("alphafold") {
        Some(PredictorName::AlphaFold2)
    } else if word("esmfold") || lower.contains("esm-fold") {
        Some(PredictorName::EsmFold)
    } else if prefix("boltz") {
        Some(PredictorName::Boltz)
    } else if word("chai") || word("chai1") || lower.contains("chai-1") {
        Some(PredictorName::Chai)
    } else if prefix("rosettafold") || word("rfaa") {
        Some(PredictorName::RoseTtaFold)
    } else {
        None
    }
}

/// What reading decided: the provenance, what the B column holds, whether it
/// was a fraction (0–1), and the warnings to add.
pub(crate) struct Decision {
    pub provenance: Provenance,
    pub values: BValues,
    /// pLDDT written as 0–1: multiply by 100.
    pub fraction: bool,
    pub warnings: Vec<String>,
}

/// The range of the first model's B values, and whether every multi-atom
/// residue has one value (with how many such residues there are). A residue is
/// a run of consecutive records with the same chain, number and insertion code
/// (one pass, no hashing: linear in atoms).
struct Column {
    min: f64,
    max: f64,
    uniform: bool,
    multi_atom: usize,
    /// The first residue whose atoms' values differ: (chain, number, line).
    first_mixed: Option<(String, isize, usize)>,
}

fn column(sites: &[Site]) -> Column {
    let mut col = Column {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        uniform: true,
        multi_atom: 0,
        first_mixed: None,
    };
    let first = sites.iter().filter(|s| s.model == 0);
    // The current run: its first site, its length, whether its values agree.
    let mut run: Option<(&Site, usize, bool)> = None;
    let close = |run: Option<(&Site, usize, bool)>, col: &mut Column| {
        if let Some((s, n, same)) = run {
            if n >= 2 {
                col.multi_atom += 1;
                if !same && col.first_mixed.is_none() {
                    col.uniform = false;
                    col.first_mixed = Some((s.chain.to_string(), s.res_seq, s.line));
                }
            }
        }
    };
    for s in first {
        col.min = col.min.min(s.b);
        col.max = col.max.max(s.b);
        match &mut run {
            Some((r, n, same))
                if r.chain == s.chain && r.res_seq == s.res_seq && r.icode == s.icode =>
            {
                *n += 1;
                *same &= r.b == s.b;
            }
            _ => {
                close(run.take(), &mut col);
                run = Some((s, 1, true));
            }
        }
    }
    close(run, &mut col);
    col
}

/// Decides what the file is and what its B column holds (the rules of the
/// module docs).
pub(crate) fn decide(
    evidence: &Evidence,
    sites: &[Site],
    asked: BColumn,
    resolution: Option<f64>,
) -> Decision {
    let mut warnings = Vec::new();
    let col = column(sites);
    let in_percent = col.min >= 0.0 && col.max <= 100.0;
    let fraction = in_percent && col.max <= 1.0 && col.max > 0.0;
    // The predictor the header names (with its line; 0 for `_software`),
    // searched only where a rule needs it.
    let named = || {
        evidence
            .text
            .iter()
            .find_map(|(t, line)| named_predictor(t, &evidence.software).map(|p| (p, *line)))
            .or_else(|| {
                evidence
                    .software
                    .iter()
                    .find_map(|(n, _)| named_predictor(n, &evidence.software).map(|p| (p, 0)))
            })
    };
    let method = evidence
        .method
        .as_ref()
        .map(|(m, _)| Method::from_record(m));
    let predictor = || named().map_or(PredictorName::Unknown, |(p, _)| p);
    let provenance = if evidence.modelcif.is_some() {
        Provenance::Predicted {
            predictor: predictor(),
        }
    } else if let Some(method) = method {
        match method {
            Some(method) => Provenance::Experimental { method, resolution },
            // THEORETICAL MODEL.
            None => Provenance::Predicted {
                predictor: predictor(),
            },
        }
    } else if let Some((p, line)) = named() {
        let at = if line > 0 {
            format!("line {line}")
        } else {
            "the _software category".into()
        };
        warnings.push(format!(
            "no experimental method in the file, and its header names a predictor ({at}): read \
             as a model predicted by {p}"
        ));
        Provenance::Predicted { predictor: p }
    } else if col.uniform
        && col.multi_atom >= MIN_UNIFORM_RESIDUES
        && in_percent
        && col.min < col.max
    {
        if asked == BColumn::Detect {
            warnings.push(format!(
                "no experimental method or predictor in the file, and its B column looks like \
                 pLDDT (each of its {} multi-atom residues has one value for all its atoms, all \
                 values in [0, 100]): read as a predicted model (say the column holds B-factors \
                 to read it as such)",
                col.multi_atom
            ));
            Provenance::Predicted {
                predictor: PredictorName::Unknown,
            }
        } else {
            Provenance::Unknown
        }
    } else {
        Provenance::Unknown
    };
    let values = match asked {
        BColumn::BFactor => {
            if provenance.is_predicted() {
                warnings.push(format!(
                    "the file is a {provenance} model, but its B column was read as B-factors, \
                     as asked"
                ));
            }
            BValues::BFactors
        }
        BColumn::Plddt if in_percent => BValues::Plddt,
        BColumn::Plddt => {
            warnings.push(format!(
                "the B column was to be read as pLDDT, as asked, but its values run from {} to \
                 {}, outside [0, 100]: there is no pLDDT, and no B-factor",
                col.min, col.max
            ));
            BValues::Unusable
        }
        BColumn::Detect if provenance.is_predicted() && in_percent => BValues::Plddt,
        BColumn::Detect if provenance.is_predicted() => {
            warnings.push(format!(
                "the B column of this predicted model runs from {} to {}, outside pLDDT's [0, \
                 100]: it is read neither as pLDDT nor as B-factors",
                col.min, col.max
            ));
            BValues::Unusable
        }
        BColumn::Detect => BValues::BFactors,
    };
    let fraction = values == BValues::Plddt && fraction;
    if fraction {
        warnings.push(format!(
            "the pLDDT values all lie in [0, 1] (at most {}): read as fractions, multiplied by \
             100",
            col.max
        ));
    }
    // AlphaFold 2, ColabFold and ESMFold write one pLDDT per residue; AlphaFold
    // 3, Boltz and Chai one per atom.
    let per_residue = matches!(
        provenance,
        Provenance::Predicted {
            predictor: PredictorName::AlphaFoldDb
                | PredictorName::AlphaFold2
                | PredictorName::ColabFold
                | PredictorName::EsmFold
        }
    );
    if let (BValues::Plddt, true, Some((chain, number, line))) =
        (values, per_residue, &col.first_mixed)
    {
        warnings.push(format!(
            "the pLDDT differs between atoms of a residue (first chain {chain} residue \
             {number}, line {line}): each token takes its representative atom's"
        ));
    }
    if let Provenance::Experimental {
        method: Method::CryoEm,
        ..
    } = &provenance
    {
        warnings.push(
            "cryo-EM B-factors (real-space refinement) are read as B-factors; they are not \
             crystallographic, and the bundled predictor was trained on X-ray structures"
                .into(),
        );
    }
    Decision {
        provenance,
        values,
        fraction,
        warnings,
    }
}

impl Structure {
    /// Applies the provenance rules to a structure just built from `scanned`:
    /// the resolution, the provenance, the pLDDT (B-factors then read 0), the
    /// unit-cell rule, the ensemble's coordinates.
    pub(crate) fn settle(&mut self, scanned: &Scan) {
        self.resolution = scanned.evidence.resolution.iter().find_map(|r| *r);
        let d = decide(
            &scanned.evidence,
            &scanned.sites,
            self.options.b_column,
            self.resolution,
        );
        self.warnings.extend(d.warnings);
        if d.values == BValues::Plddt {
            let scale = if d.fraction { 100.0 } else { 1.0 };
            self.plddt_scale = scale;
            self.plddt = Some(
                self.tokens
                    .iter()
                    .map(|t| {
                        if t.present {
                            t.bfactor * scale
                        } else {
                            f64::NAN
                        }
                    })
                    .collect(),
            );
        }
        if d.values != BValues::BFactors {
            for t in &mut self.tokens {
                t.bfactor = 0.0;
            }
        }
        if let Some(cell) = &self.pdb.unit_cell {
            let (a, b, c) = cell.size();
            let size = format!("{a} × {b} × {c} Å");
            let lattice = match &d.provenance {
                Provenance::Experimental { method, .. } => {
                    !matches!(method, Method::CryoEm | Method::Nmr)
                }
                Provenance::Predicted { .. } => false,
                Provenance::Unknown => true,
            };
            let why = if a.min(b).min(c) < MIN_CELL_EDGE {
                Some(format!(
                    "the unit cell ({size}) is a placeholder (an edge under {MIN_CELL_EDGE} Å,                      as AlphaFold DB, NMR and cryo-EM files write)"
                ))
            } else if !lattice {
                Some(format!(
                    "the file is {}: its unit cell ({size}) is no crystal's",
                    d.provenance
                ))
            } else {
                None
            };
            if let Some(why) = why {
                self.warnings
                    .push(format!("{why}: no lattice, no symmetry mates"));
                self.pdb.unit_cell = None;
                self.pdb.symmetry = None;
            }
        }
        self.provenance = d.provenance;
        self.b_values = d.values;
        self.ensemble = super::ensemble::coordinates(&self.tokens, &scanned.sites);
    }

    /// Where the structure comes from (see the [provenance
    /// rules](super::provenance)).
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// What its B column was read as.
    pub fn b_values(&self) -> BValues {
        self.b_values
    }

    /// A predicted model's per-token pLDDT on a 0–100 scale (the representative
    /// atom's value; NaN where that atom is missing), or `None` if the B column
    /// was not read as pLDDT ([`Structure::b_values`]).
    pub fn plddt(&self) -> Option<ndarray::Array1<f64>> {
        self.plddt.as_ref().map(|p| p.iter().copied().collect())
    }
}
