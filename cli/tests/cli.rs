//! The `bfactor` command, run as a user runs it: every subcommand, batches with
//! a malformed file, standard input, output files and exit statuses.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use bfactor::loss;
use bfactor::structure::gnm::GnmConfig;
use bfactor::structure::predict::Predictor;
use bfactor::structure::{self, FileFormat, ReadOptions, Structure, TokenMode};
use ndarray::{s, Array1, Array2};
use predicates::prelude::*;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/structures")
        .join(name)
}

/// How the command reads structures by default: one token per residue at CA.
fn ca() -> ReadOptions {
    ReadOptions::new().with_tokens(TokenMode::CaOnly)
}

fn bfactor() -> Command {
    Command::cargo_bin("bfactor").expect("the bfactor binary is built")
}

/// A PDB file whose second atom record is cut short: not a structure.
const MALFORMED: &str = "\
ATOM      1  N   MET A   1      27.340  24.430   2.614  1.00  9.67           N
ATOM      2  CA  MET A   1      26.266  25.413
END
";

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Temporary files left behind by an output that was not completed.
fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".bfactor-"))
        .collect()
}

#[test]
fn help_shows_examples_for_every_subcommand() {
    bfactor().arg("--help").assert().success().stdout(
        predicate::str::contains("Examples:").and(predicate::str::contains("bfactor compare")),
    );
    for sub in ["predict", "gnm", "compare", "plot", "train", "plddt-to-b"] {
        bfactor().args([sub, "--help"]).assert().success().stdout(
            predicate::str::contains("Examples:")
                .and(predicate::str::contains(format!("bfactor {sub} "))),
        );
    }
}

