//! `bfactor._bfactor`: the Python extension of the `bfactor` crate (PyO3 +
//! rust-numpy). A thin layer: it converts arguments, releases the GIL, calls the
//! crate and converts back; the Python package `bfactor` re-exports it.
//!
//! NumPy inputs are read in place (strided views included) as `float32` or
//! `float64`; any other dtype is a `TypeError` naming it. The crate's errors
//! raise `bfactor.Error` (a `ValueError`), a missing file `FileNotFoundError`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bfactor::boltz2::Boltz2Head as RsBoltz2;
use bfactor::ndarray::{Array1, ArrayD, Ix1, Ix2};
use bfactor::structure::predict::Predictor as RsPredictor;
use bfactor::structure::{self, features, gnm::GnmConfig, FileFormat, ReadOptions, TokenMode};
use bfactor::{loss, BFactorHead as RsHead, BFactorHeadConfig, Float};
use numpy::{Element, IntoPyArray, PyReadonlyArrayDyn};
use pyo3::create_exception;
use pyo3::exceptions::{PyFileNotFoundError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use rayon::{ThreadPool, ThreadPoolBuilder};

create_exception!(
    _bfactor,
    Error,
    PyValueError,
    "An error of the bfactor crate (bad shape, non-finite value, unparsable file, ...), with its message."
);

/// The crate's error as `bfactor.Error`.
fn err(e: bfactor::Error) -> PyErr {
    Error::new_err(e.to_string())
}

/// The thread pool compute runs on, built on first use in each process: a
/// child made by `fork` finds its parent's pool (whose threads did not survive
/// the fork) and builds its own. Sized by `RAYON_NUM_THREADS`, else one thread
/// per CPU (rayon's rule).
fn pool() -> PyResult<Arc<ThreadPool>> {
    static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, pool)) = slot.as_ref() {
        if *owner == pid {
            return Ok(pool.clone());
        }
    }
    // A pool inherited through fork: never dropped, as dropping would signal
    // threads that exist only in the parent.
    if let Some(inherited) = slot.take() {
        std::mem::forget(inherited);
    }
    let pool = Arc::new(
        ThreadPoolBuilder::new()
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the thread pool: {e}")))?,
    );
    *slot = Some((pid, pool.clone()));
    Ok(pool)
}

/// Runs `f` on the pool with the GIL released; the crate's error as
/// `bfactor.Error`.
fn compute<T: Send>(py: Python<'_>, f: impl FnOnce() -> bfactor::Result<T> + Send) -> PyResult<T> {
    let pool = pool()?;
    py.detach(|| pool.install(f)).map_err(err)
}

/// An input array: `float32` or `float64`, read in place.
enum Arr<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
}

/// `obj` as a NumPy array (`numpy.asarray`), `float32` or `float64`, else a
/// `TypeError` naming `what` and the dtype.
fn array<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Arr<'py>> {
    let py = obj.py();
    let a = py.import("numpy")?.call_method1("asarray", (obj,))?;
    let dtype: String = a.getattr("dtype")?.str()?.extract()?;
    match dtype.as_str() {
        "float32" => Ok(Arr::F32(a.extract()?)),
        "float64" => Ok(Arr::F64(a.extract()?)),
        other => Err(PyTypeError::new_err(format!(
            "{what} has dtype {other}, expected float32 or float64"
        ))),
    }
}

/// `obj` as a `T` array (for a second argument that must match the first's dtype).
fn array_as<'py, T: Element>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    expected: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    let py = obj.py();
    let a = py.import("numpy")?.call_method1("asarray", (obj,))?;
    let dtype: String = a.getattr("dtype")?.str()?.extract()?;
    if dtype != expected {
        return Err(PyTypeError::new_err(format!(
            "{what} has dtype {dtype}, expected {expected} (the dtype of the first argument)"
        )));
    }
    a.extract()
}

/// What `__reduce__` returns: the callable that rebuilds the object, and its arguments.
type Reduce<'py, A> = (Any<'py>, A);
type Any<'py> = Bound<'py, PyAny>;

// ---------------------------------------------------------------- heads

enum Head {
    F32(RsHead<f32>),
    F64(RsHead<f64>),
}

/// The reference notebook's B-factor head: layer norm, `W1`, ReLU, layer norm,
/// `W2`, and the softmax expectation over the bin centers.
///
/// `BFactorHead(c_s, num_bins=64, max_bfactor=100.0, seed=0, dtype="float32")`
/// initialises the weights from `seed`; `BFactorHead.from_weights(w1, w2)` takes
/// given ones.
#[pyclass(module = "bfactor", frozen)]
struct BFactorHead {
    head: Head,
}

/// What `BFactorHead.forward` returns: `logits` `[..., num_bins]` and
/// `bfactor` `[...]`, in the input's dtype.
#[pyclass(module = "bfactor", frozen, get_all)]
struct HeadOutput {
    /// Bin logits, `[..., num_bins]`.
    logits: Py<PyAny>,
    /// Expected B-factors, `[...]`.
    bfactor: Py<PyAny>,
}

fn forward<'py, F: Float + Element>(
    py: Python<'py>,
    head: &RsHead<F>,
    s: PyReadonlyArrayDyn<'py, F>,
) -> PyResult<HeadOutput> {
    let view = s.as_array();
    let out = compute(py, || head.forward(&view))?;
    output(py, out)
}

fn output<F: Float + Element>(
    py: Python<'_>,
    out: bfactor::HeadOutput<F, bfactor::ndarray::IxDyn>,
) -> PyResult<HeadOutput> {
    Ok(HeadOutput {
        logits: out.logits.into_pyarray(py).into_any().unbind(),
        bfactor: out.bfactor.into_pyarray(py).into_any().unbind(),
    })
}

