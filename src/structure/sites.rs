//! The atom records of a PDB or mmCIF text, parsed here (crate-private).
//!
//! This is the crate's structure parser: it reads every atom record into a
//! [`Site`] (identity, coordinates, occupancy, B-factor, and the byte span of the
//! B-factor field, so that writing can replace B-factors and keep every other
//! byte of the file), plus the unit cell and space group. [`super::read`] builds
//! pdbtbx's model from the sites; pdbtbx's own parsers are not used, so that no
//! input reaches one of their panics.
//!
//! Every field that pdbtbx's model would refuse (or panic on) is checked here:
//! a damaged atom record is an error naming its line (or loop row and column);
//! what can be read with a clear rule is read, with a warning.
//!
//! **PDB.** Fixed columns: `ATOM`/`HETATM` (columns 1-66 are read; 73-80 may hold
//! an element and charge, or, in the legacy format, an entry ID and a serial
//! number, which are ignored), `MODEL`, `TER`, `CRYST1`. Elements come from
//! columns 77-78 when they hold one, else from the atom name (PDB's alignment:
//! a name whose column 13 is blank or a digit has a one-letter element in column
//! 14). A blank occupancy reads as 1.00 and a blank B-factor as 0.00 (masked).
//! Blank chain identifiers are given the first identifiers that no atom record of
//! the file uses (`A`-`Z`, then `a`-`z`, then `0`-`9`, then `AA`, `AB`, ...), one
//! per `TER`-separated segment, each model afresh; residue numbers that wrap from
//! 9999 to 0 go on at 10000.
//!
//! **mmCIF.** The `_atom_site` loop: chain `auth_asym_id` (else `label_asym_id`),
//! residue number `auth_seq_id` (else `label_seq_id`), `pdbx_PDB_ins_code`, atom
//! `label_atom_id` (else `auth_atom_id`), residue `label_comp_id` (else
//! `auth_comp_id`), `label_alt_id`, `Cartn_x/y/z`, `occupancy`,
//! `B_iso_or_equiv`, `type_symbol`, `pdbx_PDB_model_num`; the unit cell from
//! `_cell.length_a` ... `_cell.angle_gamma`, the space group from
//! `_symmetry.space_group_name_H-M` (else `_space_group.name_H-M_alt`). A
//! loop without `B_iso_or_equiv`, or a B value `?` or `.`, reads as B = 0
//! (masked), with a warning. Rows without a residue number (neither
//! `auth_seq_id` nor `label_seq_id`) are numbered after the file's highest
//! number, one residue per run of rows with the same chain and residue name.
//!
//! **Non-physical values.** An occupancy below 0 or above 1, or a B-factor above
//! [`MAX_BFACTOR`] Å², is not data: the atom is kept (its coordinates are used),
//! its B-factor reads as 0 (so its token is masked), its occupancy as 0 if that
//! was the bad value, and [`super::Structure::warnings`] says how many and where.
//! Negative B-factors are kept as written (predictions written as z-scores come
//! back as such); the mask leaves them out anyway.

use std::collections::HashSet;
use std::ops::Range;

use rustc_hash::FxHashMap;

use super::cif::{self, excerpt, Lexeme};
use super::provenance::Evidence;
use super::FileFormat;

/// B-factors above this (Å²) are not physical: they read as 0 (masked), with a
/// warning. The PDB format's column holds at most 999.99.
pub const MAX_BFACTOR: f64 = 1000.0;

/// A record's identifier (chain, atom, residue or element name): held inline
/// up to 22 bytes, as nearly all are, so that reading a file does not allocate
/// four strings per atom.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Name(NameRepr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum NameRepr {
    Inline(u8, [u8; 22]),
    Heap(Box<str>),
}

impl Name {
    /// `s` as it is.
    pub fn new(s: &str) -> Self {
        match <[u8; 22]>::default() {
            mut b if s.len() <= b.len() => {
                b[..s.len()].copy_from_slice(s.as_bytes());
                Name(NameRepr::Inline(s.len() as u8, b))
            }
            _ => Name(NameRepr::Heap(s.into())),
        }
    }

