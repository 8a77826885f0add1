"""Predictions for many files on a Dask distributed cluster, into a Parquet dataset.

``predict_to_parquet(paths, out_dir, client=client, partitions=n)`` cuts the
list of paths (structure files, directories, tar shards) into ``n``
contiguous partitions (as ``bfactor --shard K/N`` cuts it), runs
:func:`bfactor.predict_files` on each partition as one task, and writes

- ``out_dir/tokens/part-KKKKK.parquet``: the partition's token table,
- ``out_dir/files/part-KKKKK.parquet``: its file table (a failed file is a
  row with ``status == "error"``).

Each file is written under a hidden temporary name in the same directory and
renamed when complete, the token table last; a partition whose token table
exists is not computed again. So a task retried after its worker died
replaces nothing twice and never leaves a partial file: the dataset holds
every input exactly once. Read it with
``pyarrow.dataset.dataset(out_dir / "tokens").to_table()`` (in partition
order), polars or DuckDB.

Needs ``dask``, ``distributed`` and ``pyarrow`` (``pip install
'bfactor[dask]'``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from ._bfactor import Predictor
from ._tables import _paths, _pyarrow, predict_files

__all__ = ["partition_paths", "predict_partition", "predict_to_parquet", "submit"]

_PathLike = str | os.PathLike[str]


def partition_paths(paths: Sequence[str], partitions: int) -> list[list[str]]:
    """``paths`` cut into ``partitions`` contiguous runs whose lengths differ by at most one.

    Part ``k`` (from 0) is ``paths[k * n // partitions:(k + 1) * n // partitions]``,
    the command's ``--shard k+1/partitions``.

    Parameters
    ----------
    paths : sequence of str
        The inputs, in order.
    partitions : int
        How many parts (at least 1).

    Returns
    -------
    list of list of str
        The parts, every input in exactly one, in order.
    """
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise ValueError(f"partitions is {partitions!r}, expected a whole number >= 1")
    n = len(paths)
    return [list(paths[k * n // partitions : (k + 1) * n // partitions]) for k in range(partitions)]


def _write_atomically(table: Any, dest: Path) -> None:
    pq = __import__("pyarrow.parquet", fromlist=["parquet"])
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="snappy")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def predict_partition(
    paths: Sequence[str],
    out_dir: _PathLike,
    index: int,
    predictor: Predictor | None = None,
    tokens: Literal["ca", "boltz2"] = "ca",
) -> dict[str, int]:
    """Predicts one partition and writes its two Parquet files (what each task runs).

    Parameters
    ----------
    paths : sequence of str
        The partition's inputs.
    out_dir : str or os.PathLike
        The dataset directory (``tokens/`` and ``files/`` are made in it).
    index : int
        The partition's number, in the file names (``part-00003.parquet``).
    predictor : bfactor.Predictor, optional
        The predictor (default: the bundled one).
    tokens : {"ca", "boltz2"}
        How residues become tokens.

    Returns
    -------
    dict
        ``partition``, ``files``, ``failed`` and ``tokens`` (rows), and
        ``skipped`` (1 if the partition's token table was already there).
    """
    _pyarrow()
    out = Path(out_dir)
    token_path = out / "tokens" / f"part-{index:05d}.parquet"
    file_path = out / "files" / f"part-{index:05d}.parquet"
    if token_path.exists():
        import pyarrow.parquet as pq

        done = pq.read_table(file_path) if file_path.exists() else None
        failed = 0 if done is None else sum(s == "error" for s in done.column("status").to_pylist())
        rows = pq.ParquetFile(token_path).metadata.num_rows
        return {"partition": index, "files": 0 if done is None else done.num_rows, "failed": failed, "tokens": rows, "skipped": 1}
    token_path.parent.mkdir(parents=True, exist_ok=True)
    file_path.parent.mkdir(parents=True, exist_ok=True)
    table, files = predict_files(list(paths), predictor=predictor, tokens=tokens, files=True)
    failed = sum(s == "error" for s in files.column("status").to_pylist())
    _write_atomically(files, file_path)
    _write_atomically(table, token_path)
    return {"partition": index, "files": files.num_rows, "failed": failed, "tokens": table.num_rows, "skipped": 0}


def _client(client: Any) -> Any:
    try:
        import distributed
    except ImportError as e:
        raise ImportError(
            "bfactor.dask needs dask and distributed: pip install 'bfactor[dask]'"
        ) from e
    return client if client is not None else distributed.get_client()


def submit(
    paths: _PathLike | Iterable[_PathLike],
    out_dir: _PathLike,
    *,
    client: Any = None,
    partitions: int | None = None,
    predictor: Predictor | None = None,
    tokens: Literal["ca", "boltz2"] = "ca",
    retries: int = 3,
) -> list[Any]:
    """Submits one task per partition; returns their futures (see :func:`predict_to_parquet`).

    Parameters
    ----------
    paths, out_dir, client, partitions, predictor, tokens
        As in :func:`predict_to_parquet`.
    retries : int
        How many times a task that raised is run again (a task whose worker
        died is rescheduled by the scheduler in any case).

    Returns
    -------
    list of distributed.Future
        One per partition, in order; each gives :func:`predict_partition`'s dict.
    """
    _pyarrow()
    client = _client(client)
    paths = _paths(paths)
    if partitions is None:
        workers = len(client.scheduler_info()["workers"]) or 1
        partitions = max(1, min(len(paths), 4 * workers))
    parts = partition_paths(paths, partitions)
    out = os.fspath(out_dir)
    return [
        client.submit(
            predict_partition,
            part,
            out,
            k,
            predictor,
            tokens,
            key=f"bfactor-partition-{k:05d}-{uuid.uuid4().hex}",
            retries=retries,
            pure=False,
        )
        for k, part in enumerate(parts)
    ]


def predict_to_parquet(
    paths: _PathLike | Iterable[_PathLike],
    out_dir: _PathLike,
    *,
    client: Any = None,
    partitions: int | None = None,
    predictor: Predictor | None = None,
    tokens: Literal["ca", "boltz2"] = "ca",
) -> list[dict[str, int]]:
    """Predicts every input on a Dask cluster into the Parquet dataset ``out_dir``.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Structure files, directories and tar archives (each path stays whole
        in one partition: give AlphaFold DB's proteome shards as paths).
    out_dir : str or os.PathLike
        The dataset directory: ``tokens/part-KKKKK.parquet`` and
        ``files/part-KKKKK.parquet``, one of each per partition.
    client : distributed.Client, optional
        The cluster (default: ``distributed.get_client()``).
    partitions : int, optional
        How many tasks (default: four per worker, at most one per path).
    predictor : bfactor.Predictor, optional
        The predictor (default: the bundled one, loaded in each task).
    tokens : {"ca", "boltz2"}
        How residues become tokens.

    Returns
    -------
    list of dict
        Per partition, :func:`predict_partition`'s counts.
    """
    client = _client(client)
    futures = submit(paths, out_dir, client=client, partitions=partitions, predictor=predictor, tokens=tokens)
    return client.gather(futures)
