//! Per-token structural descriptors: what a B-factor predictor sees of a
//! structure, computed from the whole file (every chain, every heavy atom).
//!
//! ```
//! use bfactor::structure::{self, features, ReadOptions, TokenMode};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/structures/1ubi.pdb");
//! let st = structure::read(path, &ReadOptions::new())?;
//! let d = features::compute(&st, &features::FeatureConfig::new())?;
//! assert_eq!(d.values.nrows(), st.tokens().len()); // one row per token
//! assert_eq!(d.values.ncols(), d.names.len());
//! assert!(d.values.iter().all(|v| v.is_finite()));
//! assert!(d.groups().contains(&"density".to_string()));
//! let hse = d.column("burial/log_hse_up_13").unwrap();
//! assert!(hse.iter().all(|&v| v >= 0.0));
//!
//! // Protein tokens get the same rows in both token modes.
//! let ca = structure::read(path, &ReadOptions::new().with_tokens(TokenMode::CaOnly))?;
//! let d_ca = features::compute(&ca, &features::FeatureConfig::new())?;
//! assert_eq!(d_ca.values, d.values);
//!
//! // The training-free baselines.
//! let w = features::inverse_wcn(&st)?;
//! let fri = features::lorentz_fri(&st, 3.0, 3.0)?;
//! assert_eq!((w.len(), fri.len()), (76, 76));
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! # What the descriptors are computed from
//!
//! The first model of the file ([`Structure::pdb`]), all chains. Of each
//! residue, the first conformer pdbtbx holds (the atoms without alternate
//! location and those of the first alternate location). Waters
//! ([`crate::structure::WATER_NAMES`]) and hydrogens are left out.
//!
//! - **Heavy atoms**: every other atom (polymer, ligand, ion).
//! - **Residue nodes**: one per amino acid, at its CA, and one per nucleotide
//!   (`A C G U N DA DC DG DT DN`), at its C4'. A residue is an amino acid if it
//!   has a CA atom and its name is one of the 20 standard ones or `UNK`, or it
//!   has N and C atoms and a peptide bond (C–N ≤ 2 Å) to the residue before or
//!   after it in the chain (e.g. `MSE`; not a calcium ion, not
//!   S-adenosylhomocysteine): the rule of [`TokenMode::CaOnly`].
//! - **Chains**: the file's chains; a chain's nodes in file order. Consecutive
//!   nodes are *joined* when they are at most 4.2 Å apart (two amino acids) or
//!   8 Å (otherwise); a **break** is a pair that is not.
//!
//! # Where each token's descriptors are computed
//!
//! - A **protein token** (every token in [`TokenMode::CaOnly`]; a
//!   [`MoleculeKind::Protein`] token in [`TokenMode::Boltz2`]) whose residue has
//!   a node: at that node (its CA), for the whole residue. Its row is the same
//!   in both token modes.
//! - Any **other token** whose atom is present (a ligand or ion atom, a
//!   nucleotide's representative atom, a protein token whose residue has no CA):
//!   point descriptors (`density`, `atoms`, `burial`, `lattice`, `neigh`) at the
//!   token's own atom. Of the chain descriptors, a token whose residue has a
//!   node (a nucleotide) takes the node's `gnm` and `seq` values; a token
//!   without one takes the `gnm` values of the nearest node in space and zeros
//!   in `seq`. `ss` is zero, `window` repeats the token's own values.
//! - A token whose atom is **missing** (no coordinates): the whole row is
//!   copied from the nearest token in the same chain that has one (by position
//!   in the token list, the earlier one on ties; the nearest in the whole list
//!   if the chain has none; zeros if no token has one); its `restype` is its
//!   own and `seq/missing_coords` is 1 (0 everywhere else).
//!
//! Sums over nodes or atoms leave out the centre's own residue (a node leaves
//! out its own CA, a residue its own side chain), so a glycine and a
//! tryptophan at the same place are equally buried. Pairs closer than
//! 0.001 Å count as 0.001 Å apart. Every value is finite.
//!
//! # The descriptors
//!
//! `r` is the distance from the centre to a node (or atom), `L(x) = ln(1 + x)`.
//!
//! | name | formula |
//! | --- | --- |
//! | `density/log_wcn_ca_40` | `L(Σ_{r < 40} (1/r² - 1/40²))` over the nodes within 40 Å |
//! | `density/log_lorentz_ca_{3,6,12}_40` | `L(Σ_{r < 40} (f(r) - f(40)))`, `f(r) = 1/(1 + (r/η)³)`, η = 3, 6, 12 Å |
//! | `density/log_gauss_ca_{2,4,8}` | `L(Σ_{r ≤ 3η} exp(-(r/η)²))`, η = 2, 4, 8 Å |
//! | `density/log_count_ca_{8,10,12,16}` | `L(#{nodes: r ≤ R})` |
//! | `atoms/log_count_{8,10,12,16}` | `L(#{heavy atoms: r ≤ R})` |
//! | `atoms/log_wcn_16` | `L(Σ_{r ≤ 16} 1/r²)` over heavy atoms |
//! | `atoms/log_lorentz_3_16` | `L(Σ_{r ≤ 16} 1/(1 + (r/3)³))` over heavy atoms |
//! | `atoms/log_contacts_4.5` | `L(mean over the residue's heavy atoms a of #{other residues' heavy atoms within 4.5 Å of a})` (the token's own atom for a non-residue centre) |
//! | `gnm/log_chain` | `ln(f̃_i / mean_chain f̃)`, `f` the GNM square fluctuations `[Γ⁺]_ii` of the chain's nodes (cutoff 7.3 Å, [`crate::structure::gnm`]); an isolated node takes the chain's largest `f` |
//! | `gnm/log_assembly` | the same over all nodes of the file |
//! | `gnm/isolated` | 1 if the node has no neighbour within the cutoff in its chain |
//! | `burial/log_hse_up_13`, `burial/log_hse_down_13` | `L(#{nodes: r ≤ 13, (x_j - x_c)·u > 0})`, and `≤ 0`: half-sphere exposure with `u = 2x_i - x_{i-1} - x_{i+1}` (the CA bisector, from joined chain neighbours; `x_i - x_{i±1}` with one; `x_c - centroid(nodes within 13 Å)` with none or for a non-residue centre; a zero `u` puts every node in the lower half) |
//! | `burial/log_hse_cb_up_13` | the upper count with `u` = CA→CB where the residue has a CB |
//! | `burial/asymmetry_12` | `|Σ_{r ≤ 12} (x_j - x_c)/r| / #{r ≤ 12}` (0 buried … 1 exposed; 0 if no node) |
//! | `burial/rel_centroid_dist` | `|x_c - x̄| / R_g` over all nodes (0 if `R_g = 0`) |
//! | `seq/rel_pos` | `k / (n - 1)`: position `k` among the chain's `n` nodes (0.5 if `n = 1`) |
//! | `seq/log_dist_n`, `seq/log_dist_c` | `L(min(k, 50))`, `L(min(n - 1 - k, 50))` |
//! | `seq/log_dist_break` | `L(min(d, 50))`, `d` the number of joined steps to the nearest break (0 next to one; 50 without) |
//! | `seq/log_chain_len` | `ln n` |
//! | `seq/missing_coords` | 1 for a token without coordinates (see above) |
//! | `restype/ALA` … `restype/VAL`, `restype/other` | one-hot residue name of the token (`MSE` counts as `MET`; ligands, nucleotides, `UNK` are `other`) |
//! | `ss/helix`, `ss/strand`, `ss/coil` | from the CA trace: a window of four joined amino acids `j..j+3` with virtual torsion `τ_j ∈ [20°, 80°]` and `d(j, j+3) ≤ 6.2 Å` is helical, one with `τ_j ≥ 145°` or `≤ -125°` and `d(j, j+3) ≥ 8 Å` extended; a residue in a helical window is helix, else in an extended one strand, else coil (zeros for non-amino-acid tokens) |
//! | `ss/cos_tau`, `ss/sin_tau` | `cos τ`, `sin τ` of the window `i-1..i+2` (0 where undefined) |
//! | `ss/cos_theta` | cosine of the virtual bond angle `x_{i-1}, x_i, x_{i+1}` (0 where undefined) |
//! | `window/{key}_w{3,7}` | mean of `key` over the chain's nodes `i-w..i+w` (clipped to the chain) |
//! | `neigh/{key}_r10` | mean of `key` over the nodes within 10 Å of the centre (its own node included) |
//! | `context/log_n_residues` | `L(number of nodes)` |
//! | `context/resolution`, `context/has_resolution` | resolution in Å from `REMARK 2` or mmCIF `_refine.ls_d_res_high` / `_reflns.d_resolution_high`, and 1; 0 and 0 if the file gives none |
//! | `context/has_side_chains` | 1 if at least half of the non-glycine amino acids have a CB (for a file without any: if it has heavy atoms other than node atoms) |
//! | `context/has_lattice` | 1 if the lattice contacts below were computed |
//! | `lattice/log_atom_count_{6,8,12}` | `L(#{heavy atoms of symmetry mates: r ≤ R})` |
//! | `lattice/log_ca_count_12` | `L(#{nodes of symmetry mates: r ≤ 12})` |
//! | `wcn/log_atom_wcn_15` | `L(Σ_b occ_b/r²)` over the heavy atoms `b` (symmetry mates included when the lattice is) with `0.8 < r < 15` Å of the centre, its own residue included: `gemmi wcn`'s contact number ([`atom_wcn`]) at the centre |
//! | `wcn/log_atom_wcn_15_blur{2,4}` | `L(1/v)`, `v` the Gaussian average (σ = 2, 4 Å, within 3σ, weights times occupancy but for the atom at the centre) of [`atom_wcn`]'s `1/WCN` of the scored atoms near the centre (the centre's own value if none is) |
//! | `wcn/log_residue_wcn_15` | the mean of `L(Σ_b occ_b/r²)` over the residue's heavy atoms (the centre's own value for a non-residue centre) |
//!
//! The `window` and `neigh` keys are `log_wcn_ca_40` (`density/log_wcn_ca_40`),
//! `log_count_ca_12`, `log_hse_up_13`, `atoms_log_count_10` and
//! `gnm_log_chain`.
//!
//! **Files without side chains** (`context/has_side_chains = 0`, e.g. CA-only
//! files): the `atoms` group and `lattice/log_atom_count_*` are 0 (a model
//! tells such files by the flag); `burial/log_hse_cb_up_13` equals
//! `burial/log_hse_up_13`.
//!
//! **Lattice**: with a unit cell (every edge ≥ 3 Å: `CRYST1 1 1 1` of NMR and
//! EM entries does not count) and a space group pdbtbx knows, the symmetry
//! mates are every space-group operator `x ↦ O(R·F x + t + t₀ + s)`, (`O`/`F`
//! the orthogonalisation/fractionalisation of the cell in the PDB convention,
//! `t₀` the whole-cell shift that brings the image of the heavy-atom centroid
//! back to the original's cell, `s ∈ {-1, 0, 1}³`), except the identity, whose
//! image can come within reach. Otherwise the `lattice` group is 0 and
//! `context/has_lattice` 0.
//!
//! **GNM on large structures**: the assembly network is used up to
//! [`FeatureConfig::gnm_max_nodes`] nodes (default 2,000); above,
//! `gnm/log_assembly` equals `gnm/log_chain`. A chain above that size is cut
//! into blocks of 256 nodes (fewer if the limit is below 512), each computed
//! with 128 nodes of sequence margin on each side (`ln(f̃/mean)` within the
//! window), so the cost stays linear in the chain length.
//!
//! # Cost
//!
//! Every descriptor goes through cell lists and is linear in the size: the
//! node kernel sums are cut at 40 Å (shifted to 0 there, so they are
//! continuous), the others have their own radius. Only the baselines
//! [`inverse_wcn`] and [`lorentz_fri`] keep their published definition, every
//! pair without cutoff, `O(n²)` with one division per pair (above 20,000 nodes
//! each pair of nodes once for both ends, within `2γ_{n-1}` relative of the
//! per-centre sums: the same terms in another order). rayon spreads the
//! centres, chains and lattice images over the cores. The fill of missing
//! tokens and the nearest node of a centre without one are linear (two passes;
//! cell shells). Figures by size are in `docs/performance.md` (`cargo bench
//! --features structure --bench features`, `scripts/bench_large.py`). The GNM
//! is never dense above
//! [`FeatureConfig::gnm_max_nodes`] nodes.
//!
//! [`MoleculeKind::Protein`]: crate::structure::MoleculeKind::Protein
//! [`TokenMode::CaOnly`]: crate::structure::TokenMode::CaOnly
//! [`TokenMode::Boltz2`]: crate::structure::TokenMode::Boltz2

