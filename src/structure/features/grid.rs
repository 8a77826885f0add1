//! A uniform cell list over points in 3-D: all points within a radius of a
//! query point, in `O(points in the cells touched)`.

/// Points binned into cubic cells of side `cell` (compressed sparse rows:
/// `items[starts[c]..starts[c + 1]]` are the points of cell `c`).
pub(crate) struct Grid {
    origin: [f64; 3],
    cell: f64,
    dims: [usize; 3],
    starts: Vec<u32>,
    items: Vec<u32>,
}

/// At most this many cells in all, whatever the spread of the points (the cell
/// side grows instead), so that memory follows the number of points.
const MAX_CELLS_PER_POINT: usize = 4;

impl Grid {
    /// Bins `points` into cells of side at least `cell` Å (larger if the points
    /// are spread so far that the grid would hold more than a few cells per point).
    pub(crate) fn new(points: &[[f64; 3]], cell: f64) -> Self {
        let n = points.len();
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for p in points {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        if n == 0 {
            lo = [0.0; 3];
            hi = [0.0; 3];
        }
        let max_cells = (MAX_CELLS_PER_POINT * n).max(64) as f64;
        let mut side = cell;
        let extent = |side: f64| -> [usize; 3] {
            let mut d = [1usize; 3];
            for k in 0..3 {
                d[k] = ((hi[k] - lo[k]) / side).floor() as usize + 1;
            }
            d
        };
        let mut dims = extent(side);
        while (dims[0] as f64) * (dims[1] as f64) * (dims[2] as f64) > max_cells {
            side *= 1.5;
            dims = extent(side);
        }
        let total = dims[0] * dims[1] * dims[2];
        let mut counts = vec![0u32; total + 1];
        let cell_of: Vec<usize> = points
            .iter()
            .map(|p| {
                let c = Self::coord(p, &lo, side, &dims);
                (c[0] * dims[1] + c[1]) * dims[2] + c[2]
            })
            .collect();
        for &c in &cell_of {
            counts[c + 1] += 1;
        }
        for c in 0..total {
            counts[c + 1] += counts[c];
        }
        let mut fill = counts.clone();
        let mut items = vec![0u32; n];
        for (i, &c) in cell_of.iter().enumerate() {
            items[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
        Self {
            origin: lo,
            cell: side,
            dims,
            starts: counts,
            items,
        }
    }

    fn coord(p: &[f64; 3], lo: &[f64; 3], side: f64, dims: &[usize; 3]) -> [usize; 3] {
        let mut c = [0usize; 3];
        for k in 0..3 {
            let v = ((p[k] - lo[k]) / side).floor();
            c[k] = if v <= 0.0 {
                0
            } else {
                (v as usize).min(dims[k] - 1)
            };
        }
        c
    }

    /// Calls `f(index)` for every point in the cells that a ball of radius
    /// `radius` around `q` touches (a superset of the points within `radius`;
    /// the caller tests the distance).
    #[inline]
    pub(crate) fn for_each_candidate(&self, q: &[f64; 3], radius: f64, mut f: impl FnMut(usize)) {
        let mut lo = [0usize; 3];
        let mut hi = [0usize; 3];
        for k in 0..3 {
            let a = ((q[k] - radius - self.origin[k]) / self.cell).floor();
            let b = ((q[k] + radius - self.origin[k]) / self.cell).floor();
            if b < 0.0 || a > (self.dims[k] - 1) as f64 {
                return;
            }
            lo[k] = if a <= 0.0 { 0 } else { a as usize };
            hi[k] = (b as usize).min(self.dims[k] - 1);
        }
        for x in lo[0]..=hi[0] {
            for y in lo[1]..=hi[1] {
                let row = (x * self.dims[1] + y) * self.dims[2];
                let (s, e) = (
                    self.starts[row + lo[2]] as usize,
                    self.starts[row + hi[2] + 1] as usize,
                );
                for &i in &self.items[s..e] {
                    f(i as usize);
                }
            }
        }
    }

    /// The index of the point of `points` (the points the grid was built
    /// from) nearest to `q` (the smallest index among equally near ones, as a
    /// scan with `Iterator::min_by` gives), `None` if there are none. Searches
    /// shells of cells outward from `q`'s cell (clamped to the grid) and stops
    /// once the best distance is below the nearest an unsearched cell can be:
    /// after shell `s`, every unsearched point is at least `s` cell sides away
    /// along one axis.
    pub(crate) fn nearest(&self, points: &[[f64; 3]], q: &[f64; 3]) -> Option<usize> {
        if self.items.is_empty() {
            return None;
        }
        let c = Self::coord(q, &self.origin, self.cell, &self.dims);
        let mut best: Option<(f64, usize)> = None;
        let max_s = self.dims.iter().max().copied().unwrap_or(1);
        let visit = |x: usize, y: usize, z: usize, best: &mut Option<(f64, usize)>| {
            let cell = (x * self.dims[1] + y) * self.dims[2] + z;
            let (a, b) = (self.starts[cell] as usize, self.starts[cell + 1] as usize);
            for &i in &self.items[a..b] {
                let i = i as usize;
                let d = dist2(&points[i], q);
                if best.is_none_or(|(bd, bi)| d < bd || (d == bd && i < bi)) {
                    *best = Some((d, i));
                }
            }
        };
        for s in 0..=max_s {
            let range = |k: usize| c[k].saturating_sub(s)..=(c[k] + s).min(self.dims[k] - 1);
            for x in range(0) {
                let x_edge = x + s == c[0] || x == c[0] + s;
                for y in range(1) {
                    let y_edge = y + s == c[1] || y == c[1] + s;
                    if x_edge || y_edge {
                        for z in range(2) {
                            visit(x, y, z, &mut best);
                        }
                    } else {
                        if let Some(z) = c[2].checked_sub(s) {
                            visit(x, y, z, &mut best);
                        }
                        if s > 0 && c[2] + s < self.dims[2] {
                            visit(x, y, c[2] + s, &mut best);
                        }
                    }
                }
            }
            // Unsearched points are at least s cells away on one axis; the
            // margin covers rounding at cell boundaries.
            let reach = (s as f64 - 1e-6) * self.cell;
            if let Some((d, _)) = best {
                if reach > 0.0 && d < reach * reach {
                    break;
                }
            }
        }
        best.map(|(_, i)| i)
    }
}

/// Squared Euclidean distance.
#[inline]
pub(crate) fn dist2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    dx * dx + dy * dy + dz * dz
}

/// A small deterministic generator for the features' tests (Knuth's LCG).
#[cfg(test)]
pub(crate) struct Lcg(pub u64);

#[cfg(test)]
impl Lcg {
    /// The next 31 high bits.
    pub(crate) fn bits(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn uniform(&mut self) -> f64 {
        self.bits() as f64 / (1u64 << 31) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_equals_the_scan_with_its_ties() {
        let mut rng = Lcg(777);
        let mut next = |scale: f64| rng.uniform() * scale;
        // Points on a coarse lattice (many equal distances), clustered and
        // spread, queries inside, on and far outside the box.
        let mut points: Vec<[f64; 3]> = (0..300)
            .map(|_| {
                [
                    next(10.0).floor() * 2.0,
                    next(10.0).floor() * 2.0,
                    next(3.0).floor() * 2.0,
                ]
            })
            .collect();
        points.extend((0..50).map(|_| [next(200.0), next(1.0), next(1.0)]));
        let mut queries: Vec<[f64; 3]> = (0..300)
            .map(|_| {
                [
                    next(30.0).floor() - 5.0,
                    next(30.0).floor() - 5.0,
                    next(12.0).floor() - 3.0,
                ]
            })
            .collect();
        queries.extend([[1e4, -1e4, 0.0], [-500.0, 3.0, 3.0], [1.0, 1.0, 1.0]]);
        let mut ties = 0;
        for cell in [1.0, 3.0, 8.0, 500.0] {
            let grid = Grid::new(&points, cell);
            for q in &queries {
                let want = (0..points.len())
                    .min_by(|&a, &b| dist2(&points[a], q).total_cmp(&dist2(&points[b], q)));
                assert_eq!(grid.nearest(&points, q), want, "cell {cell}, q {q:?}");
                let d = dist2(&points[want.unwrap()], q);
                ties += usize::from(points.iter().filter(|p| dist2(p, q) == d).count() > 1);
            }
        }
        assert!(ties > 100, "the queries include ties ({ties})");
        assert_eq!(Grid::new(&[], 8.0).nearest(&[], &[0.0; 3]), None);
    }

    #[test]
    fn finds_exactly_the_points_within_the_radius() {
        let mut rng = Lcg(12345);
        let mut next = || rng.uniform() * 60.0 - 30.0;
        let points: Vec<[f64; 3]> = (0..500).map(|_| [next(), next(), next()]).collect();
        for cell in [2.0, 7.0, 50.0] {
            let grid = Grid::new(&points, cell);
            for q in points.iter().take(50) {
                for r in [0.5, 5.0, 12.0] {
                    let mut got = Vec::new();
                    grid.for_each_candidate(q, r, |i| {
                        if dist2(q, &points[i]) <= r * r {
                            got.push(i)
                        }
                    });
                    got.sort();
                    let want: Vec<usize> = (0..points.len())
                        .filter(|&i| dist2(q, &points[i]) <= r * r)
                        .collect();
                    assert_eq!(got, want);
                }
            }
        }
    }
}
