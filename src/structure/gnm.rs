//! The Gaussian network model (GNM): a training-free B-factor baseline from the
//! structure alone, with the same numbers as ProDy's `GNM`.
//!
//! One node per token (its CA atom for a residue, by convention), springs of
//! constant `γ` between every pair of nodes within a cutoff distance `r_c`:
//!
//! ```text
//! Γ_ij = -γ                  i ≠ j, |r_i - r_j| ≤ r_c      (Kirchhoff matrix)
//! Γ_ij =  0                  i ≠ j, |r_i - r_j| > r_c
//! Γ_ii =  γ · degree(i)      = -Σ_{j≠i} Γ_ij, so every row sums to 0
//! ⟨ΔR_i²⟩ ∝ [Γ⁺]_ii = Σ_k v_k,i² / λ_k        over the nonzero modes (λ_k, v_k) of Γ
//! B_i = k · [Γ⁺]_ii                          k fitted to experiment: fit_bfactors
//! ```
//!
//! (The absolute scale would be `B_i = 8π² k_B T / γ · [Γ⁻¹]_ii`; it is fitted
//! instead, as everybody does, because `γ` is not known.)
//!
//! ```
//! use bfactor::structure::gnm::{fit_bfactors, GnmConfig};
//! use bfactor::ndarray::{Array1, Array2};
//!
//! // Ten nodes on a straight line, 3.8 Å apart. With the classical 7.3 Å cutoff only
//! // consecutive nodes touch: the network is a path, whose Kirchhoff eigenvalues are
//! // known, 2γ(1 - cos(kπ/n)) for k = 1..n-1.
//! let n = 10;
//! let coords = Array2::from_shape_fn((n, 3), |(i, j)| if j == 0 { 3.8 * i as f64 } else { 0.0 });
//! let gnm = GnmConfig::new().with_cutoff(7.3).with_gamma(2.0).build(&coords)?;
//! assert_eq!(gnm.eigenvalues().len(), n - 1); // the zero mode is dropped
//! for (k, &l) in gnm.eigenvalues().iter().enumerate() {
//!     let exact = 2.0 * 2.0 * (1.0 - (std::f64::consts::PI * (k + 1) as f64 / n as f64).cos());
//!     assert!((l - exact).abs() < 1e-12);
//! }
//!
//! // The ends of a chain move most, and the profile is symmetric.
//! let f = gnm.square_fluctuations();
//! assert!(f[0] > f[1] && f[1] > f[4]);
//! assert!((f[0] - f[n - 1]).abs() < 1e-12);
//!
//! // Scale to experimental B-factors by least squares.
//! let experimental: Array1<f64> = f.mapv(|x| 40.0 * x);
//! let (scale, predicted) = fit_bfactors(&f, &experimental)?;
//! assert!((scale - 40.0).abs() < 1e-9);
//! assert!((&predicted - &experimental).iter().all(|d| d.abs() < 1e-9));
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! # Cutoff and γ
//!
//! [`GnmConfig::new`] uses **10 Å**, ProDy's default (`GNM.buildKirchhoff` and
//! `prody gnm`); **7.3 Å** is the classical cutoff of Bahar, Atilgan & Erman
//! (1997) for CA networks: `GnmConfig::new().with_cutoff(7.3)`. As in ProDy the
//! cutoff must be at least 4 Å and `γ` (default 1) must be positive. `γ` scales
//! the Kirchhoff matrix and its eigenvalues by `γ` and the square fluctuations by
//! `1/γ`, so it does not change a fitted B-factor profile.
//!
//! # The same numbers as ProDy
//!
//! The results equal ProDy 2.3's `GNM.buildKirchhoff(coords, cutoff, gamma)`,
//! `calcModes(n_modes=None)` and `calcSqFlucts` (to about 1e-13 relative; the
//! tests check 1e-6 on ubiquitin, a 327- and a 730-residue entry, two chains far
//! apart and a network with an isolated node), following ProDy's conventions:
//!
//! - **Contacts**: `d² ≤ r_c²`, boundary included, computed as ProDy's KD-tree
//!   (its default `kdtree=True`) does, in **single precision**: coordinates
//!   rounded to `f32`, `d² = ((0 + dx²) + dy²) + dz²` summed in `f32`, compared
//!   with `f32(r_c)²`. Two nodes 10.0000001 Å apart are therefore in contact at a
//!   10 Å cutoff, as in ProDy. Only pairs within about 1e-6 relative of the cutoff
//!   can tell this from a double-precision test.
//! - **γ**: `Γ = γ · (degree matrix - adjacency)`; γ multiplies, it does not
//!   divide.
//! - **Modes**: every mode with a nonzero eigenvalue, ascending, each eigenvector
//!   of unit length (its sign is arbitrary, as in LAPACK). ProDy counts
//!   eigenvalues below `1e-6` (`prody.utilities.eigtools.ZERO`) as zero and drops
//!   them; this module drops exactly one eigenvalue per connected component of
//!   the contact network, which is the exact number of zero eigenvalues of a
//!   graph Laplacian. The two agree unless a component's smallest nonzero
//!   eigenvalue is below 1e-6 (γ below about 1e-6, or an extremely long,
//!   thin chain), where ProDy would silently drop a real mode.
//! - **Square fluctuations**: `Σ_k v_k,i² / λ_k` over those modes
//!   (`calcSqFlucts`), i.e. the diagonal of the pseudo-inverse `Γ⁺`.
//!
//! # Networks in pieces
//!
//! Chains far apart, or a ligand token out of reach of the protein, split the
//! network into connected components. Each component has its own zero
//! eigenvalue (a rigid translation of that component), the pseudo-inverse acts
//! on each component separately, and every node gets its own component's
//! fluctuation, which is what ProDy computes too. Each component is
//! decomposed on its own ([`Gnm::n_components`], [`Gnm::component_labels`]); the
//! modes are zero outside their component.
//!
//! A node with no neighbour within the cutoff is a component of one node: it has
//! no nonzero mode and its square fluctuation is **0** (ProDy gives 0 up to
//! rounding, ~1e-31). That 0 means "not part of any network", not "rigid":
//! [`Gnm::isolated_nodes`] lists such nodes so they can be masked out of a fit.
//! A structure with no contact at all is an error, as in ProDy. No result is
//! ever NaN.
//!
//! # Missing atoms
//!
//! A row of three NaN in `coords` is a token whose representative atom is
//! missing ([`crate::structure::Structure::coords`] writes such rows): that node
//! is skipped. It has no contact, its square fluctuation is 0, and
//! [`Gnm::skipped_nodes`] lists it (its token's mask is 0 already, so
//! [`fit_bfactors`] with the structure's mask leaves it out). A row that is only
//! partly NaN, or infinite, is an [`Error::NonFinite`] naming the node.
//!
//! # Cost and limits
//!
//! The dense model of `n` nodes needs about `32 n²` bytes ([`memory_estimate`]:
//! the Laplacian, eigenvectors, modes and workspace). More nodes than
//! [`GnmConfig::max_nodes`] (default [`DEFAULT_MAX_NODES`] = 12,000, about
//! 4.3 GiB) is an [`Error::OutOfRange`] before anything is allocated; raise the
//! limit with [`GnmConfig::with_max_nodes`] on a machine with the memory.
//!
//! The contact search is `O(n²)`; the dense symmetric eigendecomposition
//! (faer's `self_adjoint_evd`, single-threaded) is `O(n³)` per component:
//! about 5 s for a 3,000-node component on a 2-core machine in release
//! builds (nalgebra's `symmetric_eigen` takes about 30 s). When only the
//! square fluctuations are needed, [`GnmConfig::square_fluctuations`] gets
//! them from a Cholesky factorisation instead (`Γ⁺ = (Γ + c·J/m)⁻¹ - J/(c·m)`
//! per component of `m` nodes, `J` the all-ones matrix): about 0.5 s for
//! 3,000 nodes, equal to the eigendecomposition to ~1e-10 relative.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::linalg::triangular_inverse::invert_lower_triangular;
use faer::{Mat, Par};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix1, Ix2};

