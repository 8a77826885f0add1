//! Descriptors along the chains of residue nodes: GNM fluctuations, sequence
//! position and breaks, secondary structure from CA geometry.

use rayon::prelude::*;

use super::atoms::{Model, NodeKind};
use super::grid::dist2;
use crate::structure::gnm::GnmConfig;
use crate::{Error, Result};

/// Largest CA–CA distance (Å) between consecutive amino acids without a break.
pub(crate) const CA_BREAK: f64 = 4.2;
/// Largest node distance (Å) between consecutive nodes when one of them is a
/// nucleotide (C4'–C4' about 6-7 Å) without a break.
pub(crate) const NUCLEOTIDE_BREAK: f64 = 8.0;
/// Sequence distances are clipped here (residues).
pub(crate) const SEQ_CLIP: f64 = 50.0;
/// The large-chain GNM fallback: core block and margin on each side (nodes).
pub(crate) const FALLBACK_CORE: usize = 256;

/// Whether nodes `a` and `b` (consecutive in a chain) are joined (no break).
pub(crate) fn joined(model: &Model, a: usize, b: usize) -> bool {
    let (na, nb) = (&model.nodes[a], &model.nodes[b]);
    let limit = if na.kind == NodeKind::Amino && nb.kind == NodeKind::Amino {
        CA_BREAK
    } else {
        NUCLEOTIDE_BREAK
    };
    dist2(&na.pos, &nb.pos) <= limit * limit
}

/// The chain index of each node.
pub(crate) fn node_chain(model: &Model) -> Vec<usize> {
    let mut out = vec![0; model.nodes.len()];
    for (c, (_, range)) in model.chains.iter().enumerate() {
        for i in range.clone() {
            out[i] = c;
        }
    }
    out
}

/// `ln(f̃_i / mean f̃)` over the nodes `idx`, with `f` the GNM square
/// fluctuations and `f̃` equal to `f` except at isolated nodes (no neighbour
/// within the cutoff), which take the largest `f` of the network; and the
/// isolated flags. A network of fewer than two nodes or with no contact gives
/// zeros, every node isolated.
fn log_relative(model: &Model, idx: &[usize], cutoff: f64) -> Result<(Vec<f64>, Vec<bool>)> {
    let m = idx.len();
    if m < 2 {
        return Ok((vec![0.0; m], vec![true; m]));
    }
    let coords = ndarray::Array2::from_shape_fn((m, 3), |(a, k)| model.nodes[idx[a]].pos[k]);
    let f = match GnmConfig::new()
        .with_cutoff(cutoff)
        .square_fluctuations(&coords)
    {
        Ok(f) => f,
        Err(Error::Config { field, .. }) if field == "cutoff" => {
            return Ok((vec![0.0; m], vec![true; m]));
        }
        Err(e) => return Err(e),
    };
    let isolated: Vec<bool> = f.iter().map(|&v| v <= 0.0).collect();
    let top = f.iter().copied().fold(0.0, f64::max);
    if top <= 0.0 {
        return Ok((vec![0.0; m], isolated));
    }
    let filled: Vec<f64> = f
        .iter()
        .zip(&isolated)
        .map(|(&v, &iso)| if iso { top } else { v })
        .collect();
    let mean = filled.iter().sum::<f64>() / m as f64;
    Ok((filled.iter().map(|v| (v / mean).ln()).collect(), isolated))
}