fn matrix<F: Float>(a: ArrayD<F>, what: &str) -> PyResult<bfactor::ndarray::Array2<F>> {
    let ndim = a.ndim();
    a.into_dimensionality::<Ix2>()
        .map_err(|_| Error::new_err(format!("{what} has {ndim} axes, expected 2")))
}

#[pymethods]
impl BFactorHead {
    /// A head with weights drawn from `seed`, for inputs of width `c_s`, with
    /// `num_bins` bins whose centers run from 0 to `max_bfactor`, in `dtype`
    /// (`"float32"` or `"float64"`).
    #[new]
    #[pyo3(signature = (c_s, num_bins=64, max_bfactor=100.0, seed=0, dtype="float32"))]
    fn new(
        c_s: usize,
        num_bins: usize,
        max_bfactor: f64,
        seed: u64,
        dtype: &str,
    ) -> PyResult<Self> {
        use bfactor::rand::{rngs::StdRng, SeedableRng};
        let config = BFactorHeadConfig::new(c_s)
            .with_num_bins(num_bins)
            .with_max_bfactor(max_bfactor);
        let mut rng = StdRng::seed_from_u64(seed);
        let head = match dtype {
            "float32" => Head::F32(config.init(&mut rng).map_err(err)?),
            "float64" => Head::F64(config.init(&mut rng).map_err(err)?),
            other => return Err(bad_dtype(other)),
        };
        Ok(Self { head })
    }

    /// A head from the notebook's weights: `w1` `[c_s, c_s]`, `w2`
    /// `[c_s, num_bins]` (both float32 or both float64; the head takes their dtype).
    #[staticmethod]
    #[pyo3(signature = (w1, w2, max_bfactor=100.0))]
    fn from_weights(
        w1: &Bound<'_, PyAny>,
        w2: &Bound<'_, PyAny>,
        max_bfactor: f64,
    ) -> PyResult<Self> {
        fn build<F: Float>(w1: ArrayD<F>, w2: ArrayD<F>, max_bfactor: f64) -> PyResult<RsHead<F>> {
            let (w1, w2) = (matrix(w1, "w1")?, matrix(w2, "w2")?);
            let config = BFactorHeadConfig::new(w1.nrows())
                .with_num_bins(w2.ncols())
                .with_max_bfactor(max_bfactor);
            RsHead::from_weights(config, w1, w2).map_err(err)
        }
        let head = match array(w1, "w1")? {
            Arr::F32(a) => {
                let b = array_as::<f32>(w2, "w2", "float32")?;
                Head::F32(build(
                    a.as_array().to_owned(),
                    b.as_array().to_owned(),
                    max_bfactor,
                )?)
            }
            Arr::F64(a) => {
                let b = array_as::<f64>(w2, "w2", "float64")?;
                Head::F64(build(
                    a.as_array().to_owned(),
                    b.as_array().to_owned(),
                    max_bfactor,
                )?)
            }
        };
        Ok(Self { head })
    }

    /// Logits and expected B-factors for `s` `[..., c_s]` (any leading shape).
    /// `s` must have the head's dtype.
    fn forward(&self, py: Python<'_>, s: &Bound<'_, PyAny>) -> PyResult<HeadOutput> {
        match &self.head {
            Head::F32(h) => forward(py, h, array_as::<f32>(s, "s", "float32")?),
            Head::F64(h) => forward(py, h, array_as::<f64>(s, "s", "float64")?),
        }
    }

    /// The head's dtype, `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.head {
            Head::F32(_) => "float32",
            Head::F64(_) => "float64",
        }
    }

    /// The largest bin center, in Å².
    #[getter]
    fn max_bfactor(&self) -> f64 {
        match &self.head {
            Head::F32(h) => h.config().max_bfactor,
            Head::F64(h) => h.config().max_bfactor,
        }
    }

    /// Pickles as `BFactorHead.from_weights(w1, w2, max_bfactor)`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduce<'py, (Any<'py>, Any<'py>, f64)>> {
        let py = slf.py();
        let me = slf.get();
        let build = py.get_type::<Self>().getattr("from_weights")?;
        Ok((build, (me.w1(py), me.w2(py), me.max_bfactor())))
    }

    fn __repr__(&self) -> String {
        let (c_s, bins) = match &self.head {
            Head::F32(h) => (h.w1().nrows(), h.w2().ncols()),
            Head::F64(h) => (h.w1().nrows(), h.w2().ncols()),
        };
        format!(
            "<bfactor.BFactorHead c_s={c_s} num_bins={bins} max_bfactor={} dtype={}>",
            self.max_bfactor(),
            self.dtype()
        )
    }

    /// `W1` `[c_s, c_s]` (a copy).
    #[getter]
    fn w1<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.head {
            Head::F32(h) => h.w1().clone().into_pyarray(py).into_any(),
            Head::F64(h) => h.w1().clone().into_pyarray(py).into_any(),
        }
    }

    /// `W2` `[c_s, num_bins]` (a copy).
    #[getter]
    fn w2<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.head {
            Head::F32(h) => h.w2().clone().into_pyarray(py).into_any(),
            Head::F64(h) => h.w2().clone().into_pyarray(py).into_any(),
        }
    }
}

enum Boltz2 {
    F32(RsBoltz2<f32>),
    F64(RsBoltz2<f64>),
}

