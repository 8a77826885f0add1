//! Crystal-lattice contacts: heavy atoms and residue nodes of the symmetry mates.

use rayon::prelude::*;

use super::atoms::Model;
use super::grid::{dist2, Grid};
use crate::structure::Structure;

/// The unit-cell lengths below which a `CRYST1` record is a placeholder (NMR and
/// electron-microscopy entries write `1.000 1.000 1.000 P 1`), Å.
pub(crate) const MIN_CELL_LENGTH: f64 = 3.0;

/// At most this many cells on each side of the original are searched.
const MAX_SPAN: i64 = 8;

/// The radii of the lattice counts (Å).
pub(crate) const ATOM_RADII: [f64; 3] = [6.0, 8.0, 12.0];
/// The radius of the lattice node count (Å).
pub(crate) const NODE_RADIUS: f64 = 12.0;

/// A 3 × 3 matrix, row by row.
pub(crate) type Mat3 = [[f64; 3]; 3];

/// An affine map `x ↦ m·x + v` in Cartesian coordinates (Å).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Affine {
    pub m: [[f64; 3]; 3],
    pub v: [f64; 3],
}

impl Affine {
    #[inline]
    pub(crate) fn apply(&self, x: &[f64; 3]) -> [f64; 3] {
        let mut y = self.v;
        for (i, yi) in y.iter_mut().enumerate() {
            *yi += self.m[i][0] * x[0] + self.m[i][1] * x[1] + self.m[i][2] * x[2];
        }
        y
    }
}

