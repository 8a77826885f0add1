"""Pickling, threads, fork, and the console script."""

import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import sysconfig
import threading

import numpy as np
import pytest

import bfactor
from conftest import ROOT

FILES = sorted((ROOT / "data/crystal").glob("*.gz"))[:6]


@pytest.fixture(scope="module")
def predictor():
    return bfactor.Predictor.pretrained()


def test_pickle_round_trips(predictor):
    st = bfactor.read(FILES[0], tokens="boltz2")
    st2 = pickle.loads(pickle.dumps(st))
    for name in ["bfactors", "mask", "chain_ids", "residue_numbers", "residue_names"]:
        np.testing.assert_array_equal(getattr(st2, name), getattr(st, name))
    np.testing.assert_array_equal(np.isnan(st2.coords), np.isnan(st.coords))
    assert st2.warnings == st.warnings
    p2 = pickle.loads(pickle.dumps(predictor))
    np.testing.assert_array_equal(p2.predict(st2), predictor.predict(st))
    assert p2.feature_names == predictor.feature_names
    head = bfactor.BFactorHead(12, num_bins=7, max_bfactor=80.0, seed=4, dtype="float64")
    h2 = pickle.loads(pickle.dumps(head))
    s = np.random.default_rng(0).standard_normal((3, 12))
    np.testing.assert_array_equal(h2.forward(s).bfactor, head.forward(s).bfactor)
    assert (h2.dtype, h2.max_bfactor) == ("float64", 80.0)
    b2 = bfactor.Boltz2Head.load(ROOT / "tests/fixtures/boltz2/weights/boltz2_f32.safetensors")
    s = np.ones((2, 16), np.float32)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(b2)).logits(s), b2.logits(s))


def test_structure_from_bytes_rejects_other_bytes(predictor):
    with pytest.raises(bfactor.Error, match="not structure bytes"):
        bfactor.Structure.from_bytes(predictor.to_bytes())
    with pytest.raises(bfactor.Error):
        bfactor.Predictor.from_bytes(b"garbage")


def test_threads_give_the_serial_results(predictor):
    structures = [bfactor.read(f) for f in FILES]
    serial = [predictor.predict(st) for st in structures]
    out = [None] * len(structures)

    def work(i):
        out[i] = predictor.predict(structures[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(structures))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(serial, out):
        np.testing.assert_array_equal(a, b)


def _predict_in_child(path):
    st = bfactor.read(path)
    return bfactor.Predictor.pretrained().predict(st).tolist()


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the default start method on Linux only")
def test_fork_after_the_pool_ran(predictor):
    # The parent has used the thread pool (rayon's threads do not survive fork).
    want = [predictor.predict(bfactor.read(f)).tolist() for f in FILES[:3]]
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        got = pool.map(_predict_in_child, FILES[:3], chunksize=1)
    assert got == want
    # Structures and predictors sent to spawned workers (pickled).
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        got = pool.map(predictor.predict, [bfactor.read(f) for f in FILES[:2]])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_rayon_num_threads_is_honoured():
    # One thread gives the same predictions (the pool's size never changes results).
    code = (
        "import bfactor, sys; st = bfactor.read(sys.argv[1]);"
        "print(repr(bfactor.Predictor.pretrained().predict(st).tolist()))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, str(FILES[1])],
            env={**os.environ, "RAYON_NUM_THREADS": n},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in ["1", "2"]
    ]
    assert runs[0] == runs[1] and runs[0].startswith("[")


def bfactor_script():
    return os.path.join(sysconfig.get_path("scripts"), "bfactor")


def test_console_script_is_the_rust_command(tmp_path):
    exe = bfactor_script()
    assert os.path.exists(exe), exe
    version = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("bfactor ")
    out = subprocess.run(
        [exe, "predict", str(FILES[0]), "--table", "csv", "-q"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    same = subprocess.run(
        [sys.executable, "-m", "bfactor", "predict", str(FILES[0]), "--table", "csv", "-q"],
        capture_output=True,
        text=True,
    )
    assert same.stdout == out.stdout and same.returncode == 0
    # Its rows are the library's predictions.
    rows = [line.split(",") for line in out.stdout.splitlines()[1:]]
    assert len(rows) > 10
    # Exit statuses: a usage error is 2, a file that fails is 1.
    assert subprocess.run([exe, "predict", "--no-such-flag"], capture_output=True).returncode == 2
    bad = tmp_path / "bad.pdb"
    bad.write_text("ATOM  garbage\n")
    failed = subprocess.run([exe, "predict", str(bad), "-q"], capture_output=True, text=True)
    assert failed.returncode == 1 and "bad.pdb" in failed.stderr