/// GNM columns per node: `[log_chain, log_assembly, isolated]`.
pub(crate) fn gnm(model: &Model, cutoff: f64, max_nodes: usize) -> Result<[Vec<f64>; 3]> {
    let n = model.nodes.len();
    let mut chain = vec![0.0; n];
    let mut isolated = vec![0.0; n];
    // Per chain (in parallel): the node indices and their values.
    let per_chain: Vec<Result<Vec<(usize, f64, bool)>>> = model
        .chains
        .par_iter()
        .map(|(_, range)| {
            let m = range.len();
            let mut out = Vec::with_capacity(m);
            if m <= max_nodes {
                let idx: Vec<usize> = range.clone().collect();
                let (v, iso) = log_relative(model, &idx, cutoff)?;
                out.extend(idx.iter().enumerate().map(|(a, &i)| (i, v[a], iso[a])));
            } else {
                // Windows: a core block with a margin on each side, the core
                // keeps its values.
                let core = FALLBACK_CORE.min(max_nodes / 2).max(1);
                let margin = core / 2;
                let mut s = 0;
                while s < m {
                    let e = (s + core).min(m);
                    let (ws, we) = (s.saturating_sub(margin), (e + margin).min(m));
                    let idx: Vec<usize> = (range.start + ws..range.start + we).collect();
                    let (v, iso) = log_relative(model, &idx, cutoff)?;
                    out.extend((s..e).map(|k| (range.start + k, v[k - ws], iso[k - ws])));
                    s = e;
                }
            }
            Ok(out)
        })
        .collect();
    for values in per_chain {
        for (i, v, iso) in values? {
            chain[i] = v;
            isolated[i] = f64::from(u8::from(iso));
        }
    }
    let assembly = if n <= max_nodes && model.chains.len() > 1 {
        let idx: Vec<usize> = (0..n).collect();
        log_relative(model, &idx, cutoff)?.0
    } else {
        chain.clone()
    };
    Ok([chain, assembly, isolated])
}

/// Sequence columns per node: `[rel_pos, log_dist_n, log_dist_c,
/// log_dist_break, log_chain_len]`.
pub(crate) fn seq(model: &Model) -> [Vec<f64>; 5] {
    let n = model.nodes.len();
    let mut out: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; n]);
    for (_, range) in &model.chains {
        let (s, l) = (range.start, range.len());
        if l == 0 {
            continue;
        }
        // Distance to the nearest break before (forward sweep) and after.
        let mut before = vec![f64::INFINITY; l];
        for k in 1..l {
            before[k] = if joined(model, s + k - 1, s + k) {
                before[k - 1] + 1.0
            } else {
                0.0
            };
        }
        let mut after = vec![f64::INFINITY; l];
        for k in (0..l.saturating_sub(1)).rev() {
            after[k] = if joined(model, s + k, s + k + 1) {
                after[k + 1] + 1.0
            } else {
                0.0
            };
        }
        for k in 0..l {
            let i = s + k;
            out[0][i] = if l > 1 {
                k as f64 / (l - 1) as f64
            } else {
                0.5
            };
            out[1][i] = (k as f64).min(SEQ_CLIP).ln_1p();
            out[2][i] = ((l - 1 - k) as f64).min(SEQ_CLIP).ln_1p();
            out[3][i] = before[k].min(after[k]).min(SEQ_CLIP).ln_1p();
            out[4][i] = (l as f64).ln();
        }
    }
    out
}

