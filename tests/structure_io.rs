#![cfg(feature = "structure")]
//! Structure I/O on real crystal structures (see `tests/data/structures/README.md`):
//! B-factors as the files hold them (checked against the file text, parsed here
//! independently of pdbtbx), Boltz-2's representative atoms, PDB and mmCIF of one
//! entry agreeing, write → read round trips, per-chain scaling, and every error.
//!
//! `cargo test --features structure --test structure_io`

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use bfactor::structure::{
    self, scale, ChainSpan, FileFormat, MoleculeKind, ReadOptions, Structure, TokenMode,
};
use bfactor::tokens::representative_atom;
use bfactor::Error;
use ndarray::{Array1, Axis};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/structures")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

/// A fresh path in the temp dir (the name carries the extension).
fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "bfactor_structure_io_{}_{name}",
        std::process::id()
    ))
}

fn read(name: &str) -> Structure {
    structure::read(data(name), &ReadOptions::new()).unwrap()
}

/// One `ATOM`/`HETATM` record, by PDB's fixed columns.
#[derive(Debug, Clone)]
struct Raw {
    hetero: bool,
    name: String,
    alt: String,
    res_name: String,
    chain: String,
    res_seq: isize,
    xyz: [f64; 3],
    occupancy: f64,
    b: f64,
}

fn raw_atom(line: &str) -> Option<Raw> {
    let hetero = match line.get(..6)? {
        "ATOM  " => false,
        "HETATM" => true,
        _ => return None,
    };
    let col = |a: usize, b: usize| line[a..b].trim().to_string();
    let num = |a: usize, b: usize| col(a, b).parse::<f64>().unwrap();
    Some(Raw {
        hetero,
        name: col(12, 16),
        alt: col(16, 17),
        res_name: col(17, 20),
        chain: col(21, 22),
        res_seq: col(22, 26).parse().unwrap(),
        xyz: [num(30, 38), num(38, 46), num(46, 54)],
        occupancy: num(54, 60),
        b: num(60, 66),
    })
}

