//! # bfactor
//!
//! Crystallographic B-factor prediction from a structure model's per-token
//! representation, on [`ndarray`], in pure Rust.
//!
//! - [`head`]: the reference notebook's head (layer norm, `W1`, ReLU, layer norm,
//!   `W2`, softmax expectation over bin centers), exact to NumPy.
//! - [`loss`]: normalized MSE and Pearson correlation, masked per residue.
//! - [`ops`]: the row kernels (layer norm, softmax, log-softmax, expectation) every
//!   head and loss shares.
//! - [`bins`]: bin centers.
//! - [`synthetic`]: the notebook's simulated termini profile.
//! - [`numpy_rng`]: NumPy's legacy `seed`/`randn` stream, bit for bit, to replay
//!   notebook experiments.
//!
//! Everything is generic over [`Float`] (`f32`, `f64`) and takes `&ArrayBase<S, D>`,
//! so owned arrays and views both work. Bad input is an [`Error`], never a panic.
//!
//! ```
//! use bfactor::{BFactorHeadConfig, loss};
//! use ndarray::Array2;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let head = BFactorHeadConfig::new(32).init::<f32, _>(&mut rng)?;
//! let s = Array2::<f32>::from_shape_fn((10, 32), |(i, j)| ((i * 7 + j) % 5) as f32);
//! let out = head.forward(&s)?;
//! let target = ndarray::Array1::from_iter((0..10).map(|i| 20.0 + i as f32));
//! let r = loss::pearson(&out.bfactor, &target)?;
//! assert!((-1.0..=1.0).contains(&r));
//! # Ok::<(), bfactor::Error>(())
//! ```
#![warn(missing_docs)]

pub mod bins;
pub mod boltz2;
mod check;
mod error;
mod float;
pub mod head;
pub mod loss;
pub mod matmul;
pub mod numpy_rng;
pub mod ops;
mod pool;
#[cfg(feature = "structure")]
pub mod structure;
pub mod synthetic;
pub mod tokens;
pub mod train;
pub mod weights;

pub use error::{Error, Result};
pub use float::Float;
pub use head::{BFactorHead, BFactorHeadConfig, HeadOutput};
/// The `ndarray` this crate is built on, so callers use the same version.
pub use ndarray;
/// The `rand` this crate draws from (`init` takes its `Rng`), re-exported likewise.
pub use rand;

/// The README's examples, compiled and run as doctests (with the default weight
/// formats, which they save and load).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "safetensors", feature = "npy"))]
pub struct ReadmeDoctests;
