//! Instruction-set levels: which vector instructions the crate's kernels use.
//!
//! Every hand-dispatched kernel family (the matrix products' micro-kernels, the
//! fused head pass, the loss moments and the input screen) is compiled once per
//! [`Level`] and picks its version through this module, so a program runs one
//! level throughout. The level is the best one the CPU supports, detected once at
//! the first call.
//!
//! **Forcing a level.** The environment variable `BFACTOR_KERNEL` (read once, at
//! the first kernel call) set to `avx512`, `avx2` or `portable` asks for that
//! level instead, to test or compare the kernel paths on one machine. A level the
//! CPU lacks is clamped to the best one it has (`BFACTOR_KERNEL=avx512` on an
//! AVX2 machine runs AVX2); an unrecognised value is ignored with a one-line
//! warning on stderr. [`level`] reports the level in use.
//!
//! Results of the heads and losses are the same bits at every level: each kernel
//! fixes its arithmetic order, and the levels differ only in vector width.
//!
//! ```
//! use bfactor::cpu::{self, Level};
//!
//! let level = cpu::level();
//! assert!(level <= Level::detected());
//! println!("kernels: {}", level.name());
//! ```

use std::sync::OnceLock;

/// The environment variable that forces a [`Level`] (see the [module docs](self)).
pub const KERNEL_ENV: &str = "BFACTOR_KERNEL";

/// A set of vector instructions the kernels are compiled for, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Plain Rust, whatever the compile target enables (every CPU).
    Portable,
    /// x86-64 AVX2 with FMA.
    Avx2,
    /// x86-64 AVX-512 (F, VL, DQ, BW) with AVX2 and FMA.
    Avx512,
}

impl Level {
    /// The level's name as `BFACTOR_KERNEL` spells it: `"avx512"`, `"avx2"` or
    /// `"portable"`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Avx512 => "avx512",
            Level::Avx2 => "avx2",
            Level::Portable => "portable",
        }
    }

    /// The level named `name` (as [`Level::name`] spells it, any case).
    pub fn from_name(name: &str) -> Option<Level> {
        [Level::Avx512, Level::Avx2, Level::Portable]
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The best level this CPU supports (detected once).
    pub fn detected() -> Level {
        static DETECTED: OnceLock<Level> = OnceLock::new();
        *DETECTED.get_or_init(detect)
    }

    /// The levels this CPU can run, lowest first.
    pub fn available() -> Vec<Level> {
        [Level::Portable, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|&l| l <= Level::detected())
            .collect()
    }
}

/// Checks exactly the features `with_level!` enables for each level.
fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        if avx2
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512bw")
        {
            return Level::Avx512;
        }
        if avx2 {
            return Level::Avx2;
        }
    }
    Level::Portable
}

/// The level the kernels use: [`Level::detected`], lowered by `BFACTOR_KERNEL`
/// (see the [module docs](self)); decided once.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let best = Level::detected();
        match std::env::var(KERNEL_ENV) {
            Ok(v) if v.trim().is_empty() => best,
            Ok(v) => match Level::from_name(&v) {
                Some(asked) => asked.min(best),
                None => {
                    eprintln!(
                        "bfactor: ignoring {KERNEL_ENV}={v:?} (expected avx512, avx2 or \
                         portable); using {}",
                        best.name()
                    );
                    best
                }
            },
            Err(_) => best,
        }
    })
}

/// A kernel call compiled once per [`Level`]: `run` must be `#[inline(always)]`
/// so that [`dispatch`] compiles its body with each level's instructions.
pub(crate) trait Kernel {
    /// What the kernel returns.
    type Output;
    /// The kernel's body (`#[inline(always)]`).
    fn run(self) -> Self::Output;
}

/// Runs `k` compiled for [`level`].
#[inline]
pub(crate) fn dispatch<K: Kernel>(k: K) -> K::Output {
    dispatch_at(level(), k)
}

/// Runs `k` compiled for `level`, which must not exceed [`Level::detected`]
/// (it is clamped to it).
pub(crate) fn dispatch_at<K: Kernel>(level: Level, k: K) -> K::Output {
    match level.min(Level::detected()) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has every feature `run_avx512` enables (`detect`).
        Level::Avx512 => unsafe { run_avx512(k) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has every feature `run_avx2` enables (`detect`).
        Level::Avx2 => unsafe { run_avx2(k) },
        _ => k.run(),
    }
}

/// Puts `#[target_feature]` with the features of one [`Level`] on each item:
/// `with_level!(avx512, unsafe fn f() {})`. The feature lists live only here;
/// [`detect`] checks exactly them.
macro_rules! with_level {
    (avx512, $($item:item)*) => {
        $(
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
            $item
        )*
    };
    (avx2, $($item:item)*) => {
        $(
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            $item
        )*
    };
}
pub(crate) use with_level;

with_level!(
    avx512,
    unsafe fn run_avx512<K: Kernel>(k: K) -> K::Output {
        k.run()
    }
);
with_level!(
    avx2,
    unsafe fn run_avx2<K: Kernel>(k: K) -> K::Output {
        k.run()
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_levels_are_ordered() {
        for l in [Level::Avx512, Level::Avx2, Level::Portable] {
            assert_eq!(Level::from_name(l.name()), Some(l));
        }
        assert_eq!(Level::from_name(" AVX2 "), Some(Level::Avx2));
        assert_eq!(Level::from_name("sse"), None);
        assert!(Level::Portable < Level::Avx2 && Level::Avx2 < Level::Avx512);
        assert!(level() <= Level::detected());
        let avail = Level::available();
        assert_eq!(avail[0], Level::Portable);
        assert_eq!(*avail.last().unwrap(), Level::detected());
    }

    #[test]
    fn a_forced_level_is_used_or_clamped() {
        // Meaningful under `BFACTOR_KERNEL=...` (`.ci/kernels.sh` sets it).
        let forced = std::env::var(KERNEL_ENV).ok();
        match forced.as_deref().and_then(Level::from_name) {
            Some(asked) => assert_eq!(level(), asked.min(Level::detected())),
            None => assert_eq!(level(), Level::detected()),
        }
    }

    struct Sum<'a>(&'a [f64]);
    impl Kernel for Sum<'_> {
        type Output = f64;
        #[inline(always)]
        fn run(self) -> f64 {
            self.0.iter().sum()
        }
    }

    #[test]
    fn every_available_level_runs() {
        let x: Vec<f64> = (0..100).map(f64::from).collect();
        for l in Level::available() {
            assert_eq!(dispatch_at(l, Sum(&x)), 4950.0, "{l:?}");
        }
        assert_eq!(dispatch(Sum(&x)), 4950.0);
    }
}
