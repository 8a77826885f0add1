//! Structures (cargo feature `structure`): experimental per-token B-factors from
//! PDB and mmCIF files, predicted values written back for a viewer, and the
//! Gaussian network model as a training-free baseline.
//!
//! - [`read`] a PDB (also the legacy format) or mmCIF file (optionally `.gz`)
//!   into a [`Structure`]: its
//!   [`Token`]s, cut the way Boltz-2 cuts them ([`TokenMode::Boltz2`]) or one per
//!   residue at CA ([`TokenMode::CaOnly`]), each with its representative atom's
//!   B-factor, occupancy and coordinates.
//! - [`write()`] one value per token (predicted B-factors, or anything per token)
//!   into the B-factor column of every atom of its residue (a ligand atom gets its
//!   own token's value), as PDB or mmCIF.
//! - [`scale`]: per-chain z-scores, and predictions rescaled to each chain's
//!   experimental mean and standard deviation.
//! - [`provenance`]: what the B column holds (an experiment's B-factors, a
//!   predicted model's pLDDT), decided for every file read
//!   ([`Structure::provenance`], [`Structure::plddt`]); [`plddt`]: pLDDT to
//!   B-factors for molecular replacement; [`ensemble`]: B-factors from the
//!   spread of an NMR ensemble's models.
//!
//! ```
//! use bfactor::structure::{self, scale, MoleculeKind, ReadOptions};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/structures/1ubi.pdb");
//! let ubiquitin = structure::read(path, &ReadOptions::new())?;
//! let first = &ubiquitin.tokens()[0];
//! assert_eq!((first.residue_name.as_str(), first.atom_name.as_str()), ("MET", "CB"));
//! assert_eq!(first.kind, MoleculeKind::Protein);
//! assert_eq!(first.bfactor, 15.53); // ATOM 5 CB MET A 1 ... 15.53
//! assert_eq!(ubiquitin.tokens().len(), 76); // one per residue; waters skipped
//!
//! // Any per-token prediction, shown on the experimental B scale, written back.
//! let prediction = ubiquitin.coords().column(0).to_owned(); // a stand-in
//! let shown = scale::rescale_to_reference_per_chain(
//!     &prediction, &ubiquitin.bfactors(), &ubiquitin.mask(), &ubiquitin.chains())?;
//! let out = std::env::temp_dir().join("bfactor_doctest_1ubi.pdb");
//! structure::write(&ubiquitin, &shown, &out)?;
//! let back = structure::read(&out, &ReadOptions::new())?;
//! assert!((back.tokens()[0].bfactor - shown[0]).abs() < 0.005);
//! # std::fs::remove_file(out).ok();
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! # Reading
//!
//! The atom records, unit cell and space group are parsed here (see the rules
//! in the parser's documentation below), and pdbtbx's model ([`Structure::pdb`])
//! is built from them: first model only, all its atoms, the unit cell
//! (`CRYST1`, `_cell`) and the space group (`CRYST1`, `_symmetry`) when the
//! file has them and pdbtbx knows the group. pdbtbx's own parsers are not used:
//! some of their inputs make them panic, which a program built with
//! `panic = "abort"` cannot survive. Every field pdbtbx's model would refuse is
//! checked first, so no input reaches a panic; building the model still runs
//! under [`std::panic::catch_unwind`] as a last resort (a bug, reported as
//! [`Error::Format`](crate::Error::Format)).
//!
//! **PDB.** Fixed columns: `ATOM`/`HETATM` (columns 1-66 are read; 73-80 may
//! hold an element and charge, or, in the legacy format, an entry ID and a
//! serial number, which are ignored), `MODEL`, `TER`, `CRYST1`, `HEADER`; other
//! records are kept in the text (for writing) but not read. Elements come from
//! columns 77-78 when they hold one, else from the atom name (PDB's alignment: a
//! name whose column 13 is blank or a digit has a one-letter element in column
//! 14). A blank occupancy reads as 1.00 and a blank B-factor as 0.00 (masked).
//! Blank chain identifiers get the first identifiers no atom record of the file
//! uses (`A`-`Z`, then `a`-`z`, `0`-`9`, `AA`, `AB`, ...), one per
//! `TER`-separated segment and afresh in each model, so that blank segments
//! never merge with each other or with a named chain. Residue numbers that wrap
//! from 9999 to 0 go on at 10000.
//!
//! **mmCIF.** The `_atom_site` loop: chain `auth_asym_id` (else
//! `label_asym_id`), residue number `auth_seq_id` (else `label_seq_id`),
//! `pdbx_PDB_ins_code`, atom `label_atom_id` (else `auth_atom_id`), residue
//! `label_comp_id` (else `auth_comp_id`), `label_alt_id`, `Cartn_x/y/z`,
//! `occupancy`, `B_iso_or_equiv`, `type_symbol`, `pdbx_PDB_model_num`. A
//! missing required column is an error naming it. A loop without
//! `B_iso_or_equiv`, or a B value `?` or `.`, reads as B = 0 (masked), with a
//! warning; writing in place into a file without the column is an error
//! saying so (write PDB instead).
//!
//! **Never silent.** A damaged atom record is an [`Error::Format`](crate::Error::Format) naming its
//! line (or loop row and column): truncated, a record that is nothing but
//! `ATOM  `, non-numeric or infinite coordinates, control characters. What is
//! read by a rule rather than as written is listed in [`Structure::warnings`]:
//! non-physical values (an occupancy below 0 or above 1, or a B-factor above
//! [`MAX_BFACTOR`] Å²: the atom is kept, its B-factor reads as 0 so its token is
//! masked, a bad occupancy reads as 0; negative B-factors are kept as written,
//! and masked), legacy columns 73-80, a residue whose records reappear after
//! other residues (merged into the first), an atom record repeating an atom of
//! its residue (the first is used), a space group pdbtbx does not know, and
//! text that is not UTF-8 (read as Latin-1: atom records must be ASCII, other
//! records may hold anything; writing in place gives the bytes back).
//!
//! **Size.** A file larger than [`ReadOptions::max_bytes`] (default
//! [`DEFAULT_MAX_BYTES`], 512 MiB; for `.gz` the decompressed size, counted
//! while decompressing) is an [`Error::Format`](crate::Error::Format) saying so, before more is read:
//! a gzip bomb stops at the limit. Memory is bounded by a few times the limit.
//!
//! The file's text is kept, so that writing can replace B-factors in place. A
//! `.gz` file is decompressed here (flate2) whatever its name (`.pdb.gz`,
//! `.ent.gz`, `.cif.gz`, `.mmcif.gz`).
//!
//! # Tokens
//! A residue is a standard polymer token if its name is in Boltz-2's vocabulary
//! ([`crate::tokens::REPRESENTATIVE_ATOMS`]: the 20 amino acids and `UNK`, `A`,
//! `C`, `G`, `U`, `N`, `DA`, `DC`, `DG`, `DT`, `DN`) and it is written in `ATOM`
//! records. Anything else is cut into one token per heavy atom, kind
//! [`MoleculeKind::Ligand`]: ligands, ions, and also modified residues in
//! `HETATM` records such as selenomethionine (`MSE`), as Boltz-2 tokenizes
//! non-standard residues atom by atom. Waters ([`WATER_NAMES`]) and hydrogens
//! are skipped unless [`ReadOptions`] asks for them.
//!
//! Reading never panics and never invents data: a damaged file is an
//! [`crate::Error::Format`] naming its line, values read by a rule (blank or
//! non-physical B-factors read as 0 and masked, mmCIF files without B values,
//! Latin-1 text, legacy columns) are listed in [`Structure::warnings`], and the
//! text read is capped at [`ReadOptions::max_bytes`] (see [Reading](#reading) for every
//! rule).
//!
//! Only the first model of a multi-model file is tokenized. Where an atom has
//! alternate locations, the one with the highest occupancy is used (the first
//! one on ties, so usually `A`); a residue with alternative residue types
//! (micro-heterogeneity) takes the type of that atom's conformer.
//!
//! Only residues with atoms in the file are tokens (residues listed in `SEQRES`
//! but not observed are not; Boltz-2 would include them, masked). A residue whose
//! representative atom is missing (an alanine without CB) still gets its token, with `present == false`, B-factor 0 (masked by [`Structure::mask`]),
//! NaN coordinates; [`Structure::missing`] lists them.

