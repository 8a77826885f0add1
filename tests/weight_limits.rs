//! Hostile weight files and impossible configs: every one is a typed
//! [`bfactor::Error`], with nothing allocated by what a header or a config merely
//! claims. The malformed corpus in `tests/data/malformed/weights/` comes from
//! `scripts/gen_malformed_weights.py`; also the head's config stored in the
//! files it saves, and checked on load.
#![cfg(all(feature = "safetensors", feature = "npy"))]

use std::path::PathBuf;

use bfactor::boltz2::{Boltz2Head, Boltz2HeadConfig};
use bfactor::weights::{self, NamedTensors, WeightDtype};
use bfactor::{BFactorHead, BFactorHeadConfig, Error};
use ndarray::{Array1, Array2, Ix1, Ix2, IxDyn};
use rand::{rngs::StdRng, SeedableRng};

fn malformed(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/malformed/weights")
        .join(name)
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("bfactor_limits_{}_{name}", std::process::id()))
}

/// Every file of the corpus, through every reader that takes its extension.
#[test]
fn every_malformed_weight_file_is_an_error() {
    let dir = malformed("");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".npy") {
            let err = weights::read_npy::<f32, IxDyn>(&path).unwrap_err();
            assert!(matches!(err, Error::Format { .. }), "{name}: {err:?}");
            continue;
        }
        let b2 = Boltz2Head::<f32>::load(&path);
        let nb = BFactorHead::<f64>::load(&path, BFactorHeadConfig::new(2).with_num_bins(3));
        let saved = BFactorHead::<f32>::load_saved(&path);
        assert!(
            b2.is_err() && nb.is_err() && saved.is_err(),
            "{name}: {b2:?} {nb:?} {saved:?}"
        );
    }
}

#[test]
fn headers_claiming_more_than_the_file_holds() {
    // A 192-byte .npy claiming 2^40 float64s (8 TiB): aborted the process before.
    let err =
        weights::read_npy::<f64, Ix1>(malformed("npy_claims_2pow40_elements.npy")).unwrap_err();
    let Error::Format { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("8796093022208 bytes") && message.contains("holds 64"),
        "{message}"
    );
    // The same file as an .npz member.
    let err = NamedTensors::read(malformed("npz_member_claims_2pow40_elements.npz")).unwrap_err();
    assert!(
        matches!(&err, Error::Format { message, .. }
            if message.contains("bfactor_module.bfactor.weight.npy") && message.contains("8796093022208")),
        "{err:?}"
    );
    // A zip entry claiming 4 GiB: refused by the npz cap before reading.
    let err = NamedTensors::read(malformed("npz_entry_claims_4gib.npz")).unwrap_err();
    assert!(
        matches!(&err, Error::Format { message, .. } if message.contains("MAX_NPZ_BYTES")),
        "{err:?}"
    );
    for name in [
        "npy_header_len_4gib.npy",
        "npy_deeply_nested_header.npy",
        "npy_shape_overflows.npy",
    ] {
        let err = weights::read_npy::<f32, IxDyn>(malformed(name)).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{name}: {err:?}");
    }
    for name in [
        "safetensors_header_len_2pow62.safetensors",
        "safetensors_offsets_beyond_file.safetensors",
        "safetensors_shape_overflows.safetensors",
    ] {
        let err = NamedTensors::read(malformed(name)).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{name}: {err:?}");
    }
}

#[test]
fn impossible_config_sizes_are_errors() {
    let mut rng = StdRng::seed_from_u64(0);
    for config in [
        BFactorHeadConfig::new(8).with_num_bins(1 << 40),
        BFactorHeadConfig::new(usize::MAX),
        BFactorHeadConfig::new(1 << 32),
        BFactorHeadConfig::new(1 << 15).with_num_bins(1 << 15),
    ] {
        let err = config.init::<f32>(&mut rng).unwrap_err();
        assert!(
            matches!(&err, Error::Config { expected, .. } if expected.contains("MAX_HEAD_PARAMETERS")),
            "{config:?}: {err:?}"
        );
        assert!(config.validate().is_err());
    }
    for config in [
        Boltz2HeadConfig::new().with_num_bins(1 << 40),
        Boltz2HeadConfig::new().with_token_s(usize::MAX),
        Boltz2HeadConfig::new().with_num_bins(usize::MAX),
    ] {
        let err = config.init::<f32>(&mut rng).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{config:?}: {err:?}");
    }
    // The cap itself is allowed (not allocated here).
    assert!(BFactorHeadConfig::new(1 << 14)
        .with_num_bins(1 << 14)
        .validate()
        .is_ok());
}

