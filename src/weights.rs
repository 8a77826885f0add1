//! Weight files: safetensors (what PyTorch and Hugging Face share weights in) and
//! NumPy `.npy` / `.npz`, for both heads.
//!
//! A file is read into [`NamedTensors`], a map from PyTorch state-dict names to
//! float64 arrays (every supported dtype widens exactly), and each head picks its
//! tensors by name and converts them to its float type. Tensor names:
//!
//! | head | tensors (default prefix) | shapes |
//! | --- | --- | --- |
//! | [`Boltz2Head`] | `bfactor_module.bfactor.weight`, `bfactor_module.bfactor.bias` | `[num_bins, token_s]`, `[num_bins]` (`nn.Linear` layout) |
//! | [`BFactorHead`] | `bfactor_head.w1`, `bfactor_head.w2` | `[c_s, c_s]`, `[c_s, num_bins]` (the notebook's `x @ W` layout) |
//!
//! The names are `{prefix}.weight` etc., with any prefix you pass to
//! `from_tensors` / `to_tensors`.
//!
//! Supported element types: safetensors F16, BF16, F32 and F64; `.npy` / `.npz`
//! float32 and float64 (convert half-precision NumPy arrays with
//! `.astype(np.float32)` first). Tensors of other types in the same file are
//! ignored unless a head asks for them, which is an
//! [`Error::UnsupportedDtype`].
//!
//! ```
//! # #[cfg(feature = "safetensors")] {
//! use bfactor::boltz2::{Boltz2Head, Boltz2HeadConfig};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let head = Boltz2HeadConfig::new().init::<f32>(&mut StdRng::seed_from_u64(1))?;
//! let path = std::env::temp_dir().join("bfactor_doc_boltz2.safetensors");
//! head.save(&path)?;
//! let back = Boltz2Head::<f32>::load(&path)?;
//! assert_eq!(back, head);
//! # std::fs::remove_file(&path).ok();
//! # }
//! # Ok::<(), bfactor::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array, ArrayBase, ArrayD, Data, Dimension};

use crate::boltz2::Boltz2Head;
use crate::{check, BFactorHead, BFactorHeadConfig, Error, Float, Result};

/// The element type to write a file in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightDtype {
    /// IEEE single precision (PyTorch's default).
    F32,
    /// IEEE double precision.
    F64,
}

impl WeightDtype {
    /// The dtype of the float type `F`.
    pub fn of<F: Float>() -> Self {
        if F::NAME == "f32" {
            Self::F32
        } else {
            Self::F64
        }
    }
}

/// Named float tensors, as in a PyTorch state dict, held as float64.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamedTensors {
    tensors: BTreeMap<String, ArrayD<f64>>,
    /// Tensors of a type that cannot be read as floats: name → dtype.
    unsupported: BTreeMap<String, String>,
}

impl NamedTensors {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a tensor.
    pub fn insert<F: Float, S: Data<Elem = F>, D: Dimension>(
        &mut self,
        name: &str,
        a: &ArrayBase<S, D>,
    ) {
        self.tensors
            .insert(name.to_string(), a.mapv(|v| v.to_f64_exact()).into_dyn());
    }

    /// The tensor called `name`, if present.
    pub fn get(&self, name: &str) -> Option<&ArrayD<f64>> {
        self.tensors.get(name)
    }

    /// All tensor names, sorted, including those of unsupported dtypes.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .tensors
            .keys()
            .chain(self.unsupported.keys())
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// The tensor `name` as `F`, checked to have shape `expected` and finite values.
    pub fn array<F: Float, D: Dimension>(
        &self,
        name: &str,
        expected: &[usize],
    ) -> Result<Array<F, D>> {
        let Some(t) = self.tensors.get(name) else {
            return Err(self.absent(name));
        };
        check::same_shape(name, t.shape(), expected, "what the head's config needs")?;
        check::finite(name, t)?;
        Ok(t.mapv(F::from_f64_lossy)
            .into_dimensionality()
            .expect("shape checked"))
    }

