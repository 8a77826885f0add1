#![cfg(feature = "structure")]
//! Deterministic fuzzing of the structure reader and writer: thousands of
//! mutations (truncations, byte flips, line deletions and duplications, field
//! swaps, column shifts, hostile tokens) of the real structure files in
//! `tests/data/structures/` and `data/crystal/` (or `../shared/data/crystal/`
//! beside the clone, if there), each read with both token modes and, when it
//! reads, written back. Asserts that nothing panics (caught per case, and
//! counted by a panic hook, so that even a caught-and-converted panic inside
//! the crate fails the test) and that no case allocates more than a bound
//! proportional to its input (a counting global allocator).
//!
//! `cargo test --all-features --test fuzz_structures`

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bfactor::structure::{self, FileFormat, ReadOptions, TokenMode};

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static PANICS: AtomicUsize = AtomicUsize::new(0);
static MESSAGES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// SplitMix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// The largest prefix of a base file used (at a line end), to keep each case fast.
const MAX_BASE: usize = 160_000;

fn bases() -> Vec<(String, FileFormat, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("tests/data/structures")];
    for d in [
        root.join("data/crystal"),
        root.join("../shared/data/crystal"),
    ] {
        if d.is_dir() {
            dirs.push(d);
            break;
        }
    }
    let mut out = Vec::new();
    for dir in dirs {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| FileFormat::from_path(p).is_ok())
            .collect();
        names.sort();
        for path in names {
            let (format, gz) = FileFormat::from_path(&path).unwrap();
            let raw = std::fs::read(&path).unwrap();
            let mut bytes = Vec::new();
            if gz {
                flate2::read::MultiGzDecoder::new(&raw[..])
                    .take(4 * MAX_BASE as u64)
                    .read_to_end(&mut bytes)
                    .unwrap();
            } else {
                bytes = raw;
            }
            out.push((name_of(&path), format, prefix(bytes, format)));
        }
    }
    out
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// At most [`MAX_BASE`] bytes, cut at a line end; for mmCIF, the header is
/// skipped so that the prefix reaches into the atom loop.
fn prefix(bytes: Vec<u8>, format: FileFormat) -> Vec<u8> {
    if bytes.len() <= MAX_BASE {
        return bytes;
    }
    if format == FileFormat::Mmcif {
        if let Some(p) = find(&bytes, b"loop_\n_atom_site.") {
            // Keep the cell and symmetry items of the first 4 KB, then the loop.
            let head = bytes[..p.min(4096)].to_vec();
            let mut body = head;
            body.extend_from_slice(b"\n");
            let end = (p + MAX_BASE).min(bytes.len());
            body.extend_from_slice(&bytes[p..end]);
            return cut_at_line(body);
        }
    }
    cut_at_line(bytes[..MAX_BASE].to_vec())
}

fn cut_at_line(mut b: Vec<u8>) -> Vec<u8> {
    if let Some(p) = b.iter().rposition(|&c| c == b'\n') {
        b.truncate(p + 1);
    }
    b
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

const HOSTILE: &[&[u8]] = &[
    b"inf",
    b"NaN",
    b"-1e300",
    b"1e300",
    b"?",
    b".",
    b"ATOM  ",
    b"HETATM",
    b"TER",
    b"MODEL     2",
    b"ENDMDL",
    b"\xe9",
    b"\x00",
    b"\t",
    b"'",
    b"\"",
    b";",
    b"loop_",
    b"_atom_site.id",
    b"X 99 99 99",
    b"-",
    b"9999",
    b"    ",
    b"CRYST1   1.0   1.0",
    b"\r",
];

/// Line starts of `b`.
fn lines(b: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            b.iter()
                .enumerate()
                .filter(|(_, &c)| c == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i < b.len())
        .collect()
}

fn line_span(b: &[u8], starts: &[usize], k: usize) -> (usize, usize) {
    let s = starts[k];
    let e = b[s..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| s + p + 1);
    (s, e)
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    let ops = 1 + rng.below(3);
    for _ in 0..ops {
        if b.is_empty() {
            break;
        }
        let starts = lines(&b);
        let k = rng.below(starts.len());
        let (s, e) = line_span(&b, &starts, k);
        match rng.below(8) {
            // Truncation.
            0 => {
                let at = rng.below(b.len());
                b.truncate(at);
            }
            // Byte flips.
            1 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(b.len());
                    b[at] ^= 1 << rng.below(8);
                }
            }
            // Line deletion.
            2 => {
                b.drain(s..e);
            }
            // Line duplication, elsewhere.
            3 => {
                let line = b[s..e].to_vec();
                let to = starts[rng.below(starts.len())];
                b.splice(to..to, line);
            }
            // Field swap: two whitespace-separated fields of one line.
            4 => {
                let line = &b[s..e];
                let fields: Vec<(usize, usize)> = split_fields(line);
                if fields.len() >= 2 {
                    let i = rng.below(fields.len());
                    let j = rng.below(fields.len());
                    let (i, j) = (i.min(j), i.max(j));
                    if i != j {
                        let (a, c) = (fields[i], fields[j]);
                        let mut out = line[..a.0].to_vec();
                        out.extend_from_slice(&line[c.0..c.1]);
                        out.extend_from_slice(&line[a.1..c.0]);
                        out.extend_from_slice(&line[a.0..a.1]);
                        out.extend_from_slice(&line[c.1..]);
                        b.splice(s..e, out);
                    }
                }
            }
            // Column shift: a space inserted or a byte removed within a line.
            5 => {
                let at = s + rng.below(e - s);
                if rng.below(2) == 0 {
                    b.insert(at, b' ');
                } else if at < b.len() {
                    b.remove(at);
                }
            }
            // A hostile token over part of a line.
            6 => {
                let tok = HOSTILE[rng.below(HOSTILE.len())];
                let at = s + rng.below(e - s);
                let end = (at + tok.len()).min(e.saturating_sub(1)).max(at);
                b.splice(at..end, tok.iter().copied());
            }
            // A digit turned into a letter, or a letter into a digit.
            _ => {
                let at = s + rng.below(e - s);
                b[at] = match b[at] {
                    c if c.is_ascii_digit() => b'x',
                    c if c.is_ascii_alphabetic() => b'7',
                    _ => b'-',
                };
            }
        }
    }
    b
}