mod atoms;
mod chain;
mod grid;
mod kernels;
mod lattice;
mod wcn;

use ndarray::{Array1, Array2, ArrayView1};
use rayon::prelude::*;

use self::atoms::Model;
pub(crate) use self::atoms::{first_conformers, is_hydrogen};
use self::grid::{dist2, Grid};
use self::kernels::{Centre, DENSITY_CUTOFF, HSE_RADIUS};
pub use self::wcn::{atom_wcn, AtomId, AtomWcn, WcnConfig, BUFFER_OR_WATER};
pub(crate) use self::wcn::{raw_and_blurred, RawAndBlurred};
use super::{MoleculeKind, Structure};
use crate::structure::gnm::{CLASSICAL_CUTOFF, MIN_CUTOFF};
use crate::{Error, Result};

/// Radius of the spatial-neighbourhood averages (Å).
pub const NEIGH_RADIUS: f64 = 10.0;
/// Half-widths of the sequence-window averages (residues).
pub const WINDOWS: [usize; 2] = [3, 7];

/// The settings of [`compute`].
///
/// ```
/// use bfactor::structure::features::FeatureConfig;
///
/// let c = FeatureConfig::new().with_gnm_cutoff(8.0).with_lattice(false);
/// assert!(c.validate().is_ok());
/// assert!(FeatureConfig::new().with_gnm_cutoff(3.0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureConfig {
    /// GNM contact cutoff (Å), default 7.3 (the classical CA cutoff).
    pub gnm_cutoff: f64,
    /// Largest network the GNM solves at once (nodes), default 2,000: above,
    /// the assembly column repeats the per-chain one and a longer chain is cut
    /// into windows (see the module doc).
    pub gnm_max_nodes: usize,
    /// Whether to count crystal-lattice contacts when the file has a unit cell
    /// and a space group (default true).
    pub lattice: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl FeatureConfig {
    /// The defaults: GNM cutoff 7.3 Å, at most 2,000 GNM nodes, lattice on.
    pub fn new() -> Self {
        Self {
            gnm_cutoff: CLASSICAL_CUTOFF,
            gnm_max_nodes: 2000,
            lattice: true,
        }
    }

    /// Another GNM cutoff (Å).
    pub fn with_gnm_cutoff(mut self, cutoff: f64) -> Self {
        self.gnm_cutoff = cutoff;
        self
    }

    /// Another GNM size limit (nodes).
    pub fn with_gnm_max_nodes(mut self, max_nodes: usize) -> Self {
        self.gnm_max_nodes = max_nodes;
        self
    }

    /// Lattice contacts on or off.
    pub fn with_lattice(mut self, lattice: bool) -> Self {
        self.lattice = lattice;
        self
    }

    /// Checks the ranges: `gnm_cutoff` finite and `>= 4` Å (as the GNM),
    /// `gnm_max_nodes >= 16`.
    pub fn validate(&self) -> Result<()> {
        if !(self.gnm_cutoff.is_finite() && self.gnm_cutoff >= MIN_CUTOFF) {
            return Err(Error::config(
                "gnm_cutoff",
                self.gnm_cutoff,
                format!("a finite distance >= {MIN_CUTOFF} Å (7.3 is the classical one)"),
            ));
        }
        if self.gnm_max_nodes < 16 {
            return Err(Error::config(
                "gnm_max_nodes",
                self.gnm_max_nodes,
                "at least 16 nodes",
            ));
        }
        Ok(())
    }
}