use crate::loss::MIN_VALID_BFACTOR;
use crate::{check, Error, Result};

/// ProDy's default cutoff (Å): `GNM.buildKirchhoff` and `prody gnm`.
pub const DEFAULT_CUTOFF: f64 = 10.0;

/// The classical GNM cutoff for CA networks (Å), Bahar, Atilgan & Erman (1997).
pub const CLASSICAL_CUTOFF: f64 = 7.3;

/// The smallest cutoff ProDy accepts (Å).
pub const MIN_CUTOFF: f64 = 4.0;

/// The settings of a Gaussian network model: contact cutoff and spring constant.
///
/// ```
/// use bfactor::structure::gnm::GnmConfig;
///
/// let prody_default = GnmConfig::new(); // 10 Å, γ = 1
/// let classical = GnmConfig::new().with_cutoff(7.3);
/// assert_eq!((prody_default.cutoff, classical.cutoff), (10.0, 7.3));
/// assert!(GnmConfig::new().with_cutoff(3.0).validate().is_err()); // ProDy's minimum is 4 Å
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GnmConfig {
    /// Contact cutoff in Å: nodes at most this far apart are joined by a spring.
    /// Default 10 ([`DEFAULT_CUTOFF`], ProDy's); 7.3 ([`CLASSICAL_CUTOFF`]) is the
    /// classical choice. Finite and at least 4 ([`MIN_CUTOFF`]).
    pub cutoff: f64,
    /// Spring constant γ (default 1): finite and `> 0`. The Kirchhoff matrix is
    /// proportional to it, the square fluctuations inversely.
    pub gamma: f64,
    /// The most nodes accepted (default [`DEFAULT_MAX_NODES`]): more is an
    /// [`Error::OutOfRange`] before anything is allocated. See
    /// [`memory_estimate`].
    pub max_nodes: usize,
}

