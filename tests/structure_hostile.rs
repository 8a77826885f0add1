#![cfg(feature = "structure")]
//! Hostile and unusual structure files: each is read, or is a clear typed
//! error, never a panic, never a silent invented value. The files are in
//! `tests/data/malformed/` (made by `scripts/gen_malformed.py` from 1UBI) or
//! generated here.
//!
//! `cargo test --all-features --test structure_hostile`

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use bfactor::structure::gnm::{self, GnmConfig};
use bfactor::structure::{self, FileFormat, ReadOptions, Structure, TokenMode};
use bfactor::Error;
use ndarray::{Array1, Array2};

fn malformed(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/malformed")
        .join(name)
}

fn structures(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/structures")
        .join(name)
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("bfactor_hostile_{}_{name}", std::process::id()))
}

/// Reads without letting a panic pass unnoticed.
fn try_read(path: &PathBuf, options: &ReadOptions) -> Result<Structure, Error> {
    catch_unwind(AssertUnwindSafe(|| structure::read(path, options)))
        .unwrap_or_else(|_| panic!("{}: panicked", path.display()))
}

fn ok(name: &str) -> Structure {
    try_read(&malformed(name), &ReadOptions::new()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn err(name: &str) -> String {
    match try_read(&malformed(name), &ReadOptions::new()) {
        Ok(_) => panic!("{name}: read without error"),
        Err(e) => {
            assert!(matches!(e, Error::Format { .. }), "{name}: {e:?}");
            e.to_string()
        }
    }
}

fn has_warning(s: &Structure, what: &str) -> bool {
    s.warnings().iter().any(|w| w.contains(what))
}

#[test]
fn legacy_columns_73_to_80_are_read() {
    let s = ok("legacy_columns.pdb");
    let reference = structure::read(structures("1ubi.pdb"), &ReadOptions::new()).unwrap();
    assert_eq!(s.tokens(), &reference.tokens()[..3]);
    assert!(has_warning(&s, "legacy format"), "{:?}", s.warnings());
    // Elements from the atom names: nitrogen, carbon, ...
    let elements: Vec<String> = s
        .pdb()
        .atoms()
        .take(3)
        .map(|a| a.element().unwrap().symbol().to_string())
        .collect();
    assert_eq!(elements, ["N", "C", "C"]);
}

#[test]
fn blank_chain_segments_never_merge() {
    // 30 TER-separated segments without chain ID, each residues 1-2.
    let s = ok("thirty_blank_segments.pdb");
    let chains = s.chains();
    assert_eq!(chains.len(), 30);
    assert!(chains.iter().all(|c| c.tokens.len() == 2));
    let mut ids: Vec<&str> = chains.iter().map(|c| c.id.as_str()).collect();
    // 'A' is not used by any record: the blank segments get A-Z, then a-d.
    assert_eq!(ids[..3], ["A", "B", "C"]);
    assert_eq!(ids[26..], ["a", "b", "c", "d"]);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);
    // A blank segment followed by chain A with the same residue numbers.
    let s = ok("blank_then_chain_a.pdb");
    let chains = s.chains();
    assert_eq!(chains.len(), 2);
    assert_eq!((chains[0].id.as_str(), chains[1].id.as_str()), ("B", "A"));
    assert_eq!(s.tokens().len(), 4);
    // Written back in place: the chain column stays blank.
    let out = structure::write_string(&s, &Array1::from_elem(4, 7.0), FileFormat::Pdb).unwrap();
    let blank = out
        .lines()
        .filter(|l| l.starts_with("ATOM") && &l[21..22] == " ")
        .count();
    assert!(
        blank > 0
            && out
                .lines()
                .filter(|l| l.starts_with("ATOM"))
                .all(|l| &l[60..66] == "  7.00")
    );
}

#[test]
fn mmcif_without_b_values_is_masked_with_a_warning() {
    let s = ok("no_b_column.cif");
    assert!(s.bfactors().iter().all(|&b| b == 0.0));
    assert_eq!(s.mask().sum(), 0.0);
    assert!(
        has_warning(&s, "no B_iso_or_equiv column"),
        "{:?}",
        s.warnings()
    );
    // Writing in place says why not; writing PDB works.
    let values = Array1::from_elem(s.tokens().len(), 5.0);
    let e = structure::write_string(&s, &values, FileFormat::Mmcif).unwrap_err();
    assert!(e.to_string().contains("no B_iso_or_equiv column"), "{e}");
    let pdb = structure::write_string(&s, &values, FileFormat::Pdb).unwrap();
    let back = structure::read_str(&pdb, FileFormat::Pdb, &ReadOptions::new()).unwrap();
    assert!(back.bfactors().iter().all(|&b| b == 5.0));

    // `?` and `.` B values (rows 5 and 6: the CB and CG of Met 1, the CB is its token).
    let s = ok("unknown_b_values.cif");
    assert_eq!((s.tokens()[0].bfactor, s.mask()[0]), (0.0, 0.0));
    assert!(s.mask().iter().skip(1).all(|&m| m == 1.0));
    assert!(
        has_warning(&s, "2 atom records have no B-factor"),
        "{:?}",
        s.warnings()
    );
    // Written in place: the `?` becomes the value.
    let out = structure::write_string(&s, &values, FileFormat::Mmcif).unwrap();
    let back = structure::read_str(&out, FileFormat::Mmcif, &ReadOptions::new()).unwrap();
    assert!(back.bfactors().iter().all(|&b| b == 5.0));
}

#[test]
fn mmcif_missing_columns_and_bad_numbers_are_named() {
    assert!(err("no_cartn_y.cif").contains("no _atom_site.Cartn_y column"));
    let e = err("no_label_atom_id.cif");
    assert!(e.contains("_atom_site.label_atom_id"), "{e}");
    for name in [
        "inf_coordinate.cif",
        "text_coordinate.cif",
        "nan_coordinate.cif",
    ] {
        let e = err(name);
        assert!(
            e.contains("row 4") && e.contains("_atom_site.Cartn_x is not a finite number"),
            "{name}: {e}"
        );
    }
}

#[test]
fn latin1_text_is_read_with_a_warning_and_written_back_byte_for_byte() {
    let path = malformed("latin1_remark.pdb");
    let s = ok("latin1_remark.pdb");
    assert_eq!(s.tokens().len(), 3);
    assert!(has_warning(&s, "read as Latin-1"), "{:?}", s.warnings());
    let out = temp("latin1.pdb");
    structure::write(&s, &s.bfactors(), &out).unwrap();
    let (a, b) = (std::fs::read(&path).unwrap(), std::fs::read(&out).unwrap());
    // The same bytes (é as the one byte 0xe9) but the atoms' B-factor columns.
    assert_eq!(a.len(), b.len());
    for (la, lb) in a.split(|&c| c == b'\n').zip(b.split(|&c| c == b'\n')) {
        if la.starts_with(b"ATOM") {
            assert_eq!((&la[..60], &la[66..]), (&lb[..60], &lb[66..]));
        } else {
            assert_eq!(la, lb);
        }
    }
    assert!(b.windows(4).any(|w| w == b"caf\xe9"));
    std::fs::remove_file(out).ok();
}

#[test]
fn damaged_atom_records_are_errors_naming_the_line() {
    // HEADER, CRYST1, 5 atoms, then the bare record on line 8.
    for name in ["atom_record_only.pdb", "atom_word_only.pdb"] {
        let e = err(name);
        assert!(
            e.contains("line 8: ATOM record is truncated"),
            "{name}: {e}"
        );
    }
    assert!(err("truncated_atom.pdb").contains("line 7: ATOM record is truncated"));
    assert!(err("text_coordinate.pdb").contains("line 3: ATOM record has no valid x"));
    assert!(err("control_character.pdb").contains("line 3: ATOM record holds a control"));
    assert!(err("infinite_bfactor.pdb").contains("line 3: ATOM record has an invalid B-factor"));
}

#[test]
fn non_physical_values_are_masked_with_a_warning() {
    // Line 3 is Met 1's CA; the CB (its token) is untouched, so check the atom.
    for (name, what) in [
        ("negative_occupancy.pdb", "non-physical occupancy"),
        ("huge_bfactor.pdb", "non-physical B-factor"),
        ("huge_bfactor.cif", "non-physical B-factor"),
    ] {
        let s = ok(name);
        assert!(has_warning(&s, what), "{name}: {:?}", s.warnings());
        let ca = s.pdb().atoms().find(|a| a.name() == "CA").unwrap();
        if name.ends_with(".pdb") {
            assert_eq!(ca.b_factor(), 0.0, "{name}");
        }
        assert!(s
            .pdb()
            .atoms()
            .all(|a| a.b_factor() <= structure::MAX_BFACTOR));
        assert!(s
            .pdb()
            .atoms()
            .all(|a| (0.0..=1.0).contains(&a.occupancy())));
    }
    // The CA-only token of Met 1 is masked.
    let s = try_read(
        &malformed("huge_bfactor.pdb"),
        &ReadOptions::new().with_tokens(TokenMode::CaOnly),
    )
    .unwrap();
    assert_eq!((s.tokens()[0].bfactor, s.mask()[0]), (0.0, 0.0));
}

#[test]
fn unknown_space_group_keeps_the_cell() {
    let s = ok("unknown_space_group.pdb");
    assert!(s.pdb().unit_cell.is_some());
    assert!(s.pdb().symmetry.is_none());
    assert!(has_warning(&s, "Invalid space group"));
    // The mmCIF cell and symmetry are read too.
    let s = structure::read(structures("1ubi.cif"), &ReadOptions::new()).unwrap();
    assert_eq!(s.pdb().unit_cell.as_ref().unwrap().a(), 50.84);
    assert_eq!(
        s.pdb().symmetry.as_ref().unwrap().herman_mauguin_symbol(),
        "P 21 21 21"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn decompressed_and_plain_sizes_are_capped() {
    assert_eq!(structure::DEFAULT_MAX_BYTES, 512 << 20);
    assert_eq!(ReadOptions::new().max_bytes, structure::DEFAULT_MAX_BYTES);
    // A gzip bomb: 64 MiB of zeros in 64 KiB, with a 1 MiB cap.
    let member = gzip(&vec![0u8; 1 << 20]);
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 64)
        .collect();
    let path = temp("bomb.pdb.gz");
    std::fs::write(&path, &bomb).unwrap();
    let small = ReadOptions::new().with_max_decompressed_bytes(1 << 20);
    let e = try_read(&path, &small).unwrap_err();
    assert!(
        matches!(e, Error::Format { .. })
            && e.to_string()
                .contains("larger than the limit of 1048576 bytes"),
        "{e}"
    );
    // A real file within the cap reads.
    let real = temp("1ubi.pdb.gz");
    std::fs::write(&real, gzip(&std::fs::read(structures("1ubi.pdb")).unwrap())).unwrap();
    assert!(try_read(&real, &small).is_ok());
    // A plain file over the cap.
    let e = try_read(
        &structures("1ubi.pdb"),
        &ReadOptions::new().with_max_decompressed_bytes(1000),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("the file is larger than the limit of 1000"),
        "{e}"
    );
    let e = structure::read_str(
        "ATOM",
        FileFormat::Pdb,
        &ReadOptions::new().with_max_decompressed_bytes(2),
    )
    .unwrap_err();
    assert!(e.to_string().contains("larger than the limit"), "{e}");
    for p in [path, real] {
        std::fs::remove_file(p).ok();
    }
}

#[test]
fn every_malformed_file_reads_or_fails_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/malformed");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        for mode in [TokenMode::Boltz2, TokenMode::CaOnly] {
            let _ = try_read(&path, &ReadOptions::new().with_tokens(mode));
        }
        n += 1;
    }
    assert!(n >= 20, "{n} files");
}

