"""Losses: normalized MSE, Pearson correlation (masked or not) and Boltz-2's binned cross-entropy."""

from ._bfactor import binned_cross_entropy, normalized_mse, pearson

__all__ = ["binned_cross_entropy", "normalized_mse", "pearson"]
