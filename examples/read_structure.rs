//! Reads structure files and prints what was read; with `--stages`, also times
//! the descriptors and the bundled predictor on each file, stage by stage.
//!
//! ```sh
//! cargo run --release --example read_structure FILE...
//! cargo run --release --example read_structure -- --stages FILE...
//! ```
//!
//! The read-only path of `scripts/bench_large.py` (what `structure::read` costs,
//! with one token per residue at CA, as `bfactor predict` reads), and the
//! per-stage split of its predict time. Each file prints one line:
//! `path atoms tokens chains read_s [descriptors_s model_s]`.

use std::error::Error as StdError;
use std::time::Instant;

use bfactor::structure::predict::Predictor;
use bfactor::structure::{self, features, ReadOptions, TokenMode};

fn main() -> Result<(), Box<dyn StdError>> {
    let mut stages = false;
    let mut paths = Vec::new();
    for a in std::env::args().skip(1) {
        if a == "--stages" {
            stages = true;
        } else {
            paths.push(a);
        }
    }
    if paths.is_empty() {
        return Err("usage: read_structure [--stages] FILE...".into());
    }
    let options = ReadOptions::new().with_tokens(TokenMode::CaOnly);
    let predictor = if stages {
        Some(Predictor::pretrained()?)
    } else {
        None
    };
    for path in &paths {
        let t = Instant::now();
        let st = structure::read(path, &options)?;
        let read_s = t.elapsed().as_secs_f64();
        let mut line = format!(
            "{path} {} {} {} {read_s:.4}",
            st.pdb().total_atom_count(),
            st.tokens().len(),
            st.chains().len()
        );
        if let Some(p) = &predictor {
            let t = Instant::now();
            let d = features::compute(&st, p.feature_config())?;
            let desc_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let b = p.predict_with(&st, &d)?;
            let model_s = t.elapsed().as_secs_f64();
            assert_eq!(b.len(), st.tokens().len());
            line.push_str(&format!(" {desc_s:.4} {model_s:.4}"));
        }
        println!("{line}");
    }
    Ok(())
}
