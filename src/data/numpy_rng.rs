//! NumPy's legacy global random stream, bit for bit: `np.random.seed(n)` followed
//! by `np.random.randn(...)` or `np.random.rand(...)`.
//!
//! The reference notebook draws its inputs and weights this way, so replaying its
//! numbers in Rust needs the same stream: the MT19937 generator (from the
//! `rand_mt` crate) seeded with Matsumoto and Nishimura's `init_genrand`, as NumPy's
//! `RandomState` does for an integer seed; doubles built from two 32-bit words
//! (27 + 26 bits, so 53 bits of mantissa); and normals from the polar Box–Muller
//! method, which yields two values per accepted pair and caches the second for the
//! next call.
//!
//! ```
//! use bfactor::numpy_rng::NumpyRandom;
//!
//! // np.random.seed(42); np.random.randn(2, 3)
//! let mut rng = NumpyRandom::seed(42);
//! let x = rng.randn((2, 3));
//! assert_eq!(x.shape(), &[2, 3]);
//! assert_eq!(x[[0, 0]], 0.4967141530112327);
//! ```
//!
//! `NumpyRandom` also implements [`rand::RngCore`] (the raw MT19937 words), so it
//! can drive any `rand` distribution; only [`NumpyRandom::randn`],
//! [`NumpyRandom::standard_normal`], [`NumpyRandom::rand`] and
//! [`NumpyRandom::random_sample`] promise NumPy's values.

use ndarray::{Array, IntoDimension};
use rand_mt::Mt;

/// NumPy's legacy `RandomState` stream for `randn` and `rand`.
#[derive(Clone, Debug)]
pub struct NumpyRandom {
    mt: Mt,
    cached_gauss: Option<f64>,
}

impl NumpyRandom {
    /// The state after `np.random.seed(seed)`.
    pub fn seed(seed: u32) -> Self {
        Self {
            mt: Mt::new(seed),
            cached_gauss: None,
        }
    }

    /// One uniform double in `[0, 1)`, as `np.random.random_sample()`.
    pub fn random_sample(&mut self) -> f64 {
        let a = self.mt.next_u32() >> 5;
        let b = self.mt.next_u32() >> 6;
        (a as f64 * 67_108_864.0 + b as f64) / 9_007_199_254_740_992.0
    }

    /// One standard normal value, as `np.random.standard_normal()`.
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(g) = self.cached_gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.cached_gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// An array of standard normals in C order, as `np.random.randn(*shape)`.
    pub fn randn<Sh: IntoDimension>(&mut self, shape: Sh) -> Array<f64, Sh::Dim> {
        Array::from_shape_simple_fn(shape.into_dimension(), || self.standard_normal())
    }

    /// An array of uniforms in `[0, 1)` in C order, as `np.random.rand(*shape)`.
    pub fn rand<Sh: IntoDimension>(&mut self, shape: Sh) -> Array<f64, Sh::Dim> {
        Array::from_shape_simple_fn(shape.into_dimension(), || self.random_sample())
    }
}

impl rand::RngCore for NumpyRandom {
    fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.mt.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.mt.fill_bytes(dest)
    }
}
