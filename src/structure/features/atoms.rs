//! What the descriptors are computed from: the heavy atoms and residue nodes of
//! the first model of the file, read from pdbtbx (all chains).

use std::collections::HashMap;
use std::ops::Range;

use pdbtbx::{Atom, Conformer, Element, Residue};

use super::super::{Structure, WATER_NAMES};
use crate::{Error, Result};

/// The 20 standard amino acids and `UNK`.
pub(crate) const AMINO_ACIDS: [&str; 21] = [
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
    "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "UNK",
];

/// Nucleotide names in Boltz-2's vocabulary.
pub(crate) const NUCLEOTIDES: [&str; 10] = ["A", "C", "G", "U", "N", "DA", "DC", "DG", "DT", "DN"];

/// Peptide-bond length bound (Å), as [`crate::structure::TokenMode::CaOnly`].
const PEPTIDE_BOND_MAX: f64 = 2.0;

/// What a residue node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// An amino acid, at its CA.
    Amino,
    /// A nucleotide, at its C4'.
    Nucleotide,
}

/// One residue of the file: its atoms without an alternate location and those
/// of its first alternate location (in file order), atoms present.
pub(crate) struct ResidueInfo {
    /// Its residue node, if it is an amino acid or nucleotide with a node atom.
    pub node: Option<usize>,
    /// Its CB atom, if any.
    pub cb: Option<[f64; 3]>,
    /// Its heavy atoms: a range of [`Model::atoms`].
    pub atoms: Range<usize>,
}

/// One residue node.
pub(crate) struct Node {
    pub pos: [f64; 3],
    pub residue: usize,
    pub kind: NodeKind,
}

/// The heavy atoms and residue nodes of the first model.
pub(crate) struct Model {
    /// Heavy atoms (no hydrogen, no water), residue by residue.
    pub atoms: Vec<[f64; 3]>,
    /// The residue of each heavy atom.
    pub atom_residue: Vec<u32>,
    pub residues: Vec<ResidueInfo>,
    /// Residue nodes, chain by chain in file order.
    pub nodes: Vec<Node>,
    /// Per chain: its id and its nodes (a range of `nodes`).
    pub chains: Vec<(String, Range<usize>)>,
    /// (chain id, residue number, insertion code) → residue index (first one).
    lookup: HashMap<(String, isize, Option<String>), usize>,
    /// Whether the file has side chains (see the module doc).
    pub has_side_chains: bool,
}

/// Hydrogen or deuterium: by element, or by the name's first letter where the
/// file gives no element.
pub(crate) fn is_hydrogen(atom: &Atom) -> bool {
    match atom.element() {
        Some(e) => *e == Element::H,
        None => atom.name().starts_with(['H', 'D']),
    }
}

fn pos(atom: &Atom) -> [f64; 3] {
    let (x, y, z) = atom.pos();
    [x, y, z]
}

/// The conformers of a residue the descriptors see: those without an alternate
/// location, then its first alternate location.
pub(crate) fn first_conformers(residue: &Residue) -> impl Iterator<Item = &Conformer> {
    let alt = residue
        .conformers()
        .find(|c| c.alternative_location().is_some());
    residue
        .conformers()
        .filter(|c| c.alternative_location().is_none())
        .chain(alt)
}

/// A residue's atoms as the descriptors see them: those of its
/// [`first_conformers`].
fn residue_atoms(residue: &Residue) -> Vec<&Atom> {
    first_conformers(residue).flat_map(|c| c.atoms()).collect()
}

fn find<'a>(residue: &'a Residue, name: &str) -> Option<&'a Atom> {
    residue_atoms(residue)
        .into_iter()
        .find(|a| a.name() == name)
}

fn peptide_bond(a: &Residue, b: &Residue) -> bool {
    match (find(a, "C"), find(b, "N")) {
        (Some(c), Some(n)) => {
            super::grid::dist2(&pos(c), &pos(n)) <= PEPTIDE_BOND_MAX * PEPTIDE_BOND_MAX
        }
        _ => false,
    }
}