/// Boltz-2's released B-factor module: one linear layer, `logits = s · Wᵀ + b`
/// (PyTorch's `nn.Linear` layout: `weight` `[num_bins, token_s]`, `bias`
/// `[num_bins]`), decoded by `forward` under the softmax over Boltz-2's bin centers.
#[pyclass(module = "bfactor", frozen)]
struct Boltz2Head {
    head: Boltz2,
}

#[pymethods]
impl Boltz2Head {
    /// Loads Boltz-2's tensors (`bfactor_module.bfactor.weight` and `.bias`)
    /// from a `.safetensors` or `.npz` file, as `dtype` (`"float32"` or `"float64"`).
    #[staticmethod]
    #[pyo3(signature = (path, dtype="float32"))]
    fn load(path: PathBuf, dtype: &str) -> PyResult<Self> {
        exists(&path)?;
        let head = match dtype {
            "float32" => Boltz2::F32(RsBoltz2::load(&path).map_err(err)?),
            "float64" => Boltz2::F64(RsBoltz2::load(&path).map_err(err)?),
            other => return Err(bad_dtype(other)),
        };
        Ok(Self { head })
    }

    /// A head from `weight` `[num_bins, token_s]` and `bias` `[num_bins]` (both
    /// float32 or both float64; the head takes their dtype).
    #[staticmethod]
    fn from_weights(weight: &Bound<'_, PyAny>, bias: &Bound<'_, PyAny>) -> PyResult<Self> {
        fn build<F: Float>(w: ArrayD<F>, b: ArrayD<F>) -> PyResult<RsBoltz2<F>> {
            let ndim = b.ndim();
            let b = b
                .into_dimensionality::<Ix1>()
                .map_err(|_| Error::new_err(format!("bias has {ndim} axes, expected 1")))?;
            RsBoltz2::from_weights(matrix(w, "weight")?, b).map_err(err)
        }
        let head = match array(weight, "weight")? {
            Arr::F32(w) => {
                let b = array_as::<f32>(bias, "bias", "float32")?;
                Boltz2::F32(build(w.as_array().to_owned(), b.as_array().to_owned())?)
            }
            Arr::F64(w) => {
                let b = array_as::<f64>(bias, "bias", "float64")?;
                Boltz2::F64(build(w.as_array().to_owned(), b.as_array().to_owned())?)
            }
        };
        Ok(Self { head })
    }

    /// The bin logits `[..., num_bins]` for `s` `[..., token_s]` (Boltz-2's
    /// `pbfactor`). `s` must have the head's dtype.
    fn logits<'py>(&self, py: Python<'py>, s: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match &self.head {
            Boltz2::F32(h) => {
                let s = array_as::<f32>(s, "s", "float32")?;
                let v = s.as_array();
                compute(py, || h.logits(&v))?.into_pyarray(py).into_any()
            }
            Boltz2::F64(h) => {
                let s = array_as::<f64>(s, "s", "float64")?;
                let v = s.as_array();
                compute(py, || h.logits(&v))?.into_pyarray(py).into_any()
            }
        })
    }

    /// Logits `[..., num_bins]` and expected B-factors `[...]` for `s`
    /// `[..., token_s]`, in `s`'s dtype (the head's).
    fn forward(&self, py: Python<'_>, s: &Bound<'_, PyAny>) -> PyResult<HeadOutput> {
        match &self.head {
            Boltz2::F32(h) => {
                let s = array_as::<f32>(s, "s", "float32")?;
                let v = s.as_array();
                output(py, compute(py, || h.forward(&v))?)
            }
            Boltz2::F64(h) => {
                let s = array_as::<f64>(s, "s", "float64")?;
                let v = s.as_array();
                output(py, compute(py, || h.forward(&v))?)
            }
        }
    }

    /// The head's dtype, `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.head {
            Boltz2::F32(_) => "float32",
            Boltz2::F64(_) => "float64",
        }
    }

    /// `weight` `[num_bins, token_s]` (a copy).
    #[getter]
    fn weight<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.head {
            Boltz2::F32(h) => h.weight().clone().into_pyarray(py).into_any(),
            Boltz2::F64(h) => h.weight().clone().into_pyarray(py).into_any(),
        }
    }

    /// `bias` `[num_bins]` (a copy).
    #[getter]
    fn bias<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.head {
            Boltz2::F32(h) => h.bias().clone().into_pyarray(py).into_any(),
            Boltz2::F64(h) => h.bias().clone().into_pyarray(py).into_any(),
        }
    }

    /// Pickles as `Boltz2Head.from_weights(weight, bias)`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduce<'py, (Any<'py>, Any<'py>)>> {
        let py = slf.py();
        let me = slf.get();
        let build = py.get_type::<Self>().getattr("from_weights")?;
        Ok((build, (me.weight(py), me.bias(py))))
    }
}

/// A `FileNotFoundError` unless `path` exists.
fn exists(path: &std::path::Path) -> PyResult<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(PyFileNotFoundError::new_err(format!(
            "no such file: {}",
            path.display()
        )))
    }
}

fn bad_dtype(dtype: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "dtype is {dtype:?}, expected \"float32\" or \"float64\""
    ))
}

// ---------------------------------------------------------------- losses

fn mask_of<'py, F: Element>(
    mask: Option<&Bound<'py, PyAny>>,
    expected: &str,
) -> PyResult<Option<PyReadonlyArrayDyn<'py, F>>> {
    mask.map(|m| array_as::<F>(m, "mask", expected)).transpose()
}