/// The default of [`GnmConfig::max_nodes`]: 12,000 nodes, about 4.3 GiB
/// ([`memory_estimate`]) and a few minutes for [`GnmConfig::build`].
pub const DEFAULT_MAX_NODES: usize = 12_000;

impl Default for GnmConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl GnmConfig {
    /// ProDy's defaults: cutoff 10 Å, γ = 1; at most [`DEFAULT_MAX_NODES`] nodes.
    pub fn new() -> Self {
        Self {
            cutoff: DEFAULT_CUTOFF,
            gamma: 1.0,
            max_nodes: DEFAULT_MAX_NODES,
        }
    }

    /// The same settings with another node limit ([`GnmConfig::max_nodes`]).
    pub fn with_max_nodes(mut self, max_nodes: usize) -> Self {
        self.max_nodes = max_nodes;
        self
    }

    /// The same settings with another cutoff (Å).
    pub fn with_cutoff(mut self, cutoff: f64) -> Self {
        self.cutoff = cutoff;
        self
    }

    /// The same settings with another spring constant.
    pub fn with_gamma(mut self, gamma: f64) -> Self {
        self.gamma = gamma;
        self
    }

    /// Checks the ranges ProDy checks: `cutoff` finite and `>= 4` Å, `gamma`
    /// finite and `> 0`; [`Error::Config`] otherwise.
    pub fn validate(&self) -> Result<()> {
        if !(self.cutoff.is_finite() && self.cutoff >= MIN_CUTOFF) {
            return Err(Error::config(
                "cutoff",
                self.cutoff,
                format!(
                    "a finite distance >= {MIN_CUTOFF} Å (as ProDy; 10 is ProDy's default, 7.3 \
                     the classical GNM cutoff)"
                ),
            ));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(Error::config(
                "gamma",
                self.gamma,
                "a finite spring constant > 0 (default 1)",
            ));
        }
        Ok(())
    }

    /// Builds the network on `coords` (`[n, 3]`, Å, one node per token, `n >= 2`)
    /// and decomposes it: every nonzero mode, as ProDy's
    /// `calcModes(n_modes=None)`.
    ///
    /// Errors: [`Error::Config`] for an invalid configuration or a structure
    /// with no contact at all; [`Error::Rank`] / [`Error::LastAxis`] for a shape
    /// other than `[n, 3]`; [`Error::Empty`] for no node, [`Error::TooFewValid`]
    /// for fewer than two nodes with coordinates; [`Error::NonFinite`] for
    /// infinite or partly NaN coordinates (rows of three NaN are skipped, see
    /// the [module docs](self)); [`Error::OutOfRange`] for more than
    /// [`GnmConfig::max_nodes`] nodes;
    /// [`Error::Numerical`] if the eigendecomposition does not converge (not
    /// expected for a Kirchhoff matrix).
    pub fn build<S: Data<Elem = f64>>(&self, coords: &ArrayBase<S, Ix2>) -> Result<Gnm> {
        let net = Network::new(coords, self)?;
        let n = net.n;
        let mut modes: Vec<(f64, usize, usize)> = Vec::with_capacity(n);
        let mut per_component: Vec<(Vec<f64>, Mat<f64>)> = Vec::with_capacity(net.members.len());
        let mut sq = Array1::<f64>::zeros(n);
        for (c, nodes) in net.members.iter().enumerate() {
            let m = nodes.len();
            if m < 2 {
                per_component.push((Vec::new(), Mat::zeros(0, 0)));
                continue;
            }
            let lap = net.laplacian(c);
            let (values, vectors) = eigh(&lap)?;
            // values[0] is the component's zero eigenvalue (its rigid translation).
            for k in 1..m {
                let inv = 1.0 / values[k];
                for (a, &i) in nodes.iter().enumerate() {
                    let v = vectors[(a, k)];
                    sq[i] += v * v * inv;
                }
                modes.push((values[k], c, k));
            }
            per_component.push((values, vectors));
        }
        // Ascending eigenvalues over all components, ties in component order.
        modes.sort_by(|a, b| a.0.total_cmp(&b.0));
        let gamma = self.gamma;
        let mut mode_matrix = Array2::<f64>::zeros((n, modes.len()));
        for (col, &(_, c, k)) in modes.iter().enumerate() {
            let vectors = &per_component[c].1;
            for (a, &i) in net.members[c].iter().enumerate() {
                mode_matrix[(i, col)] = vectors[(a, k)];
            }
        }
        let eigenvalues = modes.iter().map(|&(l, _, _)| gamma * l).collect();
        sq.mapv_inplace(|x| x / gamma);
        Ok(Gnm {
            config: *self,
            eigenvalues,
            modes: mode_matrix,
            components: net.members.len(),
            labels: net.labels,
            degree: net.degree,
            sq_flucts: sq,
            skipped: net.skipped,
        })
    }