    /// `s` with ASCII letters upper-cased (`str::to_ascii_uppercase`).
    pub fn upper(s: &str) -> Self {
        let mut n = Self::new(s);
        match &mut n.0 {
            NameRepr::Inline(len, b) => b[..*len as usize].make_ascii_uppercase(),
            NameRepr::Heap(h) => h.make_ascii_uppercase(),
        }
        n
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Inline bytes are a copy of a `str` (upper-casing ASCII letters
            // keeps it UTF-8).
            NameRepr::Inline(len, b) => std::str::from_utf8(&b[..*len as usize]).unwrap_or(""),
            NameRepr::Heap(h) => h,
        }
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One atom record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Site {
    /// 0-based position of the record's model among the file's models.
    pub model: usize,
    pub chain: Name,
    pub res_seq: isize,
    pub icode: Option<String>,
    /// The atom's name, upper-case.
    pub atom: Name,
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
    /// Byte span of the whole record: a PDB line with its line end; an mmCIF
    /// row from its first value to its last.
    pub record: Range<usize>,
    /// `HETATM` rather than `ATOM`.
    pub hetero: bool,
    /// The serial number (the row number where the file has none).
    pub serial: usize,
    /// The residue name, upper-case.
    pub res_name: Name,
    /// Coordinates (Å), finite.
    pub xyz: [f64; 3],
    /// The B-factor as read (0 where blank, unknown or non-physical).
    pub b: f64,
    /// The occupancy as read (1 where blank, 0 where non-physical).
    pub occ: f64,
    /// The element symbol, if known.
    pub element: Name,
    /// The formal charge.
    pub charge: isize,
}

/// The atom records of a file, its unit cell and space group, and what was
/// read with a rule rather than as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan {
    pub sites: Vec<Site>,
    /// a, b, c (Å), alpha, beta, gamma (degrees).
    pub cell: Option<[f64; 6]>,
    /// The space group's name and the line it is on.
    pub space_group: Option<(String, usize)>,
    /// The PDB ID (`HEADER` columns 63-66, or mmCIF's `_entry.id`).
    pub id: Option<String>,
    /// What the header says of the file's origin.
    pub evidence: Evidence,
    pub warnings: Vec<String>,
}

/// The atom records of `text`, or a message naming the line (or loop row) that is
/// damaged.
pub(crate) fn scan(text: &str, format: FileFormat) -> Result<Scan, String> {
    match format {
        FileFormat::Pdb => scan_pdb(text),
        FileFormat::Mmcif => scan_mmcif(text),
    }
}

/// The first-model occupancy of each atom, keyed by (chain, residue number,
/// insertion code, atom name, alternate location); the last record of a key
/// gives its value.
pub(crate) type OccupancyIndex<'a> =
    FxHashMap<(&'a str, isize, Option<&'a str>, &'a str, Option<&'a str>), f64>;

/// Builds an [`OccupancyIndex`] from the first model's records.
pub(crate) fn occupancy_index(sites: &[Site]) -> OccupancyIndex<'_> {
    let mut index = OccupancyIndex::with_capacity_and_hasher(sites.len(), Default::default());
    for s in sites.iter().filter(|s| s.model == 0) {
        let key = (
            s.chain.as_str(),
            s.res_seq,
            s.icode.as_deref(),
            s.atom.as_str(),
            s.alt.as_deref(),
        );
        index.insert(key, s.occ);
    }
    index
}

/// Whether every character is one pdbtbx accepts in an identifier (printable
/// ASCII or space).
pub(crate) fn printable(s: &str) -> bool {
    s.bytes().all(|b| (32..127).contains(&b))
}

/// Counts of values read by a rule, with the first place, for one warning each.
#[derive(Default)]
pub(crate) struct Notes {
    entries: Vec<(String, usize, String)>,
}

impl Notes {
    pub(crate) fn add(&mut self, what: &str, place: impl FnOnce() -> String) {
        match self.entries.iter_mut().find(|(w, _, _)| w == what) {
            Some(e) => e.1 += 1,
            None => self.entries.push((what.to_string(), 1, place())),
        }
    }

    pub(crate) fn into_warnings(self) -> Vec<String> {
        self.entries
            .into_iter()
            .map(|(what, n, first)| {
                let s = if n == 1 { "" } else { "s" };
                format!("{n} atom record{s} {what} (first at {first})")
            })
            .collect()
    }
}

/// Checks an occupancy and a B-factor, noting non-physical ones; returns the
/// values to use (occupancy, B).
pub(crate) fn physical(
    occ: f64,
    b: f64,
    notes: &mut Notes,
    place: &dyn Fn() -> String,
) -> (f64, f64) {
    let mut out = (occ, b);
    if !(0.0..=1.0).contains(&occ) {
        notes.add(
            "have a non-physical occupancy (below 0 or above 1): read as occupancy 0 and B-factor 0, masked",
            place,
        );
        out = (0.0, 0.0);
    }
    if b > MAX_BFACTOR {
        notes.add(
            &format!("have a non-physical B-factor (above {MAX_BFACTOR} Å²): read as 0, masked"),
            place,
        );
        out.1 = 0.0;
    }
    out
}

/// PDB's fixed columns (0-based byte ranges).
fn field(line: &str, r: Range<usize>) -> &str {
    trim(
        line.get(r.start.min(line.len())..r.end.min(line.len()))
            .unwrap_or(""),
    )
}

/// Whether pdbtbx knows the element symbol `sym` (one or two ASCII letters),
/// remembered in `known` for the next records.
fn known_element(known: &mut Vec<([u8; 2], bool)>, sym: &str) -> bool {
    let b = sym.as_bytes();
    let key = [b[0], b.get(1).copied().unwrap_or(0)];
    if let Some(&(_, ok)) = known.iter().find(|(k, _)| *k == key) {
        return ok;
    }
    let ok = pdbtbx::Element::from_symbol(sym).is_some();
    known.push((key, ok));
    ok
}

