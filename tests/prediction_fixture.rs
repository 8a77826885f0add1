#![cfg(feature = "structure")]
//! The bundled predictor's outputs on every structure file of `data/` stay
//! what they were when `tests/fixtures/predictions/data.tsv.gz` was written
//! (`cargo run --release --example prediction_fixture`): the same tokens
//! (chain, number, insertion code, residue, atom, presence, B-factor, exactly)
//! and predictions within 1e-9 relative.
//!
//! `cargo test --features structure --test prediction_fixture`

use std::io::Read;
use std::path::PathBuf;

use bfactor::structure::predict::Predictor;
use bfactor::structure::{self, ReadOptions, TokenMode};

#[test]
fn predictions_on_data_match_the_fixture() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let gz = std::fs::read(root.join("tests/fixtures/predictions/data.tsv.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let predictor = Predictor::pretrained().unwrap();
    let blocks = text.split("\n> ").skip(1);
    let mut files = 0;
    for block in blocks {
        let mut lines = block.lines();
        let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let mode = match head[2] {
            "CaOnly" => TokenMode::CaOnly,
            "Boltz2" => TokenMode::Boltz2,
            other => panic!("unknown token mode {other:?} in the fixture"),
        };
        let path = root.join("data").join(head[0]).join(head[1]);
        let st = structure::read(&path, &ReadOptions::new().with_tokens(mode)).unwrap();
        let p = predictor.predict(&st).unwrap();
        let want: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
        assert_eq!(want.len(), st.tokens().len(), "{block:.60}");
        for ((line, t), v) in want.iter().zip(st.tokens()).zip(&p) {
            let f: Vec<&str> = line.split('\t').collect();
            let got = [
                t.chain.clone(),
                t.residue_number.to_string(),
                t.insertion_code.clone().unwrap_or_default(),
                t.residue_name.clone(),
                t.atom_name.clone(),
                u8::from(t.present).to_string(),
            ];
            assert_eq!(&f[..6], &got[..], "{}", path.display());
            assert_eq!(
                f[6].parse::<f64>().unwrap(),
                t.bfactor,
                "{}",
                path.display()
            );
            let w: f64 = f[7].parse().unwrap();
            assert!(
                (v - w).abs() <= 1e-9 * w.abs().max(1e-300),
                "{} ({mode:?}): {v} vs {w}",
                path.display()
            );
        }
        files += 1;
    }
    assert!(files >= 392 + 46, "only {files} structures in the fixture");
}