    /// The error for a name with no float tensor: unsupported dtype, or missing
    /// (listing the names that are there).
    fn absent(&self, name: &str) -> Error {
        match self.unsupported.get(name) {
            Some(dtype) => Error::UnsupportedDtype {
                name: name.to_string(),
                dtype: dtype.clone(),
                supported: "F16, BF16, F32, F64 (safetensors); float32, float64 (npy)".into(),
            },
            None => Error::MissingTensor {
                name: name.to_string(),
                available: self.names(),
            },
        }
    }

    /// Reads a `.safetensors` or `.npz` file, chosen by the extension.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        match extension(path).as_str() {
            #[cfg(feature = "safetensors")]
            "safetensors" => Self::read_safetensors(path),
            #[cfg(feature = "npy")]
            "npz" => Self::read_npz(path),
            other => Err(unknown_extension(path, other)),
        }
    }

    /// Writes a `.safetensors` or `.npz` file, chosen by the extension.
    pub fn write(&self, path: impl AsRef<Path>, dtype: WeightDtype) -> Result<()> {
        let path = path.as_ref();
        match extension(path).as_str() {
            #[cfg(feature = "safetensors")]
            "safetensors" => self.write_safetensors(path, dtype),
            #[cfg(feature = "npy")]
            "npz" => self.write_npz(path, dtype),
            other => {
                let _ = dtype;
                Err(unknown_extension(path, other))
            }
        }
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn unknown_extension(path: &Path, ext: &str) -> Error {
    let mut known = vec![];
    if cfg!(feature = "safetensors") {
        known.push(".safetensors");
    }
    if cfg!(feature = "npy") {
        known.push(".npz");
    }
    Error::Format {
        path: path.display().to_string(),
        message: format!("unknown weight file extension {ext:?}, expected one of {known:?}"),
    }
}

#[cfg(any(feature = "safetensors", feature = "npy"))]
fn io_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

#[cfg(any(feature = "safetensors", feature = "npy"))]
fn format_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Format {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

#[cfg(feature = "safetensors")]
mod st {
    use super::*;
    use safetensors::tensor::{Dtype, TensorView};
    use safetensors::SafeTensors;

    impl NamedTensors {
        /// Parses a safetensors buffer.
        pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<Self> {
            parse(bytes, Path::new("<bytes>"))
        }

        /// Reads a safetensors file.
        pub fn read_safetensors(path: impl AsRef<Path>) -> Result<Self> {
            let path = path.as_ref();
            let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
            parse(&bytes, path)
        }

        /// Serialises to a safetensors buffer in `dtype`.
        pub fn to_safetensors_bytes(&self, dtype: WeightDtype) -> Result<Vec<u8>> {
            let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = self
                .tensors
                .iter()
                .map(|(name, t)| {
                    let bytes = match dtype {
                        WeightDtype::F32 => {
                            t.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect()
                        }
                        WeightDtype::F64 => t.iter().flat_map(|&v| v.to_le_bytes()).collect(),
                    };
                    (name.clone(), t.shape().to_vec(), bytes)
                })
                .collect();
            let st_dtype = match dtype {
                WeightDtype::F32 => Dtype::F32,
                WeightDtype::F64 => Dtype::F64,
            };
            let views = buffers
                .iter()
                .map(|(name, shape, bytes)| {
                    TensorView::new(st_dtype, shape.clone(), bytes).map(|v| (name.as_str(), v))
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| format_error(Path::new("<bytes>"), e))?;
            safetensors::serialize(views, None).map_err(|e| format_error(Path::new("<bytes>"), e))
        }

        /// Writes a safetensors file in `dtype`.
        pub fn write_safetensors(&self, path: impl AsRef<Path>, dtype: WeightDtype) -> Result<()> {
            let path = path.as_ref();
            let bytes = self.to_safetensors_bytes(dtype)?;
            std::fs::write(path, bytes).map_err(|e| io_error(path, e))
        }
    }

    fn parse(bytes: &[u8], path: &Path) -> Result<NamedTensors> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| format_error(path, e))?;
        let mut out = NamedTensors::new();
        for (name, view) in st.tensors() {
            let data = view.data();
            let values: Vec<f64> = match view.dtype() {
                Dtype::F64 => data
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
                Dtype::F32 => data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
                    .collect(),
                Dtype::F16 => data
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f64())
                    .collect(),
                Dtype::BF16 => data
                    .chunks_exact(2)
                    .map(|c| half::bf16::from_le_bytes(c.try_into().expect("2 bytes")).to_f64())
                    .collect(),
                other => {
                    out.unsupported.insert(name, format!("{other:?}"));
                    continue;
                }
            };
            let t = ArrayD::from_shape_vec(ndarray::IxDyn(view.shape()), values).map_err(|e| {
                format_error(
                    path,
                    format!("tensor {name:?}: data does not fill its shape: {e}"),
                )
            })?;
            out.tensors.insert(name, t);
        }
        Ok(out)
    }
}

