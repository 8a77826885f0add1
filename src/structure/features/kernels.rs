//! Point descriptors at the centres: contact densities on residue nodes and
//! heavy atoms, burial.

use rayon::prelude::*;

use super::atoms::Model;
use super::grid::{dist2, Grid};

/// Pairs closer than this (Å) count as this far apart (no infinite 1/r²).
pub(crate) const MIN_DISTANCE: f64 = 1e-3;

/// Lorentz scales η of the node densities (Å), ν = 3.
pub(crate) const LORENTZ_ETAS: [f64; 3] = [3.0, 6.0, 12.0];
/// Gaussian scales η of the node densities (Å), truncated at 3η.
pub(crate) const GAUSS_ETAS: [f64; 3] = [2.0, 4.0, 8.0];
/// Radii of the node counts (Å).
pub(crate) const NODE_RADII: [f64; 4] = [8.0, 10.0, 12.0, 16.0];
/// Radii of the heavy-atom counts (Å); the last one also truncates the
/// heavy-atom kernel sums.
pub(crate) const ATOM_RADII: [f64; 4] = [8.0, 10.0, 12.0, 16.0];
/// Lorentz scale of the heavy-atom density (Å), ν = 3.
pub(crate) const ATOM_LORENTZ_ETA: f64 = 3.0;
/// Contact distance of the per-atom contact count (Å).
pub(crate) const ATOM_CONTACT: f64 = 4.5;
/// Half-sphere exposure radius (Å).
pub(crate) const HSE_RADIUS: f64 = 13.0;
/// Radius of the neighbour-vector asymmetry (Å).
pub(crate) const ASYMMETRY_RADIUS: f64 = 12.0;

/// A point where descriptors are computed.
#[derive(Debug, Clone)]
pub(crate) struct Centre {
    pub pos: [f64; 3],
    /// The residue it belongs to (its nodes and atoms are left out of the sums).
    pub residue: Option<usize>,
    /// The residue's node, if any.
    pub node: Option<usize>,
    /// Whether the centre stands for its whole residue (a residue node): the
    /// per-atom contact count then averages over the residue's heavy atoms.
    pub whole_residue: bool,
    /// Half-sphere direction (bisector rule); zero if undefined.
    pub dir: [f64; 3],
    /// Half-sphere direction CA→CB where the CB exists, else `dir`.
    pub dir_cb: [f64; 3],
}

/// `[Σ 1/r², Σ 1/(1 + r³ k_0), Σ 1/(1 + r³ k_1), Σ 1/(1 + r³ k_2)]` over the
/// nodes `xs, ys, zs` from `c`, with one division per pair (the four
/// reciprocals from the reciprocal of their product) and four independent
/// lanes, which the compiler turns into vector instructions.
#[inline]
fn cube_sums(c: [f64; 3], xs: &[f64], ys: &[f64], zs: &[f64], k: [f64; 3]) -> [f64; 4] {
    let min2 = MIN_DISTANCE * MIN_DISTANCE;
    let [cx, cy, cz] = c;
    let term = |x: f64, y: f64, z: f64| -> [f64; 4] {
        let (dx, dy, dz) = (x - cx, y - cy, z - cz);
        let r2 = (dx * dx + dy * dy + dz * dz).max(min2);
        let r3 = r2 * r2.sqrt();
        let (a, b, cc) = (1.0 + r3 * k[0], 1.0 + r3 * k[1], 1.0 + r3 * k[2]);
        let (p, q) = (a * b, cc * r2);
        let inv = 1.0 / (p * q);
        [cc * p * inv, b * q * inv, a * q * inv, r2 * p * inv]
    };
    let mut acc = [[0.0f64; 4]; 4];
    let n4 = xs.len() / 4 * 4;
    for j in (0..n4).step_by(4) {
        for (lane, acc) in acc.iter_mut().enumerate() {
            let t = term(xs[j + lane], ys[j + lane], zs[j + lane]);
            for (a, t) in acc.iter_mut().zip(t) {
                *a += t;
            }
        }
    }
    let mut out = [0.0; 4];
    for j in n4..xs.len() {
        let t = term(xs[j], ys[j], zs[j]);
        for (o, t) in out.iter_mut().zip(t) {
            *o += t;
        }
    }
    for lane in acc {
        for (o, a) in out.iter_mut().zip(lane) {
            *o += a;
        }
    }
    [out[0], out[1], out[2], out[3]]
}