    /// The square fluctuations `[Γ⁺]_ii` alone, without eigenvectors: the same
    /// values as `self.build(coords)?.square_fluctuations()` (to ~1e-10
    /// relative), about ten times faster for large structures.
    ///
    /// Per connected component of `m` nodes, with `L` its Laplacian (`Γ/γ`) and
    /// `c` its mean degree, `L + (c/m)·J` (`J` all ones) is positive definite,
    /// and `L⁺ = (L + (c/m)·J)⁻¹ - J/(c·m)`; its diagonal comes from a Cholesky
    /// factor and its triangular inverse. Isolated nodes get 0. Same errors as
    /// [`GnmConfig::build`].
    pub fn square_fluctuations<S: Data<Elem = f64>>(
        &self,
        coords: &ArrayBase<S, Ix2>,
    ) -> Result<Array1<f64>> {
        let net = Network::new(coords, self)?;
        let mut sq = Array1::<f64>::zeros(net.n);
        for (c, nodes) in net.members.iter().enumerate() {
            let m = nodes.len();
            if m < 2 {
                continue;
            }
            let lap = net.laplacian(c);
            let diag = match pinv_diagonal_cholesky(&lap) {
                Some(d) => d,
                None => {
                    // Not expected (the shifted Laplacian is positive definite);
                    // fall back on the eigendecomposition.
                    let (values, vectors) = eigh(&lap)?;
                    (0..m)
                        .map(|a| (1..m).map(|k| vectors[(a, k)].powi(2) / values[k]).sum())
                        .collect()
                }
            };
            for (a, &i) in nodes.iter().enumerate() {
                sq[i] = diag[a] / self.gamma;
            }
        }
        Ok(sq)
    }
}

/// The Kirchhoff matrix `Γ` (`[n, n]`) of the nodes `coords` (`[n, 3]`, Å):
/// `-γ` for each pair in contact, `γ · degree` on the diagonal, 0 elsewhere;
/// symmetric, every row sums to 0. Contacts as in ProDy (see the [module
/// docs](self)). Errors: [`Error::Config`] for an invalid configuration,
/// [`Error::Rank`] / [`Error::LastAxis`] for a shape other than `[n, 3]`,
/// [`Error::Empty`] for no node, [`Error::NonFinite`] for infinite
/// coordinates or a row only partly NaN (a row of three NaN, a missing atom, is
/// a node without contacts), [`Error::OutOfRange`] beyond
/// [`GnmConfig::max_nodes`] (one node, or no contact, give a zero matrix).
///
/// ```
/// use bfactor::structure::gnm::{kirchhoff, GnmConfig};
/// use bfactor::ndarray::array;
///
/// let coords = array![[0.0, 0.0, 0.0], [3.8, 0.0, 0.0], [7.6, 0.0, 0.0]];
/// let k = kirchhoff(&coords, &GnmConfig::new().with_cutoff(7.3).with_gamma(2.0))?;
/// assert_eq!(k, array![[2.0, -2.0, 0.0], [-2.0, 4.0, -2.0], [0.0, -2.0, 2.0]]);
/// # Ok::<(), bfactor::Error>(())
/// ```
pub fn kirchhoff<S: Data<Elem = f64>>(
    coords: &ArrayBase<S, Ix2>,
    config: &GnmConfig,
) -> Result<Array2<f64>> {
    config.validate()?;
    let coords = checked_coords(coords)?;
    let n = coords.nrows();
    check_size(n, config)?;
    let g = config.gamma;
    let mut k = Array2::<f64>::zeros((n, n));
    let mut degree = vec![0usize; n];
    for (i, j) in contacts(&coords, config.cutoff) {
        k[(i, j)] = -g;
        k[(j, i)] = -g;
        degree[i] += 1;
        degree[j] += 1;
    }
    for (i, &d) in degree.iter().enumerate() {
        k[(i, i)] = g * d as f64;
    }
    Ok(k)
}

