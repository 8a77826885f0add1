#![cfg(feature = "structure")]
//! Every file of the project's crystal-structure data reads, and
//! `TokenMode::CaOnly` gives exactly the CA atoms ProDy's
//! `parsePDB(f, model=1).select('name CA and protein')` selects, chain by chain
//! (`tests/fixtures/prody_ca_counts.tsv`, made by `scripts/gen_prody_counts.py`).
//!
//! The data are looked for in `data/crystal/` and `data/set364/` of the
//! repository, then in `../shared/data/` beside it; the test fails if neither is
//! there.
//!
//! `cargo test --features structure --test structure_data`

use std::collections::BTreeMap;
use std::path::PathBuf;

use bfactor::structure::{self, ReadOptions, TokenMode};

const SETS: [&str; 2] = ["crystal", "set364"];

fn data_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for base in [root.join("data"), root.join("../shared/data")] {
        if SETS.iter().all(|s| base.join(s).is_dir()) {
            return base;
        }
    }
    panic!(
        "no structure data: expected data/crystal and data/set364 in {} (or ../shared/data \
         beside it)",
        root.display()
    );
}

/// set/file -> chain -> ProDy's count; `None` where ProDy cannot read the file.
type Counts = BTreeMap<(String, String), Option<BTreeMap<String, usize>>>;

fn prody_counts() -> Counts {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prody_ca_counts.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Counts::new();
    for line in text.lines().skip_while(|l| l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let key = (f[0].to_string(), f[1].to_string());
        if f[2] == "!" {
            out.insert(key, None);
            continue;
        }
        let entry = out.entry(key).or_insert_with(|| Some(BTreeMap::new()));
        if let Some(chains) = entry.as_mut() {
            if f[2] != "-" {
                chains.insert(f[2].to_string(), f[3].parse().unwrap());
            }
        }
    }
    out
}

fn is_structure(name: &str) -> bool {
    structure::FileFormat::from_path(name).is_ok()
}

#[test]
fn every_data_file_reads_with_prodys_ca_tokens() {
    let base = data_dir();
    let want = prody_counts();
    let mut checked = 0;
    let mut failures = Vec::new();
    for set in SETS {
        let mut names: Vec<String> = std::fs::read_dir(base.join(set))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| is_structure(n))
            .collect();
        names.sort();
        assert!(names.len() > 40, "{set}: {} files", names.len());
        for name in names {
            let path = base.join(set).join(&name);
            let key = (set.to_string(), name.clone());
            let Some(expected) = want.get(&key) else {
                failures.push(format!("{set}/{name}: not in the ProDy fixture"));
                continue;
            };
            // Boltz-2 tokens read too.
            if let Err(e) = structure::read(&path, &ReadOptions::new()) {
                failures.push(format!("{set}/{name}: {e}"));
                continue;
            }
            let s = match structure::read(&path, &ReadOptions::new().with_tokens(TokenMode::CaOnly))
            {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{set}/{name} (CaOnly): {e}"));
                    continue;
                }
            };
            let mut got: BTreeMap<String, usize> = BTreeMap::new();
            for span in s.chains() {
                *got.entry(span.id.clone()).or_default() += span.tokens.len();
            }
            match expected {
                // ProDy cannot read it: reading is enough.
                None => {}
                Some(chains) => {
                    // ProDy writes a blank chain as `_`; ours gets a name.
                    let total: usize = chains.values().sum();
                    let ours: usize = got.values().sum();
                    let blank = chains.contains_key("_");
                    if ours != total || (!blank && &got != chains) {
                        failures.push(format!("{set}/{name}: ProDy {chains:?}, bfactor {got:?}"));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 400, "{checked} files compared");
}
