//! Tokens: what a structure is cut into, one row of every per-token array.
//!
//! [`TokenMode::Boltz2`] cuts it the way Boltz-2 does: one token per standard
//! residue or nucleotide, represented by one atom ([`crate::tokens::representative_atom`]:
//! CB, CA for glycine, C4 for purines, C2 for pyrimidines, C1' for unknown
//! nucleotides), and one token per atom of everything else. [`TokenMode::CaOnly`]
//! makes one token per amino-acid residue at its CA, the classic coarse-grained
//! network-model input.

use std::collections::HashSet;

use pdbtbx::{Atom, Conformer, Element, Model, Residue};

use super::sites::OccupancyIndex;
use super::ReadOptions;
use crate::tokens::representative_atom;

/// What kind of molecule a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MoleculeKind {
    /// An amino-acid residue (the 20 standard ones and `UNK`).
    Protein,
    /// A deoxyribonucleotide (`DA`, `DC`, `DG`, `DT`, `DN`).
    Dna,
    /// A ribonucleotide (`A`, `C`, `G`, `U`, `N`).
    Rna,
    /// An atom of a ligand, an ion, or a non-standard (e.g. modified) residue.
    Ligand,
    /// The atom of a water molecule (only with [`ReadOptions::with_waters`]).
    Water,
}

/// How a structure is cut into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TokenMode {
    /// Boltz-2's tokens: one per standard residue or nucleotide (at its
    /// representative atom), one per atom of a ligand or non-standard residue.
    #[default]
    Boltz2,
    /// One token per amino-acid residue with a `CA` atom, at its CA: the atoms
    /// ProDy's `select('name CA and protein')` picks. A residue counts as an
    /// amino acid if its name is one of ProDy's ([`PRODY_AMINO_ACIDS`]: the 20
    /// standard ones and common variants such as `MSE`, `SEP`, `HSD`), in `ATOM`
    /// or `HETATM` records. Nucleotides, ligands and waters are left out. Two
    /// kinds of residue are left out with a warning ([`super::Structure::warnings`]):
    /// an amino acid without a CA atom, and a residue with another name that has
    /// `N`, `CA` and `C` atoms and a peptide bond (C–N within 2 Å) to a
    /// neighbour (a modified amino acid ProDy does not know, such as `CAS`).
    CaOnly,
}

/// One token: where it is in the file and its representative atom's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Chain identifier (mmCIF: `auth_asym_id`). A blank PDB chain gets the
    /// first identifier no atom record of the file uses (`A`-`Z`, `a`-`z`,
    /// `0`-`9`, `AA`, ...), a new one after each `TER`, so that blank segments
    /// never merge (see [`super::read`]).
    pub chain: String,
    /// Residue number (`auth_seq_id` in mmCIF).
    pub residue_number: isize,
    /// Insertion code, if any.
    pub insertion_code: Option<String>,
    /// Residue name, e.g. `"ALA"`, `"DG"`, `"HOH"`, `"SAH"`.
    pub residue_name: String,
    /// What kind of molecule the token belongs to.
    pub kind: MoleculeKind,
    /// The representative atom's name (the expected one if it is missing).
    pub atom_name: String,
    /// The representative atom's isotropic B-factor (Å²); 0 if it is missing.
    pub bfactor: f64,
    /// The representative atom's occupancy, as written in the file; 0 if missing.
    pub occupancy: f64,
    /// The representative atom's coordinates (Å); NaN if it is missing.
    pub coords: [f64; 3],
    /// Whether the representative atom is in the file.
    pub present: bool,
}

/// The residue names ProDy 2.3 counts as amino acids (its `protein` and
/// `aminoacid` flags: `stdaa` and `nonstdaa`), which [`TokenMode::CaOnly`] uses.
pub const PRODY_AMINO_ACIDS: &[&str] = &[
    "ALA", "ARG", "ASN", "ASP", "ASX", "CME", "CSB", "CSO", "CYS", "CYX", "GLN", "GLU", "GLX",
    "GLY", "HID", "HIE", "HIP", "HIS", "HSD", "HSE", "HSP", "ILE", "LEU", "LYS", "MEN", "MET",
    "MSE", "PHD", "PHE", "PRO", "PTR", "SEC", "SEP", "SER", "THR", "TPO", "TRP", "TYR", "VAL",
    "XAA", "XLE",
];

/// Residue names treated as water.
pub const WATER_NAMES: &[&str] = &["HOH", "WAT", "H2O", "DOD", "D2O", "TIP", "TIP3", "SOL"];

