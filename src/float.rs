//! The floating-point types the crate computes in: `f32` and `f64`.
//!
//! Every head, kernel and loss is generic over [`Float`]. The trait is sealed: it
//! bundles the `num-traits` and `ndarray` bounds the numerics need, and only the two
//! IEEE types implement it, so that kernels can rely on their exact semantics.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{FromPrimitive, ToPrimitive};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type: implemented for `f32` and `f64` only.
pub trait Float:
    num_traits::Float
    + FromPrimitive
    + ToPrimitive
    + LinalgScalar
    + ScalarOperand
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// Short name of the type (`"f32"` or `"f64"`), used in error messages.
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest for `f32`.
    fn from_f64_lossy(x: f64) -> Self;

    /// Widens to `f64` (exact for both types).
    fn to_f64_exact(self) -> f64;
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    #[inline]
    fn from_f64_lossy(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64_exact(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    #[inline]
    fn from_f64_lossy(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64_exact(self) -> f64 {
        self
    }
}
