"""bfactor.predict_files against the command's Parquet and CSV output of the same
files, and against Predictor.predict; failed files; the docs/cli.md snippet."""

import csv
import io
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import bfactor
from conftest import ROOT

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

MALFORMED = (
    "ATOM      1  N   MET A   1      27.340  24.430   2.614  1.00  9.67           N\n"
    "ATOM      2  CA  MET A   1      26.266  25.413\nEND\n"
)
COLUMNS = [
    "file", "chain", "residue_number", "insertion_code", "residue_name",
    "atom", "experimental_b", "plddt", "provenance", "method", "prediction",
]


def crystal(n):
    return sorted(str(p) for p in (ROOT / "data/crystal").glob("*.pdb.gz"))[:n]


def command(*args):
    return subprocess.run([sys.executable, "-m", "bfactor", *args], capture_output=True, text=True)


def test_the_table_equals_the_commands_parquet_and_csv(tmp_path):
    paths = crystal(3)
    table = bfactor.predict_files(paths)
    assert table.column_names == COLUMNS
    out = tmp_path / "t.parquet"
    run = command("predict", "-q", "--table", "parquet", "-o", str(out), *paths)
    assert run.returncode == 0, run.stderr
    assert pq.read_table(out).equals(table)
    csv_run = command("predict", "--table", "csv", *paths)
    rows = list(csv.DictReader(io.StringIO(csv_run.stdout)))
    assert len(rows) == table.num_rows
    for row, got in zip(rows, table.to_pylist()):
        assert got["file"] == row["file"] and got["atom"] == row["atom_name"]
        assert got["residue_number"] == int(row["residue_number"])
        assert got["prediction"] == float(row["prediction"])
        assert got["experimental_b"] == (float(row["experimental_b"]) if row["experimental_b"] else None)


def test_values_are_the_predictors_and_the_files_b_factors():
    paths = crystal(2)
    predictor = bfactor.Predictor.pretrained()
    table = bfactor.predict_files(paths, predictor=predictor)
    for path in paths:
        st = bfactor.read(path)
        mine = table.filter(pa.compute.equal(table.column("file"), path))
        assert mine.num_rows == len(st)
        np.testing.assert_array_equal(mine.column("prediction").to_numpy(), predictor.predict(st))
        exp = mine.column("experimental_b").to_pylist()
        for e, b, m in zip(exp, st.bfactors, st.mask):
            assert e == (b if m > 0 else None)
        assert mine.column("residue_number").to_pylist() == list(st.residue_numbers)


def test_a_failed_file_is_a_row_or_an_error(tmp_path):
    bad = tmp_path / "bad.pdb"
    bad.write_text(MALFORMED)
    paths = [crystal(1)[0], bad, tmp_path / "missing.pdb"]
    with pytest.raises(bfactor.Error, match="bad.pdb"):
        bfactor.predict_files(paths)
    table, files = bfactor.predict_files(paths, files=True)
    status = {row["file"]: row for row in files.to_pylist()}
    assert status[str(bad)]["status"] == "error" and "truncated" in status[str(bad)]["error"]
    assert status[str(tmp_path / "missing.pdb")]["status"] == "error"
    good = status[paths[0]]
    assert good["status"] == "ok" and good["error"] is None
    assert good["tokens"] == table.num_rows
    r = {c["chain"]: c["pearson"] for c in good["chains"]}
    st = bfactor.read(paths[0])
    b = bfactor.Predictor.pretrained().predict(st)
    for chain in r:
        sel = (st.chain_ids == chain) & (st.mask > 0)
        assert math.isclose(r[chain], np.corrcoef(b[sel], st.bfactors[sel])[0, 1], rel_tol=1e-9)


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="expected str or os.PathLike"):
        bfactor.predict_files([1])
    with pytest.raises(ValueError, match="tokens"):
        bfactor.predict_files(crystal(1), tokens="cb")
    with pytest.raises(TypeError, match="Predictor"):
        bfactor.predict_files(crystal(1), predictor="bundled")


def test_without_pyarrow_the_import_error_says_what_to_install(monkeypatch):
    for name in ["pyarrow", "pyarrow.ipc"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        bfactor.predict_files(crystal(1))


def test_the_slurm_recipes_reading_snippet_runs(tmp_path, monkeypatch):
    """Three shards as the recipe runs them, then docs/cli.md's python blocks."""
    paths = crystal(5)
    (tmp_path / "list.txt").write_text("".join(p + "\n" for p in paths))
    (tmp_path / "out").mkdir()
    for k in range(1, 4):
        out = tmp_path / "out" / f"shard-{k:05d}.parquet"
        run = command("-q", "predict", "--files-from", str(tmp_path / "list.txt"), "--shard", f"{k}/3",
                      "--table", "parquet", "-o", str(out))
        assert run.returncode == 0, run.stderr
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs/cli.md").read_text(), flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    scope = {"__name__": "__snippet__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/cli.md[python block {i}]", "exec"), scope)
    assert scope["tokens"].equals(bfactor.predict_files(paths))
    assert scope["files"].num_rows == 5