/// Per-token descriptors: `values[[i, j]]` is descriptor `names[j]` of token
/// `i` (in [`Structure::tokens`] order). Names are `group/name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptors {
    /// The descriptor names, `group/name`, one per column.
    pub names: Vec<String>,
    /// The values, `[n_tokens, n_features]`, all finite.
    pub values: Array2<f64>,
}

impl Descriptors {
    /// The group of column `j` (the part of its name before `/`).
    ///
    /// Panics if `j` is out of range.
    pub fn group_of(&self, j: usize) -> &str {
        let name = &self.names[j];
        name.split_once('/').map_or(name.as_str(), |(g, _)| g)
    }

    /// The groups, in column order, each once.
    pub fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for j in 0..self.names.len() {
            let g = self.group_of(j);
            if out.last().is_none_or(|last| last != g) && !out.iter().any(|x| x == g) {
                out.push(g.to_string());
            }
        }
        out
    }

    /// The column named `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<ArrayView1<'_, f64>> {
        let j = self.names.iter().position(|n| n == name)?;
        Some(self.values.column(j))
    }
}

/// The residue names of the `restype` one-hot columns, then `other`.
pub const RESTYPES: [&str; 20] = [
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
    "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
];

/// The keys of the `window` and `neigh` averages: (short name, source column).
const KEYS: [(&str, &str); 5] = [
    ("log_wcn_ca_40", "density/log_wcn_ca_40"),
    ("log_count_ca_12", "density/log_count_ca_12"),
    ("log_hse_up_13", "burial/log_hse_up_13"),
    ("atoms_log_count_10", "atoms/log_count_10"),
    ("gnm_log_chain", "gnm/log_chain"),
];

