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
//! # The head's config in the file
//!
//! `save` stores the head's config with the tensors, as string metadata
//! (safetensors `__metadata__`; an `.npz` member `__metadata__`, a uint8 array of
//! UTF-8 `key<TAB>value` lines) under the same prefix: `{prefix}.head`
//! (`"BFactorHead"` or `"Boltz2Head"`), `{prefix}.c_s` / `{prefix}.token_s`,
//! `{prefix}.num_bins`, `{prefix}.max_bfactor`, `{prefix}.eps` (notebook head)
//! and `{prefix}.dtype` (the float type it was saved from). Loading checks it:
//! a config passed to [`BFactorHead::load`] that disagrees with the stored one is
//! an [`Error::SavedConfigMismatch`], and [`BFactorHead::load_saved`] builds the
//! head from the stored config alone. Files without metadata (e.g. exported from
//! PyTorch) load as before, with the config the caller gives.
//!
//! ```
//! # #[cfg(feature = "safetensors")] {
//! use bfactor::boltz2::{Boltz2Head, Boltz2HeadConfig};
//! use bfactor::rand::{rngs::StdRng, SeedableRng};
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
        F::DTYPE
    }
}

/// Named float tensors, as in a PyTorch state dict, held as float64.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamedTensors {
    tensors: BTreeMap<String, ArrayD<f64>>,
    /// Tensors of a type that cannot be read as floats: name → dtype.
    unsupported: BTreeMap<String, String>,
    /// String metadata (safetensors `__metadata__`; the `__metadata__` member of
    /// an `.npz`), where heads store their configs.
    metadata: BTreeMap<String, String>,
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

    /// The file's string metadata (empty for files without any, e.g. those
    /// PyTorch's `save_file` wrote without `metadata=`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Adds (or replaces) a metadata entry.
    pub fn set_metadata(&mut self, key: &str, value: &str) {
        self.metadata.insert(key.to_string(), value.to_string());
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
    ///
    /// Errors with [`Error::Rank`] if `expected` has a different number of axes
    /// than `D` (e.g. `array::<f32, Ix2>(name, &[3])`),
    /// [`Error::ShapeMismatch`] if the tensor's shape is not `expected`, and
    /// [`Error::MissingTensor`] / [`Error::UnsupportedDtype`] if there is no float
    /// tensor of that name.
    pub fn array<F: Float, D: Dimension>(
        &self,
        name: &str,
        expected: &[usize],
    ) -> Result<Array<F, D>> {
        let Some(t) = self.tensors.get(name) else {
            return Err(self.absent(name));
        };
        if let Some(ndim) = D::NDIM {
            if ndim != expected.len() {
                return Err(Error::rank(
                    format!("the array type asked for tensor {name:?} (shape {expected:?})"),
                    expected.len().to_string(),
                    ndim,
                    expected,
                ));
            }
        }
        check::same_shape(name, t.shape(), expected, "what the head's config needs")?;
        check::finite(name, t)?;
        let got = t.shape().to_vec();
        t.mapv(F::from_f64_lossy)
            .into_dimensionality()
            .map_err(|_| Error::rank(name, format!("{:?}", D::NDIM), got.len(), got))
    }

    /// The error for a name with no float tensor: unsupported dtype, or missing
    /// (listing the names that are there).
    fn absent(&self, name: &str) -> Error {
        match self.unsupported.get(name) {
            Some(dtype) => Error::unsupported_dtype(
                name,
                dtype.clone(),
                "F16, BF16, F32, F64 (safetensors); float32, float64 (npy)",
            ),
            None => Error::missing_tensor(name, self.names()),
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
    Error::format(
        path.display(),
        format!("unknown weight file extension {ext:?}, expected one of {known:?}"),
    )
}

#[cfg(any(feature = "safetensors", feature = "npy"))]
fn io_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(path.display(), e)
}

#[cfg(any(feature = "safetensors", feature = "npy"))]
fn format_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::format(path.display(), e.to_string())
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
            let metadata = (!self.metadata.is_empty()).then(|| {
                self.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<std::collections::HashMap<_, _>>()
            });
            safetensors::serialize(views, metadata)
                .map_err(|e| format_error(Path::new("<bytes>"), e))
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
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| format_error(path, e))?;
        if let Some(m) = header.metadata() {
            out.metadata = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
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
    use ndarray_npy::npy::header::Header;
    use ndarray_npy::{NpzWriter, ReadNpyError, ReadNpyExt};
    use std::fs::File;
    use std::io::Read;

    /// The largest `.npy` header read (NumPy's own headers are under 200 bytes;
    /// version 1.0 allows at most 65,535).
    const MAX_NPY_HEADER: usize = 1 << 16;
    /// The `.npz` member holding the metadata.
    const METADATA_MEMBER: &str = "__metadata__";
    /// The deepest bracket nesting accepted in an `.npy` header dictionary.
    const MAX_HEADER_NESTING: usize = 16;

    /// The element type an `.npy` header describes.
    #[derive(Clone, Copy, PartialEq)]
    enum Elem {
        F32,
        F64,
        /// Anything else, which is listed but not read.
        Other,
    }

    /// What an `.npy` header says, checked against the bytes that follow it.
    struct NpyLayout {
        elem: Elem,
        descr: String,
        /// Header (preamble and dictionary) length in bytes: the data starts here.
        data_start: usize,
        /// Bytes of data the header's shape and dtype need.
        data_bytes: u64,
    }

    /// The length of an `.npy` file's preamble and header, from its first bytes
    /// (at least 12, or the whole file if shorter), checked against the
    /// [`MAX_NPY_HEADER`] cap and `total`, the bytes the file or member holds.
    fn header_len(prefix: &[u8], total: u64) -> std::result::Result<usize, String> {
        if prefix.len() < 10 || &prefix[..6] != b"\x93NUMPY" {
            return Err("not an .npy file (no \\x93NUMPY magic string)".into());
        }
        let (len, start) = match prefix[6] {
            1 => (u16::from_le_bytes([prefix[8], prefix[9]]) as usize, 10),
            2 | 3 if prefix.len() >= 12 => (
                u32::from_le_bytes(prefix[8..12].try_into().expect("4 bytes")) as usize,
                12,
            ),
            v => return Err(format!("unsupported .npy format version {v}")),
        };
        if len > MAX_NPY_HEADER {
            return Err(format!(
                ".npy header claims {len} bytes, expected at most {MAX_NPY_HEADER}"
            ));
        }
        let end = start + len;
        if end as u64 > total {
            return Err(format!(
                ".npy header claims {len} bytes but only {} follow the preamble",
                total.saturating_sub(start as u64)
            ));
        }
        Ok(end)
    }

    /// Parses the header in `head` (preamble and dictionary, as measured by
    /// [`header_len`]) and checks that the data it describes is exactly
    /// `total - head.len()` bytes, so that nothing is ever allocated for data a
    /// header merely claims.
    fn layout(head: &[u8], total: u64) -> std::result::Result<NpyLayout, String> {
        let mut depth = 0usize;
        for &b in head {
            match b {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_HEADER_NESTING {
                        return Err(format!(
                            ".npy header nests brackets deeper than {MAX_HEADER_NESTING}"
                        ));
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let header = Header::from_reader(&mut &head[..]).map_err(|e| e.to_string())?;
        let descr = header.type_descriptor.to_string();
        let plain = descr.trim_matches(|c| c == '\'' || c == '"');
        let (elem, itemsize) = match plain.as_bytes() {
            [b'<' | b'>' | b'=' | b'|', b'f', size @ ..] => match size {
                b"4" => (Elem::F32, 4),
                b"8" => (Elem::F64, 8),
                _ => (Elem::Other, 0),
            },
            _ => (Elem::Other, 0),
        };
        let data_start = head.len();
        let available = total - data_start as u64;
        let elements = header
            .shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        let data_bytes = match (elem, elements) {
            (Elem::Other, _) => available,
            (_, Some(n)) => n.saturating_mul(itemsize),
            (_, None) => u64::MAX,
        };
        if data_bytes != available {
            return Err(format!(
                "the header's shape {:?} of {plain} needs {} bytes of data, the file holds {available}",
                header.shape,
                if data_bytes == u64::MAX {
                    "more than 2^64".to_string()
                } else {
                    data_bytes.to_string()
                },
            ));
        }
        Ok(NpyLayout {
            elem,
            descr: plain.to_string(),
            data_start,
            data_bytes,
        })
    }

    /// Reads a whole in-memory `.npy` file as float64, after checking its header
    /// against its length.
    fn parse_npy(
        bytes: &[u8],
    ) -> std::result::Result<std::result::Result<ArrayD<f64>, String>, String> {
        let end = header_len(bytes, bytes.len() as u64)?;
        let l = layout(&bytes[..end], bytes.len() as u64)?;
        debug_assert_eq!(l.data_start as u64 + l.data_bytes, bytes.len() as u64);
        let read = |e: ReadNpyError| e.to_string();
        match l.elem {
            Elem::F64 => Ok(Ok(ArrayD::<f64>::read_npy(bytes).map_err(read)?)),
            Elem::F32 => Ok(Ok(ArrayD::<f32>::read_npy(bytes)
                .map_err(read)?
                .mapv(f64::from))),
            Elem::Other => Ok(Err(l.descr)),
        }
    }

    /// Reads at most `limit` bytes from `r`, growing the buffer only as data
    /// arrives.
    fn read_up_to(r: &mut impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![];
        r.take(limit).read_to_end(&mut buf)?;
        Ok(buf)
    }

    impl NamedTensors {
        /// Reads an `.npz` archive (as written by `np.savez`, compressed or not);
        /// each member's name, without `.npy`, is the tensor's name.
        ///
        /// Every member's name, dtype and shape are checked against its size in
        /// the archive before any member is read whole, and the members'
        /// uncompressed sizes may add up to at most [`MAX_NPZ_BYTES`]; memory use
        /// is bounded by the data really there, not by what a header claims.
        pub fn read_npz(path: impl AsRef<Path>) -> Result<Self> {
            let path = path.as_ref();
            let file = File::open(path).map_err(|e| io_error(path, e))?;
            let mut zip = zip::ZipArchive::new(file).map_err(|e| format_error(path, e))?;
            // Names, sizes and headers first.
            let mut members = vec![];
            let mut total = 0u64;
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).map_err(|e| format_error(path, e))?;
                let name = entry.name().to_string();
                let member = |m: String| format_error(path, format!("member {name:?}: {m}"));
                if entry.is_dir() {
                    continue;
                }
                let size = entry.size();
                total = total.saturating_add(size);
                if total > MAX_NPZ_BYTES {
                    return Err(format_error(
                        path,
                        format!(
                            "the members' uncompressed sizes add up to more than \
                             {MAX_NPZ_BYTES} bytes (MAX_NPZ_BYTES); use safetensors for larger weights"
                        ),
                    ));
                }
                let prefix = read_up_to(&mut entry, 12).map_err(|e| member(e.to_string()))?;
                let end = header_len(&prefix, size).map_err(&member)?;
                let mut head = prefix;
                let rest = read_up_to(&mut entry, (end - head.len().min(end)) as u64)
                    .map_err(|e| member(e.to_string()))?;
                head.extend_from_slice(&rest);
                if head.len() < end {
                    return Err(member(format!(
                        "truncated: {} bytes of header, expected {end}",
                        head.len()
                    )));
                }
                head.truncate(end);
                let l = layout(&head, size).map_err(&member)?;
                let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
                members.push((i, name, key, l, size));
            }
            // Then the data, each member exactly as long as checked.
            let mut out = NamedTensors::new();
            for (i, name, key, l, size) in members {
                let member = |m: String| format_error(path, format!("member {name:?}: {m}"));
                let is_metadata = key == METADATA_MEMBER && l.descr == "|u1";
                if l.elem == Elem::Other && !is_metadata {
                    out.unsupported.insert(key, l.descr);
                    continue;
                }
                let mut entry = zip.by_index(i).map_err(|e| format_error(path, e))?;
                let bytes = read_up_to(&mut entry, size + 1).map_err(|e| member(e.to_string()))?;
                if bytes.len() as u64 != size {
                    return Err(member(format!(
                        "holds {} bytes, its archive entry says {size}",
                        bytes.len()
                    )));
                }
                if is_metadata {
                    let text = std::str::from_utf8(&bytes[l.data_start..])
                        .map_err(|e| member(format!("metadata is not UTF-8: {e}")))?;
                    for line in text.lines().filter(|l| !l.is_empty()) {
                        let Some((k, v)) = line.split_once('\t') else {
                            return Err(member(format!(
                                "metadata line {line:?} is not key<TAB>value"
                            )));
                        };
                        out.metadata.insert(k.to_string(), v.to_string());
                    }
                    continue;
                }
                match parse_npy(&bytes).map_err(&member)? {
                    Ok(a) => {
                        out.tensors.insert(key, a);
                    }
                    Err(descr) => {
                        out.unsupported.insert(key, descr);
                    }
                }
            }
            Ok(out)
        }

        /// Writes an `.npz` archive (uncompressed, like `np.savez`) in `dtype`.
        pub fn write_npz(&self, path: impl AsRef<Path>, dtype: WeightDtype) -> Result<()> {
            let path = path.as_ref();
            let file = File::create(path).map_err(|e| io_error(path, e))?;
            let mut npz = NpzWriter::new(file);
            if !self.metadata.is_empty() {
                let mut text = String::new();
                for (k, v) in &self.metadata {
                    if [k, v].iter().any(|s| s.contains(['\t', '\n', '\r'])) {
                        return Err(format_error(
                            path,
                            format!("metadata {k:?} = {v:?}: tabs and line breaks cannot be stored in an .npz"),
                        ));
                    }
                    text.push_str(&format!("{k}\t{v}\n"));
                }
                let bytes = ndarray::Array1::from(text.into_bytes());
                npz.add_array(METADATA_MEMBER, &bytes)
                    .map_err(|e| io_error(path, e))?;
            }
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
    ///
    /// The header's shape is checked against the file's length before anything is
    /// allocated for the data.
    pub fn read_npy<F: Float, D: Dimension>(path: impl AsRef<Path>) -> Result<Array<F, D>> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
        let a = match parse_npy(&bytes).map_err(|e| format_error(path, e))? {
            Ok(a) => a,
            Err(descr) => return Err(Error::unsupported_dtype(name, descr, "float32, float64")),
        };
        check::finite(&name, &a)?;
        let got = a.shape().to_vec();
        a.mapv(F::from_f64_lossy)
            .into_dimensionality()
            .map_err(|_| Error::rank(name, format!("{:?}", D::NDIM), got.len(), got))
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
}

/// The most bytes [`NamedTensors::read_npz`] decompresses from one archive (the
/// sum of its members' uncompressed sizes): 2 GiB. Larger weights belong in
/// safetensors, which is read without decompression.
#[cfg(feature = "npy")]
pub const MAX_NPZ_BYTES: u64 = 2 << 30;

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
            return Err(Error::rank(
                w_name,
                "2 ([num_bins, token_s])",
                shape.len(),
                shape,
            ));
        }
        let saved = SavedConfig::new(tensors, prefix, "Boltz2Head")?;
        if let Some(saved) = &saved {
            saved.check_usize("token_s", shape[1])?;
            saved.check_usize("num_bins", shape[0])?;
        }
        let weight = tensors.array(&w_name, &shape)?;
        let bias = tensors.array(&format!("{prefix}.bias"), &shape[..1])?;
        Self::from_weights(weight, bias)
    }

    /// The head's tensors under `prefix`, with its config as metadata (see the
    /// module docs).
    pub fn to_tensors(&self, prefix: &str) -> NamedTensors {
        let mut t = NamedTensors::new();
        t.insert(&format!("{prefix}.weight"), self.weight());
        t.insert(&format!("{prefix}.bias"), self.bias());
        let c = self.config();
        t.set_metadata(&format!("{prefix}.head"), "Boltz2Head");
        t.set_metadata(&format!("{prefix}.token_s"), &c.token_s.to_string());
        t.set_metadata(&format!("{prefix}.num_bins"), &c.num_bins.to_string());
        t.set_metadata(&format!("{prefix}.dtype"), F::NAME);
        t
    }

    /// Loads a `.safetensors` or `.npz` file with Boltz-2's tensor names. A
    /// config stored in the file must agree with the tensors' shapes.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_tensors(&NamedTensors::read(path)?, Self::DEFAULT_PREFIX)
            .map_err(|e| with_path(e, path))
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
        config.validate_for::<F>()?;
        if let Some(saved) = BFactorHeadConfig::from_saved(tensors, prefix)? {
            for (field, given, stored) in [
                ("c_s", config.c_s.to_string(), saved.c_s.to_string()),
                (
                    "num_bins",
                    config.num_bins.to_string(),
                    saved.num_bins.to_string(),
                ),
                (
                    "max_bfactor",
                    format!("{:?}", config.max_bfactor),
                    format!("{:?}", saved.max_bfactor),
                ),
                (
                    "eps",
                    format!("{:?}", config.eps),
                    format!("{:?}", saved.eps),
                ),
            ] {
                if given != stored {
                    return Err(Error::saved_config_mismatch(
                        METADATA_SOURCE,
                        format!("{prefix}.{field}"),
                        stored,
                        given,
                    ));
                }
            }
        }
        let (c, k) = (config.c_s, config.num_bins);
        let w1 = tensors.array(&format!("{prefix}.w1"), &[c, c])?;
        let w2 = tensors.array(&format!("{prefix}.w2"), &[c, k])?;
        Self::from_weights(config, w1, w2)
    }

    /// The head's tensors under `prefix`, with its config as metadata (see the
    /// module docs).
    pub fn to_tensors(&self, prefix: &str) -> NamedTensors {
        let mut t = NamedTensors::new();
        t.insert(&format!("{prefix}.w1"), self.w1());
        t.insert(&format!("{prefix}.w2"), self.w2());
        let c = self.config();
        t.set_metadata(&format!("{prefix}.head"), "BFactorHead");
        t.set_metadata(&format!("{prefix}.c_s"), &c.c_s.to_string());
        t.set_metadata(&format!("{prefix}.num_bins"), &c.num_bins.to_string());
        t.set_metadata(
            &format!("{prefix}.max_bfactor"),
            &format!("{:?}", c.max_bfactor),
        );
        t.set_metadata(&format!("{prefix}.eps"), &format!("{:?}", c.eps));
        t.set_metadata(&format!("{prefix}.dtype"), F::NAME);
        t
    }

    /// Loads a `.safetensors` or `.npz` file with this crate's tensor names.
    ///
    /// If the file stores the head's config (every file [`save`](Self::save)
    /// writes does), `config` must equal it, else
    /// [`Error::SavedConfigMismatch`]; [`load_saved`](Self::load_saved) uses the
    /// stored config instead. Files without one load with `config`.
    pub fn load(path: impl AsRef<Path>, config: BFactorHeadConfig) -> Result<Self> {
        let path = path.as_ref();
        Self::from_tensors(&NamedTensors::read(path)?, Self::DEFAULT_PREFIX, config)
            .map_err(|e| with_path(e, path))
    }

    /// Loads a file [`save`](Self::save) wrote, with the config stored in it
    /// (`max_bfactor`, `eps`, sizes). Errors with [`Error::Format`] if the file
    /// stores no config (use [`load`](Self::load) and pass one).
    pub fn load_saved(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let tensors = NamedTensors::read(path)?;
        let config = BFactorHeadConfig::from_saved(&tensors, Self::DEFAULT_PREFIX)
            .map_err(|e| with_path(e, path))?
            .ok_or_else(|| {
                Error::format(
                    path.display(),
                    format!(
                        "no stored head config (metadata key {:?}); pass one to BFactorHead::load",
                        format!("{}.head", Self::DEFAULT_PREFIX)
                    ),
                )
            })?;
        Self::from_tensors(&tensors, Self::DEFAULT_PREFIX, config).map_err(|e| with_path(e, path))
    }

    /// Saves to `.safetensors` or `.npz` (by extension), in the head's float type.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.to_tensors(Self::DEFAULT_PREFIX)
            .write(path, WeightDtype::of::<F>())
    }
}

