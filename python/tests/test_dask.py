"""bfactor.dask on a LocalCluster of two worker processes: the dataset equals
predict_files run in one process, also when a worker is killed mid-run."""

import os
import signal
import time

import pytest

import bfactor
from conftest import ROOT

pytest.importorskip("pyarrow")
ds = pytest.importorskip("pyarrow.dataset")
distributed = pytest.importorskip("distributed")

import bfactor.dask as bdask  # noqa: E402


def crystal():
    return sorted(str(p) for p in (ROOT / "data/crystal").glob("*.pdb.gz"))


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        env={"RAYON_NUM_THREADS": "1"},
    ) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def expected():
    return bfactor.predict_files(crystal())


def dataset(out):
    return ds.dataset(out / "tokens", format="parquet").to_table()


def test_partitions_cover_every_path_once_in_order():
    paths = [str(i) for i in range(10)]
    parts = bdask.partition_paths(paths, 3)
    assert [len(p) for p in parts] == [3, 3, 4]
    assert sum(parts, []) == paths
    with pytest.raises(ValueError, match="partitions"):
        bdask.partition_paths(paths, 0)


def test_the_dataset_equals_the_single_process_table(client, expected, tmp_path):
    counts = bdask.predict_to_parquet(crystal(), tmp_path, client=client, partitions=5)
    assert [c["partition"] for c in counts] == list(range(5))
    assert sum(c["files"] for c in counts) == len(crystal())
    assert dataset(tmp_path).equals(expected)
    files = ds.dataset(tmp_path / "files", format="parquet").to_table()
    assert files.column("file").to_pylist() == crystal()
    # A rerun finds every partition done and computes nothing.
    again = bdask.predict_to_parquet(crystal(), tmp_path, client=client, partitions=5)
    assert all(c["skipped"] == 1 for c in again)
    assert dataset(tmp_path).equals(expected)


def test_a_killed_worker_is_replaced_and_every_file_is_there_once(client, expected, tmp_path):
    paths = crystal()
    futures = bdask.submit(paths, tmp_path, client=client, partitions=12)
    first = next(distributed.as_completed(futures))
    assert first.result()["files"] > 0
    # Kill a worker that is working on a partition (SIGKILL: no clean-up).
    victim = None
    for _ in range(200):
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            victim = busy[0]
            break
        time.sleep(0.05)
    assert victim is not None, "no worker busy"
    pids = client.run(os.getpid)
    os.kill(pids[victim], signal.SIGKILL)
    counts = client.gather(futures)
    assert sorted(c["partition"] for c in counts) == list(range(12))
    table = dataset(tmp_path)
    assert table.equals(expected)
    names = table.group_by("file").aggregate([]).column("file").to_pylist()
    assert sorted(names) == paths
    # Each file's rows appear once: as many as in the single-process table.
    assert table.num_rows == expected.num_rows
    # The nanny started a new worker process in place of the killed one.
    client.wait_for_workers(2, timeout=30)
    assert pids[victim] not in client.run(os.getpid).values()
    leftovers = [p for p in (tmp_path / "tokens").iterdir() if p.name.startswith(".")]
    leftovers += [p for p in (tmp_path / "files").iterdir() if p.name.startswith(".")]
    # A killed task may leave a hidden temporary file (never read by the dataset).
    assert all(p.name.endswith(".tmp") for p in leftovers)
