//! Drawing experimental and predicted B-factors along each chain, one panel
//! per chain, to SVG or PNG (plotters).

use std::error::Error as StdError;
use std::path::Path;
use std::sync::Once;

use bfactor::structure::{MoleculeKind, Structure};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::methods::Values;

/// The font every label is drawn with (DejaVu Sans, bundled: PNG text needs
/// the glyphs, and no system font is assumed).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

const EXPERIMENTAL: RGBColor = RGBColor(31, 119, 180);
const PREDICTED: RGBColor = RGBColor(214, 39, 40);

/// What to draw.
pub struct Series<'a> {
    /// The title on top.
    pub title: String,
    /// The experimental B-factors (where defined).
    pub experimental: &'a Values,
    /// The values drawn against them (where defined).
    pub predicted: &'a Values,
    /// The legend entry of `predicted`.
    pub predicted_label: String,
    /// Pearson's r per chain (in `Structure::chains` order).
    pub correlations: Vec<Option<f64>>,
}

/// The picture's file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Scalable vector graphics.
    Svg,
    /// A PNG bitmap.
    Png,
}

impl Kind {
    /// The file type from the name's extension.
    pub fn from_path(path: &Path) -> Option<Kind> {
        match path
            .extension()?
            .to_string_lossy()
            .to_ascii_lowercase()
            .as_str()
        {
            "svg" => Some(Kind::Svg),
            "png" => Some(Kind::Png),
            _ => None,
        }
    }
}

fn register_font() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the bundled font cannot be read".to_string());
    });
    result
}

/// Draws `series` for `s` into `path` (its file type given by `kind`).
pub fn draw(s: &Structure, series: &Series<'_>, path: &Path, kind: Kind) -> Result<(), String> {
    register_font()?;
    let size = size(s);
    let result = match kind {
        Kind::Svg => panels(SVGBackend::new(path, size).into_drawing_area(), s, series),
        Kind::Png => panels(
            BitMapBackend::new(path, size).into_drawing_area(),
            s,
            series,
        ),
    };
    result.map_err(|e| format!("cannot draw {}: {e}", path.display()))
}

const WIDTH: u32 = 1100;
const HEADER: u32 = 56;
const PANEL: u32 = 250;

fn size(s: &Structure) -> (u32, u32) {
    let chains = s.chains().len().clamp(1, 200) as u32;
    (WIDTH, HEADER + PANEL * chains)
}

fn polymer(s: &Structure, i: usize) -> bool {
    matches!(
        s.tokens()[i].kind,
        MoleculeKind::Protein | MoleculeKind::Dna | MoleculeKind::Rna
    )
}

/// Pieces of a profile along the residue numbers: broken where the value is
/// not defined or residues are missing from the file (a gap in the numbering).
fn runs(
    s: &Structure,
    tokens: impl Iterator<Item = usize>,
    value: impl Fn(usize) -> Option<f64>,
) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    let mut last: Option<isize> = None;
    for i in tokens {
        let number = s.tokens()[i].residue_number;
        let gap = last.is_some_and(|l| number - l > 1);
        match value(i) {
            Some(v) if !gap => {
                if let Some(run) = out.last_mut() {
                    run.push((number as f64, v));
                }
            }
            Some(v) => out.push(vec![(number as f64, v)]),
            None => out.push(Vec::new()),
        }
        last = Some(number);
    }
    out.retain(|r| !r.is_empty());
    out
}

