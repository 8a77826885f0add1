//! Per-token B-factors from per-atom ones, the way Boltz-2 makes its training
//! targets: each token takes the B-factor of one representative atom (its
//! "distogram atom"), not the residue average.
//!
//! ```
//! use bfactor::tokens::{representative_atom, token_bfactors};
//! use bfactor::ndarray::array;
//!
//! assert_eq!(representative_atom("ALA"), Some("CB"));
//! assert_eq!(representative_atom("GLY"), Some("CA"));
//! assert_eq!(representative_atom("DG"), Some("C4"));
//! assert_eq!(representative_atom("HOH"), None); // not a polymer token
//!
//! // Atoms of two residues; the second residue has no representative atom resolved.
//! let atom_b = array![11.0, 12.5, 13.0, 20.0];
//! let b = token_bfactors(&atom_b, &[Some(2), None])?;
//! assert_eq!(b, array![13.0, 0.0]); // 0 is masked by the loss's B > 1e-5 rule
//! # Ok::<(), bfactor::Error>(())
//! ```

use ndarray::{Array, Array1, ArrayBase, Axis, Data, Ix1, RemoveAxis};

use crate::{check, Error, Float, Result};

/// Boltz-2's representative atom of each polymer residue type (its
/// `const.res_to_disto_atom`): CB for amino acids and UNK, CA for glycine, C4 for
/// purines, C2 for pyrimidines, C1' for unknown nucleotides. A ligand
/// (non-polymer) atom is a token of its own and is its own representative.
pub const REPRESENTATIVE_ATOMS: &[(&str, &str)] = &[
    ("ALA", "CB"),
    ("ARG", "CB"),
    ("ASN", "CB"),
    ("ASP", "CB"),
    ("CYS", "CB"),
    ("GLN", "CB"),
    ("GLU", "CB"),
    ("GLY", "CA"),
    ("HIS", "CB"),
    ("ILE", "CB"),
    ("LEU", "CB"),
    ("LYS", "CB"),
    ("MET", "CB"),
    ("PHE", "CB"),
    ("PRO", "CB"),
    ("SER", "CB"),
    ("THR", "CB"),
    ("TRP", "CB"),
    ("TYR", "CB"),
    ("VAL", "CB"),
    ("UNK", "CB"),
    ("A", "C4"),
    ("G", "C4"),
    ("C", "C2"),
    ("U", "C2"),
    ("N", "C1'"),
    ("DA", "C4"),
    ("DG", "C4"),
    ("DC", "C2"),
    ("DT", "C2"),
    ("DN", "C1'"),
];

/// The representative atom's name for a polymer residue name (e.g. `"CB"` for
/// `"ALA"`), or `None` for a name outside Boltz-2's polymer vocabulary (a ligand,
/// whose atoms are tokens of their own).
pub fn representative_atom(residue_name: &str) -> Option<&'static str> {
    REPRESENTATIVE_ATOMS
        .iter()
        .find(|(res, _)| *res == residue_name)
        .map(|&(_, atom)| atom)
}

/// Per-token B-factors: token `t` gets `atom_bfactors[rep_atoms[t]]`, or 0 where
/// its representative atom is missing (`None`), which the binned loss then masks.
///
/// Errors if an index is out of range or a B-factor is not finite.
pub fn token_bfactors<F, S>(
    atom_bfactors: &ArrayBase<S, Ix1>,
    rep_atoms: &[Option<usize>],
) -> Result<Array1<F>>
where
    F: Float,
    S: Data<Elem = F>,
{
    check::finite("atom_bfactors", atom_bfactors)?;
    let n_atoms = atom_bfactors.len();
    rep_atoms
        .iter()
        .enumerate()
        .map(|(t, idx)| match *idx {
            None => Ok(F::zero()),
            Some(a) if a < n_atoms => Ok(atom_bfactors[a]),
            Some(a) => Err(Error::shape_mismatch(
                format!("rep_atoms[{t}]"),
                [n_atoms],
                [a],
                "an atom index below the number of atoms",
            )),
        })
        .collect()
}

/// Boltz-2's form: `token_to_rep_atom` `[..., T, A]` (one-hot rows, all-zero for
/// a token without its atom) times atom B-factors `[..., A]`, giving `[..., T]`.
/// Any leading (batch) axes are matched pairwise, like `torch.bmm`.
pub fn token_bfactors_from_matrix<F, S1, S2, D>(
    token_to_rep_atom: &ArrayBase<S1, D>,
    atom_bfactors: &ArrayBase<S2, D::Smaller>,
) -> Result<Array<F, D::Smaller>>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    D: RemoveAxis,
{
    let shape = token_to_rep_atom.shape();
    if shape.len() < 2 {
        return Err(Error::rank(
            "token_to_rep_atom",
            "at least 2 ([..., tokens, atoms])",
            shape.len(),
            shape,
        ));
    }
    let (lead, t_axis) = (&shape[..shape.len() - 2], shape.len() - 2);
    let mut expected = lead.to_vec();
    expected.push(shape[shape.len() - 1]);
    check::same_shape(
        "atom_bfactors",
        atom_bfactors.shape(),
        &expected,
        "[..., atoms], matching token_to_rep_atom [..., tokens, atoms]",
    )?;
    check::finite("token_to_rep_atom", token_to_rep_atom)?;
    check::finite("atom_bfactors", atom_bfactors)?;
    // out[..., t] = Σ_a m[..., t, a] · b[..., a]: insert the token axis into b and
    // reduce over the atom axis.
    let b = atom_bfactors.view().into_dyn().insert_axis(Axis(t_axis));
    let prod = &token_to_rep_atom.view().into_dyn() * &b;
    Ok(prod
        .sum_axis(Axis(shape.len() - 1))
        .into_dimensionality()
        .expect("rank of atom_bfactors"))
}

/// Converts a molecular-dynamics RMSF (Å) into a B-factor (Å²): `B = 8π²·RMSF²`,
/// as Boltz-2 does for its MD training data.
pub fn rmsf_to_bfactor<F: Float>(rmsf: F) -> F {
    F::from_f64_lossy(8.0 * std::f64::consts::PI * std::f64::consts::PI) * rmsf * rmsf
}

/// [`rmsf_to_bfactor`] over an array of any shape.
pub fn rmsf_to_bfactors<F, S, D>(rmsf: &ArrayBase<S, D>) -> Result<Array<F, D>>
where
    F: Float,
    S: Data<Elem = F>,
    D: ndarray::Dimension,
{
    check::finite("rmsf", rmsf)?;
    Ok(rmsf.mapv(rmsf_to_bfactor))
}