/// The identifiers given to blank chains, in order.
fn blank_chain_name(k: usize) -> String {
    const ONE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if k < ONE.len() {
        return char::from(ONE[k]).to_string();
    }
    let k = k - ONE.len();
    let mut s = String::new();
    let (mut hi, lo) = (k / 26, k % 26);
    let mut letters = vec![char::from(b'A' + lo as u8)];
    loop {
        letters.push(char::from(b'A' + (hi % 26) as u8));
        hi /= 26;
        if hi == 0 {
            break;
        }
        hi -= 1;
    }
    for c in letters.iter().rev() {
        s.push(*c);
    }
    s
}

/// The record name of a PDB line (its first six bytes, padded with spaces).
fn record(line: &str) -> [u8; 6] {
    let mut r = [b' '; 6];
    for (i, b) in line.bytes().take(6).enumerate() {
        r[i] = b;
    }
    r
}

/// A PDB atom name's element, by PDB's alignment convention: a name whose first
/// column (13) is blank or a digit has a one-letter element in column 14; a name
/// starting in column 13 is a two-letter element if it has at most two
/// characters in a `HETATM` record (`FE`, `ZN`, `CA` for calcium), else a
/// one-letter element (four-character hydrogen names such as `HG11`).
fn element_from_name(name4: &str, hetero: bool) -> String {
    let b: Vec<u8> = name4.bytes().collect();
    let first = b.first().copied().unwrap_or(b' ');
    let letter = |c: u8| c.is_ascii_alphabetic();
    if first == b' ' || first.is_ascii_digit() {
        return b
            .get(1)
            .copied()
            .filter(|&c| letter(c))
            .map(|c| char::from(c.to_ascii_uppercase()).to_string())
            .unwrap_or_default();
    }
    if !letter(first) {
        return String::new();
    }
    let trimmed = name4.trim();
    if hetero && trimmed.len() <= 2 && trimmed.bytes().all(letter) {
        let sym = trimmed.to_ascii_uppercase();
        if pdbtbx::Element::from_symbol(&sym).is_some() {
            return sym;
        }
    }
    char::from(first.to_ascii_uppercase()).to_string()
}

/// A charge field such as `2+`, `1-`, `+1`.
fn charge(s: &str) -> Option<isize> {
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    let b = s.as_bytes();
    if b.len() == 2 {
        let (d, sign) = if b[0].is_ascii_digit() {
            (b[0], b[1])
        } else {
            (b[1], b[0])
        };
        if d.is_ascii_digit() && (sign == b'+' || sign == b'-') {
            let v = (d - b'0') as isize;
            return Some(if sign == b'-' { -v } else { v });
        }
    }
    None
}