/// The polymer kind of a residue name in Boltz-2's vocabulary, if it is one.
fn polymer_kind(name: &str) -> Option<MoleculeKind> {
    representative_atom(name)?;
    Some(match name {
        "DA" | "DC" | "DG" | "DT" | "DN" => MoleculeKind::Dna,
        "A" | "C" | "G" | "U" | "N" => MoleculeKind::Rna,
        _ => MoleculeKind::Protein,
    })
}

/// Hydrogen or deuterium: by element, or (when pdbtbx found no element) by the
/// first letter of the name.
fn is_hydrogen(atom: &Atom) -> bool {
    match atom.element() {
        Some(e) => *e == Element::H,
        None => atom.name().starts_with(['H', 'D']),
    }
}

/// One residue's atoms with the occupancy each had in the file.
struct ResidueAtoms<'a> {
    chain: &'a str,
    residue: &'a Residue,
    conformers: Vec<&'a Conformer>,
    occupancies: Option<&'a OccupancyIndex<'a>>,
}

impl<'a> ResidueAtoms<'a> {
    /// The file's occupancy of `atom` in `conformer`. pdbtbx copies the atoms
    /// that have no alternate location into every alternate conformer and divides
    /// their occupancy by the number of conformers (plus one); the file text, when
    /// there is one, gives the value back exactly, otherwise an atom found in
    /// every conformer (same serial number) is taken to be such a shared atom.
    fn occupancy(&self, atom: &Atom, conformer: &Conformer) -> f64 {
        let (number, icode) = self.residue.id();
        if let Some(index) = self.occupancies {
            let key = |alt| (self.chain, number, icode, atom.name(), alt);
            if let Some(&o) = index
                .get(&key(conformer.alternative_location()))
                .or_else(|| index.get(&key(None)))
            {
                return o;
            }
        }
        let n = self.conformers.len();
        let shared = n > 1
            && self.conformers.iter().all(|c| {
                c.alternative_location().is_some()
                    && c.atoms().any(|a| a.serial_number() == atom.serial_number())
            });
        if shared {
            atom.occupancy() * (n + 1) as f64
        } else {
            atom.occupancy()
        }
    }

    /// Among the atoms named by `name_for(conformer name)` in every conformer,
    /// the one with the highest occupancy (the first on ties), with its
    /// conformer's residue name and its file occupancy.
    fn best(&self, name_for: impl Fn(&str) -> Option<&'a str>) -> Option<(&'a Atom, &'a str, f64)> {
        let mut best: Option<(&Atom, &str, f64)> = None;
        for &c in &self.conformers {
            let Some(want) = name_for(c.name()) else {
                continue;
            };
            for a in c.atoms().filter(|a| a.name() == want) {
                let occ = self.occupancy(a, c);
                if best.is_none_or(|(_, _, o)| occ > o) {
                    best = Some((a, c.name(), occ));
                }
            }
        }
        best
    }

    fn has_atom(&self, name: &str) -> bool {
        self.conformers
            .iter()
            .any(|c| c.atoms().any(|a| a.name() == name))
    }
}

/// Peptide-bond length bound (Å) for [`TokenMode::CaOnly`]'s modified residues.
const PEPTIDE_BOND_MAX: f64 = 2.0;

/// Whether `a`'s C and `b`'s N are bonded (`a` before `b` in the chain).
fn peptide_bond(a: &Residue, b: &Residue) -> bool {
    let find = |r: &Residue, name: &str| r.atoms().find(|x| x.name() == name).map(Atom::pos);
    match (find(a, "C"), find(b, "N")) {
        (Some(c), Some(n)) => {
            let d2 = (c.0 - n.0).powi(2) + (c.1 - n.1).powi(2) + (c.2 - n.2).powi(2);
            d2 <= PEPTIDE_BOND_MAX * PEPTIDE_BOND_MAX
        }
        _ => false,
    }
}