/// Σ 1/r² and the Lorentz sums over all nodes of other residues, exactly
/// (every pair): `[wcn, lorentz(η) for η in etas]` per centre. `ν = 3` takes
/// the fast path ([`cube_sums`], up to three scales); any other `ν` calls
/// `powf` per pair.
pub(crate) fn node_sums_all_pairs(
    centres: &[Centre],
    nodes: &[[f64; 3]],
    etas: &[f64],
    nu: f64,
) -> Vec<Vec<f64>> {
    let cube = nu == 3.0 && etas.len() <= 3;
    let mut k = [0.0; 3];
    for (k, e) in k.iter_mut().zip(etas) {
        *k = 1.0 / (e * e * e);
    }
    let min2 = MIN_DISTANCE * MIN_DISTANCE;
    let xs: Vec<f64> = nodes.iter().map(|p| p[0]).collect();
    let ys: Vec<f64> = nodes.iter().map(|p| p[1]).collect();
    let zs: Vec<f64> = nodes.iter().map(|p| p[2]).collect();
    let sum_range = |c: &Centre, range: std::ops::Range<usize>, out: &mut [f64]| {
        let (xs, ys, zs) = (&xs[range.clone()], &ys[range.clone()], &zs[range]);
        if cube {
            let s = cube_sums(c.pos, xs, ys, zs, k);
            for (o, v) in out.iter_mut().zip(s) {
                *o += v;
            }
        } else {
            let [cx, cy, cz] = c.pos;
            for j in 0..xs.len() {
                let (dx, dy, dz) = (xs[j] - cx, ys[j] - cy, zs[j] - cz);
                let r2 = (dx * dx + dy * dy + dz * dz).max(min2);
                out[0] += 1.0 / r2;
                let r = r2.sqrt();
                for (kk, &eta) in etas.iter().enumerate() {
                    out[1 + kk] += 1.0 / (1.0 + (r / eta).powf(nu));
                }
            }
        }
    };
    let n = nodes.len();
    centres
        .par_iter()
        .map(|c| {
            // Room for the fast path's three scales; cut to the ones asked.
            let mut out = vec![0.0; 4.max(1 + etas.len())];
            match c.node {
                Some(skip) => {
                    sum_range(c, 0..skip, &mut out);
                    sum_range(c, skip + 1..n, &mut out);
                }
                None => sum_range(c, 0..n, &mut out),
            }
            out.truncate(1 + etas.len());
            out
        })
        .collect()
}

/// Per centre, over nodes of other residues within the radius: Gaussian sums
/// `Σ exp(-(r/η)²)` (r ≤ 3η) for [`GAUSS_ETAS`], counts within [`NODE_RADII`],
/// half-sphere exposure (up, down, up along CB) within [`HSE_RADIUS`], and the
/// neighbour-vector asymmetry within [`ASYMMETRY_RADIUS`].
pub(crate) struct NodeLocal {
    pub gauss: [f64; 3],
    pub counts: [f64; 4],
    pub hse_up: f64,
    pub hse_down: f64,
    pub hse_cb_up: f64,
    pub asymmetry: f64,
}