#[cfg(feature = "npy")]
mod npy {
    use super::*;
    use ndarray_npy::{NpzReader, NpzWriter, ReadNpyError, ReadNpzError};
    use std::fs::File;

    impl NamedTensors {
        /// Reads an `.npz` archive (as written by `np.savez`, compressed or not);
        /// each member's name, without `.npy`, is the tensor's name.
        pub fn read_npz(path: impl AsRef<Path>) -> Result<Self> {
            let path = path.as_ref();
            let file = File::open(path).map_err(|e| io_error(path, e))?;
            let mut npz = NpzReader::new(file).map_err(|e| format_error(path, e))?;
            let names = npz.names().map_err(|e| format_error(path, e))?;
            let mut out = NamedTensors::new();
            for name in names {
                let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
                match npz.by_name::<ndarray::OwnedRepr<f64>, ndarray::IxDyn>(&name) {
                    Ok(a) => {
                        out.tensors.insert(key, a);
                        continue;
                    }
                    Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_))) => {}
                    Err(e) => return Err(format_error(path, format!("member {name:?}: {e}"))),
                }
                match npz.by_name::<ndarray::OwnedRepr<f32>, ndarray::IxDyn>(&name) {
                    Ok(a) => {
                        out.tensors.insert(key, a.mapv(f64::from));
                    }
                    Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(d))) => {
                        out.unsupported.insert(key, format!("{d}"));
                    }
                    Err(e) => return Err(format_error(path, format!("member {name:?}: {e}"))),
                }
            }
            Ok(out)
        }

        /// Writes an `.npz` archive (uncompressed, like `np.savez`) in `dtype`.
        pub fn write_npz(&self, path: impl AsRef<Path>, dtype: WeightDtype) -> Result<()> {
            let path = path.as_ref();
            let file = File::create(path).map_err(|e| io_error(path, e))?;
            let mut npz = NpzWriter::new(file);
            for (name, t) in &self.tensors {
                match dtype {
                    WeightDtype::F32 => npz.add_array(name.as_str(), &t.mapv(|v| v as f32)),
                    WeightDtype::F64 => npz.add_array(name.as_str(), t),
                }
                .map_err(|e| io_error(path, e))?;
            }
            npz.finish().map_err(|e| io_error(path, e))?;
            Ok(())
        }
    }

    /// Reads one float32 or float64 `.npy` file (as written by `np.save`) into an
    /// `F` array of dimension `D` (e.g. [`type@ndarray::Ix2`] or [`type@ndarray::IxDyn`]).
    pub fn read_npy<F: Float, D: Dimension>(path: impl AsRef<Path>) -> Result<Array<F, D>> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let a: ArrayD<f64> = match ndarray_npy::read_npy::<_, ArrayD<f64>>(path) {
            Ok(a) => a,
            Err(ReadNpyError::WrongDescriptor(_)) => {
                match ndarray_npy::read_npy::<_, ArrayD<f32>>(path) {
                    Ok(a) => a.mapv(f64::from),
                    Err(ReadNpyError::WrongDescriptor(d)) => {
                        return Err(Error::UnsupportedDtype {
                            name,
                            dtype: d.to_string(),
                            supported: "float32, float64".into(),
                        })
                    }
                    Err(e) => return Err(npy_error(path, e)),
                }
            }
            Err(e) => return Err(npy_error(path, e)),
        };
        check::finite(&name, &a)?;
        let got = a.shape().to_vec();
        a.mapv(F::from_f64_lossy)
            .into_dimensionality()
            .map_err(|_| Error::Rank {
                what: name,
                expected: format!("{:?}", D::NDIM),
                got: got.len(),
                shape: got,
            })
    }

    /// Writes an array as a `.npy` file in its own float type.
    pub fn write_npy<F: Float, S: Data<Elem = F>, D: Dimension>(
        path: impl AsRef<Path>,
        a: &ArrayBase<S, D>,
    ) -> Result<()> {
        let path = path.as_ref();
        let result = match WeightDtype::of::<F>() {
            WeightDtype::F32 => ndarray_npy::write_npy(path, &a.mapv(|v| v.to_f64_exact() as f32)),
            WeightDtype::F64 => ndarray_npy::write_npy(path, &a.mapv(|v| v.to_f64_exact())),
        };
        result.map_err(|e| io_error(path, e))
    }

    fn npy_error(path: &Path, e: ReadNpyError) -> Error {
        match e {
            ReadNpyError::Io(e) => io_error(path, e),
            other => format_error(path, other),
        }
    }
}

