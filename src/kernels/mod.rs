//! The numeric kernels every head and loss shares: the instruction-set levels
//! ([`cpu`]), the row kernels ([`ops`]), the matrix product ([`matmul`]) with its
//! micro-kernels (`microkernel`, crate-private) and the thread split on rayon's
//! pool (`pool`, crate-private).

pub mod cpu;
pub mod matmul;
pub(crate) mod microkernel;
pub mod ops;
pub(crate) mod pool;
