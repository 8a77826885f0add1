//! `bfactor._bfactor`: the Python extension of the `bfactor` crate (PyO3 +
//! rust-numpy). A thin layer: it converts arguments, releases the GIL, calls the
//! crate and converts back; the Python package `bfactor` re-exports it.
//!
//! NumPy inputs are read in place (strided views included) as `float32` or
//! `float64`; any other dtype is a `TypeError` naming it. The crate's errors
//! raise `bfactor.Error` (a `ValueError`), a missing file `FileNotFoundError`.

use std::path::PathBuf;

use bfactor::ndarray::{Array1, ArrayD, Ix1, Ix2};
use bfactor::structure::predict::Predictor as RsPredictor;
use bfactor::structure::{self, gnm::GnmConfig, FileFormat, ReadOptions, TokenMode};
use bfactor::{loss, BFactorHead as RsHead, BFactorHeadConfig, Float};
use numpy::{Element, IntoPyArray, PyReadonlyArrayDyn};
use pyo3::create_exception;
use pyo3::exceptions::{PyFileNotFoundError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

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
    let out = py.detach(|| head.forward(&view)).map_err(err)?;
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
            other => {
                return Err(PyTypeError::new_err(format!(
                    "dtype is {other:?}, expected \"float32\" or \"float64\""
                )))
            }
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
    let r = py.detach(|| match (&m, pearson) {
        (None, false) => loss::normalized_mse(&p, &t),
        (None, true) => loss::pearson(&p, &t),
        (Some(m), false) => loss::normalized_mse_masked(&p, &t, m),
        (Some(m), true) => loss::pearson_masked(&p, &t, m),
    });
    Ok(r.map_err(err)?.to_f64_exact())
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
    let r = py.detach(|| loss::binned_cross_entropy(&l, &t));
    Ok(r.map_err(err)?.to_f64_exact())
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
}

#[pymethods]
impl Structure {
    /// Experimental B-factors of the tokens' representative atoms (float64 `[n]`).
    #[getter]
    fn bfactors<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.st.bfactors().into_pyarray(py).into_any()
    }
    /// 1 for a token whose representative atom is present, else 0 (float64 `[n]`).
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
    /// The number of tokens.
    fn __len__(&self) -> usize {
        self.st.tokens().len()
    }
    fn __repr__(&self) -> String {
        format!("<bfactor.Structure with {} tokens>", self.st.tokens().len())
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
/// format from the name) or from `bytes` with `format="pdb"` or `"cif"`.
/// `tokens="ca"` gives one token per amino acid at its CA, `"boltz2"` Boltz-2's tokens.
#[pyfunction]
#[pyo3(signature = (source, tokens="ca", format=None))]
fn read(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    tokens: &str,
    format: Option<&str>,
) -> PyResult<Structure> {
    let options = ReadOptions::new().with_tokens(token_mode(tokens)?);
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
        // UTF-8, or else Latin-1 (every byte one character).
        let text = match std::str::from_utf8(data) {
            Ok(t) => t.to_owned(),
            Err(_) => data.iter().map(|&b| b as char).collect(),
        };
        let st = py
            .detach(|| structure::read_str(&text, format, &options))
            .map_err(err)?;
        return Ok(Structure { st });
    }
    let path: PathBuf = source.extract()?;
    if !path.exists() {
        return Err(PyFileNotFoundError::new_err(format!(
            "no such file: {}",
            path.display()
        )));
    }
    let st = py
        .detach(|| structure::read(&path, &options))
        .map_err(err)?;
    Ok(Structure { st })
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
        py.detach(|| structure::write(&st.st, &v, path))
            .map_err(err)
    }
    match array(values, "values")? {
        Arr::F32(v) => go(py, st, v, &path),
        Arr::F64(v) => go(py, st, v, &path),
    }
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
    /// Predicted B-factors in Å² (float64 `[n_tokens]`, the structure's token order).
    fn predict<'py>(&self, py: Python<'py>, st: &Structure) -> PyResult<Bound<'py, PyAny>> {
        let b = py.detach(|| self.p.predict(&st.st)).map_err(err)?;
        Ok(b.into_pyarray(py).into_any())
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
    let r = py.detach(|| config.square_fluctuations(&c)).map_err(err)?;
    Ok(r.into_pyarray(py).into_any())
}

#[pymodule]
fn _bfactor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add_class::<BFactorHead>()?;
    m.add_class::<HeadOutput>()?;
    m.add_class::<Structure>()?;
    m.add_class::<Predictor>()?;
    m.add_function(wrap_pyfunction!(normalized_mse, m)?)?;
    m.add_function(wrap_pyfunction!(pearson, m)?)?;
    m.add_function(wrap_pyfunction!(binned_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(write, m)?)?;
    m.add_function(wrap_pyfunction!(square_fluctuations, m)?)?;
    Ok(())
}
