//! Deterministic fuzzing of weight files: truncations, byte flips, multi-byte
//! corruption, claimed-shape inflation in `.npy` and safetensors headers, and
//! edits of the zip size, offset and count fields, applied to files the crate
//! writes (safetensors F32/F64, `.npz`, `.npy`) and to NumPy's compressed
//! `.npz`. Every case must return (an `Ok` or a typed error) without a panic, and
//! without any single allocation much larger than the file: a counting global
//! allocator records the largest request of each case, and refuses (which
//! aborts the test) anything above 256 MiB.
#![cfg(all(feature = "safetensors", feature = "npy"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bfactor::boltz2::{Boltz2Head, Boltz2HeadConfig};
use bfactor::weights::{self, NamedTensors, WeightDtype};
use bfactor::{BFactorHead, BFactorHeadConfig};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The largest single allocation request since the last reset.
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Requests above this are refused: the allocation fails and the test aborts.
const REFUSE: usize = 256 << 20;

struct Counting;

// SAFETY: forwards every call to the system allocator unchanged (or returns null,
// which GlobalAlloc allows for a failed allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        if layout.size() > REFUSE {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        if layout.size() > REFUSE {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        if new_size > REFUSE {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Safetensors,
    Npz,
    Npy,
}

/// Reads `bytes` as a weight file of `kind` and, if that works, builds both heads
/// from it; every outcome but a panic is fine.
fn exercise(kind: Kind, bytes: &[u8], scratch: &Path) {
    let tensors = match kind {
        Kind::Safetensors => NamedTensors::from_safetensors_bytes(bytes),
        Kind::Npz => {
            std::fs::write(scratch, bytes).unwrap();
            NamedTensors::read(scratch)
        }
        Kind::Npy => {
            std::fs::write(scratch, bytes).unwrap();
            let _ = weights::read_npy::<f32, IxDyn>(scratch);
            return;
        }
    };
    if let Ok(t) = tensors {
        let _ = Boltz2Head::<f32>::from_tensors(&t, Boltz2Head::<f32>::DEFAULT_PREFIX);
        let _ = BFactorHeadConfig::from_saved(&t, BFactorHead::<f32>::DEFAULT_PREFIX);
        let _ = BFactorHead::<f64>::from_tensors(
            &t,
            BFactorHead::<f64>::DEFAULT_PREFIX,
            BFactorHeadConfig::new(8).with_num_bins(12),
        );
    }
}

/// Deterministic mutations of `base`.
fn mutations(kind: Kind, base: &[u8], rng: &mut StdRng) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let n = base.len();
    // Truncations: every length for small files, 300 spread out otherwise.
    let step = (n / 300).max(1);
    for cut in (0..n).step_by(step) {
        out.push((format!("truncated to {cut}"), base[..cut].to_vec()));
    }
    // Single byte flips.
    for _ in 0..600 {
        let (i, x) = (rng.random_range(0..n), rng.random_range(1..=255u8));
        let mut b = base.to_vec();
        b[i] ^= x;
        out.push((format!("byte {i} ^= {x:#x}"), b));
    }
    // Bursts of corruption, biased to the headers.
    for _ in 0..150 {
        let mut b = base.to_vec();
        let start = rng.random_range(0..n.min(256));
        let len = rng.random_range(1..=16).min(n - start);
        for v in &mut b[start..start + len] {
            *v = rng.random();
        }
        out.push((format!("bytes {start}..{} random", start + len), b));
    }
    // Claimed-shape inflation: every digit run of a header replaced by huge numbers.
    let big = [
        "1099511627776",
        "18446744073709551615",
        "99999999999999999999999",
        "0",
        "-1",
    ];
    let header_end = match kind {
        Kind::Safetensors => 8 + u64::from_le_bytes(base[..8].try_into().unwrap()) as usize,
        Kind::Npz | Kind::Npy => n,
    };
    let text = &base[..header_end];
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_digit() && (i == 0 || !text[i - 1].is_ascii_digit()) {
            let j = (i..text.len())
                .find(|&j| !text[j].is_ascii_digit())
                .unwrap_or(text.len());
            // Only numbers inside printable header text (not random data bytes).
            let printable = text[i.saturating_sub(3)..j]
                .iter()
                .all(|c| c.is_ascii_graphic() || *c == b' ');
            if printable {
                for v in big {
                    out.push((
                        format!("digits at {i}..{j} -> {v}"),
                        splice(kind, base, i, j, v.as_bytes()),
                    ));
                }
            }
            i = j;
        } else {
            i += 1;
        }
    }
    // Binary length, size, offset and count fields.
    let values: [u64; 6] = [0, 1, n as u64 / 2, n as u64 * 2, u32::MAX as u64, u64::MAX];
    match kind {
        Kind::Safetensors => {
            for v in values.iter().chain(&[1 << 40, 1 << 62]) {
                let mut b = base.to_vec();
                b[..8].copy_from_slice(&v.to_le_bytes());
                out.push((format!("header length {v}"), b));
            }
        }
        Kind::Npy => {
            for v in values {
                let mut b = base.to_vec();
                b[8..10].copy_from_slice(&(v as u16).to_le_bytes());
                out.push((format!("header length {v}"), b));
                // As a version 2 file with a 4-byte length.
                let mut b = base.to_vec();
                b[6] = 2;
                b[8..12].copy_from_slice(&(v as u32).to_le_bytes());
                out.push((format!("v2 header length {v}"), b));
            }
        }
        Kind::Npz => {
            // (signature, [(offset, width)]) of local headers, central directory
            // entries and the end-of-central-directory record.
            let fields: [ZipFields; 3] = [
                (b"PK\x03\x04", &[(18, 4), (22, 4), (26, 2), (28, 2)]),
                (
                    b"PK\x01\x02",
                    &[(20, 4), (24, 4), (28, 2), (30, 2), (42, 4)],
                ),
                (b"PK\x05\x06", &[(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)]),
            ];
            for (sig, offsets) in fields {
                for at in find_all(base, sig) {
                    for &(off, width) in offsets {
                        if at + off + width > n {
                            continue;
                        }
                        for v in values {
                            let mut b = base.to_vec();
                            b[at + off..at + off + width]
                                .copy_from_slice(&v.to_le_bytes()[..width]);
                            out.push((format!("zip field {at}+{off} = {v}"), b));
                        }
                    }
                }
            }
        }
    }
    out
}

