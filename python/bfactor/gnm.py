"""The Gaussian network model."""

from ._bfactor import square_fluctuations

__all__ = ["square_fluctuations"]
