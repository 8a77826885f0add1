//! `--table parquet -o OUT.parquet`: the tables read back with the `parquet`
//! crate's reader and checked against the CSV/JSON output of the same run,
//! shards against the unsharded run, failed files as rows, and existing
//! outputs kept unless `--force`.

use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::{
    Array, Float64Array, Int64Array, ListArray, StringArray, StructArray, UInt64Array,
};
use assert_cmd::Command;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn bfactor() -> Command {
    Command::cargo_bin("bfactor").expect("the bfactor binary is built")
}

/// A PDB file whose second atom record is cut short: not a structure.
const MALFORMED: &str = "\
ATOM      1  N   MET A   1      27.340  24.430   2.614  1.00  9.67           N
ATOM      2  CA  MET A   1      26.266  25.413
END
";

/// The first `n` files of data/set364, in name order.
fn set364(n: usize) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/set364");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pdb.gz"))
        .collect();
    files.sort();
    files.truncate(n);
    assert_eq!(files.len(), n);
    files
}

/// One row of the token table.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    file: String,
    chain: String,
    residue_number: i64,
    insertion_code: String,
    residue_name: String,
    atom: String,
    experimental_b: Option<f64>,
    plddt: Option<f64>,
    method: String,
    prediction: Option<f64>,
}

/// One row of the file table; `chains` as (chain, method, tokens, pearson).
#[derive(Debug, Clone, PartialEq)]
struct FileRow {
    file: String,
    status: String,
    error: Option<String>,
    tokens: Option<u64>,
    chains: Vec<(String, String, u64, Option<f64>)>,
}

fn batches(path: &Path) -> Vec<arrow_array::RecordBatch> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn col<'a, T: 'static>(b: &'a arrow_array::RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| {
            panic!(
                "column {name} has type {:?}",
                b.schema().field_with_name(name).unwrap().data_type()
            )
        })
}

fn text(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_string())
}

fn float(a: &Float64Array, i: usize) -> Option<f64> {
    a.is_valid(i).then(|| a.value(i))
}

fn token_table(path: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for b in batches(path) {
        let s = |n| col::<StringArray>(&b, n);
        let (exp, plddt, pred) = (
            col::<Float64Array>(&b, "experimental_b"),
            col::<Float64Array>(&b, "plddt"),
            col::<Float64Array>(&b, "prediction"),
        );
        let resnum = col::<Int64Array>(&b, "residue_number");
        for i in 0..b.num_rows() {
            rows.push(Row {
                file: s("file").value(i).into(),
                chain: s("chain").value(i).into(),
                residue_number: resnum.value(i),
                insertion_code: s("insertion_code").value(i).into(),
                residue_name: s("residue_name").value(i).into(),
                atom: s("atom").value(i).into(),
                experimental_b: float(exp, i),
                plddt: float(plddt, i),
                method: s("method").value(i).into(),
                prediction: float(pred, i),
            });
        }
    }
    rows
}

fn file_table(path: &Path) -> Vec<FileRow> {
    let mut rows = Vec::new();
    for b in batches(path) {
        let chains = col::<ListArray>(&b, "chains");
        let tokens = col::<UInt64Array>(&b, "tokens");
        for i in 0..b.num_rows() {
            let list = chains.value(i);
            let st = list.as_any().downcast_ref::<StructArray>().unwrap();
            let field = |n: &str| st.column_by_name(n).unwrap().clone();
            let (c, m, t, p) = (
                field("chain"),
                field("method"),
                field("tokens"),
                field("pearson"),
            );
            let c = c.as_any().downcast_ref::<StringArray>().unwrap();
            let m = m.as_any().downcast_ref::<StringArray>().unwrap();
            let t = t.as_any().downcast_ref::<UInt64Array>().unwrap();
            let p = p.as_any().downcast_ref::<Float64Array>().unwrap();
            rows.push(FileRow {
                file: col::<StringArray>(&b, "file").value(i).into(),
                status: col::<StringArray>(&b, "status").value(i).into(),
                error: text(col::<StringArray>(&b, "error"), i),
                tokens: tokens.is_valid(i).then(|| tokens.value(i)),
                chains: (0..st.len())
                    .map(|j| {
                        (
                            c.value(j).into(),
                            m.value(j).into(),
                            t.value(j),
                            float(p, j),
                        )
                    })
                    .collect(),
            });
        }
    }
    rows
}

