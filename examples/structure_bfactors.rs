//! Experimental against Gaussian-network-model B-factors on a real structure.
//!
//! ```sh
//! cargo run --release --features structure --example structure_bfactors [FILE] [OUT_DIR]
//! ```
//!
//! Reads `FILE` (PDB or mmCIF, optionally `.gz`; by default the bundled 3MHT:
//! HhaI methyltransferase on DNA with S-adenosyl-homocysteine) into Boltz-2 tokens
//! (CB / CA for glycine, C4 or C2 for nucleotides, every ligand atom), builds a
//! GNM on the tokens' representative atoms (ProDy's 10 Å cutoff), fits its square
//! fluctuations to the experimental B-factors, and
//!
//! - prints a per-token table (chain, residue, experimental B, GNM B) and the
//!   per-chain Pearson correlation of GNM against experiment;
//! - writes the structure with the GNM B-factors in its B column (every atom of a
//!   residue gets its token's value; a token outside the network gets 0) to
//!   `OUT_DIR/<name>_gnm.pdb` (`.cif` for an mmCIF file);
//! - draws both profiles along the sequence, one panel per chain, to
//!   `OUT_DIR/<name>_gnm.svg`.
//!
//! `OUT_DIR` defaults to `target/structure_bfactors/` in the crate's directory.
//! A file whose residues mostly lack their Boltz-2 representative atom (a CA-only
//! model) is read again with one token per residue at CA ([`TokenMode::CaOnly`]).

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bfactor::loss;
use bfactor::structure::gnm::GnmConfig;
use bfactor::structure::{self, gnm, FileFormat, MoleculeKind, ReadOptions, Structure, TokenMode};
use bfactor::Error;
use ndarray::{s, Array1, Array2};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn StdError>> {
    let mut args = std::env::args().skip(1);
    let input = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/structures/3mht.pdb.gz")
    });
    let out_dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/structure_bfactors")
    });
    std::fs::create_dir_all(&out_dir)?;
    let name = input
        .file_name()
        .map_or("structure".into(), |n| n.to_string_lossy().into_owned());
    let stem = name.split('.').next().unwrap_or("structure").to_string();

    let mut s = structure::read(&input, &ReadOptions::new())?;
    if 2 * s.missing().len() > s.tokens().len() {
        // Most representative atoms missing: a CA-only (or backbone) file.
        println!(
            "{} of {} tokens lack their representative atom: using one token per residue at CA",
            s.missing().len(),
            s.tokens().len()
        );
        s = structure::read(&input, &ReadOptions::new().with_tokens(TokenMode::CaOnly))?;
    }
    let n = s.tokens().len();
    println!(
        "{}: {n} tokens in {} chains",
        input.display(),
        s.chains().len()
    );
    for w in s.warnings() {
        println!("  note: {w}");
    }
    if !s.missing().is_empty() {
        println!(
            "  {} tokens lack their representative atom (masked)",
            s.missing().len()
        );
    }

    // The GNM's nodes: the tokens whose representative atom is in the file.
    let nodes: Vec<usize> = (0..n).filter(|&i| s.tokens()[i].present).collect();
    let coords = s.coords();
    let node_coords = Array2::from_shape_fn((nodes.len(), 3), |(a, k)| coords[[nodes[a], k]]);
    let model = GnmConfig::new().build(&node_coords)?;
    let mut fluct = Array1::<f64>::zeros(n);
    let mut in_network = vec![false; n];
    for (a, &f) in model.square_fluctuations().iter().enumerate() {
        fluct[nodes[a]] = f;
        in_network[nodes[a]] = true;
    }
    for a in model.isolated_nodes() {
        in_network[nodes[a]] = false; // no contact: no GNM fluctuation to compare
    }
    let experimental = s.bfactors();
    let mask: Array1<f64> = s
        .mask()
        .iter()
        .zip(&in_network)
        .map(|(&m, &net)| if net { m } else { 0.0 })
        .collect();
    if mask.sum() == 0.0 {
        return Err(format!(
            "{} has no experimental B-factors to compare with (all 0, as in NMR models)",
            input.display()
        )
        .into());
    }
    let (k, predicted) = gnm::fit_bfactors_masked(&fluct, &experimental, &mask)?;
    println!(
        "GNM: {} nodes, {} connected component(s), {} isolated; fitted B = {k:.3} · <ΔR²>",
        nodes.len(),
        model.n_components(),
        model.isolated_nodes().len()
    );

    print_table(&s, &experimental, &predicted, &s.mask(), &in_network);

    println!("\nPearson r (GNM vs experiment), per chain:");
    let mut correlations = Vec::new();
    for c in s.chains() {
        let r = c.tokens.clone();
        let (p, e, m) = (
            predicted.slice(s![r.clone()]),
            experimental.slice(s![r.clone()]),
            mask.slice(s![r.clone()]),
        );
        let pearson = loss::pearson_masked(&p, &e, &m);
        match &pearson {
            Ok(v) => println!("  chain {:>2}: r = {v:+.3} over {} tokens", c.id, m.sum()),
            Err(err) => println!("  chain {:>2}: n/a ({err})", c.id),
        }
        correlations.push(pearson.ok());
    }
    if let Ok(r) = loss::pearson_masked(&predicted, &experimental, &mask) {
        println!("  all     : r = {r:+.3}");
    }

    let extension = match s.format() {
        FileFormat::Pdb => "pdb",
        FileFormat::Mmcif => "cif",
    };
    let mut output = out_dir.join(format!("{stem}_gnm.{extension}"));
    match structure::write(&s, &predicted, &output) {
        // A value too large for the PDB B column: mmCIF has no such limit.
        Err(Error::OutOfRange { value, .. }) => {
            println!("\n  note: GNM B = {value:.2} does not fit a PDB file; writing mmCIF");
            output = out_dir.join(format!("{stem}_gnm.cif"));
            structure::write(&s, &predicted, &output)?;
        }
        other => other?,
    }
    println!(
        "\nwrote {} (GNM B-factors in the B column)",
        output.display()
    );
    let svg = out_dir.join(format!("{stem}_gnm.svg"));
    let title = format!("{name}: experimental and GNM B-factors");
    let series = Series {
        experimental: &experimental,
        predicted: &predicted,
        mask: &s.mask(),
        in_network: &in_network,
    };
    plot(&s, &series, &correlations, &title, &svg)?;
    println!("drew  {}", svg.display());
    Ok(())
}

