"""``bfactor.predict_files``: the command's Parquet tables as ``pyarrow`` tables."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, overload

from ._bfactor import Error, Predictor, _predict_tables

if TYPE_CHECKING:
    import pyarrow

_PathLike = str | os.PathLike[str]


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.ipc
    except ImportError as e:
        raise ImportError(
            "bfactor.predict_files returns a pyarrow.Table and needs pyarrow: "
            "pip install pyarrow (or pip install 'bfactor[arrow]')"
        ) from e
    return pyarrow


def _paths(paths: _PathLike | Iterable[_PathLike]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    out = []
    for p in paths:
        if not isinstance(p, (str, os.PathLike)):
            raise TypeError(f"paths holds a {type(p).__name__}, expected str or os.PathLike")
        out.append(os.fspath(p))
    return out


@overload
def predict_files(
    paths: _PathLike | Iterable[_PathLike],
    *,
    predictor: Predictor | None = ...,
    tokens: Literal["ca", "boltz2"] = ...,
    files: Literal[False] = ...,
) -> pyarrow.Table: ...
@overload
def predict_files(
    paths: _PathLike | Iterable[_PathLike],
    *,
    predictor: Predictor | None = ...,
    tokens: Literal["ca", "boltz2"] = ...,
    files: Literal[True],
) -> tuple[pyarrow.Table, pyarrow.Table]: ...


def predict_files(paths, *, predictor=None, tokens="ca", files=False):
    """Predicted B-factors of many structure files as one ``pyarrow.Table``.

    The rows are those of ``bfactor predict --table parquet`` (the same Rust
    code builds them): one per token, in input order, computed with the GIL
    released on the package's thread pool (``RAYON_NUM_THREADS``).

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Structure files (``.pdb``, ``.ent``, ``.cif``, ``.mmcif``, optionally
        ``.gz``), directories (searched recursively) and tar archives (``.tar``,
        ``.tar.gz``, ``.tgz``, read member by member; a member is named
        ``ARCHIVE:MEMBER``).
    predictor : bfactor.Predictor, optional
        The predictor (default: ``Predictor.pretrained()``).
    tokens : {"ca", "boltz2"}
        One token per amino acid at CA, or Boltz-2's tokens.
    files : bool
        Also return the per-file table, in which a file that failed is a row
        with ``status == "error"`` and its message (no exception is raised).

    Returns
    -------
    pyarrow.Table or (pyarrow.Table, pyarrow.Table)
        The token table: ``file``, ``chain``, ``residue_number`` (int64),
        ``insertion_code``, ``residue_name``, ``atom``, ``experimental_b``
        (float64, null where the file holds no usable B-factor), ``plddt``
        (float64, a predicted model's pLDDT, else null), ``provenance``,
        ``method`` (``"predictor"``), ``prediction`` (float64, Å²). With
        ``files=True``, also the file table: ``file``, ``status`` (``"ok"`` or
        ``"error"``), ``error``, ``tokens`` (uint64), ``provenance``, ``chains`` (a list of
        ``{chain, method, tokens, pearson}`` per chain: the tokens with an
        experimental B-factor and Pearson's r against them).

    Raises
    ------
    ImportError
        If pyarrow is not installed.
    bfactor.Error
        With ``files=False``, if any file failed (the message lists them); or
        if the batch cannot run at all.
    TypeError, ValueError
        For a path that is not ``str``/``PathLike``, or an unknown ``tokens``.
    """
    pa = _pyarrow()
    if predictor is not None and not isinstance(predictor, Predictor):
        raise TypeError(f"predictor is a {type(predictor).__name__}, expected bfactor.Predictor or None")
    token_bytes, file_bytes, failures = _predict_tables(_paths(paths), predictor, tokens)
    table = pa.ipc.open_stream(token_bytes).read_all()
    file_table = pa.ipc.open_stream(file_bytes).read_all()
    if files:
        return table, file_table
    if failures:
        failed = [
            f"{row['file']}: {row['error']}" for row in file_table.to_pylist() if row["status"] == "error"
        ]
        raise Error(f"{failures} of {file_table.num_rows} files failed (files=True returns them as rows): " + "; ".join(failed))
    return table