/// `predict --table csv` rows as token rows of `method`.
fn csv_rows(stdout: &[u8], method: &str) -> Vec<Row> {
    let mut r = csv::Reader::from_reader(stdout);
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "file",
            "chain",
            "residue_number",
            "insertion_code",
            "residue_name",
            "atom_name",
            "experimental_b",
            "plddt",
            "prediction"
        ]
    );
    let num = |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().unwrap());
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Row {
                file: rec[0].into(),
                chain: rec[1].into(),
                residue_number: rec[2].parse().unwrap(),
                insertion_code: rec[3].into(),
                residue_name: rec[4].into(),
                atom: rec[5].into(),
                experimental_b: num(&rec[6]),
                plddt: num(&rec[7]),
                method: method.into(),
                prediction: num(&rec[8]),
            }
        })
        .collect()
}

#[test]
fn predict_parquet_holds_the_csv_values_and_a_row_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pdb");
    fs::write(&bad, MALFORMED).unwrap();
    let mut inputs = set364(3);
    inputs.insert(1, bad.clone());
    let out = dir.path().join("t.parquet");
    let csv_run = bfactor()
        .args(["predict", "--table", "csv"])
        .args(&inputs)
        .output()
        .unwrap();
    assert_eq!(csv_run.status.code(), Some(1));
    let run = bfactor()
        .args(["predict", "--table", "parquet", "-o"])
        .arg(&out)
        .args(&inputs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(1),
        "the malformed file fails: {stderr}"
    );
    assert!(stderr.contains("bad.pdb"), "{stderr}");
    let rows = token_table(&out);
    assert_eq!(rows, csv_rows(&csv_run.stdout, "predictor"));
    assert!(rows.len() > 3 * 50, "{} rows", rows.len());

    let files = file_table(&dir.path().join("t.files.parquet"));
    assert_eq!(files.len(), 4, "every input is a row, the failed one too");
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(
        files.iter().map(|f| f.file.clone()).collect::<Vec<_>>(),
        names
    );
    let failed = &files[1];
    assert_eq!(failed.status, "error");
    assert!(
        failed.error.as_deref().unwrap().contains("truncated"),
        "{failed:?}"
    );
    assert_eq!((failed.tokens, failed.chains.len()), (None, 0));
    for f in [&files[0], &files[2], &files[3]] {
        assert_eq!((f.status.as_str(), f.error.as_ref()), ("ok", None));
        let n = rows.iter().filter(|r| r.file == f.file).count() as u64;
        assert_eq!(f.tokens, Some(n), "{}", f.file);
        assert!(!f.chains.is_empty());
    }

    // The per-chain Pearson r against `compare --csv` of the same files.
    let compare = bfactor()
        .args(["compare", "--csv", "--methods", "predictor"])
        .args(&inputs)
        .output()
        .unwrap();
    let mut r = csv::Reader::from_reader(compare.stdout.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut checked = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let f = files.iter().find(|f| f.file == rec[0]).unwrap();
        let c = f.chains.iter().find(|c| c.0 == rec[1]).unwrap();
        assert_eq!(c.1, "predictor");
        assert_eq!(&rec[at("reference")], "experiment");
        assert_eq!(
            c.2,
            rec[at("tokens")].parse::<u64>().unwrap(),
            "tokens with experiment"
        );
        assert_eq!(c.3, Some(rec[at("predictor")].parse::<f64>().unwrap()));
        checked += 1;
    }
    assert!(checked >= 3);
}