/// The descriptor names, in column order.
pub fn names() -> Vec<String> {
    let mut n: Vec<String> = Vec::new();
    let mut push = |s: String| n.push(s);
    push(format!("density/log_wcn_ca_{DENSITY_CUTOFF}"));
    for e in kernels::LORENTZ_ETAS {
        push(format!("density/log_lorentz_ca_{e}_{DENSITY_CUTOFF}"));
    }
    for e in kernels::GAUSS_ETAS {
        push(format!("density/log_gauss_ca_{e}"));
    }
    for r in kernels::NODE_RADII {
        push(format!("density/log_count_ca_{r}"));
    }
    for r in kernels::ATOM_RADII {
        push(format!("atoms/log_count_{r}"));
    }
    push("atoms/log_wcn_16".into());
    push("atoms/log_lorentz_3_16".into());
    push("atoms/log_contacts_4.5".into());
    for s in ["log_chain", "log_assembly", "isolated"] {
        push(format!("gnm/{s}"));
    }
    for s in [
        "log_hse_up_13",
        "log_hse_down_13",
        "log_hse_cb_up_13",
        "asymmetry_12",
        "rel_centroid_dist",
    ] {
        push(format!("burial/{s}"));
    }
    for s in [
        "rel_pos",
        "log_dist_n",
        "log_dist_c",
        "log_dist_break",
        "log_chain_len",
        "missing_coords",
    ] {
        push(format!("seq/{s}"));
    }
    for r in RESTYPES {
        push(format!("restype/{r}"));
    }
    push("restype/other".into());
    for s in ["helix", "strand", "coil", "cos_tau", "sin_tau", "cos_theta"] {
        push(format!("ss/{s}"));
    }
    for (k, _) in KEYS {
        for w in WINDOWS {
            push(format!("window/{k}_w{w}"));
        }
    }
    for (k, _) in KEYS {
        push(format!("neigh/{k}_r{NEIGH_RADIUS}"));
    }
    for s in [
        "log_n_residues",
        "resolution",
        "has_resolution",
        "has_side_chains",
        "has_lattice",
    ] {
        push(format!("context/{s}"));
    }
    for r in lattice::ATOM_RADII {
        push(format!("lattice/log_atom_count_{r}"));
    }
    push(format!("lattice/log_ca_count_{}", lattice::NODE_RADIUS));
    for s in [
        "log_atom_wcn_15",
        "log_atom_wcn_15_blur2",
        "log_atom_wcn_15_blur4",
        "log_residue_wcn_15",
    ] {
        push(format!("wcn/{s}"));
    }
    n
}

/// Where a token's descriptors come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Centre `i` (a node centre if `i < n_nodes`).
    Centre(usize),
    /// No coordinates.
    Missing,
}