fn print_table(
    s: &Structure,
    experimental: &Array1<f64>,
    predicted: &Array1<f64>,
    mask: &Array1<f64>,
    in_network: &[bool],
) {
    println!(
        "\n{:>5} {:>6} {:>4} {:>4} {:>8} {:>8}",
        "chain", "resid", "name", "atom", "exp B", "GNM B"
    );
    let dash = format!("{:>8}", "-");
    for (i, t) in s.tokens().iter().enumerate() {
        let resid = format!(
            "{}{}",
            t.residue_number,
            t.insertion_code.as_deref().unwrap_or("")
        );
        let exp = if mask[i] > 0.0 {
            format!("{:8.2}", experimental[i])
        } else {
            dash.clone()
        };
        let gnm = if in_network[i] {
            format!("{:8.2}", predicted[i])
        } else {
            dash.clone()
        };
        println!(
            "{:>5} {:>6} {:>4} {:>4} {exp} {gnm}",
            t.chain, resid, t.residue_name, t.atom_name
        );
    }
}

/// The per-token values to draw, and where each is defined.
struct Series<'a> {
    experimental: &'a Array1<f64>,
    predicted: &'a Array1<f64>,
    mask: &'a Array1<f64>,
    in_network: &'a [bool],
}

const EXPERIMENTAL: RGBColor = RGBColor(31, 119, 180);
const PREDICTED: RGBColor = RGBColor(214, 39, 40);

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
            Some(v) if !gap => out.last_mut().unwrap().push((number as f64, v)),
            Some(v) => out.push(vec![(number as f64, v)]),
            None => out.push(Vec::new()),
        }
        last = Some(number);
    }
    out.retain(|r| !r.is_empty());
    out
}

