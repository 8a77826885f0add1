//! Running a batch: files in parallel, a progress bar on a terminal, failures
//! reported as they happen; and outputs written whole or not at all.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::input::{load_members, Input, Member};

/// Why a command stops before or instead of finishing its batch.
#[derive(Debug)]
pub enum Exit {
    /// The command line asks for something that cannot be done (exit status 2).
    Usage(String),
    /// Something every input needs failed, e.g. loading the weights (exit
    /// status 1).
    Fatal(String),
}

/// `message`, prefixed with `what` unless it already names it.
pub fn describe(what: &str, message: &str) -> String {
    if message.contains(what) {
        message.to_string()
    } else {
        format!("{what}: {message}")
    }
}

/// Progress and failures of one batch.
pub struct Batch {
    bar: ProgressBar,
    failures: AtomicUsize,
    quiet: bool,
}

impl Batch {
    /// A batch of `len` items; a progress bar only on a terminal, for more
    /// than one item, and not with `--quiet`.
    pub fn new(len: usize, quiet: bool) -> Batch {
        let bar = if quiet || len < 2 || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(len as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files ({eta} left)",
            ) {
                bar.set_style(style);
            }
            bar
        };
        Batch {
            bar,
            failures: AtomicUsize::new(0),
            quiet,
        }
    }

    /// Reports a failed input (file and message) on standard error.
    pub fn fail(&self, what: &str, message: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let line = format!("error: {}", describe(what, message));
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Prints a note on standard error (not with `--quiet`).
    pub fn note(&self, message: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("{message}"));
        }
    }

    /// Runs `work` on every input in parallel; `None` where it failed (the
    /// failure is reported). Results in input order.
    pub fn run<T: Send>(
        &self,
        inputs: &[Input],
        work: impl Fn(usize, &Input) -> Result<T, String> + Sync,
    ) -> Vec<Option<T>> {
        self.run_results(inputs, work)
            .into_iter()
            .map(Result::ok)
            .collect()
    }

    /// Runs `work` on every input in parallel, each failure reported and
    /// kept with its message. Results in input order. The members of a tar
    /// archive are read by one thread streaming through the archive once per
    /// run of consecutive members, into a queue of two members per thread
    /// that the others work from, so that memory holds only those few.
    pub fn run_results<T: Send>(
        &self,
        inputs: &[Input],
        work: impl Fn(usize, &Input) -> Result<T, String> + Sync,
    ) -> Vec<Result<T, String>> {
        let one = |i: usize, input: &Input| {
            let result = work(i, input);
            self.bar.inc(1);
            if let Err(message) = &result {
                self.fail(&input.display(), message);
            }
            result
        };
        let mut out: Vec<Result<T, String>> = Vec::with_capacity(inputs.len());
        let mut start = 0;
        while start < inputs.len() {
            let members = archive_run(&inputs[start..]);
            if members.is_empty() {
                let len = inputs[start..]
                    .iter()
                    .take_while(|i| !matches!(i, Input::Member(_)))
                    .count();
                let done: Vec<Result<T, String>> = inputs[start..start + len]
                    .par_iter()
                    .enumerate()
                    .map(|(j, input)| one(start + j, input))
                    .collect();
                out.extend(done);
                start += len;
            } else {
                // One thread streams the archive into a bounded queue that
                // the pool's threads take members from as they come.
                let (queue, members_read) =
                    std::sync::mpsc::sync_channel(2 * rayon::current_num_threads());
                let done: Vec<(usize, Result<T, String>)> = std::thread::scope(|scope| {
                    let members = &members;
                    scope.spawn(move || {
                        load_members(members, |j, input| queue.send((j, input)).is_ok())
                    });
                    members_read
                        .into_iter()
                        .par_bridge()
                        .map(|(j, input)| (j, one(start + j, &input)))
                        .collect()
                });
                let mut ordered: Vec<Option<Result<T, String>>> =
                    (0..members.len()).map(|_| None).collect();
                for (j, r) in done {
                    ordered[j] = Some(r);
                }
                out.extend(ordered.into_iter().map(|r| {
                    r.unwrap_or_else(|| Err("the member was not read from its archive".into()))
                }));
                start += members.len();
            }
        }
        self.bar.finish_and_clear();
        out
    }

    /// How many inputs failed.
    pub fn failures(&self) -> usize {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The members at the start of `inputs` that one pass through their archive
/// reads: consecutive members of one archive in increasing order.
fn archive_run(inputs: &[Input]) -> Vec<Member> {
    let mut run: Vec<Member> = Vec::new();
    for input in inputs {
        match (input, run.last()) {
            (Input::Member(m), None) => run.push(m.clone()),
            (Input::Member(m), Some(last))
                if m.archive == last.archive && m.ordinal > last.ordinal =>
            {
                run.push(m.clone())
            }
            _ => break,
        }
    }
    run
}

/// Writes `dest` through `fill`, which gets a temporary path in the same
/// directory whose name ends like `dest`'s (so that its extension is kept);
/// the temporary file is renamed to `dest` only when `fill` succeeded, so no
/// partial output is ever left. An existing `dest` is replaced only with
/// `force`.
pub fn write_atomically(
    dest: &Path,
    force: bool,
    fill: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let shown = dest.display();
    if !force && dest.exists() {
        return Err(format!("{shown} exists (use --force to overwrite it)"));
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| format!("{shown} is not a file name"))?
        .to_string_lossy()
        .into_owned();
    let suffix = format!(".{name}");
    let tmp = tempfile::Builder::new()
        .prefix(".bfactor-")
        .suffix(&suffix)
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
    fill(tmp.path())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates files readable by their owner only.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).map_err(
            |e| {
                format!(
                    "cannot set the permissions of {}: {e}",
                    tmp.path().display()
                )
            },
        )?;
    }
    let persisted = if force {
        tmp.persist(dest).map(drop)
    } else {
        tmp.persist_noclobber(dest).map(drop)
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{shown} exists (use --force to overwrite it)")
        } else {
            format!("cannot write {shown}: {}", e.error)
        }
    })
}