fn two<F: Float + Element>(
    py: Python<'_>,
    pred: PyReadonlyArrayDyn<'_, F>,
    target: &Bound<'_, PyAny>,
    mask: Option<&Bound<'_, PyAny>>,
    name: &str,
    pearson: bool,
) -> PyResult<f64> {
    let t = array_as::<F>(target, "target", name)?;
    let m = mask_of::<F>(mask, name)?;
    let (p, t) = (pred.as_array(), t.as_array());
    let m = m.as_ref().map(|m| m.as_array());
    let r = compute(py, || match (&m, pearson) {
        (None, false) => loss::normalized_mse(&p, &t),
        (None, true) => loss::pearson(&p, &t),
        (Some(m), false) => loss::normalized_mse_masked(&p, &t, m),
        (Some(m), true) => loss::pearson_masked(&p, &t, m),
    })?;
    Ok(r.to_f64_exact())
}

/// The notebook's normalized MSE between `pred` and `target` (same shape,
/// `[n]` or `[batch, n]`), optionally weighted by `mask` (1 valid, 0 padding).
#[pyfunction]
#[pyo3(signature = (pred, target, mask=None))]
fn normalized_mse(
    py: Python<'_>,
    pred: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    mask: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    metric(py, (pred, target, mask), false)
}

/// `two` on `pred`'s dtype: Pearson if `pearson`, else the normalized MSE.
type Args<'a, 'py> = (
    &'a Bound<'py, PyAny>,
    &'a Bound<'py, PyAny>,
    Option<&'a Bound<'py, PyAny>>,
);
fn metric(py: Python<'_>, (pred, target, mask): Args<'_, '_>, pearson: bool) -> PyResult<f64> {
    match array(pred, "pred")? {
        Arr::F32(p) => two(py, p, target, mask, "float32", pearson),
        Arr::F64(p) => two(py, p, target, mask, "float64", pearson),
    }
}

/// Pearson correlation between `pred` and `target` (mean over rows for
/// `[batch, n]`), optionally over the residues `mask` marks valid.
#[pyfunction]
#[pyo3(signature = (pred, target, mask=None))]
fn pearson(
    py: Python<'_>,
    pred: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    mask: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    metric(py, (pred, target, mask), true)
}

fn bce<F: Float + Element>(
    py: Python<'_>,
    logits: PyReadonlyArrayDyn<'_, F>,
    targets: &Bound<'_, PyAny>,
    name: &str,
) -> PyResult<f64> {
    let t = array_as::<F>(targets, "bfactor_targets", name)?;
    let (l, t) = (logits.as_array(), t.as_array());
    let r = compute(py, || loss::binned_cross_entropy(&l, &t))?;
    Ok(r.to_f64_exact())
}

/// Boltz-2's binned cross-entropy of `logits` `[..., num_bins]` against
/// B-factors `[...]` (zero B-factors are padding).
#[pyfunction]
fn binned_cross_entropy(
    py: Python<'_>,
    logits: &Bound<'_, PyAny>,
    bfactor_targets: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    match array(logits, "logits")? {
        Arr::F32(l) => bce(py, l, bfactor_targets, "float32"),
        Arr::F64(l) => bce(py, l, bfactor_targets, "float64"),
    }
}

// ---------------------------------------------------------------- structures

/// A structure read from a PDB or mmCIF file: per-token NumPy arrays, and what
/// `bfactor.write` needs to put values back into the file.
#[pyclass(module = "bfactor", frozen)]
struct Structure {
    st: structure::Structure,
    /// For a structure made from atoms: each atom's token, if any.
    atom_tokens: Option<Vec<Option<usize>>>,
}

impl Structure {
    fn new(st: structure::Structure) -> Self {
        Self {
            st,
            atom_tokens: None,
        }
    }
}

