//! Input paths: files, directories searched for structure files, tar
//! archives read member by member, and standard input; reading each into a
//! [`Structure`].

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bfactor::structure::{self, BColumn, FileFormat, ReadOptions, Structure, TokenMode};

use crate::args::{BColumnChoice, InputArgs, InputFormat, ReadArgs, TokenChoice};
use crate::report::Exit;

/// One structure to process.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input, read once before the batch.
    Stdin,
    /// A structure member of a tar archive.
    Member(Member),
}

impl Input {
    /// How the input is named in messages and tables (`archive.tar:member`
    /// for a member of an archive).
    pub fn display(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".into(),
            Input::Member(m) => m.display(),
        }
    }
}

/// A structure member of a tar archive: where it is, and once
/// [`load_members`] has read it, its bytes.
#[derive(Debug, Clone)]
pub struct Member {
    /// The archive (`.tar`, `.tar.gz` or `.tgz`).
    pub archive: PathBuf,
    /// The member's path inside the archive.
    pub name: String,
    /// Its position among the archive's structure members, from 0.
    pub ordinal: usize,
    /// Its bytes as stored (possibly gzip data), or why they could not be
    /// read; `None` until loaded.
    data: Option<Arc<Result<Vec<u8>, String>>>,
}

impl Member {
    /// `archive:member`.
    pub fn display(&self) -> String {
        format!("{}:{}", self.archive.display(), self.name)
    }
}

/// The inputs named on the command line, with directories expanded.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The structures, in command-line order (a directory's files sorted).
    pub inputs: Vec<Input>,
    /// Paths that gave no structure (missing, or a directory without
    /// structure files): (path, message).
    pub problems: Vec<(String, String)>,
    /// Whether a directory was named.
    pub any_directory: bool,
    /// Whether a tar archive was named.
    pub any_archive: bool,
    /// Whether the inputs are a batch whatever their number here (a
    /// directory, an archive, a `--files-from` list or a `--shard`), so that
    /// `-o OUT` is the same directory in every shard.
    pub batch: bool,
}

/// One entry of the ordered input list: a structure, or a path that gave none.
#[derive(Debug)]
enum Entry {
    Input(Input),
    Problem(String, String),
}

impl Inputs {
    fn from_entries(entries: impl IntoIterator<Item = Entry>) -> Inputs {
        let mut out = Inputs::default();
        for entry in entries {
            match entry {
                Entry::Input(i) => out.inputs.push(i),
                Entry::Problem(path, message) => out.problems.push((path, message)),
            }
        }
        out
    }
}

/// Part K of N of the ordered input list (`--shard K/N`): the K-th of N
/// contiguous runs whose lengths differ by at most one, so that shards 1 to N
/// together hold every input exactly once, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 1 to `n`.
    pub k: u64,
    /// How many parts.
    pub n: u64,
}

impl Shard {
    /// Parses `K/N` (whole numbers, 1 ≤ K ≤ N); the message says what was
    /// expected and what came.
    pub fn parse(text: &str) -> Result<Shard, String> {
        const EXPECTED: &str = "expected K/N with whole numbers 1 <= K <= N, such as 2/8";
        let Some((k, n)) = text.split_once('/') else {
            return Err(format!("{EXPECTED}; got {text:?}, which has no /"));
        };
        let number = |part: &str, what: &str| {
            part.trim().parse::<u64>().map_err(|_| {
                format!("{EXPECTED}; got {text:?}, whose {what} {part:?} is not a whole number")
            })
        };
        let (k, n) = (number(k, "K")?, number(n, "N")?);
        if n == 0 {
            return Err(format!("{EXPECTED}; got {text:?}, with N = 0 parts"));
        }
        if k == 0 || k > n {
            return Err(format!(
                "{EXPECTED}; got {text:?}, with K = {k} outside 1..={n}"
            ));
        }
        Ok(Shard { k, n })
    }

