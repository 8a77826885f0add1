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

/// `[1/r², 1/(1 + r³ k_0), 1/(1 + r³ k_1), 1/(1 + r³ k_2)]` for the offset
/// `(dx, dy, dz)` (r at least [`MIN_DISTANCE`]), with one division. The same
/// bits for the offset and its negation (only squares of the offset enter).
#[inline(always)]
fn cube_term(dx: f64, dy: f64, dz: f64, k: [f64; 3]) -> [f64; 4] {
    let min2 = MIN_DISTANCE * MIN_DISTANCE;
    let r2 = (dx * dx + dy * dy + dz * dz).max(min2);
    let r3 = r2 * r2.sqrt();
    let (a, b, cc) = (1.0 + r3 * k[0], 1.0 + r3 * k[1], 1.0 + r3 * k[2]);
    let (p, q) = (a * b, cc * r2);
    let inv = 1.0 / (p * q);
    [cc * p * inv, b * q * inv, a * q * inv, r2 * p * inv]
}

/// `[Σ 1/r², Σ 1/(1 + r³ k_0), Σ 1/(1 + r³ k_1), Σ 1/(1 + r³ k_2)]` over the
/// nodes `xs, ys, zs` from `c`, with one division per pair (the four
/// reciprocals from the reciprocal of their product) and four independent
/// lanes, which the compiler turns into vector instructions.
#[inline]
fn cube_sums(c: [f64; 3], xs: &[f64], ys: &[f64], zs: &[f64], k: [f64; 3]) -> [f64; 4] {
    let [cx, cy, cz] = c;
    let term = |x: f64, y: f64, z: f64| -> [f64; 4] { cube_term(x - cx, y - cy, z - cz, k) };
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

/// Above this many nodes, [`node_sums_all_pairs`] visits each pair of node
/// centres once for both ([`node_pair_sums`], half the work); up to it, every
/// centre sums over all nodes on its own, so that every file of `data/`
/// (the largest has far fewer nodes) keeps its bits.
pub(crate) const EXACT_MAX_NODES: usize = 20_000;

/// Σ 1/r² and the Lorentz sums over all nodes of other residues, exactly
/// (every pair): `[wcn, lorentz(η) for η in etas]` per centre. `ν = 3` takes
/// the fast path ([`cube_sums`], up to three scales); any other `ν` calls
/// `powf` per pair. Above [`EXACT_MAX_NODES`] nodes, see
/// [`node_sums_with_threshold`].
pub(crate) fn node_sums_all_pairs(
    centres: &[Centre],
    nodes: &[[f64; 3]],
    etas: &[f64],
    nu: f64,
) -> Vec<Vec<f64>> {
    node_sums_with_threshold(centres, nodes, etas, nu, EXACT_MAX_NODES)
}

/// [`node_sums_all_pairs`] with the node count above which the node centres
/// (centre `i` at node `i` for every node, the first centres, as
/// `features::centres` makes them) take [`node_pair_sums`]: every pair of
/// nodes once, its term added to both; the other centres, and any `ν ≠ 3`,
/// sum over all nodes each as below the threshold.
///
/// Error bound: each term is the same floating-point number in both paths
/// ([`cube_term`] of the offset or of its negation); only the order of the
/// additions differs. The terms are positive, so any order of adding `m` of
/// them gives `|ŝ - s| ≤ γ_{m-1} s`, `γ_k = k u / (1 - k u)`, `u = 2⁻⁵³`
/// (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §4.2),
/// and the two paths differ by at most `2 γ_{n-1}` relative: 1.5·10⁻¹¹ at
/// 66,000 nodes, far below anything a descriptor `ln(1 + s)` shows.
pub(crate) fn node_sums_with_threshold(
    centres: &[Centre],
    nodes: &[[f64; 3]],
    etas: &[f64],
    nu: f64,
    threshold: usize,
) -> Vec<Vec<f64>> {
    let cube = nu == 3.0 && etas.len() <= 3;
    let mut k = [0.0; 3];
    for (k, e) in k.iter_mut().zip(etas) {
        *k = 1.0 / (e * e * e);
    }
    let n = nodes.len();
    let node_centres = centres.len() >= n
        && centres[..n]
            .iter()
            .zip(nodes)
            .enumerate()
            .all(|(i, (c, p))| c.node == Some(i) && c.pos == *p);
    let paired = if cube && n > threshold && node_centres {
        node_pair_sums(nodes, k)
    } else {
        Vec::new()
    };
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
    centres
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            if let Some(s) = paired.get(i) {
                return s[..1 + etas.len()].to_vec();
            }
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

/// The radius of the node kernel sums of the descriptors (Å): `density/log_wcn_ca_40`
/// and `density/log_lorentz_ca_{η}_40`.
pub(crate) const DENSITY_CUTOFF: f64 = 40.0;

/// `[Σ 1/r², Σ 1/(1 + r³ k_0), Σ 1/(1 + r³ k_1), Σ 1/(1 + r³ k_2)]`
/// (`k = 1/η³` for the three [`LORENTZ_ETAS`]) over the nodes of other residues
/// within `cutoff` of each centre, each kernel shifted by its value at the
/// cutoff (`f(r) - f(cutoff)`, so a node entering the sphere adds 0 and the
/// sums are continuous in the coordinates). Linear in the nodes: a cell list
/// `grid` over `nodes` (any cell side; 10 Å visits about `(2·cutoff/10 + 1)³`
/// cells per centre).
pub(crate) fn node_sums_cutoff(
    centres: &[Centre],
    nodes: &[[f64; 3]],
    grid: &Grid,
    cutoff: f64,
) -> Vec<[f64; 4]> {
    let k: [f64; 3] = LORENTZ_ETAS.map(|e| 1.0 / (e * e * e));
    let c2 = cutoff * cutoff;
    let at_cutoff = cube_term(cutoff, 0.0, 0.0, k);
    centres
        .par_iter()
        .map(|c| {
            let mut out = [0.0; 4];
            grid.for_each_candidate(&c.pos, cutoff, |j| {
                if c.node == Some(j) {
                    return;
                }
                let p = &nodes[j];
                let (dx, dy, dz) = (p[0] - c.pos[0], p[1] - c.pos[1], p[2] - c.pos[2]);
                if dx * dx + dy * dy + dz * dz < c2 {
                    let t = cube_term(dx, dy, dz, k);
                    for ((o, t), t0) in out.iter_mut().zip(t).zip(at_cutoff) {
                        *o += t - t0;
                    }
                }
            });
            out
        })
        .collect()
}

/// Nodes per block of [`node_pair_sums`] (a block's coordinates and sums stay
/// in the first-level cache).
const PAIR_BLOCK: usize = 256;

/// `[Σ 1/r², Σ 1/(1 + r³ k_0), Σ 1/(1 + r³ k_1), Σ 1/(1 + r³ k_2)]` at every
/// node over every other node: each pair once (tiles of blocks `I ≤ J` of
/// [`PAIR_BLOCK`] nodes, the term added to both ends), the rows of blocks
/// spread over the cores, each worker with its own sums, added at the end.
fn node_pair_sums(nodes: &[[f64; 3]], k: [f64; 3]) -> Vec<[f64; 4]> {
    let n = nodes.len();
    let xs: Vec<f64> = nodes.iter().map(|p| p[0]).collect();
    let ys: Vec<f64> = nodes.iter().map(|p| p[1]).collect();
    let zs: Vec<f64> = nodes.iter().map(|p| p[2]).collect();
    let xyz = Xyz {
        xs: &xs,
        ys: &ys,
        zs: &zs,
    };
    let blocks = n.div_ceil(PAIR_BLOCK);
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    type Columns = [Vec<f64>; 4];
    let zero = || -> Columns { std::array::from_fn(|_| vec![0.0; n]) };
    let add = |mut a: Columns, b: Columns| {
        for (a, b) in a.iter_mut().zip(&b) {
            for (a, b) in a.iter_mut().zip(b) {
                *a += b;
            }
        }
        a
    };
    let sums = (0..blocks)
        .into_par_iter()
        .fold(zero, |mut acc, bi| {
            block_pairs(avx2, bi, &xyz, k, &mut acc);
            acc
        })
        .reduce(zero, add);
    (0..n)
        .map(|i| [sums[0][i], sums[1][i], sums[2][i], sums[3][i]])
        .collect()
}

/// The pairs of block `bi`'s nodes with every later node (tiles of
/// [`PAIR_BLOCK`]), added to `acc` at both ends; compiled for AVX2 when `avx2`
/// (the CPU has it, checked at run time): wider vectors, the same IEEE
/// operations (no fused multiply-add is written and Rust contracts none), so
/// the same bits.
fn block_pairs(avx2: bool, bi: usize, xyz: &Xyz<'_>, k: [f64; 3], acc: &mut [Vec<f64>; 4]) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        #[target_feature(enable = "avx2")]
        unsafe fn wide(bi: usize, xyz: &Xyz<'_>, k: [f64; 3], acc: &mut [Vec<f64>; 4]) {
            block_pairs_body(bi, xyz, k, acc)
        }
        // SAFETY: the CPU has AVX2 (checked at run time by the caller).
        return unsafe { wide(bi, xyz, k, acc) };
    }
    let _ = avx2;
    block_pairs_body(bi, xyz, k, acc)
}

/// The node coordinates, one array per axis.
struct Xyz<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
    zs: &'a [f64],
}

