//! Per-atom B-factors: a value for every heavy atom of the amino-acid residues,
//! where the residue-level predictor (and Boltz-2) give one per residue.
//!
//! ```
//! use bfactor::structure::{self, predict::Predictor, ReadOptions};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/structures/1ubi.pdb");
//! let st = structure::read(path, &ReadOptions::new())?;
//! let atoms = Predictor::pretrained()?.predict_atoms(&st)?;
//! assert_eq!(atoms.sites.atoms.len(), atoms.values.len());
//! // Per chain, over every heavy atom with a usable experimental B:
//! let r = structure::per_atom::chain_pearsons(&st, &atoms.sites, &atoms.values, 20)?;
//! assert!(r[0].1 > 0.5, "ubiquitin, all heavy atoms: r = {}", r[0].1);
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! # The model
//! Each residue's atoms move with the residue and about it. With `z_r` the
//! residue's predicted per-chain z-score ([`Predictor::predict_relative`]), the
//! B-factor of its atom `a` is
//!
//! ```text
//! B_a = μ(res) + σ(res) · (z_r + δ_a / α)
//! ```
//!
//! where `μ`, `σ` are the residue model's level (module [`super::predict`]),
//! `δ_a` is the atom's predicted offset from its residue's CA in units of the
//! chain's CA standard deviation (0 for the CA itself, so a CA's per-atom value
//! is its residue's), and `α` is the residue model's mean per-chain Pearson on
//! its members' validation chains (held out of their training; the slope of the
//! experimental z on the predicted one, so the offsets weigh as much as they
//! should against the residue's uncertain profile).
//!
//! `δ_a` is a ridge regression, fitted in closed form (faer's Cholesky) on the
//! training chains' experimental offsets `(B_a − B_CA) / sd_chain(B_CA)`
//! (clipped to ±5; each chain weighs the same; `λ = 0.01` per chain) on:
//! - the atom's name within its residue type (`LYS NZ`, `SER OG`, …; backbone
//!   `N`, `C`, `O`, `OXT` shared; other residues' atoms by their branch letter),
//!   one-hot;
//! - `dw = ln(1/WCN_a) − ln(1/WCN_CA)`, the same with a 2 Å blur, and
//!   `u = ln(1/WCN_CA) − mean_chain ln(1/WCN_CA)` (gemmi's all-heavy-atom WCN,
//!   [`features::atom_wcn`], lattice included when the predictor's descriptors
//!   use it): how exposed the atom is compared with its CA, and its residue
//!   compared with the chain;
//! - the atom's branch depth `d` (0 backbone, 1 for B, 2 for G, …, 6 for H), its
//!   distance from the CA, whether the residue is within 2 of a chain end, and
//!   the products `dw·d`, `u·d`, `dw·u`, `dw²`, `u²`, `dw_blur·d`, `distance·u`,
//!   `end·d`.
//!
//! The sites are the heavy atoms (not H or D) of the first model, without an
//! alternate location or of the first one, of each amino-acid residue token,
//! in file order: with [`TokenMode::CaOnly`] every residue ProDy counts as an
//! amino acid (modified ones such as `MSE` and `CSO` included), at its CA; with
//! Boltz-2's tokens the standard residues, at CB (CA for glycine; a modified
//! residue is a ligand there, cut per atom, and gets no per-atom values). The
//! residue's value is its token's; the atom features are taken at the CA in
//! both modes. [`super::write_atoms`] gives a site's value to its other
//! alternate locations and to the same atom in later models.
//!
//! [`Predictor::predict_relative`]: super::predict::Predictor::predict_relative
//! [`TokenMode::CaOnly`]: super::TokenMode::CaOnly

use std::collections::HashMap;

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use ndarray::{Array1, Array2};

use super::features::{self, AtomId, WcnConfig};
use super::scale::column_standardisation;
use super::{ChainSpan, MoleculeKind, Structure};
use crate::loss::MIN_VALID_BFACTOR;
use crate::{loss, Error, Result};

