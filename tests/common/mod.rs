//! Helpers shared by the integration tests: loading the `.npy` / `.npz` fixtures
//! that the `scripts/gen_*_fixtures.py` scripts write under `tests/fixtures/`,
//! comparing results against them, and checking [`Error`] values.

// Each test binary compiles this module and uses only some of the helpers.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::fs::File;
use std::path::PathBuf;

use bfactor::Error;
use ndarray::{Array, Array1, ArrayBase, Data, Dimension};
use ndarray_npy::{read_npy, NpzReader, ReadableElement};

// ---------------------------------------------------------------------------
// fixtures
// ---------------------------------------------------------------------------

/// One folder of fixtures under `tests/fixtures/` and the command that writes it.
pub struct Fixtures {
    /// The folder, relative to `tests/fixtures/`.
    pub dir: &'static str,
    /// The command that regenerates the folder, for the panic messages.
    pub regenerate: &'static str,
}

/// `tests/fixtures/notebook/`: NumPy references of the notebook's head and losses.
pub const NOTEBOOK: Fixtures = Fixtures {
    dir: "notebook",
    regenerate: "python3 scripts/gen_notebook_fixtures.py",
};

/// `tests/fixtures/boltz2/`: PyTorch references of Boltz-2's head and loss.
pub const BOLTZ2: Fixtures = Fixtures {
    dir: "boltz2",
    regenerate: "python scripts/gen_boltz2_fixtures.py",
};

/// `tests/fixtures/boltz2/weights/`: weight files written by Python packages.
pub const BOLTZ2_WEIGHTS: Fixtures = Fixtures {
    dir: "boltz2/weights",
    regenerate: "python scripts/gen_boltz2_fixtures.py",
};

/// `tests/fixtures/optim/`: `torch.optim` trajectories, clipping and schedules.
pub const OPTIM: Fixtures = Fixtures {
    dir: "optim",
    regenerate: "/tmp/torchenv/bin/python scripts/gen_optim_fixtures.py",
};

impl Fixtures {
    /// `tests/fixtures/<dir>/<rel>` inside this crate.
    pub fn path(&self, rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join("fixtures")
            .join(self.dir)
            .join(rel)
    }

    /// Reads the `.npy` fixture `rel`, panicking with the path and how to
    /// regenerate it if it is missing or of another type or rank.
    pub fn load<A: ReadableElement, D: Dimension>(&self, rel: &str) -> Array<A, D> {
        let path = self.path(rel);
        read_npy(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read fixture {} as a {}-D array: {e}; regenerate the fixtures with \
                 `{}`",
                path.display(),
                D::NDIM.map_or("any".to_string(), |n| n.to_string()),
                self.regenerate,
            )
        })
    }

    /// Opens the `.npz` fixture `rel`, panicking with the path and how to
    /// regenerate it if it is missing or not an archive.
    pub fn npz(&self, rel: &str) -> Npz {
        let path = self.path(rel);
        let reader = File::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|file| NpzReader::new(file).map_err(|e| e.to_string()))
            .unwrap_or_else(|e| {
                panic!(
                    "cannot open fixture {}: {e}; regenerate the fixtures with `{}`",
                    path.display(),
                    self.regenerate,
                )
            });
        Npz {
            reader,
            name: rel.to_string(),
        }
    }

    /// The case names in the fixture folder `<dir>/<sub>`: every file name up to
    /// its first `.`.
    pub fn cases(&self, sub: &str) -> BTreeSet<String> {
        let path = self.path(sub);
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
}

/// An open `.npz` fixture.
pub struct Npz {
    reader: NpzReader<File>,
    name: String,
}

impl Npz {
    /// The array `name`, panicking with the archive and array names if it is
    /// missing or of another type or rank.
    pub fn get<T: ReadableElement, D: Dimension>(&mut self, name: &str) -> Array<T, D> {
        self.reader
            .by_name(name)
            .unwrap_or_else(|e| panic!("{}: {name}: {e}", self.name))
    }

