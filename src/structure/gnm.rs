//! The Gaussian network model (being written).
