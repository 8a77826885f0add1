"""Shared paths for the bfactor Python tests (run from anywhere)."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def root():
    """The repository root (data/ and tests/fixtures/ live there)."""
    return ROOT
