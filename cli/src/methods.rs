//! Per-token values of each method, and statistics per chain.

use bfactor::loss;
use bfactor::structure::features::{atom_wcn, inverse_wcn, WcnConfig};
use bfactor::structure::gnm::{self, GnmConfig};
use bfactor::structure::predict::Predictor;
use bfactor::structure::{BValues, Method, Provenance, Structure};
use ndarray::{s, Array1, Array2};

/// One value per token, and where it is defined.
#[derive(Debug, Clone)]
pub struct Values {
    /// The values (0 where undefined).
    pub values: Array1<f64>,
    /// Whether each value is defined.
    pub defined: Vec<bool>,
}

/// The experimental B-factors and where they are usable (the library's mask).
pub fn experimental(st: &Structure) -> Values {
    Values {
        values: st.bfactors(),
        defined: st.mask().iter().map(|&m| m > 0.0).collect(),
    }
}

/// What a file's per-token values are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// The experimental B-factors (X-ray, or a file of unknown origin).
    Experiment,
    /// Cryo-EM B-factors (real-space refinement).
    CryoEm,
    /// An NMR ensemble's B-factors from the spread of its models.
    NmrEnsemble,
    /// A predicted model's pLDDT: confidence, not experiment.
    Plddt,
}

impl Reference {
    /// The label in tables, CSV and JSON.
    pub fn label(self) -> &'static str {
        match self {
            Reference::Experiment => "experiment",
            Reference::CryoEm => "cryo-EM B",
            Reference::NmrEnsemble => "NMR ensemble",
            Reference::Plddt => "pLDDT",
        }
    }
}

/// The reference of a file: its experimental B-factors (cryo-EM labelled as
/// such); else an ensemble's B-factors from the spread of its models; a
/// predicted model's pLDDT. `None` if it has none of these.
pub fn reference(st: &Structure) -> Option<(Reference, Values)> {
    let finite = |v: Array1<f64>| {
        let defined = v.iter().map(|x| x.is_finite()).collect();
        Values {
            values: v.mapv(|x| if x.is_finite() { x } else { 0.0 }),
            defined,
        }
    };
    if let Some(plddt) = st.plddt() {
        return Some((Reference::Plddt, finite(plddt)));
    }
    let exp = experimental(st);
    if exp.defined.iter().any(|&d| d) {
        let kind = match st.provenance().method() {
            Some(Method::CryoEm) => Reference::CryoEm,
            _ => Reference::Experiment,
        };
        return Some((kind, exp));
    }
    let ensemble = finite(st.ensemble_bfactors()?);
    Some((Reference::NmrEnsemble, ensemble))
}

/// A note for the summary of a file the bundled predictor was not trained on,
/// if any.
pub fn provenance_note(st: &Structure) -> Option<String> {
    match st.provenance() {
        Provenance::Predicted { .. } => Some(format!(
            "{}: its B column holds {}",
            st.provenance(),
            match st.b_values() {
                BValues::Plddt => "pLDDT (confidence), not B-factors",
                BValues::BFactors => "B-factors, as asked",
                BValues::Unusable => "neither pLDDT nor B-factors",
            }
        )),
        Provenance::Experimental { method, .. } if !method.is_crystallographic() => Some(format!(
            "{method}: the bundled predictor was trained on X-ray structures"
        )),
        _ => None,
    }
}

/// The loaded predictor: bundled, or from a weight file.
pub fn predictor(weights: Option<&std::path::Path>) -> Result<Predictor, String> {
    match weights {
        Some(path) => Predictor::load(path).map_err(|e| e.to_string()),
        None => Predictor::pretrained().map_err(|e| e.to_string()),
    }
}

/// The predictor's values, every token.
pub fn predicted(predictor: &Predictor, st: &Structure) -> Result<Values, String> {
    let values = predictor.predict(st).map_err(|e| e.to_string())?;
    if values.len() != st.tokens().len() {
        return Err(format!(
            "the predictor gave {} values for {} tokens",
            values.len(),
            st.tokens().len()
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "the predictor gave a non-finite value {} for token {i}",
            values[i]
        ));
    }
    Ok(Values {
        defined: vec![true; values.len()],
        values,
    })
}

