//! The notebook head's training pass: the forward pass of [`super`] unfused, keeping
//! what the backward pass needs, and the backward pass through `W2`, the second
//! layer norm, ReLU, `W1` and the first layer norm.

use ndarray::{Array2, ArrayD, ArrayView2};

use super::BFactorHead;
use crate::kernels::pool;
use crate::train::grad::{reuse, Trainable};
use crate::{matmul, ops, Float};

/// What the notebook head's forward pass keeps. Its buffers are reused when a
/// [`TrainWorkspace`](crate::train::grad::TrainWorkspace) passes it back.
#[derive(Debug, Default)]
pub struct NotebookCache<F: Float> {
    x_norm: Array2<F>,
    inv_std1: Vec<F>,
    pre_relu: Array2<F>,
    h_norm: Array2<F>,
    inv_std2: Vec<F>,
}

impl<F: Float> BFactorHead<F> {
    /// The forward pass on the input rows already in `cache.x_norm`: fills the
    /// cache and returns the logits.
    fn forward_in_cache(&self, c: &mut NotebookCache<F>) -> Array2<F> {
        let (w1, w2) = self.packed_weights();
        layer_norm_rows(
            &mut c.x_norm,
            &mut c.inv_std1,
            self.eps,
            ops::layer_norm_row,
        );
        c.pre_relu = matmul::matmul_packed(&c.x_norm.view(), w1);
        reuse(&mut c.h_norm, c.pre_relu.dim());
        c.h_norm.assign(&c.pre_relu);
        layer_norm_rows(
            &mut c.h_norm,
            &mut c.inv_std2,
            self.eps,
            ops::relu_layer_norm_row,
        );
        matmul::matmul_packed(&c.h_norm.view(), w2)
    }

    /// The parameter gradients `[dW1, dW2]`, and `∂L/∂x_norm` (the gradient at the
    /// first layer norm's output), from which `∂L/∂s` follows.
    fn backward_to_x_norm(
        &self,
        c: &NotebookCache<F>,
        g: &Array2<F>,
    ) -> (Vec<ArrayD<F>>, Array2<F>) {
        let d_w2 = matmul::matmul(&c.h_norm.t(), &g.view());
        let mut d = matmul::matmul(&g.view(), &self.w2.t());
        // Through the second layer norm, then ReLU's derivative: a select, not a
        // branch (the signs are random, so a branch would be mispredicted half the
        // time).
        let pre = c.pre_relu.as_slice().expect("fresh");
        layer_norm_backward_rows(&mut d, &c.h_norm, &c.inv_std2, |row, dr| {
            let w = dr.len();
            for (d, &a) in dr.iter_mut().zip(&pre[row * w..(row + 1) * w]) {
                *d = if a <= F::zero() { F::zero() } else { *d };
            }
        });
        let d_w1 = matmul::matmul(&c.x_norm.t(), &d.view());
        (vec![d_w1.into_dyn(), d_w2.into_dyn()], d)
    }
}

impl<F: Float> Trainable<F> for BFactorHead<F> {
    type Cache = NotebookCache<F>;

    fn input_width(&self) -> usize {
        self.config.c_s
    }

    fn decode_centers(&self) -> &[F] {
        self.centers_slice()
    }

    fn forward_cached(&self, x: Array2<F>) -> (Array2<F>, NotebookCache<F>) {
        let mut cache = NotebookCache {
            x_norm: x,
            ..NotebookCache::default()
        };
        let logits = self.forward_in_cache(&mut cache);
        (logits, cache)
    }

    fn forward_cached_into(
        &self,
        rows: ArrayView2<'_, F>,
        logits: &mut Array2<F>,
        cache: &mut Option<NotebookCache<F>>,
    ) {
        let c = cache.get_or_insert_with(NotebookCache::default);
        reuse(&mut c.x_norm, rows.dim());
        c.x_norm.assign(&rows);
        *logits = self.forward_in_cache(c);
    }

    fn backward(&self, c: &NotebookCache<F>, g: &Array2<F>) -> (Vec<ArrayD<F>>, Array2<F>) {
        let (params, d) = self.backward_to_x_norm(c, g);
        let mut ds = matmul::matmul(&d.view(), &self.w1.t());
        layer_norm_backward_rows(&mut ds, &c.x_norm, &c.inv_std1, |_, _| {});
        (params, ds)
    }

    fn backward_params(&self, c: &NotebookCache<F>, g: &Array2<F>) -> Vec<ArrayD<F>> {
        self.backward_to_x_norm(c, g).0
    }

    fn parameters_mut(&mut self) -> Vec<&mut [F]> {
        let (w1, w2) = self.weights_mut();
        vec![
            w1.as_slice_mut().expect("owned standard layout"),
            w2.as_slice_mut().expect("owned standard layout"),
        ]
    }
}

/// Multiply-adds a row kernel costs per element, roughly, for the thread split.
const ROW_COST: usize = 8;

/// `norm(row, eps)` on every row of `x` in parallel; the rows' `1/σ` into
/// `inv_std` (resized to the rows).
fn layer_norm_rows<F: Float>(
    x: &mut Array2<F>,
    inv_std: &mut Vec<F>,
    eps: F,
    norm: fn(&mut [F], F) -> F,
) {
    let width = x.ncols();
    inv_std.clear();
    inv_std.resize(x.nrows(), F::zero());
    let xs = x.as_slice_mut().expect("standard layout");
    pool::par_rows(xs, width, inv_std, 1, ROW_COST, |_, xs, inv| {
        for (row, i) in xs.chunks_exact_mut(width).zip(inv) {
            *i = norm(row, eps);
        }
    });
}

/// Back through a layer norm, row by row in parallel: `d` (`∂L/∂y` in, `∂L/∂x`
/// out) given its output `y` and `1/σ`; then `then(row, d_row)` on each row.
fn layer_norm_backward_rows<F: Float>(
    d: &mut Array2<F>,
    y: &Array2<F>,
    inv_std: &[F],
    then: impl Fn(usize, &mut [F]) + Sync,
) {
    let width = d.ncols();
    let y = y.as_slice().expect("standard layout");
    let ds = d.as_slice_mut().expect("fresh");
    pool::par_rows(ds, width, &mut [(); 0], 0, ROW_COST, |r0, ds, _| {
        for (i, dr) in ds.chunks_exact_mut(width).enumerate() {
            let r = r0 + i;
            ops::layer_norm_backward_row(dr, &y[r * width..(r + 1) * width], inv_std[r]);
            then(r, dr);
        }
    });
}
