//! Structures (cargo feature `structure`): experimental per-token B-factors from
//! PDB and mmCIF files, predicted values written back for a viewer, and the
//! Gaussian network model as a training-free baseline.

pub mod gnm;