/// Heavy atoms of the standard amino acids' side chains beyond CA (PDB names).
const SIDE_CHAINS: &[(&str, &[&str])] = &[
    ("ALA", &["CB"]),
    ("ARG", &["CB", "CG", "CD", "NE", "CZ", "NH1", "NH2"]),
    ("ASN", &["CB", "CG", "OD1", "ND2"]),
    ("ASP", &["CB", "CG", "OD1", "OD2"]),
    ("CYS", &["CB", "SG"]),
    ("GLN", &["CB", "CG", "CD", "OE1", "NE2"]),
    ("GLU", &["CB", "CG", "CD", "OE1", "OE2"]),
    ("HIS", &["CB", "CG", "ND1", "CD2", "CE1", "NE2"]),
    ("ILE", &["CB", "CG1", "CG2", "CD1"]),
    ("LEU", &["CB", "CG", "CD1", "CD2"]),
    ("LYS", &["CB", "CG", "CD", "CE", "NZ"]),
    ("MET", &["CB", "CG", "SD", "CE"]),
    ("PHE", &["CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ"]),
    ("PRO", &["CB", "CG", "CD"]),
    ("SER", &["CB", "OG"]),
    ("THR", &["CB", "OG1", "CG2"]),
    (
        "TRP",
        &[
            "CB", "CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2",
        ],
    ),
    ("TYR", &["CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "OH"]),
    ("VAL", &["CB", "CG1", "CG2"]),
];

/// Backbone atoms other than CA, shared by every residue type.
const BACKBONE: [&str; 4] = ["N", "C", "O", "OXT"];

/// Names of the continuous atom descriptors, in their column order.
pub const CONTINUOUS: [&str; 14] = [
    "dw",
    "dw_blur2",
    "u",
    "depth",
    "distance_ca",
    "chain_end",
    "dw*depth",
    "u*depth",
    "dw*u",
    "dw^2",
    "u^2",
    "dw_blur2*depth",
    "distance_ca*u",
    "chain_end*depth",
];

/// The blur of the blurred WCN descriptor (Å).
const BLUR: f64 = 2.0;
/// Residues within this many amino-acid residues of a chain end count as at
/// its end.
const END: usize = 2;
/// Offsets are clipped to `±CLIP` chain standard deviations for fitting.
const CLIP: f64 = 5.0;
/// Ridge strength per training chain (each chain weighs 1).
const LAMBDA: f64 = 0.01;

/// The one-hot classes: backbone, each residue type's side-chain atoms, then
/// other side-chain atoms by depth 1 to 6.
fn classes() -> (HashMap<(&'static str, &'static str), u16>, usize) {
    let mut map = HashMap::new();
    let mut k = BACKBONE.len() as u16;
    for (res, atoms) in SIDE_CHAINS {
        for atom in *atoms {
            map.insert((*res, *atom), k);
            k += 1;
        }
    }
    (map, k as usize + 6)
}

/// The names of the atom model's inputs: one per class, then [`CONTINUOUS`].
pub fn feature_names() -> Vec<String> {
    let mut names: Vec<String> = BACKBONE.iter().map(|a| format!("backbone {a}")).collect();
    for (res, atoms) in SIDE_CHAINS {
        names.extend(atoms.iter().map(|a| format!("{res} {a}")));
    }
    names.extend((1..=6).map(|d| format!("other depth {d}")));
    names.extend(CONTINUOUS.iter().map(|c| c.to_string()));
    names
}

/// Branch depth of a side-chain atom name from its second letter (`CB` 1, `CG1`
/// 2, `OD1` 3, `NE2` 4, `NZ` 5, `OH` 6); 0 for the backbone; 3 if unknown.
fn depth(name: &str) -> u8 {
    if BACKBONE.contains(&name) || name == "CA" {
        return 0;
    }
    match name.as_bytes().get(1) {
        Some(b'B') => 1,
        Some(b'G') => 2,
        Some(b'D') => 3,
        Some(b'E') => 4,
        Some(b'Z') => 5,
        Some(b'H') => 6,
        _ => 3,
    }
}

/// An atom's chain, residue number, insertion code, name and alternate location.
type AtomKey<'a> = (&'a str, isize, Option<&'a str>, &'a str, Option<&'a str>);

/// The heavy atoms a per-atom prediction is made for, with what the model
/// reads of them (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct AtomSites {
    /// The atoms, in file order.
    pub atoms: Vec<AtomId>,
    /// Each atom's residue token (index into [`Structure::tokens`]).
    pub tokens: Vec<usize>,
    /// Their experimental B-factors (the file's B column), `[atoms]`.
    pub bfactors: Array1<f64>,
    /// 1 where the atom's B-factor is usable (`> 1e-5`) and the structure's B
    /// column holds B-factors, else 0, `[atoms]`.
    pub mask: Array1<f64>,
    /// gemmi's all-heavy-atom `1/WCN` at each atom ([`features::atom_wcn`],
    /// defaults, lattice as asked), NaN where the atom has no neighbour.
    pub wcn: Array1<f64>,
    /// The same with a 2 Å blur.
    pub wcn_blur2: Array1<f64>,
    /// Whether the atom is its residue's CA (its offset is 0).
    pub is_ca: Vec<bool>,
    class: Vec<u16>,
    continuous: Array2<f64>,
}

/// The sites of `st` (module docs), with gemmi's WCN computed with the unit cell's
/// symmetry mates when `lattice` is true (and the file has a cell).
pub fn atom_sites(st: &Structure, lattice: bool) -> Result<AtomSites> {
    let tokens = st.tokens();
    let mut token_of: HashMap<(&str, isize, Option<&str>), usize> = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.kind == MoleculeKind::Protein {
            token_of.insert(
                (
                    t.chain.as_str(),
                    t.residue_number,
                    t.insertion_code.as_deref(),
                ),
                i,
            );
        }
    }
    // Whether each amino-acid token is within END residues of its chain's first
    // or last amino acid (ligand tokens of the chain, in Boltz-2's tokens, are
    // not counted).
    let mut at_end = vec![false; tokens.len()];
    for c in st.chains() {
        let residues: Vec<usize> = c
            .tokens
            .clone()
            .filter(|&i| tokens[i].kind == MoleculeKind::Protein)
            .collect();
        for (k, &i) in residues.iter().enumerate() {
            at_end[i] = k < END || k + END >= residues.len();
        }
    }
    let config = WcnConfig::new().with_crystal(lattice);
    let features::RawAndBlurred { ids, raw, blurred } =
        features::raw_and_blurred(st, &config, BLUR)?;
    let mut wcn_of: HashMap<AtomKey, usize> = HashMap::with_capacity(ids.len());
    for (k, id) in ids.iter().enumerate() {
        wcn_of.insert(
            (
                id.chain.as_str(),
                id.residue_number,
                id.insertion_code.as_deref(),
                id.atom_name.as_str(),
                id.alt_loc.as_deref(),
            ),
            k,
        );
    }
    let (class_of, n_classes) = classes();
    let experimental = st.b_values() == super::BValues::BFactors;
    let mut atoms = vec![];
    let (mut token, mut b, mut mask, mut wcn, mut wcn_blur2, mut is_ca, mut class, mut pos) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    if let Some(model) = st.pdb().model(0) {
        for chain in model.chains() {
            for residue in chain.residues() {
                let (number, icode) = residue.id();
                let Some(&t) = token_of.get(&(chain.id(), number, icode)) else {
                    continue;
                };
                for (conformer, atom) in
                    features::first_conformers(residue).flat_map(|c| c.atoms().map(move |a| (c, a)))
                {
                    let alt = conformer.alternative_location();
                    let res_name = conformer.name().to_ascii_uppercase();
                    if features::is_hydrogen(atom) {
                        continue;
                    }
                    let name = atom.name().to_ascii_uppercase();
                    let key = (chain.id(), number, icode, atom.name(), alt);
                    let k = wcn_of.get(&key).copied();
                    let value = |v: &[Option<f64>]| k.and_then(|k| v[k]).unwrap_or(f64::NAN);
                    wcn.push(value(&raw));
                    wcn_blur2.push(value(&blurred));
                    let d = depth(&name);
                    class.push(if BACKBONE.contains(&name.as_str()) {
                        BACKBONE.iter().position(|a| *a == name).unwrap_or(0) as u16
                    } else {
                        class_of
                            .get(&(res_name.as_str(), name.as_str()))
                            .copied()
                            .unwrap_or((n_classes - 7 + d.max(1) as usize) as u16)
                    });
                    is_ca.push(name == "CA");
                    let bf = atom.b_factor();
                    b.push(bf);
                    mask.push(
                        if experimental && bf > MIN_VALID_BFACTOR && bf.is_finite() {
                            1.0
                        } else {
                            0.0
                        },
                    );
                    let (x, y, z) = atom.pos();
                    pos.push([x, y, z]);
                    token.push(t);
                    atoms.push(AtomId::new(chain.id(), (number, icode), conformer, atom));
                }
            }
        }
    }
    // ln(1/WCN) at each residue's CA, and its chain means.
    let n_tokens = tokens.len();
    let mut ca_w = vec![f64::NAN; n_tokens];
    let mut ca_wb = vec![f64::NAN; n_tokens];
    let mut ca_pos = vec![[f64::NAN; 3]; n_tokens];
    for i in 0..atoms.len() {
        if is_ca[i] {
            ca_w[token[i]] = wcn[i].ln();
            ca_wb[token[i]] = wcn_blur2[i].ln();
            ca_pos[token[i]] = pos[i];
        }
    }
    let mut chain_mean = vec![0.0; n_tokens];
    for c in st.chains() {
        let finite: Vec<f64> = ca_w[c.tokens.clone()]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let m = if finite.is_empty() {
            0.0
        } else {
            finite.iter().sum::<f64>() / finite.len() as f64
        };
        chain_mean[c.tokens.clone()].fill(m);
    }
    let or0 = |v: f64| if v.is_finite() { v } else { 0.0 };
    let mut continuous = Array2::zeros((atoms.len(), CONTINUOUS.len()));
    for (i, mut row) in continuous.rows_mut().into_iter().enumerate() {
        if is_ca[i] {
            continue;
        }
        let t = token[i];
        let dw = or0(wcn[i].ln() - ca_w[t]);
        let db = or0(wcn_blur2[i].ln() - ca_wb[t]);
        let u = or0(ca_w[t] - chain_mean[t]);
        let d = f64::from(depth(&atoms[i].atom_name.to_ascii_uppercase()));
        let c = ca_pos[t];
        let dist = or0(((pos[i][0] - c[0]).powi(2)
            + (pos[i][1] - c[1]).powi(2)
            + (pos[i][2] - c[2]).powi(2))
        .sqrt());
        let end = if at_end[t] { 1.0 } else { 0.0 };
        let v = [
            dw,
            db,
            u,
            d,
            dist,
            end,
            dw * d,
            u * d,
            dw * u,
            dw * dw,
            u * u,
            db * d,
            dist * u,
            end * d,
        ];
        for (j, x) in v.into_iter().enumerate() {
            row[j] = x;
        }
    }
    Ok(AtomSites {
        atoms,
        tokens: token,
        bfactors: Array1::from(b),
        mask: Array1::from(mask),
        wcn: Array1::from(wcn),
        wcn_blur2: Array1::from(wcn_blur2),
        is_ca,
        class,
        continuous,
    })
}