/// A decomposed Gaussian network model: the nonzero modes of the Kirchhoff
/// matrix and the square fluctuations they give. Made by [`GnmConfig::build`].
#[derive(Debug, Clone)]
pub struct Gnm {
    config: GnmConfig,
    eigenvalues: Array1<f64>,
    modes: Array2<f64>,
    components: usize,
    labels: Vec<usize>,
    degree: Vec<usize>,
    sq_flucts: Array1<f64>,
    skipped: Vec<usize>,
}

impl Gnm {
    /// The square fluctuations `[Γ⁺]_ii = Σ_k v_k,i² / λ_k` over the nonzero modes
    /// (`[n]`, ProDy's `calcSqFlucts`), in units of `1/γ`; B-factors are
    /// proportional to them (see [`fit_bfactors`]). 0 for an isolated node.
    pub fn square_fluctuations(&self) -> Array1<f64> {
        self.sq_flucts.clone()
    }

    /// The nonzero eigenvalues of the Kirchhoff matrix, ascending (`[n - c]` for
    /// `c` connected components), ProDy's `getEigvals()`.
    pub fn eigenvalues(&self) -> &Array1<f64> {
        &self.eigenvalues
    }

    /// The modes (`[n, n - c]`): column `k` is the unit eigenvector of
    /// `eigenvalues()[k]`, zero outside its connected component; each column's
    /// sign is arbitrary. ProDy's `getEigvecs()`.
    pub fn modes(&self) -> &Array2<f64> {
        &self.modes
    }

    /// The number of connected components of the contact network (1 for one
    /// network; each isolated node is a component of its own). It is the number
    /// of zero eigenvalues that were dropped.
    pub fn n_components(&self) -> usize {
        self.components
    }

    /// The connected component of each node (`[n]`): `0..n_components()`,
    /// numbered in the order of each component's first node.
    pub fn component_labels(&self) -> &[usize] {
        &self.labels
    }

    /// The nodes with coordinates but no neighbour within the cutoff, ascending.
    /// Their square fluctuation is 0 by convention (not "rigid": outside any
    /// network); mask them out of a fit.
    pub fn isolated_nodes(&self) -> Vec<usize> {
        self.degree
            .iter()
            .enumerate()
            .filter(|(i, &d)| d == 0 && self.skipped.binary_search(i).is_err())
            .map(|(i, _)| i)
            .collect()
    }

    /// The nodes skipped because their coordinates are all NaN (a token whose
    /// representative atom is missing, [`crate::structure::Structure::missing`]),
    /// ascending. They are in no contact; their square fluctuation is 0 and
    /// means nothing: mask them out of a fit (their tokens' mask is 0 already).
    pub fn skipped_nodes(&self) -> &[usize] {
        &self.skipped
    }

    /// The number of contacts of each node (`[n]`): the Kirchhoff diagonal over γ.
    pub fn degrees(&self) -> &[usize] {
        &self.degree
    }

    /// The number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.labels.len()
    }

    /// The settings the model was built with.
    pub fn config(&self) -> &GnmConfig {
        &self.config
    }
}