/// GNM square fluctuations ⟨ΔR²⟩ (γ = 1) on the tokens whose representative atom
/// is present; undefined for the others and for nodes without any contact.
pub fn gnm_fluctuations(st: &Structure, config: &GnmConfig) -> Result<Values, String> {
    let n = st.tokens().len();
    let nodes: Vec<usize> = (0..n).filter(|&i| st.tokens()[i].present).collect();
    let coords = st.coords();
    let node_coords = Array2::from_shape_fn((nodes.len(), 3), |(a, k)| coords[[nodes[a], k]]);
    let sq = config
        .square_fluctuations(&node_coords)
        .map_err(|e| e.to_string())?;
    let mut values = Array1::zeros(n);
    let mut defined = vec![false; n];
    for (a, &i) in nodes.iter().enumerate() {
        // A node without contacts has no fluctuation (0): not part of the network.
        if sq[a] > 0.0 {
            values[i] = sq[a];
            defined[i] = true;
        }
    }
    Ok(Values { values, defined })
}

/// GNM B-factors `k·⟨ΔR²⟩`, `k` fitted by least squares to the experimental
/// B-factors; returns `k` too.
pub fn gnm_fitted(sq: &Values, exp: &Values) -> Result<(f64, Values), String> {
    let mask = both(sq, exp);
    if mask.sum() == 0.0 {
        return Err(
            "no experimental B-factors to fit the GNM to (all 0, as in NMR or \
                    predicted models); --scale none writes the square fluctuations instead"
                .into(),
        );
    }
    let (k, fitted) =
        gnm::fit_bfactors_masked(&sq.values, &exp.values, &mask).map_err(|e| e.to_string())?;
    let values = fitted
        .iter()
        .zip(&sq.defined)
        .map(|(&v, &d)| if d { v } else { 0.0 })
        .collect();
    Ok((
        k,
        Values {
            values,
            defined: sq.defined.clone(),
        },
    ))
}

/// 1/WCN per token (defined where the representative atom is present).
pub fn inverse_wcn_values(st: &Structure) -> Result<Values, String> {
    let values = inverse_wcn(st).map_err(|e| e.to_string())?;
    let defined = st
        .tokens()
        .iter()
        .zip(values.iter())
        .map(|(t, v)| t.present && v.is_finite())
        .collect();
    Ok(Values { values, defined })
}

/// gemmi's all-heavy-atom 1/WCN at each token's representative atom (defined
/// where that atom is scored: present, occupied, with a neighbour).
pub fn atom_wcn_values(st: &Structure, blur: Option<f64>) -> Result<Values, String> {
    let config = WcnConfig::new().with_blur(blur);
    let w = atom_wcn(st, &config).map_err(|e| e.to_string())?;
    let (values, defined) = w.token_values(st);
    Ok(Values { values, defined })
}

/// 1 where both series are defined, else 0.
pub fn both(a: &Values, b: &Values) -> Array1<f64> {
    a.defined
        .iter()
        .zip(&b.defined)
        .map(|(&x, &y)| if x && y { 1.0 } else { 0.0 })
        .collect()
}

/// Pearson's r of `method` against `exp` over the tokens in `range` where both
/// are defined; `None` if it is not defined (fewer than 2 tokens, a constant
/// series).
pub fn pearson(method: &Values, exp: &Values, range: std::ops::Range<usize>) -> Option<f64> {
    let mask = both(method, exp);
    let r = range;
    loss::pearson_masked(
        &method.values.slice(s![r.clone()]),
        &exp.values.slice(s![r.clone()]),
        &mask.slice(s![r]),
    )
    .ok()
    .filter(|v: &f64| v.is_finite())
}

/// The mean of `values` over the tokens in `range` where defined.
pub fn mean(v: &Values, range: std::ops::Range<usize>) -> Option<f64> {
    let (sum, n) = range
        .filter(|&i| v.defined[i])
        .fold((0.0, 0usize), |(s, n), i| (s + v.values[i], n + 1));
    (n > 0).then(|| sum / n as f64)
}
