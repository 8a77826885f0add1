//! Reading and writing weight files ([`weights`]).
//!
//! Structure files (PDB, mmCIF) are read and written by [`crate::structure`].

pub mod weights;