impl Model {
    pub(crate) fn new(st: &Structure) -> Result<Self> {
        let mut m = Model {
            atoms: Vec::new(),
            atom_residue: Vec::new(),
            residues: Vec::new(),
            nodes: Vec::new(),
            chains: Vec::new(),
            lookup: HashMap::new(),
            has_side_chains: false,
        };
        let (mut non_gly, mut with_cb) = (0usize, 0usize);
        let Some(model) = st.pdb().model(0) else {
            return Ok(m);
        };
        for chain in model.chains() {
            let first_node = m.nodes.len();
            let residues: Vec<&Residue> = chain.residues().collect();
            for (k, &residue) in residues.iter().enumerate() {
                let Some(conformer) = residue.conformers().next() else {
                    continue;
                };
                if residue.atom_count() == 0 {
                    continue;
                }
                let name = conformer.name();
                let atoms = residue_atoms(residue);
                if WATER_NAMES.contains(&name) {
                    continue;
                }
                let r = m.residues.len();
                let start = m.atoms.len();
                for &atom in atoms.iter().filter(|a| !is_hydrogen(a)) {
                    let p = pos(atom);
                    if !p.iter().all(|v| v.is_finite()) {
                        return Err(Error::non_finite(
                            format!(
                                "coordinates of atom {} of residue {name} {:?} in chain {}",
                                atom.name(),
                                residue.id(),
                                chain.id()
                            ),
                            vec![atom.serial_number()],
                            p.into_iter().find(|v| !v.is_finite()).unwrap_or(f64::NAN),
                        ));
                    }
                    m.atoms.push(p);
                    m.atom_residue.push(r as u32);
                }
                let has = |n: &str| atoms.iter().any(|a| a.name() == n);
                let node = if let Some(ca) = atoms.iter().find(|a| a.name() == "CA") {
                    let amino = AMINO_ACIDS.contains(&name)
                        || (has("N")
                            && has("C")
                            && ((k > 0 && peptide_bond(residues[k - 1], residue))
                                || residues
                                    .get(k + 1)
                                    .is_some_and(|&next| peptide_bond(residue, next))));
                    amino.then(|| (pos(ca), NodeKind::Amino))
                } else if NUCLEOTIDES.contains(&name) {
                    atoms
                        .iter()
                        .find(|a| a.name() == "C4'" || a.name() == "C4*")
                        .map(|a| (pos(a), NodeKind::Nucleotide))
                } else {
                    None
                };
                let cb = atoms.iter().find(|a| a.name() == "CB").map(|a| pos(a));
                let node = node.map(|(p, kind)| {
                    if kind == NodeKind::Amino && name != "GLY" {
                        non_gly += 1;
                        with_cb += usize::from(cb.is_some());
                    }
                    m.nodes.push(Node {
                        pos: p,
                        residue: r,
                        kind,
                    });
                    m.nodes.len() - 1
                });
                let (number, icode) = residue.id();
                m.lookup
                    .entry((chain.id().to_string(), number, icode.map(str::to_string)))
                    .or_insert(r);
                m.residues.push(ResidueInfo {
                    node,
                    cb,
                    atoms: start..m.atoms.len(),
                });
            }
            m.chains
                .push((chain.id().to_string(), first_node..m.nodes.len()));
        }
        m.has_side_chains = if non_gly > 0 {
            2 * with_cb >= non_gly
        } else {
            m.atoms.len() > m.nodes.len()
        };
        Ok(m)
    }

    /// The residue with this chain id, number and insertion code.
    pub(crate) fn residue_of(
        &self,
        chain: &str,
        number: isize,
        icode: Option<&str>,
    ) -> Option<usize> {
        self.lookup
            .get(&(chain.to_string(), number, icode.map(str::to_string)))
            .copied()
    }

    /// Node positions.
    pub(crate) fn node_positions(&self) -> Vec<[f64; 3]> {
        self.nodes.iter().map(|n| n.pos).collect()
    }
}
