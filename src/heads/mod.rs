//! The two heads: the reference notebook's ([`head`]) and Boltz-2's ([`boltz2`]).
//!
//! Each head's module holds its configuration, its weights and its inference pass;
//! the crate root re-exports both modules and both heads.

pub mod boltz2;
pub mod head;
