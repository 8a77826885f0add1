//! Input validation shared by every public entry point (crate-private).
//!
//! Checks run before any arithmetic so that bad input becomes a typed [`Error`]
//! instead of a panic inside ndarray or a NaN in the output.

use ndarray::{ArrayBase, Data, Dimension};

use crate::{ops, Error, Float, Result};

/// The first non-finite element of `a`, as an error naming `what`.
pub(crate) fn finite<F: Float, S: Data<Elem = F>, D: Dimension>(
    what: &str,
    a: &ArrayBase<S, D>,
) -> Result<()> {
    // Vectorised screen over contiguous memory; the logical-order search below
    // only runs to locate the first bad element for the message.
    if a.as_slice_memory_order()
        .is_some_and(|s| ops::screen(s, false))
    {
        return Ok(());
    }
    match a.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((flat, v)) => Err(Error::non_finite(
            what,
            unravel(flat, a.shape()),
            v.to_f64_exact(),
        )),
    }
}

/// Every mask weight must be finite and `>= 0`.
pub(crate) fn mask<F: Float, S: Data<Elem = F>, D: Dimension>(
    what: &str,
    m: &ArrayBase<S, D>,
) -> Result<()> {
    if m.as_slice_memory_order()
        .is_some_and(|s| ops::screen(s, true))
    {
        return Ok(());
    }
    match m
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= F::zero()))
    {
        None => Ok(()),
        Some((flat, v)) => Err(Error::invalid_mask(
            what,
            unravel(flat, m.shape()),
            v.to_f64_exact(),
        )),
    }
}

/// `a` must have at least one axis and a last axis of length `expected`.
pub(crate) fn last_axis<S: Data, D: Dimension>(
    what: &str,
    meaning: &str,
    a: &ArrayBase<S, D>,
    expected: usize,
) -> Result<()> {
    let shape = a.shape();
    match shape.last() {
        None => Err(Error::rank(
            what,
            format!("at least 1 (the last one of length {expected}, {meaning})"),
            0,
            vec![],
        )),
        Some(&got) if got != expected => Err(Error::last_axis(what, meaning, expected, got, shape)),
        Some(_) => Ok(()),
    }
}

/// `a` must have exactly the shape `expected`.
pub(crate) fn same_shape(
    what: &str,
    got: &[usize],
    expected: &[usize],
    reason: &str,
) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::shape_mismatch(what, expected, got, reason))
    }
}

/// The multi-index of the `flat`-th element in logical (row-major) order.
pub(crate) fn unravel(flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut rest = flat;
    let mut index = vec![0; shape.len()];
    for (slot, &len) in index.iter_mut().zip(shape).rev() {
        *slot = rest % len.max(1);
        rest /= len.max(1);
    }
    index
}