/// A title and legend on top, then one panel per chain: experimental (where
/// known) and GNM B along the residue numbers; lines for polymer residues, dots
/// for ligand atoms (one token each, at their residue's number).
fn plot(
    s: &Structure,
    v: &Series<'_>,
    correlations: &[Option<f64>],
    title: &str,
    path: &Path,
) -> Result<(), Box<dyn StdError>> {
    let chains = s.chains();
    let (width, header, panel_height) = (1100u32, 56u32, 250u32);
    let root = SVGBackend::new(path, (width, header + panel_height * chains.len() as u32))
        .into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(header);
    top.draw(&Text::new(
        title.to_string(),
        (20, 8),
        ("sans-serif", 22).into_font().color(&BLACK),
    ))?;
    // The legend, once for all panels.
    let legend_font = ("sans-serif", 16).into_font().color(&BLACK);
    let mut x = 20;
    for (label, color) in [
        ("experimental", EXPERIMENTAL),
        ("GNM, fitted to experiment (10 Å cutoff)", PREDICTED),
    ] {
        top.draw(&PathElement::new(
            vec![(x, 42), (x + 30, 42)],
            color.stroke_width(2),
        ))?;
        top.draw(&Text::new(label, (x + 38, 34), legend_font.clone()))?;
        x += 80 + 7 * label.chars().count() as i32;
    }
    let polymer = |i: &usize| {
        matches!(
            s.tokens()[*i].kind,
            MoleculeKind::Protein | MoleculeKind::Dna | MoleculeKind::Rna
        )
    };
    if !(0..s.tokens().len()).all(|i| polymer(&i)) {
        top.draw(&Circle::new((x + 10, 42), 3, BLACK.filled()))?;
        top.draw(&Text::new(
            "ligand atoms (one token each)",
            (x + 22, 34),
            legend_font,
        ))?;
    }

    let panels = body.split_evenly((chains.len(), 1));
    for ((panel, c), r) in panels.iter().zip(&chains).zip(correlations) {
        let tokens = c.tokens.clone();
        let exp = |i: usize| (v.mask[i] > 0.0).then(|| v.experimental[i]);
        let gnm = |i: usize| v.in_network[i].then(|| v.predicted[i]);
        let number = |i: usize| s.tokens()[i].residue_number as f64;
        // Polymer residues at their numbers; ligands in columns after them.
        let span = |it: &mut dyn Iterator<Item = f64>| {
            it.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            })
        };
        let (mut lo, mut hi) = span(&mut tokens.clone().filter(polymer).map(number));
        if lo > hi {
            (lo, hi) = span(&mut tokens.clone().map(number));
        }
        let step = ((hi - lo) * 0.025).max(1.5);
        let mut ligand_x = vec![f64::NAN; s.tokens().len()];
        let mut ligands: Vec<(f64, String, Vec<usize>)> = Vec::new();
        let mut previous: Option<(isize, Option<String>)> = None;
        for i in tokens.clone().filter(|i| !polymer(i)) {
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
            let last = ligands.last_mut().unwrap();
            ligand_x[i] = last.0;
            last.2.push(i);
        }
        let mut right = 0.5;
        if let Some(l) = ligands.last() {
            (hi, right) = (l.0, step);
        }
        let ymax = tokens
            .clone()
            .filter_map(|i| [exp(i), gnm(i)].into_iter().flatten().reduce(f64::max))
            .fold(1.0_f64, f64::max)
            * 1.15;
        let residues = tokens.clone().filter(polymer).count();
        let ligand_atoms = tokens.len() - residues;
        let mut caption = format!("chain {}: {residues} residues", c.id);
        if ligand_atoms > 0 {
            caption.push_str(&format!(" + {ligand_atoms} ligand atoms"));
        }
        match r {
            Some(r) => caption.push_str(&format!(", Pearson r = {r:.2}")),
            None => caption.push_str(", Pearson r n/a"),
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 17))
            .margin_left(12)
            .margin_right(24)
            .margin_bottom(6)
            .x_label_area_size(38)
            .y_label_area_size(56)
            .build_cartesian_2d(lo - 0.5..hi + right, 0.0..ymax)?;
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
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .draw()?;
        for (value, color) in [
            (&exp as &dyn Fn(usize) -> Option<f64>, EXPERIMENTAL),
            (&gnm, PREDICTED),
        ] {
            for run in runs(s, tokens.clone().filter(polymer), value) {
                chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
            }
            chart.draw_series(tokens.clone().filter(|i| !polymer(i)).filter_map(|i| {
                value(i).map(|b| Circle::new((ligand_x[i], b), 3, color.filled()))
            }))?;
        }
        // Each ligand's name over its column.
        for (x, label, atoms) in &ligands {
            let top = atoms
                .iter()
                .filter_map(|&i| [exp(i), gnm(i)].into_iter().flatten().reduce(f64::max))
                .fold(0.0, f64::max);
            chart.draw_series(std::iter::once(Text::new(
                label.clone(),
                (*x, top + ymax * 0.03),
                TextStyle::from(("sans-serif", 12).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}