/// The body of [`block_pairs`]: per row, the tile's terms into one array per
/// kernel (a loop the compiler vectorises), then added to the columns and
/// summed for the row.
#[inline(always)]
fn block_pairs_body(bi: usize, xyz: &Xyz<'_>, k: [f64; 3], acc: &mut [Vec<f64>; 4]) {
    let Xyz { xs, ys, zs } = *xyz;
    let n = xs.len();
    let blocks = n.div_ceil(PAIR_BLOCK);
    let block = |b: usize| b * PAIR_BLOCK..((b + 1) * PAIR_BLOCK).min(n);
    // One row of a tile's terms, one array per kernel.
    let mut row: [Vec<f64>; 4] = std::array::from_fn(|_| vec![0.0; PAIR_BLOCK]);
    for bj in bi..blocks {
        let cols = block(bj);
        for i in block(bi) {
            let js = cols.start.max(i + 1)..cols.end;
            let m = js.len();
            let (cx, cy, cz) = (xs[i], ys[i], zs[i]);
            let (x, y, z) = (&xs[js.clone()], &ys[js.clone()], &zs[js.clone()]);
            let [r0, r1, r2, r3] = &mut row;
            let (r0, r1, r2, r3) = (&mut r0[..m], &mut r1[..m], &mut r2[..m], &mut r3[..m]);
            for j in 0..m {
                let t = cube_term(x[j] - cx, y[j] - cy, z[j] - cz, k);
                r0[j] = t[0];
                r1[j] = t[1];
                r2[j] = t[2];
                r3[j] = t[3];
            }
            for (a, r) in acc.iter_mut().zip(&row) {
                let col = &mut a[js.clone()];
                let mut lanes = [0.0f64; 4];
                let m4 = m / 4 * 4;
                for (c4, r4) in col[..m4].chunks_exact_mut(4).zip(r[..m4].chunks_exact(4)) {
                    for ((c, l), v) in c4.iter_mut().zip(lanes.iter_mut()).zip(r4) {
                        *c += v;
                        *l += v;
                    }
                }
                let mut own = lanes[0] + lanes[1] + (lanes[2] + lanes[3]);
                for (c, v) in col[m4..].iter_mut().zip(&r[m4..m]) {
                    *c += v;
                    own += v;
                }
                a[i] += own;
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::grid::Lcg;
    use super::*;
    use crate::structure::{self, ReadOptions};

    /// `2 γ_{n-1}`, the documented bound between the two paths.
    fn pair_bound(n: usize) -> f64 {
        let nu = (n as f64 - 1.0) * f64::EPSILON / 2.0;
        2.0 * nu / (1.0 - nu)
    }

    fn node_centre(i: usize, pos: [f64; 3]) -> Centre {
        Centre {
            pos,
            residue: Some(i),
            node: Some(i),
            whole_residue: true,
            dir: [0.0; 3],
            dir_cb: [0.0; 3],
        }
    }

    /// The largest relative difference between the paired and the exact sums.
    fn paired_vs_exact(centres: &[Centre], nodes: &[[f64; 3]], etas: &[f64]) -> f64 {
        let exact = node_sums_with_threshold(centres, nodes, etas, 3.0, usize::MAX);
        let paired = node_sums_with_threshold(centres, nodes, etas, 3.0, 0);
        assert_eq!(exact.len(), centres.len());
        let mut worst = 0.0f64;
        let mut differ = 0;
        for (e, p) in exact.iter().zip(&paired) {
            assert_eq!(e.len(), 1 + etas.len());
            assert_eq!(p.len(), e.len());
            for (e, p) in e.iter().zip(p) {
                assert!(*e > 0.0);
                worst = worst.max((p - e).abs() / e);
                differ += usize::from(p != e);
            }
        }
        // The paired path ran: its order of additions changes some bits.
        assert!(
            differ > 0,
            "the paired path gives other roundings somewhere"
        );
        worst
    }

    #[test]
    fn paired_sums_are_within_the_bound_on_a_synthetic_assembly() {
        // 27 copies of 1UBQ's CA on a 3×3×3 grid 40 Å apart, plus a
        // non-node centre (summing over all nodes) and 5,000 random points.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/crystal/1UBQ.pdb.gz");
        let st = structure::read(path, &ReadOptions::new()).unwrap();
        let one = super::super::atoms::Model::new(&st)
            .unwrap()
            .node_positions();
        assert!(one.len() > 70);
        let mut nodes = Vec::new();
        for (a, b, c) in (0..27).map(|i| (i % 3, i / 3 % 3, i / 9)) {
            let shift = [a as f64 * 40.0, b as f64 * 40.0, c as f64 * 40.0];
            nodes.extend(
                one.iter()
                    .map(|p| [p[0] + shift[0], p[1] + shift[1], p[2] + shift[2]]),
            );
        }
        let mut centres: Vec<Centre> = nodes
            .iter()
            .enumerate()
            .map(|(i, &p)| node_centre(i, p))
            .collect();
        let mut extra = node_centre(usize::MAX, [1.0, 2.0, 3.0]);
        extra.node = None;
        centres.push(extra);
        let worst = paired_vs_exact(&centres, &nodes, &LORENTZ_ETAS);
        assert!(worst <= pair_bound(nodes.len()), "{worst}");

        let mut rng = Lcg(2024);
        let box_nodes: Vec<[f64; 3]> = (0..5000)
            .map(|_| std::array::from_fn(|_| rng.uniform() * 150.0))
            .collect();
        let box_centres: Vec<Centre> = box_nodes
            .iter()
            .enumerate()
            .map(|(i, &p)| node_centre(i, p))
            .collect();
        for etas in [&LORENTZ_ETAS[..], &[3.0][..]] {
            let worst = paired_vs_exact(&box_centres, &box_nodes, etas);
            assert!(worst <= pair_bound(box_nodes.len()), "{worst}");
        }
    }

    #[test]
    fn paired_path_on_a_real_structure_matches_the_exact_one() {
        // Every token centre of a real file (nodes first, then ligands and
        // ions), through features::centres, threshold 0.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/structures/3mht.pdb.gz"
        );
        let st = structure::read(path, &ReadOptions::new()).unwrap();
        let model = super::super::atoms::Model::new(&st).unwrap();
        let (centres, _) = super::super::centres(&st, &model);
        let nodes = model.node_positions();
        assert!(centres.len() > nodes.len(), "the file has non-node centres");
        let worst = paired_vs_exact(&centres, &nodes, &LORENTZ_ETAS);
        assert!(worst <= pair_bound(nodes.len()), "{worst}");
        // Centres that are not the nodes in order take the exact path.
        let shuffled: Vec<Centre> = centres.iter().rev().cloned().collect();
        assert_eq!(
            node_sums_with_threshold(&shuffled, &nodes, &LORENTZ_ETAS, 3.0, 0),
            node_sums_with_threshold(&shuffled, &nodes, &LORENTZ_ETAS, 3.0, usize::MAX)
        );
    }
}