/// The usable sites of one training chain with their experimental offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct AtomExample {
    class: Vec<u16>,
    continuous: Array2<f64>,
    target: Array1<f64>,
}

impl AtomExample {
    /// Number of atoms (rows) in the example.
    pub fn len(&self) -> usize {
        self.class.len()
    }

    /// Whether the example holds no atom.
    pub fn is_empty(&self) -> bool {
        self.class.is_empty()
    }
}

/// One [`AtomExample`] per chain of `st` with at least `min_tokens` usable CA
/// B-factors that are not all equal: its usable non-CA sites whose CA is
/// usable, with their offsets `(B_a − B_CA) / sd_chain(B_CA)` (clipped to ±5).
pub fn atom_examples(
    st: &Structure,
    sites: &AtomSites,
    min_tokens: usize,
) -> Result<Vec<AtomExample>> {
    check_sites(st, sites)?;
    let (b, mask) = (st.bfactors(), st.mask());
    let chains = st.chains();
    let mut sd = vec![];
    for chain in &chains {
        let valid: Vec<f64> = chain
            .tokens
            .clone()
            .filter(|&i| mask[i] > 0.0)
            .map(|i| b[i])
            .collect();
        let n = valid.len() as f64;
        let m = valid.iter().sum::<f64>() / n;
        let s = (valid.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
        sd.push(if valid.len() >= min_tokens.max(2) && s > 1e-9 {
            s
        } else {
            f64::NAN
        });
    }
    let mut rows = sites.by_chain(&chains);
    for (r, s) in rows.iter_mut().zip(&sd) {
        r.retain(|&i| {
            !sites.is_ca[i] && sites.mask[i] > 0.0 && mask[sites.tokens[i]] > 0.0 && s.is_finite()
        });
    }
    Ok(rows
        .into_iter()
        .enumerate()
        .filter(|(_, r)| !r.is_empty())
        .map(|(c, r)| AtomExample {
            class: r.iter().map(|&i| sites.class[i]).collect(),
            continuous: sites.continuous.select(ndarray::Axis(0), &r),
            target: r
                .iter()
                .map(|&i| ((sites.bfactors[i] - b[sites.tokens[i]]) / sd[c]).clamp(-CLIP, CLIP))
                .collect(),
        })
        .collect())
}

/// [`Error::Config`] unless every site's token is one of `st`'s.
pub(crate) fn check_sites(st: &Structure, sites: &AtomSites) -> Result<()> {
    let n = st.tokens().len();
    if let Some(&t) = sites.tokens.iter().find(|&&t| t >= n) {
        return Err(Error::config(
            "sites",
            format!("token {t}"),
            format!("sites of this structure (tokens below {n}): call atom_sites on it"),
        ));
    }
    Ok(())
}

impl AtomSites {
    /// The sites of each of `chains` (the structure's [`Structure::chains`];
    /// the sites checked by [`check_sites`]), in site order.
    pub(crate) fn by_chain(&self, chains: &[ChainSpan]) -> Vec<Vec<usize>> {
        let mut chain_of = vec![0; chains.last().map_or(0, |c| c.tokens.end)];
        for (c, chain) in chains.iter().enumerate() {
            chain_of[chain.tokens.clone()].fill(c);
        }
        let mut out = vec![vec![]; chains.len()];
        for (i, &t) in self.tokens.iter().enumerate() {
            out[chain_of[t]].push(i);
        }
        out
    }
}

/// The atoms' offsets from their CA (module docs): a ridge regression on the
/// atom descriptors, with `α`.
#[derive(Debug, Clone, PartialEq)]
pub struct AtomModel {
    /// One coefficient per [`feature_names`] entry.
    coef: Array1<f64>,
    /// Standardisation of the continuous descriptors (training rows).
    mean: Array1<f64>,
    scale: Array1<f64>,
    /// `α`: the residue model's validation Pearson.
    alpha: f64,
}

impl AtomModel {
    /// Fits the offsets on `examples` (from [`atom_examples`] on training
    /// structures); `alpha` is the residue model's validation Pearson
    /// ([`super::predict::Predictor::validation_pearson`]), clamped to
    /// `[0.2, 1]`.
    ///
    /// Errors: [`Error::TooFewValid`] for fewer than 2 non-empty examples;
    /// [`Error::Numerical`] if the normal equations cannot be solved.
    pub fn fit(examples: &[AtomExample], alpha: f64) -> Result<Self> {
        let examples: Vec<&AtomExample> = examples.iter().filter(|e| !e.is_empty()).collect();
        if examples.len() < 2 {
            return Err(Error::too_few_valid(
                "atom examples (chains with usable atom B-factors)",
                2,
                examples.len(),
            ));
        }
        if !alpha.is_finite() {
            return Err(Error::config("alpha", alpha, "a finite validation Pearson"));
        }
        let (_, n_classes) = classes();
        let q = CONTINUOUS.len();
        let p = n_classes + q;
        let (mean, scale) = column_standardisation(examples.iter().map(|e| &e.continuous), q);
        let mut a = Mat::<f64>::zeros(p, p);
        let mut rhs = Mat::<f64>::zeros(p, 1);
        let mut x = vec![0.0; q];
        for e in &examples {
            let w = 1.0 / e.len() as f64;
            for (i, row) in e.continuous.rows().into_iter().enumerate() {
                let k = e.class[i] as usize;
                let y = e.target[i];
                for j in 0..q {
                    x[j] = (row[j] - mean[j]) / scale[j];
                }
                a[(k, k)] += w;
                rhs[(k, 0)] += w * y;
                for j in 0..q {
                    a[(n_classes + j, k)] += w * x[j];
                    rhs[(n_classes + j, 0)] += w * x[j] * y;
                    for l in 0..=j {
                        a[(n_classes + j, n_classes + l)] += w * x[j] * x[l];
                    }
                }
            }
        }
        let lambda = LAMBDA * examples.len() as f64;
        for j in 0..p {
            a[(j, j)] += lambda;
        }
        let llt = a
            .llt(Side::Lower)
            .map_err(|e| Error::numerical("atom model", format!("normal equations: {e:?}")))?;
        let solution = llt.solve(&rhs);
        let coef: Array1<f64> = (0..p).map(|j| solution[(j, 0)]).collect();
        if coef.iter().any(|c| !c.is_finite()) {
            return Err(Error::numerical("atom model", "non-finite coefficients"));
        }
        Ok(Self {
            coef,
            mean,
            scale,
            alpha: alpha.clamp(0.2, 1.0),
        })
    }

    /// `α` (module docs).
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The predicted offsets `δ_a / α` of every site, 0 at the CA atoms.
    pub fn offsets(&self, sites: &AtomSites) -> Array1<f64> {
        let (_, n_classes) = classes();
        (0..sites.atoms.len())
            .map(|i| {
                if sites.is_ca[i] {
                    return 0.0;
                }
                let mut v = self.coef[sites.class[i] as usize];
                for (j, &c) in sites.continuous.row(i).iter().enumerate() {
                    v += self.coef[n_classes + j] * (c - self.mean[j]) / self.scale[j];
                }
                v / self.alpha
            })
            .collect()
    }

    /// The model's numbers for a weight file: coefficients, mean, scale, `[α]`.
    pub(crate) fn parts(&self) -> [&[f64]; 3] {
        [
            self.coef.as_slice().expect("contiguous"),
            self.mean.as_slice().expect("contiguous"),
            self.scale.as_slice().expect("contiguous"),
        ]
    }

    /// The model from [`parts`](Self::parts) and `α`, checked.
    pub(crate) fn from_parts(
        coef: Array1<f64>,
        mean: Array1<f64>,
        scale: Array1<f64>,
        alpha: f64,
    ) -> std::result::Result<Self, String> {
        let (_, n_classes) = classes();
        if coef.len() != n_classes + CONTINUOUS.len()
            || mean.len() != CONTINUOUS.len()
            || scale.len() != CONTINUOUS.len()
        {
            return Err(format!(
                "atom model of {} coefficients, {} means, {} scales; this build reads {}, {}, {}",
                coef.len(),
                mean.len(),
                scale.len(),
                n_classes + CONTINUOUS.len(),
                CONTINUOUS.len(),
                CONTINUOUS.len()
            ));
        }
        if scale.iter().any(|&s| s.is_nan() || s <= 0.0) || !(0.2..=1.0).contains(&alpha) {
            return Err(format!(
                "atom model scales must be > 0 and alpha in [0.2, 1] (alpha = {alpha})"
            ));
        }
        Ok(Self {
            coef,
            mean,
            scale,
            alpha,
        })
    }
}

/// Per-atom predicted B-factors ([`super::predict::Predictor::predict_atoms`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AtomPrediction {
    /// The atoms predicted, with their experimental B and gemmi's WCN.
    pub sites: AtomSites,
    /// Predicted B (Å²) per site, `[atoms]`.
    pub values: Array1<f64>,
    /// The residue-level prediction per token, `[tokens]`, at the same level as
    /// the atoms: what [`super::predict::Predictor::predict`] gives, except in a
    /// chain whose spread is shrunk further to keep its atoms' B positive
    /// ([`super::predict`], "The absolute level"); the value of the tokens and
    /// atoms that are no site, and a CA's.
    pub token_values: Array1<f64>,
}