impl BFactorHeadConfig {
    /// The config stored in `tensors`' metadata under `prefix` (see the module
    /// docs), or `None` if there is none. Errors if the metadata describes another
    /// kind of head ([`Error::SavedConfigMismatch`]) or a value does not parse
    /// ([`Error::Format`]).
    pub fn from_saved(tensors: &NamedTensors, prefix: &str) -> Result<Option<Self>> {
        let Some(saved) = SavedConfig::new(tensors, prefix, "BFactorHead")? else {
            return Ok(None);
        };
        Ok(Some(Self {
            c_s: saved.parse("c_s")?,
            num_bins: saved.parse("num_bins")?,
            max_bfactor: saved.parse("max_bfactor")?,
            eps: saved.parse("eps")?,
        }))
    }
}

/// What [`Error::SavedConfigMismatch`] names before the file's path is known.
const METADATA_SOURCE: &str = "<metadata>";

/// Puts the file's path into errors about its contents.
fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::SavedConfigMismatch {
            path: p,
            field,
            saved,
            given,
        } if p == METADATA_SOURCE => {
            Error::saved_config_mismatch(path.display(), field, saved, given)
        }
        Error::Format { path: p, message } if p == METADATA_SOURCE => {
            Error::format(path.display(), message)
        }
        other => other,
    }
}

