//! Per-chain scaling on the edge cases: values constant up to rounding, and
//! chains with too few valid tokens.
#![cfg(feature = "structure")]

use bfactor::structure::{scale, ChainSpan};
use bfactor::Error;
use ndarray::{array, Array1};

fn span(id: &str, tokens: std::ops::Range<usize>) -> ChainSpan {
    ChainSpan {
        id: id.into(),
        tokens,
    }
}

#[test]
fn rounding_noise_is_constant_not_rescaled_to_full_scale() {
    let ulp = |x: f64| f64::from_bits(x.to_bits() + 1);
    // Values equal up to one ulp: rescaled to the reference's spread before.
    let values = array![30.0_f64, ulp(30.0), 30.0, ulp(30.0)];
    let reference = array![10.0, 20.0, 30.0, 40.0];
    let mask = Array1::ones(4);
    let chains = [span("A", 0..4)];
    let err =
        scale::rescale_to_reference_per_chain(&values, &reference, &mask, &chains).unwrap_err();
    assert!(
        matches!(&err, Error::ZeroVariance { series, .. } if series == "values"),
        "{err:?}"
    );
    let err = scale::zscore_per_chain(&values, &mask, &chains).unwrap_err();
    assert!(matches!(err, Error::ZeroVariance { .. }), "{err:?}");
    // The same in f32, with f32's rounding unit.
    let ulp32 = |x: f32| f32::from_bits(x.to_bits() + 1);
    let v32 = array![30.0_f32, ulp32(30.0), 30.0, ulp32(30.0)];
    let err = scale::zscore_per_chain(&v32, &Array1::ones(4), &chains).unwrap_err();
    assert!(matches!(err, Error::ZeroVariance { .. }), "{err:?}");
    // A reference constant up to rounding.
    let err =
        scale::rescale_to_reference_per_chain(&reference, &values, &mask, &chains).unwrap_err();
    assert!(
        matches!(&err, Error::ZeroVariance { series, .. } if series == "reference"),
        "{err:?}"
    );
    // Small but real spreads still rescale: 1e-9 relative is far above rounding.
    let small = array![30.0, 30.0 + 3e-8, 30.0, 30.0 + 3e-8];
    let out = scale::rescale_to_reference_per_chain(&small, &reference, &mask, &chains).unwrap();
    // z = -1, 1, -1, 1: two reference standard deviations apart.
    let std_ref = 125.0_f64.sqrt();
    assert!((out[1] - out[0] - 2.0 * std_ref).abs() < 1e-6, "{out}");
}

#[test]
fn chains_with_fewer_than_two_valid_tokens_are_skipped() {
    let values = array![1.0_f64, 2.0, 3.0, 7.0, 8.0, 9.0];
    let reference = array![10.0, 20.0, 30.0, 40.0, 50.0, 60.0];
    // Chain B has one valid token, chain C none.
    let mask = array![1.0, 1.0, 1.0, 1.0, 0.0, 0.0];
    let chains = [span("A", 0..3), span("B", 3..5), span("C", 5..6)];
    let out = scale::rescale_to_reference_per_chain(&values, &reference, &mask, &chains).unwrap();
    // Chain A rescaled onto its reference...
    for i in 0..3 {
        assert!((out[i] - reference[i]).abs() < 1e-12, "{out}");
    }
    // ...chains B and C copied unchanged.
    assert_eq!(out.slice(ndarray::s![3..]), values.slice(ndarray::s![3..]));
}
