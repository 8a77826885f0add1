"""Type stubs of the extension module ``bfactor._bfactor`` (re-exported by ``bfactor``)."""

from os import PathLike
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

_Float = np.float32 | np.float64
_Array = npt.NDArray[_Float]
_ArrayLike = npt.ArrayLike
_Dtype = Literal["float32", "float64"]
_Tokens = Literal["ca", "boltz2"]
_BColumn = Literal["detect", "b-factor", "plddt"]

class Error(ValueError):
    """An error of the bfactor crate (bad shape, non-finite value, unparsable file, ...)."""

class HeadOutput:
    """What a head's ``forward`` returns, in the input's dtype."""

    logits: _Array
    """Bin logits, ``[..., num_bins]``."""
    bfactor: _Array
    """Expected B-factors, ``[...]``."""

class BFactorHead:
    """The reference notebook's head: layer norm, W1, ReLU, layer norm, W2, softmax expectation."""

    def __init__(
        self,
        c_s: int,
        num_bins: int = 64,
        max_bfactor: float = 100.0,
        seed: int = 0,
        dtype: _Dtype = "float32",
    ) -> None: ...
    @staticmethod
    def from_weights(w1: _ArrayLike, w2: _ArrayLike, max_bfactor: float = 100.0) -> BFactorHead: ...
    def forward(self, s: _ArrayLike) -> HeadOutput: ...
    @property
    def dtype(self) -> _Dtype: ...
    @property
    def max_bfactor(self) -> float: ...
    @property
    def w1(self) -> _Array: ...
    @property
    def w2(self) -> _Array: ...

class Boltz2Head:
    """Boltz-2's released B-factor module: ``logits = s @ weight.T + bias``."""

    @staticmethod
    def load(path: str | PathLike[str], dtype: _Dtype = "float32") -> Boltz2Head: ...
    @staticmethod
    def from_weights(weight: _ArrayLike, bias: _ArrayLike) -> Boltz2Head: ...
    def logits(self, s: _ArrayLike) -> _Array: ...
    def forward(self, s: _ArrayLike) -> HeadOutput: ...
    @property
    def dtype(self) -> _Dtype: ...
    @property
    def weight(self) -> _Array: ...
    @property
    def bias(self) -> _Array: ...

class Structure:
    """A structure read from a PDB or mmCIF file (or made from atoms): per-token arrays."""

    @property
    def bfactors(self) -> npt.NDArray[np.float64]: ...
    @property
    def mask(self) -> npt.NDArray[np.float64]: ...
    @property
    def coords(self) -> npt.NDArray[np.float64]: ...
    @property
    def chain_ids(self) -> npt.NDArray[np.str_]: ...
    @property
    def residue_numbers(self) -> npt.NDArray[np.int64]: ...
    @property
    def residue_names(self) -> npt.NDArray[np.str_]: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def provenance(self) -> str: ...
    @property
    def method(self) -> str | None: ...
    @property
    def predictor(self) -> str | None: ...
    @property
    def resolution(self) -> float | None: ...
    @property
    def b_column(self) -> Literal["b-factor", "plddt", "unusable"]: ...
    @property
    def plddt(self) -> npt.NDArray[np.float64] | None: ...
    @property
    def models(self) -> int: ...
    def ensemble_bfactors(self) -> npt.NDArray[np.float64] | None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> Structure: ...
    def atom_values(self, values: _ArrayLike, fill: float = ...) -> npt.NDArray[np.float64]: ...
    def __len__(self) -> int: ...

class Predictor:
    """The bundled B-factor predictor, or one saved by the crate's training."""

    @staticmethod
    def pretrained() -> Predictor: ...
    @staticmethod
    def load(path: str | PathLike[str]) -> Predictor: ...
    @staticmethod
    def from_bytes(data: bytes) -> Predictor: ...
    def to_bytes(self) -> bytes: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    @property
    def feature_names(self) -> list[str]: ...
    def predict(self, st: Structure) -> npt.NDArray[np.float64]: ...
    def predict_atoms(self, st: Structure) -> dict[str, Any]:
        """Predicted B-factors of every heavy atom of the amino-acid residues.

        Parameters
        ----------
        st : Structure
            The structure (either token mode).

        Returns
        -------
        dict
            One entry per atom: ``chain``, ``residue_number`` (int64),
            ``insertion_code``, ``residue_name``, ``atom_name``, ``alt_loc``
            (lists, "" for none), ``token`` (int64, the residue's token),
            ``value`` (float64, the prediction in Å²), ``bfactor`` (float64, the
            file's B column) and ``mask`` (bool, whether ``bfactor`` is a usable
            experimental B); and ``token_value`` (float64 ``[n_tokens]``, the
            per-token prediction at the atoms' level: what ``predict`` returns,
            unless a chain's spread was shrunk to keep its atoms' B positive).

        Raises
        ------
        bfactor.Error
            If the predictor has no per-atom model.
        """
    def write_atoms(self, st: Structure, path: str | PathLike[str]) -> None:
        """Writes a copy of the structure's file at ``path`` (format from the
        name) with the per-atom predictions in the B-factor column: each
        predicted atom its own value (its other alternate locations and later
        models too), every other atom of a token its token's (hydrogens; with
        ``tokens="boltz2"`` ligand atoms), atoms of no token (waters; ligands
        with ``tokens="ca"``) the file's B."""

def read(
    source: str | PathLike[str] | bytes,
    tokens: _Tokens = "ca",
    format: Literal["pdb", "cif", "mmcif"] | None = None,
    b_column: _BColumn = "detect",
) -> Structure: ...
def write(st: Structure, values: _ArrayLike, path: str | PathLike[str]) -> None: ...
def plddt_to_b(plddt: _ArrayLike) -> npt.NDArray[np.floating]: ...
def atom_wcn(
    structure: Structure,
    cutoff: float = 15.0,
    blur: float | None = None,
    crystal: bool = True,
    min_dist: float = 0.8,
    exponent: float = 2.0,
) -> dict[str, Any]: ...
def plddt_to_b_text(structure: Structure, min_plddt: float | None = 70.0) -> str: ...
def normalized_mse(pred: _ArrayLike, target: _ArrayLike, mask: _ArrayLike | None = None) -> float: ...
def pearson(pred: _ArrayLike, target: _ArrayLike, mask: _ArrayLike | None = None) -> float: ...
def binned_cross_entropy(logits: _ArrayLike, bfactor_targets: _ArrayLike) -> float: ...
def square_fluctuations(coords: _ArrayLike, cutoff: float = 10.0) -> npt.NDArray[np.float64]: ...
def _from_atoms(
    coords: _ArrayLike,
    chain_ids: list[str],
    residue_numbers: list[int],
    insertion_codes: list[str],
    residue_names: list[str],
    atom_names: list[str],
    elements: list[str],
    hetero: list[bool],
    bfactors: list[float],
    occupancies: list[float],
    tokens: _Tokens = "ca",
    b_column: _BColumn = "detect",
) -> Structure: ...
def _main(argv: list[str]) -> int: ...
def _predict_tables(
    paths: list[str | PathLike[str]],
    predictor: Predictor | None = None,
    tokens: _Tokens = "ca",
) -> tuple[bytes, bytes, int]: ...