fn scan_pdb(text: &str) -> Result<Scan, String> {
    // Chain identifiers used by atom records: blank chains get others.
    let mut used: HashSet<&str> = HashSet::new();
    for raw in text.split('\n') {
        let r = record(raw);
        if &r == b"ATOM  " || &r == b"HETATM" {
            let c = raw.get(21..22).unwrap_or("").trim();
            if !c.is_empty() {
                used.insert(c);
            }
        }
    }
    let free: Vec<String> = (0..)
        .map(blank_chain_name)
        .filter(|c| !used.contains(c.as_str()))
        .take(128)
        .collect();
    let blank_name = |k: usize| -> String {
        free.get(k).cloned().unwrap_or_else(|| {
            // Beyond 128 blank segments: keep counting past the used names.
            (0..)
                .map(blank_chain_name)
                .filter(|c| !used.contains(c.as_str()))
                .nth(k)
                .unwrap_or_default()
        })
    };

    let mut out = Scan::default();
    let mut notes = Notes::default();
    let mut offset = 0;
    let mut model = 0;
    let mut model_has_atoms = false;
    // The blank-chain segment: its index, and whether it has atoms yet.
    let (mut blank_k, mut blank_used) = (0usize, false);
    let (mut last_res, mut res_add) = (0isize, 0isize);
    let mut legacy_columns = false;
    let mut elements: Vec<([u8; 2], bool)> = Vec::new();
    for (idx, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = idx + 1;
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let len = line.len();
        let rec = record(line);
        match &rec {
            b"TER   " => {
                if blank_used {
                    blank_k += 1;
                    blank_used = false;
                }
                continue;
            }
            b"MODEL " => {
                if model_has_atoms {
                    model += 1;
                    model_has_atoms = false;
                }
                // Each model names its blank chains afresh, so that they match the
                // first model's.
                blank_k = 0;
                blank_used = false;
                continue;
            }
            b"HEADER" => {
                let id = field(line, 62..66);
                if id.len() == 4 && printable(id) {
                    out.id = Some(id.to_string());
                }
                out.evidence
                    .text
                    .push((field(line, 10..80).to_string(), line_no));
                continue;
            }
            b"EXPDTA" => {
                if out.evidence.method.is_none() {
                    // Columns 11-79, or wherever an old file put it after the
                    // record name (and a continuation number).
                    let method = line
                        .get(6..)
                        .unwrap_or("")
                        .trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
                    let first = method.split(';').next().unwrap_or("").trim();
                    if !first.is_empty() {
                        out.evidence.method = Some((first.to_string(), line_no));
                    }
                }
                continue;
            }
            b"TITLE " | b"KEYWDS" | b"AUTHOR" | b"REMARK" | b"COMPND" => {
                if out.sites.is_empty() {
                    if let Some(rest) = line.strip_prefix("REMARK   2 RESOLUTION.") {
                        let first = rest.split_whitespace().next().unwrap_or("");
                        if out.evidence.resolution[0].is_none() {
                            out.evidence.resolution[0] = positive(first);
                        }
                    }
                    out.evidence
                        .text
                        .push((field(line, 10..80).to_string(), line_no));
                }
                continue;
            }
            b"CRYST1" => {
                if out.cell.is_none() && model == 0 {
                    read_cryst1(line, line_no, &mut out);
                }
                continue;
            }
            b"ATOM  " | b"HETATM" => {}
            _ => continue,
        }
        let hetero = &rec == b"HETATM";
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
        if !printable(line) {
            return bad("holds a control character");
        }
        if len < 54 {
            return bad(&format!(
                "is truncated ({len} characters, the coordinates need 54)"
            ));
        }
        let atom = Name::upper(field(line, 12..16));
        if atom.is_empty() {
            return bad("has no atom name (columns 13-16)");
        }
        let res_name = Name::upper(field(line, 17..20));
        if res_name.is_empty() {
            return bad("has no residue name (columns 18-20)");
        }
        let mut xyz = [0.0; 3];
        for (k, (name, r)) in [("x", 30..38), ("y", 38..46), ("z", 46..54)]
            .into_iter()
            .enumerate()
        {
            match number_of(field(line, r)) {
                Some(v) if v.is_finite() => xyz[k] = v,
                _ => return bad(&format!("has no valid {name} coordinate")),
            }
        }
        let number = |name: &str, r: Range<usize>| -> Result<Option<f64>, String> {
            let f = field(line, r);
            if f.is_empty() {
                return Ok(None);
            }
            match number_of(f) {
                Some(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(format!(
                    "line {line_no}: {kind} record has an invalid {name} `{f}`: `{}`",
                    excerpt(line)
                )),
            }
        };
        let occupancy = number("occupancy", 54..60)?;
        let b = number("B-factor", 60..66)?;
        let Ok(raw_res) = field(line, 22..26).parse::<isize>() else {
            return bad("has no valid residue number (columns 23-26)");
        };
        if raw_res == 0 && last_res == 9999 {
            res_add += 10000;
        }
        last_res = raw_res;
        let chain = match field(line, 21..22) {
            "" => {
                blank_used = true;
                Name::new(&blank_name(blank_k))
            }
            c => Name::new(c),
        };
        // pdbtbx upper-cases insertion codes and alternate locations.
        let icode = Some(field(line, 26..27).to_ascii_uppercase()).filter(|s| !s.is_empty());
        let alt = Some(field(line, 16..17).to_ascii_uppercase()).filter(|s| !s.is_empty());
        let (b_field, b_pad) = if len >= 60 {
            (start + 60..start + len.min(66), 0)
        } else {
            (start + len..start + len, 60 - len)
        };
        // Columns 77-80: element and charge, or (legacy) part of an ID.
        let tail_element = field(line, 76..78);
        let element_ok = !tail_element.is_empty()
            && tail_element.bytes().all(|c| c.is_ascii_alphabetic())
            && known_element(&mut elements, tail_element);
        let charge_v = charge(field(line, 78..80));
        let name4 = line.get(12..16).unwrap_or("");
        let element = if element_ok {
            Name::upper(tail_element)
        } else {
            if !tail_element.is_empty() || charge_v.is_none() {
                legacy_columns = true;
            }
            Name::new(&element_from_name(name4, hetero))
        };
        let place = || format!("line {line_no}");
        let (occ, b) = physical(
            occupancy.unwrap_or(1.0),
            b.unwrap_or(0.0),
            &mut notes,
            &place,
        );
        let serial = field(line, 6..11)
            .parse::<usize>()
            .unwrap_or(out.sites.len() + 1);
        out.sites.push(Site {
            model,
            chain,
            res_seq: raw_res + res_add,
            icode,
            atom,
            alt,
            occupancy,
            b_field: Some(b_field),
            b_pad,
            line: line_no,
            record: start..start + raw.len(),
            hetero,
            serial,
            res_name,
            xyz,
            b,
            occ,
            element,
            charge: if element_ok { charge_v.unwrap_or(0) } else { 0 },
        });
        model_has_atoms = true;
    }
    if legacy_columns {
        out.warnings.push(
            "columns 77-80 of some atom records hold no element symbol and charge (the legacy \
             format, with an ID and serial number in columns 73-80): elements were taken from \
             the atom names"
                .into(),
        );
    }
    out.warnings.extend(notes.into_warnings());
    Ok(out)
}

/// The unit cell and space group of a `CRYST1` record; a warning if they cannot
/// be read.
fn read_cryst1(line: &str, line_no: usize, out: &mut Scan) {
    let ranges = [6..15, 15..24, 24..33, 33..40, 40..47, 47..54];
    let mut cell = [0.0; 6];
    for (k, r) in ranges.into_iter().enumerate() {
        match field(line, r).parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => cell[k] = v,
            _ => {
                out.warnings.push(format!(
                    "line {line_no}: CRYST1 record without a valid unit cell, left out: `{}`",
                    excerpt(line)
                ));
                return;
            }
        }
    }
    out.cell = Some(cell);
    let group = field(line, 55..66);
    if !group.is_empty() && printable(group) {
        out.space_group = Some((group.to_string(), line_no));
    }
}