/// The square fluctuations of a GNM built on each chain of `st` on its own
/// (its tokens' representative atoms, the way the published per-protein GNM
/// figures are computed), `[n_tokens]` in [`Structure::tokens`](crate::structure::Structure::tokens) order, in units
/// of `1/γ`. Tokens whose representative atom is missing are left out of their
/// chain's network and get 0, as do chains of fewer than 3 present tokens and
/// isolated nodes; mask them with [`Structure::mask`](crate::structure::Structure::mask) (missing atoms) or by the
/// value. Uses [`GnmConfig::square_fluctuations`] (no eigenvectors).
///
/// ```
/// use bfactor::structure::{self, gnm::{self, GnmConfig}, ReadOptions, TokenMode};
///
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/structures/1ubi.pdb");
/// let st = structure::read(path, &ReadOptions::new().with_tokens(TokenMode::CaOnly))?;
/// let f = gnm::per_chain_square_fluctuations(&st, &GnmConfig::new().with_cutoff(7.0))?;
/// let r = bfactor::loss::pearson_masked(&f, &st.bfactors(), &st.mask())?;
/// assert!(r > 0.5);
/// # Ok::<(), bfactor::Error>(())
/// ```
pub fn per_chain_square_fluctuations(
    st: &crate::structure::Structure,
    config: &GnmConfig,
) -> Result<Array1<f64>> {
    let coords = st.coords();
    let mut out = Array1::zeros(coords.nrows());
    for chain in st.chains() {
        let present: Vec<usize> = chain
            .tokens
            .clone()
            .filter(|&i| st.tokens()[i].present)
            .collect();
        if present.len() < 3 {
            continue;
        }
        let part = coords.select(ndarray::Axis(0), &present);
        let fluct = config.square_fluctuations(&part)?;
        for (k, &i) in present.iter().enumerate() {
            out[i] = fluct[k];
        }
    }
    Ok(out)
}

/// Least-squares scale of square fluctuations to experimental B-factors:
/// `k = Σ w f b / Σ w f²` over the valid tokens, and `k · f` for every token.
///
/// A token is valid when its mask weight is `> 0` (all weights 1 here;
/// [`fit_bfactors_masked`] takes a mask) and its experimental B-factor is `> 1e-5` (missing B-factors are
/// stored as 0, as in Boltz-2's loss); the weights `w` are the mask weights.
/// `sq_flucts` is [`Gnm::square_fluctuations`] (or any nonnegative profile).
///
/// Errors: [`Error::ShapeMismatch`] when the lengths differ, [`Error::Empty`]
/// for no token, [`Error::NonFinite`] for NaN or infinity in either series,
/// [`Error::InvalidMask`] for a negative or non-finite weight,
/// [`Error::TooFewValid`] when no valid token has a nonzero fluctuation (so
/// the scale is undefined).
pub fn fit_bfactors<S1, S2>(
    sq_flucts: &ArrayBase<S1, Ix1>,
    experimental: &ArrayBase<S2, Ix1>,
) -> Result<(f64, Array1<f64>)>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
{
    fit(sq_flucts, experimental, None::<&Array1<f64>>)
}

/// [`fit_bfactors`] with per-token weights `mask` (`[n_tokens]`, nonnegative):
/// a token counts when its weight is `> 0`, weighted by it.
pub fn fit_bfactors_masked<S1, S2, S3>(
    sq_flucts: &ArrayBase<S1, Ix1>,
    experimental: &ArrayBase<S2, Ix1>,
    mask: &ArrayBase<S3, Ix1>,
) -> Result<(f64, Array1<f64>)>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    S3: Data<Elem = f64>,
{
    fit(sq_flucts, experimental, Some(mask))
}

fn fit<S1, S2, S3>(
    sq_flucts: &ArrayBase<S1, Ix1>,
    experimental: &ArrayBase<S2, Ix1>,
    mask: Option<&ArrayBase<S3, Ix1>>,
) -> Result<(f64, Array1<f64>)>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    S3: Data<Elem = f64>,
{
    let n = sq_flucts.len();
    check::same_shape(
        "experimental",
        experimental.shape(),
        sq_flucts.shape(),
        "the shape of sq_flucts",
    )?;
    if let Some(m) = mask {
        check::same_shape(
            "mask",
            m.shape(),
            sq_flucts.shape(),
            "the shape of sq_flucts",
        )?;
    }
    if n == 0 {
        return Err(Error::empty("sq_flucts", vec![0], "token"));
    }
    check::finite("sq_flucts", sq_flucts)?;
    check::finite("experimental", experimental)?;
    if let Some(m) = mask {
        check::mask("mask", m)?;
    }
    let (mut fb, mut ff) = (0.0_f64, 0.0_f64);
    for i in 0..n {
        let w = mask.map_or(1.0, |m| m[i]);
        let (f, b) = (sq_flucts[i], experimental[i]);
        if w > 0.0 && b > MIN_VALID_BFACTOR {
            fb += w * f * b;
            ff += w * f * f;
        }
    }
    if !(ff > 0.0 && ff.is_finite() && fb.is_finite()) {
        let valid = (0..n)
            .filter(|&i| {
                mask.map_or(1.0, |m| m[i]) > 0.0
                    && experimental[i] > MIN_VALID_BFACTOR
                    && sq_flucts[i] != 0.0
            })
            .count();
        return Err(Error::too_few_valid(
            "fit_bfactors (tokens with mask > 0, experimental B > 1e-5 and a nonzero square \
             fluctuation)",
            1,
            valid,
        ));
    }
    let k = fb / ff;
    Ok((k, sq_flucts.mapv(|f| k * f)))
}