/// The first model's atom records of a PDB text.
fn raw_atoms(pdb: &str) -> Vec<Raw> {
    pdb.lines()
        .take_while(|l| !l.starts_with("ENDMDL"))
        .filter_map(raw_atom)
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

// ---------------------------------------------------------------------------
// Reading: B-factors as the file holds them, Boltz-2's atoms.
// ---------------------------------------------------------------------------

#[test]
fn ubiquitin_tokens_hold_the_files_cb_and_glycine_ca_bfactors() {
    let s = read("1ubi.pdb");
    let raw = raw_atoms(&text("1ubi.pdb"));
    let residues: Vec<&Raw> = raw.iter().filter(|a| !a.hetero && a.name == "CA").collect();
    assert_eq!(s.tokens().len(), 76);
    assert_eq!(residues.len(), 76);
    for (t, ca) in s.tokens().iter().zip(&residues) {
        let want = if ca.res_name == "GLY" { "CA" } else { "CB" };
        let atom = raw
            .iter()
            .find(|a| a.res_seq == ca.res_seq && a.name == want)
            .unwrap();
        assert_eq!(
            (t.chain.as_str(), t.residue_number, t.residue_name.as_str()),
            ("A", ca.res_seq, ca.res_name.as_str())
        );
        assert_eq!(t.atom_name, want);
        assert_eq!(t.kind, MoleculeKind::Protein);
        assert!(t.present && t.insertion_code.is_none());
        assert!(close(t.bfactor, atom.b, 1e-9), "{t:?} vs {atom:?}");
        assert!(close(t.occupancy, atom.occupancy, 1e-9));
        for k in 0..3 {
            assert!(close(t.coords[k], atom.xyz[k], 1e-9));
        }
    }
    // Spot checks, copied from the file:
    // ATOM      5  CB  MET A   1      25.112  24.879   3.647  1.00 15.53           C
    // ATOM     76  CA  GLY A  10      28.926  44.064  14.710  1.00 34.29           C
    // ATOM    216  CB  ALA A  28      39.206  24.340  13.523  1.00 13.96           C
    assert_eq!(s.tokens()[0].bfactor, 15.53);
    assert_eq!(s.tokens()[9].bfactor, 34.29);
    assert_eq!(s.tokens()[27].residue_name, "ALA");
    assert_eq!(s.tokens()[27].bfactor, 13.96);
    assert_eq!(s.tokens()[27].coords, [39.206, 24.34, 13.523]);
    assert_eq!(s.bfactors()[27], 13.96);
    assert_eq!(s.mask().sum(), 76.0);
    assert_eq!(s.coords().shape(), &[76, 3]);
    assert_eq!(s.coords()[[27, 2]], 13.523);
    assert_eq!(
        s.chains(),
        [ChainSpan {
            id: "A".into(),
            tokens: 0..76
        }]
    );
    assert!(s.missing().is_empty());
    assert_eq!(s.format(), FileFormat::Pdb);
    assert_eq!(s.path(), Some(data("1ubi.pdb").as_path()));
    assert!(s.warnings().is_empty());
    assert_eq!(s.pdb().model_count(), 1);
}

/// Lines copied from `3mht.pdb.gz` (HhaI methyltransferase, two DNA strands,
/// S-adenosyl-homocysteine): (line, token index).
const MHT_LINES: &[(&str, usize)] = &[
    (
        "ATOM     22  C4   DG C 402     -26.066  28.442 103.853  1.00 25.22           C  ",
        0,
    ),
    (
        "ATOM     56  C2   DT C 404     -28.722  36.186 103.525  1.00 16.42           C  ",
        2,
    ),
    (
        "ATOM    119  C2   DC C 407     -24.042  46.158 101.033  1.00 25.11           C  ",
        5,
    ),
    (
        "ATOM    516  CB  MET A   1     -29.226  31.351  71.650  1.00 21.73           C  ",
        25,
    ),
    (
        "ATOM    524  CB  ILE A   2     -29.384  34.472  67.205  1.00 20.59           C  ",
        26,
    ),
    (
        "ATOM    596  CA  GLY A  11     -15.420  20.001  62.648  1.00 35.09           C  ",
        35,
    ),
    (
        "HETATM 3119  N   SAH A 328     -19.331  31.101  81.095  1.00  7.09           N  ",
        352,
    ),
    (
        "HETATM 3120  CA  SAH A 328     -19.755  30.360  82.298  1.00  3.53           C  ",
        353,
    ),
    (
        "HETATM 3144  C4  SAH A 328     -13.832  27.092  88.861  1.00 14.31           C  ",
        377,
    ),
];

#[test]
fn dna_protein_and_ligand_tokens_of_a_gzipped_complex() {
    let s = read("3mht.pdb.gz");
    assert_eq!(s.tokens().len(), 378);
    let spans: Vec<(String, std::ops::Range<usize>)> =
        s.chains().into_iter().map(|c| (c.id, c.tokens)).collect();
    assert_eq!(
        spans,
        [
            ("C".into(), 0..12),
            ("D".into(), 12..25),
            ("A".into(), 25..378)
        ]
    );
    for &(line, i) in MHT_LINES {
        let raw = raw_atom(line).unwrap();
        let t = &s.tokens()[i];
        assert_eq!(
            (t.chain.as_str(), t.residue_number, t.residue_name.as_str()),
            (raw.chain.as_str(), raw.res_seq, raw.res_name.as_str()),
            "{line}"
        );
        assert_eq!(t.atom_name, raw.name, "{line}");
        assert!(close(t.bfactor, raw.b, 1e-9), "{line}");
        assert_eq!(t.coords, raw.xyz, "{line}");
    }
    // Every token's atom is Boltz-2's: the table for polymers, itself for SAH.
    let mut counts: HashMap<MoleculeKind, usize> = HashMap::new();
    for t in s.tokens() {
        *counts.entry(t.kind).or_default() += 1;
        match t.kind {
            MoleculeKind::Ligand => assert_eq!(t.residue_name, "SAH"),
            _ => assert_eq!(
                Some(t.atom_name.as_str()),
                representative_atom(&t.residue_name)
            ),
        }
        match t.residue_name.as_str() {
            "DA" | "DG" => assert_eq!((t.kind, t.atom_name.as_str()), (MoleculeKind::Dna, "C4")),
            "DC" | "DT" => assert_eq!((t.kind, t.atom_name.as_str()), (MoleculeKind::Dna, "C2")),
            "GLY" => assert_eq!(t.atom_name, "CA"),
            _ => {}
        }
    }
    assert_eq!(counts[&MoleculeKind::Dna], 25);
    assert_eq!(counts[&MoleculeKind::Protein], 327);
    assert_eq!(counts[&MoleculeKind::Ligand], 26); // SAH's 26 heavy atoms
    assert!(!counts.contains_key(&MoleculeKind::Water));
    assert_eq!(s.mask().sum(), 378.0);
}

#[test]
fn pdb_and_mmcif_of_one_entry_agree_token_by_token() {
    for options in [
        ReadOptions::new(),
        ReadOptions::new().with_waters(true),
        ReadOptions::new().with_tokens(TokenMode::CaOnly),
    ] {
        let pdb = structure::read(data("1ubi.pdb"), &options).unwrap();
        let cif = structure::read(data("1ubi.cif"), &options).unwrap();
        assert_eq!(cif.format(), FileFormat::Mmcif);
        assert_eq!(pdb.tokens().len(), cif.tokens().len());
        for (a, b) in pdb.tokens().iter().zip(cif.tokens()) {
            assert_eq!(
                (
                    &a.chain,
                    a.residue_number,
                    &a.insertion_code,
                    &a.residue_name
                ),
                (
                    &b.chain,
                    b.residue_number,
                    &b.insertion_code,
                    &b.residue_name
                )
            );
            assert_eq!(
                (a.kind, &a.atom_name, a.present),
                (b.kind, &b.atom_name, b.present)
            );
            // pdbtbx parses mmCIF numbers digit by digit: equal to the last ulp or so.
            assert!(close(a.bfactor, b.bfactor, 1e-9), "{a:?} {b:?}");
            assert!(close(a.occupancy, b.occupancy, 1e-9));
            for k in 0..3 {
                assert!(close(a.coords[k], b.coords[k], 1e-9));
            }
        }
        assert_eq!(pdb.chains(), cif.chains());
    }
}

#[test]
fn mmcif_bfactors_match_the_cif_text() {
    let s = read("1ubi.cif");
    let cif = text("1ubi.cif");
    // The _atom_site loop, split on whitespace (1ubi.cif has no quoted values there).
    let tags: Vec<&str> = cif
        .lines()
        .filter(|l| l.starts_with("_atom_site."))
        .collect();
    let col = |name: &str| tags.iter().position(|t| *t == name).unwrap();
    let (name_c, seq_c, b_c) = (
        col("_atom_site.label_atom_id"),
        col("_atom_site.auth_seq_id"),
        col("_atom_site.B_iso_or_equiv"),
    );
    let rows: Vec<Vec<&str>> = cif
        .lines()
        .filter(|l| l.starts_with("ATOM "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    for t in s.tokens() {
        let row = rows
            .iter()
            .find(|r| r[seq_c] == t.residue_number.to_string() && r[name_c] == t.atom_name)
            .unwrap();
        assert!(close(t.bfactor, row[b_c].parse().unwrap(), 1e-9), "{t:?}");
    }
}

#[test]
fn alternate_locations_take_the_highest_occupancy_and_its_occupancy_as_written() {
    let s = read("1ejg.pdb");
    // Residues 22 and 25 have two residue types each: read without a warning.
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    assert_eq!(s.tokens().len(), 46);
    let by_number = |n: isize| s.tokens().iter().find(|t| t.residue_number == n).unwrap();
    // ATOM      7  CB ATHR A   1      18.103  12.875   5.202  0.50  4.05           C
    // ATOM      8  CB BTHR A   1      17.983  11.950   4.917  0.50  8.95           C
    // A tie: the first alternate location.
    let t1 = by_number(1);
    assert_eq!(
        (t1.bfactor, t1.occupancy, t1.coords),
        (4.05, 0.5, [18.103, 12.875, 5.202])
    );
    // Residue 22 is PRO (A, 0.33) or SER (B, C, 0.33 each): the first CB wins,
    // and the residue takes its conformer's type.
    // ATOM    404  CB APRO A  22       5.655  14.896  -2.744  0.33  2.86           C
    let t22 = by_number(22);
    assert_eq!(
        (t22.residue_name.as_str(), t22.bfactor, t22.occupancy),
        ("PRO", 2.86, 0.33)
    );
    // The highest occupancy wins where they differ.
    let raw = raw_atoms(&text("1ejg.pdb"));
    for t in s.tokens() {
        let alts: Vec<&Raw> = raw
            .iter()
            .filter(|a| a.res_seq == t.residue_number && a.name == t.atom_name)
            .collect();
        let best = alts
            .iter()
            .fold(None::<&&Raw>, |b, a| match b {
                Some(b) if b.occupancy >= a.occupancy => Some(b),
                _ => Some(a),
            })
            .unwrap();
        assert_eq!(t.bfactor, best.b, "{t:?}");
        // Occupancies are the file's, also for atoms without an alternate
        // location in residues that have some (pdbtbx divides those).
        assert_eq!(t.occupancy, best.occupancy, "{t:?}");
        assert_eq!(t.coords, best.xyz);
        if alts.len() == 1 && !alts[0].alt.is_empty() {
            panic!("single alternate {alts:?}");
        }
    }
    // Residues with a blank-location CB among alternate atoms exist in 1EJG.
    assert!(s.tokens().iter().any(|t| {
        let shared = raw
            .iter()
            .any(|a| a.res_seq == t.residue_number && a.name == t.atom_name && a.alt.is_empty());
        let split = raw
            .iter()
            .any(|a| a.res_seq == t.residue_number && !a.alt.is_empty());
        shared && split
    }));
}

#[test]
fn a_space_group_pdbtbx_does_not_know_is_left_out_with_a_warning() {
    // pdbtbx's parser panics on a space group it does not know; here the atoms
    // and the unit cell are read, the symmetry is left out with a warning.
    let pdb: String = text("1ubi.pdb")
        .split_inclusive('\n')
        .map(|l| match l.starts_with("CRYST1") {
            true => l.replacen("P 21 21 21", "X 99 99 99", 1),
            false => l.to_string(),
        })
        .collect();
    assert!(pdb.contains("X 99 99 99"));
    let s = structure::read_str(&pdb, FileFormat::Pdb, &ReadOptions::new()).unwrap();
    assert_eq!(s.bfactors(), read("1ubi.pdb").bfactors());
    assert_eq!(s.warnings().len(), 1, "{:?}", s.warnings());
    assert!(
        s.warnings()[0].contains("Invalid space group `X 99 99 99`"),
        "{:?}",
        s.warnings()
    );
    // CRYST1   50.840   42.770   28.950  90.00  90.00  90.00 P 21 21 21    4
    let cell = s.pdb().unit_cell.as_ref().unwrap();
    assert_eq!((cell.a(), cell.b(), cell.c()), (50.84, 42.77, 28.95));
    assert!(s.pdb().symmetry.is_none());
    let full = read("1ubi.pdb");
    let symmetry = full.pdb().symmetry.as_ref().unwrap();
    assert_eq!(symmetry.herman_mauguin_symbol(), "P 21 21 21");
    // Writing in place still keeps the record as it was.
    let out = structure::write_string(&s, &s.bfactors(), FileFormat::Pdb).unwrap();
    assert_eq!(out.lines().count(), pdb.lines().count());
    for (a, b) in out.lines().zip(pdb.lines()) {
        if !a.starts_with("ATOM") {
            assert_eq!(a, b);
        }
    }
}

#[test]
fn short_atom_records_and_blank_fields_are_read() {
    // Atom records cut after the B-factor (no element column, as many simulation
    // tools write them), one B-factor left blank, a REMARK pdbtbx cannot parse.
    let cut: String = text("1ubi.pdb")
        .lines()
        .map(|l| match raw_atom(l) {
            Some(_) if l.contains(" CB  ALA A  28") => format!("{}\n", &l[..60]),
            Some(_) => format!("{}\n", &l[..66]),
            None if l.starts_with("REMARK   2 RESOLUTION") => "REMARK XYZ not a number\n".into(),
            None => format!("{l}\n"),
        })
        .collect();
    let s = structure::read_str(&cut, FileFormat::Pdb, &ReadOptions::new()).unwrap();
    let full = read("1ubi.pdb");
    assert_eq!(s.tokens().len(), 76);
    for (i, (a, b)) in s.tokens().iter().zip(full.tokens()).enumerate() {
        if i == 27 {
            assert_eq!((a.bfactor, s.mask()[i]), (0.0, 0.0)); // blank: 0, masked
        } else {
            assert_eq!(a, b);
        }
    }
    // A REMARK is not read: no warning about it.
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    // Written back in place: the short lines get their B-factor, nothing else changes.
    let out = structure::write_string(&s, &ramp(76), FileFormat::Pdb).unwrap();
    for (a, b) in cut.lines().zip(out.lines()) {
        match raw_atom(b) {
            Some(r) if !r.hetero => {
                assert_eq!(&a[..60], &b[..60]);
                assert_eq!(b.len(), 66);
                assert!(close(r.b, ramp(76)[(r.res_seq - 1) as usize], 0.005 + 1e-9));
            }
            _ => assert_eq!(a, b),
        }
    }
}

#[test]
fn only_the_first_model_of_an_nmr_ensemble() {
    let s = read("2k39_truncated.pdb.gz");
    // MODEL 1 (10 residues of this truncated ensemble), all B-factors 0:
    // ATOM      5  CB  MET A   1      13.679  28.767  18.194  1.00  0.00           C
    // MODEL 2 has the same atom at 13.240  29.410  17.400.
    assert_eq!(s.tokens().len(), 10);
    assert_eq!(s.tokens()[0].coords, [13.679, 28.767, 18.194]);
    assert_eq!(s.pdb().model_count(), 1);
    assert_eq!(s.mask().sum(), 0.0); // B = 0 everywhere: all masked
    assert!(s.missing().is_empty());
    // SEQRES lists 76 residues; the unobserved 66 are no tokens.
    assert!(s.tokens().iter().all(|t| t.residue_number <= 10));
}

#[test]
fn a_missing_representative_atom_is_reported_and_masked() {
    // 1ubi_ca.pdb holds only the CA atoms of 1UBI: Boltz-2 tokens lack their CB
    // except the six glycines.
    let s = read("1ubi_ca.pdb");
    assert_eq!(s.tokens().len(), 76);
    let missing = s.missing();
    assert_eq!(missing.len(), 70);
    let mask = s.mask();
    let coords = s.coords();
    for (i, t) in s.tokens().iter().enumerate() {
        let gly = t.residue_name == "GLY";
        assert_eq!(missing.contains(&i), !gly);
        assert_eq!(t.present, gly);
        assert_eq!(mask[i], if gly { 1.0 } else { 0.0 });
        if !gly {
            assert_eq!(
                (t.atom_name.as_str(), t.bfactor, t.occupancy),
                ("CB", 0.0, 0.0)
            );
            assert!(coords.row(i).iter().all(|v| v.is_nan()));
        }
    }
    // ATOM     75  CA  GLY A  75      41.846  36.550  32.686  1.00 40.00           C
    assert_eq!(s.tokens()[74].bfactor, 40.0);
    // Per residue at CA, nothing is missing, and the B-factors are 1UBI's.
    let ca = structure::read(
        data("1ubi_ca.pdb"),
        &ReadOptions::new().with_tokens(TokenMode::CaOnly),
    )
    .unwrap();
    let full = structure::read(
        data("1ubi.pdb"),
        &ReadOptions::new().with_tokens(TokenMode::CaOnly),
    )
    .unwrap();
    assert!(ca.missing().is_empty());
    assert_eq!(ca.bfactors(), full.bfactors());
    assert!(ca.tokens().iter().all(|t| t.atom_name == "CA"));
}

#[test]
fn ca_only_tokens_leave_out_nucleotides_and_ligands() {
    let s = structure::read(
        data("3mht.pdb.gz"),
        &ReadOptions::new().with_tokens(TokenMode::CaOnly),
    )
    .unwrap();
    assert_eq!(s.tokens().len(), 327);
    assert!(s
        .tokens()
        .iter()
        .all(|t| t.kind == MoleculeKind::Protein && t.atom_name == "CA" && t.chain == "A"));
    // ATOM    596  CA  GLY A  11     -15.420  20.001  62.648  1.00 35.09           C
    assert_eq!(s.tokens()[10].bfactor, 35.09);
}

#[test]
fn waters_and_hydrogens_on_request() {
    let water = structure::read(data("1ubi.pdb"), &ReadOptions::new().with_waters(true)).unwrap();
    assert_eq!(water.tokens().len(), 76 + 81);
    let w = &water.tokens()[76];
    // HETATM  603  O   HOH A  77      45.802  29.796  19.825  1.00 17.71           O
    assert_eq!(
        (
            w.kind,
            w.residue_name.as_str(),
            w.atom_name.as_str(),
            w.bfactor
        ),
        (MoleculeKind::Water, "HOH", "O", 17.71)
    );
    // 1A1P (NMR, no chain identifier) ends with an NH2 cap: one heavy atom, or
    // three atoms with its hydrogens.
    let plain = read("1a1p.pdb");
    let with_h =
        structure::read(data("1a1p.pdb"), &ReadOptions::new().with_hydrogens(true)).unwrap();
    let ligand = |s: &Structure| -> Vec<String> {
        s.tokens()
            .iter()
            .filter(|t| t.kind == MoleculeKind::Ligand)
            .map(|t| t.atom_name.clone())
            .collect()
    };
    assert_eq!(ligand(&plain), ["N"]);
    assert_eq!(ligand(&with_h).len(), 3);
    assert_eq!(with_h.tokens().len(), plain.tokens().len() + 2);
    // A blank chain is named 'A' (pdbtbx's convention); NMR B-factors are all 0.
    assert!(plain.tokens().iter().all(|t| t.chain == "A"));
    assert_eq!(plain.mask().sum(), 0.0);
}

#[test]
fn modified_residues_are_ligand_atoms_for_boltz2_and_residues_at_ca() {
    // 1UBI with Met1 turned into selenomethionine, as a PDB entry writes it.
    let mse: String = text("1ubi.pdb")
        .lines()
        .map(|l| {
            if l.starts_with("ATOM") && &l[17..26] == "MET A   1" {
                let l = l
                    .replacen("ATOM  ", "HETATM", 1)
                    .replacen("MET A", "MSE A", 1);
                l.replacen(" SD  MSE", " SE  MSE", 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let s = structure::read_str(&mse, FileFormat::Pdb, &ReadOptions::new()).unwrap();
    let first: Vec<(&str, &str, MoleculeKind)> = s.tokens()[..9]
        .iter()
        .map(|t| (t.residue_name.as_str(), t.atom_name.as_str(), t.kind))
        .collect();
    let names = ["N", "CA", "C", "O", "CB", "CG", "SE", "CE"];
    for (k, name) in names.iter().enumerate() {
        assert_eq!(first[k], ("MSE", *name, MoleculeKind::Ligand));
    }
    assert_eq!(first[8], ("GLN", "CB", MoleculeKind::Protein));
    assert_eq!(s.tokens().len(), 75 + 8);
    let ca = structure::read_str(
        &mse,
        FileFormat::Pdb,
        &ReadOptions::new().with_tokens(TokenMode::CaOnly),
    )
    .unwrap();
    assert_eq!(ca.tokens().len(), 76);
    assert_eq!(
        (
            ca.tokens()[0].residue_name.as_str(),
            ca.tokens()[0].kind,
            ca.tokens()[0].bfactor
        ),
        ("MSE", MoleculeKind::Protein, 9.58)
    );
}

// ---------------------------------------------------------------------------
// Writing.
// ---------------------------------------------------------------------------

/// Distinct values that fit PDB's column.
fn ramp(n: usize) -> Array1<f64> {
    Array1::from_iter((0..n).map(|i| 5.0 + 0.37 * i as f64))
}

#[test]
fn pdb_write_then_read_round_trips_and_keeps_everything_else() {
    let s = read("1ubi.pdb");
    let values = ramp(76);
    let out = temp("1ubi_out.pdb");
    structure::write(&s, &values, &out).unwrap();
    let back = structure::read(&out, &ReadOptions::new()).unwrap();
    for (t, v) in back.tokens().iter().zip(&values) {
        assert!(close(t.bfactor, *v, 0.005 + 1e-9));
    }
    // Every atom of residue i holds values[i]; waters and all other bytes are kept.
    let (before, after) = (text("1ubi.pdb"), std::fs::read_to_string(&out).unwrap());
    assert_eq!(before.lines().count(), after.lines().count());
    for (a, b) in before.lines().zip(after.lines()) {
        match (raw_atom(a), raw_atom(b)) {
            (Some(ra), Some(rb)) => {
                assert_eq!((&a[..60], &a[66..]), (&b[..60], &b[66..]));
                if ra.hetero {
                    assert_eq!(ra.b, rb.b, "water kept: {b}");
                } else {
                    let want = values[(ra.res_seq - 1) as usize];
                    assert_eq!(rb.b, format!("{want:.2}").parse::<f64>().unwrap(), "{b}");
                }
            }
            _ => assert_eq!(a, b),
        }
    }
    std::fs::remove_file(out).ok();
}

#[test]
fn mmcif_write_then_read_round_trips_and_changes_only_b_values() {
    let s = read("1ubi.cif");
    let values = ramp(76).mapv(|v| v * 1.001 - 3.0);
    let out = temp("1ubi_out.cif");
    structure::write(&s, &values, &out).unwrap();
    let back = structure::read(&out, &ReadOptions::new()).unwrap();
    for (t, v) in back.tokens().iter().zip(&values) {
        assert!(close(t.bfactor, *v, 5e-5 + 1e-9), "{} vs {v}", t.bfactor);
    }
    let (before, after) = (text("1ubi.cif"), std::fs::read_to_string(&out).unwrap());
    let b_col = before
        .lines()
        .filter(|l| l.starts_with("_atom_site."))
        .position(|l| l == "_atom_site.B_iso_or_equiv")
        .unwrap();
    for (a, b) in before.lines().zip(after.lines()) {
        let (fa, fb): (Vec<&str>, Vec<&str>) = (
            a.split_whitespace().collect(),
            b.split_whitespace().collect(),
        );
        if a.starts_with("ATOM ") {
            assert_eq!(fa.len(), fb.len());
            for k in (0..fa.len()).filter(|&k| k != b_col) {
                assert_eq!(fa[k], fb[k]);
            }
        } else {
            assert_eq!(a, b); // waters (HETATM) and every other line kept
        }
    }
    std::fs::remove_file(out).ok();
}

#[test]
fn ligand_atoms_get_their_own_values_and_residues_share_theirs() {
    let s = read("3mht.pdb.gz");
    let values = ramp(s.tokens().len()).mapv(|v| v / 2.0);
    let text = structure::write_string(&s, &values, FileFormat::Pdb).unwrap();
    let written = raw_atoms(&text);
    let index: HashMap<(String, isize, String), usize> = s
        .tokens()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let atom = if t.kind == MoleculeKind::Ligand {
                t.atom_name.clone()
            } else {
                String::new()
            };
            ((t.chain.clone(), t.residue_number, atom), i)
        })
        .collect();
    let mut seen = vec![0usize; values.len()];
    for a in &written {
        let ligand = index.get(&(a.chain.clone(), a.res_seq, a.name.clone()));
        let residue = index.get(&(a.chain.clone(), a.res_seq, String::new()));
        match ligand.or(residue) {
            Some(&i) => {
                seen[i] += 1;
                assert!(close(a.b, values[i], 0.005 + 1e-9), "{a:?}");
            }
            None => assert_eq!(a.res_name, "HOH"),
        }
    }
    // Each SAH token is one atom; each residue token covers all its atoms.
    assert!(seen[352..].iter().all(|&n| n == 1));
    assert!(seen[..352].iter().all(|&n| n > 1));
    // The decompressed text was patched in place: the same lines, new B values.
    let source = gunzip(&std::fs::read(data("3mht.pdb.gz")).unwrap());
    assert_eq!(source.lines().count(), text.lines().count());
    let back = structure::read_str(&text, FileFormat::Pdb, &ReadOptions::new()).unwrap();
    assert_eq!(back.tokens().len(), s.tokens().len());
    for (t, v) in back.tokens().iter().zip(&values) {
        assert!(close(t.bfactor, *v, 0.005 + 1e-9));
    }
}

#[test]
fn format_conversion_and_gzip_output_round_trip() {
    let s = read("1ubi.pdb");
    // z-scores are negative: pdbtbx refuses those B-factors until its atoms are rebuilt.
    let z = scale::zscore_per_chain(&s.bfactors(), &s.mask(), &s.chains()).unwrap();
    for name in [
        "1ubi_conv.cif",
        "1ubi_conv.pdb.gz",
        "1ubi_conv.cif.gz",
        "1ubi_conv.ent",
    ] {
        let out = temp(name);
        structure::write(&s, &z, &out).unwrap();
        let back = structure::read(&out, &ReadOptions::new()).unwrap();
        assert_eq!(back.tokens().len(), 76, "{name}");
        for (a, b) in s.tokens().iter().zip(back.tokens()) {
            assert_eq!(
                (&a.chain, a.residue_number, &a.atom_name),
                (&b.chain, b.residue_number, &b.atom_name)
            );
            assert!(close(a.coords[0], b.coords[0], 1e-3), "{name}");
        }
        for (t, v) in back.tokens().iter().zip(&z) {
            assert!(
                close(t.bfactor, *v, 0.005 + 1e-9),
                "{name}: {} vs {v}",
                t.bfactor
            );
        }
        std::fs::remove_file(out).ok();
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out).unwrap();
    out
}

/// `a` and `b` are the same text except the B-factor fields (columns 61-66) of
/// atom records; returns how many atom records there were.
fn same_but_b_columns(a: &str, b: &str) -> usize {
    assert_eq!(a.len(), b.len());
    assert_eq!(a.lines().count(), b.lines().count());
    let mut atoms = 0;
    for (la, lb) in a.split_inclusive('\n').zip(b.split_inclusive('\n')) {
        if raw_atom(la).is_some() {
            atoms += 1;
            assert_eq!((&la[..60], &la[66..]), (&lb[..60], &lb[66..]));
        } else {
            assert_eq!(la, lb);
        }
    }
    atoms
}

#[test]
fn gzip_round_trip_keeps_every_byte_but_the_b_columns() {
    // 3MHT: protein, DNA, a ligand, waters, header records, ANISOU-free.
    let source = gunzip(&std::fs::read(data("3mht.pdb.gz")).unwrap());
    let s = read("3mht.pdb.gz");
    assert_eq!(s.path(), Some(data("3mht.pdb.gz").as_path()));
    let values = ramp(s.tokens().len()).mapv(|v| 200.0 - v / 3.0);
    for name in ["3mht_out.pdb.gz", "3mht_out.ent.gz", "3mht_out.PDB.GZ"] {
        let out = temp(name);
        structure::write(&s, &values, &out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "{name}: gzip magic");
        let written = gunzip(&bytes);
        let atoms = same_but_b_columns(&source, &written);
        assert!(atoms > 2000, "{name}: {atoms} atom records");
        // And back: the values, and the same tokens.
        let back = structure::read(&out, &ReadOptions::new()).unwrap();
        assert_eq!(back.tokens().len(), s.tokens().len());
        for ((a, b), v) in s.tokens().iter().zip(back.tokens()).zip(&values) {
            assert_eq!(
                (&a.chain, a.residue_number, &a.atom_name),
                (&b.chain, b.residue_number, &b.atom_name)
            );
            assert_eq!(a.occupancy, b.occupancy);
            assert!(
                close(b.bfactor, *v, 0.005 + 1e-9),
                "{name}: {} vs {v}",
                b.bfactor
            );
        }
        // The .gz file is the in-place text, compressed.
        let plain = structure::write_string(&s, &values, FileFormat::Pdb).unwrap();
        assert!(written == plain, "{name}: not the in-place text");
        std::fs::remove_file(out).ok();
    }
    // mmCIF: .cif → .cif.gz is the in-place text, compressed, and reads back.
    let cif = read("1ubi.cif");
    let values = ramp(76);
    let out = temp("1ubi_out.cif.gz");
    structure::write(&cif, &values, &out).unwrap();
    let written = gunzip(&std::fs::read(&out).unwrap());
    let plain = structure::write_string(&cif, &values, FileFormat::Mmcif).unwrap();
    assert!(written == plain, "not the in-place text");
    assert_eq!(written.lines().count(), text("1ubi.cif").lines().count());
    let back = structure::read(&out, &ReadOptions::new()).unwrap();
    for (t, v) in back.tokens().iter().zip(&values) {
        assert!(close(t.bfactor, *v, 5e-5 + 1e-9));
    }
    std::fs::remove_file(out).ok();
}

#[test]
fn ent_gz_and_gzipped_short_lines_are_read_like_plain_files() {
    // .ent.gz (the PDB archive's naming) of 1UBI: the same tokens as the .pdb.
    let plain = read("1ubi.pdb");
    let gz = write_temp("pdb1ubi.ent.gz", &gzip(text("1ubi.pdb").as_bytes()));
    let s = structure::read(&gz, &ReadOptions::new()).unwrap();
    assert_eq!(s.format(), FileFormat::Pdb);
    assert_eq!(s.tokens(), plain.tokens());
    assert_eq!(s.warnings(), plain.warnings());
    // Records cut after the B-factor column (no element), with a blank B-factor:
    // padded for pdbtbx as for a plain file.
    let short: String = text("1ubi.pdb")
        .lines()
        .map(|l| match raw_atom(l) {
            Some(_) if l.contains(" CB  MET A   1") => format!("{}\n", &l[..60]),
            Some(_) => format!("{}\n", &l[..66]),
            None => format!("{l}\n"),
        })
        .collect();
    let gz_short = write_temp("short.ent.gz", &gzip(short.as_bytes()));
    let s = structure::read(&gz_short, &ReadOptions::new()).unwrap();
    assert_eq!(s.tokens().len(), 76);
    assert_eq!((s.tokens()[0].bfactor, s.mask()[0]), (0.0, 0.0)); // blank B: masked
    assert_eq!(s.tokens()[1..], plain.tokens()[1..]);
    // Written back in place, compressed: the same text as from the plain text,
    // whose short lines stay short.
    let out = temp("short_out.ent.gz");
    let values = ramp(76);
    structure::write(&s, &values, &out).unwrap();
    let written = gunzip(&std::fs::read(&out).unwrap());
    let from_text = structure::read_str(&short, FileFormat::Pdb, &ReadOptions::new()).unwrap();
    let plain = structure::write_string(&from_text, &values, FileFormat::Pdb).unwrap();
    assert!(written == plain, "not the in-place text");
    for (a, b) in short.lines().zip(written.lines()) {
        // The record cut at column 60 gets its B field; all others keep their length.
        if a.len() != 60 {
            assert_eq!(a.len(), b.len(), "{b}");
        }
    }
    for p in [gz, gz_short, out] {
        std::fs::remove_file(p).ok();
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn every_model_and_blank_chains_are_written_in_place() {
    // Two models of 1A1P (no chain identifier), from its text.
    let source = text("1a1p.pdb");
    let atoms: Vec<&str> = source
        .lines()
        .filter(|l| l.starts_with("ATOM") || l.starts_with("HETATM") || l.starts_with("TER"))
        .collect();
    let model = atoms.join("\n");
    let two = format!("MODEL        1\n{model}\nENDMDL\nMODEL        2\n{model}\nENDMDL\nEND\n");
    let s = structure::read_str(&two, FileFormat::Pdb, &ReadOptions::new()).unwrap();
    assert_eq!(s.tokens().len(), 14);
    let values = ramp(14);
    let out = structure::write_string(&s, &values, FileFormat::Pdb).unwrap();
    let rows: Vec<Raw> = out.lines().filter_map(raw_atom).collect();
    assert_eq!(rows.len(), 2 * raw_atoms(&model).len());
    for r in &rows {
        assert_eq!(r.chain, ""); // still blank in the file
        if r.res_name == "NH2" && r.name != "N" {
            // The cap's hydrogens are no tokens: they keep their B-factor.
            assert_eq!(r.b, 0.0);
        } else {
            assert!(
                close(r.b, values[(r.res_seq - 1) as usize], 0.005 + 1e-9),
                "{r:?}"
            );
        }
    }
}

#[test]
fn write_errors() {
    let s = read("1ubi.pdb");
    let out = temp("1ubi_err.pdb");
    assert!(matches!(
        structure::write(&s, &Array1::<f64>::zeros(75), &out),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut v = ramp(76);
    v[3] = f64::NAN;
    assert!(matches!(
        structure::write(&s, &v, &out),
        Err(Error::NonFinite { index, .. }) if index == [3]
    ));
    v[3] = 1000.0;
    let err = structure::write(&s, &v, &out).unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfRange { ref what, ref index, value, ref expected }
                if what == "values" && index == &[3] && value == 1000.0
                    && expected.contains("-99.99 to 999.99")
        ),
        "{err}"
    );
    // 999.995 rounds to 1000.00 (7 characters): out of range too; -99.99 fits.
    v[3] = 999.995;
    assert!(matches!(
        structure::write_string(&s, &v, FileFormat::Pdb),
        Err(Error::OutOfRange { index, .. }) if index == [3]
    ));
    v[3] = -99.99;
    assert!(structure::write_string(&s, &v, FileFormat::Pdb).is_ok());
    v[3] = -100.0;
    assert!(matches!(
        structure::write(&s, &v, temp("1ubi_err.pdb.gz")),
        Err(Error::OutOfRange { .. })
    ));
    v[3] = 1000.0;
    // mmCIF has no such limit, f32 works too.
    let text = structure::write_string(&s, &v.mapv(|x| x as f32), FileFormat::Mmcif).unwrap();
    let back = structure::read_str(&text, FileFormat::Mmcif, &ReadOptions::new()).unwrap();
    assert_eq!(back.tokens()[3].bfactor, 1000.0);
    assert!(matches!(
        structure::write(&s, &ramp(76), temp("1ubi.xyz")),
        Err(Error::Format { .. })
    ));
    let nowhere = std::env::temp_dir()
        .join("bfactor_no_such_dir")
        .join("x.pdb");
    assert!(matches!(
        structure::write(&s, &ramp(76), &nowhere),
        Err(Error::Io { .. })
    ));
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------
// Reading errors: never a panic.
// ---------------------------------------------------------------------------

fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = temp(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn read_err(name: &str, bytes: &[u8]) -> Error {
    let p = write_temp(name, bytes);
    let result = catch_unwind(|| structure::read(&p, &ReadOptions::new()))
        .unwrap_or_else(|_| panic!("{name}: a panic escaped"));
    std::fs::remove_file(&p).ok();
    result
        .err()
        .unwrap_or_else(|| panic!("{name}: read succeeded"))
}

#[test]
fn unreadable_or_truncated_files_are_errors_naming_the_line() {
    assert!(matches!(
        structure::read(data("no_such_file.pdb"), &ReadOptions::new()),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        structure::read(data("no_such_file.cif.gz"), &ReadOptions::new()),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        structure::read(data("README.md"), &ReadOptions::new()),
        Err(Error::Format { .. })
    ));
    // PDB cut in half, mid-line: the line is named.
    let pdb = text("1ubi.pdb");
    let half = &pdb[..pdb.len() / 2];
    let err = read_err("half.pdb", half.as_bytes());
    let last = half.lines().count();
    assert!(
        err.to_string()
            .contains(&format!("line {last}: ATOM record is truncated")),
        "{err}"
    );
    // mmCIF cut in its atom loop.
    let cif = text("1ubi.cif");
    let err = read_err("half.cif", &cif.as_bytes()[..cif.len() * 2 / 3]);
    assert!(
        matches!(err, Error::Format { .. }) && err.to_string().contains("_atom_site loop"),
        "{err}"
    );
    // mmCIF cut before its atoms: no atoms.
    let err = read_err(
        "head.cif",
        &cif.as_bytes()[..cif.find("loop_\n_atom_site").unwrap()],
    );
    assert!(matches!(err, Error::Empty { .. }), "{err}");
    // Gzip cut in half.
    let gz = std::fs::read(data("3mht.pdb.gz")).unwrap();
    let err = read_err("half.pdb.gz", &gz[..gz.len() / 2]);
    assert!(matches!(err, Error::Format { .. }), "{err}");
    // Garbage.
    let garbage: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for name in ["garbage.pdb", "garbage.cif"] {
        let err = read_err(name, &garbage);
        assert!(matches!(err, Error::Format { .. }), "{name}: {err}");
    }
    assert!(matches!(
        read_err("garbage.pdb.gz", &garbage),
        Error::Format { .. }
    ));
    // A quoted value never closed.
    let err = read_err("quote.cif", b"data_x\n_cell.length_a 'open\n");
    assert!(err.to_string().contains("line 2"), "{err}");
    // A coordinate that is not a number; an mmCIF atom without element.
    let bad = pdb.replacen("  25.112  24.879", "  25.1x2  24.879", 1);
    let line = 1 + pdb
        .lines()
        .position(|l| l.contains("  25.112  24.879"))
        .unwrap();
    let err = read_err("badnum.pdb", bad.as_bytes());
    let want = format!("line {line}: ATOM record has no valid x coordinate");
    assert!(err.to_string().contains(&want), "{err}");
    let bad = cif.replacen("ATOM 5 C CB", "ATOM 5 ? CB", 1);
    let err = read_err("noelement.cif", bad.as_bytes());
    assert!(
        err.to_string().contains("row 5") && err.to_string().contains("type_symbol"),
        "{err}"
    );
    // A plain file named .gz is not gzip.
    let err = read_err("plain.pdb.gz", pdb.as_bytes());
    assert!(
        matches!(err, Error::Format { .. }) && err.to_string().contains("gzip"),
        "{err}"
    );
}

#[test]
fn files_without_atoms_or_tokens_are_empty() {
    let pdb = text("1ubi.pdb");
    let header: String = pdb
        .lines()
        .filter(|l| !l.starts_with("ATOM") && !l.starts_with("HETATM"))
        .map(|l| format!("{l}\n"))
        .collect();
    for (name, bytes) in [
        ("empty.pdb", &b""[..]),
        ("header.pdb", header.as_bytes()),
        ("words.pdb", b"hello\nworld\n"),
    ] {
        assert!(
            matches!(read_err(name, bytes), Error::Empty { ref unit, .. } if unit == "atom"),
            "{name}"
        );
    }
    // Atoms, but no tokens: only waters.
    let waters: String = pdb
        .lines()
        .filter(|l| l.starts_with("HETATM"))
        .map(|l| format!("{l}\n"))
        .collect();
    let err = read_err("waters.pdb", waters.as_bytes());
    assert!(
        matches!(err, Error::Empty { ref unit, .. } if unit == "token"),
        "{err}"
    );
    let s = structure::read_str(
        &waters,
        FileFormat::Pdb,
        &ReadOptions::new().with_waters(true),
    )
    .unwrap();
    assert_eq!(s.tokens().len(), 81);
}

#[test]
fn no_cut_or_corruption_of_a_real_file_panics() {
    for name in ["1ubi.pdb", "1ubi.cif", "1ejg.pdb"] {
        let full = std::fs::read(data(name)).unwrap();
        let format = FileFormat::from_path(name).unwrap().0;
        for k in 1..40 {
            let cut = full.len() * k / 40 + k;
            let mut bytes = full[..cut.min(full.len())].to_vec();
            if k % 3 == 0 {
                // Flip a byte too.
                let at = bytes.len() * 2 / 3;
                bytes[at] = bytes[at].wrapping_add((k as u8).wrapping_mul(7));
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let r = catch_unwind(AssertUnwindSafe(|| {
                structure::read_str(&text, format, &ReadOptions::new())
            }));
            assert!(r.is_ok(), "{name} cut at {cut}: a panic escaped");
        }
    }
}

#[test]
fn formats_come_from_file_names() {
    for (name, want) in [
        ("a.pdb", (FileFormat::Pdb, false)),
        ("A.ENT", (FileFormat::Pdb, false)),
        ("a.cif", (FileFormat::Mmcif, false)),
        ("dir.x/a.mmcif.gz", (FileFormat::Mmcif, true)),
        ("a.pdb.gz", (FileFormat::Pdb, true)),
    ] {
        assert_eq!(FileFormat::from_path(name).unwrap(), want, "{name}");
    }
    for name in ["a", "a.gz", "a.txt", "pdb"] {
        assert!(
            matches!(FileFormat::from_path(name), Err(Error::Format { .. })),
            "{name}"
        );
    }
}

#[test]
fn a_directory_is_an_io_error_whatever_its_name() {
    let dir = std::env::temp_dir().join(format!("bfactor_dir_{}", std::process::id()));
    for name in ["plain", "looks.pdb"] {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).unwrap();
        match structure::read(&path, &ReadOptions::new()) {
            Err(Error::Io { message, .. }) => {
                assert!(message.contains("directory"), "{name}: {message}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------
// Per-chain scaling.
// ---------------------------------------------------------------------------

fn weighted_moments(x: &Array1<f64>, m: &Array1<f64>, r: std::ops::Range<usize>) -> (f64, f64) {
    let (x, m) = (x.slice(ndarray::s![r.clone()]), m.slice(ndarray::s![r]));
    let mean = (&x * &m).sum() / m.sum();
    let var = (&m * &x.mapv(|v| (v - mean).powi(2))).sum() / m.sum();
    (mean, var.sqrt())
}

#[test]
fn per_chain_zscores_and_rescaling_on_a_real_complex() {
    let s = read("3mht.pdb.gz");
    let chains = s.chains();
    let (b, mut mask) = (s.bfactors(), s.mask());
    mask[0] = 0.0; // a masked token: ignored in the statistics, still transformed
    let z = scale::zscore_per_chain(&b, &mask, &chains).unwrap();
    for c in &chains {
        let (mean, std) = weighted_moments(&z, &mask, c.tokens.clone());
        assert!(
            close(mean, 0.0, 1e-12) && close(std, 1.0, 1e-12),
            "{}",
            c.id
        );
    }
    let (mean_c, std_c) = weighted_moments(&b, &mask, chains[0].tokens.clone());
    assert!(close(z[0], (b[0] - mean_c) / std_c, 1e-12));
    // A prediction on another scale, shown on each chain's experimental scale.
    let prediction = s.coords().sum_axis(Axis(1)).mapv(|v| v * 0.01);
    let shown = scale::rescale_to_reference_per_chain(&prediction, &b, &mask, &chains).unwrap();
    for c in &chains {
        let (m1, s1) = weighted_moments(&shown, &mask, c.tokens.clone());
        let (m2, s2) = weighted_moments(&b, &mask, c.tokens.clone());
        assert!(close(m1, m2, 1e-9) && close(s1, s2, 1e-9), "{}", c.id);
    }
    // Chains left out are copied unchanged.
    let only_a = scale::zscore_per_chain(&b, &mask, &chains[2..]).unwrap();
    assert_eq!(only_a.slice(ndarray::s![..25]), b.slice(ndarray::s![..25]));
}

#[test]
fn scaling_errors() {
    let span = |id: &str, r: std::ops::Range<usize>| ChainSpan {
        id: id.into(),
        tokens: r,
    };
    let x = ndarray::array![1.0_f64, 2.0, 3.0, 4.0];
    let ones = Array1::<f64>::ones(4);
    let one_valid = ndarray::array![1.0, 0.0, 0.0, 1.0];
    assert!(matches!(
        scale::zscore_per_chain(&x, &one_valid, &[span("A", 0..2), span("B", 2..4)]),
        Err(Error::TooFewValid { got: 1, .. })
    ));
    assert!(matches!(
        scale::rescale_to_reference_per_chain(
            &x,
            &Array1::from_elem(4, 7.0),
            &ones,
            &[span("A", 0..4)]
        ),
        Err(Error::ZeroVariance { .. })
    ));
    assert!(matches!(
        scale::zscore_per_chain(&x, &ones, &[span("A", 0..5)]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        scale::zscore_per_chain(&x, &ones, &[span("A", 0..3), span("B", 2..4)]),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        scale::zscore_per_chain(
            &x,
            &ndarray::array![1.0, -1.0, 1.0, 1.0],
            &[span("A", 0..4)]
        ),
        Err(Error::InvalidMask { .. })
    ));
    assert!(matches!(
        scale::zscore_per_chain(&x, &Array1::<f64>::ones(3), &[span("A", 0..3)]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        scale::zscore_per_chain(
            &ndarray::array![1.0, f64::INFINITY],
            &Array1::<f64>::ones(2),
            &[]
        ),
        Err(Error::NonFinite { .. })
    ));
}