/// A CIF number: `?` and `.` are `None`, as is anything that is not a number;
/// a standard uncertainty in parentheses (`12.3(4)`) is dropped.
fn cif_number(lexeme: &Lexeme, text: &str) -> Option<f64> {
    let v = lexeme.value(text)?;
    let v = match v.ends_with(')').then(|| v.find('(')).flatten() {
        Some(p) => &v[..p],
        None => v,
    };
    number_of(trim(v))
}

/// `s.parse::<f64>().ok()`, with a fast path for the plain decimals of
/// coordinates and B-factors (`-12.345`: a sign, at most 15 digits, a point):
/// their digits `m` and `k` fraction digits give `m / 10^k`, one correctly
/// rounded division of two exactly held numbers (`m < 2^53`, `10^k` exact for
/// `k ≤ 22`), the same value as the full parser's correctly rounded one.
fn number_of(s: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let b = s.as_bytes();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (mut m, mut n, mut point) = (0u64, 0usize, None);
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' if n < 15 => {
                m = m * 10 + u64::from(c - b'0');
                n += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return s.parse::<f64>().ok(),
        }
    }
    if n == 0 {
        return s.parse::<f64>().ok();
    }
    let k = point.map_or(0, |p| digits.len() - p - 1);
    let v = m as f64 / POW10[k];
    Some(if negative { -v } else { v })
}