/// The centres (the nodes first, then one per non-node token with an atom)
/// and each token's source.
fn centres(st: &Structure, model: &Model) -> (Vec<Centre>, Vec<Source>) {
    let dirs = chain::directions(model);
    let mut centres: Vec<Centre> = model
        .nodes
        .iter()
        .zip(&dirs)
        .enumerate()
        .map(|(i, (node, &(u, ucb)))| Centre {
            pos: node.pos,
            residue: Some(node.residue),
            node: Some(i),
            whole_residue: true,
            dir: u,
            dir_cb: ucb,
        })
        .collect();
    let mut sources = Vec::with_capacity(st.tokens().len());
    for t in st.tokens() {
        let residue = model.residue_of(&t.chain, t.residue_number, t.insertion_code.as_deref());
        let node = residue.and_then(|r| model.residues[r].node);
        let amino_node = node.filter(|&n| model.nodes[n].kind == atoms::NodeKind::Amino);
        match (t.kind, amino_node) {
            (MoleculeKind::Protein, Some(n)) => sources.push(Source::Centre(n)),
            _ if t.present && t.coords.iter().all(|v| v.is_finite()) => {
                sources.push(Source::Centre(centres.len()));
                centres.push(Centre {
                    pos: t.coords,
                    residue,
                    node,
                    whole_residue: false,
                    dir: [0.0; 3],
                    dir_cb: [0.0; 3],
                });
            }
            _ => sources.push(Source::Missing),
        }
    }
    (centres, sources)
}

/// Replaces zero half-sphere directions by `x_c - centroid(nodes of other
/// residues within 13 Å)`.
fn fill_directions(centres: &mut [Centre], model: &Model, grid: &Grid) {
    for c in centres.iter_mut() {
        if c.dir != [0.0; 3] {
            continue;
        }
        let mut sum = [0.0; 3];
        let mut count = 0.0;
        grid.for_each_candidate(&c.pos, HSE_RADIUS, |j| {
            let node = &model.nodes[j];
            if Some(node.residue) != c.residue
                && dist2(&node.pos, &c.pos) <= HSE_RADIUS * HSE_RADIUS
            {
                for (s, p) in sum.iter_mut().zip(node.pos) {
                    *s += p;
                }
                count += 1.0;
            }
        });
        if count > 0.0 {
            let u: [f64; 3] = std::array::from_fn(|k| c.pos[k] - sum[k] / count);
            c.dir = u;
            if c.dir_cb == [0.0; 3] {
                c.dir_cb = u;
            }
        }
    }
}

