#!/usr/bin/python3
"""Generate the ProDy parity fixtures of the Gaussian network model under
``tests/fixtures/gnm/``.

Needs Debian's ``python3-prody`` (``apt-get install python3-prody``; ProDy 2.3.1
on bookworm) and the PDB files of Debian's ``python3-prody-tests`` package. Run
from the repository root with Debian's Python (a pyenv or venv ``python3`` that
comes first on ``PATH`` does not see Debian's packages; ``/usr/bin/python3``
does)::

    python3 scripts/gen_gnm_fixtures.py            # or /usr/bin/python3 ...

The PDB files are looked for in ``--datafiles DIR``, then in the installed
``prody/tests/datafiles`` (if ``python3-prody-tests`` is installed), then in
``/tmp/prody-tests/usr/lib/python3/dist-packages/prody/tests/datafiles``; when
none has them, the script runs ``apt-get download python3-prody-tests`` and
``dpkg -x`` into ``/tmp/prody-tests`` (nothing is written into the repository
but the fixtures). CI never runs this script, it only reads the committed files.

The script deletes ``tests/fixtures/gnm/`` and writes it again. Every reference
value is ProDy's own GNM::

    gnm = prody.GNM()
    gnm.buildKirchhoff(coords, cutoff=cutoff, gamma=gamma)
    gnm.calcModes(n_modes=None)        # every nonzero mode (zeros=False)
    prody.calcSqFlucts(gnm)            # sum_k v_k**2 / lambda_k

for the settings ``(cutoff, gamma)`` in ``SETTINGS``: 10 A (ProDy's default, as
``prody gnm`` uses) and 7.3 A (the classical GNM cutoff), gamma 1 and 2.5.

Files (all ``.npy``, float64 unless said; ``{tag}`` is ``c10_g1``,
``c7.3_g1``, ``c10_g2.5``, ``c7.3_g2.5``):

``{case}/coords.npy``
    The node coordinates ``[n, 3]`` in Angstrom (for the PDB entries, the CA
    atoms of ``parsePDB(...).select('calpha')``, ProDy's default altloc).
``{case}/sqflucts_{tag}.npy``
    ``calcSqFlucts`` of the GNM, ``[n]``.
``{case}/eigvals_{tag}.npy``
    ``gnm.getEigvals()``: the nonzero eigenvalues ProDy keeps, ascending.
``{case}/contacts_c{cutoff}.npy``
    int32 ``[n]``: the diagonal of ``gnm.getKirchhoff()`` for gamma 1, the
    number of contacts of each node (the diagonal is gamma times it).

Extra arrays:

``1ubi/edges_c10.npy``, ``1ubi/edges_c7.3.npy``
    int32 ``[m, 2]``: the pairs ``i < j`` with ``kirchhoff[i, j] != 0``, in
    row-major order, for gamma 1.
``1ubi/modes_c10_g1.npy``
    ``gnm.getEigvecs()[:, :3]``: the three slowest modes (compared up to sign).
``1ubi/bfactors.npy``
    The CA atoms' B-factors from the PDB file; ``1ubi/fit_c10_g1.npy`` holds
    ``[k]``, the least-squares scale ``sum(f * b) / sum(f * f)`` of the
    ``c10_g1`` square fluctuations ``f`` to them, computed with NumPy, and
    ``1ubi/fitted_c10_g1.npy`` holds ``k * f``.

Cases:

``1ubi``
    Ubiquitin, 76 CA atoms, one chain.
``3mht``
    327 CA atoms, one chain.
``3hsy``
    730 CA atoms, chains A and B in contact.
``two_chains``
    Ubiquitin's CA atoms and a 25-residue ideal alpha helix (radius 2.3 A,
    100 degrees and 1.5 A per residue) 100 A away: two connected components,
    two zero eigenvalues, which ProDy drops (it counts eigenvalues below
    ``prody.utilities.eigtools.ZERO = 1e-6`` as zero).
``isolated``
    Ubiquitin's CA atoms with one node 60 A from every other inserted at index
    30 and a two-node pair (3.8 A apart) 60 A away on the other side appended
    at the end: three components, one of them a single node whose square
    fluctuation ProDy reports as (numerically) zero.
``cutoff_edge``
    Three nodes: ``(0, 0, 0)``, ``(10.0000001, 0, 0)``, ``(0, -9, 0)``. ProDy's
    KD-tree works in single precision, where the first two are exactly 10 A
    apart, so with cutoff 10 they are in contact (a double-precision test
    would leave node 1 isolated). Only the cutoff-10 settings are written.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys

import numpy as np

import prody

prody.confProDy(verbosity="none")

SETTINGS = [(10.0, 1.0), (7.3, 1.0), (10.0, 2.5), (7.3, 2.5)]
PDB_CASES = ["1ubi", "3mht", "3hsy"]
DATAFILES_TMP = "/tmp/prody-tests"
DATAFILES_SUB = "usr/lib/python3/dist-packages/prody/tests/datafiles"
OUT = os.path.join("tests", "fixtures", "gnm")


def tag(cutoff, gamma):
    return "c{:g}_g{:g}".format(cutoff, gamma)


def find_datafiles(explicit):
    candidates = []
    if explicit:
        candidates.append(explicit)
    candidates.append(os.path.join(os.path.dirname(prody.__file__), "tests", "datafiles"))
    candidates.append(os.path.join(DATAFILES_TMP, DATAFILES_SUB))
    for c in candidates:
        if os.path.isfile(os.path.join(c, "pdb1ubi.pdb")):
            return c
    if explicit:
        sys.exit("no pdb1ubi.pdb in --datafiles {}".format(explicit))
    # Fetch Debian's test-data package into /tmp (never into the repository).
    os.makedirs(DATAFILES_TMP, exist_ok=True)
    subprocess.run(["apt-get", "download", "python3-prody-tests"], cwd=DATAFILES_TMP, check=True)
    debs = sorted(glob.glob(os.path.join(DATAFILES_TMP, "python3-prody-tests_*.deb")))
    subprocess.run(["dpkg", "-x", debs[-1], DATAFILES_TMP], check=True)
    return os.path.join(DATAFILES_TMP, DATAFILES_SUB)


def prody_gnm(coords, cutoff, gamma):
    gnm = prody.GNM()
    gnm.buildKirchhoff(coords, cutoff=cutoff, gamma=gamma)
    gnm.calcModes(n_modes=None)
    return gnm


def save(case, name, array):
    d = os.path.join(OUT, case)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, name + ".npy"), array)


def write_case(case, coords, settings=SETTINGS):
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    save(case, "coords", coords)
    for cutoff, gamma in settings:
        gnm = prody_gnm(coords, cutoff, gamma)
        t = tag(cutoff, gamma)
        save(case, "sqflucts_" + t, np.asarray(prody.calcSqFlucts(gnm), dtype=np.float64))
        save(case, "eigvals_" + t, np.asarray(gnm.getEigvals(), dtype=np.float64))
        if gamma == 1.0:
            contacts = np.diag(gnm.getKirchhoff())
            assert np.array_equal(contacts, np.round(contacts))
            save(case, "contacts_c{:g}".format(cutoff), contacts.astype(np.int32))
        print("{:12s} {:10s} n={:4d} modes={:4d}".format(case, t, len(coords), gnm.numModes()))


def helix(n, start):
    k = np.arange(n)
    phi = np.deg2rad(100.0) * k
    return np.stack([2.3 * np.cos(phi), 2.3 * np.sin(phi), 1.5 * k], axis=1) + start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datafiles", help="folder with ProDy's test PDB files")
    args = parser.parse_args()
    datafiles = find_datafiles(args.datafiles)

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)

    cas = {}
    for case in PDB_CASES:
        ca = prody.parsePDB(os.path.join(datafiles, "pdb{}.pdb".format(case))).select("calpha")
        cas[case] = ca
        write_case(case, ca.getCoords())

    # Extras on ubiquitin.
    ubi = cas["1ubi"]
    coords = ubi.getCoords().astype(np.float64)
    for cutoff in (10.0, 7.3):
        k = prody_gnm(coords, cutoff, 1.0).getKirchhoff()
        i, j = np.nonzero(np.triu(k, 1))
        save("1ubi", "edges_c{:g}".format(cutoff), np.stack([i, j], axis=1).astype(np.int32))
    gnm = prody_gnm(coords, 10.0, 1.0)
    save("1ubi", "modes_c10_g1", np.ascontiguousarray(gnm.getEigvecs()[:, :3], dtype=np.float64))
    b = ubi.getBetas().astype(np.float64)
    f = np.asarray(prody.calcSqFlucts(gnm), dtype=np.float64)
    k = float(np.sum(f * b) / np.sum(f * f))
    save("1ubi", "bfactors", b)
    save("1ubi", "fit_c10_g1", np.array([k]))
    save("1ubi", "fitted_c10_g1", k * f)

    # Two chains far apart.
    far = helix(25, coords.mean(axis=0) + np.array([100.0, 0.0, 0.0]))
    write_case("two_chains", np.concatenate([coords, far]))

    # An isolated node in the middle and a far pair at the end.
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    lone = np.array([[lo[0] - 60.0, lo[1], lo[2]]])
    pair = np.array([[hi[0] + 60.0, hi[1], hi[2]], [hi[0] + 63.8, hi[1], hi[2]]])
    write_case("isolated", np.concatenate([coords[:30], lone, coords[30:], pair]))

    # A pair at 10.0000001 A: in contact in single precision.
    edge = np.array([[0.0, 0.0, 0.0], [10.0000001, 0.0, 0.0], [0.0, -9.0, 0.0]])
    write_case("cutoff_edge", edge, [s for s in SETTINGS if s[0] == 10.0])

    total = sum(
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs
    )
    print("wrote {} ({} bytes), ProDy {}".format(OUT, total, prody.__version__))


if __name__ == "__main__":
    main()