pub mod features;
pub mod gnm;
pub mod per_atom;
pub mod predict;

mod atoms;
mod bytes;
mod cif;
pub mod ensemble;
pub mod plddt;
pub mod provenance;
mod read;
pub mod scale;
mod sites;
mod token;
mod write;

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
/// The `pdbtbx` this module reads with, so [`Structure::pdb`]'s types are
/// reachable in the version the crate uses.
pub use pdbtbx;

use crate::Float;

pub use atoms::{atom_tokens, from_atoms, AtomRecord};
pub use ensemble::SUPERPOSITION_ITERATIONS;
pub use plddt::{plddt_to_bfactor, plddt_to_bfactor_text, PlddtToB};
pub use provenance::{BColumn, BValues, Method, PredictorName, Provenance};
pub use read::{read, read_bytes, read_str, ReadOptions, DEFAULT_MAX_BYTES, MAX_BFACTOR};
pub use token::{MoleculeKind, Token, TokenMode, PRODY_AMINO_ACIDS, WATER_NAMES};
pub use write::{write, write_atoms, write_atoms_string, write_string};

/// A structure file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// The PDB format (fixed columns).
    Pdb,
    /// PDBx/mmCIF.
    Mmcif,
}

/// The tokens of one chain: `tokens` indexes [`Structure::tokens`] and every
/// per-token array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpan {
    /// The chain identifier.
    pub id: String,
    /// The chain's tokens (they are contiguous).
    pub tokens: Range<usize>,
}