    /// A one-element array as a number.
    pub fn scalar<T: ReadableElement + Copy>(&mut self, name: &str) -> T {
        let a: Array1<T> = self.get(name);
        assert_eq!(a.len(), 1, "{name}");
        a[0]
    }
}

// ---------------------------------------------------------------------------
// numeric comparisons
// ---------------------------------------------------------------------------

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
    is_close_floor(actual, expected, rtol, 1.0)
}

/// `|actual - expected| <= rtol * max(|expected|, floor)`; false for NaN.
pub fn is_close_floor(actual: f64, expected: f64, rtol: f64, floor: f64) -> bool {
    (actual - expected).abs() <= rtol * expected.abs().max(floor)
}

/// Asserts that `actual` and `expected` have the same shape, are not empty, and
/// that every element satisfies [`is_close`]; the message names the case, the
/// index and both values.
#[track_caller]
pub fn assert_close<D: Dimension>(
    case: &str,
    actual: &ArrayBase<impl Data<Elem = impl Widen>, D>,
    expected: &ArrayBase<impl Data<Elem = impl Widen>, D>,
    rtol: f64,
) {
    assert_close_floor(case, actual, expected, rtol, 1.0);
}

/// [`assert_close`] with [`is_close_floor`]: the tolerance is
/// `rtol * max(|expected|, floor)`.
#[track_caller]
pub fn assert_close_floor<D: Dimension>(
    case: &str,
    actual: &ArrayBase<impl Data<Elem = impl Widen>, D>,
    expected: &ArrayBase<impl Data<Elem = impl Widen>, D>,
    rtol: f64,
    floor: f64,
) {
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
            is_close_floor(a, e, rtol, floor),
            "{case}: index {index:?}: actual {a:e}, expected {e:e} (|diff| = {:e}, allowed \
             {:e} = {rtol:e} * max(|expected|, {floor:e}))",
            (a - e).abs(),
            rtol * e.abs().max(floor),
        );
    }
    assert!(
        !actual.is_empty(),
        "{case}: nothing to compare (empty arrays)"
    );
}

/// [`assert_close`] for one value.
#[track_caller]
pub fn assert_close_scalar(case: &str, actual: f64, expected: f64, rtol: f64) {
    assert!(
        is_close(actual, expected, rtol),
        "{case}: actual {actual:e}, expected {expected:e} (|diff| = {:e}, allowed {:e} = \
         {rtol:e} * max(|expected|, 1))",
        (actual - expected).abs(),
        rtol * expected.abs().max(1.0),
    );
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/// Asserts that the error's message contains every one of `parts`.
#[track_caller]
pub fn assert_msg(err: &Error, parts: &[&str]) {
    let msg = err.to_string();
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} does not contain {p:?}");
    }
}

/// Asserts that `err` is an [`Error::ShapeMismatch`] with these `what`,
/// `expected` and `got` (its `reason` is not checked).
#[track_caller]
pub fn assert_shape_mismatch(err: &Error, what: &str, expected: &[usize], got: &[usize]) {
    match err {
        Error::ShapeMismatch {
            what: w,
            expected: e,
            got: g,
            ..
        } => {
            assert_eq!(w, what);
            assert_eq!(e, expected);
            assert_eq!(g, got);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}

/// Asserts that `err` is an [`Error::NonFinite`] with these `what`, `index` and
/// `value`; a NaN `value` stands for any NaN.
#[track_caller]
pub fn assert_non_finite(err: &Error, what: &str, index: &[usize], value: f64) {
    match err {
        Error::NonFinite {
            what: w,
            index: i,
            value: v,
        } => {
            assert_eq!(w, what);
            assert_eq!(i, index);
            if value.is_nan() {
                assert!(v.is_nan(), "value {v} is not NaN");
            } else {
                assert_eq!(*v, value);
            }
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
}