// ---------------------------------------------------------------------------
// internals
// ---------------------------------------------------------------------------

/// `coords` as a checked `[n, 3]` view with `n >= 1`, all finite.
fn checked_coords<S: Data<Elem = f64>>(coords: &ArrayBase<S, Ix2>) -> Result<ArrayView2<'_, f64>> {
    check::last_axis("coords", "x, y, z in Å", coords, 3)?;
    if coords.nrows() == 0 {
        return Err(Error::empty(
            "coords",
            coords.shape(),
            "node (one row [x, y, z] per token, e.g. its CA atom)",
        ));
    }
    // A row of three NaN is a missing atom: skipped (no contact). Anything else
    // that is not finite is an error.
    for (i, row) in coords.rows().into_iter().enumerate() {
        if row.iter().all(|v| v.is_nan()) {
            continue;
        }
        if let Some(k) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::non_finite("coords", vec![i, k], row[k]));
        }
    }
    Ok(coords.view())
}

/// The rows of `coords` that are all NaN (missing atoms), ascending.
fn missing_rows(coords: &ArrayView2<'_, f64>) -> Vec<usize> {
    coords
        .rows()
        .into_iter()
        .enumerate()
        .filter(|(_, r)| r.iter().all(|v| v.is_nan()))
        .map(|(i, _)| i)
        .collect()
}

/// Bytes a dense decomposition of `n` nodes needs at most: the Laplacian, the
/// eigenvectors, the mode matrix and faer's workspace, `4 · 8 · n²`.
pub fn memory_estimate(n: usize) -> u128 {
    4 * 8 * (n as u128) * (n as u128)
}

/// The node-count limit of `config`, checked before anything is allocated.
fn check_size(n: usize, config: &GnmConfig) -> Result<()> {
    if n > config.max_nodes {
        let gib = memory_estimate(n) as f64 / (1u64 << 30) as f64;
        return Err(Error::out_of_range(
            "gnm nodes (rows of coords)",
            vec![],
            n as f64,
            format!(
                "at most {} nodes (GnmConfig::max_nodes): the dense network model of {n} nodes \
                 would need about {gib:.1} GiB and O(n³) time; raise GnmConfig::with_max_nodes \
                 if the machine has the memory, or use fewer nodes (TokenMode::CaOnly, one \
                 chain)",
                config.max_nodes
            ),
        ));
    }
    Ok(())
}

