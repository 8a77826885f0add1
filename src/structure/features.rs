//! TEMPORARY stand-in for the descriptor module (replaced at merge).
#![allow(missing_docs)]

use ndarray::{Array1, Array2, ArrayView1};

use super::Structure;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureConfig {
    pub gnm_cutoff: f64,
    pub gnm_max_nodes: usize,
    pub lattice: bool,
}

impl FeatureConfig {
    pub fn new() -> Self {
        Self { gnm_cutoff: 7.3, gnm_max_nodes: 2000, lattice: true }
    }
    pub fn validate(&self) -> Result<()> {
        if self.gnm_cutoff < 4.0 {
            return Err(Error::Config { field: "gnm_cutoff".into(), value: "x".into(), expected: "y".into() });
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Descriptors {
    pub names: Vec<String>,
    pub values: Array2<f64>,
}

impl Descriptors {
    pub fn group_of(&self, j: usize) -> &str {
        self.names[j].split('/').next().unwrap_or("")
    }
    pub fn groups(&self) -> Vec<String> {
        let mut g: Vec<String> = (0..self.names.len())
            .map(|j| self.group_of(j).to_string())
            .collect();
        g.dedup();
        g
    }
    pub fn column(&self, name: &str) -> Option<ArrayView1<'_, f64>> {
        let j = self.names.iter().position(|n| n == name)?;
        Some(self.values.column(j))
    }
}

pub fn names() -> Vec<String> {
    [
        "density/log_wcn",
        "density/n8",
        "density/n12",
        "density/n16",
        "seq/rel_pos",
        "seq/log_nterm",
        "seq/log_cterm",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn coords(st: &Structure) -> Vec<[f64; 3]> {
    st.tokens()
        .iter()
        .map(|t| if t.present { t.coords } else { [0.0; 3] })
        .collect()
}

pub fn compute(st: &Structure, c: &FeatureConfig) -> Result<Descriptors> {
    let x = coords(st);
    let n = x.len();
    let _ = c;
    let names = names();
    let mut v = Array2::zeros((n, names.len()));
    for i in 0..n {
        let (mut w, mut n8, mut n12, mut n16) = (0.0, 0.0, 0.0, 0.0);
        for j in 0..n {
            if i == j {
                continue;
            }
            let d2: f64 = (0..3).map(|k| (x[i][k] - x[j][k]).powi(2)).sum();
            w += 1.0 / d2.max(1.0);
            n8 += f64::from(d2 < 64.0);
            n12 += f64::from(d2 < 144.0);
            n16 += f64::from(d2 < 256.0);
        }
        v[[i, 0]] = w.ln_1p();
        v[[i, 1]] = n8;
        v[[i, 2]] = n12;
        v[[i, 3]] = n16;
    }
    for ch in st.chains() {
        let len = ch.tokens.len();
        for (k, i) in ch.tokens.clone().enumerate() {
            v[[i, 4]] = k as f64 / len.max(1) as f64;
            v[[i, 5]] = (1.0 + k as f64).ln();
            v[[i, 6]] = ((len - k) as f64).ln();
        }
    }
    Ok(Descriptors { names, values: v })
}

pub fn inverse_wcn(st: &Structure) -> Result<Array1<f64>> {
    let x = coords(st);
    Ok((0..x.len())
        .map(|i| {
            let s: f64 = (0..x.len())
                .filter(|&j| j != i)
                .map(|j| 1.0 / (0..3).map(|k| (x[i][k] - x[j][k]).powi(2)).sum::<f64>().max(1e-6))
                .sum();
            1.0 / s.max(1e-12)
        })
        .collect())
}

pub fn lorentz_fri(st: &Structure, eta: f64, nu: f64) -> Result<Array1<f64>> {
    let x = coords(st);
    Ok((0..x.len())
        .map(|i| {
            let s: f64 = (0..x.len())
                .filter(|&j| j != i)
                .map(|j| {
                    let d = (0..3).map(|k| (x[i][k] - x[j][k]).powi(2)).sum::<f64>().sqrt();
                    1.0 / (1.0 + (d / eta).powf(nu))
                })
                .sum();
            1.0 / s.max(1e-12)
        })
        .collect())
}