#[pymethods]
impl Structure {
    /// Experimental B-factors of the tokens' representative atoms (float64 `[n]`).
    #[getter]
    fn bfactors<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.st.bfactors().into_pyarray(py).into_any()
    }
    /// 1 for a token with a usable experimental B-factor, 0 where its
    /// representative atom is missing or its B-factor is `<= 1e-5` (float64 `[n]`).
    #[getter]
    fn mask<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.st.mask().into_pyarray(py).into_any()
    }
    /// Representative atoms' coordinates in Å, NaN where missing (float64 `[n, 3]`).
    #[getter]
    fn coords<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.st.coords().into_pyarray(py).into_any()
    }
    /// Chain identifiers (a NumPy array of `str`, `[n]`).
    #[getter]
    fn chain_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let ids: Vec<&str> = self.st.tokens().iter().map(|t| t.chain.as_str()).collect();
        py.import("numpy")?
            .call_method1("array", (PyList::new(py, ids)?, "str"))
    }
    /// Residue numbers (int64 `[n]`).
    #[getter]
    fn residue_numbers<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        let v: Array1<i64> = self
            .st
            .tokens()
            .iter()
            .map(|t| t.residue_number as i64)
            .collect();
        v.into_pyarray(py).into_any()
    }
    /// Residue names (a NumPy array of `str`, `[n]`).
    #[getter]
    fn residue_names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let names: Vec<&str> = self
            .st
            .tokens()
            .iter()
            .map(|t| t.residue_name.as_str())
            .collect();
        py.import("numpy")?
            .call_method1("array", (PyList::new(py, names)?, "str"))
    }
    /// What the reader skipped or repaired, one message each.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.st.warnings().to_vec()
    }
    /// Where the structure comes from, as text: `"X-ray (1.80 Å)"`,
    /// `"cryo-EM (3.20 Å)"`, `"NMR"`, `"predicted (AlphaFold DB)"`, `"unknown"`.
    #[getter]
    fn provenance(&self) -> String {
        self.st.provenance().to_string()
    }
    /// The experimental method (`"X-ray"`, `"neutron"`, `"electron
    /// crystallography"`, `"cryo-EM"`, `"NMR"`, or the file's name for another),
    /// or None for a predicted model or a file that does not say.
    #[getter]
    fn method(&self) -> Option<String> {
        self.st.provenance().method().map(ToString::to_string)
    }
    /// The predictor of a predicted model (`"AlphaFold DB"`, `"AlphaFold 2"`,
    /// `"AlphaFold 3"`, `"ColabFold"`, `"ESMFold"`, `"Boltz"`, `"Chai"`,
    /// `"RoseTTAFold"`, `"unknown predictor"`), else None.
    #[getter]
    fn predictor(&self) -> Option<String> {
        match self.st.provenance() {
            structure::Provenance::Predicted { predictor } => Some(predictor.to_string()),
            _ => None,
        }
    }
    /// The resolution in Å the header gives, or None.
    #[getter]
    fn resolution(&self) -> Option<f64> {
        self.st.resolution()
    }
    /// What the B column was read as: `"b-factor"`, `"plddt"` (a predicted
    /// model's confidence: `bfactors` and `mask` are then 0) or `"unusable"`.
    #[getter]
    fn b_column(&self) -> &'static str {
        match self.st.b_values() {
            structure::BValues::BFactors => "b-factor",
            structure::BValues::Plddt => "plddt",
            structure::BValues::Unusable => "unusable",
        }
    }
    /// A predicted model's pLDDT per token on a 0-100 scale (float64 `[n]`, NaN
    /// where the representative atom is missing), or None.
    #[getter]
    fn plddt<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.st.plddt().map(|p| p.into_pyarray(py).into_any())
    }
    /// The number of models in the file.
    #[getter]
    fn models(&self) -> usize {
        self.st.models()
    }
    /// B-factors from the spread of an ensemble's models, `8π²/3 · RMSF²` after
    /// iterative superposition onto the mean (float64 `[n]`, NaN for a token in
    /// fewer than two models), or None for a single model.
    fn ensemble_bfactors<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.st
            .ensemble_bfactors()
            .map(|b| b.into_pyarray(py).into_any())
    }
    /// The structure as bytes (its text and how it was read) that
    /// `Structure.from_bytes` reads back; what pickling uses.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.st.to_bytes().map_err(err)?;
        Ok(PyBytes::new(py, &bytes))
    }
    /// A structure from `Structure.to_bytes()`'s bytes.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(Self::new(compute(py, || {
            structure::Structure::from_bytes(data)
        })?))
    }
    /// Pickles as `Structure.from_bytes(st.to_bytes())` (a structure made by
    /// `from_atom_array` has no text and does not pickle: a `bfactor.Error`).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduce<'py, (Bound<'py, PyBytes>,)>> {
        let py = slf.py();
        let build = py.get_type::<Self>().getattr("from_bytes")?;
        Ok((build, (slf.get().to_bytes(py)?,)))
    }
    /// Per-atom values from per-token `values` (float64 `[n_atoms]`), for a
    /// structure made by `from_atom_array`: each atom takes its token's value
    /// (every atom of a residue its residue's), an atom that is no token's
    /// (a skipped water or hydrogen) takes `fill`.
    #[pyo3(signature = (values, fill=f64::NAN))]
    fn atom_values<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        fill: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Some(map) = &self.atom_tokens else {
            return Err(Error::new_err(
                "atom_values needs a structure made by from_atom_array (one read from a \
                 file has no atom array to map to: use bfactor.write)",
            ));
        };
        let v: ArrayD<f64> = match array(values, "values")? {
            Arr::F32(a) => a.as_array().mapv(f64::from),
            Arr::F64(a) => a.as_array().to_owned(),
        };
        let n = self.st.tokens().len();
        if v.shape() != [n] {
            return Err(Error::new_err(format!(
                "values has shape {:?}, expected [{n}] (one per token)",
                v.shape()
            )));
        }
        let out: Array1<f64> = map.iter().map(|t| t.map_or(fill, |t| v[[t]])).collect();
        Ok(out.into_pyarray(py).into_any())
    }
    /// The number of tokens.
    fn __len__(&self) -> usize {
        self.st.tokens().len()
    }
    fn __repr__(&self) -> String {
        format!("<bfactor.Structure with {} tokens>", self.st.tokens().len())
    }
}

fn b_column(b_column: &str) -> PyResult<structure::BColumn> {
    match b_column {
        "detect" => Ok(structure::BColumn::Detect),
        "b-factor" => Ok(structure::BColumn::BFactor),
        "plddt" => Ok(structure::BColumn::Plddt),
        other => Err(PyValueError::new_err(format!(
            "b_column is {other:?}, expected \"detect\", \"b-factor\" or \"plddt\""
        ))),
    }
}

fn token_mode(tokens: &str) -> PyResult<TokenMode> {
    match tokens {
        "ca" => Ok(TokenMode::CaOnly),
        "boltz2" => Ok(TokenMode::Boltz2),
        other => Err(PyValueError::new_err(format!(
            "tokens is {other:?}, expected \"ca\" or \"boltz2\""
        ))),
    }
}