/// The pairs `i < j` in contact, ProDy's way: `f32` coordinates, squared distance
/// summed in `f32` in the order x, y, z, `<= f32(cutoff)²`.
fn contacts(coords: &ArrayView2<'_, f64>, cutoff: f64) -> Vec<(usize, usize)> {
    let p: Vec<[f32; 3]> = coords
        .rows()
        .into_iter()
        .map(|r| [r[0] as f32, r[1] as f32, r[2] as f32])
        .collect();
    let r = cutoff as f32;
    let r2 = r * r;
    let mut pairs = Vec::new();
    for (i, a) in p.iter().enumerate() {
        for (j, b) in p.iter().enumerate().skip(i + 1) {
            let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
            let d2 = ((0.0_f32 + dx * dx) + dy * dy) + dz * dz;
            if d2 <= r2 {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

/// The contact network split into connected components.
struct Network {
    n: usize,
    /// Contacts `i < j`.
    edges: Vec<(usize, usize)>,
    degree: Vec<usize>,
    /// Component of each node, numbered by first node.
    labels: Vec<usize>,
    /// Nodes of each component, ascending.
    members: Vec<Vec<usize>>,
    /// Position of each node within its component.
    local: Vec<usize>,
    /// Nodes whose coordinates are all NaN (missing atoms), ascending.
    skipped: Vec<usize>,
}

impl Network {
    fn new<S: Data<Elem = f64>>(coords: &ArrayBase<S, Ix2>, config: &GnmConfig) -> Result<Self> {
        config.validate()?;
        let coords = checked_coords(coords)?;
        let n = coords.nrows();
        check_size(n, config)?;
        let skipped = missing_rows(&coords);
        if n - skipped.len() < 2 {
            return Err(Error::too_few_valid(
                "gnm (nodes in coords with coordinates; a network needs two)",
                2,
                n - skipped.len(),
            ));
        }
        let edges = contacts(&coords, config.cutoff);
        if edges.is_empty() {
            let (d, i, j) = closest_pair(&coords);
            return Err(Error::config(
                "cutoff",
                config.cutoff,
                format!(
                    "a distance that puts at least one pair of the {n} nodes in contact: none is \
                     within it, the closest pair (nodes {i} and {j}) is {d:.3} Å apart"
                ),
            ));
        }
        let mut degree = vec![0usize; n];
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for &(i, j) in &edges {
            degree[i] += 1;
            degree[j] += 1;
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
        let mut label_of_root = vec![usize::MAX; n];
        let mut labels = vec![0usize; n];
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut local = vec![0usize; n];
        for i in 0..n {
            let root = find(&mut parent, i);
            if label_of_root[root] == usize::MAX {
                label_of_root[root] = members.len();
                members.push(Vec::new());
            }
            let c = label_of_root[root];
            labels[i] = c;
            local[i] = members[c].len();
            members[c].push(i);
        }
        Ok(Self {
            n,
            edges,
            degree,
            labels,
            members,
            local,
            skipped,
        })
    }

    /// The Laplacian (`Γ/γ`: integer entries) of component `c`, dense.
    fn laplacian(&self, c: usize) -> Mat<f64> {
        let nodes = &self.members[c];
        let m = nodes.len();
        let mut lap = Mat::<f64>::zeros(m, m);
        for (a, &i) in nodes.iter().enumerate() {
            lap[(a, a)] = self.degree[i] as f64;
        }
        for &(i, j) in &self.edges {
            if self.labels[i] == c {
                let (a, b) = (self.local[i], self.local[j]);
                lap[(a, b)] = -1.0;
                lap[(b, a)] = -1.0;
            }
        }
        lap
    }
}

/// The closest pair of nodes (distance, i, j), for the no-contact error message.
fn closest_pair(coords: &ArrayView2<'_, f64>) -> (f64, usize, usize) {
    let n = coords.nrows();
    let mut best = (f64::INFINITY, 0, 1);
    for i in 0..n {
        for j in i + 1..n {
            let d2: f64 = (0..3)
                .map(|k| (coords[(i, k)] - coords[(j, k)]).powi(2))
                .sum();
            if d2 < best.0 {
                best = (d2, i, j);
            }
        }
    }
    (best.0.sqrt(), best.1, best.2)
}

/// Eigenvalues (ascending) and unit eigenvectors (columns) of a symmetric matrix.
fn eigh(a: &Mat<f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let n = a.nrows();
    let par = Par::Seq;
    let mut s = Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        par,
        Default::default(),
    ));
    self_adjoint_evd(
        a.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| {
        Error::numerical(
            "GNM eigendecomposition",
            format!(
                "faer's self-adjoint eigendecomposition of a {n}-node Kirchhoff matrix did \
                 not converge ({e:?})"
            ),
        )
    })?;
    let values = (0..n).map(|k| s[k]).collect();
    Ok((values, u))
}

/// The diagonal of the pseudo-inverse of a connected component's Laplacian
/// `lap` (`m >= 2`), by Cholesky of `lap + (c/m)·J`; `None` if that fails.
fn pinv_diagonal_cholesky(lap: &Mat<f64>) -> Option<Vec<f64>> {
    let m = lap.nrows();
    let trace: f64 = (0..m).map(|a| lap[(a, a)]).sum();
    let c = trace / m as f64;
    let shift = c / m as f64;
    let mut b = Mat::<f64>::from_fn(m, m, |i, j| if j <= i { lap[(i, j)] + shift } else { 0.0 });
    let par = Par::Seq;
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(m, par, Default::default()));
    cholesky_in_place(
        b.as_mut(),
        Default::default(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .ok()?;
    for j in 0..m {
        for i in 0..j {
            b[(i, j)] = 0.0;
        }
    }
    let mut inv = Mat::<f64>::zeros(m, m);
    invert_lower_triangular(inv.as_mut(), b.as_ref(), par);
    // (L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹: its diagonal is the column sums of squares of L⁻¹.
    let correction = 1.0 / (c * m as f64);
    let diag: Vec<f64> = (0..m)
        .map(|a| (a..m).map(|k| inv[(k, a)].powi(2)).sum::<f64>() - correction)
        .collect();
    diag.iter().all(|d| d.is_finite()).then_some(diag)
}