#[test]
fn gnm_and_compare_parquet_match_their_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = set364(2);
    let json = bfactor()
        .args(["gnm", "--table", "json"])
        .args(&inputs)
        .output()
        .unwrap();
    assert!(json.status.success());
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let out = dir.path().join("gnm.parquet");
    bfactor()
        .args(["gnm", "-q", "--table", "parquet", "-o"])
        .arg(&out)
        .args(&inputs)
        .assert()
        .success();
    let rows = token_table(&out);
    let expected = json.as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    for (r, e) in rows.iter().zip(expected) {
        assert_eq!(r.method, "gnm");
        assert_eq!(r.file, e["file"].as_str().unwrap());
        assert_eq!(r.residue_number, e["residue_number"].as_i64().unwrap());
        assert_eq!(r.atom, e["atom_name"].as_str().unwrap());
        // serde_json's default parser may round the last bit differently
        // from the shortest representation it was printed as: 2 ulps.
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= 2.0 * f64::EPSILON * a.abs(),
            (a, b) => a.is_none() && b.is_none(),
        };
        assert!(
            close(r.experimental_b, e["experimental_b"].as_f64()),
            "{r:?} {e}"
        );
        assert!(close(r.prediction, e["prediction"].as_f64()), "{r:?} {e}");
    }

    // compare: every method's values; the predictor's are predict's.
    let out = dir.path().join("cmp.parquet");
    bfactor()
        .args(["compare", "-q", "--table", "parquet", "-o"])
        .arg(&out)
        .args(&inputs)
        .assert()
        .success();
    let rows = token_table(&out);
    let predict = bfactor()
        .args(["predict", "--table", "csv"])
        .args(&inputs)
        .output()
        .unwrap();
    let predicted = csv_rows(&predict.stdout, "predictor");
    let of = |m: &str| {
        rows.iter()
            .filter(|r| r.method == m)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(of("predictor"), predicted);
    assert_eq!(of("gnm").len(), predicted.len());
    assert_eq!(of("inverse_wcn").len(), predicted.len());
    let files = file_table(&dir.path().join("cmp.files.parquet"));
    let csv = bfactor()
        .args(["compare", "--csv"])
        .args(&inputs)
        .output()
        .unwrap();
    let mut r = csv::Reader::from_reader(csv.stdout.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    for rec in r.records() {
        let rec = rec.unwrap();
        let f = files.iter().find(|f| f.file == rec[0]).unwrap();
        // The method columns follow `tokens`.
        let first = header.iter().position(|h| h == "tokens").unwrap() + 1;
        for (k, method) in header.iter().enumerate().skip(first) {
            let Some(c) = f.chains.iter().find(|c| c.0 == rec[1] && &c.1 == method) else {
                // A method not asked for (atom_wcn here): an empty column.
                assert!(rec[k].is_empty(), "{method} was not asked for");
                continue;
            };
            assert_eq!(
                c.3,
                (!rec[k].is_empty()).then(|| rec[k].parse::<f64>().unwrap()),
                "{method}"
            );
        }
    }
}

#[test]
fn shards_parquet_union_is_the_unsharded_table_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    let files = set364(5);
    fs::write(
        &list,
        files
            .iter()
            .map(|p| format!("{}\n", p.display()))
            .collect::<String>(),
    )
    .unwrap();
    let run = |out: &Path, shard: Option<&str>| {
        let mut cmd = bfactor();
        cmd.args(["predict", "-q", "--table", "parquet", "--files-from"])
            .arg(&list)
            .arg("-o")
            .arg(out);
        if let Some(s) = shard {
            cmd.args(["--shard", s]);
        }
        cmd.assert().success();
    };
    let whole = dir.path().join("whole.parquet");
    run(&whole, None);
    let (mut tokens, mut files) = (Vec::new(), Vec::new());
    for k in 1..=3 {
        let out = dir.path().join(format!("shard-{k}.parquet"));
        run(&out, Some(&format!("{k}/3")));
        tokens.extend(token_table(&out));
        files.extend(file_table(
            &dir.path().join(format!("shard-{k}.files.parquet")),
        ));
    }
    assert_eq!(tokens, token_table(&whole));
    assert_eq!(files, file_table(&dir.path().join("whole.files.parquet")));
    assert_eq!(files.len(), 5);
}