/// Reads a PDB or mmCIF structure from a path (str or PathLike; `.gz` allowed,
/// format from the name) or from `bytes` (plain or gzip-compressed) with
/// `format="pdb"` or `"cif"`.
/// `tokens="ca"` gives one token per amino acid at its CA, `"boltz2"` Boltz-2's tokens.
/// `b_column` says what the B column holds: `"detect"` (from the file),
/// `"b-factor"` or `"plddt"`.
#[pyfunction]
#[pyo3(signature = (source, tokens="ca", format=None, b_column="detect"))]
fn read(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    tokens: &str,
    format: Option<&str>,
    b_column: &str,
) -> PyResult<Structure> {
    let options = ReadOptions::new()
        .with_tokens(token_mode(tokens)?)
        .with_b_column(self::b_column(b_column)?);
    if let Ok(bytes) = source.cast::<PyBytes>() {
        let format = match format {
            Some("pdb") => FileFormat::Pdb,
            Some("cif") | Some("mmcif") => FileFormat::Mmcif,
            Some(other) => {
                return Err(PyValueError::new_err(format!(
                    "format is {other:?}, expected \"pdb\" or \"cif\""
                )))
            }
            None => {
                return Err(PyValueError::new_err(
                    "reading bytes needs format=\"pdb\" or format=\"cif\"",
                ))
            }
        };
        let data = bytes.as_bytes();
        let st = compute(py, || structure::read_bytes(data, format, &options))?;
        return Ok(Structure::new(st));
    }
    let path: PathBuf = source.extract()?;
    if !path.exists() {
        return Err(PyFileNotFoundError::new_err(format!(
            "no such file: {}",
            path.display()
        )));
    }
    let st = compute(py, || structure::read(&path, &options))?;
    Ok(Structure::new(st))
}

/// Writes `values` (one per token, float32 or float64) into the B-factor column
/// of a copy of the structure's file at `path` (format from the name).
#[pyfunction]
fn write(py: Python<'_>, st: &Structure, values: &Bound<'_, PyAny>, path: PathBuf) -> PyResult<()> {
    fn go<F: Float + Element>(
        py: Python<'_>,
        st: &Structure,
        v: PyReadonlyArrayDyn<'_, F>,
        path: &PathBuf,
    ) -> PyResult<()> {
        let v = v.as_array();
        let ndim = v.ndim();
        let v = v
            .into_dimensionality::<Ix1>()
            .map_err(|_| Error::new_err(format!("values has {ndim} axes, expected 1")))?;
        compute(py, || structure::write(&st.st, &v, path))
    }
    match array(values, "values")? {
        Arr::F32(v) => go(py, st, v, &path),
        Arr::F64(v) => go(py, st, v, &path),
    }
}

/// B-factors (Å²) from pLDDT (0-100): `8π²/3 · rmsd²`, `rmsd = 1.5 · exp(4 ·
/// (0.7 − pLDDT/100))` Å (Phenix's process_predicted_model), any shape, float32
/// or float64 in and out.
#[pyfunction]
fn plddt_to_b<'py>(py: Python<'py>, plddt: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match array(plddt, "plddt")? {
        Arr::F32(p) => {
            let p = p.as_array();
            compute(py, || structure::plddt_to_bfactor(&p))?
                .into_pyarray(py)
                .into_any()
        }
        Arr::F64(p) => {
            let p = p.as_array();
            compute(py, || structure::plddt_to_bfactor(&p))?
                .into_pyarray(py)
                .into_any()
        }
    })
}

/// The text of a predicted model's file with B-factors from its pLDDT (every
/// atom's own), in the file's format, residues whose mean pLDDT is under
/// `min_plddt` removed (70, as Phenix; None keeps all).
#[pyfunction]
#[pyo3(signature = (structure, min_plddt=Some(70.0)))]
fn plddt_to_b_text(
    py: Python<'_>,
    structure: &Structure,
    min_plddt: Option<f64>,
) -> PyResult<String> {
    let config = structure::PlddtToB::new().with_min_plddt(min_plddt);
    compute(py, || {
        structure::plddt_to_bfactor_text(&structure.st, &config)
    })
}

/// A dict of the atoms' `chain`, `residue_number` (int64), `insertion_code`,
/// `residue_name`, `atom_name`, `alt_loc` (lists, "" for none).
fn atom_columns<'py>(py: Python<'py>, atoms: &[features::AtomId]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let strings =
        |f: &dyn Fn(&features::AtomId) -> String| -> Vec<String> { atoms.iter().map(f).collect() };
    d.set_item("chain", strings(&|a| a.chain.clone()))?;
    let numbers: Vec<i64> = atoms.iter().map(|a| a.residue_number as i64).collect();
    d.set_item("residue_number", numbers.into_pyarray(py))?;
    d.set_item(
        "insertion_code",
        strings(&|a| a.insertion_code.clone().unwrap_or_default()),
    )?;
    d.set_item("residue_name", strings(&|a| a.residue_name.clone()))?;
    d.set_item("atom_name", strings(&|a| a.atom_name.clone()))?;
    d.set_item(
        "alt_loc",
        strings(&|a| a.alt_loc.clone().unwrap_or_default()),
    )?;
    Ok(d)
}

