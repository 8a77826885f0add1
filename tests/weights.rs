//! Weight files: files written by Python's own packages (`safetensors.torch`,
//! `np.savez`, `np.savez_compressed`, `np.save`) load into both heads and give
//! the logits PyTorch computes; save → load round trips are bitwise; every bad
//! file is the documented [`bfactor::Error`]. Fixtures in
//! `tests/fixtures/boltz2/weights/` come from `scripts/gen_boltz2_fixtures.py`.
//! Needs both weight formats (the default features).
#![cfg(all(feature = "safetensors", feature = "npy"))]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bfactor::boltz2::{Boltz2Head, Boltz2HeadConfig};
use bfactor::weights::{self, NamedTensors, WeightDtype};
use bfactor::{BFactorHead, BFactorHeadConfig, Error, Float};
use common::{assert_close, assert_msg, assert_non_finite, assert_shape_mismatch, BOLTZ2_WEIGHTS};
use ndarray::{Array, Array1, Array2, ArrayBase, Data, Dimension, Ix2, Ix3, IxDyn};
use ndarray_npy::ReadableElement;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

const RTOL_F32: f64 = 1e-5;
const RTOL_F64: f64 = 1e-12;
const WEIGHT: &str = "bfactor_module.bfactor.weight";
const BIAS: &str = "bfactor_module.bfactor.bias";
const TOKEN_S: usize = 16;
const NUM_BINS: usize = 10;
const NOTEBOOK_C_S: usize = 8;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    BOLTZ2_WEIGHTS.path(name)
}

fn expected<T: ReadableElement, D: Dimension>(name: &str) -> Array<T, D> {
    BOLTZ2_WEIGHTS.npz("expected.npz").get(name)
}

