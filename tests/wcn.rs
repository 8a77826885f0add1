#![cfg(feature = "structure")]
//! `features::atom_wcn` against gemmi's own `gemmi wcn` program, per atom
//! (`tests/fixtures/wcn/`, written by `scripts/gen_wcn_fixtures.py`): gemmi's
//! defaults (15 Å, symmetry mates), `--blur=2` and `--no-crystal`, on files with
//! alternate locations, DNA, ions and buffer molecules, PDB and mmCIF, in
//! several space groups.

use std::collections::HashMap;
use std::path::Path;

use bfactor::structure::features::{self, WcnConfig};
use bfactor::structure::{self, ReadOptions};
use bfactor::Error;

const REGENERATE: &str = "python3 scripts/gen_wcn_fixtures.py (needs gemmi-program)";

/// (chain, seqid, atom name, occurrence) → gemmi's value.
fn fixture(entry: &str, setting: &str) -> HashMap<(String, String, String, usize), f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wcn")
        .join(format!("{entry}_{setting}.tsv"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; regenerate with {REGENERATE}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                (f[0].into(), f[1].into(), f[2].into(), f[3].parse().unwrap()),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

fn check(file: &str, setting: &str, config: WcnConfig) {
    let entry = file.split('.').next().unwrap();
    let want = fixture(entry, setting);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/crystal")
        .join(file);
    let st = structure::read(&path, &ReadOptions::new()).unwrap();
    let got = features::atom_wcn(&st, &config).unwrap();
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    let mut matched = 0;
    let mut worst: f64 = 0.0;
    for (a, &v) in got.atoms.iter().zip(got.values.iter()) {
        let seqid = format!(
            "{}{}",
            a.residue_number,
            a.insertion_code.as_deref().unwrap_or("")
        );
        let key = (a.chain.clone(), seqid, a.atom_name.clone());
        let k = seen.entry(key.clone()).or_insert(0);
        let full = (key.0, key.1, key.2, *k);
        *k += 1;
        let w = want
            .get(&full)
            .unwrap_or_else(|| panic!("{file} {setting}: gemmi does not score {full:?}"));
        worst = worst.max((v - w).abs() / w);
        matched += 1;
    }
    assert_eq!(
        matched,
        want.len(),
        "{file} {setting}: the same atoms are scored"
    );
    // gemmi prints 6 significant digits and sums float32 distances.
    assert!(
        worst < 2e-5,
        "{file} {setting}: worst relative difference {worst:e}"
    );
}

const FILES: [&str; 6] = [
    "1UBQ.pdb.gz",
    "1EJG.pdb.gz",
    "3CRO.pdb.gz",
    "1ZNI.pdb.gz",
    "5PTI.cif.gz",
    "1AJJ.pdb.gz",
];

#[test]
fn matches_gemmi_with_symmetry_mates() {
    for f in FILES {
        check(f, "default", WcnConfig::new());
    }
}

#[test]
fn matches_gemmi_blurred() {
    for f in FILES {
        check(f, "blur2", WcnConfig::new().with_blur(Some(2.0)));
    }
}

#[test]
fn matches_gemmi_without_the_crystal() {
    for f in FILES {
        check(f, "nocrystal", WcnConfig::new().with_crystal(false));
    }
}

#[test]
fn symmetry_mates_raise_the_contact_number() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/crystal/1UBQ.pdb.gz");
    let st = structure::read(&path, &ReadOptions::new()).unwrap();
    let with = features::atom_wcn(&st, &WcnConfig::new()).unwrap();
    let without = features::atom_wcn(&st, &WcnConfig::new().with_crystal(false)).unwrap();
    assert_eq!(with.atoms, without.atoms);
    let fewer = with
        .values
        .iter()
        .zip(without.values.iter())
        .filter(|(a, b)| a < b)
        .count();
    assert!(fewer > 100, "mates lower 1/WCN of surface atoms ({fewer})");
    assert!(with
        .values
        .iter()
        .zip(without.values.iter())
        .all(|(a, b)| a <= b));
}

#[test]
fn bad_settings_are_config_errors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/crystal/1UBQ.pdb.gz");
    let st = structure::read(&path, &ReadOptions::new()).unwrap();
    for (config, field) in [
        (WcnConfig::new().with_cutoff(f64::NAN), "cutoff"),
        (WcnConfig::new().with_cutoff(0.5), "cutoff"),
        (WcnConfig::new().with_min_dist(-1.0), "min_dist"),
        (WcnConfig::new().with_exponent(-2.0), "exponent"),
        (WcnConfig::new().with_blur(Some(0.0)), "blur"),
    ] {
        match features::atom_wcn(&st, &config) {
            Err(Error::Config { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected a config error, got {other:?}"),
        }
    }
}

#[test]
fn matches_gemmi_blurred_wider() {
    for f in FILES {
        check(f, "blur4", WcnConfig::new().with_blur(Some(4.0)));
    }
}

/// The `wcn` descriptor group at each CA of 1UBQ (no alternate locations,
/// every occupancy 1, so gemmi's per-atom values apply to the centre as they
/// are): `L(WCN)`, `L(1/blurred)` and the residue mean of `L(WCN)`.
#[test]
fn descriptors_are_gemmis_values_at_the_ca() {
    use bfactor::structure::TokenMode;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/crystal/1UBQ.pdb.gz");
    let st = structure::read(&path, &ReadOptions::new().with_tokens(TokenMode::CaOnly)).unwrap();
    let d = features::compute(&st, &features::FeatureConfig::new()).unwrap();
    let at = |setting: &str| fixture("1UBQ", setting);
    let (plain, blur2, blur4) = (at("default"), at("blur2"), at("blur4"));
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() <= 2e-5 * want.abs().max(1.0),
            "{what}: {got} vs gemmi {want}"
        )
    };
    for (i, t) in st.tokens().iter().enumerate() {
        let key = |atom: &str| {
            (
                t.chain.clone(),
                t.residue_number.to_string(),
                atom.to_string(),
                0usize,
            )
        };
        let l = |v: f64| (1.0 / v).ln_1p();
        let col = |name: &str| d.column(name).unwrap()[i];
        close(col("wcn/log_atom_wcn_15"), l(plain[&key("CA")]), "wcn");
        close(
            col("wcn/log_atom_wcn_15_blur2"),
            l(blur2[&key("CA")]),
            "blur 2",
        );
        close(
            col("wcn/log_atom_wcn_15_blur4"),
            l(blur4[&key("CA")]),
            "blur 4",
        );
        let residue: Vec<f64> = plain
            .iter()
            .filter(|(k, _)| k.0 == t.chain && k.1 == t.residue_number.to_string())
            .map(|(_, &v)| l(v))
            .collect();
        let mean = residue.iter().sum::<f64>() / residue.len() as f64;
        close(col("wcn/log_residue_wcn_15"), mean, "residue mean");
    }
}