#[cfg(feature = "npy")]
pub use npy::{read_npy, write_npy};

impl<F: Float> Boltz2Head<F> {
    /// The prefix Boltz-2's checkpoints store the module under.
    pub const DEFAULT_PREFIX: &'static str = "bfactor_module.bfactor";

    /// A head from `{prefix}.weight` `[num_bins, token_s]` and `{prefix}.bias`
    /// `[num_bins]`.
    pub fn from_tensors(tensors: &NamedTensors, prefix: &str) -> Result<Self> {
        let w_name = format!("{prefix}.weight");
        let Some(w) = tensors.get(&w_name) else {
            return Err(tensors.absent(&w_name));
        };
        let shape = w.shape().to_vec();
        if shape.len() != 2 {
            return Err(Error::Rank {
                what: w_name,
                expected: "2 ([num_bins, token_s])".into(),
                got: shape.len(),
                shape,
            });
        }
        let weight = tensors.array(&w_name, &shape)?;
        let bias = tensors.array(&format!("{prefix}.bias"), &shape[..1])?;
        Self::from_weights(weight, bias)
    }

    /// The head's tensors under `prefix`.
    pub fn to_tensors(&self, prefix: &str) -> NamedTensors {
        let mut t = NamedTensors::new();
        t.insert(&format!("{prefix}.weight"), self.weight());
        t.insert(&format!("{prefix}.bias"), self.bias());
        t
    }

    /// Loads a `.safetensors` or `.npz` file with Boltz-2's tensor names.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_tensors(&NamedTensors::read(path)?, Self::DEFAULT_PREFIX)
    }

    /// Saves to `.safetensors` or `.npz` (by extension) with Boltz-2's tensor
    /// names, in the head's own float type.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.to_tensors(Self::DEFAULT_PREFIX)
            .write(path, WeightDtype::of::<F>())
    }
}

impl<F: Float> BFactorHead<F> {
    /// The prefix this crate stores the notebook head under.
    pub const DEFAULT_PREFIX: &'static str = "bfactor_head";

    /// A head from `{prefix}.w1` `[c_s, c_s]` and `{prefix}.w2` `[c_s, num_bins]`,
    /// whose shapes must match `config`.
    pub fn from_tensors(
        tensors: &NamedTensors,
        prefix: &str,
        config: BFactorHeadConfig,
    ) -> Result<Self> {
        config.validate()?;
        let (c, k) = (config.c_s, config.num_bins);
        let w1 = tensors.array(&format!("{prefix}.w1"), &[c, c])?;
        let w2 = tensors.array(&format!("{prefix}.w2"), &[c, k])?;
        Self::from_weights(config, w1, w2)
    }

    /// The head's tensors under `prefix`.
    pub fn to_tensors(&self, prefix: &str) -> NamedTensors {
        let mut t = NamedTensors::new();
        t.insert(&format!("{prefix}.w1"), self.w1());
        t.insert(&format!("{prefix}.w2"), self.w2());
        t
    }

    /// Loads a `.safetensors` or `.npz` file with this crate's tensor names.
    pub fn load(path: impl AsRef<Path>, config: BFactorHeadConfig) -> Result<Self> {
        Self::from_tensors(&NamedTensors::read(path)?, Self::DEFAULT_PREFIX, config)
    }

    /// Saves to `.safetensors` or `.npz` (by extension), in the head's float type.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.to_tensors(Self::DEFAULT_PREFIX)
            .write(path, WeightDtype::of::<F>())
    }
}
