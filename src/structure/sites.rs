//! The atom records of a PDB or mmCIF text, scanned in place (crate-private).
//!
//! pdbtbx parses the structure; this scanner only locates each atom record's
//! identity and the byte span of its B-factor field, so that writing can replace
//! B-factors and keep every other byte of the file. It also checks atom records
//! for the damage that makes pdbtbx 0.12 panic instead of returning an error
//! (truncated lines, non-ASCII bytes, missing names or coordinates), so that
//! reading can report the offending line.
//!
//! Identities follow pdbtbx's conventions exactly, so that they match the tokens
//! built from its model: PDB chains that are blank get the letters `A`, `B`, …
//! (the next one after each `TER`), residue numbers that wrap from 9999 to 0 go on
//! at 10000; mmCIF uses `auth_asym_id` (else `label_asym_id`), `auth_seq_id` (else
//! `label_seq_id`), `pdbx_PDB_ins_code` and `label_atom_id`. Names are upper-cased.

use std::collections::HashMap;
use std::ops::Range;

use super::cif::{self, excerpt, Tok};
use super::FileFormat;

/// One atom record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Site {
    /// 0-based position of the record's model among the file's models.
    pub model: usize,
    pub chain: String,
    pub res_seq: isize,
    pub icode: Option<String>,
    /// The atom's name, upper-case.
    pub atom: String,
    /// The alternate-location label, if any.
    pub alt: Option<String>,
    /// The occupancy as written (`None` if the field is blank or absent).
    pub occupancy: Option<f64>,
    /// Byte span of the B-factor field to replace (`None`: the mmCIF loop has no
    /// `B_iso_or_equiv` column).
    pub b_field: Option<Range<usize>>,
    /// Spaces to insert before the new value: a PDB line that ends before
    /// column 61 is padded to it.
    pub b_pad: usize,
    /// 1-based line of the record.
    pub line: usize,
}

/// The atom records of `text`, or a message naming the line (or loop row) that is
/// damaged.
pub(crate) fn scan(text: &str, format: FileFormat) -> Result<Vec<Site>, String> {
    match format {
        FileFormat::Pdb => scan_pdb(text),
        FileFormat::Mmcif => scan_mmcif(text),
    }
}

/// The first-model occupancy of each atom, keyed by (chain, residue number,
/// insertion code, atom name, alternate location).
pub(crate) type OccupancyIndex =
    HashMap<(String, isize, Option<String>, String, Option<String>), f64>;

/// Builds an [`OccupancyIndex`] from the first model's records.
pub(crate) fn occupancy_index(sites: &[Site]) -> OccupancyIndex {
    sites
        .iter()
        .filter(|s| s.model == 0)
        .filter_map(|s| {
            s.occupancy.map(|o| {
                let key = (
                    s.chain.clone(),
                    s.res_seq,
                    s.icode.clone(),
                    s.atom.clone(),
                    s.alt.clone(),
                );
                (key, o)
            })
        })
        .collect()
}

/// PDB's fixed columns (0-based byte ranges).
fn field(line: &str, r: Range<usize>) -> &str {
    line.get(r.start.min(line.len())..r.end.min(line.len()))
        .unwrap_or("")
        .trim()
}

