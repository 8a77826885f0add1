//! Writes the bundled predictor's predictions, with every token's identity and
//! B-factor, for every structure file of `data/` (`crystal/` in both
//! token modes, `set364/` CA-only) to `tests/fixtures/predictions/data.tsv.gz`,
//! which `tests/prediction_fixture.rs` compares against (predictions within
//! 1e-9 relative, every other field exactly).
//!
//! `cargo run --release --example prediction_fixture [OUT]`

use std::io::Write;
use std::path::PathBuf;

use bfactor::structure::predict::Predictor;
use bfactor::structure::{self, FileFormat, ReadOptions, TokenMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("tests/fixtures/predictions/data.tsv.gz"));
    let predictor = Predictor::pretrained()?;
    let file = std::fs::File::create(&out)?;
    let mut w = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    writeln!(
        w,
        "# set\tfile\tmode | chain\tnumber\ticode\tresidue\tatom\tpresent\tbfactor\tprediction"
    )?;
    for set in ["crystal", "set364"] {
        let mut names: Vec<String> = std::fs::read_dir(root.join("data").join(set))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| FileFormat::from_path(n).is_ok())
            .collect();
        names.sort();
        let modes: &[TokenMode] = if set == "crystal" {
            &[TokenMode::CaOnly, TokenMode::Boltz2]
        } else {
            &[TokenMode::CaOnly]
        };
        for name in &names {
            let path = root.join("data").join(set).join(name);
            for &mode in modes {
                let st = structure::read(&path, &ReadOptions::new().with_tokens(mode))?;
                let p = predictor.predict(&st)?;
                writeln!(w, "> {set}\t{name}\t{mode:?}")?;
                for (t, v) in st.tokens().iter().zip(&p) {
                    writeln!(
                        w,
                        "{}\t{}\t{}\t{}\t{}\t{}\t{:?}\t{:?}",
                        t.chain,
                        t.residue_number,
                        t.insertion_code.as_deref().unwrap_or(""),
                        t.residue_name,
                        t.atom_name,
                        u8::from(t.present),
                        t.bfactor,
                        v
                    )?;
                }
            }
        }
    }
    w.finish()?;
    println!("wrote {}", out.display());
    Ok(())
}