#[test]
fn an_existing_table_is_kept_unless_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = &set364(1)[0];
    let out = dir.path().join("t.parquet");
    fs::write(&out, "not parquet").unwrap();
    let kept = bfactor()
        .args(["predict", "--table", "parquet", "-o"])
        .arg(&out)
        .arg(input)
        .output()
        .unwrap();
    assert_eq!(
        kept.status.code(),
        Some(0),
        "a finished shard's rerun does nothing"
    );
    assert!(String::from_utf8_lossy(&kept.stderr).contains("kept"));
    assert_eq!(fs::read(&out).unwrap(), b"not parquet");
    assert!(!dir.path().join("t.files.parquet").exists(), "nothing done");
    bfactor()
        .args(["predict", "-q", "--force", "--table", "parquet", "-o"])
        .arg(&out)
        .arg(input)
        .assert()
        .success();
    assert_eq!(
        token_table(&out).len(),
        file_table(&dir.path().join("t.files.parquet"))[0]
            .tokens
            .unwrap() as usize
    );
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".bfactor-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn parquet_needs_a_parquet_output_name() {
    let input = &set364(1)[0];
    for args in [
        vec!["predict", "--table", "parquet"],
        vec!["gnm", "--table", "parquet", "-o", "x.csv"],
        vec!["compare", "--table", "parquet"],
    ] {
        let out = bfactor().args(&args).arg(input).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn predicted_models_carry_their_plddt_and_provenance_not_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.parquet");
    let prov = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/provenance");
    let crystal = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/crystal/1UBQ.pdb.gz");
    bfactor()
        .arg("predict")
        .arg(prov.join("af_db.cif"))
        .arg(&crystal)
        .args(["--table", "parquet", "-o"])
        .arg(&out)
        .assert()
        .success();
    let options =
        bfactor::structure::ReadOptions::new().with_tokens(bfactor::structure::TokenMode::CaOnly);
    let model = bfactor::structure::read(prov.join("af_db.cif"), &options).unwrap();
    let plddt = model.plddt().unwrap();
    let rows = token_table(&out);
    let of_model: Vec<&Row> = rows
        .iter()
        .filter(|r| r.file.ends_with("af_db.cif"))
        .collect();
    assert_eq!(of_model.len(), plddt.len());
    for (r, p) in of_model.iter().zip(plddt.iter()) {
        assert_eq!(r.plddt, Some(*p));
        assert_eq!(r.experimental_b, None, "pLDDT is not experiment");
    }
    assert!(rows
        .iter()
        .filter(|r| r.file.ends_with("1UBQ.pdb.gz"))
        .all(|r| r.plddt.is_none() && r.experimental_b.is_some()));
    // Provenance per token and per file; no Pearson against experiment for the model.
    let b = &batches(&out)[0];
    let prov_col = col::<StringArray>(b, "provenance");
    assert_eq!(prov_col.value(0), "predicted (AlphaFold DB)");
    assert!(prov_col.value(b.num_rows() - 1).starts_with("X-ray"));
    let files = file_table(&dir.path().join("t.files.parquet"));
    let fb = &batches(&dir.path().join("t.files.parquet"))[0];
    let fprov = col::<StringArray>(fb, "provenance");
    assert_eq!(fprov.value(0), "predicted (AlphaFold DB)");
    assert!(files[0].chains.iter().all(|c| c.3.is_none() && c.2 == 0));
    assert!(files[1].chains.iter().all(|c| c.3.is_some()));
}