fn split_fields(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        let s = i;
        while i < line.len() && !line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i > s {
            out.push((s, i));
        }
    }
    out
}

/// One case: read (from text, or from a file to go through decoding and
/// gzip), in both token modes, and write back what reads.
fn run_case(case: usize, bytes: &[u8], format: FileFormat, dir: &Path) -> bool {
    let modes = [TokenMode::Boltz2, TokenMode::CaOnly];
    let mode = modes[case % 2];
    let options = ReadOptions::new().with_tokens(mode);
    let read = if case.is_multiple_of(8) {
        let ext = match format {
            FileFormat::Pdb => "pdb",
            FileFormat::Mmcif => "cif",
        };
        let gz = case.is_multiple_of(16);
        let path = dir.join(format!("case.{ext}{}", if gz { ".gz" } else { "" }));
        let data = if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, bytes).unwrap();
            e.finish().unwrap()
        } else {
            bytes.to_vec()
        };
        std::fs::write(&path, data).unwrap();
        structure::read(&path, &options)
    } else {
        let text = String::from_utf8_lossy(bytes);
        structure::read_str(&text, format, &options)
    };
    match read {
        Ok(s) => {
            assert!(!s.tokens().is_empty());
            let values = s.bfactors().mapv(|b| b.clamp(-99.0, 999.0));
            let _ = structure::write_string(&s, &values, format);
            let other = match format {
                FileFormat::Pdb => FileFormat::Mmcif,
                FileFormat::Mmcif => FileFormat::Pdb,
            };
            if case.is_multiple_of(5) {
                let _ = structure::write_string(&s, &values, other);
            }
            true
        }
        Err(e) => {
            // Every error says something.
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

#[test]
fn mutated_structure_files_never_panic_and_stay_bounded() {
    let bases = bases();
    assert!(bases.len() >= 7, "{} base files", bases.len());
    std::panic::set_hook(Box::new(|info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut m) = MESSAGES.lock() {
            m.push(info.to_string());
        }
    }));
    let dir = std::env::temp_dir().join(format!("bfactor_fuzz_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x5eed_bfac);
    let cases = 4000;
    let (mut read_ok, mut failures) = (0usize, Vec::new());
    let mut worst = (0.0f64, String::new());
    for case in 0..cases {
        let (name, format, base) = &bases[case % bases.len()];
        let bytes = mutate(&mut rng, base);
        let before_panics = PANICS.load(Ordering::SeqCst);
        let live = LIVE.load(Ordering::Relaxed);
        PEAK.store(live, Ordering::Relaxed);
        let r = catch_unwind(AssertUnwindSafe(|| run_case(case, &bytes, *format, &dir)));
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(live);
        let panicked = PANICS.load(Ordering::SeqCst) != before_panics;
        match r {
            Ok(true) => read_ok += 1,
            Ok(false) => {}
            Err(_) => {}
        }
        if panicked || r.is_err() {
            let keep = dir.join(format!("panic_{case}_{name}"));
            std::fs::write(&keep, &bytes).ok();
            let message = MESSAGES.lock().map(|m| m.join("; ")).unwrap_or_default();
            failures.push(format!(
                "case {case} ({name}): panicked ({message}); input kept at {}",
                keep.display()
            ));
        }
        // Memory: the text, its sites and pdbtbx's model: a bounded multiple
        // of the input, plus a constant.
        let bound = 200 * bytes.len() + (16 << 20);
        let ratio = peak as f64 / bytes.len().max(1) as f64;
        if ratio > worst.0 {
            worst = (
                ratio,
                format!("case {case} ({name}): {peak} bytes for {}", bytes.len()),
            );
        }
        if peak > bound {
            failures.push(format!(
                "case {case} ({name}): {peak} bytes allocated for {} input bytes",
                bytes.len()
            ));
        }
    }
    let _ = std::panic::take_hook();
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The mutations leave many files readable, and break many.
    assert!(
        read_ok > cases / 10 && read_ok < cases,
        "{read_ok} of {cases} read"
    );
    eprintln!(
        "{cases} cases, {read_ok} read; largest peak/input: {:.1} ({})",
        worst.0, worst.1
    );
}