/// A unique path in the system's temp dir; removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        TempPath(std::env::temp_dir().join(format!(
            "bfactor_weights_test_{}_{n}_{name}",
            std::process::id()
        )))
    }

    fn with_bytes(name: &str, bytes: &[u8]) -> Self {
        let p = Self::new(name);
        std::fs::write(&p.0, bytes).unwrap();
        p
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

/// A small random Boltz-2 head (`token_s = 4`, `num_bins = 3`) for writing files.
fn small_boltz2_head() -> Boltz2Head<f32> {
    Boltz2HeadConfig::new()
        .with_token_s(4)
        .with_num_bins(3)
        .init::<f32>(&mut StdRng::seed_from_u64(0))
        .unwrap()
}

fn s32() -> Array<f32, Ix3> {
    expected("s")
}

fn bits<F: Float, S: Data<Elem = F>, D: Dimension>(a: &ArrayBase<S, D>) -> Vec<u64> {
    a.iter().map(|v| v.to_f64_exact().to_bits()).collect()
}

#[track_caller]
fn check_boltz2_file(path: &Path, expected_name: &str) {
    let want: Array<f64, Ix3> = expected(expected_name);
    let what = path.file_name().unwrap().to_string_lossy().into_owned();
    let h64 = Boltz2Head::<f64>::load(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        (h64.config().token_s, h64.config().num_bins),
        (TOKEN_S, NUM_BINS)
    );
    let out = h64.logits(&s32().mapv(f64::from)).unwrap();
    assert_close(&format!("{what} as f64"), &out, &want, RTOL_F64);
    let h32 = Boltz2Head::<f32>::load(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    let out = h32.logits(&s32()).unwrap();
    assert_close(&format!("{what} as f32"), &out, &want, RTOL_F32);
}

// ---------------------------------------------------------------------------
// files written by Python
// ---------------------------------------------------------------------------

#[test]
fn safetensors_from_python_all_dtypes() {
    for tag in ["f32", "f64", "f16", "bf16"] {
        check_boltz2_file(
            &fixture(&format!("boltz2_{tag}.safetensors")),
            &format!("logits_{tag}"),
        );
    }
}

#[test]
fn safetensors_from_python_extra_tensors_are_ignored_but_listed() {
    let t = NamedTensors::read(fixture("boltz2_f32.safetensors")).unwrap();
    assert_eq!(t.names(), vec![BIAS, WEIGHT, "step", "trunk.other.weight"]);
    assert!(t.get("step").is_none(), "int64 is not held as floats");
    assert_eq!(t.get(WEIGHT).unwrap().shape(), &[NUM_BINS, TOKEN_S]);
    let other: Array2<f32> = t.array("trunk.other.weight", &[3, 4]).unwrap();
    assert_eq!(other.dim(), (3, 4));
    // The exact stored values (float32 widened exactly).
    let w: Array2<f32> = weights::read_npy(fixture("boltz2_weight.npy")).unwrap();
    assert_eq!(t.get(WEIGHT).unwrap(), &w.mapv(f64::from).into_dyn());
}

#[test]
fn half_precision_values_widen_exactly() {
    // f16 / bf16 values are exactly representable in f32: loading as f32 loses
    // nothing, so the f32 and f64 heads hold the same numbers.
    for tag in ["f16", "bf16"] {
        let path = fixture(&format!("boltz2_{tag}.safetensors"));
        let h32 = Boltz2Head::<f32>::load(&path).unwrap();
        let h64 = Boltz2Head::<f64>::load(&path).unwrap();
        assert_eq!(h32.weight().mapv(f64::from), *h64.weight(), "{tag}");
        assert_eq!(h32.bias().mapv(f64::from), *h64.bias(), "{tag}");
    }
}

#[test]
fn npz_from_numpy_savez() {
    check_boltz2_file(&fixture("boltz2.npz"), "logits_f32");
    let t = NamedTensors::read(fixture("boltz2.npz")).unwrap();
    assert_eq!(t.names(), vec![BIAS, WEIGHT, "step", "trunk.other.weight"]);
    assert!(t.get("step").is_none());
}

#[test]
fn npz_from_numpy_savez_compressed() {
    // The module docs promise `.npz` "as written by `np.savez`, compressed or not".
    check_boltz2_file(&fixture("boltz2_compressed.npz"), "logits_f32");
}

#[test]
fn npy_weight_and_bias_pair() {
    let w: Array2<f32> = weights::read_npy(fixture("boltz2_weight.npy")).unwrap();
    let b: Array1<f32> = weights::read_npy(fixture("boltz2_bias.npy")).unwrap();
    let head = Boltz2Head::from_weights(w, b).unwrap();
    let want: Array<f64, Ix3> = expected("logits_f32");
    assert_close("npy f32", &head.logits(&s32()).unwrap(), &want, RTOL_F32);

    let w: Array<f64, IxDyn> = weights::read_npy(fixture("boltz2_weight.npy")).unwrap();
    let b: Array<f64, IxDyn> = weights::read_npy(fixture("boltz2_bias.npy")).unwrap();
    let head = Boltz2Head::from_weights(
        w.into_dimensionality().unwrap(),
        b.into_dimensionality().unwrap(),
    )
    .unwrap();
    let out = head.logits(&s32().mapv(f64::from)).unwrap();
    assert_close("npy f64", &out, &want, RTOL_F64);
}

#[test]
fn notebook_head_files() {
    let s: Array2<f32> = expected("notebook_s");
    let want_logits: Array2<f64> = expected("notebook_logits");
    let want_b: Array1<f64> = expected("notebook_bfactor");
    let config = BFactorHeadConfig::new(NOTEBOOK_C_S);
    for name in ["notebook_head.safetensors", "notebook_head.npz"] {
        let h64 = BFactorHead::<f64>::load(fixture(name), config.clone()).unwrap();
        let out = h64.forward(&s.mapv(f64::from)).unwrap();
        assert_close(name, &out.logits, &want_logits, RTOL_F64);
        assert_close(name, &out.bfactor, &want_b, RTOL_F64);
        let h32 = BFactorHead::<f32>::load(fixture(name), config.clone()).unwrap();
        let out = h32.forward(&s).unwrap();
        assert_close(name, &out.logits, &want_logits, RTOL_F32);
        assert_close(name, &out.bfactor, &want_b, RTOL_F32);
    }
}

// ---------------------------------------------------------------------------
// round trips
// ---------------------------------------------------------------------------

fn boltz2_round_trip<F: Float>(seed: u64) {
    let head = Boltz2HeadConfig::new()
        .with_token_s(TOKEN_S)
        .with_num_bins(NUM_BINS)
        .init::<F>(&mut StdRng::seed_from_u64(seed))
        .unwrap();
    for ext in ["safetensors", "npz", "SAFETENSORS"] {
        let path = TempPath::new(&format!("boltz2_{}.{ext}", F::NAME));
        head.save(&path).unwrap();
        let back = Boltz2Head::<F>::load(&path).unwrap();
        assert_eq!(
            bits(back.weight()),
            bits(head.weight()),
            "{ext} {}",
            F::NAME
        );
        assert_eq!(bits(back.bias()), bits(head.bias()), "{ext} {}", F::NAME);
        assert_eq!(back, head);
        // The written file holds the head's own dtype and Boltz-2's names.
        let t = NamedTensors::read(&path).unwrap();
        assert_eq!(t.names(), vec![BIAS, WEIGHT]);
    }
}

fn notebook_round_trip<F: Float>(seed: u64) {
    let config = BFactorHeadConfig::new(NOTEBOOK_C_S).with_num_bins(12);
    let head = config.init::<F>(&mut StdRng::seed_from_u64(seed)).unwrap();
    for ext in ["safetensors", "npz"] {
        let path = TempPath::new(&format!("notebook_{}.{ext}", F::NAME));
        head.save(&path).unwrap();
        let back = BFactorHead::<F>::load(&path, config.clone()).unwrap();
        assert_eq!(bits(back.w1()), bits(head.w1()), "{ext} {}", F::NAME);
        assert_eq!(bits(back.w2()), bits(head.w2()), "{ext} {}", F::NAME);
        assert_eq!(back, head);
    }
}

#[test]
fn round_trips_are_bitwise() {
    boltz2_round_trip::<f32>(1);
    boltz2_round_trip::<f64>(2);
    notebook_round_trip::<f32>(3);
    notebook_round_trip::<f64>(4);
}

#[test]
fn f64_file_written_as_f32_rounds_to_nearest() {
    let head = Boltz2HeadConfig::new()
        .with_token_s(TOKEN_S)
        .with_num_bins(NUM_BINS)
        .init::<f64>(&mut StdRng::seed_from_u64(9))
        .unwrap();
    let t = head.to_tensors(Boltz2Head::<f64>::DEFAULT_PREFIX);
    let bytes = t.to_safetensors_bytes(WeightDtype::F32).unwrap();
    let back = Boltz2Head::<f64>::from_tensors(
        &NamedTensors::from_safetensors_bytes(&bytes).unwrap(),
        Boltz2Head::<f64>::DEFAULT_PREFIX,
    )
    .unwrap();
    assert_eq!(
        *back.weight(),
        head.weight().mapv(|v| v as f32 as f64),
        "rounded once to f32"
    );
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

#[test]
fn missing_tensor_lists_the_available_names() {
    let t = NamedTensors::read(fixture("boltz2_f32.safetensors")).unwrap();
    let err = Boltz2Head::<f32>::from_tensors(&t, "model.head").unwrap_err();
    match &err {
        Error::MissingTensor { name, available } => {
            assert_eq!(name, "model.head.weight");
            assert_eq!(available, &vec![BIAS, WEIGHT, "step", "trunk.other.weight"]);
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }
    assert_msg(&err, &["model.head.weight", WEIGHT, BIAS, "step"]);

    // The notebook head's names are not in a Boltz-2 file.
    let err = BFactorHead::<f32>::load(
        fixture("boltz2_f32.safetensors"),
        BFactorHeadConfig::new(TOKEN_S),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::MissingTensor { name, .. } if name == "bfactor_head.w1"),
        "{err:?}"
    );
    assert_msg(&err, &["bfactor_head.w1", WEIGHT]);

    // Only the bias missing.
    let mut t = NamedTensors::new();
    t.insert(WEIGHT, &Array2::<f32>::zeros((NUM_BINS, TOKEN_S)));
    let err = Boltz2Head::<f64>::from_tensors(&t, "bfactor_module.bfactor").unwrap_err();
    assert!(
        matches!(&err, Error::MissingTensor { name, available }
            if name == BIAS && available == &vec![WEIGHT.to_string()]),
        "{err:?}"
    );
}

#[test]
fn wrong_shape() {
    let prefix = Boltz2Head::<f32>::DEFAULT_PREFIX;
    let mut t = NamedTensors::new();
    t.insert(WEIGHT, &Array2::<f32>::zeros((NUM_BINS, TOKEN_S)));
    t.insert(BIAS, &Array1::<f32>::zeros(NUM_BINS - 1));
    let err = Boltz2Head::<f32>::from_tensors(&t, prefix).unwrap_err();
    assert_shape_mismatch(&err, BIAS, &[NUM_BINS], &[NUM_BINS - 1]);
    assert_msg(&err, &[BIAS, "[9]", "[10]"]);

    // A weight of rank 3: a rank error naming the expected layout.
    let mut t = NamedTensors::new();
    t.insert(WEIGHT, &Array::<f32, _>::zeros((2, NUM_BINS, TOKEN_S)));
    t.insert(BIAS, &Array1::<f32>::zeros(NUM_BINS));
    let err = Boltz2Head::<f32>::from_tensors(&t, prefix).unwrap_err();
    assert!(
        matches!(&err, Error::Rank { what, got: 3, shape, .. }
            if what == WEIGHT && shape == &vec![2, NUM_BINS, TOKEN_S]),
        "{err:?}"
    );
    assert_msg(&err, &[WEIGHT, "num_bins, token_s"]);

    // The notebook head with a config that does not fit the file.
    let err = BFactorHead::<f64>::load(
        fixture("notebook_head.safetensors"),
        BFactorHeadConfig::new(NOTEBOOK_C_S + 1),
    )
    .unwrap_err();
    assert_shape_mismatch(&err, "bfactor_head.w1", &[9, 9], &[8, 8]);
    let err = BFactorHead::<f64>::load(
        fixture("notebook_head.npz"),
        BFactorHeadConfig::new(NOTEBOOK_C_S).with_num_bins(32),
    )
    .unwrap_err();
    assert_shape_mismatch(&err, "bfactor_head.w2", &[8, 32], &[8, 64]);

    // read_npy into the wrong rank.
    let err = weights::read_npy::<f32, Ix2>(fixture("boltz2_bias.npy")).unwrap_err();
    assert!(
        matches!(&err, Error::Rank { got: 1, shape, .. } if shape == &vec![NUM_BINS]),
        "{err:?}"
    );
}

#[test]
fn unsupported_dtype() {
    for file in ["boltz2_f32.safetensors", "boltz2.npz"] {
        let t = NamedTensors::read(fixture(file)).unwrap();
        let err = t.array::<f32, IxDyn>("step", &[1]).unwrap_err();
        match &err {
            Error::UnsupportedDtype { name, dtype, .. } => {
                assert_eq!(name, "step");
                assert!(dtype.to_lowercase().contains("i"), "{file}: {dtype}");
            }
            other => panic!("{file}: expected UnsupportedDtype, got {other:?}"),
        }
        assert_msg(&err, &["step", "F32"]);
    }
    let t = NamedTensors::read(fixture("boltz2_f32.safetensors")).unwrap();
    let err = t.array::<f32, IxDyn>("step", &[1]).unwrap_err();
    assert_msg(&err, &["I64"]);

    let err = weights::read_npy::<f64, IxDyn>(fixture("ints.npy")).unwrap_err();
    match &err {
        Error::UnsupportedDtype {
            name,
            dtype,
            supported,
        } => {
            assert!(name.ends_with("ints.npy"), "{name}");
            assert!(dtype.contains("<i8"), "{dtype}");
            assert!(supported.contains("float32"), "{supported}");
        }
        other => panic!("expected UnsupportedDtype, got {other:?}"),
    }
}

#[test]
fn truncated_files_are_format_errors() {
    for file in ["boltz2_f32.safetensors", "boltz2.npz"] {
        let bytes = std::fs::read(fixture(file)).unwrap();
        let ext = file.rsplit('.').next().unwrap();
        let half = TempPath::with_bytes(&format!("half.{ext}"), &bytes[..bytes.len() / 2]);
        let err = NamedTensors::read(&half).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{file}: {err:?}");
        assert_msg(&err, &["cannot parse", &half.0.display().to_string()]);
        let err = Boltz2Head::<f32>::load(&half).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{file}: {err:?}");
        // An empty file.
        let empty = TempPath::with_bytes(&format!("empty.{ext}"), &[]);
        let err = NamedTensors::read(&empty).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{file} empty: {err:?}");
    }
}

#[test]
fn every_truncation_of_a_safetensors_buffer_is_an_error() {
    let bytes = std::fs::read(fixture("boltz2_f32.safetensors")).unwrap();
    for cut in 0..bytes.len() {
        match NamedTensors::from_safetensors_bytes(&bytes[..cut]) {
            Err(Error::Format { path, .. }) => assert_eq!(path, "<bytes>"),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert!(NamedTensors::from_safetensors_bytes(&bytes).is_ok());
}

#[test]
fn truncations_of_an_npz_file_are_errors() {
    let bytes = std::fs::read(fixture("boltz2.npz")).unwrap();
    for cut in (0..bytes.len()).step_by(97) {
        let p = TempPath::with_bytes("cut.npz", &bytes[..cut]);
        match NamedTensors::read(&p) {
            Err(Error::Format { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn corrupt_files_are_format_errors() {
    let mut rng = StdRng::seed_from_u64(11);
    for (ext, len) in [
        ("safetensors", 1000),
        ("safetensors", 3),
        ("npz", 1000),
        ("npz", 30),
    ] {
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        let p = TempPath::with_bytes(&format!("corrupt.{ext}"), &bytes);
        let err = NamedTensors::read(&p).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{ext} {len}: {err:?}");
        let err = Boltz2Head::<f64>::load(&p).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{ext} {len}: {err:?}");
    }
    // A header that claims more data than the file has.
    let header = br#"{"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0u8; 16]);
    let err = NamedTensors::from_safetensors_bytes(&bytes).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    // A random .npy.
    let mut bytes = vec![0u8; 200];
    rng.fill_bytes(&mut bytes);
    let p = TempPath::with_bytes("corrupt.npy", &bytes);
    let err = weights::read_npy::<f32, IxDyn>(&p).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
}

#[test]
fn non_finite_weight() {
    let err = Boltz2Head::<f32>::load(fixture("boltz2_nan.safetensors")).unwrap_err();
    assert_non_finite(&err, WEIGHT, &[2, 5], f64::NAN);
    assert_msg(&err, &[WEIGHT, "NaN", "[2, 5]"]);
    // Reading the file itself works: the check is on use.
    let t = NamedTensors::read(fixture("boltz2_nan.safetensors")).unwrap();
    assert!(t.get(WEIGHT).unwrap()[[2, 5]].is_nan());

    // An infinity written by this crate.
    let mut t = NamedTensors::new();
    let mut w = Array2::<f64>::zeros((NUM_BINS, TOKEN_S));
    w[[0, 1]] = f64::NEG_INFINITY;
    t.insert(WEIGHT, &w);
    t.insert(BIAS, &Array1::<f64>::zeros(NUM_BINS));
    let p = TempPath::new("inf.npz");
    t.write(&p, WeightDtype::F64).unwrap();
    let err = Boltz2Head::<f64>::load(&p).unwrap_err();
    assert_non_finite(&err, WEIGHT, &[0, 1], f64::NEG_INFINITY);
}

#[test]
fn unknown_extension() {
    for name in [
        "weights.pt",
        "weights",
        "weights.npy",
        "weights.safetensors.bak",
    ] {
        let p = TempPath::with_bytes(name, b"irrelevant");
        let err = NamedTensors::read(&p).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{name}: {err:?}");
        assert_msg(
            &err,
            &["unknown weight file extension", ".safetensors", ".npz"],
        );
        let err = Boltz2Head::<f32>::load(&p).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{name}: {err:?}");
    }
    let head = small_boltz2_head();
    let p = TempPath::new("out.pt");
    let err = head.save(&p).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert!(!p.0.exists(), "nothing written for an unknown extension");
}

#[test]
fn nonexistent_path_is_io_error() {
    let dir = TempPath::new("no_such_dir");
    for name in ["w.safetensors", "w.npz"] {
        let path = dir.0.join(name);
        let err = NamedTensors::read(&path).unwrap_err();
        match &err {
            Error::Io { path: p, .. } => assert_eq!(p, &path.display().to_string()),
            other => panic!("{name}: expected Io, got {other:?}"),
        }
        assert_msg(&err, &["cannot access", name]);
        let err = Boltz2Head::<f32>::load(&path).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        let err = BFactorHead::<f32>::load(&path, BFactorHeadConfig::new(4)).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        // Writing into a directory that does not exist.
        let err = small_boltz2_head().save(&path).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
    }
    let err = weights::read_npy::<f32, IxDyn>(dir.0.join("w.npy")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}
