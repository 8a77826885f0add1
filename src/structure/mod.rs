//! Structures (cargo feature `structure`): experimental per-token B-factors from
//! PDB and mmCIF files, predicted values written back for a viewer, and the
//! Gaussian network model as a training-free baseline.
//!
//! - [`read`] a PDB or mmCIF file (optionally `.gz`) into a [`Structure`]: its
//!   [`Token`]s, cut the way Boltz-2 cuts them ([`TokenMode::Boltz2`]) or one per
//!   residue at CA ([`TokenMode::CaOnly`]), each with its representative atom's
//!   B-factor, occupancy and coordinates.
//! - [`write()`] one value per token (predicted B-factors, or anything per token)
//!   into the B-factor column of every atom of its residue (a ligand atom gets its
//!   own token's value), as PDB or mmCIF.
//! - [`scale`]: per-chain z-scores, and predictions rescaled to each chain's
//!   experimental mean and standard deviation.
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
//! Only the first model of a multi-model file is tokenized. Where an atom has
//! alternate locations, the one with the highest occupancy is used (the first
//! one on ties, so usually `A`); a residue with alternative residue types
//! (micro-heterogeneity) takes the type of that atom's conformer.
//!
//! Only residues with atoms in the file are tokens (residues listed in `SEQRES`
//! but not observed are not; Boltz-2 would include them, masked). A residue whose
//! representative atom is missing (an alanine without CB) still gets its token, with `present == false`, B-factor 0 (masked by [`Structure::mask`]),
//! NaN coordinates; [`Structure::missing`] lists them.

pub mod gnm;

mod cif;
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

pub use read::{read, read_str, ReadOptions};
pub use token::{MoleculeKind, Token, TokenMode, WATER_NAMES};
pub use write::{write, write_string};

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

    /// pdbtbx's warnings about the file (with their lines), and a note if it had
    /// to be read with its coordinate records alone.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The parsed structure (first model), as pdbtbx holds it (the crate
    /// re-exports [`pdbtbx`] for its types).
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