/// Computes the descriptors of every token of `st` (see the module doc).
///
/// Errors: [`Error::Config`] for an invalid `config`; [`Error::NonFinite`]
/// for an atom with non-finite coordinates; errors of the GNM's linear algebra
/// ([`Error::Numerical`], not expected).
pub fn compute(st: &Structure, config: &FeatureConfig) -> Result<Descriptors> {
    config.validate()?;
    let names = names();
    let model = Model::new(st)?;
    let (mut centres, sources) = centres(st, &model);
    let n_nodes = model.nodes.len();
    let node_pos = model.node_positions();
    let node_grid = Grid::new(&node_pos, 8.0);
    fill_directions(&mut centres, &model, &node_grid);
    let nc = centres.len();
    let ncol = names.len();
    let col = |name: &str| -> usize {
        names
            .iter()
            .position(|n| n == name)
            .expect("descriptor name in the table")
    };
    // Rows per centre.
    let mut rows = Array2::<f64>::zeros((nc, ncol));

    // density
    let wide_grid = Grid::new(&node_pos, 10.0);
    let sums = kernels::node_sums_cutoff(&centres, &node_pos, &wide_grid, DENSITY_CUTOFF);
    let local = kernels::node_local(&centres, &model, &node_grid, &node_pos);
    let d0 = col("density/log_wcn_ca_40");
    for (i, (s, l)) in sums.iter().zip(&local).enumerate() {
        let vals = s.iter().chain(&l.gauss).chain(&l.counts).map(|v| v.ln_1p());
        for (k, v) in vals.enumerate() {
            rows[[i, d0 + k]] = v;
        }
    }
    // atoms
    if model.has_side_chains {
        let atom_grid = Grid::new(&model.atoms, 8.0);
        let a0 = col("atoms/log_count_8");
        for (i, a) in kernels::atom_local(&centres, &model, &atom_grid)
            .iter()
            .enumerate()
        {
            let vals = a.counts.iter().chain([&a.wcn, &a.lorentz, &a.contacts]);
            for (k, v) in vals.enumerate() {
                rows[[i, a0 + k]] = v.ln_1p();
            }
        }
    }
    // burial
    let b0 = col("burial/log_hse_up_13");
    let (centroid, rg) = if n_nodes > 0 {
        let m: [f64; 3] =
            std::array::from_fn(|k| node_pos.iter().map(|p| p[k]).sum::<f64>() / n_nodes as f64);
        let rg = (node_pos.iter().map(|p| dist2(p, &m)).sum::<f64>() / n_nodes as f64).sqrt();
        (m, rg)
    } else {
        ([0.0; 3], 0.0)
    };
    for (i, l) in local.iter().enumerate() {
        rows[[i, b0]] = l.hse_up.ln_1p();
        rows[[i, b0 + 1]] = l.hse_down.ln_1p();
        rows[[i, b0 + 2]] = l.hse_cb_up.ln_1p();
        rows[[i, b0 + 3]] = l.asymmetry;
        rows[[i, b0 + 4]] = if rg > 0.0 {
            dist2(&centres[i].pos, &centroid).sqrt() / rg
        } else {
            0.0
        };
    }
    // gnm, seq, ss: per node, then non-node centres.
    let gnm = chain::gnm(&model, config.gnm_cutoff, config.gnm_max_nodes)?;
    let seq = chain::seq(&model);
    let ss = chain::ss(&model);
    let (g0, s0, ss0) = (col("gnm/log_chain"), col("seq/rel_pos"), col("ss/helix"));
    for (i, c) in centres.iter().enumerate() {
        let gnm_node = c.node.or_else(|| node_grid.nearest(&node_pos, &c.pos));
        if let Some(n) = gnm_node {
            for k in 0..3 {
                rows[[i, g0 + k]] = gnm[k][n];
            }
        }
        if let Some(n) = c.node {
            for k in 0..5 {
                rows[[i, s0 + k]] = seq[k][n];
            }
            if i < n_nodes {
                for k in 0..6 {
                    rows[[i, ss0 + k]] = ss[k][n];
                }
            }
        }
    }
    // lattice
    let mut has_lattice = false;
    if config.lattice {
        let reach = lattice::ATOM_RADII[2].max(lattice::NODE_RADIUS);
        if let Some(images) = lattice::images(st, &model, reach) {
            has_lattice = true;
            let pos: Vec<[f64; 3]> = centres.iter().map(|c| c.pos).collect();
            let (atom_counts, node_counts) =
                lattice::counts(&model, &images, &pos, model.has_side_chains);
            let l0 = col("lattice/log_atom_count_6");
            for i in 0..nc {
                for k in 0..3 {
                    rows[[i, l0 + k]] = atom_counts[i][k].ln_1p();
                }
                rows[[i, l0 + 3]] = node_counts[i].ln_1p();
            }
        }
    }
    // wcn: gemmi's all-heavy-atom contact number at the centre, blurred, and
    // the residue's mean.
    let field = wcn::Field::new(st, &WcnConfig::new().with_crystal(config.lattice))?;
    let atom_log: Vec<f64> = model
        .atoms
        .par_iter()
        .map(|p| field.sum_at_atom(p).ln_1p())
        .collect();
    let wc0 = col("wcn/log_atom_wcn_15");
    let wcn_rows: Vec<[f64; 4]> = centres
        .par_iter()
        .map(|c| {
            let own = field.sum_at_atom(&c.pos).ln_1p();
            let blur = |sigma: f64| {
                field
                    .blurred_at(&c.pos, 0, None, sigma)
                    .map_or(own, |v| (1.0 / v).ln_1p())
            };
            let residue = match c.residue {
                Some(r) if c.whole_residue && !model.residues[r].atoms.is_empty() => {
                    let a = model.residues[r].atoms.clone();
                    atom_log[a.clone()].iter().sum::<f64>() / a.len() as f64
                }
                _ => own,
            };
            [own, blur(2.0), blur(wcn::MAX_BLUR), residue]
        })
        .collect();
    for (i, w) in wcn_rows.iter().enumerate() {
        for (k, v) in w.iter().enumerate() {
            rows[[i, wc0 + k]] = *v;
        }
    }
    // window and neigh, from the key values at the nodes.
    let key_cols: Vec<usize> = KEYS.iter().map(|(_, c)| col(c)).collect();
    let chain_of = chain::node_chain(&model);
    let w0 = col(&format!("window/{}_w{}", KEYS[0].0, WINDOWS[0]));
    let n0 = col(&format!("neigh/{}_r{NEIGH_RADIUS}", KEYS[0].0));
    let mut prefix = vec![vec![0.0; n_nodes + 1]; KEYS.len()];
    for (k, &kc) in key_cols.iter().enumerate() {
        for i in 0..n_nodes {
            prefix[k][i + 1] = prefix[k][i] + rows[[i, kc]];
        }
    }
    for i in 0..nc {
        for (k, &kc) in key_cols.iter().enumerate() {
            for (w, &half) in WINDOWS.iter().enumerate() {
                rows[[i, w0 + 2 * k + w]] = if i < n_nodes {
                    let range = &model.chains[chain_of[i]].1;
                    let (a, b) = (
                        i.saturating_sub(half).max(range.start),
                        (i + half + 1).min(range.end),
                    );
                    (prefix[k][b] - prefix[k][a]) / (b - a) as f64
                } else {
                    rows[[i, kc]]
                };
            }
        }
        let mut sums = vec![0.0; KEYS.len()];
        let mut count = 0.0;
        let p = centres[i].pos;
        node_grid.for_each_candidate(&p, NEIGH_RADIUS, |j| {
            if dist2(&node_pos[j], &p) <= NEIGH_RADIUS * NEIGH_RADIUS {
                for (k, &kc) in key_cols.iter().enumerate() {
                    sums[k] += rows[[j, kc]];
                }
                count += 1.0;
            }
        });
        for (k, &kc) in key_cols.iter().enumerate() {
            rows[[i, n0 + k]] = if count > 0.0 {
                sums[k] / count
            } else {
                rows[[i, kc]]
            };
        }
    }
    // context
    let c0 = col("context/log_n_residues");
    let res = st.resolution();
    let context = [
        (n_nodes as f64).ln_1p(),
        res.unwrap_or(0.0),
        f64::from(u8::from(res.is_some())),
        f64::from(u8::from(model.has_side_chains)),
        f64::from(u8::from(has_lattice)),
    ];
    for i in 0..nc {
        for (k, v) in context.iter().enumerate() {
            rows[[i, c0 + k]] = *v;
        }
    }

    // Tokens.
    let tokens = st.tokens();
    let n_tok = tokens.len();
    let mut values = Array2::<f64>::zeros((n_tok, ncol));
    let fill_from: Vec<Option<usize>> = missing_fill(st, &sources);
    let (r0, miss) = (col("restype/ALA"), col("seq/missing_coords"));
    for (t, token) in tokens.iter().enumerate() {
        let centre = match sources[t] {
            Source::Centre(c) => Some(c),
            Source::Missing => fill_from[t].and_then(|u| match sources[u] {
                Source::Centre(c) => Some(c),
                Source::Missing => None,
            }),
        };
        match centre {
            Some(c) => values.row_mut(t).assign(&rows.row(c)),
            None => {
                for (k, v) in context.iter().enumerate() {
                    values[[t, c0 + k]] = *v;
                }
            }
        }
        for k in 0..=RESTYPES.len() {
            values[[t, r0 + k]] = 0.0;
        }
        let name = match token.residue_name.as_str() {
            "MSE" => "MET",
            other => other,
        };
        let k = match (token.kind, RESTYPES.iter().position(|&r| r == name)) {
            (MoleculeKind::Protein, Some(k)) => k,
            _ => RESTYPES.len(),
        };
        values[[t, r0 + k]] = 1.0;
        values[[t, miss]] = f64::from(u8::from(matches!(sources[t], Source::Missing)));
    }
    debug_assert!(values.iter().all(|v| v.is_finite()));
    if let Some((index, v)) = values.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::numerical(
            "structure descriptors",
            format!(
                "{} of token {} is {v}, expected a finite value",
                names[index.1], index.0
            ),
        ));
    }
    Ok(Descriptors { names, values })
}