fn scan_pdb(text: &str) -> Result<Vec<Site>, String> {
    let mut sites = Vec::new();
    let mut offset = 0;
    let mut model = 0;
    let mut model_has_atoms = false;
    // pdbtbx names blank chains 'A', 'B', ... advancing at each TER.
    let mut blank_chain = 0u8;
    let (mut last_res, mut res_add) = (0isize, 0isize);
    for (idx, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = idx + 1;
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let len = line.len();
        if len > 6 && !line.is_char_boundary(6) {
            return Err(format!(
                "line {line_no}: non-ASCII character in the record name: `{}`",
                excerpt(line)
            ));
        }
        let record = if len > 6 { &line[..6] } else { line };
        let is_ter = if len > 6 {
            record == "TER   "
        } else {
            len > 2 && line.starts_with("TER")
        };
        if is_ter {
            blank_chain = (blank_chain + 1) % 26;
            continue;
        }
        if len > 6 && record == "MODEL " {
            if model_has_atoms {
                model += 1;
                model_has_atoms = false;
            }
            // Each model names its blank chains afresh, so that they match the
            // first model's.
            blank_chain = 0;
            continue;
        }
        let hetero = match (len > 6, record) {
            (true, "ATOM  ") => false,
            (true, "HETATM") => true,
            _ => continue,
        };
        let kind = if hetero { "HETATM" } else { "ATOM" };
        let bad = |what: &str| {
            Err(format!(
                "line {line_no}: {kind} record {what}: `{}`",
                excerpt(line)
            ))
        };
        if !line.is_ascii() {
            return bad("holds a non-ASCII character");
        }
        if len < 54 {
            return bad(&format!(
                "is truncated ({len} characters, the coordinates need 54)"
            ));
        }
        let atom = field(line, 12..16).to_ascii_uppercase();
        if atom.is_empty() {
            return bad("has no atom name (columns 13-16)");
        }
        if field(line, 17..20).is_empty() {
            return bad("has no residue name (columns 18-20)");
        }
        for (name, r) in [("x", 30..38), ("y", 38..46), ("z", 46..54)] {
            if !field(line, r).parse::<f64>().is_ok_and(f64::is_finite) {
                return bad(&format!("has no valid {name} coordinate"));
            }
        }
        let number = |name: &str, r: Range<usize>| -> Result<Option<f64>, String> {
            let f = field(line, r);
            if f.is_empty() {
                return Ok(None);
            }
            match f.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(format!(
                    "line {line_no}: {kind} record has an invalid {name} `{f}`: `{}`",
                    excerpt(line)
                )),
            }
        };
        let occupancy = number("occupancy", 54..60)?;
        number("B-factor", 60..66)?;
        let Ok(raw_res) = field(line, 22..26).parse::<isize>() else {
            return bad("has no valid residue number (columns 23-26)");
        };
        if raw_res == 0 && last_res == 9999 {
            res_add += 10000;
        }
        last_res = raw_res;
        let chain = match field(line, 21..22) {
            "" => char::from(b'A' + blank_chain).to_string(),
            c => c.to_string(),
        };
        let icode = Some(field(line, 26..27)).filter(|s| !s.is_empty());
        let alt = Some(field(line, 16..17)).filter(|s| !s.is_empty());
        let (b_field, b_pad) = if len >= 60 {
            (start + 60..start + len.min(66), 0)
        } else {
            (start + len..start + len, 60 - len)
        };
        sites.push(Site {
            model,
            chain,
            res_seq: raw_res + res_add,
            icode: icode.map(str::to_string),
            atom,
            alt: alt.map(str::to_string),
            occupancy,
            b_field: Some(b_field),
            b_pad,
            line: line_no,
        });
        model_has_atoms = true;
    }
    Ok(sites)
}

/// pdbtbx reads a bare numeric CIF value as a number and prints it back with
/// `{}` (so a chain named `01` becomes `1`); text identifiers follow suit here.
fn cif_text(tok: &Tok, text: &str) -> Option<String> {
    let v = tok.value(text)?;
    if tok.kind == cif::TokKind::Bare
        && v.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.'))
    {
        if let Ok(n) = v.parse::<f64>() {
            return Some(format!("{n}"));
        }
    }
    Some(v.trim().to_string())
}

