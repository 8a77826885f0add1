#![cfg(feature = "structure")]
//! Structures in memory: `Structure::to_bytes`/`from_bytes` round trips, and
//! `from_atoms`/`atom_tokens` checked against the file reader on the same atoms.

use std::path::PathBuf;

use bfactor::ndarray::Array1;
use bfactor::structure::{
    self, atom_tokens, from_atoms, AtomRecord, FileFormat, ReadOptions, Structure, TokenMode,
};
use bfactor::Error;

fn root(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn crystal_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root("data/crystal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".gz"))
        .collect();
    files.sort();
    assert!(files.len() > 20, "data/crystal holds {} files", files.len());
    files
}

/// Tokens equal field for field (NaN coordinates of missing atoms included).
fn same_tokens(a: &Structure, b: &Structure) -> bool {
    format!("{:?}", a.tokens()) == format!("{:?}", b.tokens())
}

fn assert_same(a: &Structure, b: &Structure) {
    assert!(same_tokens(a, b));
    assert_eq!(a.warnings(), b.warnings());
    assert_eq!(a.format(), b.format());
    assert_eq!(a.path(), b.path());
}

#[test]
fn bytes_round_trip_every_crystal() {
    for (k, path) in crystal_files().iter().enumerate() {
        // Both token modes, on alternate files.
        {
            let tokens = [TokenMode::Boltz2, TokenMode::CaOnly][k % 2];
            let options = ReadOptions::new().with_tokens(tokens).with_waters(true);
            let st = structure::read(path, &options).unwrap();
            let back = Structure::from_bytes(&st.to_bytes().unwrap()).unwrap();
            assert_same(&st, &back);
            let values = Array1::from_iter((0..st.tokens().len()).map(|i| i as f64 % 97.0));
            // Written in place, from the source text the bytes carry.
            let format = st.format();
            assert_eq!(
                structure::write_string(&st, &values, format).unwrap(),
                structure::write_string(&back, &values, format).unwrap(),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn bytes_round_trip_keeps_latin1_and_writes_the_same_bytes() {
    let path = root("tests/data/malformed/latin1_remark.pdb");
    let st = structure::read(&path, &ReadOptions::new()).unwrap();
    assert!(st.warnings().iter().any(|w| w.contains("Latin-1")));
    let back = Structure::from_bytes(&st.to_bytes().unwrap()).unwrap();
    assert_same(&st, &back);
    let values = Array1::from_elem(st.tokens().len(), 12.5);
    let dir = std::env::temp_dir().join(format!("bfactor-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.pdb"), dir.join("b.pdb"));
    structure::write(&st, &values, &a).unwrap();
    structure::write(&back, &values, &b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn from_bytes_names_what_is_wrong() {
    let st = structure::read(root("data/crystal/1UBQ.pdb.gz"), &ReadOptions::new()).unwrap();
    let bytes = st.to_bytes().unwrap();
    for bad in [&b""[..], &b"not safetensors"[..], &bytes[..bytes.len() / 2]] {
        assert!(matches!(
            Structure::from_bytes(bad),
            Err(Error::Format { .. })
        ));
    }
    // A predictor file is safetensors, but not a structure.
    let other = bfactor::structure::predict::Predictor::pretrained()
        .unwrap()
        .to_bytes()
        .unwrap();
    let e = Structure::from_bytes(&other).unwrap_err().to_string();
    assert!(e.contains("not structure bytes"), "{e}");
}

/// The atoms of the first model as `AtomRecord`s, each atom name once per
/// residue (the first alternate location, as a Biotite `AtomArray` holds them).
fn records(st: &Structure) -> Vec<AtomRecord> {
    let mut out = vec![];
    for chain in st.pdb().models().next().unwrap().chains() {
        for residue in chain.residues() {
            let (number, icode) = residue.id();
            let mut names = std::collections::HashSet::new();
            for (conformer, atom) in residue
                .conformers()
                .flat_map(|c| c.atoms().map(move |a| (c, a)))
                .filter(|(_, a)| names.insert(a.name().to_string()))
            {
                let (x, y, z) = atom.pos();
                out.push(AtomRecord {
                    chain: chain.id().to_string(),
                    residue_number: number,
                    insertion_code: icode.map(str::to_string),
                    residue_name: conformer.name().to_string(),
                    atom_name: atom.name().to_string(),
                    element: atom.element().map_or("", |e| e.symbol()).to_string(),
                    hetero: atom.hetero(),
                    coords: [x, y, z],
                    bfactor: atom.b_factor(),
                    occupancy: atom.occupancy(),
                });
            }
        }
    }
    out
}

/// The residues with more than one alternate location.
fn alternates(st: &Structure) -> std::collections::HashSet<(String, isize)> {
    let mut out = std::collections::HashSet::new();
    for chain in st.pdb().models().next().unwrap().chains() {
        for residue in chain.residues() {
            if residue.conformers().count() > 1 {
                out.insert((chain.id().to_string(), residue.id().0));
            }
        }
    }
    out
}

#[test]
fn from_atoms_gives_the_reader_s_tokens_on_every_crystal() {
    for (k, path) in crystal_files().iter().enumerate() {
        // Both token modes, on alternate files.
        {
            let tokens = [TokenMode::Boltz2, TokenMode::CaOnly][(k + 1) % 2];
            let options = ReadOptions::new().with_tokens(tokens);
            let st = structure::read(path, &options).unwrap();
            let atoms = records(&st);
            let mine = from_atoms(&atoms, &options).unwrap();
            let (a, b) = (st.tokens(), mine.tokens());
            let alt = alternates(&st);
            assert_eq!(a.len(), b.len(), "{}", path.display());
            for (x, y) in a.iter().zip(b) {
                assert_eq!(
                    (&x.chain, x.residue_number, &x.atom_name, x.kind),
                    (&y.chain, y.residue_number, &y.atom_name, y.kind),
                    "{}",
                    path.display()
                );
                assert_eq!(x.present, y.present);
                // The reader takes the most occupied alternate location, the
                // records hold the first.
                if !alt.contains(&(x.chain.clone(), x.residue_number)) {
                    assert_eq!(format!("{:?}", x.coords), format!("{:?}", y.coords));
                    assert_eq!(x.bfactor, y.bfactor, "{}", path.display());
                }
            }
            // Every atom of a token's residue maps to that token.
            let map = atom_tokens(&mine, &atoms);
            for (atom, t) in atoms.iter().zip(&map) {
                if let Some(t) = *t {
                    let tok = &mine.tokens()[t];
                    assert_eq!(
                        (&tok.chain, tok.residue_number),
                        (&atom.chain, atom.residue_number)
                    );
                }
            }
            for t in 0..mine.tokens().len() {
                assert!(map.contains(&Some(t)), "token {t} has no atom");
            }
        }
    }
}

#[test]
fn from_atoms_errors_name_the_atom() {
    let st = structure::read(root("data/crystal/1UBQ.pdb.gz"), &ReadOptions::new()).unwrap();
    let atoms = records(&st);
    let options = ReadOptions::new();
    assert!(matches!(
        from_atoms(&[], &options),
        Err(Error::Empty { .. })
    ));
    let mut bad = atoms.clone();
    bad[5].coords[1] = f64::NAN;
    match from_atoms(&bad, &options) {
        Err(Error::NonFinite { index, .. }) => assert_eq!(index, vec![5, 1]),
        other => panic!("{other:?}"),
    }
    let mut bad = atoms.clone();
    bad[7].bfactor = f64::INFINITY;
    assert!(matches!(
        from_atoms(&bad, &options),
        Err(Error::NonFinite { .. })
    ));
    let mut bad = atoms.clone();
    bad[3].chain = "é".into();
    let e = from_atoms(&bad, &options).unwrap_err().to_string();
    assert!(
        e.contains("atom 4") && e.contains("not printable ASCII"),
        "{e}"
    );
    // A negative B-factor is read as 0 (masked), with a warning naming the atom.
    let mut neg = atoms.clone();
    neg[1].bfactor = -3.0;
    let s = from_atoms(&neg, &options).unwrap();
    assert!(s
        .warnings()
        .iter()
        .any(|w| w.contains("negative") && w.contains("atom 2")));
    assert!(matches!(s.to_bytes(), Err(Error::Format { .. })));
}

#[test]
fn read_bytes_equals_read_on_gzip_plain_and_latin1() {
    for path in crystal_files().iter().step_by(3) {
        let format = FileFormat::from_path(path).unwrap().0;
        let options = ReadOptions::new();
        let file = structure::read(path, &options).unwrap();
        let gz = std::fs::read(path).unwrap();
        let a = structure::read_bytes(&gz, format, &options).unwrap();
        assert!(same_tokens(&file, &a), "{}", path.display());
        assert_eq!(a.warnings(), file.warnings());
        let plain = file.to_bytes().unwrap();
        let text = Structure::from_bytes(&plain).unwrap();
        assert!(same_tokens(&file, &text));
    }
    let path = root("tests/data/malformed/latin1_remark.pdb");
    let file = structure::read(&path, &ReadOptions::new()).unwrap();
    let mem = structure::read_bytes(
        &std::fs::read(&path).unwrap(),
        FileFormat::Pdb,
        &ReadOptions::new(),
    )
    .unwrap();
    assert!(same_tokens(&file, &mem));
    assert_eq!(file.warnings(), mem.warnings());
    // Damaged gzip and the size limit are errors naming the bytes.
    let gz = std::fs::read(root("data/crystal/1UBQ.pdb.gz")).unwrap();
    let e = structure::read_bytes(&gz[..gz.len() / 2], FileFormat::Pdb, &ReadOptions::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("<bytes>") && e.contains("gzip"), "{e}");
    let small = ReadOptions::new().with_max_decompressed_bytes(1000);
    let e = structure::read_bytes(&gz, FileFormat::Pdb, &small)
        .unwrap_err()
        .to_string();
    assert!(e.contains("larger than the limit"), "{e}");
}