    /// The indices of this shard's items in a list of `len` items.
    pub fn range(self, len: usize) -> std::ops::Range<usize> {
        let bound = |k: u64| (u128::from(k) * len as u128 / u128::from(self.n)) as usize;
        bound(self.k - 1)..bound(self.k)
    }
}

/// Whether a file name is that of a structure file.
pub fn is_structure_name(path: &Path) -> bool {
    FileFormat::from_path(path).is_ok()
}

/// Whether a file name is that of a tar archive (`.tar`, `.tar.gz`, `.tgz`,
/// in any case).
pub fn is_archive_name(path: &Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    [".tar", ".tar.gz", ".tgz"]
        .iter()
        .any(|end| name.ends_with(end))
}

/// The largest member read from an archive, as stored and after gunzipping:
/// the limit of the reader of files.
const MAX_MEMBER_BYTES: u64 = structure::DEFAULT_MAX_BYTES;

/// Streams the structure members of the tar archive `path` (gzip-compressed
/// when its data starts with gzip's magic bytes) in archive order, calling
/// `visit(ordinal, name, size, member)` on each regular file whose name is a
/// structure name (other members are skipped unread) until it returns
/// `false`. The error is the archive's own (unreadable, not a tar archive,
/// cut short), after the members before it were visited.
fn for_each_member(
    path: &Path,
    mut visit: impl FnMut(usize, &str, u64, &mut dyn Read) -> bool,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open the archive: {e}"))?;
    let mut file = BufReader::new(file);
    let gzip = file
        .fill_buf()
        .map_err(|e| format!("cannot read the archive: {e}"))?
        .starts_with(&[0x1f, 0x8b]);
    let stream: Box<dyn Read> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(stream);
    let bad = |e: std::io::Error| format!("not a readable tar archive ({e})");
    let mut ordinal = 0;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        if !is_structure_name(Path::new(&name)) {
            continue;
        }
        let size = entry.size();
        if !visit(ordinal, &name, size, &mut entry) {
            return Ok(());
        }
        ordinal += 1;
    }
    Ok(())
}

/// The structure members of the archive `path`, listed by streaming through
/// it (member data skipped); problems for an archive that cannot be read
/// whole or holds no structure.
fn list_members(path: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let listed = for_each_member(path, |ordinal, name, _, _| {
        out.push(Entry::Input(Input::Member(Member {
            archive: path.to_path_buf(),
            name: name.to_string(),
            ordinal,
            data: None,
        })));
        true
    });
    let problem = match listed {
        Err(e) => Some(e),
        Ok(()) if out.is_empty() => Some(
            "no structure files in this archive (expected member names ending in .pdb, \
             .ent, .cif or .mmcif, optionally followed by .gz)"
                .into(),
        ),
        Ok(()) => None,
    };
    if let Some(message) = problem {
        out.push(Entry::Problem(path.display().to_string(), message));
    }
    out
}