pub(crate) fn node_local(
    centres: &[Centre],
    model: &Model,
    grid: &Grid,
    nodes: &[[f64; 3]],
) -> Vec<NodeLocal> {
    let reach = (3.0 * GAUSS_ETAS[2])
        .max(NODE_RADII[3])
        .max(HSE_RADIUS)
        .max(ASYMMETRY_RADIUS);
    let min2 = MIN_DISTANCE * MIN_DISTANCE;
    centres
        .par_iter()
        .map(|c| {
            let mut out = NodeLocal {
                gauss: [0.0; 3],
                counts: [0.0; 4],
                hse_up: 0.0,
                hse_down: 0.0,
                hse_cb_up: 0.0,
                asymmetry: 0.0,
            };
            let mut vsum = [0.0; 3];
            let mut nvec = 0.0;
            grid.for_each_candidate(&c.pos, reach, |j| {
                if Some(model.nodes[j].residue) == c.residue {
                    return;
                }
                let p = &nodes[j];
                let d = [p[0] - c.pos[0], p[1] - c.pos[1], p[2] - c.pos[2]];
                let r2 = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).max(min2);
                if r2 > reach * reach {
                    return;
                }
                for (k, &eta) in GAUSS_ETAS.iter().enumerate() {
                    if r2 <= 9.0 * eta * eta {
                        out.gauss[k] += (-r2 / (eta * eta)).exp();
                    }
                }
                for (k, &rad) in NODE_RADII.iter().enumerate() {
                    if r2 <= rad * rad {
                        out.counts[k] += 1.0;
                    }
                }
                if r2 <= HSE_RADIUS * HSE_RADIUS {
                    let dot = |u: &[f64; 3]| d[0] * u[0] + d[1] * u[1] + d[2] * u[2];
                    if dot(&c.dir) > 0.0 {
                        out.hse_up += 1.0;
                    } else {
                        out.hse_down += 1.0;
                    }
                    if dot(&c.dir_cb) > 0.0 {
                        out.hse_cb_up += 1.0;
                    }
                }
                if r2 <= ASYMMETRY_RADIUS * ASYMMETRY_RADIUS {
                    let r = r2.sqrt();
                    for k in 0..3 {
                        vsum[k] += d[k] / r;
                    }
                    nvec += 1.0;
                }
            });
            if nvec > 0.0 {
                out.asymmetry =
                    (vsum[0] * vsum[0] + vsum[1] * vsum[1] + vsum[2] * vsum[2]).sqrt() / nvec;
            }
            out
        })
        .collect()
}

/// Per centre, over heavy atoms of other residues: counts within
/// [`ATOM_RADII`], `Σ 1/r²` and the Lorentz sum (η = 3, ν = 3) within the last
/// radius, and the mean over the centre's own residue's heavy atoms (the centre
/// alone for a centre without residue) of the number of other residues' heavy
/// atoms within [`ATOM_CONTACT`].
pub(crate) struct AtomLocal {
    pub counts: [f64; 4],
    pub wcn: f64,
    pub lorentz: f64,
    pub contacts: f64,
}

pub(crate) fn atom_local(centres: &[Centre], model: &Model, grid: &Grid) -> Vec<AtomLocal> {
    let reach = ATOM_RADII[3];
    let min2 = MIN_DISTANCE * MIN_DISTANCE;
    let k3 = 1.0 / ATOM_LORENTZ_ETA.powi(3);
    let own = |r: Option<usize>, a: usize| Some(model.atom_residue[a] as usize) == r;
    centres
        .par_iter()
        .map(|c| {
            let mut out = AtomLocal {
                counts: [0.0; 4],
                wcn: 0.0,
                lorentz: 0.0,
                contacts: 0.0,
            };
            grid.for_each_candidate(&c.pos, reach, |a| {
                if own(c.residue, a) {
                    return;
                }
                let r2 = dist2(&c.pos, &model.atoms[a]).max(min2);
                if r2 > reach * reach {
                    return;
                }
                for (k, &rad) in ATOM_RADII.iter().enumerate() {
                    if r2 <= rad * rad {
                        out.counts[k] += 1.0;
                    }
                }
                out.wcn += 1.0 / r2;
                out.lorentz += 1.0 / (1.0 + r2 * r2.sqrt() * k3);
            });
            let own_atoms: Vec<[f64; 3]> = match c.residue {
                Some(r) if c.whole_residue => model.atoms[model.residues[r].atoms.clone()].to_vec(),
                _ => vec![c.pos],
            };
            let own_atoms = if own_atoms.is_empty() {
                vec![c.pos]
            } else {
                own_atoms
            };
            let cut2 = ATOM_CONTACT * ATOM_CONTACT;
            let mut total = 0.0;
            for p in &own_atoms {
                grid.for_each_candidate(p, ATOM_CONTACT, |a| {
                    if !own(c.residue, a) && dist2(p, &model.atoms[a]) <= cut2 {
                        total += 1.0;
                    }
                });
            }
            out.contacts = total / own_atoms.len() as f64;
            out
        })
        .collect()
}
