"""Structures from what other libraries hold: a Biotite ``AtomArray`` (duck typed)."""

import numpy as np

from ._bfactor import Structure, _from_atoms


def from_atom_array(atoms, tokens: str = "ca", b_column: str = "detect") -> Structure:
    """A structure from a Biotite ``AtomArray`` (or any object with its annotations).

    Parameters
    ----------
    atoms : biotite.structure.AtomArray
        One model (pick one of an ``AtomArrayStack`` with ``stack[0]``). Read:
        ``coord``, ``chain_id``, ``res_id``, ``ins_code``, ``res_name``,
        ``atom_name``, ``element``, ``hetero``, and ``b_factor`` and
        ``occupancy`` if present (absent: B-factors 0, so every token is
        masked; occupancies 1). Biotite is not imported.
    tokens : {"ca", "boltz2"}
        As in :func:`bfactor.read`.
    b_column : {"detect", "b-factor", "plddt"}
        What ``b_factor`` holds, as in :func:`bfactor.read`; ``"detect"`` has
        no header to go by, only the values (one per residue, all in [0, 100]:
        pLDDT).

    Returns
    -------
    Structure
        The structure :func:`bfactor.read` makes from a file of those atoms'
        records alone: an ``AtomArray`` holds no resolution and no space group,
        so the predictor sees the model without its crystal context.
        :meth:`Structure.atom_values` turns per-token values into one per atom
        of ``atoms``, e.g. ``atoms.set_annotation("b_factor", st.atom_values(b))``.
        It has no file text: it does not pickle, and :func:`bfactor.write`
        writes it through pdbtbx.

    Raises
    ------
    TypeError
        ``atoms`` lacks an annotation, or ``coord`` is not ``[n_atoms, 3]`` floats.
    bfactor.Error
        A coordinate or B-factor is not finite, an identifier is not ASCII, or
        no atom makes a token.
    """
    coord = np.asarray(getattr(atoms, "coord", None))
    if coord.ndim != 2:
        raise TypeError(
            f"atoms.coord has shape {coord.shape}, expected [n_atoms, 3] "
            "(an AtomArray; for an AtomArrayStack pick one model, stack[0])"
        )
    n = coord.shape[0]

    def annotation(name, default=None):
        value = getattr(atoms, name, None)
        if value is None:
            if default is None:
                raise TypeError(f"atoms has no {name!r} annotation (expected a Biotite AtomArray)")
            return default
        return value

    return _from_atoms(
        coord,
        [str(c) for c in annotation("chain_id")],
        np.asarray(annotation("res_id")).astype(np.int64).tolist(),
        [str(c) for c in annotation("ins_code")],
        [str(c) for c in annotation("res_name")],
        [str(c) for c in annotation("atom_name")],
        [str(c) for c in annotation("element")],
        np.asarray(annotation("hetero")).astype(bool).tolist(),
        np.asarray(annotation("b_factor", np.zeros(n)), np.float64).tolist(),
        np.asarray(annotation("occupancy", np.ones(n)), np.float64).tolist(),
        tokens=tokens,
        b_column=b_column,
    )