/// The bytes of one member (at most [`MAX_MEMBER_BYTES`], checked on its
/// header's size before anything is read).
fn member_bytes(member: &mut dyn Read, size: u64) -> Result<Vec<u8>, String> {
    if size > MAX_MEMBER_BYTES {
        return Err(format!(
            "the member is {size} bytes, more than the limit of {MAX_MEMBER_BYTES} bytes"
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    member
        .take(MAX_MEMBER_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the member: {e}"))?;
    if (bytes.len() as u64) < size {
        return Err(format!(
            "the archive is cut short in this member: {} of its {size} bytes",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Reads the members `members` (all of one archive, in increasing ordinal
/// order) by streaming through their archive once, and hands each to `hand`,
/// loaded, with its position in `members`, as soon as it is read; stops
/// early if `hand` returns `false`. A member that cannot be read (too large,
/// or the archive fails before it) is handed over with the error instead of
/// its bytes.
pub fn load_members(members: &[Member], mut hand: impl FnMut(usize, Input) -> bool) {
    let Some(first) = members.first() else {
        return;
    };
    let mut next = 0;
    let mut stopped = false;
    let loaded = |i: usize, data: Result<Vec<u8>, String>| {
        let mut m = members[i].clone();
        m.data = Some(Arc::new(data));
        Input::Member(m)
    };
    let streamed = for_each_member(&first.archive, |ordinal, name, size, entry| {
        let Some(want) = members.get(next) else {
            return false;
        };
        if ordinal < want.ordinal {
            return true;
        }
        let data = if ordinal == want.ordinal && name == want.name {
            member_bytes(entry, size)
        } else {
            Err(format!(
                "the archive changed while it was read: member {} is now {name}",
                ordinal + 1
            ))
        };
        stopped = !hand(next, loaded(next, data));
        next += 1;
        !stopped && next < members.len()
    });
    if stopped {
        return;
    }
    let missing = match streamed {
        Err(e) => e,
        Ok(()) => "the archive ended before this member: it changed while it was read".into(),
    };
    for i in next..members.len() {
        if !hand(i, loaded(i, Err(missing.clone()))) {
            return;
        }
    }
}

/// The paths listed in `text` (a `--files-from` list named `name`): one per
/// line, surrounding white space dropped, blank lines and lines starting with
/// `#` skipped.
pub fn parse_list(text: &str, name: &str) -> Result<Vec<PathBuf>, Exit> {
    let mut paths = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "-" {
            return Err(Exit::Usage(format!(
                "line {} of the file list {name} is -: standard input can be named on \
                 the command line only, not in a --files-from list",
                i + 1
            )));
        }
        paths.push(PathBuf::from(line));
    }
    Ok(paths)
}

/// Reads the `--files-from` list `list` (`-`: standard input).
fn read_list(list: &Path) -> Result<Vec<PathBuf>, Exit> {
    let (name, bytes) = if list.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
            Exit::Fatal(format!(
                "cannot read the file list (--files-from -) from standard input: {e}"
            ))
        })?;
        ("<stdin>".to_string(), bytes)
    } else {
        let name = list.display().to_string();
        let bytes = std::fs::read(list).map_err(|e| {
            Exit::Fatal(format!(
                "cannot read the file list {name} (--files-from): {e}"
            ))
        })?;
        (name, bytes)
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        Exit::Fatal(format!(
            "the file list {name} (--files-from) is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse_list(&text, &name)
}

/// The inputs of a subcommand: the command line's paths, then those of
/// `--files-from`, with directories expanded, and of them only `--shard`'s
/// part. A missing or empty list is an error; an empty shard is not.
pub fn collect(args: &InputArgs) -> Result<Inputs, Exit> {
    let mut paths = args.paths.clone();
    if let Some(list) = &args.files_from {
        if list.as_os_str() == "-" && paths.iter().any(|p| p.as_os_str() == "-") {
            return Err(Exit::Usage(
                "--files-from - reads the list from standard input, which cannot also be \
                 an input (-)"
                    .into(),
            ));
        }
        let listed = read_list(list)?;
        if listed.is_empty() {
            return Err(Exit::Fatal(format!(
                "the file list {} (--files-from) names no path (only blank or # lines)",
                if list.as_os_str() == "-" {
                    "<stdin>".to_string()
                } else {
                    list.display().to_string()
                }
            )));
        }
        paths.extend(listed);
    }
    let (entries, named) = expand_entries(&paths)?;
    let mut out = match args.shard {
        Some(shard) => {
            let range = shard.range(entries.len());
            Inputs::from_entries(
                entries
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| range.contains(i))
                    .map(|(_, e)| e),
            )
        }
        None => Inputs::from_entries(entries),
    };
    out.any_directory = named.directory;
    out.any_archive = named.archive;
    out.batch =
        named.directory || named.archive || args.files_from.is_some() || args.shard.is_some();
    Ok(out)
}

/// Expands the command line's paths. `-` may appear once.
pub fn expand(paths: &[PathBuf]) -> Result<Inputs, Exit> {
    let (entries, named) = expand_entries(paths)?;
    let mut out = Inputs::from_entries(entries);
    out.any_directory = named.directory;
    out.any_archive = named.archive;
    out.batch = named.directory || named.archive;
    Ok(out)
}

/// The ordered list of structures and problems of `paths` (an archive's
/// members in archive order), and what kinds of paths were among them.
fn expand_entries(paths: &[PathBuf]) -> Result<(Vec<Entry>, Named), Exit> {
    let mut out = Vec::new();
    let mut named = Named::default();
    let mut stdin = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin {
                return Err(Exit::Usage(
                    "standard input (-) can be named only once".into(),
                ));
            }
            stdin = true;
            out.push(Entry::Input(Input::Stdin));
        } else if path.is_dir() {
            named.directory = true;
            let mut found: Vec<PathBuf> = Vec::new();
            for entry in walkdir::WalkDir::new(path).follow_links(true) {
                match entry {
                    Ok(e) => {
                        let hidden = e.file_name().to_string_lossy().starts_with('.');
                        if e.file_type().is_file() && !hidden && is_structure_name(e.path()) {
                            found.push(e.into_path());
                        }
                    }
                    Err(e) => out.push(Entry::Problem(path.display().to_string(), e.to_string())),
                }
            }
            if found.is_empty() {
                out.push(Entry::Problem(
                    path.display().to_string(),
                    "no structure files in this directory (expected names ending in .pdb, \
                     .ent, .cif or .mmcif, optionally followed by .gz)"
                        .into(),
                ));
            }
            found.sort();
            out.extend(found.into_iter().map(|p| Entry::Input(Input::File(p))));
        } else if path.is_file() && is_archive_name(path) {
            named.archive = true;
            out.extend(list_members(path));
        } else if path.exists() {
            out.push(Entry::Input(Input::File(path.clone())));
        } else {
            out.push(Entry::Problem(
                path.display().to_string(),
                "no such file or directory".into(),
            ));
        }
    }
    Ok((out, named))
}

/// What kinds of paths were named.
#[derive(Debug, Default, Clone, Copy)]
struct Named {
    directory: bool,
    archive: bool,
}

/// Standard input's bytes, gunzipped if they are gzip data.
pub fn read_stdin() -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    text_of(bytes, "standard input")
}

/// `bytes` as text, gunzipped first if they are gzip data (at most
/// [`MAX_MEMBER_BYTES`] once gunzipped); `what` names them in messages.
fn text_of(mut bytes: Vec<u8>, what: &str) -> Result<String, String> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .take(MAX_MEMBER_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|e| format!("{what} is not valid gzip data ({e})"))?;
        if text.len() as u64 > MAX_MEMBER_BYTES {
            return Err(format!(
                "{what} is more than {MAX_MEMBER_BYTES} bytes once gunzipped, the limit"
            ));
        }
        bytes = text;
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{what} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// How to read every input.
#[derive(Debug, Clone)]
pub struct Reader {
    tokens: TokenChoice,
    b_column: BColumn,
    stdin_format: Option<FileFormat>,
    stdin: Option<Result<String, String>>,
}

impl Reader {
    /// A reader for `inputs`; reads standard input now if it is one of them.
    pub fn new(args: &ReadArgs, inputs: &[Input]) -> Result<Reader, Exit> {
        let stdin_format = args.input_format.map(|f| match f {
            InputFormat::Pdb => FileFormat::Pdb,
            InputFormat::Cif => FileFormat::Mmcif,
        });
        let mut reader = Reader {
            tokens: args.tokens,
            b_column: match args.b_column {
                BColumnChoice::Detect => BColumn::Detect,
                BColumnChoice::BFactor => BColumn::BFactor,
                BColumnChoice::Plddt => BColumn::Plddt,
            },
            stdin_format,
            stdin: None,
        };
        if inputs.iter().any(|i| matches!(i, Input::Stdin)) {
            if stdin_format.is_none() {
                return Err(Exit::Usage(
                    "reading standard input (-) needs --input-format pdb or --input-format cif"
                        .into(),
                ));
            }
            // An unreadable standard input fails that input only.
            reader.stdin = Some(read_stdin());
        }
        Ok(reader)
    }

    /// The format of standard input, if given.
    pub fn stdin_format(&self) -> Option<FileFormat> {
        self.stdin_format
    }

    /// Reads one input into tokens as asked; the message names the input.
    pub fn read(&self, input: &Input) -> Result<Structure, String> {
        let once = |mode: TokenMode| -> Result<Structure, String> {
            let options = ReadOptions::new()
                .with_tokens(mode)
                .with_b_column(self.b_column);
            match input {
                Input::File(path) => structure::read(path, &options).map_err(|e| e.to_string()),
                Input::Stdin => {
                    let text = match &self.stdin {
                        Some(Ok(text)) => text.as_str(),
                        Some(Err(problem)) => return Err(problem.clone()),
                        None => "",
                    };
                    let format = self.stdin_format.unwrap_or(FileFormat::Pdb);
                    structure::read_str(text, format, &options)
                        .map_err(|e| e.to_string().replace("<text>", "<stdin>"))
                }
                Input::Member(m) => {
                    let bytes = match m.data.as_deref() {
                        Some(Ok(bytes)) => bytes.clone(),
                        Some(Err(problem)) => return Err(problem.clone()),
                        None => return Err("the member was not read from its archive".into()),
                    };
                    let text = text_of(bytes, "the member")?;
                    let (format, _) =
                        FileFormat::from_path(Path::new(&m.name)).map_err(|e| e.to_string())?;
                    structure::read_str(&text, format, &options)
                        .map_err(|e| e.to_string().replace("<text>", &m.display()))
                }
            }
        };
        match self.tokens {
            TokenChoice::Ca => once(TokenMode::CaOnly),
            TokenChoice::Boltz2 => once(TokenMode::Boltz2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_item_once_in_order() {
        for len in 0..40 {
            for n in 1..12u64 {
                let mut covered = Vec::new();
                for k in 1..=n {
                    let r = Shard { k, n }.range(len);
                    // Lengths differ by at most one: floor(len/n) or ceil(len/n).
                    assert!(r.len() == len / n as usize || r.len() == len.div_ceil(n as usize));
                    covered.extend(r);
                }
                assert_eq!(covered, (0..len).collect::<Vec<_>>(), "len {len}, n {n}");
            }
        }
        // 10 items in 3 shards: 3, 3, 4 (floor(k·10/3) bounds 0, 3, 6, 10).
        let parts: Vec<_> = (1..=3).map(|k| Shard { k, n: 3 }.range(10)).collect();
        assert_eq!(parts, vec![0..3, 3..6, 6..10]);
        // No overflow for huge N: the last of u64::MAX parts of 5 items holds
        // the last item (bounds floor((N-1)·5/N) = 4 and 5), the first none.
        let last = Shard {
            k: u64::MAX,
            n: u64::MAX,
        };
        assert_eq!(last.range(5), 4..5);
        let first = Shard { k: 1, n: u64::MAX };
        assert_eq!(first.range(5), 0..0);
    }

    #[test]
    fn shard_specs_parse_or_say_what_was_expected() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { k: 2, n: 3 }));
        assert_eq!(Shard::parse("1/1"), Ok(Shard { k: 1, n: 1 }));
        for (bad, says) in [
            ("0/3", "K = 0 outside 1..=3"),
            ("4/3", "K = 4 outside 1..=3"),
            ("x/y", "K \"x\" is not a whole number"),
            ("1/0", "N = 0"),
            ("3", "no /"),
            ("-1/3", "not a whole number"),
        ] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains("expected K/N") && e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn lists_skip_blank_and_comment_lines() {
        let paths = parse_list("# header\na.pdb\n\n  b.cif  \r\n#c.pdb\n", "list").unwrap();
        assert_eq!(paths, vec![PathBuf::from("a.pdb"), PathBuf::from("b.cif")]);
        assert!(
            matches!(parse_list("a.pdb\n-\n", "list"), Err(Exit::Usage(m)) if m.contains("line 2"))
        );
    }
}
