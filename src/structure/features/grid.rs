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
}

/// Squared Euclidean distance.
#[inline]
pub(crate) fn dist2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    dx * dx + dy * dy + dz * dz
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_the_points_within_the_radius() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 60.0 - 30.0
        };
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
