//! Data helpers: bin layouts ([`bins`]), per-token targets from per-atom B-factors
//! ([`tokens`]), the notebook's simulated profile ([`synthetic`]) and NumPy's random
//! stream ([`numpy_rng`]).

pub mod bins;
pub mod numpy_rng;
pub mod synthetic;
pub mod tokens;