/// For each missing token, the token its row is copied from.
fn missing_fill(st: &Structure, sources: &[Source]) -> Vec<Option<usize>> {
    let chains: Vec<&str> = st.tokens().iter().map(|t| t.chain.as_str()).collect();
    let has: Vec<bool> = sources
        .iter()
        .map(|s| matches!(s, Source::Centre(_)))
        .collect();
    nearest_present(&chains, &has)
}

/// For each `t` with `!has[t]`, the nearest `u` (by `|u - t|`, the earlier on
/// ties) with `has[u]` and `chains[u] == chains[t]`, else the nearest `u` with
/// `has[u]` in the whole list; `None` where `has[t]` or no `u` has. Two passes
/// (forward: the last present index before `t`, per chain and overall;
/// backward: the first after), `O(n)` with one hash look-up per token.
fn nearest_present(chains: &[&str], has: &[bool]) -> Vec<Option<usize>> {
    let n = has.len();
    // Previous/next present index in the same chain and in the whole list.
    let mut prev = vec![(None, None); n];
    let mut next = vec![(None, None); n];
    let mut last_in: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut last = None;
    for t in 0..n {
        prev[t] = (last_in.get(chains[t]).copied(), last);
        if has[t] {
            last_in.insert(chains[t], t);
            last = Some(t);
        }
    }
    last_in.clear();
    last = None;
    for t in (0..n).rev() {
        next[t] = (last_in.get(chains[t]).copied(), last);
        if has[t] {
            last_in.insert(chains[t], t);
            last = Some(t);
        }
    }
    let nearer = |t: usize, before: Option<usize>, after: Option<usize>| match (before, after) {
        (Some(b), Some(a)) => Some(if t - b <= a - t { b } else { a }),
        (b, a) => b.or(a),
    };
    (0..n)
        .map(|t| {
            if has[t] {
                return None;
            }
            nearer(t, prev[t].0, next[t].0).or_else(|| nearer(t, prev[t].1, next[t].1))
        })
        .collect()
}

/// Per token, a kernel sum over the nodes of other residues, each token at its
/// centre (see the module doc), missing tokens filled as in [`compute`]; then
/// `1 / sum`.
fn inverse_node_sum(st: &Structure, what: &str, eta: f64, nu: f64) -> Result<Array1<f64>> {
    let model = Model::new(st)?;
    let (centres, sources) = centres(st, &model);
    let node_pos = model.node_positions();
    let sums = kernels::node_sums_all_pairs(&centres, &node_pos, &[eta], nu);
    let which = usize::from(what != "inverse_wcn");
    let fill = missing_fill(st, &sources);
    let mut out = Array1::<f64>::zeros(st.tokens().len());
    for t in 0..out.len() {
        let src = match sources[t] {
            Source::Centre(c) => Some(c),
            Source::Missing => fill[t].and_then(|u| match sources[u] {
                Source::Centre(c) => Some(c),
                Source::Missing => None,
            }),
        };
        let Some(c) = src else {
            return Err(Error::too_few_valid(
                format!("{what} (tokens with coordinates)"),
                1,
                0,
            ));
        };
        let s = sums[c][which];
        if !(s > 0.0 && s.is_finite()) {
            return Err(Error::too_few_valid(
                format!("{what} (residue nodes, CA or C4', of other residues than token {t}'s)"),
                1,
                0,
            ));
        }
        out[t] = 1.0 / s;
    }
    Ok(out)
}