#[test]
fn usage_errors_exit_with_2() {
    bfactor().arg("frobnicate").assert().code(2);
    bfactor().arg("predict").assert().code(2); // no PATH
    bfactor()
        .args(["gnm", "-", "--table", "csv"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--input-format"));
    bfactor()
        .arg("compare")
        .arg(data("1ubi.pdb"))
        .args(["--csv", "--json"])
        .assert()
        .code(2);
    bfactor()
        .arg("gnm")
        .arg(data("1ubi.pdb"))
        .args(["--cutoff", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cutoff"));
    let dir = tempfile::tempdir().unwrap();
    bfactor()
        .arg("plot")
        .arg(data("1ubi.pdb"))
        .arg("-o")
        .arg(dir.path().join("picture.jpg"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".svg or .png"));
    bfactor()
        .arg("gnm")
        .arg(data("1ubi.pdb"))
        .arg(data("1ubi.cif"))
        .args(["-o", "-"])
        .assert()
        .code(2);
}

#[test]
fn predict_writes_the_libraries_prediction_into_the_b_column() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("1ubi_predicted.pdb");
    bfactor()
        .arg("predict")
        .arg(data("1ubi.pdb"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("76 tokens in 1 chain")
                .and(predicate::str::contains("Pearson r")),
        );
    let original = structure::read(data("1ubi.pdb"), &ca()).unwrap();
    let expected = Predictor::pretrained().unwrap().predict(&original).unwrap();
    let written = structure::read(&out, &ca()).unwrap();
    assert_eq!(written.tokens().len(), 76);
    for (t, e) in written.tokens().iter().zip(expected.iter()) {
        assert!(
            (t.bfactor - e).abs() <= 0.005 + 1e-9,
            "{} vs {e}",
            t.bfactor
        );
    }
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn predict_per_atom_writes_the_libraries_atom_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("1ubi_atoms.pdb");
    bfactor()
        .arg("predict")
        .arg(data("1ubi.pdb"))
        .arg("--per-atom")
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let original = structure::read(data("1ubi.pdb"), &ca()).unwrap();
    let expected = Predictor::pretrained()
        .unwrap()
        .predict_atoms(&original)
        .unwrap();
    let written = structure::read(&out, &ca()).unwrap();
    let sites = structure::per_atom::atom_sites(&written, false).unwrap();
    assert_eq!(sites.atoms, expected.sites.atoms);
    let side_chain = expected.sites.is_ca.iter().filter(|c| !**c).count();
    assert!(side_chain > 400, "{side_chain} atoms besides the CAs");
    for (got, want) in sites.bfactors.iter().zip(&expected.values) {
        assert!((got - want).abs() <= 0.005 + 1e-9, "{got} vs {want}");
    }
    // Without -o there is nothing to write per atom into: a usage error.
    bfactor()
        .arg("predict")
        .arg(data("1ubi.pdb"))
        .arg("--per-atom")
        .assert()
        .code(2);
}

#[test]
fn predict_table_lists_every_token() {
    let text = stdout_of(
        bfactor()
            .arg("predict")
            .arg(data("1ubi.cif"))
            .args(["--table", "csv"]),
    );
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "file,chain,residue_number,insertion_code,residue_name,atom_name,experimental_b,plddt,prediction"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 76);
    let st = structure::read(data("1ubi.cif"), &ca()).unwrap();
    for (row, t) in rows.iter().zip(st.tokens()) {
        assert_eq!(row[1], t.chain);
        assert_eq!(row[2], t.residue_number.to_string());
        assert_eq!(row[4], t.residue_name);
        assert_eq!(row[6].parse::<f64>().unwrap(), t.bfactor);
        assert_eq!(row[7], "", "a crystal has no pLDDT");
        assert!(row[8].parse::<f64>().unwrap().is_finite());
    }
}

/// GNM square fluctuations on the present tokens, by the library directly.
fn library_gnm(st: &Structure, cutoff: f64) -> (Array1<f64>, Array1<f64>) {
    let n = st.tokens().len();
    let nodes: Vec<usize> = (0..n).filter(|&i| st.tokens()[i].present).collect();
    let c = st.coords();
    let xyz = Array2::from_shape_fn((nodes.len(), 3), |(a, k)| c[[nodes[a], k]]);
    let sq = GnmConfig::new()
        .with_cutoff(cutoff)
        .square_fluctuations(&xyz)
        .unwrap();
    let mut full = Array1::zeros(n);
    let mut defined = Array1::zeros(n);
    for (a, &i) in nodes.iter().enumerate() {
        full[i] = sq[a];
        defined[i] = if sq[a] > 0.0 { 1.0 } else { 0.0 };
    }
    (full, defined)
}

#[test]
fn gnm_json_table_holds_the_fitted_gnm() {
    let text = stdout_of(
        bfactor()
            .arg("gnm")
            .arg(data("3mht.pdb.gz"))
            .args(["--table", "json", "--cutoff", "7.3"]),
    );
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    let st = structure::read(data("3mht.pdb.gz"), &ca()).unwrap();
    assert_eq!(rows.len(), st.tokens().len());
    let (sq, defined) = library_gnm(&st, 7.3);
    let mask = &st.mask() * &defined;
    let (_, fitted) =
        bfactor::structure::gnm::fit_bfactors_masked(&sq, &st.bfactors(), &mask).unwrap();
    for (i, row) in rows.iter().enumerate() {
        match row["prediction"].as_f64() {
            Some(v) => assert!((v - fitted[i]).abs() < 1e-9 * fitted[i].abs().max(1.0)),
            None => assert_eq!(defined[i], 0.0),
        }
        match row["experimental_b"].as_f64() {
            Some(b) => assert_eq!(b, st.tokens()[i].bfactor),
            None => assert_eq!(st.mask()[i], 0.0),
        }
    }
}

#[test]
fn a_malformed_file_does_not_stop_the_batch() {
    let input = tempfile::tempdir().unwrap();
    fs::copy(data("1ubi.pdb"), input.path().join("1ubi.pdb")).unwrap();
    fs::copy(data("3mht.pdb.gz"), input.path().join("3mht.pdb.gz")).unwrap();
    fs::write(input.path().join("broken.pdb"), MALFORMED).unwrap();
    fs::write(input.path().join("notes.txt"), "not a structure").unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("gnm");
    bfactor()
        .arg("gnm")
        .arg(input.path())
        .arg("-o")
        .arg(&out_dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("broken.pdb").and(predicate::str::contains("line 2")))
        .stdout(predicate::str::contains("1ubi.pdb").and(predicate::str::contains("3mht.pdb.gz")));
    let mut written: Vec<String> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["1ubi.pdb", "3mht.pdb.gz"]);
    // The gzip output is a readable structure with the GNM in its B column.
    let back = structure::read(out_dir.join("3mht.pdb.gz"), &ca()).unwrap();
    assert!(back.bfactors().iter().all(|b| b.is_finite()));
}

#[test]
fn compare_reports_what_the_library_computes() {
    let text = stdout_of(
        bfactor()
            .arg("compare")
            .arg(data("1ubi.pdb"))
            .arg(data("3mht.pdb.gz"))
            .arg("--json"),
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let chains = v["chains"].as_array().unwrap();
    let predictor = Predictor::pretrained().unwrap();
    let mut checked = 0;
    for name in ["1ubi.pdb", "3mht.pdb.gz"] {
        let st = structure::read(data(name), &ca()).unwrap();
        let (sq, defined) = library_gnm(&st, 10.0);
        let pred = predictor.predict(&st).unwrap();
        let b = st.bfactors();
        for c in st.chains() {
            let row = chains
                .iter()
                .find(|r| {
                    r["file"].as_str().unwrap().ends_with(name) && r["chain"] == c.id.as_str()
                })
                .unwrap();
            let r = c.tokens.clone();
            let m = st.mask();
            let gm = &m * &defined;
            let want = loss::pearson_masked(
                &sq.slice(s![r.clone()]),
                &b.slice(s![r.clone()]),
                &gm.slice(s![r.clone()]),
            )
            .ok();
            match (row["gnm"].as_f64(), want) {
                (Some(got), Some(want)) => assert!((got - want).abs() < 1e-12),
                (None, None) => {}
                other => panic!("gnm {other:?}"),
            }
            let want = loss::pearson_masked(
                &pred.slice(s![r.clone()]),
                &b.slice(s![r.clone()]),
                &m.slice(s![r.clone()]),
            )
            .ok();
            match (row["predictor"].as_f64(), want) {
                (Some(got), Some(want)) => assert!((got - want).abs() < 1e-12),
                (None, None) => {}
                other => panic!("predictor {other:?}"),
            }
            let wcn = row["inverse_wcn"].as_f64().unwrap();
            assert!((-1.0..=1.0).contains(&wcn));
            checked += 1;
        }
    }
    assert_eq!(checked, chains.len());
    let mean = &v["mean"];
    let gnm: Vec<f64> = chains.iter().filter_map(|r| r["gnm"].as_f64()).collect();
    let want = gnm.iter().sum::<f64>() / gnm.len() as f64;
    assert!((mean["gnm"].as_f64().unwrap() - want).abs() < 1e-12);
    assert_eq!(mean["chains"].as_u64().unwrap() as usize, chains.len());
}

#[test]
fn compare_table_csv_and_failures() {
    // The readable table: header, one line per chain, the means last.
    let text = stdout_of(bfactor().arg("compare").arg(data("1ubi.pdb")));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for column in ["file", "chain", "tokens", "predictor", "gnm", "1/wcn"] {
        assert!(lines[0].contains(column), "{}", lines[0]);
    }
    assert!(lines[2].starts_with("mean over 1 chains"));

    // CSV, only the methods asked for; a file without experimental B-factors
    // (1A1P, an NMR model) fails alone, with exit status 1.
    let out = bfactor()
        .arg("compare")
        .arg(data("1ubi_ca.pdb"))
        .arg(data("1a1p.pdb"))
        .args(["--csv", "--methods", "gnm,wcn"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1a1p.pdb") && stderr.contains("no experimental B-factors"));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "file,chain,provenance,reference,tokens,predictor,gnm,inverse_wcn,atom_wcn"
    );
    assert_eq!(lines.len(), 2);
    let fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!((fields[2], fields[3]), ("unknown", "experiment"));
    assert_eq!(fields[4], "76");
    assert_eq!(fields[5], "", "predictor not asked for");
    assert!(fields[6].parse::<f64>().unwrap() > 0.0);

    // CA tokens by default (protein chains only); Boltz-2 tokens on request
    // (3MHT's two DNA strands become chains too).
    for (tokens, chains) in [("ca", 1), ("boltz2", 3)] {
        let text = stdout_of(bfactor().arg("compare").arg(data("3mht.pdb.gz")).args([
            "--csv",
            "--methods",
            "gnm",
            "--tokens",
            tokens,
        ]));
        assert_eq!(text.lines().count(), 1 + chains, "{tokens}: {text}");
    }
}

#[test]
fn compare_atom_wcn_is_the_librarys_and_blur_is_checked() {
    use bfactor::structure::features::{atom_wcn, WcnConfig};
    let path = data("1ubi.pdb");
    let st = structure::read(&path, &ca()).unwrap();
    for blur in [None, Some(2.0)] {
        let w = atom_wcn(&st, &WcnConfig::new().with_blur(blur)).unwrap();
        let (v, defined) = w.token_values(&st);
        assert!(defined.iter().all(|&d| d));
        let want = bfactor::loss::pearson_masked(&v, &st.bfactors(), &st.mask()).unwrap();
        let mut cmd = bfactor();
        cmd.arg("compare")
            .arg(&path)
            .args(["--csv", "--methods", "atom-wcn"]);
        if let Some(b) = blur {
            cmd.args(["--blur", &b.to_string()]);
        }
        let text = stdout_of(&mut cmd);
        let lines: Vec<&str> = text.lines().collect();
        let col = lines[0].split(',').position(|c| c == "atom_wcn").unwrap();
        let got: f64 = lines[1].split(',').nth(col).unwrap().parse().unwrap();
        assert!((got - want).abs() < 1e-12, "blur {blur:?}: {got} vs {want}");
    }
    let out = bfactor()
        .arg("compare")
        .arg(&path)
        .args(["--methods", "atom-wcn", "--blur", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--blur"));
}

#[test]
fn standard_input_plain_and_gzip() {
    let text = stdout_of(
        bfactor()
            .args(["gnm", "-", "--input-format", "pdb", "--table", "csv"])
            .pipe_stdin(data("1ubi.pdb"))
            .unwrap(),
    );
    assert_eq!(text.lines().count(), 77);
    assert!(text.lines().nth(1).unwrap().starts_with("<stdin>,A,1,"));
    // Gzip-compressed standard input is recognised; the structure goes to
    // standard output, in the input's format.
    let pdb = stdout_of(
        bfactor()
            .args(["-q", "gnm", "-", "--input-format", "pdb", "-o", "-"])
            .pipe_stdin(data("3mht.pdb.gz"))
            .unwrap(),
    );
    let st = structure::read_str(&pdb, FileFormat::Pdb, &ca()).unwrap();
    let original = structure::read(data("3mht.pdb.gz"), &ca()).unwrap();
    assert_eq!(st.tokens().len(), original.tokens().len());
    assert_ne!(st.bfactors(), original.bfactors());
    // mmCIF on standard input, written to a directory as stdin.cif.
    let dir = tempfile::tempdir().unwrap();
    bfactor()
        .args(["predict", "-", "--input-format", "cif", "-o"])
        .arg(format!("{}/", dir.path().display()))
        .pipe_stdin(data("1ubi.cif"))
        .unwrap()
        .assert()
        .success();
    assert!(dir.path().join("stdin.cif").is_file());
}

#[test]
fn existing_outputs_are_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.cif");
    fs::write(&out, "keep me").unwrap();
    bfactor()
        .arg("gnm")
        .arg(data("1ubi.pdb"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--force"));
    assert_eq!(fs::read_to_string(&out).unwrap(), "keep me");
    assert!(leftovers(dir.path()).is_empty());
    bfactor()
        .arg("gnm")
        .arg(data("1ubi.pdb"))
        .arg("-o")
        .arg(&out)
        .arg("--force")
        .assert()
        .success();
    // PDB in, mmCIF out (by the output's name).
    let st = structure::read(&out, &ca()).unwrap();
    assert_eq!(st.format(), FileFormat::Mmcif);
    assert_eq!(st.tokens().len(), 76);
}

#[test]
fn directory_output_with_another_format() {
    let dir = tempfile::tempdir().unwrap();
    bfactor()
        .args(["-q", "-j", "2", "predict"])
        .arg(data("1ubi.pdb"))
        .arg(data("3mht.pdb.gz"))
        .arg("-o")
        .arg(dir.path())
        .args(["--format", "cif.gz"])
        .assert()
        .success()
        .stdout("");
    for name in ["1ubi.cif.gz", "3mht.cif.gz"] {
        let st = structure::read(dir.path().join(name), &ca()).unwrap();
        assert_eq!(st.format(), FileFormat::Mmcif);
    }
    // Two inputs with the same name would overwrite each other: a usage error.
    bfactor()
        .arg("predict")
        .arg(data("1ubi.pdb"))
        .arg(dir.path().join("1ubi.cif.gz"))
        .arg("-o")
        .arg(dir.path().join("again"))
        .args(["--format", "pdb"])
        .assert()
        .code(2);
    // A missing input fails alone.
    bfactor()
        .arg("gnm")
        .arg(data("1ubi.pdb"))
        .arg(dir.path().join("missing.pdb"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.pdb"));
}

#[test]
fn plot_draws_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("3mht.svg");
    bfactor()
        .arg("plot")
        .arg(data("3mht.pdb.gz"))
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    let text = fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg"));
    let st = structure::read(data("3mht.pdb.gz"), &ca()).unwrap();
    for c in st.chains() {
        assert!(
            text.contains(&format!("chain {}:", c.id)),
            "panel of chain {}",
            c.id
        );
    }
    let png = dir.path().join("1ubi.png");
    bfactor()
        .args(["plot", "-", "--input-format", "pdb", "--model", "gnm", "-o"])
        .arg(&png)
        .pipe_stdin(data("1ubi.pdb"))
        .unwrap()
        .assert()
        .success();
    let bytes = fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    // Not overwritten without --force; a malformed file fails with status 1.
    bfactor()
        .arg("plot")
        .arg(data("1ubi.pdb"))
        .arg("-o")
        .arg(&png)
        .assert()
        .code(1);
    assert_eq!(fs::read(&png).unwrap(), bytes);
    let broken = dir.path().join("broken.pdb");
    fs::write(&broken, MALFORMED).unwrap();
    bfactor()
        .arg("plot")
        .arg(&broken)
        .arg("-o")
        .arg(dir.path().join("broken.svg"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("broken.pdb"));
    assert!(!dir.path().join("broken.svg").exists());
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn train_saves_weights_that_predict_loads() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    fs::write(dir.path().join("broken.pdb"), MALFORMED).unwrap();
    bfactor()
        .arg("train")
        .arg(data("1ubi.pdb"))
        .arg(data("1ubi.cif"))
        .arg(data("1ubi_ca.pdb"))
        .arg(data("3mht.pdb.gz"))
        .arg(dir.path().join("broken.pdb"))
        .args(["--epochs", "1", "--seed", "3", "-o"])
        .arg(&weights)
        .assert()
        .code(1) // the malformed file is reported; the others are trained on
        .stderr(predicate::str::contains("epoch 1/1").and(predicate::str::contains("broken.pdb")));
    let loaded = Predictor::load(&weights).unwrap();
    let st = structure::read(data("1ubi.pdb"), &ca()).unwrap();
    let expected = loaded.predict(&st).unwrap();
    let text = stdout_of(
        bfactor()
            .arg("predict")
            .arg(data("1ubi.pdb"))
            .arg("--weights")
            .arg(&weights)
            .args(["--table", "json"]),
    );
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    for (row, e) in rows.iter().zip(expected.iter()) {
        assert!((row["prediction"].as_f64().unwrap() - e).abs() <= 1e-12 * e.abs().max(1.0));
    }
    // Existing weights are kept without --force.
    bfactor()
        .arg("train")
        .arg(data("1ubi.pdb"))
        .args(["--epochs", "1", "-o"])
        .arg(&weights)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--force"));
}

/// The library entry point returns the exit status instead of exiting the
/// process (the Python package's console script runs it in the interpreter).
#[test]
fn run_from_returns_the_status_and_keeps_the_process() {
    assert_eq!(bfactor_cli::run_from(["bfactor", "--version"]), 0);
    assert_eq!(
        bfactor_cli::run_from(["bfactor", "no-such-subcommand"]),
        bfactor_cli::EXIT_USAGE
    );
    let missing = data("no_such_file.pdb");
    let status = bfactor_cli::run_from([
        "bfactor".into(),
        "compare".into(),
        "--quiet".into(),
        missing.into_os_string(),
    ]);
    assert_eq!(status, bfactor_cli::EXIT_FAILURE);
}

/// The first `n` files of data/set364, in name order.
fn set364(n: usize) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/set364");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pdb.gz"))
        .collect();
    files.sort();
    assert!(files.len() >= n, "data/set364 holds {} files", files.len());
    files.truncate(n);
    files
}

fn lines_of(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| format!("{}\n", p.display())).collect()
}

#[test]
fn files_from_a_file_or_stdin_equals_the_paths_on_the_command_line() {
    let files = set364(4);
    let direct = stdout_of(
        bfactor()
            .arg("predict")
            .args(&files)
            .args(["--table", "json"]),
    );
    let rows: Value = serde_json::from_str(&direct).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(rows.len() > 4 * 20, "{} rows", rows.len());
    for f in &files {
        let name = f.display().to_string();
        assert!(
            rows.iter().any(|r| r["file"] == name.as_str()),
            "{name} missing"
        );
    }
    // The list with a comment, blank lines and surrounding white space.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    let text = format!(
        "# four files of set364\n\n  {}",
        lines_of(&files).replace('\n', "\n\n")
    );
    fs::write(&list, &text).unwrap();
    let from_file = stdout_of(
        bfactor()
            .arg("predict")
            .arg("--files-from")
            .arg(&list)
            .args(["--table", "json"]),
    );
    assert_eq!(from_file, direct);
    let from_stdin = stdout_of(
        bfactor()
            .args(["predict", "--files-from", "-", "--table", "json"])
            .write_stdin(text),
    );
    assert_eq!(from_stdin, direct);
    // Command-line paths come first, then the list's.
    fs::write(&list, lines_of(&files[2..])).unwrap();
    let mixed = stdout_of(
        bfactor()
            .arg("predict")
            .args(&files[..2])
            .arg("--files-from")
            .arg(&list)
            .args(["--table", "json"]),
    );
    assert_eq!(mixed, direct);
}

#[test]
fn files_from_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no_such_list.txt");
    bfactor()
        .arg("predict")
        .arg("--files-from")
        .arg(&missing)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("cannot read the file list")
                .and(predicate::str::contains("no_such_list.txt")),
        );
    let empty = dir.path().join("empty.txt");
    fs::write(&empty, "# nothing\n\n").unwrap();
    bfactor()
        .arg("gnm")
        .arg("--files-from")
        .arg(&empty)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("names no path"));
    // The list on standard input, and standard input as an input too.
    bfactor()
        .args(["compare", "-", "--input-format", "pdb", "--files-from", "-"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--files-from -"));
    // A listed path that does not exist fails alone.
    let list = dir.path().join("list.txt");
    fs::write(
        &list,
        format!("{}\nmissing.pdb\n", data("1ubi.pdb").display()),
    )
    .unwrap();
    bfactor()
        .args(["compare", "--csv", "--methods", "wcn", "--files-from"])
        .arg(&list)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("1ubi.pdb"))
        .stderr(predicate::str::contains("missing.pdb: no such file"));
}

#[test]
fn shards_run_as_separate_processes_add_up_to_the_unsharded_run() {
    // A directory (expanded and sorted), listed files and a missing path.
    let files = set364(7);
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("structures");
    fs::create_dir(&sub).unwrap();
    for f in &files[..3] {
        fs::copy(f, sub.join(f.file_name().unwrap())).unwrap();
    }
    let list = dir.path().join("list.txt");
    let missing = dir.path().join("missing.pdb");
    let mut paths = vec![sub.clone()];
    paths.extend_from_slice(&files[3..5]);
    paths.push(missing.clone());
    paths.extend_from_slice(&files[5..]);
    fs::write(&list, lines_of(&paths)).unwrap();

    let run = |shard: Option<String>| {
        let mut cmd = bfactor();
        cmd.args(["predict", "--table", "csv", "--files-from"])
            .arg(&list);
        if let Some(s) = shard {
            cmd.args(["--shard", &s]);
        }
        cmd.output().unwrap()
    };
    let whole = run(None);
    assert_eq!(whole.status.code(), Some(1), "the missing path fails");
    let whole_text = String::from_utf8(whole.stdout).unwrap();
    let mut whole_lines = whole_text.lines();
    let header = whole_lines.next().unwrap().to_string();
    let whole_rows: Vec<&str> = whole_lines.collect();
    // 8 entries (3 from the directory, 4 listed files, 1 missing) cut into
    // 3 contiguous shards at floor(k·8/3): 0..2, 2..5, 5..8.
    let mut rows = Vec::new();
    let mut files_seen = Vec::new();
    let mut missing_reported = 0;
    for k in 1..=3 {
        let out = run(Some(format!("{k}/3")));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let reports = stderr.matches("missing.pdb").count();
        missing_reported += reports;
        assert_eq!(
            out.status.code(),
            Some(if reports > 0 { 1 } else { 0 }),
            "{stderr}"
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(header.as_str()), "shard {k}/3");
        let shard_rows: Vec<String> = lines.map(str::to_string).collect();
        let mut shard_files: Vec<String> = shard_rows
            .iter()
            .map(|r| r.split(',').next().unwrap().to_string())
            .collect();
        shard_files.dedup();
        let expected_entries = [2, 3, 3][k - 1];
        assert_eq!(
            shard_files.len() + reports,
            expected_entries,
            "shard {k}: {shard_files:?}"
        );
        files_seen.extend(shard_files);
        rows.extend(shard_rows);
    }
    assert_eq!(
        missing_reported, 1,
        "the missing path is in exactly one shard"
    );
    assert_eq!(files_seen.len(), 7);
    assert_eq!(
        rows, whole_rows,
        "the shards, in order, are the unsharded run row for row"
    );
    assert!(
        files_seen[0].contains("structures"),
        "the directory's files first"
    );
}

#[test]
fn bad_shard_specs_are_usage_errors() {
    for (spec, says) in [
        ("0/3", "outside 1..=3"),
        ("4/3", "outside 1..=3"),
        ("x/y", "is not a whole number"),
        ("1/0", "N = 0"),
        ("2", "no /"),
    ] {
        bfactor()
            .arg("predict")
            .arg(data("1ubi.pdb"))
            .args(["--shard", spec])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("expected K/N")
                    .and(predicate::str::contains(format!("\"{spec}\"")))
                    .and(predicate::str::contains(says)),
            );
    }
    // More shards than inputs: the empty shards do nothing and succeed.
    bfactor()
        .arg("compare")
        .arg(data("1ubi.pdb"))
        .args(["--methods", "wcn", "--csv", "--shard", "2/5"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1ubi").not());
}

/// A file of data/crystal.
fn crystal(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/crystal")
        .join(name)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out).unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, bytes).unwrap();
    e.finish().unwrap()
}

/// A tar archive of `members` (path, bytes), with a directory entry first.
fn tar_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_size(0);
    dir.set_mode(0o755);
    b.append_data(&mut dir, "af/", std::io::empty()).unwrap();
    for (path, bytes) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// The CSV rows (header line dropped) and the exit status of `predict
/// --table csv` on `args`.
fn predict_rows(args: &[&std::ffi::OsStr]) -> (Vec<String>, Option<i32>, String) {
    let out = bfactor()
        .args(["predict", "--table", "csv"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let rows = text.lines().skip(1).map(str::to_string).collect();
    (
        rows,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tar_archives_are_read_member_by_member_like_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    // As AlphaFold DB ships them: gzipped members; one stored plain, one
    // malformed, one that is no structure (skipped).
    let ubi = fs::read(crystal("1UBI.pdb.gz")).unwrap();
    let ake = gunzip(&fs::read(crystal("1AKE.cif.gz")).unwrap());
    let hel = fs::read(crystal("1HEL.pdb.gz")).unwrap();
    let members = [
        ("af/1UBI.pdb.gz", ubi.clone()),
        ("af/README.txt", b"not a structure".to_vec()),
        ("af/broken.pdb", MALFORMED.as_bytes().to_vec()),
        ("af/1AKE.cif", ake.clone()),
        ("af/sub/1HEL.pdb.gz", hel.clone()),
    ];
    let tar = tar_of(&members);
    let plain = dir.path().join("proteome.tar");
    fs::write(&plain, &tar).unwrap();
    let gzipped = dir.path().join("proteome.tar.gz");
    fs::write(&gzipped, gzip(&tar)).unwrap();
    // The same structures as files, in the archive's order.
    let files = dir.path().join("files");
    fs::create_dir(&files).unwrap();
    let mut paths = Vec::new();
    for (name, bytes) in [
        ("1UBI.pdb.gz", &ubi),
        ("1AKE.cif", &ake),
        ("1HEL.pdb.gz", &hel),
    ] {
        let p = files.join(name);
        fs::write(&p, bytes).unwrap();
        paths.push(p);
    }
    let path_args: Vec<&std::ffi::OsStr> = paths.iter().map(|p| p.as_os_str()).collect();
    let (expected, code, _) = predict_rows(&path_args);
    assert_eq!(code, Some(0));
    assert!(expected.len() > 76 + 428, "{} rows", expected.len());

    for archive in [&plain, &gzipped] {
        let a = archive.display().to_string();
        let (rows, code, stderr) = predict_rows(&[archive.as_os_str()]);
        // The malformed member fails alone, named archive:member.
        assert_eq!(code, Some(1), "{stderr}");
        assert_eq!(stderr.matches("error:").count(), 1, "one failure: {stderr}");
        assert!(stderr.contains(&format!("{a}:af/broken.pdb")), "{stderr}");
        assert!(!stderr.contains("README"), "{stderr}");
        // The other rows are the files', with the member's name.
        let renamed: Vec<String> = rows
            .iter()
            .map(|r| {
                r.replace(&format!("{a}:af/sub/"), &format!("{}/", files.display()))
                    .replace(&format!("{a}:af/"), &format!("{}/", files.display()))
            })
            .collect();
        assert_eq!(renamed, expected, "{a}");
        assert!(rows[0].starts_with(&format!("{a}:af/1UBI.pdb.gz,")));
        // Two shards of the archive add up to the whole, row for row; the
        // malformed member (2nd of 4 structure members) is in shard 1.
        let (first, code1, _) =
            predict_rows(&[archive.as_os_str(), "--shard".as_ref(), "1/2".as_ref()]);
        let (second, code2, _) =
            predict_rows(&[archive.as_os_str(), "--shard".as_ref(), "2/2".as_ref()]);
        assert_eq!((code1, code2), (Some(1), Some(0)));
        assert_eq!([first, second].concat(), rows);
    }

    // -o DIR/ writes each member under its own file name.
    let out = dir.path().join("out");
    bfactor()
        .arg("predict")
        .arg(&plain)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    for name in ["1UBI.pdb.gz", "1AKE.cif", "1HEL.pdb.gz"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    assert!(!out.join("broken.pdb").exists());
}

#[test]
fn archive_problems_are_reported_and_the_rest_completes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.pdb.gz");
    fs::copy(crystal("1UBI.pdb.gz"), &good).unwrap();
    // Not a tar archive at all.
    let text = dir.path().join("text.tar");
    fs::write(&text, "hello, this is not a tar archive\n".repeat(40)).unwrap();
    // A tar archive without structure members.
    let none = dir.path().join("none.tar");
    fs::write(&none, tar_of(&[("af/notes.txt", b"notes".to_vec())])).unwrap();
    // A member whose header claims more than the 512 MiB limit, cut short:
    // refused on its size, before anything of it is read.
    let mut header = tar::Header::new_gnu();
    header.set_path("huge.cif").unwrap();
    header.set_size(600 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    let huge = dir.path().join("huge.tar");
    fs::write(&huge, header.as_bytes()).unwrap();

    let out = bfactor()
        .args(["compare", "--methods", "wcn", "--csv"])
        .args([&good, &text, &none, &huge])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("text.tar: not a readable tar archive"),
        "{stderr}"
    );
    assert!(
        stderr.contains("none.tar: no structure files in this archive"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "huge.tar:huge.cif: the member is {} bytes, more than the limit of {} bytes",
            600u64 << 20,
            512u64 << 20
        )),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.contains("good.pdb.gz,A,X-ray (1.80 Å),experiment,76,"),
        "{stdout}"
    );
    // plot draws one structure, not an archive.
    bfactor()
        .arg("plot")
        .arg(&none)
        .args(["-o", "x.svg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a tar archive"));
}

fn provenance(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/provenance")
        .join(name)
}

#[test]
fn compare_labels_predicted_models_and_never_calls_plddt_experiment() {
    let v: Value = serde_json::from_str(&stdout_of(
        bfactor()
            .arg("compare")
            .arg(provenance("af_db.pdb"))
            .arg(provenance("boltz.cif"))
            .arg(crystal("1UBQ.pdb.gz"))
            .args(["--json", "--methods", "wcn"]),
    ))
    .unwrap();
    let rows = v["chains"].as_array().unwrap();
    let of = |name: &str| {
        rows.iter()
            .find(|r| r["file"].as_str().unwrap().ends_with(name))
            .unwrap()
    };
    assert_eq!(of("af_db.pdb")["reference"], "pLDDT");
    assert_eq!(of("af_db.pdb")["provenance"], "predicted (AlphaFold DB)");
    assert_eq!(of("boltz.cif")["provenance"], "predicted (Boltz)");
    assert_eq!(of("1UBQ.pdb.gz")["reference"], "experiment");
    assert!(of("1UBQ.pdb.gz")["provenance"]
        .as_str()
        .unwrap()
        .starts_with("X-ray"));
    // The mean against experiment holds the crystal only; pLDDT's is apart.
    assert_eq!(v["mean"]["reference"], "experiment");
    assert_eq!(v["mean"]["chains"], 1);
    let wcn = of("1UBQ.pdb.gz")["inverse_wcn"].as_f64().unwrap();
    assert!((v["mean"]["inverse_wcn"].as_f64().unwrap() - wcn).abs() < 1e-12);
    let other = v["other_means"].as_array().unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0]["reference"], "pLDDT");
    assert_eq!(other[0]["chains"], 2);
    // The r with pLDDT is the library's correlation of 1/WCN with plddt().
    let st = structure::read(provenance("af_db.pdb"), &ca()).unwrap();
    let plddt = st.plddt().unwrap();
    let w = bfactor::structure::features::inverse_wcn(&st).unwrap();
    let ones = Array1::ones(plddt.len());
    let want = loss::pearson_masked(&w, &plddt, &ones).unwrap();
    assert!((of("af_db.pdb")["inverse_wcn"].as_f64().unwrap() - want).abs() < 1e-12);

    // The table says pLDDT on the model's row and in its mean line, and
    // nothing of the kind for a crystal alone.
    let text = stdout_of(
        bfactor()
            .arg("compare")
            .arg(provenance("af_db.pdb"))
            .args(["--methods", "wcn"]),
    );
    assert!(text.lines().nth(1).unwrap().contains("pLDDT"), "{text}");
    assert!(
        text.contains("against pLDDT (confidence, not experiment)"),
        "{text}"
    );
    let text = stdout_of(bfactor().arg("compare").arg(crystal("1UBQ.pdb.gz")));
    assert!(
        !text.contains("pLDDT") && !text.contains("predicted"),
        "{text}"
    );
    // CSV rows say it too.
    let text = stdout_of(
        bfactor()
            .arg("compare")
            .arg(provenance("esmfold.pdb"))
            .args(["--csv", "--methods", "wcn"]),
    );
    assert!(text.lines().nth(1).unwrap().contains(",pLDDT,"), "{text}");
}

#[test]
fn compare_uses_an_nmr_ensembles_spread_and_labels_cryo_em() {
    let text = stdout_of(
        bfactor()
            .arg("compare")
            .arg(provenance("nmr.pdb"))
            .arg(provenance("cryoem.cif"))
            .args(["--csv", "--methods", "wcn"]),
    );
    assert!(text.contains("NMR,NMR ensemble,"), "{text}");
    assert!(text.contains("cryo-EM (3.20 Å),cryo-EM B,"), "{text}");
}

#[test]
fn predict_predicts_models_and_labels_their_plddt() {
    let text = stdout_of(bfactor().arg("predict").arg(provenance("af_db.pdb")));
    assert!(
        text.contains("predicted (AlphaFold DB): its B column holds pLDDT"),
        "{text}"
    );
    assert!(
        text.contains("pLDDT mean") && !text.contains("exp mean"),
        "{text}"
    );
    let csv = stdout_of(
        bfactor()
            .arg("predict")
            .arg(provenance("af_db.pdb"))
            .args(["--table", "csv"]),
    );
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let st = structure::read(provenance("af_db.pdb"), &ca()).unwrap();
    let plddt = st.plddt().unwrap();
    let pred = Predictor::pretrained().unwrap().predict(&st).unwrap();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[col("experimental_b")], "", "no experiment");
        assert_eq!(f[col("plddt")].parse::<f64>().unwrap(), plddt[i]);
        let p = f[col("prediction")].parse::<f64>().unwrap();
        assert!((p - pred[i]).abs() < 1e-9 * pred[i].abs().max(1.0));
    }
    let text = stdout_of(bfactor().arg("predict").arg(provenance("cryoem.cif")));
    assert!(text.contains("trained on X-ray structures"), "{text}");
}