/// The tokens of `model` (the first model of the file), and warnings about
/// residues left out.
pub(crate) fn tokenize(
    model: &Model,
    options: &ReadOptions,
    occupancies: Option<&OccupancyIndex>,
) -> (Vec<Token>, Vec<String>) {
    let mut tokens = Vec::new();
    // CaOnly: amino acids without CA, and peptide-bonded residues ProDy does not
    // count as amino acids: (count, first example).
    let mut no_ca: (usize, String) = (0, String::new());
    let mut unknown: (usize, String) = (0, String::new());
    let note = |n: &mut (usize, String), what: String| {
        if n.0 == 0 {
            n.1 = what;
        }
        n.0 += 1;
    };
    for chain in model.chains() {
        let residues: Vec<&Residue> = chain.residues().collect();
        for (k, &residue) in residues.iter().enumerate() {
            let res = ResidueAtoms {
                chain: chain.id(),
                residue,
                conformers: residue.conformers().collect(),
                occupancies,
            };
            // pdbtbx adds the residues that are only in SEQRES, without atoms.
            let Some(first) = res.conformers.first().filter(|_| residue.atom_count() > 0) else {
                continue;
            };
            let hetero = residue.atoms().any(Atom::hetero);
            let polymer = polymer_kind(first.name()).filter(|_| !hetero);
            let water = WATER_NAMES.contains(&first.name());
            let make = |kind, atom_name: &str, picked: Option<(&Atom, &str, f64)>| {
                let (number, icode) = residue.id();
                let mut t = Token {
                    chain: chain.id().to_string(),
                    residue_number: number,
                    insertion_code: icode.map(str::to_string),
                    residue_name: first.name().to_string(),
                    kind,
                    atom_name: atom_name.to_string(),
                    bfactor: 0.0,
                    occupancy: 0.0,
                    coords: [f64::NAN; 3],
                    present: false,
                };
                if let Some((atom, name, occ)) = picked {
                    let (x, y, z) = atom.pos();
                    t.residue_name = name.to_string();
                    t.bfactor = atom.b_factor();
                    t.occupancy = occ;
                    t.coords = [x, y, z];
                    t.present = true;
                }
                t
            };
            match options.tokens {
                TokenMode::CaOnly => {
                    let bonded = || {
                        (k > 0 && peptide_bond(residues[k - 1], residue))
                            || residues
                                .get(k + 1)
                                .is_some_and(|&next| peptide_bond(residue, next))
                    };
                    let (number, icode) = residue.id();
                    let shown = || {
                        format!(
                            "{} {number}{} of chain {}",
                            first.name(),
                            icode.unwrap_or(""),
                            chain.id()
                        )
                    };
                    // The CA of a conformer whose name ProDy counts as an amino acid.
                    let picked = res.best(|name| PRODY_AMINO_ACIDS.contains(&name).then_some("CA"));
                    let amino = res
                        .conformers
                        .iter()
                        .any(|c| PRODY_AMINO_ACIDS.contains(&c.name()));
                    match picked {
                        Some(_) => tokens.push(make(MoleculeKind::Protein, "CA", picked)),
                        None if amino => note(&mut no_ca, shown()),
                        None if !water
                            && ["N", "CA", "C"].iter().all(|n| res.has_atom(n))
                            && bonded() =>
                        {
                            note(&mut unknown, shown())
                        }
                        None => {}
                    }
                }
                TokenMode::Boltz2 => match polymer {
                    Some(kind) => {
                        let rep = representative_atom(first.name()).unwrap_or("CB");
                        let picked = res.best(|name| {
                            polymer_kind(name).and_then(|_| representative_atom(name))
                        });
                        tokens.push(make(kind, rep, picked));
                    }
                    None if water && !options.waters => {}
                    None => {
                        let kind = if water {
                            MoleculeKind::Water
                        } else {
                            MoleculeKind::Ligand
                        };
                        // One token per atom name, at its highest-occupancy
                        // alternate location.
                        let mut order: Vec<&str> = Vec::new();
                        let mut seen: HashSet<&str> = HashSet::new();
                        for a in res.conformers.iter().flat_map(|c| c.atoms()) {
                            if (options.hydrogens || !is_hydrogen(a)) && seen.insert(a.name()) {
                                order.push(a.name());
                            }
                        }
                        for name in order {
                            let picked = res.best(|_| Some(name));
                            tokens.push(make(kind, name, picked));
                        }
                    }
                },
            }
        }
    }
    let mut warnings = Vec::new();
    if no_ca.0 > 0 {
        warnings.push(format!(
            "{} amino-acid residue(s) without a CA atom are no CA-only token (first: {})",
            no_ca.0, no_ca.1
        ));
    }
    if unknown.0 > 0 {
        warnings.push(format!(
            "{} peptide-bonded residue(s) with a name ProDy does not count as an amino acid are \
             no CA-only token (first: {})",
            unknown.0, unknown.1
        ));
    }
    (tokens, warnings)
}