fn sub(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// The dihedral angle of four points (degrees, in (-180, 180]).
pub(crate) fn dihedral(p: [&[f64; 3]; 4]) -> f64 {
    let b1 = sub(p[1], p[0]);
    let b2 = sub(p[2], p[1]);
    let b3 = sub(p[3], p[2]);
    let n1 = cross(&b1, &b2);
    let n2 = cross(&b2, &b3);
    let y = dot(&b2, &b2).sqrt() * dot(&b1, &n2);
    let x = dot(&n1, &n2);
    y.atan2(x).to_degrees()
}

/// Helix windows: virtual torsion in [`HELIX_TAU`] and `d(j, j+3) <=` this (Å).
pub(crate) const HELIX_D3: f64 = 6.2;
/// Helix virtual-torsion range (degrees).
pub(crate) const HELIX_TAU: (f64, f64) = (20.0, 80.0);
/// Strand windows: `|τ|` outside (-125°, 145°) and `d(j, j+3) >=` this (Å).
pub(crate) const STRAND_D3: f64 = 8.0;
/// Strand virtual-torsion bounds: `τ >= .1` or `τ <= .0` (degrees).
pub(crate) const STRAND_TAU: (f64, f64) = (-125.0, 145.0);

/// Secondary-structure columns per node: `[helix, strand, coil, cos_tau,
/// sin_tau, cos_theta]`.
pub(crate) fn ss(model: &Model) -> [Vec<f64>; 6] {
    let n = model.nodes.len();
    let mut out: [Vec<f64>; 6] = std::array::from_fn(|_| vec![0.0; n]);
    let amino = |i: usize| model.nodes[i].kind == NodeKind::Amino;
    for (_, range) in &model.chains {
        let (s, l) = (range.start, range.len());
        // link[k]: nodes s+k and s+k+1 are consecutive amino acids, joined.
        let link: Vec<bool> = (0..l.saturating_sub(1))
            .map(|k| amino(s + k) && amino(s + k + 1) && joined(model, s + k, s + k + 1))
            .collect();
        let mut helix = vec![false; l];
        let mut strand = vec![false; l];
        let mut tau = vec![None; l];
        for j in 0..l.saturating_sub(3) {
            if !(link[j] && link[j + 1] && link[j + 2]) {
                continue;
            }
            let p = |k: usize| &model.nodes[s + j + k].pos;
            let t = dihedral([p(0), p(1), p(2), p(3)]);
            tau[j] = Some(t);
            let d3 = dist2(p(0), p(3)).sqrt();
            if t >= HELIX_TAU.0 && t <= HELIX_TAU.1 && d3 <= HELIX_D3 {
                helix[j..j + 4].iter_mut().for_each(|h| *h = true);
            }
            if (t >= STRAND_TAU.1 || t <= STRAND_TAU.0) && d3 >= STRAND_D3 {
                strand[j..j + 4].iter_mut().for_each(|h| *h = true);
            }
        }
        for k in 0..l {
            let i = s + k;
            if !amino(i) {
                continue;
            }
            let (h, e) = (helix[k], strand[k] && !helix[k]);
            out[0][i] = f64::from(u8::from(h));
            out[1][i] = f64::from(u8::from(e));
            out[2][i] = f64::from(u8::from(!h && !e));
            if k >= 1 {
                if let Some(t) = tau[k - 1] {
                    out[3][i] = t.to_radians().cos();
                    out[4][i] = t.to_radians().sin();
                }
            }
            if k >= 1 && k + 1 < l && link[k - 1] && link[k] {
                let a = sub(&model.nodes[i - 1].pos, &model.nodes[i].pos);
                let b = sub(&model.nodes[i + 1].pos, &model.nodes[i].pos);
                out[5][i] = dot(&a, &b) / (dot(&a, &a) * dot(&b, &b)).sqrt();
            }
        }
    }
    out
}

/// Half-sphere directions per node: `u = 2x_i - x_{i-1} - x_{i+1}` with both
/// chain neighbours joined to it, `x_i - x_{i±1}` with one, zero with none (the
/// caller replaces a zero direction); and the CA→CB direction where the residue
/// has a CB, else the same `u`.
pub(crate) fn directions(model: &Model) -> Vec<([f64; 3], [f64; 3])> {
    let n = model.nodes.len();
    let chain_of = node_chain(model);
    (0..n)
        .map(|i| {
            let x = model.nodes[i].pos;
            let prev = (i > 0 && chain_of[i - 1] == chain_of[i] && joined(model, i - 1, i))
                .then(|| model.nodes[i - 1].pos);
            let next = (i + 1 < n && chain_of[i + 1] == chain_of[i] && joined(model, i, i + 1))
                .then(|| model.nodes[i + 1].pos);
            let u = match (prev, next) {
                (Some(a), Some(b)) => [
                    2.0 * x[0] - a[0] - b[0],
                    2.0 * x[1] - a[1] - b[1],
                    2.0 * x[2] - a[2] - b[2],
                ],
                (Some(a), None) | (None, Some(a)) => sub(&x, &a),
                (None, None) => [0.0; 3],
            };
            let r = model.nodes[i].residue;
            let ucb = match (model.nodes[i].kind, model.residues[r].cb) {
                (NodeKind::Amino, Some(cb)) => sub(&cb, &x),
                _ => u,
            };
            (u, ucb)
        })
        .collect()
}