fn matmul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut c = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            c[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

fn matvec(a: &[[f64; 3]; 3], x: &[f64; 3]) -> [f64; 3] {
    let mut y = [0.0; 3];
    for i in 0..3 {
        y[i] = a[i][0] * x[0] + a[i][1] * x[1] + a[i][2] * x[2];
    }
    y
}

/// The orthogonalisation matrix of a unit cell in the PDB convention (`a` along
/// x, `b` in the xy plane), and its inverse (fractionalisation).
pub(crate) fn cell_matrices(
    a: f64,
    b: f64,
    c: f64,
    alpha: f64,
    beta: f64,
    gamma: f64,
) -> Option<(Mat3, Mat3)> {
    let (al, be, ga) = (alpha.to_radians(), beta.to_radians(), gamma.to_radians());
    let (ca, cb, cg, sg) = (al.cos(), be.cos(), ga.cos(), ga.sin());
    let vol2 = 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg;
    if vol2.is_nan() || vol2 <= 1e-9 || sg.abs() < 1e-9 {
        return None;
    }
    let vol = vol2.sqrt();
    let orth = [
        [a, b * cg, c * cb],
        [0.0, b * sg, c * (ca - cb * cg) / sg],
        [0.0, 0.0, c * vol / sg],
    ];
    // Inverse of the upper-triangular matrix.
    let (o00, o01, o02, o11, o12, o22) = (
        orth[0][0], orth[0][1], orth[0][2], orth[1][1], orth[1][2], orth[2][2],
    );
    let frac = [
        [
            1.0 / o00,
            -o01 / (o00 * o11),
            (o01 * o12 - o02 * o11) / (o00 * o11 * o22),
        ],
        [0.0, 1.0 / o11, -o12 / (o11 * o22)],
        [0.0, 0.0, 1.0 / o22],
    ];
    Some((orth, frac))
}

/// The symmetry mates to count: every space-group operator combined with the
/// lattice translations `t0 + s`, where `t0` (per operator) brings the image of
/// the centroid back to the cell of the original centroid and `s` runs over
/// the shifts whose image can come within reach, except the identity; only
/// images whose bounding sphere can come within `reach` Å of the original's. `None` if the file has no usable unit cell and space group.
pub(crate) fn images(st: &Structure, model: &Model, reach: f64) -> Option<Vec<Affine>> {
    images_of(st, &model.atoms, reach)
}

/// [`images`] for the bounding sphere of `points`.
pub(crate) fn images_of(st: &Structure, points: &[[f64; 3]], reach: f64) -> Option<Vec<Affine>> {
    let pdb = st.pdb();
    let cell = pdb.unit_cell.as_ref()?;
    let symmetry = pdb.symmetry.as_ref()?;
    let (a, b, c) = cell.size();
    if !(a >= MIN_CELL_LENGTH && b >= MIN_CELL_LENGTH && c >= MIN_CELL_LENGTH) {
        return None;
    }
    let (orth, frac) = cell_matrices(a, b, c, cell.alpha(), cell.beta(), cell.gamma())?;
    if points.is_empty() {
        return Some(Vec::new());
    }
    let n = points.len() as f64;
    let mut centroid = [0.0; 3];
    for p in points {
        for k in 0..3 {
            centroid[k] += p[k] / n;
        }
    }
    let radius = points
        .iter()
        .map(|p| dist2(p, &centroid))
        .fold(0.0, f64::max)
        .sqrt();
    let fc = matvec(&frac, &centroid);
    // An image within reach has |s_k| <= 1/2 + |F_k|·(2ρ + reach) (F_k the
    // k-th row of the fractionalisation matrix), once t0 is applied.
    let span: [i64; 3] = std::array::from_fn(|k| {
        let norm = frac[k].iter().map(|v| v * v).sum::<f64>().sqrt();
        ((0.5 + norm * (2.0 * radius + reach)).ceil() as i64).min(MAX_SPAN)
    });
    let mut out = Vec::new();
    for (k, op) in symmetry.transformations().iter().enumerate() {
        let t = op.matrix();
        let rot = [
            [t[0][0], t[0][1], t[0][2]],
            [t[1][0], t[1][1], t[1][2]],
            [t[2][0], t[2][1], t[2][2]],
        ];
        let shift = [t[0][3], t[1][3], t[2][3]];
        let image_fc = matvec(&rot, &fc);
        let t0: [f64; 3] = std::array::from_fn(|i| (fc[i] - (image_fc[i] + shift[i])).round());
        let m = matmul(&orth, &matmul(&rot, &frac));
        for dx in -span[0]..=span[0] {
            for dy in -span[1]..=span[1] {
                for dz in -span[2]..=span[2] {
                    if k == 0 && t0 == [0.0; 3] && (dx, dy, dz) == (0, 0, 0) {
                        continue;
                    }
                    let tf = [
                        shift[0] + t0[0] + dx as f64,
                        shift[1] + t0[1] + dy as f64,
                        shift[2] + t0[2] + dz as f64,
                    ];
                    let map = Affine {
                        m,
                        v: matvec(&orth, &tf),
                    };
                    let moved = map.apply(&centroid);
                    if dist2(&moved, &centroid).sqrt() <= 2.0 * radius + reach {
                        out.push(map);
                    }
                }
            }
        }
    }
    Some(out)
}

/// Per centre: the counts of image heavy atoms within each of [`ATOM_RADII`]
/// (if `atoms`) and of image residue nodes within [`NODE_RADIUS`].
///
/// The image points that can be within reach of a centre are gathered first:
/// a point is kept if its cell (side `reach`) is next to a cell holding a
/// centre, which every point within `reach` of a centre is. They are then
/// counted around each centre through a grid.
pub(crate) fn counts(
    model: &Model,
    images: &[Affine],
    centres: &[[f64; 3]],
    atoms: bool,
) -> (Vec<[f64; 3]>, Vec<f64>) {
    if centres.is_empty() || images.is_empty() {
        return (vec![[0.0; 3]; centres.len()], vec![0.0; centres.len()]);
    }
    let reach = ATOM_RADII[2].max(NODE_RADIUS);
    let near = Near::new(centres, reach);
    let node_pos = model.node_positions();
    let gather = |points: &[[f64; 3]]| -> Vec<[f64; 3]> {
        images
            .par_iter()
            .flat_map_iter(|map| {
                points
                    .iter()
                    .map(|p| map.apply(p))
                    .filter(|q| near.contains(q))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mate_atoms = if atoms {
        gather(&model.atoms)
    } else {
        Vec::new()
    };
    let mate_nodes = gather(&node_pos);
    let atom_grid = Grid::new(&mate_atoms, 6.0);
    let node_grid = Grid::new(&mate_nodes, 6.0);
    let r2: [f64; 3] = ATOM_RADII.map(|r| r * r);
    let rn2 = NODE_RADIUS * NODE_RADIUS;
    centres
        .par_iter()
        .map(|c| {
            let mut a = [0.0; 3];
            if !mate_atoms.is_empty() {
                atom_grid.for_each_candidate(c, ATOM_RADII[2], |i| {
                    let d2 = dist2(c, &mate_atoms[i]);
                    for (k, &rr) in r2.iter().enumerate() {
                        if d2 <= rr {
                            a[k] += 1.0;
                        }
                    }
                });
            }
            let mut n = 0.0;
            if !mate_nodes.is_empty() {
                node_grid.for_each_candidate(c, NODE_RADIUS, |i| {
                    if dist2(c, &mate_nodes[i]) <= rn2 {
                        n += 1.0;
                    }
                });
            }
            (a, n)
        })
        .unzip()
}

/// The cells (side `reach`) next to a cell that holds a centre.
pub(crate) struct Near {
    origin: [f64; 3],
    cell: f64,
    dims: [usize; 3],
    marked: Vec<bool>,
}

impl Near {
    pub(crate) fn new(centres: &[[f64; 3]], reach: f64) -> Self {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for p in centres {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k] - reach);
                hi[k] = hi[k].max(p[k] + reach);
            }
        }
        // The cell grows if the centres are spread so far that the grid would
        // be large (a coarser grid only keeps more points).
        let mut cell = reach;
        let dims_for = |cell: f64| -> [usize; 3] {
            std::array::from_fn(|k| ((hi[k] - lo[k]) / cell).floor() as usize + 1)
        };
        let mut dims = dims_for(cell);
        while dims.iter().product::<usize>() > 64 * centres.len() + 4096 {
            cell *= 1.5;
            dims = dims_for(cell);
        }
        let mut marked = vec![false; dims.iter().product()];
        for p in centres {
            let c: [usize; 3] = std::array::from_fn(|k| ((p[k] - lo[k]) / cell).floor() as usize);
            for x in c[0].saturating_sub(1)..=(c[0] + 1).min(dims[0] - 1) {
                for y in c[1].saturating_sub(1)..=(c[1] + 1).min(dims[1] - 1) {
                    for z in c[2].saturating_sub(1)..=(c[2] + 1).min(dims[2] - 1) {
                        marked[(x * dims[1] + y) * dims[2] + z] = true;
                    }
                }
            }
        }
        Self {
            origin: lo,
            cell,
            dims,
            marked,
        }
    }

    #[inline]
    pub(crate) fn contains(&self, q: &[f64; 3]) -> bool {
        let mut idx = [0usize; 3];
        for k in 0..3 {
            let v = (q[k] - self.origin[k]) / self.cell;
            if v.is_nan() || v < 0.0 || v >= self.dims[k] as f64 {
                return false;
            }
            idx[k] = v as usize;
        }
        self.marked[(idx[0] * self.dims[1] + idx[1]) * self.dims[2] + idx[2]]
    }
}
