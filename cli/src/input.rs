//! Input paths: files, directories searched for structure files, and standard
//! input; reading each into a [`Structure`].

use std::io::Read;
use std::path::{Path, PathBuf};

use bfactor::structure::{self, FileFormat, ReadOptions, Structure, TokenMode};

use crate::args::{InputFormat, ReadArgs, TokenChoice};
use crate::report::Exit;

/// One structure to process.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input, read once before the batch.
    Stdin,
}

impl Input {
    /// How the input is named in messages and tables.
    pub fn display(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".into(),
        }
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
}

/// Whether a file name is that of a structure file.
pub fn is_structure_name(path: &Path) -> bool {
    FileFormat::from_path(path).is_ok()
}

/// Expands the command line's paths. `-` may appear once.
pub fn expand(paths: &[PathBuf]) -> Result<Inputs, Exit> {
    let mut out = Inputs::default();
    let mut stdin = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin {
                return Err(Exit::Usage(
                    "standard input (-) can be named only once".into(),
                ));
            }
            stdin = true;
            out.inputs.push(Input::Stdin);
        } else if path.is_dir() {
            out.any_directory = true;
            let mut found: Vec<PathBuf> = Vec::new();
            for entry in walkdir::WalkDir::new(path).follow_links(true) {
                match entry {
                    Ok(e) => {
                        let hidden = e.file_name().to_string_lossy().starts_with('.');
                        if e.file_type().is_file() && !hidden && is_structure_name(e.path()) {
                            found.push(e.into_path());
                        }
                    }
                    Err(e) => out
                        .problems
                        .push((path.display().to_string(), e.to_string())),
                }
            }
            if found.is_empty() {
                out.problems.push((
                    path.display().to_string(),
                    "no structure files in this directory (expected names ending in .pdb, \
                     .ent, .cif or .mmcif, optionally followed by .gz)"
                        .into(),
                ));
            }
            found.sort();
            out.inputs.extend(found.into_iter().map(Input::File));
        } else if path.exists() {
            out.inputs.push(Input::File(path.clone()));
        } else {
            out.problems.push((
                path.display().to_string(),
                "no such file or directory".into(),
            ));
        }
    }
    Ok(out)
}

/// Standard input's bytes, gunzipped if they are gzip data.
pub fn read_stdin() -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut text)
            .map_err(|e| format!("standard input is not valid gzip data ({e})"))?;
        bytes = text;
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "standard input is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// How to read every input.
#[derive(Debug, Clone)]
pub struct Reader {
    tokens: TokenChoice,
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
            let options = ReadOptions::new().with_tokens(mode);
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
            }
        };
        match self.tokens {
            TokenChoice::Ca => once(TokenMode::CaOnly),
            TokenChoice::Boltz2 => once(TokenMode::Boltz2),
        }
    }
}