/// A title and legend on top, then one panel per chain: experimental (where
/// known) and predicted B along the residue numbers; lines for polymer
/// residues, dots for ligand atoms (one token each, in columns after the chain).
fn panels<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    s: &Structure,
    v: &Series<'_>,
) -> Result<(), Box<dyn StdError>>
where
    DB::ErrorType: 'static,
{
    let chains = s.chains();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(HEADER);
    top.draw(&Text::new(
        v.title.clone(),
        (20, 8),
        (FAMILY, 22).into_font().color(&BLACK),
    ))?;
    // The legend, once for all panels.
    let legend_font = (FAMILY, 16).into_font().color(&BLACK);
    let mut x = 20;
    for (label, color) in [
        ("experimental", EXPERIMENTAL),
        (v.predicted_label.as_str(), PREDICTED),
    ] {
        top.draw(&PathElement::new(
            vec![(x, 42), (x + 30, 42)],
            color.stroke_width(2),
        ))?;
        top.draw(&Text::new(label, (x + 38, 34), legend_font.clone()))?;
        x += 80 + 7 * label.chars().count() as i32;
    }
    if !(0..s.tokens().len()).all(|i| polymer(s, i)) {
        top.draw(&Circle::new((x + 10, 42), 3, BLACK.filled()))?;
        top.draw(&Text::new(
            "ligand atoms (one token each)",
            (x + 22, 34),
            legend_font,
        ))?;
    }

    let exp = |i: usize| v.experimental.defined[i].then(|| v.experimental.values[i]);
    let pred = |i: usize| v.predicted.defined[i].then(|| v.predicted.values[i]);
    let number = |i: usize| s.tokens()[i].residue_number as f64;
    let panels = body.split_evenly((chains.len(), 1));
    for (c_index, (panel, c)) in panels.iter().zip(&chains).enumerate() {
        let tokens = c.tokens.clone();
        // Polymer residues at their numbers; ligands in columns after them.
        let span = |it: &mut dyn Iterator<Item = f64>| {
            it.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            })
        };
        let (mut lo, mut hi) = span(&mut tokens.clone().filter(|&i| polymer(s, i)).map(number));
        if lo > hi {
            (lo, hi) = span(&mut tokens.clone().map(number));
        }
        let step = ((hi - lo) * 0.025).max(1.5);
        let mut ligand_x = vec![f64::NAN; s.tokens().len()];
        let mut ligands: Vec<(f64, String, Vec<usize>)> = Vec::new();
        let mut previous: Option<(isize, Option<String>)> = None;
        for i in tokens.clone().filter(|&i| !polymer(s, i)) {
            let t = &s.tokens()[i];
            let key = (t.residue_number, t.insertion_code.clone());
            if previous.as_ref() != Some(&key) {
                let x = ligands.last().map_or(hi, |l| l.0) + step;
                ligands.push((
                    x,
                    format!("{} {}", t.residue_name, t.residue_number),
                    Vec::new(),
                ));
                previous = Some(key);
            }
            if let Some(last) = ligands.last_mut() {
                ligand_x[i] = last.0;
                last.2.push(i);
            }
        }
        let mut right = 0.5;
        if let Some(l) = ligands.last() {
            (hi, right) = (l.0, step);
        }
        let ymax = tokens
            .clone()
            .filter_map(|i| [exp(i), pred(i)].into_iter().flatten().reduce(f64::max))
            .fold(1.0_f64, f64::max)
            * 1.15;
        let ymin = tokens
            .clone()
            .filter_map(|i| [exp(i), pred(i)].into_iter().flatten().reduce(f64::min))
            .fold(0.0_f64, f64::min)
            * 1.15;
        let residues = tokens.clone().filter(|&i| polymer(s, i)).count();
        let ligand_atoms = tokens.len() - residues;
        let mut caption = format!("chain {}: {residues} residues", c.id);
        if ligand_atoms > 0 {
            caption.push_str(&format!(" + {ligand_atoms} ligand atoms"));
        }
        match v.correlations.get(c_index).copied().flatten() {
            Some(r) => caption.push_str(&format!(", Pearson r = {r:.2}")),
            None => caption.push_str(", Pearson r n/a"),
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, (FAMILY, 17))
            .margin_left(12)
            .margin_right(24)
            .margin_bottom(6)
            .x_label_area_size(38)
            .y_label_area_size(56)
            .build_cartesian_2d(lo - 0.5..hi + right, ymin..ymax)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(12)
            .y_labels(6)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc(if ligands.is_empty() {
                "residue number"
            } else {
                "residue number (ligands after the chain)"
            })
            .y_desc("B (Å²)")
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()?;
        for (value, color) in [
            (&exp as &dyn Fn(usize) -> Option<f64>, EXPERIMENTAL),
            (&pred, PREDICTED),
        ] {
            for run in runs(s, tokens.clone().filter(|&i| polymer(s, i)), value) {
                chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
            }
            chart.draw_series(tokens.clone().filter(|&i| !polymer(s, i)).filter_map(|i| {
                value(i).map(|b| Circle::new((ligand_x[i], b), 3, color.filled()))
            }))?;
        }
        // Each ligand's name over its column.
        for (x, label, atoms) in &ligands {
            let top = atoms
                .iter()
                .filter_map(|&i| [exp(i), pred(i)].into_iter().flatten().reduce(f64::max))
                .fold(0.0, f64::max);
            chart.draw_series(std::iter::once(Text::new(
                label.clone(),
                (*x, top + ymax * 0.03),
                TextStyle::from((FAMILY, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom)),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}