#[test]
fn train_leaves_predicted_models_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = bfactor()
        .arg("train")
        .arg(provenance("af_db.pdb"))
        .arg(provenance("af3.cif"))
        .arg("-o")
        .arg(dir.path().join("w.safetensors"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("af_db.pdb: left out"), "{stderr}");
    assert!(
        stderr.contains("every structure read is a predicted model"),
        "{stderr}"
    );
    assert!(!dir.path().join("w.safetensors").exists());
}

#[test]
fn plddt_to_b_writes_a_search_model() {
    let dir = tempfile::tempdir().unwrap();
    for (input, name) in [("af_db.pdb", "out.pdb"), ("af_db.cif", "out.cif.gz")] {
        let dest = dir.path().join(name);
        bfactor()
            .arg("plddt-to-b")
            .arg(provenance(input))
            .arg("-o")
            .arg(&dest)
            .assert()
            .success();
        let st = structure::read(provenance(input), &ca()).unwrap();
        let text = structure::plddt_to_bfactor_text(&st, &structure::PlddtToB::new()).unwrap();
        let written = fs::read(&dest).unwrap();
        let written = if name.ends_with(".gz") {
            gunzip(&written)
        } else {
            written
        };
        assert_eq!(String::from_utf8(written).unwrap(), text, "{input}");
    }
    // --keep-all into PDB: pLDDT 30 does not fit; a failure, status 1.
    let out = bfactor()
        .arg("plddt-to-b")
        .arg(provenance("af_db.pdb"))
        .arg("-o")
        .arg(dir.path().join("all.pdb"))
        .arg("--keep-all")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("write mmCIF"));
    // Another format than the input's: a usage error. A crystal: no pLDDT.
    bfactor()
        .arg("plddt-to-b")
        .arg(provenance("af_db.pdb"))
        .arg("-o")
        .arg(dir.path().join("x.cif"))
        .assert()
        .code(2);
    let out = bfactor()
        .arg("plddt-to-b")
        .arg(crystal("1UBQ.pdb.gz"))
        .arg("-o")
        .arg(dir.path().join("x.pdb"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--assume-plddt"));
}