/// A head's config as stored in metadata under a prefix.
struct SavedConfig<'a> {
    tensors: &'a NamedTensors,
    prefix: &'a str,
}

impl<'a> SavedConfig<'a> {
    /// The stored config under `prefix`, if any, checked to be of head `kind`.
    fn new(tensors: &'a NamedTensors, prefix: &'a str, kind: &str) -> Result<Option<Self>> {
        let Some(stored) = tensors.metadata.get(&format!("{prefix}.head")) else {
            return Ok(None);
        };
        if stored != kind {
            return Err(Error::saved_config_mismatch(
                METADATA_SOURCE,
                format!("{prefix}.head"),
                stored.clone(),
                kind,
            ));
        }
        Ok(Some(Self { tensors, prefix }))
    }

    fn parse<T: std::str::FromStr>(&self, field: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let key = format!("{}.{field}", self.prefix);
        let Some(v) = self.tensors.metadata.get(&key) else {
            return Err(Error::format(
                METADATA_SOURCE,
                format!("metadata {key:?} is missing (the head's config is incomplete)"),
            ));
        };
        v.parse()
            .map_err(|e| Error::format(METADATA_SOURCE, format!("metadata {key:?} = {v:?}: {e}")))
    }

    /// The stored `field` must equal `actual` (e.g. a tensor's size).
    fn check_usize(&self, field: &str, actual: usize) -> Result<()> {
        let saved: usize = self.parse(field)?;
        if saved != actual {
            return Err(Error::saved_config_mismatch(
                METADATA_SOURCE,
                format!("{}.{field}", self.prefix),
                saved.to_string(),
                format!("{actual} (from the tensors' shapes)"),
            ));
        }
        Ok(())
    }
}