/// gemmi's all-heavy-atom 1/WCN per atom (`features::atom_wcn`): a dict of the
/// scored atoms' `chain`, `residue_number` (int64), `insertion_code`,
/// `residue_name`, `atom_name`, `alt_loc` (lists, "" for none), `value`
/// (float64), and per token `token_value` (float64) and `token_defined` (bool:
/// whether the token's atom is scored; its value is 0 where not).
#[pyfunction]
#[pyo3(signature = (structure, cutoff=15.0, blur=None, crystal=true, min_dist=0.8, exponent=2.0))]
fn atom_wcn<'py>(
    py: Python<'py>,
    structure: &Structure,
    cutoff: f64,
    blur: Option<f64>,
    crystal: bool,
    min_dist: f64,
    exponent: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let config = features::WcnConfig::new()
        .with_cutoff(cutoff)
        .with_blur(blur)
        .with_crystal(crystal)
        .with_min_dist(min_dist)
        .with_exponent(exponent);
    let (w, (tv, td)) = compute(py, || {
        let w = features::atom_wcn(&structure.st, &config)?;
        let t = w.token_values(&structure.st);
        Ok((w, t))
    })?;
    let d = atom_columns(py, &w.atoms)?;
    d.set_item("value", w.values.clone().into_pyarray(py))?;
    d.set_item("token_value", tv.into_pyarray(py))?;
    d.set_item("token_defined", td.into_pyarray(py))?;
    Ok(d)
}

/// The bundled B-factor predictor (or one saved by the crate's training).
#[pyclass(module = "bfactor", frozen)]
struct Predictor {
    p: RsPredictor,
}

#[pymethods]
impl Predictor {
    /// The predictor bundled with the crate.
    #[staticmethod]
    fn pretrained() -> PyResult<Self> {
        Ok(Self {
            p: RsPredictor::pretrained().map_err(err)?,
        })
    }
    /// A predictor saved at `path` (safetensors).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        if !path.exists() {
            return Err(PyFileNotFoundError::new_err(format!(
                "no such file: {}",
                path.display()
            )));
        }
        Ok(Self {
            p: RsPredictor::load(&path).map_err(err)?,
        })
    }
    /// A predictor from `Predictor.to_bytes()`'s bytes (safetensors).
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(Self {
            p: RsPredictor::from_bytes(data).map_err(err)?,
        })
    }
    /// The predictor as safetensors bytes (what `save` writes); what pickling uses.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.p.to_bytes().map_err(err)?))
    }
    /// Saves the predictor at `path` (safetensors), for `Predictor.load`.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.p.save(&path).map_err(err)
    }
    /// Pickles as `Predictor.from_bytes(p.to_bytes())`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduce<'py, (Bound<'py, PyBytes>,)>> {
        let py = slf.py();
        let build = py.get_type::<Self>().getattr("from_bytes")?;
        Ok((build, (slf.get().to_bytes(py)?,)))
    }
    /// The names of the descriptors the predictor reads, in its input order.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.p.feature_names().to_vec()
    }
    /// Predicted B-factors in Å² (float64 `[n_tokens]`, the structure's token order).
    fn predict<'py>(&self, py: Python<'py>, st: &Structure) -> PyResult<Bound<'py, PyAny>> {
        let b = compute(py, || self.p.predict(&st.st))?;
        Ok(b.into_pyarray(py).into_any())
    }
    /// Predicted B-factors of every heavy atom of the amino-acid residues
    /// (`Predictor::predict_atoms`): a dict of the atoms' `chain`,
    /// `residue_number`, `insertion_code`, `residue_name`, `atom_name`, `alt_loc`
    /// (as `atom_wcn`), `token` (int64, the residue's token), `value` (float64,
    /// Å²), `bfactor` (float64, the file's B column) and `mask` (bool: whether
    /// `bfactor` is an experimental B usable for scoring), and `token_value` (the
    /// per-token prediction at the atoms' level: `predict`'s, unless a chain's
    /// spread was shrunk to keep its atoms' B positive).
    fn predict_atoms<'py>(&self, py: Python<'py>, st: &Structure) -> PyResult<Bound<'py, PyDict>> {
        let a = compute(py, || self.p.predict_atoms(&st.st))?;
        let d = atom_columns(py, &a.sites.atoms)?;
        let tokens: Vec<i64> = a.sites.tokens.iter().map(|&t| t as i64).collect();
        d.set_item("token", tokens.into_pyarray(py))?;
        d.set_item("value", a.values.into_pyarray(py))?;
        d.set_item("bfactor", a.sites.bfactors.into_pyarray(py))?;
        let mask: Vec<bool> = a.sites.mask.iter().map(|&m| m > 0.0).collect();
        d.set_item("mask", mask.into_pyarray(py))?;
        d.set_item("token_value", a.token_values.into_pyarray(py))?;
        Ok(d)
    }
    /// Writes a copy of the structure's file at `path` (format from the name)
    /// with the per-atom predictions in the B-factor column
    /// (`structure::write_atoms`): each predicted atom its own value, every other
    /// atom of a token its token's, atoms of no token (waters; ligands with
    /// tokens="ca") the file's B.
    fn write_atoms(&self, py: Python<'_>, st: &Structure, path: PathBuf) -> PyResult<()> {
        compute(py, || {
            let a = self.p.predict_atoms(&st.st)?;
            structure::write_atoms(&st.st, &a, &path)
        })
    }
}

/// The Gaussian network model's square fluctuations of nodes at `coords`
/// `[n, 3]` (float64 or float32, read as float64), springs within `cutoff` Å.
#[pyfunction]
#[pyo3(signature = (coords, cutoff=10.0))]
fn square_fluctuations<'py>(
    py: Python<'py>,
    coords: &Bound<'py, PyAny>,
    cutoff: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let c: ArrayD<f64> = match array(coords, "coords")? {
        Arr::F32(a) => a.as_array().mapv(f64::from),
        Arr::F64(a) => a.as_array().to_owned(),
    };
    let ndim = c.ndim();
    let c = c
        .into_dimensionality::<Ix2>()
        .map_err(|_| Error::new_err(format!("coords has {ndim} axes, expected 2")))?;
    let config = GnmConfig::new().with_cutoff(cutoff);
    let r = compute(py, || config.square_fluctuations(&c))?;
    Ok(r.into_pyarray(py).into_any())
}