#[test]
fn constants_the_float_type_cannot_hold_are_errors() {
    let mut rng = StdRng::seed_from_u64(0);
    let big = BFactorHeadConfig::new(4).with_max_bfactor(1e39);
    let err = big.init::<f32>(&mut rng).unwrap_err();
    assert!(
        matches!(&err, Error::Config { field, expected, .. } if field == "max_bfactor" && expected.contains("f32")),
        "{err:?}"
    );
    assert!(big.validate_for::<f32>().is_err());
    let h = big.init::<f64>(&mut rng).unwrap();
    assert_eq!(h.bin_centers()[63], 1e39);
    let tiny = BFactorHeadConfig::new(4).with_eps(1e-50);
    let err = tiny.init::<f32>(&mut rng).unwrap_err();
    assert!(
        matches!(&err, Error::Config { field, .. } if field == "eps"),
        "{err:?}"
    );
    // from_weights checks the same.
    let err = BFactorHead::<f32>::from_weights(
        tiny.clone(),
        Array2::zeros((4, 4)),
        Array2::zeros((4, 64)),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    // f64 takes both; a constant row stays finite with eps = 1e-50.
    let h = tiny.init::<f64>(&mut rng).unwrap();
    let out = h.forward(&Array2::<f64>::ones((3, 4))).unwrap();
    assert!(out.bfactor.iter().all(|b| b.is_finite()));
    // Just inside f32's range.
    assert!(BFactorHeadConfig::new(4)
        .with_max_bfactor(3e38)
        .with_eps(2e-38)
        .validate_for::<f32>()
        .is_ok());
}

#[test]
fn array_of_the_wrong_rank_is_an_error() {
    let mut t = NamedTensors::new();
    t.insert("w", &Array1::<f32>::zeros(3));
    // Asked as 2-D with a 1-D expected shape: panicked before.
    let err = t.array::<f32, Ix2>("w", &[3]).unwrap_err();
    assert!(
        matches!(&err, Error::Rank { got: 2, expected, .. } if expected == "1"),
        "{err:?}"
    );
    assert!(t.array::<f32, Ix1>("w", &[3]).is_ok());
    assert!(t.array::<f32, IxDyn>("w", &[3]).is_ok());
}

fn notebook_head(max_bfactor: f64) -> BFactorHead<f32> {
    BFactorHeadConfig::new(6)
        .with_num_bins(5)
        .with_max_bfactor(max_bfactor)
        .with_eps(1e-6)
        .init(&mut StdRng::seed_from_u64(3))
        .unwrap()
}

#[test]
fn saved_files_carry_the_heads_config() {
    let head = notebook_head(300.0);
    let s = Array2::from_shape_fn((7, 6), |(i, j)| ((i * 5 + j) % 4) as f32);
    for ext in ["safetensors", "npz"] {
        let path = temp(&format!("saved300.{ext}"));
        head.save(&path).unwrap();
        // The stored config comes back exactly.
        let back = BFactorHead::<f32>::load_saved(&path).unwrap();
        assert_eq!(back.config(), head.config(), "{ext}");
        assert_eq!(back.forward(&s).unwrap(), head.forward(&s).unwrap());
        let t = NamedTensors::read(&path).unwrap();
        assert_eq!(t.metadata()["bfactor_head.max_bfactor"], "300.0");
        assert_eq!(t.metadata()["bfactor_head.dtype"], "f32");
        assert_eq!(
            t.names(),
            vec!["bfactor_head.w1", "bfactor_head.w2"],
            "{ext}"
        );
        // A config that disagrees with the file: an error, not a head predicting a
        // third of the values.
        let err = BFactorHead::<f32>::load(&path, BFactorHeadConfig::new(6).with_num_bins(5))
            .unwrap_err();
        match &err {
            Error::SavedConfigMismatch {
                path: p,
                field,
                saved,
                given,
            } => {
                assert_eq!(p, &path.display().to_string());
                assert_eq!(field, "bfactor_head.max_bfactor");
                assert_eq!((saved.as_str(), given.as_str()), ("300.0", "100.0"));
            }
            other => panic!("{ext}: {other:?}"),
        }
        // The matching config loads.
        assert!(BFactorHead::<f32>::load(&path, head.config().clone()).is_ok());
        // A notebook file is not a Boltz-2 head.
        std::fs::remove_file(&path).ok();
    }
    // Boltz-2: sizes stored and checked against the tensors.
    let b2 = Boltz2HeadConfig::new()
        .with_token_s(4)
        .with_num_bins(5)
        .init::<f64>(&mut StdRng::seed_from_u64(1))
        .unwrap();
    let mut t = b2.to_tensors(Boltz2Head::<f64>::DEFAULT_PREFIX);
    assert_eq!(t.metadata()["bfactor_module.bfactor.head"], "Boltz2Head");
    let bytes = t.to_safetensors_bytes(WeightDtype::F64).unwrap();
    let back = NamedTensors::from_safetensors_bytes(&bytes).unwrap();
    assert_eq!(back.metadata(), t.metadata());
    assert_eq!(
        Boltz2Head::<f64>::from_tensors(&back, "bfactor_module.bfactor").unwrap(),
        b2
    );
    t.set_metadata("bfactor_module.bfactor.token_s", "5");
    let err = Boltz2Head::<f64>::from_tensors(&t, "bfactor_module.bfactor").unwrap_err();
    assert!(
        matches!(&err, Error::SavedConfigMismatch { field, saved, .. }
            if field == "bfactor_module.bfactor.token_s" && saved == "5"),
        "{err:?}"
    );
}

#[test]
fn files_without_metadata_load_as_before() {
    let head = notebook_head(300.0);
    let mut plain = NamedTensors::new();
    plain.insert("bfactor_head.w1", head.w1());
    plain.insert("bfactor_head.w2", head.w2());
    for ext in ["safetensors", "npz"] {
        let path = temp(&format!("plain.{ext}"));
        plain.write(&path, WeightDtype::F32).unwrap();
        assert!(NamedTensors::read(&path).unwrap().metadata().is_empty());
        let back = BFactorHead::<f32>::load(&path, head.config().clone()).unwrap();
        assert_eq!(&back, &head);
        // Another config is taken at its word (there is nothing to check it against).
        let other = BFactorHeadConfig::new(6).with_num_bins(5);
        assert_eq!(
            BFactorHead::<f32>::load(&path, other.clone())
                .unwrap()
                .config(),
            &other
        );
        let err = BFactorHead::<f32>::load_saved(&path).unwrap_err();
        assert!(
            matches!(&err, Error::Format { message, .. } if message.contains("bfactor_head.head")),
            "{err:?}"
        );
        std::fs::remove_file(&path).ok();
    }
}

#[test]
fn bad_metadata_is_an_error() {
    let err = Boltz2Head::<f32>::load(malformed("safetensors_metadata_wrong_head.safetensors"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::SavedConfigMismatch { saved, given, .. }
            if saved == "BFactorHead" && given == "Boltz2Head"),
        "{err:?}"
    );
    let path = malformed("safetensors_metadata_bad_number.safetensors");
    assert!(NamedTensors::read(&path).is_ok());
    let err = BFactorHead::<f32>::load_saved(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Format { path: p, message }
            if message.contains("bfactor_head.max_bfactor") && p.ends_with("bad_number.safetensors")),
        "{err:?}"
    );
    let err = NamedTensors::read(malformed("npz_metadata_not_utf8.npz")).unwrap_err();
    assert!(
        matches!(&err, Error::Format { message, .. } if message.contains("UTF-8")),
        "{err:?}"
    );
}
