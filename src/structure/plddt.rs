//! pLDDT to B-factors, for molecular replacement: the step a crystallographer
//! takes before using a predicted model as a search model.
//!
//! The convention of Phenix's `process_predicted_model`: pLDDT (0–100) gives an
//! estimated coordinate error
//!
//! ```text
//! rmsd = 1.5 · exp(4 · (0.7 − pLDDT/100))  Å
//! B    = 8π²/3 · rmsd²                      Å²
//! ```
//!
//! (so pLDDT 70 is an error of 1.5 Å, B ≈ 59.2 Å²), and residues under a
//! pLDDT threshold are removed, 70 by default as there (rmsd above 1.5 Å).
//!
//! ```
//! use bfactor::structure::plddt_to_bfactor;
//! use ndarray::array;
//!
//! let b = plddt_to_bfactor(&array![70.0, 90.0])?;
//! let expected = 8.0 * std::f64::consts::PI.powi(2) / 3.0 * 1.5f64.powi(2);
//! assert!((b[0] - expected).abs() < 1e-12);
//! assert!(b[1] < b[0]); // more confident, smaller B
//! # Ok::<(), bfactor::Error>(())
//! ```

use std::collections::HashMap;

use ndarray::{Array, ArrayBase, Data, Dimension};

use super::sites::scan;
use super::write::cif_number;
use super::{BValues, FileFormat, Structure};
use crate::{check, Error, Float, Result};

/// The B-factor (Å²) of each pLDDT (0–100), by the formula of the [module
/// docs](self). [`Error::NonFinite`] for a NaN or infinite value,
/// [`Error::OutOfRange`] for one outside [0, 100] (a 0–1 pLDDT is to be
/// multiplied by 100 first).
pub fn plddt_to_bfactor<F, S, D>(plddt: &ArrayBase<S, D>) -> Result<Array<F, D>>
where
    F: Float,
    S: Data<Elem = F>,
    D: Dimension,
{
    check::finite("plddt", plddt)?;
    if let Some((flat, v)) = plddt
        .iter()
        .enumerate()
        .find(|(_, v)| !(0.0..=100.0).contains(&v.to_f64_exact()))
    {
        return Err(Error::out_of_range(
            "plddt",
            check::unravel(flat, plddt.shape()),
            v.to_f64_exact(),
            "0 to 100 (multiply a 0-1 pLDDT by 100)",
        ));
    }
    Ok(plddt.mapv(|p| F::from_f64_lossy(bfactor_of(p.to_f64_exact()))))
}

/// `8π²/3 · (1.5 · exp(4 · (0.7 − p/100)))²`.
fn bfactor_of(p: f64) -> f64 {
    let rmsd = 1.5 * (4.0 * (0.7 - p / 100.0)).exp();
    8.0 * std::f64::consts::PI.powi(2) / 3.0 * rmsd * rmsd
}

/// A residue of one model: (model, chain, number, insertion code).
type ResidueKey<'a> = (usize, &'a str, isize, Option<&'a str>);

/// How [`plddt_to_bfactor_text`] converts a model.
///
/// ```
/// use bfactor::structure::PlddtToB;
///
/// assert_eq!(PlddtToB::new().min_plddt, Some(70.0)); // Phenix's default
/// let keep_all = PlddtToB::new().with_min_plddt(None);
/// assert!(keep_all.validate().is_ok());
/// assert!(PlddtToB::new().with_min_plddt(Some(120.0)).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PlddtToB {
    /// Residues whose pLDDT (the mean of their atoms', 0–100) is under this
    /// are removed (default `Some(70.0)`, as Phenix; `None` keeps every residue).
    pub min_plddt: Option<f64>,
}

impl Default for PlddtToB {
    fn default() -> Self {
        Self {
            min_plddt: Some(70.0),
        }
    }
}

impl PlddtToB {
    /// Residues under pLDDT 70 removed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the threshold (`None`: keep every residue).
    pub fn with_min_plddt(mut self, min_plddt: Option<f64>) -> Self {
        self.min_plddt = min_plddt;
        self
    }

    /// [`Error::Config`] unless the threshold is in [0, 100].
    pub fn validate(&self) -> Result<()> {
        match self.min_plddt {
            Some(t) if !(0.0..=100.0).contains(&t) => Err(Error::config(
                "min_plddt",
                t,
                "a pLDDT from 0 to 100, or None",
            )),
            _ => Ok(()),
        }
    }
}