/// A structure from per-atom arrays (what `bfactor.from_atom_array` passes):
/// every list and array has one entry per atom.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (coords, chain_ids, residue_numbers, insertion_codes, residue_names, atom_names, elements, hetero, bfactors, occupancies, tokens="ca", b_column="detect"))]
fn _from_atoms(
    py: Python<'_>,
    coords: &Bound<'_, PyAny>,
    chain_ids: Vec<String>,
    residue_numbers: Vec<i64>,
    insertion_codes: Vec<String>,
    residue_names: Vec<String>,
    atom_names: Vec<String>,
    elements: Vec<String>,
    hetero: Vec<bool>,
    bfactors: Vec<f64>,
    occupancies: Vec<f64>,
    tokens: &str,
    b_column: &str,
) -> PyResult<Structure> {
    let xyz: ArrayD<f64> = match array(coords, "coord")? {
        Arr::F32(a) => a.as_array().mapv(f64::from),
        Arr::F64(a) => a.as_array().to_owned(),
    };
    let n = xyz.shape().first().copied().unwrap_or(0);
    if xyz.shape() != [n, 3] {
        return Err(Error::new_err(format!(
            "coord has shape {:?}, expected [n_atoms, 3] (one model)",
            xyz.shape()
        )));
    }
    let lengths = [
        ("chain_id", chain_ids.len()),
        ("res_id", residue_numbers.len()),
        ("ins_code", insertion_codes.len()),
        ("res_name", residue_names.len()),
        ("atom_name", atom_names.len()),
        ("element", elements.len()),
        ("hetero", hetero.len()),
        ("b_factor", bfactors.len()),
        ("occupancy", occupancies.len()),
    ];
    if let Some((what, len)) = lengths.iter().find(|(_, len)| *len != n) {
        return Err(Error::new_err(format!(
            "{what} has {len} entries, expected {n} (one per atom of coord)"
        )));
    }
    let atoms: Vec<structure::AtomRecord> = (0..n)
        .map(|i| structure::AtomRecord {
            chain: chain_ids[i].clone(),
            residue_number: residue_numbers[i] as isize,
            insertion_code: Some(insertion_codes[i].clone()),
            residue_name: residue_names[i].clone(),
            atom_name: atom_names[i].clone(),
            element: elements[i].clone(),
            hetero: hetero[i],
            coords: [xyz[[i, 0]], xyz[[i, 1]], xyz[[i, 2]]],
            bfactor: bfactors[i],
            occupancy: occupancies[i],
        })
        .collect();
    let options = ReadOptions::new()
        .with_tokens(token_mode(tokens)?)
        .with_b_column(self::b_column(b_column)?);
    let (st, map) = compute(py, || {
        let st = structure::from_atoms(&atoms, &options)?;
        let map = structure::atom_tokens(&st, &atoms);
        Ok((st, map))
    })?;
    Ok(Structure {
        st,
        atom_tokens: Some(map),
    })
}

/// The token and file tables of `bfactor predict --table parquet` on `paths`
/// (files, directories, tar archives) as Arrow IPC stream bytes, and the number
/// of failed files: what `bfactor.predict_files` wraps with pyarrow. The rows
/// are the command's (`bfactor_cli::predict_tables`), computed with the GIL
/// released on the package's pool.
#[pyfunction]
#[pyo3(signature = (paths, predictor=None, tokens="ca"))]
fn _predict_tables<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    predictor: Option<&Predictor>,
    tokens: &str,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, usize)> {
    let boltz2 = matches!(token_mode(tokens)?, TokenMode::Boltz2);
    let predictor = match predictor {
        Some(p) => p.p.clone(),
        None => RsPredictor::pretrained().map_err(err)?,
    };
    let pool = pool()?;
    let (t, f, failures) = py
        .detach(|| pool.install(|| bfactor_cli::predict_tables(&paths, predictor, boltz2)))
        .map_err(Error::new_err)?;
    Ok((PyBytes::new(py, &t), PyBytes::new(py, &f), failures))
}

/// Runs the `bfactor` command on `argv` (the program name first) and returns its
/// exit status: the same code as the Rust binary (`bfactor_cli::run_from`).
#[pyfunction]
fn _main(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    let pool = pool()?;
    Ok(py.detach(|| pool.install(|| bfactor_cli::run_from(argv))))
}

#[pymodule]
fn _bfactor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add_class::<BFactorHead>()?;
    m.add_class::<HeadOutput>()?;
    m.add_class::<Structure>()?;
    m.add_class::<Predictor>()?;
    m.add_class::<Boltz2Head>()?;
    m.add_function(wrap_pyfunction!(_from_atoms, m)?)?;
    m.add_function(wrap_pyfunction!(_main, m)?)?;
    m.add_function(wrap_pyfunction!(_predict_tables, m)?)?;
    m.add_function(wrap_pyfunction!(normalized_mse, m)?)?;
    m.add_function(wrap_pyfunction!(pearson, m)?)?;
    m.add_function(wrap_pyfunction!(binned_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(write, m)?)?;
    m.add_function(wrap_pyfunction!(plddt_to_b, m)?)?;
    m.add_function(wrap_pyfunction!(atom_wcn, m)?)?;
    m.add_function(wrap_pyfunction!(plddt_to_b_text, m)?)?;
    m.add_function(wrap_pyfunction!(square_fluctuations, m)?)?;
    Ok(())
}