/// A zip record's signature and its (offset, width) fields to edit.
type ZipFields = (&'static [u8], &'static [(usize, usize)]);

/// `base` with bytes `i..j` replaced by `v`; a safetensors header gets its length
/// field updated to match.
fn splice(kind: Kind, base: &[u8], i: usize, j: usize, v: &[u8]) -> Vec<u8> {
    let mut b = base[..i].to_vec();
    b.extend_from_slice(v);
    b.extend_from_slice(&base[j..]);
    if let Kind::Safetensors = kind {
        let len = u64::from_le_bytes(base[..8].try_into().unwrap()) as i64 + v.len() as i64
            - (j - i) as i64;
        b[..8].copy_from_slice(&(len as u64).to_le_bytes());
    }
    b
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("bfactor_fuzz_{}_{name}", std::process::id()))
}

/// The files the mutations start from.
fn bases() -> Vec<(String, Kind, Vec<u8>)> {
    let mut rng = StdRng::seed_from_u64(7);
    let b2 = Boltz2HeadConfig::new()
        .with_token_s(16)
        .with_num_bins(10)
        .init::<f32>(&mut rng)
        .unwrap();
    let nb = BFactorHeadConfig::new(8)
        .with_num_bins(12)
        .with_max_bfactor(300.0)
        .init::<f64>(&mut rng)
        .unwrap();
    let mut out = vec![];
    let b2t = b2.to_tensors(Boltz2Head::<f32>::DEFAULT_PREFIX);
    let nbt = nb.to_tensors(BFactorHead::<f64>::DEFAULT_PREFIX);
    for (name, t, dtype) in [
        ("boltz2_f32", &b2t, WeightDtype::F32),
        ("notebook_f64", &nbt, WeightDtype::F64),
    ] {
        out.push((
            format!("{name}.safetensors"),
            Kind::Safetensors,
            t.to_safetensors_bytes(dtype).unwrap(),
        ));
        let p = scratch(&format!("base_{name}.npz"));
        t.write(&p, dtype).unwrap();
        out.push((format!("{name}.npz"), Kind::Npz, std::fs::read(&p).unwrap()));
        std::fs::remove_file(&p).ok();
    }
    let p = scratch("base.npy");
    weights::write_npy(&p, b2.weight()).unwrap();
    out.push((
        "boltz2_weight.npy".into(),
        Kind::Npy,
        std::fs::read(&p).unwrap(),
    ));
    std::fs::remove_file(&p).ok();
    // NumPy's deflated .npz, for the decompressing path.
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/boltz2/weights/boltz2_compressed.npz");
    out.push((
        "numpy_compressed.npz".into(),
        Kind::Npz,
        std::fs::read(fixture).unwrap(),
    ));
    out
}

#[test]
fn mutated_weight_files_never_panic_or_allocate_by_claim() {
    let mut rng = StdRng::seed_from_u64(2026);
    let (mut cases, mut panics, mut largest) = (0usize, vec![], (0usize, String::new()));
    for (base_name, kind, base) in bases() {
        let path = scratch(&format!("case_{base_name}"));
        // The unmutated file reads.
        exercise(kind, &base, &path);
        for (what, bytes) in mutations(kind, &base, &mut rng) {
            cases += 1;
            LARGEST.store(0, Ordering::Relaxed);
            let result = catch_unwind(AssertUnwindSafe(|| exercise(kind, &bytes, &path)));
            let biggest = LARGEST.load(Ordering::Relaxed);
            if result.is_err() {
                panics.push(format!("{base_name}: {what}"));
            }
            // A few times the file's own size, plus fixed buffers of the readers
            // (zip's and the decompressor's).
            let bound = (1 << 20) + 16 * bytes.len();
            assert!(
                biggest <= bound,
                "{base_name}: {what}: an allocation of {biggest} bytes for a file of {}",
                bytes.len()
            );
            if biggest > largest.0 {
                largest = (biggest, format!("{base_name}: {what}"));
            }
        }
        std::fs::remove_file(&path).ok();
    }
    eprintln!(
        "{cases} mutated weight files; largest single allocation {} bytes ({})",
        largest.0, largest.1
    );
    assert!(cases >= 5000, "only {cases} cases");
    assert!(panics.is_empty(), "{} panics: {panics:#?}", panics.len());
}