/// The `1/WCN` baseline: per token `1 / Σ_j 1/r_j²` over the residue nodes
/// (CA of every amino acid, C4' of every nucleotide, all chains) of other
/// residues, at the token's centre (its CA for a protein token; see the
/// module doc), every pair, no cutoff. Larger means more flexible.
///
/// Errors: [`Error::TooFewValid`] if a token has no other node to count (a
/// file with a single residue) or no token has coordinates;
/// [`Error::NonFinite`] for non-finite atom coordinates.
pub fn inverse_wcn(st: &Structure) -> Result<Array1<f64>> {
    inverse_node_sum(st, "inverse_wcn", 1.0, 3.0)
}

/// The Lorentz flexibility-rigidity index (Opron, Xia & Wei 2014): per token
/// `1 / Σ_j 1/(1 + (r_j/η)^ν)` over the same nodes as [`inverse_wcn`], every
/// pair. `η = 3`, `ν = 3` are the published defaults. Larger means more
/// flexible.
///
/// Errors: [`Error::Config`] unless `eta` and `nu` are finite and positive;
/// otherwise as [`inverse_wcn`].
pub fn lorentz_fri(st: &Structure, eta: f64, nu: f64) -> Result<Array1<f64>> {
    for (field, v) in [("eta", eta), ("nu", nu)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::config(
                field,
                v,
                "a finite number > 0 (the published FRI uses η = 3 Å, ν = 3)",
            ));
        }
    }
    inverse_node_sum(st, "lorentz_fri", eta, nu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_grouped() {
        let n = names();
        let set: std::collections::HashSet<&String> = n.iter().collect();
        assert_eq!(set.len(), n.len());
        let d = Descriptors {
            names: n.clone(),
            values: Array2::zeros((0, n.len())),
        };
        assert_eq!(
            d.groups(),
            [
                "density", "atoms", "gnm", "burial", "seq", "restype", "ss", "window", "neigh",
                "context", "lattice", "wcn"
            ]
        );
    }

    /// The scan `nearest_present` replaced: outward from each missing token.
    fn nearest_present_by_scan(chains: &[&str], has: &[bool]) -> Vec<Option<usize>> {
        let n = has.len();
        let nearest = |t: usize, allowed: &dyn Fn(usize) -> bool| -> Option<usize> {
            (1..n).find_map(|d| {
                let before = t.checked_sub(d).filter(|&u| has[u] && allowed(u));
                let after = Some(t + d).filter(|&u| u < n && has[u] && allowed(u));
                before.or(after)
            })
        };
        (0..n)
            .map(|t| {
                if has[t] {
                    return None;
                }
                nearest(t, &|u| chains[u] == chains[t]).or_else(|| nearest(t, &|_| true))
            })
            .collect()
    }

    #[test]
    fn nearest_present_equals_the_outward_scan_on_random_masks() {
        let mut rng = grid::Lcg(99);
        let mut next = |m: u64| rng.bits() % m;
        let names = ["A", "B", "C", "D"];
        let mut filled = 0;
        for case in 0..400 {
            let n = next(60) as usize;
            // Chains in runs, some interleaved (a chain's ligands after other chains).
            let n_chains = 1 + next(4) as usize;
            let chains: Vec<&str> = (0..n)
                .map(|t| {
                    if case % 3 == 0 {
                        names[next(n_chains as u64) as usize]
                    } else {
                        names[(t * n_chains / n.max(1)).min(n_chains - 1)]
                    }
                })
                .collect();
            let density = 1 + next(10);
            let has: Vec<bool> = (0..n).map(|_| next(10) < density).collect();
            let got = nearest_present(&chains, &has);
            assert_eq!(got, nearest_present_by_scan(&chains, &has), "case {case}");
            filled += got.iter().flatten().count();
        }
        assert!(filled > 1000, "the masks leave tokens to fill ({filled})");
        // Ties go to the earlier token; another chain only if the own has none.
        let chains = ["A", "A", "A", "B", "B"];
        let has = [true, false, true, true, false];
        assert_eq!(
            nearest_present(&chains, &has),
            [None, Some(0), None, None, Some(3)]
        );
        assert_eq!(
            nearest_present(&["A", "B", "B"], &[true, false, false]),
            [None, Some(0), Some(0)]
        );
        assert_eq!(nearest_present(&["A", "A"], &[false, false]), [None, None]);
    }

    #[test]
    fn dihedral_of_a_square_turn_is_ninety_degrees() {
        let p = [
            [1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 1.0, 1.0],
        ];
        let t = chain::dihedral([&p[0], &p[1], &p[2], &p[3]]);
        assert!((t.abs() - 90.0).abs() < 1e-12);
    }
}