fn scan_mmcif(text: &str) -> Result<Vec<Site>, String> {
    let toks = cif::tokenize(text)?;
    let Some((tags, values, loop_line)) = cif::find_loop(text, &toks, "_atom_site.") else {
        // No atom loop: no atoms to write into (reading reports the empty file).
        return Ok(Vec::new());
    };
    let ncol = tags.len();
    if values.len() % ncol != 0 {
        let last = values.last().map_or(loop_line, |t| t.line);
        return Err(format!(
            "the _atom_site loop (line {loop_line}) holds {} values, not a multiple of its {ncol} \
             columns; its last row (line {last}) is incomplete: the file is truncated or corrupt",
            values.len()
        ));
    }
    let col = |name: &str| tags.iter().position(|t| t == &format!("_atom_site.{name}"));
    let required = [
        "type_symbol",
        "label_atom_id",
        "id",
        "label_comp_id",
        "cartn_x",
        "cartn_y",
        "cartn_z",
    ];
    let required: Vec<(&str, Option<usize>)> = required.iter().map(|&n| (n, col(n))).collect();
    let [auth_asym, label_asym, auth_seq, label_seq, icode_c, atom_c, alt_c, occ_c, b_c, model_c] =
        [
            "auth_asym_id",
            "label_asym_id",
            "auth_seq_id",
            "label_seq_id",
            "pdbx_pdb_ins_code",
            "label_atom_id",
            "label_alt_id",
            "occupancy",
            "b_iso_or_equiv",
            "pdbx_pdb_model_num",
        ]
        .map(col);
    let mut sites = Vec::with_capacity(values.len() / ncol);
    let mut model_numbers: Vec<String> = Vec::new();
    for (r, row) in values.chunks(ncol).enumerate() {
        let line = row[0].line;
        let get = |c: Option<usize>| c.and_then(|c| cif_text(&row[c], text));
        for &(name, c) in &required {
            if let Some(c) = c {
                if row[c].value(text).is_none() {
                    return Err(format!(
                        "_atom_site row {} (line {line}): _atom_site.{name} is missing ('{}')",
                        r + 1,
                        &text[row[c].span.clone()]
                    ));
                }
            }
        }
        let model_id = get(model_c).unwrap_or_else(|| "1".to_string());
        let model = match model_numbers.iter().position(|m| *m == model_id) {
            Some(m) => m,
            None => {
                model_numbers.push(model_id);
                model_numbers.len() - 1
            }
        };
        let Some(chain) = get(auth_asym).or_else(|| get(label_asym)) else {
            return Err(format!(
                "_atom_site row {} (line {line}): no chain (auth_asym_id or label_asym_id)",
                r + 1
            ));
        };
        let seq = |c: Option<usize>| {
            c.and_then(|c| row[c].value(text))
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.fract() == 0.0 && v.abs() < 1e15)
                .map(|v| v as isize)
        };
        let Some(res_seq) = seq(auth_seq).or_else(|| seq(label_seq)) else {
            // pdbtbx numbers such residues by a running count; their atoms keep
            // their B-factors when writing.
            continue;
        };
        let occupancy = occ_c
            .and_then(|c| row[c].value(text))
            .and_then(|v| v.parse::<f64>().ok());
        sites.push(Site {
            model,
            chain,
            res_seq,
            icode: get(icode_c),
            atom: get(atom_c).unwrap_or_default().to_ascii_uppercase(),
            alt: get(alt_c),
            occupancy,
            b_field: b_c.map(|c| row[c].span.clone()),
            b_pad: 0,
            line,
        });
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDB: &str = "\
HEADER    TEST
ATOM      1  N   MET A   1      27.343  24.294   2.683  1.00 14.70           N
ATOM      2  CA AMET A   1      26.381  25.361   2.894  0.60  9.58
ATOM      3  CB  MET     2A     25.112  24.879   3.647
TER
HETATM    4  O   HOH     3      25.112  24.879   3.647  1.00 20.00           O
";

    #[test]
    fn pdb_identities_and_b_spans() {
        let sites = scan(PDB, FileFormat::Pdb).unwrap();
        assert_eq!(sites.len(), 4);
        assert_eq!(sites[0].chain, "A");
        assert_eq!(&PDB[sites[0].b_field.clone().unwrap()], " 14.70");
        assert_eq!(sites[1].alt.as_deref(), Some("A"));
        assert_eq!(sites[1].occupancy, Some(0.6));
        assert_eq!(&PDB[sites[1].b_field.clone().unwrap()], "  9.58");
        // A blank chain is 'A' before the TER, 'B' after it.
        assert_eq!(sites[2].chain, "A");
        assert_eq!(sites[2].icode.as_deref(), Some("A"));
        assert_eq!(sites[2].occupancy, None);
        assert_eq!(
            (sites[2].b_field.clone().unwrap().len(), sites[2].b_pad),
            (0, 6)
        );
        assert_eq!(sites[3].chain, "B");
        assert_eq!(sites[3].line, 6);
    }

    #[test]
    fn pdb_damage_is_reported_by_line() {
        let cut = &PDB[..PDB.find("26.381").unwrap()];
        let err = scan(cut, FileFormat::Pdb).unwrap_err();
        assert!(err.starts_with("line 3: ATOM record is truncated"), "{err}");
        let bad = PDB.replace("27.343", "27.3x3");
        assert!(scan(&bad, FileFormat::Pdb)
            .unwrap_err()
            .contains("x coordinate"));
    }

    #[test]
    fn mmcif_rows() {
        let cif = "data_t\nloop_\n_atom_site.group_PDB\n_atom_site.id\n_atom_site.type_symbol\n\
_atom_site.label_atom_id\n_atom_site.label_comp_id\n_atom_site.label_asym_id\n\
_atom_site.label_seq_id\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.Cartn_z\n\
_atom_site.B_iso_or_equiv\n_atom_site.auth_asym_id\n\
ATOM 1 C CA GLY X 1 1.0 2.0 3.0 11.5 01\nATOM 2 C 'C1\"' DA X 2 1.0 2.0 3.0 12.25 01\n";
        let sites = scan(cif, FileFormat::Mmcif).unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].chain, "1");
        assert_eq!(sites[1].atom, "C1\"");
        assert_eq!(&cif[sites[1].b_field.clone().unwrap()], "12.25");
        let cut = &cif[..cif.len() - 10];
        assert!(scan(cut, FileFormat::Mmcif)
            .unwrap_err()
            .contains("truncated"));
    }
}
