"""bfactor: crystallographic B-factor prediction (the ``bfactor`` Rust crate) from Python.

NumPy in and out; float32 or float64 inputs (else ``TypeError``); the crate's
errors raise :class:`bfactor.Error` (a ``ValueError``).
"""

from . import gnm, loss
from ._bfactor import BFactorHead, Error, HeadOutput, Predictor, Structure, read, write

__all__ = ["BFactorHead", "Error", "HeadOutput", "Predictor", "Structure", "gnm", "loss", "read", "write"]