/// `s.trim()`, without the search for Unicode whitespace when `s` starts and
/// ends with a printable ASCII character (as nearly every CIF value does).
fn trim(s: &str) -> &str {
    let solid = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 127);
    if solid(s.as_bytes().first()) && solid(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

fn scan_mmcif(text: &str) -> Result<Scan, String> {
    let lexemes = cif::lex(text)?;
    let mut out = Scan::default();
    read_cell(text, &lexemes, &mut out);
    read_evidence(text, &lexemes, &mut out.evidence);
    let Some((tags, values, loop_line)) = cif::find_loop(text, &lexemes, "_atom_site.") else {
        // No atom loop: no atoms (reading reports the empty file).
        return Ok(out);
    };
    let ncol = tags.len();
    if values.len() % ncol != 0 {
        let last = values.last().map_or(loop_line, |t| t.line());
        return Err(format!(
            "the _atom_site loop (line {loop_line}) holds {} values, not a multiple of its {ncol} \
             columns; its last row (line {last}) is incomplete: the file is truncated or corrupt",
            values.len()
        ));
    }
    let col = |name: &str| tags.iter().position(|t| t == &format!("_atom_site.{name}"));
    let either = |a: &str, b: &str| col(a).or_else(|| col(b));
    let missing = |what: &str| {
        Err(format!(
            "the _atom_site loop (line {loop_line}) has no {what} column"
        ))
    };
    let Some(atom_c) = either("label_atom_id", "auth_atom_id") else {
        return missing("_atom_site.label_atom_id (nor auth_atom_id)");
    };
    let Some(comp_c) = either("label_comp_id", "auth_comp_id") else {
        return missing("_atom_site.label_comp_id (nor auth_comp_id)");
    };
    let mut xyz_c = [0usize; 3];
    for (k, name) in ["cartn_x", "cartn_y", "cartn_z"].iter().enumerate() {
        match col(name) {
            Some(c) => xyz_c[k] = c,
            None => {
                let shown = ["Cartn_x", "Cartn_y", "Cartn_z"][k];
                return missing(&format!("_atom_site.{shown}"));
            }
        }
    }
    let (auth_asym, label_asym) = (col("auth_asym_id"), col("label_asym_id"));
    if auth_asym.is_none() && label_asym.is_none() {
        return missing("_atom_site.auth_asym_id (nor label_asym_id): no chain");
    }
    let [auth_seq, label_seq, icode_c, alt_c, occ_c, b_c, model_c, type_c, id_c, group_c, charge_c] =
        [
            "auth_seq_id",
            "label_seq_id",
            "pdbx_pdb_ins_code",
            "label_alt_id",
            "occupancy",
            "b_iso_or_equiv",
            "pdbx_pdb_model_num",
            "type_symbol",
            "id",
            "group_pdb",
            "pdbx_formal_charge",
        ]
        .map(col);
    let mut notes = Notes::default();
    if b_c.is_none() {
        out.warnings.push(format!(
            "the _atom_site loop (line {loop_line}) has no B_iso_or_equiv column: every \
             B-factor reads as 0 (masked)"
        ));
    }
    let mut sites: Vec<Site> = Vec::with_capacity(values.len() / ncol);
    let mut model_numbers: Vec<String> = Vec::new();
    // Rows without a residue number: numbered after the highest one, one residue
    // per run of rows with the same chain and residue name (and no atom name twice).
    let mut max_seq: isize = 0;
    let mut run: Option<(String, String, HashSet<String>)> = None;
    let mut runs = 0isize;
    let mut unnumbered: Vec<(usize, isize)> = Vec::new();
    for (r, row) in values.chunks(ncol).enumerate() {
        let line = row[0].line();
        let row_err = |what: String| Err(format!("_atom_site row {} (line {line}): {what}", r + 1));
        let ident = |c: usize, name: &str| -> Result<Option<&str>, String> {
            match row[c].value(text) {
                None => Ok(None),
                Some(v) if !printable(v) => Err(format!(
                    "_atom_site row {} (line {line}): _atom_site.{name} holds a character that \
                     is not printable ASCII: `{}`",
                    r + 1,
                    excerpt(v)
                )),
                Some(v) => Ok(Some(trim(v)).filter(|s| !s.is_empty())),
            }
        };
        let Some(atom) = ident(atom_c, &tags[atom_c][11..])? else {
            return row_err(format!("{} is missing", tags[atom_c]));
        };
        let Some(res_name) = ident(comp_c, &tags[comp_c][11..])? else {
            return row_err(format!("{} is missing", tags[comp_c]));
        };
        let mut xyz = [0.0; 3];
        for k in 0..3 {
            let lexeme = &row[xyz_c[k]];
            match cif_number(lexeme, text) {
                Some(v) if v.is_finite() => xyz[k] = v,
                _ => {
                    return row_err(format!(
                        "_atom_site.Cartn_{} is not a finite number: `{}`",
                        ["x", "y", "z"][k],
                        excerpt(&text[lexeme.span()])
                    ))
                }
            }
        }
        let element = match type_c {
            Some(c) => match ident(c, "type_symbol")? {
                Some(e) => Name::upper(e),
                None => {
                    return row_err(format!(
                        "_atom_site.type_symbol is missing ('{}')",
                        &text[row[c].span()]
                    ))
                }
            },
            None => Name::new(""),
        };
        let model_id = model_c.and_then(|c| row[c].value(text)).unwrap_or("1");
        let model = match model_numbers.iter().position(|m| m == model_id) {
            Some(m) => m,
            None => {
                model_numbers.push(model_id.to_string());
                model_numbers.len() - 1
            }
        };
        let mut chain = None;
        for (c, name) in [(auth_asym, "auth_asym_id"), (label_asym, "label_asym_id")] {
            if let Some(c) = c {
                if chain.is_none() {
                    chain = ident(c, name)?;
                }
            }
        }
        let Some(chain) = chain else {
            return row_err("no chain (auth_asym_id or label_asym_id)".into());
        };
        let seq = |c: Option<usize>| {
            c.and_then(|c| cif_number(&row[c], text))
                .filter(|v| v.fract() == 0.0 && v.abs() < 1e15)
                .map(|v| v as isize)
        };
        let res_seq = seq(auth_seq).or_else(|| seq(label_seq));
        let icode = match icode_c {
            Some(c) => ident(c, "pdbx_PDB_ins_code")?,
            None => None,
        };
        let alt = match alt_c {
            Some(c) => ident(c, "label_alt_id")?,
            None => None,
        };
        let place = || format!("_atom_site row {} (line {line})", r + 1);
        let occupancy = occ_c.and_then(|c| cif_number(&row[c], text));
        if let Some(c) = occ_c {
            if occupancy.is_none() && row[c].value(text).is_some() {
                return row_err(format!(
                    "_atom_site.occupancy is not a number: `{}`",
                    excerpt(&text[row[c].span()])
                ));
            }
        }
        let b = match b_c {
            Some(c) => match (row[c].value(text), cif_number(&row[c], text)) {
                (_, Some(v)) if v.is_finite() => v,
                (None, _) => {
                    notes.add("have no B-factor ('?' or '.'): read as 0, masked", place);
                    0.0
                }
                (Some(v), _) => {
                    return row_err(format!(
                        "_atom_site.B_iso_or_equiv is not a finite number: `{}`",
                        excerpt(v)
                    ))
                }
            },
            None => 0.0,
        };
        if occupancy.is_some_and(|o| !o.is_finite()) {
            return row_err("_atom_site.occupancy is not finite".into());
        }
        let (occ, b) = physical(occupancy.unwrap_or(1.0), b, &mut notes, &place);
        let hetero = group_c
            .and_then(|c| row[c].value(text))
            .is_some_and(|g| g.eq_ignore_ascii_case("HETATM"));
        let serial = id_c
            .and_then(|c| row[c].value(text))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(r + 1);
        let charge = charge_c
            .and_then(|c| cif_number(&row[c], text))
            .filter(|v| v.fract() == 0.0 && v.abs() < 100.0)
            .map_or(0, |v| v as isize);
        let atom = Name::upper(atom);
        let res_seq = match res_seq {
            Some(n) => {
                max_seq = max_seq.max(n);
                n
            }
            None => {
                let same = run.as_ref().is_some_and(|(c, n, atoms)| {
                    *c == chain && *n == res_name && !atoms.contains(atom.as_str())
                }) && unnumbered
                    .last()
                    .is_some_and(|&(i, _)| i + 1 == sites.len());
                if !same {
                    runs += 1;
                    run = Some((chain.to_string(), res_name.to_string(), HashSet::new()));
                }
                if let Some((_, _, atoms)) = run.as_mut() {
                    atoms.insert(atom.to_string());
                }
                unnumbered.push((sites.len(), runs));
                0
            }
        };
        sites.push(Site {
            model,
            chain: Name::new(chain),
            res_seq,
            icode: icode.map(|c| c.to_ascii_uppercase()),
            atom,
            alt: alt.map(|c| c.to_ascii_uppercase()),
            occupancy,
            b_field: b_c.map(|c| row[c].span()),
            b_pad: 0,
            line,
            record: row[0].span().start..row[ncol - 1].span().end,
            hetero,
            serial,
            res_name: Name::upper(res_name),
            xyz,
            b,
            occ,
            element,
            charge,
        });
    }
    if !unnumbered.is_empty() {
        for &(i, k) in &unnumbered {
            sites[i].res_seq = max_seq + k;
        }
        out.warnings.push(format!(
            "{} _atom_site rows have no residue number (auth_seq_id, label_seq_id): numbered \
             from {} on, one residue per run of rows with the same chain and residue name",
            unnumbered.len(),
            max_seq + 1
        ));
    }
    out.sites = sites;
    out.warnings.extend(notes.into_warnings());
    Ok(out)
}

/// What an mmCIF file's header says of its origin: `_exptl.method`, ModelCIF
/// items (`_ma_*`, `_audit_conform.dict_name mmcif_ma.dic`), and the items that
/// may name a predictor (`_entry.id`, `_struct.title`, `_struct_keywords`,
/// `_software` names and versions).
/// The mmCIF items that give a resolution, first that holds a positive number.
const RESOLUTION: [&str; 3] = [
    "_refine.ls_d_res_high",
    "_reflns.d_resolution_high",
    "_em_3d_reconstruction.resolution",
];

/// A positive, finite number, or `None`.
fn positive(v: &str) -> Option<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
}

