"""bfactor: crystallographic B-factor prediction (the ``bfactor`` Rust crate) from Python.

NumPy in and out; ``float32`` or ``float64`` inputs (anything else is a
``TypeError`` naming the dtype); the crate's errors raise :class:`bfactor.Error`
(a ``ValueError``), a missing file ``FileNotFoundError``. Compute runs with the
GIL released on a thread pool sized by ``RAYON_NUM_THREADS`` (default: one
thread per CPU). Heads, predictors and structures pickle.

Modules: :mod:`bfactor.loss` (normalized MSE, Pearson, binned cross-entropy),
:mod:`bfactor.gnm` (the Gaussian network model), :mod:`bfactor.dask` (many
files on a Dask cluster into a Parquet dataset; imported on its own, needs
dask, distributed and pyarrow). :func:`predict_files` needs pyarrow.
"""

from . import gnm, loss
from ._bfactor import (
    BFactorHead,
    Boltz2Head,
    Error,
    HeadOutput,
    Predictor,
    Structure,
    atom_wcn,
    plddt_to_b,
    plddt_to_b_text,
    read,
    write,
)
from ._interop import from_atom_array
from ._tables import predict_files

__all__ = [
    "BFactorHead",
    "Boltz2Head",
    "Error",
    "HeadOutput",
    "Predictor",
    "Structure",
    "atom_wcn",
    "from_atom_array",
    "gnm",
    "loss",
    "plddt_to_b",
    "plddt_to_b_text",
    "predict_files",
    "read",
    "write",
]