/// A structure read from a PDB or mmCIF file: its tokens, and what is needed to
/// write values back into the file.
#[derive(Debug, Clone)]
pub struct Structure {
    pdb: pdbtbx::PDB,
    tokens: Vec<Token>,
    format: FileFormat,
    /// The file's text (decompressed for `.gz`), for writing in place.
    source: Option<String>,
    path: Option<PathBuf>,
    warnings: Vec<String>,
    /// The file was not UTF-8 and was read as Latin-1: written back as Latin-1.
    latin1: bool,
    /// How it was read (for [`Structure::to_bytes`]).
    options: ReadOptions,
    /// The resolution the header gives (Å).
    resolution: Option<f64>,
    /// Where it comes from.
    provenance: Provenance,
    /// What its B column was read as.
    b_values: BValues,
    /// Per-token pLDDT (0-100), for a predicted model.
    plddt: Option<Vec<f64>>,
    /// 100 where the file wrote pLDDT as 0-1, else 1.
    plddt_scale: f64,
    /// The representative atoms' coordinates in every model `[models, tokens,
    /// 3]` (NaN where absent), for a file of two or more models.
    ensemble: Option<ndarray::Array3<f64>>,
}

impl Structure {
    /// The tokens, chain by chain, residues in file order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The representative atoms' B-factors `[n_tokens]`, 0 where missing.
    pub fn bfactors(&self) -> Array1<f64> {
        self.tokens.iter().map(|t| t.bfactor).collect()
    }

    /// The representative atoms' occupancies `[n_tokens]`, 0 where missing.
    pub fn occupancies(&self) -> Array1<f64> {
        self.tokens.iter().map(|t| t.occupancy).collect()
    }

    /// 1 for a token with a usable experimental B-factor, 0 where the
    /// representative atom is missing or its B-factor is `<= 1e-5` (Boltz-2's
    /// rule), `[n_tokens]`.
    pub fn mask(&self) -> Array1<f64> {
        self.tokens
            .iter()
            .map(|t| {
                if t.present && t.bfactor > crate::loss::MIN_VALID_BFACTOR {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// The representative atoms' coordinates `[n_tokens, 3]` (Å); rows of NaN
    /// where missing.
    pub fn coords(&self) -> Array2<f64> {
        Array2::from_shape_fn((self.tokens.len(), 3), |(i, j)| self.tokens[i].coords[j])
    }

    /// The chains, in file order, with their token ranges.
    pub fn chains(&self) -> Vec<ChainSpan> {
        let mut spans: Vec<ChainSpan> = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            match spans.last_mut() {
                Some(last) if last.id == t.chain => last.tokens.end = i + 1,
                _ => spans.push(ChainSpan {
                    id: t.chain.clone(),
                    tokens: i..i + 1,
                }),
            }
        }
        spans
    }

    /// Indices of the tokens whose representative atom is missing (reported,
    /// not an error; their mask is 0).
    pub fn missing(&self) -> Vec<usize> {
        (0..self.tokens.len())
            .filter(|&i| !self.tokens[i].present)
            .collect()
    }

    /// The file's format.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// The file read, if read from a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What was read by a rule rather than as written, with the line: values
    /// read as 0 and masked (non-physical, or no B-factor in an mmCIF file),
    /// legacy columns, merged residues, an unknown space group, text read as
    /// Latin-1 (see [`read`]'s module documentation).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The resolution (Å) the file's header gives, if any: PDB `REMARK   2
    /// RESOLUTION.`, or mmCIF `_refine.ls_d_res_high`, `_reflns.d_resolution_high`
    /// or `_em_3d_reconstruction.resolution` (the first that holds a positive
    /// number). `None` for a file without one (NMR, models, CA-only extracts).
    pub fn resolution(&self) -> Option<f64> {
        self.resolution
    }

    /// The parsed structure as pdbtbx holds it: all atoms of the first model, and
    /// the unit cell and space group when the file has them (the crate re-exports
    /// [`pdbtbx`] for its types).
    pub fn pdb(&self) -> &pdbtbx::PDB {
        &self.pdb
    }

    /// [`Structure::bfactors`] as any [`Float`] (an `f32` head's targets
    /// without a `mapv`).
    pub fn bfactors_as<F: Float>(&self) -> Array1<F> {
        self.tokens
            .iter()
            .map(|t| F::from_f64_lossy(t.bfactor))
            .collect()
    }

    /// [`Structure::mask`] as any [`Float`].
    pub fn mask_as<F: Float>(&self) -> Array1<F> {
        self.mask().mapv(F::from_f64_lossy)
    }

    /// [`Structure::coords`] as any [`Float`].
    pub fn coords_as<F: Float>(&self) -> Array2<F> {
        self.coords().mapv(F::from_f64_lossy)
    }
}