fn read_evidence(text: &str, lexemes: &[Lexeme], out: &mut Evidence) {
    const TEXT: [&str; 5] = [
        "_entry.id",
        "_struct.title",
        "_struct.pdbx_descriptor",
        "_struct_keywords.text",
        "_struct_keywords.pdbx_keywords",
    ];
    let wanted = |tag: &str| {
        RESOLUTION.contains(&tag)
            || tag.starts_with("_ma_")
            || tag == "_exptl.method"
            || tag == "_audit_conform.dict_name"
            || tag == "_software.name"
            || tag == "_software.version"
            || TEXT.contains(&tag)
    };
    let (mut names, mut versions) = (Vec::new(), Vec::new());
    cif::for_each_item(text, lexemes, wanted, |tag, value, line| {
        let value = value.unwrap_or("").trim();
        if tag.starts_with("_ma_")
            || (tag == "_audit_conform.dict_name" && value.contains("mmcif_ma"))
        {
            out.modelcif.get_or_insert(line);
        }
        if let Some(k) = RESOLUTION.iter().position(|r| *r == tag) {
            if out.resolution[k].is_none() {
                out.resolution[k] = positive(value);
            }
        }
        match tag {
            "_exptl.method" if out.method.is_none() && !value.is_empty() => {
                out.method = Some((value.to_string(), line));
            }
            "_software.name" => names.push(value.to_string()),
            "_software.version" => versions.push(value.to_string()),
            t if TEXT.contains(&t) && !value.is_empty() => {
                out.text.push((value.to_string(), line));
            }
            _ => {}
        }
    });
    versions.resize(names.len(), String::new());
    out.software = names.into_iter().zip(versions).collect();
}

