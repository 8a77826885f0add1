"""gemmi's all-heavy-atom WCN from Python: the values gemmi's own `gemmi wcn` program
wrote (tests/fixtures/wcn/, scripts/gen_wcn_fixtures.py), per atom, and per token."""

import collections

import numpy as np
import pytest

import bfactor
from conftest import ROOT

CRYSTAL = ROOT / "data" / "crystal"
FIXTURES = ROOT / "tests" / "fixtures" / "wcn"


def gemmi_values(entry, setting):
    rows = {}
    for line in (FIXTURES / f"{entry}_{setting}.tsv").read_text().splitlines()[2:]:
        chain, seqid, atom, k, value = line.split("\t")
        rows[(chain, seqid, atom, int(k))] = float(value)
    return rows


@pytest.mark.parametrize("setting,kwargs", [
    ("default", {}),
    ("blur2", {"blur": 2.0}),
    ("nocrystal", {"crystal": False}),
])
@pytest.mark.parametrize("file", ["1UBQ.pdb.gz", "1EJG.pdb.gz", "5PTI.cif.gz"])
def test_matches_gemmi_per_atom(file, setting, kwargs):
    want = gemmi_values(file.split(".")[0], setting)
    st = bfactor.read(CRYSTAL / file)
    w = bfactor.atom_wcn(st, **kwargs)
    seen = collections.Counter()
    got = {}
    for chain, num, icode, atom, v in zip(w["chain"], w["residue_number"], w["insertion_code"],
                                          w["atom_name"], w["value"]):
        key = (chain, f"{num}{icode}", atom)
        got[key + (seen[key],)] = v
        seen[key] += 1
    assert got.keys() == want.keys()
    rel = max(abs(got[k] - want[k]) / want[k] for k in want)
    assert rel < 2e-5


def test_token_values_are_the_ca_atoms():
    st = bfactor.read(CRYSTAL / "1UBQ.pdb.gz", tokens="ca")
    w = bfactor.atom_wcn(st)
    assert w["token_value"].shape == (len(st),)
    assert w["token_defined"].all()
    ca = {num: v for num, atom, v in zip(w["residue_number"], w["atom_name"], w["value"])
          if atom == "CA"}
    np.testing.assert_array_equal(w["token_value"], [ca[n] for n in sorted(ca)])


def test_bad_settings_raise():
    st = bfactor.read(CRYSTAL / "1UBQ.pdb.gz")
    with pytest.raises(bfactor.Error, match="blur"):
        bfactor.atom_wcn(st, blur=0.0)
    with pytest.raises(bfactor.Error, match="cutoff"):
        bfactor.atom_wcn(st, cutoff=0.5)