/// Per-chain Pearson correlations over atoms: `(chain id, r)` between `values`
/// (one per site) and the sites' experimental B, for every chain of `st` with at
/// least `min_tokens` usable token B-factors (the chains the residue evaluation
/// counts) whose correlation is defined.
pub fn chain_pearsons(
    st: &Structure,
    sites: &AtomSites,
    values: &Array1<f64>,
    min_tokens: usize,
) -> Result<Vec<(String, f64)>> {
    check_sites(st, sites)?;
    if values.len() != sites.atoms.len() {
        return Err(Error::shape_mismatch(
            "values",
            vec![sites.atoms.len()],
            vec![values.len()],
            "one value per site",
        ));
    }
    let mask = st.mask();
    let mut out = vec![];
    let chains = st.chains();
    let mut rows = sites.by_chain(&chains);
    for r in &mut rows {
        r.retain(|&i| sites.mask[i] > 0.0 && values[i].is_finite());
    }
    for (c, chain) in chains.iter().enumerate() {
        let usable = chain.tokens.clone().filter(|&i| mask[i] > 0.0).count();
        if usable < min_tokens || rows[c].len() < 2 {
            continue;
        }
        let p: Array1<f64> = rows[c].iter().map(|&i| values[i]).collect();
        let b: Array1<f64> = rows[c].iter().map(|&i| sites.bfactors[i]).collect();
        if let Ok(r) = loss::pearson_masked(&p, &b, &Array1::ones(p.len())) {
            out.push((chain.id.clone(), r));
        }
    }
    Ok(out)
}
