//! The machine's arithmetic ceiling: fused multiply-adds on registers only.
//!
//! One call runs `ITERS` rounds of independent vector FMAs on every thread (24
//! AVX-512 accumulators, or 12 AVX2 ones: enough to cover the FMA latency on both
//! FMA ports), with no loads or stores. No matrix product, whatever its blocking,
//! can run faster than this rate; `scripts/compare_bench.py` turns it into the
//! "peak" column, the forward pass's products timed at this rate.
//!
//! Written in inline assembly because the work is the instruction count itself: a
//! compiler may reorder or spill a loop of intrinsics (24 live accumulators exceed
//! what LLVM keeps in registers), and that would measure the spills.

use std::arch::asm;

/// Rounds per thread per call (2^22 FMA groups: long enough to swamp timer overhead).
pub const ITERS: usize = 1 << 22;

/// The precision of the FMAs.
#[derive(Clone, Copy, Debug)]
pub enum Precision {
    F32,
    F64,
}

/// The widest FMA this CPU has, if any.
#[derive(Clone, Copy, Debug)]
pub enum Isa {
    Avx512,
    Avx2,
}

impl Isa {
    /// AVX-512 if the CPU has it, else AVX2 with FMA, else `None`.
    pub fn detect() -> Option<Self> {
        if std::arch::is_x86_feature_detected!("avx512f") {
            Some(Isa::Avx512)
        } else if std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("avx2")
        {
            Some(Isa::Avx2)
        } else {
            None
        }
    }

    /// Floating-point operations (2 per lane per FMA) of one [`run`] on one thread.
    pub fn flops_per_call(self, precision: Precision) -> u64 {
        let (accumulators, bytes) = match self {
            Isa::Avx512 => (24, 64),
            Isa::Avx2 => (12, 32),
        };
        let lanes = match precision {
            Precision::F32 => bytes / 4,
            Precision::F64 => bytes / 8,
        };
        (ITERS * accumulators * lanes * 2) as u64
    }
}

/// `ITERS` rounds of one FMA per accumulator, `acc += r0 * r0` with everything
/// zeroed first (no denormals, no NaNs: no micro-code assists).
macro_rules! fma_loop {
    ($op:literal, $zero:literal, $r:literal, [$($acc:literal),*], $($clobber:tt)*) => {
        asm!(
            concat!($zero, " ", $r, "0, ", $r, "0, ", $r, "0"),
            $(concat!($zero, " ", $r, $acc, ", ", $r, $acc, ", ", $r, $acc),)*
            "2:",
            $(concat!($op, " ", $r, $acc, ", ", $r, "0, ", $r, "0"),)*
            "dec {n}",
            "jnz 2b",
            n = inout(reg) ITERS => _,
            $($clobber)*
            options(nostack, nomem),
        )
    };
}

/// The 24 AVX-512 accumulators and the multiplier register.
macro_rules! zmm_loop {
    ($op:literal) => {
        fma_loop!($op, "vpxord", "zmm", [
            "8", "9", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19",
            "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31"
        ],
            out("zmm0") _, out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
            out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
            out("zmm16") _, out("zmm17") _, out("zmm18") _, out("zmm19") _,
            out("zmm20") _, out("zmm21") _, out("zmm22") _, out("zmm23") _,
            out("zmm24") _, out("zmm25") _, out("zmm26") _, out("zmm27") _,
            out("zmm28") _, out("zmm29") _, out("zmm30") _, out("zmm31") _,
        )
    };
}

/// The 12 AVX2 accumulators and the multiplier register.
macro_rules! ymm_loop {
    ($op:literal) => {
        fma_loop!($op, "vxorps", "ymm", [
            "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"
        ],
            out("ymm0") _, out("ymm2") _, out("ymm3") _, out("ymm4") _, out("ymm5") _,
            out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _,
            out("ymm10") _, out("ymm11") _, out("ymm12") _, out("ymm13") _,
        )
    };
}

#[target_feature(enable = "avx512f")]
unsafe fn avx512(precision: Precision) {
    match precision {
        Precision::F64 => zmm_loop!("vfmadd231pd"),
        Precision::F32 => zmm_loop!("vfmadd231ps"),
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(precision: Precision) {
    match precision {
        Precision::F64 => ymm_loop!("vfmadd231pd"),
        Precision::F32 => ymm_loop!("vfmadd231ps"),
    }
}

/// One call's FMAs on this thread.
pub fn run(isa: Isa, precision: Precision) {
    // SAFETY: `isa` came from `Isa::detect`, so the CPU has these instructions.
    unsafe {
        match isa {
            Isa::Avx512 => avx512(precision),
            Isa::Avx2 => avx2(precision),
        }
    }
}