/// The text of a predicted model's file with B-factors from its pLDDT, in the
/// file's own format: every atom's B column (in every model) becomes
/// [`plddt_to_bfactor`] of its own pLDDT, and the atom records of residues
/// under [`PlddtToB::min_plddt`] are removed (a PDB atom's `ANISOU` record with
/// it); every other byte is kept (other mmCIF categories, such as
/// `_ma_qa_metric_local`, as they were).
///
/// Errors: [`Error::Format`] if the structure's B column was not read as pLDDT
/// ([`Structure::b_values`]; read it with
/// [`BColumn::Plddt`](super::BColumn::Plddt) if it is), if it has no source
/// text (made from atoms), or if an mmCIF row to remove shares a line with
/// another; [`Error::Empty`] if no atom would be left; [`Error::OutOfRange`] if a PDB value
/// does not fit its `%6.2f` column (pLDDT under about 34.8: raise the threshold
/// or write mmCIF); [`Error::Config`] for a bad threshold.
pub fn plddt_to_bfactor_text(structure: &Structure, config: &PlddtToB) -> Result<String> {
    config.validate()?;
    let shown = structure
        .path()
        .map_or_else(|| "<structure>".to_string(), |p| p.display().to_string());
    if structure.b_values() != BValues::Plddt {
        return Err(Error::format(
            &shown,
            format!(
                "its B column was not read as pLDDT (provenance {}, read as {:?}): read it \
                 with the B column as pLDDT if it is one",
                structure.provenance(),
                structure.b_values()
            ),
        ));
    }
    let Some(source) = structure.source.as_deref() else {
        return Err(Error::format(
            &shown,
            "the structure has no source text (it was made from atoms)",
        ));
    };
    let format = structure.format();
    let sites = scan(source, format)
        .map_err(|m| Error::format(&shown, m))?
        .sites;
    let scale = structure.plddt_scale;
    // The mean pLDDT of each residue, model by model.
    let mut residues: HashMap<ResidueKey<'_>, (f64, usize)> = HashMap::new();
    for s in &sites {
        let e = residues
            .entry((s.model, &s.chain, s.res_seq, s.icode.as_deref()))
            .or_insert((0.0, 0));
        e.0 += s.b * scale;
        e.1 += 1;
    }
    let dropped = |s: &super::sites::Site| {
        config.min_plddt.is_some_and(|t| {
            let (sum, n) = residues[&(s.model, s.chain.as_str(), s.res_seq, s.icode.as_deref())];
            sum / (n as f64) < t
        })
    };
    let mut out = String::with_capacity(source.len());
    let (mut copied, mut kept) = (0usize, 0usize);
    for (k, s) in sites.iter().enumerate() {
        if s.record.start < copied {
            continue;
        }
        if dropped(s) {
            let mut span = s.record.clone();
            match format {
                FileFormat::Pdb => {
                    // The ANISOU records that follow the atom's.
                    while source[span.end..].starts_with("ANISOU") {
                        span.end += source[span.end..]
                            .find('\n')
                            .map_or(source.len() - span.end, |i| i + 1);
                    }
                }
                FileFormat::Mmcif => {
                    let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
                    let line_end = source[span.end..]
                        .find('\n')
                        .map_or(source.len(), |i| span.end + i + 1);
                    let alone = source[line_start..span.start].trim().is_empty()
                        && source[span.end..line_end].trim().is_empty();
                    if !alone {
                        return Err(Error::format(
                            &shown,
                            format!(
                                "line {}: the _atom_site row to remove shares its line with \
                                 another row: it cannot be removed in place",
                                s.line
                            ),
                        ));
                    }
                    span = line_start..line_end;
                }
            }
            out.push_str(&source[copied..span.start]);
            copied = span.end;
            continue;
        }
        let Some(field) = s.b_field.clone() else {
            return Err(Error::format(
                &shown,
                "the _atom_site loop has no B_iso_or_equiv column to write into",
            ));
        };
        let b = bfactor_of(s.b * scale);
        out.push_str(&source[copied..field.start]);
        out.extend(std::iter::repeat_n(' ', s.b_pad));
        match format {
            FileFormat::Pdb => {
                let v = format!("{b:6.2}");
                if v.len() > 6 {
                    return Err(Error::out_of_range(
                        "B-factor from pLDDT",
                        vec![k],
                        b,
                        format!(
                            "at most 999.99 (the PDB column; line {} has pLDDT {}): raise the \
                             pLDDT threshold or write mmCIF",
                            s.line,
                            s.b * scale
                        ),
                    ));
                }
                out.push_str(&v);
            }
            FileFormat::Mmcif => out.push_str(&cif_number(b)),
        }
        copied = field.end;
        kept += 1;
    }
    out.push_str(&source[copied..]);
    if kept == 0 {
        return Err(Error::empty(
            format!(
                "the atoms of {shown} with pLDDT at least {}",
                config.min_plddt.unwrap_or(0.0)
            ),
            vec![0],
            "atom",
        ));
    }
    Ok(out)
}
