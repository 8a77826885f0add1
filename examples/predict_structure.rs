//! The bundled predictor on one structure file, against the training-free
//! baselines and the file's own B column.
//!
//! ```sh
//! cargo run --release --example predict_structure [FILE] [OUT]
//! ```
//!
//! Reads `FILE` (PDB or mmCIF, optionally `.gz`; by default the bundled 3HSY)
//! with one token per residue at CA, predicts B-factors with
//! [`Predictor::pretrained`], prints each chain's Pearson correlation with the
//! experimental CA B-factors for the predictor, the Gaussian network model (7 Å,
//! per chain) and 1/WCN, and writes the structure with the predicted B-factors
//! in its B column (every atom of a residue gets its residue's value) to `OUT`
//! (default `target/<name>_predicted.pdb`, or `.cif` for an mmCIF input).

use std::error::Error as StdError;
use std::path::PathBuf;

use bfactor::structure::features;
use bfactor::structure::gnm::{self, GnmConfig};
use bfactor::structure::predict::{chain_pearsons, Predictor};
use bfactor::structure::{self, FileFormat, ReadOptions, TokenMode};

fn main() -> Result<(), Box<dyn StdError>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let input = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("tests/data/structures/3HSY.pdb.gz"));
    let st = structure::read(&input, &ReadOptions::new().with_tokens(TokenMode::CaOnly))?;
    let stem = input
        .file_name()
        .map_or("structure".into(), |n| n.to_string_lossy().into_owned());
    let stem = stem.split('.').next().unwrap_or("structure").to_string();
    let ext = match st.format() {
        FileFormat::Pdb => "pdb",
        FileFormat::Mmcif => "cif",
    };
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(format!("target/{stem}_predicted.{ext}")));

    let predictor = Predictor::pretrained()?;
    let predicted = predictor.predict(&st)?;
    let gnm = gnm::per_chain_square_fluctuations(&st, &GnmConfig::new().with_cutoff(7.0))?;
    let wcn = features::inverse_wcn(&st)?;
    println!(
        "{}: {} residues in {} chains, resolution {}",
        input.display(),
        st.tokens().len(),
        st.chains().len(),
        st.resolution()
            .map_or("not given".into(), |r| format!("{r} Å"))
    );
    println!("\nPearson r with the experimental CA B-factors (chains of >= 20 residues):");
    println!(
        "{:<8} {:>10} {:>10} {:>10}",
        "chain", "predictor", "GNM 7 Å", "1/WCN"
    );
    let [p, g, w] = [&predicted, &gnm, &wcn].map(|v| chain_pearsons(&st, v, 20));
    let (p, g, w) = (p?, g?, w?);
    let find = |v: &[(String, f64)], id: &str| {
        v.iter()
            .find(|x| x.0 == id)
            .map_or("-".to_string(), |x| format!("{:.3}", x.1))
    };
    for (id, rp) in &p {
        println!(
            "{id:<8} {rp:>10.3} {:>10} {:>10}",
            find(&g, id),
            find(&w, id)
        );
    }
    let mean = |v: &[(String, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len().max(1) as f64;
    println!(
        "{:<8} {:>10.3} {:>10.3} {:>10.3}",
        "mean",
        mean(&p),
        mean(&g),
        mean(&w)
    );
    let b = st.bfactors();
    println!(
        "\nmean B: experimental {:.1} Å², predicted {:.1} Å² (the level comes from the resolution)",
        b.mean().unwrap_or(0.0),
        predicted.mean().unwrap_or(0.0)
    );
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    structure::write(&st, &predicted, &out)?;
    println!("wrote {}", out.display());
    Ok(())
}
