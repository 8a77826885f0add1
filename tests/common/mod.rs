//! Shared helpers for the NumPy parity tests: loading the `.npy` fixtures that
//! `scripts/gen_notebook_fixtures.py` writes under `tests/fixtures/notebook/`, and
//! comparing results against them.

// Each test binary compiles this module and uses only some of the helpers.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::PathBuf;

use ndarray::{Array, ArrayBase, Data, Dimension};
use ndarray_npy::{read_npy, ReadableElement};

/// `tests/fixtures/notebook/<rel>` inside this crate.
pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join("notebook")
        .join(rel)
}

/// Reads the fixture `rel` (relative to `tests/fixtures/notebook/`), panicking with
/// the path and how to regenerate it if it is missing or of another type or rank.
pub fn load<A: ReadableElement, D: Dimension>(rel: &str) -> Array<A, D> {
    let path = fixture_path(rel);
    read_npy(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read fixture {} as a {}-D array: {e}; regenerate the fixtures with \
             `python3 scripts/gen_notebook_fixtures.py`",
            path.display(),
            D::NDIM.map_or("any".to_string(), |n| n.to_string()),
        )
    })
}

/// The case names in the fixture folder `dir`: every file name up to its first `.`.
pub fn fixture_cases(dir: &str) -> BTreeSet<String> {
    let path = fixture_path(dir);
    std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", path.display()))
        .map(|entry| {
            let name = entry.expect("directory entry").file_name();
            let name = name.to_str().expect("UTF-8 file name").to_string();
            name.split('.')
                .next()
                .expect("split yields one item")
                .to_string()
        })
        .collect()
}

/// Element types the comparisons widen to `f64` (exactly).
pub trait Widen: Copy + Debug {
    /// The value as `f64`.
    fn widen(self) -> f64;
}

impl Widen for f32 {
    fn widen(self) -> f64 {
        self as f64
    }
}

impl Widen for f64 {
    fn widen(self) -> f64 {
        self
    }
}

/// `|actual - expected| <= rtol * max(|expected|, 1)`; false for NaN.
pub fn is_close(actual: f64, expected: f64, rtol: f64) -> bool {
    (actual - expected).abs() <= rtol * expected.abs().max(1.0)
}

/// Asserts that `actual` and `expected` have the same shape and that every element
/// satisfies [`is_close`]; the message names the case, the index and both values.
pub fn assert_close<A, B, S1, S2, D>(
    case: &str,
    actual: &ArrayBase<S1, D>,
    expected: &ArrayBase<S2, D>,
    rtol: f64,
) where
    A: Widen,
    B: Widen,
    S1: Data<Elem = A>,
    S2: Data<Elem = B>,
    D: Dimension,
{
    assert_eq!(
        actual.shape(),
        expected.shape(),
        "{case}: actual shape {:?} differs from expected shape {:?}",
        actual.shape(),
        expected.shape()
    );
    for ((index, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        let (a, e) = (a.widen(), e.widen());
        assert!(
            is_close(a, e, rtol),
            "{case}: index {index:?}: actual {a:e}, expected {e:e} (|diff| = {:e}, allowed \
             {:e} = {rtol:e} * max(|expected|, 1))",
            (a - e).abs(),
            rtol * e.abs().max(1.0),
        );
    }
    assert!(
        !actual.is_empty(),
        "{case}: nothing to compare (empty arrays)"
    );
}

/// [`assert_close`] for one value.
pub fn assert_close_scalar(case: &str, actual: f64, expected: f64, rtol: f64) {
    assert!(
        is_close(actual, expected, rtol),
        "{case}: actual {actual:e}, expected {expected:e} (|diff| = {:e}, allowed {:e} = \
         {rtol:e} * max(|expected|, 1))",
        (actual - expected).abs(),
        rtol * expected.abs().max(1.0),
    );
}
