//! Training: exact gradients for both heads and every loss, optimizers, and a fit
//! loop over proteins of different lengths.
//!
//! - [`grad`]: hand-derived backward passes (of the losses here, of each head
//!   beside its inference code), sharing the forward kernels of [`crate::ops`],
//!   and a workspace that reuses a training step's buffers.
//! - [`optim`]: SGD (momentum, Nesterov), Adam and AdamW with PyTorch's update
//!   formulas, gradient clipping and learning-rate schedules.
//! - [`fit`]: the training loop over proteins of different lengths.

pub mod fit;
pub mod grad;
pub mod optim;
mod progress;
