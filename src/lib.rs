//! # bfactor
//!
//! Crystallographic B-factor prediction from a structure model's per-token
//! representation, on [`ndarray`], in pure Rust.
//!
//! The source is grouped by role; the public modules keep short paths at the root.
//!
//! Heads (`src/heads/`):
//! - [`head`]: the reference notebook's head (layer norm, `W1`, ReLU, layer norm,
//!   `W2`, softmax expectation over bin centers), exact to NumPy.
//! - [`boltz2`]: Boltz-2's released B-factor head (one linear layer to bin logits).
//!
//! Structures (`src/structure/`, cargo feature `structure`, on by default):
//! - [`structure`]: PDB/mmCIF files in and out, per-token experimental B-factors,
//!   the Gaussian network model ([`structure::gnm`]), per-residue descriptors
//!   ([`structure::features`]) and the bundled predictor ([`structure::predict`]).
//!
//! Losses and training (`src/loss*`, `src/train/`):
//! - [`loss`]: normalized MSE and Pearson correlation, masked per residue, and
//!   Boltz-2's binned cross-entropy.
//! - [`train`]: exact gradients, optimizers and the fit loop.
//!
//! I/O (`src/io/`):
//! - [`weights`]: safetensors and NumPy `.npz` weight files for both heads.
//!
//! Data helpers (`src/data/`):
//! - [`tokens`]: per-token B-factors from per-atom ones, as Boltz-2 makes its
//!   targets.
//! - [`bins`]: bin centers and boundaries.
//! - [`synthetic`]: the notebook's simulated termini profile.
//! - [`numpy_rng`]: NumPy's legacy `seed`/`randn` stream, bit for bit, to replay
//!   notebook experiments.
//!
//! Kernels (`src/kernels/`):
//! - [`ops`]: the row kernels (layer norm, softmax, log-softmax, expectation) every
//!   head and loss shares.
//! - [`matmul`]: the deterministic matrix product, threaded on rayon's current
//!   pool (cargo feature `threads`).
//! - [`cpu`]: the instruction-set levels the kernels are compiled for, and
//!   `BFACTOR_KERNEL` to force one.
//!
//! Errors: every fallible function returns [`Result`] with the crate's one
//! [`Error`].
//!
//! Everything is generic over [`Float`] (`f32`, `f64`) and takes `&ArrayBase<S, D>`,
//! so owned arrays and views both work. Bad input is an [`Error`], never a panic.
//!
//! ```
//! use bfactor::ndarray::{self, Array2};
//! use bfactor::rand::{rngs::StdRng, SeedableRng};
//! use bfactor::{loss, BFactorHeadConfig};
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let head = BFactorHeadConfig::new(32).init::<f32>(&mut rng)?;
//! let s = Array2::<f32>::from_shape_fn((10, 32), |(i, j)| ((i * 7 + j) % 5) as f32);
//! let out = head.forward(&s)?;
//! let target = ndarray::Array1::from_iter((0..10).map(|i| 20.0 + i as f32));
//! let r = loss::pearson(&out.bfactor, &target)?;
//! assert!((-1.0..=1.0).contains(&r));
//! # Ok::<(), bfactor::Error>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod check;
mod data;
mod error;
mod float;
mod heads;
mod io;
mod kernels;
pub mod loss;
#[cfg(feature = "structure")]
#[cfg_attr(docsrs, doc(cfg(feature = "structure")))]
pub mod structure;
pub mod train;

pub use data::{bins, numpy_rng, synthetic, tokens};
pub use heads::{boltz2, head};
pub use io::weights;
pub use kernels::{cpu, matmul, ops};

pub use boltz2::{Boltz2Head, Boltz2HeadConfig};
pub use error::{Error, Result};
pub use float::Float;
pub use head::{BFactorHead, BFactorHeadConfig, HeadOutput};
/// The `ndarray` this crate is built on, so callers use the same version.
pub use ndarray;
/// The `rand` this crate draws from (`init` takes its `Rng`), re-exported likewise.
pub use rand;

/// The README's examples, compiled and run as doctests (with the default
/// features: they save and load weights and read structures).
#[doc = include_str!("../README.md")]
#[cfg(all(
    doctest,
    feature = "safetensors",
    feature = "npy",
    feature = "structure"
))]
pub struct ReadmeDoctests;
