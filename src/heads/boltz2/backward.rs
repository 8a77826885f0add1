//! Boltz-2's head in training: the forward pass of [`super`] keeping its input
//! rows, and the backward pass through the linear layer.

use ndarray::{Array2, ArrayD, ArrayView2, Axis};

use super::Boltz2Head;
use crate::train::grad::{reuse, Trainable};
use crate::{matmul, Float};

/// What the Boltz-2 head's forward pass keeps: its input rows. The buffer is
/// reused when a [`TrainWorkspace`](crate::train::grad::TrainWorkspace) passes it
/// back.
#[derive(Debug, Default)]
pub struct Boltz2Cache<F: Float> {
    x: Array2<F>,
}

impl<F: Float> Trainable<F> for Boltz2Head<F> {
    type Cache = Boltz2Cache<F>;

    fn input_width(&self) -> usize {
        self.config.token_s
    }

    fn decode_centers(&self) -> &[F] {
        self.centers.as_slice().expect("owned 1-D array")
    }

    fn forward_cached(&self, x: Array2<F>) -> (Array2<F>, Boltz2Cache<F>) {
        let logits = self.linear(&x.view());
        (logits, Boltz2Cache { x })
    }

    fn forward_cached_into(
        &self,
        rows: ArrayView2<'_, F>,
        logits: &mut Array2<F>,
        cache: &mut Option<Boltz2Cache<F>>,
    ) {
        let c = cache.get_or_insert_with(Boltz2Cache::default);
        reuse(&mut c.x, rows.dim());
        c.x.assign(&rows);
        *logits = self.linear(&c.x.view());
    }

    fn backward(&self, c: &Boltz2Cache<F>, g: &Array2<F>) -> (Vec<ArrayD<F>>, Array2<F>) {
        let ds = matmul::matmul(&g.view(), &self.weight.view());
        (self.backward_params(c, g), ds)
    }

    fn backward_params(&self, c: &Boltz2Cache<F>, g: &Array2<F>) -> Vec<ArrayD<F>> {
        let d_weight = matmul::matmul(&g.t(), &c.x.view());
        let d_bias = g.sum_axis(Axis(0));
        vec![d_weight.into_dyn(), d_bias.into_dyn()]
    }

    fn parameters_mut(&mut self) -> Vec<&mut [F]> {
        let (w, b) = self.weights_mut();
        vec![
            w.as_slice_mut().expect("owned standard layout"),
            b.as_slice_mut().expect("owned standard layout"),
        ]
    }
}
