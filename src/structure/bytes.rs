//! [`Structure::to_bytes`] and [`Structure::from_bytes`]: a structure as bytes and back.

use std::collections::HashMap;
use std::path::PathBuf;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::read::{parse_text, ReadOptions};
use super::{BColumn, FileFormat, Structure, TokenMode};
use crate::{Error, Result};

/// The metadata key naming the format, and its version.
const FORMAT: &str = "bfactor.structure";
const VERSION: &str = "1";
const WHAT: &str = "<structure bytes>";

fn bad(message: impl Into<String>) -> Error {
    Error::format(WHAT, message)
}

impl Structure {
    /// The structure as bytes that [`Structure::from_bytes`] reads back, to send
    /// it to another process (Python's `pickle`, Dask, Ray) or store it.
    ///
    /// The bytes are a safetensors file: the structure's text as one `U8` tensor
    /// `source` (a file read as Latin-1 as its original bytes), and in the
    /// metadata how it was read (format, [`ReadOptions`]), its path and its
    /// warnings. `from_bytes` reads the text again with those options, so the
    /// tokens, arrays and writing in place are the original's, and so are the
    /// warnings. An [`Error::Format`] for a structure without source text (made
    /// by [`super::from_atoms`]).
    ///
    /// ```
    /// use bfactor::structure::{self, ReadOptions, Structure};
    ///
    /// let st = structure::read("data/crystal/1UBQ.pdb.gz", &ReadOptions::new())?;
    /// let back = Structure::from_bytes(&st.to_bytes()?)?;
    /// assert_eq!(back.tokens().len(), st.tokens().len());
    /// assert_eq!(back.warnings(), st.warnings());
    /// # Ok::<(), bfactor::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let Some(source) = &self.source else {
            return Err(bad(
                "the structure has no source text (it was made from atoms): it cannot be \
                 serialized",
            ));
        };
        let data: Vec<u8> = if self.latin1 {
            source.chars().map(|c| c as u32 as u8).collect()
        } else {
            source.as_bytes().to_vec()
        };
        let view =
            TensorView::new(Dtype::U8, vec![data.len()], &data).map_err(|e| bad(e.to_string()))?;
        let o = &self.options;
        let mut meta = HashMap::from([
            (FORMAT.to_string(), VERSION.to_string()),
            ("format".into(), format_name(self.format).into()),
            ("tokens".into(), token_name(o.tokens).into()),
            ("waters".into(), o.waters.to_string()),
            ("hydrogens".into(), o.hydrogens.to_string()),
            ("max_bytes".into(), o.max_bytes.to_string()),
            ("b_column".into(), b_column_name(o.b_column).into()),
            ("latin1".into(), self.latin1.to_string()),
            ("warnings".into(), self.warnings.len().to_string()),
        ]);
        if let Some(path) = &self.path {
            let path = path
                .to_str()
                .ok_or_else(|| bad(format!("the path {} is not UTF-8", path.display())))?;
            meta.insert("path".into(), path.to_string());
        }
        for (i, w) in self.warnings.iter().enumerate() {
            meta.insert(format!("warning.{i}"), w.clone());
        }
        safetensors::serialize([("source", view)], Some(meta)).map_err(|e| bad(e.to_string()))
    }

    /// A structure from [`Structure::to_bytes`]' bytes. [`Error::Format`] if they
    /// are not such bytes (naming what is missing or wrong), or if the text does
    /// not read (as [`super::read_str`] would say).
    pub fn from_bytes(bytes: &[u8]) -> Result<Structure> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let empty = HashMap::new();
        let meta = header.metadata().as_ref().unwrap_or(&empty);
        let get = |key: &str| -> Result<&String> {
            meta.get(key)
                .ok_or_else(|| bad(format!("no `{key}` entry in the metadata")))
        };
        match meta.get(FORMAT) {
            Some(v) if v == VERSION => {}
            Some(v) => {
                return Err(bad(format!(
                    "version {v:?} of {FORMAT}, expected {VERSION:?}"
                )))
            }
            None => return Err(bad(format!("no `{FORMAT}` entry: not structure bytes"))),
        }
        let flag = |key: &str| -> Result<bool> {
            get(key)?
                .parse()
                .map_err(|_| bad(format!("`{key}` is {:?}, expected true or false", get(key))))
        };
        let format = match get("format")?.as_str() {
            "pdb" => FileFormat::Pdb,
            "cif" => FileFormat::Mmcif,
            other => {
                return Err(bad(format!(
                    "format {other:?}, expected \"pdb\" or \"cif\""
                )))
            }
        };
        let tokens = match get("tokens")?.as_str() {
            "boltz2" => TokenMode::Boltz2,
            "ca" => TokenMode::CaOnly,
            other => {
                return Err(bad(format!(
                    "tokens {other:?}, expected \"boltz2\" or \"ca\""
                )))
            }
        };
        let max_bytes = get("max_bytes")?
            .parse::<u64>()
            .map_err(|_| bad("`max_bytes` is not a whole number"))?;
        // Bytes written before the option existed read as Detect, its default.
        let b_column = match meta.get("b_column").map_or("detect", String::as_str) {
            "detect" => BColumn::Detect,
            "b-factor" => BColumn::BFactor,
            "plddt" => BColumn::Plddt,
            other => {
                return Err(bad(format!(
                    "b_column {other:?}, expected \"detect\", \"b-factor\" or \"plddt\""
                )))
            }
        };
        let options = ReadOptions::new()
            .with_tokens(tokens)
            .with_b_column(b_column)
            .with_waters(flag("waters")?)
            .with_hydrogens(flag("hydrogens")?)
            .with_max_decompressed_bytes(max_bytes);
        let latin1 = flag("latin1")?;
        let n_warnings = get("warnings")?
            .parse::<usize>()
            .map_err(|_| bad("`warnings` is not a whole number"))?;
        let warnings = (0..n_warnings)
            .map(|i| get(&format!("warning.{i}")).cloned())
            .collect::<Result<Vec<_>>>()?;
        let source = tensors.tensor("source").map_err(|e| bad(e.to_string()))?;
        if source.dtype() != Dtype::U8 || source.shape().len() != 1 {
            return Err(bad(format!(
                "`source` is {:?} {:?}, expected U8 with one axis",
                source.dtype(),
                source.shape()
            )));
        }
        let data = source.data();
        let text = if latin1 {
            data.iter().map(|&b| char::from(b)).collect()
        } else {
            String::from_utf8(data.to_vec()).map_err(|e| {
                bad(format!(
                    "`source` is not UTF-8 text ({e}), and latin1 is false"
                ))
            })?
        };
        let shown = meta.get("path").map_or(WHAT, String::as_str).to_string();
        let mut st = parse_text(text, format, &options, &shown)?;
        st.latin1 = latin1;
        st.path = meta.get("path").map(PathBuf::from);
        st.warnings = warnings;
        Ok(st)
    }
}

fn format_name(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Pdb => "pdb",
        FileFormat::Mmcif => "cif",
    }
}

fn b_column_name(b_column: BColumn) -> &'static str {
    match b_column {
        BColumn::Detect => "detect",
        BColumn::BFactor => "b-factor",
        BColumn::Plddt => "plddt",
    }
}

fn token_name(tokens: TokenMode) -> &'static str {
    match tokens {
        TokenMode::Boltz2 => "boltz2",
        TokenMode::CaOnly => "ca",
    }
}