#[test]
fn gnm_limits_memory_before_allocating() {
    // 25,000 nodes: refused before the 20 GB decomposition is attempted.
    let coords = Array2::from_shape_fn((25_000, 3), |(i, j)| (i * 3 + j) as f64);
    let e = GnmConfig::new().square_fluctuations(&coords).unwrap_err();
    assert!(
        matches!(e, Error::OutOfRange { value, .. } if value == 25_000.0)
            && e.to_string().contains("at most 12000 nodes"),
        "{e}"
    );
    assert!(GnmConfig::new().build(&coords).is_err());
    assert!(gnm::kirchhoff(&coords, &GnmConfig::new()).is_err());
    assert_eq!(gnm::DEFAULT_MAX_NODES, 12_000);
    assert_eq!(gnm::memory_estimate(1000), 32_000_000);
    // A smaller limit applies the same way.
    let line = Array2::from_shape_fn((50, 3), |(i, j)| if j == 0 { 3.8 * i as f64 } else { 0.0 });
    assert!(GnmConfig::new().with_max_nodes(49).build(&line).is_err());
    assert!(GnmConfig::new().with_max_nodes(50).build(&line).is_ok());
}

#[test]
fn gnm_skips_missing_atoms() {
    // Boltz-2 tokens of a CA-only file: every non-glycine CB is missing (NaN).
    let s = structure::read(structures("1ubi_ca.pdb"), &ReadOptions::new()).unwrap();
    let coords = s.coords();
    let missing = s.missing();
    assert!(missing.len() > 60);
    // The README's recipe.
    let fluct = GnmConfig::new().square_fluctuations(&coords).unwrap();
    let (_, predicted) = gnm::fit_bfactors_masked(&fluct, &s.bfactors(), &s.mask()).unwrap();
    assert!(predicted.iter().all(|v| v.is_finite()));
    let model = GnmConfig::new().build(&coords).unwrap();
    assert_eq!(model.skipped_nodes(), &missing[..]);
    for &i in &missing {
        assert_eq!(fluct[i], 0.0);
        assert!(!model.isolated_nodes().contains(&i));
    }
    // The present nodes get what the network of those nodes alone gives.
    let present: Vec<usize> = (0..s.tokens().len())
        .filter(|i| !missing.contains(i))
        .collect();
    let sub = coords.select(ndarray::Axis(0), &present);
    let alone = GnmConfig::new().square_fluctuations(&sub).unwrap();
    for (k, &i) in present.iter().enumerate() {
        assert!((fluct[i] - alone[k]).abs() <= 1e-12 * alone[k].abs().max(1.0));
    }
    // A partly NaN row is still an error naming the node.
    let mut bad = sub.clone();
    bad[(3, 1)] = f64::NAN;
    let e = GnmConfig::new().build(&bad).unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { ref index, .. } if index == &[3, 1]),
        "{e}"
    );
}