/// The unit cell (`_cell.*`) and space group of an mmCIF file, from single
/// items (not loops).
fn read_cell(text: &str, lexemes: &[Lexeme], out: &mut Scan) {
    const TAGS: [&str; 9] = [
        "_cell.length_a",
        "_cell.length_b",
        "_cell.length_c",
        "_cell.angle_alpha",
        "_cell.angle_beta",
        "_cell.angle_gamma",
        "_symmetry.space_group_name_h-m",
        "_space_group.name_h-m_alt",
        "_entry.id",
    ];
    // The first value of each tag written as a single item, in one pass.
    let mut found: [Option<(&Lexeme, usize)>; 9] = [None; 9];
    let mut missing = TAGS.len();
    for w in lexemes.windows(2) {
        if w[0].kind != cif::LexemeKind::Tag || !w[1].is_value() {
            continue;
        }
        let tag = &text[w[0].span()];
        for (k, name) in TAGS.iter().enumerate() {
            if found[k].is_none() && tag.eq_ignore_ascii_case(name) {
                found[k] = Some((&w[1], w[0].line()));
                missing -= 1;
            }
        }
        if missing == 0 {
            break;
        }
    }
    let item =
        |tag: &str| -> Option<(&Lexeme, usize)> { found[TAGS.iter().position(|t| *t == tag)?] };
    let names = &TAGS[..6];
    let mut cell = [0.0; 6];
    let mut complete = true;
    for (k, name) in names.iter().enumerate() {
        match item(name).and_then(|(t, _)| cif_number(t, text)) {
            Some(v) if v.is_finite() && v > 0.0 => cell[k] = v,
            _ => complete = false,
        }
    }
    if complete {
        out.cell = Some(cell);
    }
    for tag in [
        "_symmetry.space_group_name_h-m",
        "_space_group.name_h-m_alt",
    ] {
        if let Some((t, line)) = item(tag) {
            if let Some(v) = t.value(text).map(str::trim).filter(|v| !v.is_empty()) {
                if printable(v) {
                    out.space_group = Some((v.to_string(), line));
                    break;
                }
            }
        }
    }
    if let Some((t, _)) = item("_entry.id") {
        out.id = t
            .value(text)
            .map(str::trim)
            .filter(|v| !v.is_empty() && printable(v))
            .map(str::to_string);
    }
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
        let sites = scan(PDB, FileFormat::Pdb).unwrap().sites;
        assert_eq!(sites.len(), 4);
        assert_eq!(sites[0].chain, "A");
        assert_eq!(&PDB[sites[0].b_field.clone().unwrap()], " 14.70");
        assert_eq!(sites[1].alt.as_deref(), Some("A"));
        assert_eq!(sites[1].occupancy, Some(0.6));
        assert_eq!(&PDB[sites[1].b_field.clone().unwrap()], "  9.58");
        // A blank chain gets the first unused identifier ('A' is used: 'B'),
        // the next one ('C') after the TER.
        assert_eq!(sites[2].chain, "B");
        assert_eq!(sites[2].icode.as_deref(), Some("A"));
        assert_eq!(sites[2].occupancy, None);
        assert_eq!((sites[2].occ, sites[2].b), (1.0, 0.0));
        assert_eq!(
            (sites[2].b_field.clone().unwrap().len(), sites[2].b_pad),
            (0, 6)
        );
        assert_eq!(sites[3].chain, "C");
        assert_eq!(sites[3].line, 6);
        assert_eq!(
            [&sites[0].element, &sites[1].element, &sites[2].element],
            ["N", "C", "C"]
        );
    }

    #[test]
    fn numbers_as_the_standard_parser_reads_them() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "-0.000",
            "+1.5",
            "1.",
            ".5",
            "-.5",
            ".",
            "-",
            "",
            "1e3",
            "12.3.4",
            "999999999999999",
            "9999999999999999",
            "0.1234567890123456",
            "1_0",
            " 1",
            "inf",
            "NaN",
            "-12.345",
            "123456789.012345",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..100_000 {
            let int: String = (0..next(9))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let frac: String = (0..next(12))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let sign = ["", "-", "+"][next(3) as usize];
            let point = if next(5) == 0 { "" } else { "." };
            cases.push(format!("{sign}{int}{point}{frac}"));
        }
        for c in &cases {
            let (ours, std) = (number_of(c), c.parse::<f64>().ok());
            assert_eq!(ours.map(f64::to_bits), std.map(f64::to_bits), "`{c}`");
        }
    }

    #[test]
    fn blank_chain_names() {
        let names: Vec<String> = [0, 25, 26, 51, 52, 61, 62, 63, 88]
            .into_iter()
            .map(blank_chain_name)
            .collect();
        assert_eq!(names, ["A", "Z", "a", "z", "0", "9", "AA", "AB", "BA"]);
    }

    #[test]
    fn elements_from_names() {
        assert_eq!(element_from_name(" CA ", false), "C");
        assert_eq!(element_from_name("CA  ", true), "CA");
        assert_eq!(element_from_name("1HB ", false), "H");
        assert_eq!(element_from_name("HG11", false), "H");
        assert_eq!(element_from_name("FE  ", true), "FE");
        assert_eq!(charge("2+"), Some(2));
        assert_eq!(charge("1-"), Some(-1));
        assert_eq!(charge("78"), None);
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
        let scan_ = scan(cif, FileFormat::Mmcif).unwrap();
        let sites = scan_.sites;
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].chain, "01");
        assert_eq!(sites[1].atom, "C1\"");
        assert_eq!(&cif[sites[1].b_field.clone().unwrap()], "12.25");
        assert_eq!(sites[1].b, 12.25);
        let cut = &cif[..cif.len() - 10];
        assert!(scan(cut, FileFormat::Mmcif)
            .unwrap_err()
            .contains("truncated"));
    }
}
