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
//!   `OUT_DIR/<name>_gnm.pdb` (`.cif` for an mmCIF file).
//!
//! `bfactor plot FILE --model gnm -o OUT.svg` (the command-line tool in `cli/`)
//! draws both profiles along each chain.
//!
//! `OUT_DIR` defaults to `target/structure_bfactors/` in the crate's directory.
//! A file whose residues mostly lack their Boltz-2 representative atom (a CA-only
//! model) is read again with one token per residue at CA ([`TokenMode::CaOnly`]).

use std::error::Error as StdError;
use std::path::PathBuf;
use std::process::ExitCode;

use bfactor::loss;
use bfactor::structure::gnm::GnmConfig;
use bfactor::structure::{self, gnm, FileFormat, ReadOptions, Structure, TokenMode};
use bfactor::Error;
use ndarray::{s, Array1, Array2};

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
    println!(
        "draw it: bfactor plot {} --model gnm -o {}_gnm.svg (cargo install --path cli)",
        input.display(),
        stem
    );
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
