//! A minimal CIF 1.1 tokenizer (crate-private): just enough to find the
//! `_atom_site` loop of an mmCIF file and the byte span of every value in it, so
//! that [`super::write`] can replace B-factors in place and leave every other byte
//! of the file as it was.
//!
//! Tokens are: reserved words (`data_…`, `loop_`, `save_…`, `global_`, `stop_`),
//! tags (`_category.item`), bare values, quoted values (`'…'` or `"…"`, closed by
//! the quote followed by whitespace) and semicolon text fields (a `;` in column 1
//! up to the next line that starts with `;`). Comments (`#` at the start of a
//! token) run to the end of the line.

use std::ops::Range;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// `data_NAME`, `save_…`, `global_` or `stop_`: ends a loop.
    Reserved,
    /// `loop_`.
    Loop,
    /// `_category.item`.
    Tag,
    /// A bare (unquoted) value.
    Bare,
    /// A quoted value; the span includes the quotes.
    Quoted,
    /// A semicolon text field; the span runs from the opening `;` to the closing one.
    Text,
}

/// One token: its kind, its byte span in the text and its (1-based) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    pub kind: TokKind,
    pub span: Range<usize>,
    pub line: usize,
}

impl Tok {
    /// Whether this token is a data value (bare, quoted or text field).
    pub fn is_value(&self) -> bool {
        matches!(self.kind, TokKind::Bare | TokKind::Quoted | TokKind::Text)
    }

    /// The value's content: quotes and text-field semicolons removed; `None` for
    /// CIF's null values `?` (unknown) and `.` (inapplicable) when bare.
    pub fn value<'t>(&self, text: &'t str) -> Option<&'t str> {
        let raw = &text[self.span.clone()];
        match self.kind {
            TokKind::Bare if raw == "?" || raw == "." => None,
            TokKind::Quoted => Some(&raw[1..raw.len() - 1]),
            TokKind::Text => Some(raw[1..raw.len() - 1].trim_end_matches(['\n', '\r'])),
            _ => Some(raw),
        }
    }
}

/// Splits `text` into CIF tokens, or says where the text stops being CIF (an
/// unterminated quote or text field).
pub(crate) fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let b = text.as_bytes();
    let n = b.len();
    let mut toks = Vec::new();
    let (mut i, mut line) = (0, 1);
    let mut line_start = true;
    while i < n {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
            line_start = true;
            continue;
        }
        if c == b';' && line_start {
            // A text field ends at the next line that starts with ';'.
            let Some(rel) = text[i + 1..].find("\n;") else {
                return Err(format!(
                    "line {line}: text field (';' in column 1) never closed: the file is truncated"
                ));
            };
            let end = i + 1 + rel + 2;
            toks.push(Tok {
                kind: TokKind::Text,
                span: i..end,
                line,
            });
            line += text[i..end].matches('\n').count();
            i = end;
            line_start = false;
            continue;
        }
        line_start = false;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < n && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'\'' || c == b'"' {
            // Closed by the same quote followed by whitespace or the end of text.
            let mut j = i + 1;
            loop {
                if j >= n || b[j] == b'\n' {
                    return Err(format!(
                        "line {line}: quoted value never closed: `{}`",
                        excerpt(&text[i..j.min(n)])
                    ));
                }
                if b[j] == c && (j + 1 == n || b[j + 1].is_ascii_whitespace()) {
                    break;
                }
                j += 1;
            }
            toks.push(Tok {
                kind: TokKind::Quoted,
                span: i..j + 1,
                line,
            });
            i = j + 1;
            continue;
        }
        let mut j = i;
        while j < n && !b[j].is_ascii_whitespace() {
            j += 1;
        }
        let word = &text[i..j];
        let lower = word.to_ascii_lowercase();
        let kind = if word.starts_with('_') {
            TokKind::Tag
        } else if lower == "loop_" {
            TokKind::Loop
        } else if lower.starts_with("data_")
            || lower.starts_with("save_")
            || lower == "global_"
            || lower == "stop_"
        {
            TokKind::Reserved
        } else {
            TokKind::Bare
        };
        toks.push(Tok {
            kind,
            span: i..j,
            line,
        });
        i = j;
    }
    Ok(toks)
}

/// The loop whose tags start with `prefix` (compared case-insensitively, e.g.
/// `"_atom_site."`): its lower-cased tags, its values (row-major) and the line of
/// its `loop_`. `None` if the text has no such loop.
pub(crate) fn find_loop<'a>(
    text: &str,
    toks: &'a [Tok],
    prefix: &str,
) -> Option<(Vec<String>, &'a [Tok], usize)> {
    let mut k = 0;
    while k < toks.len() {
        if toks[k].kind != TokKind::Loop {
            k += 1;
            continue;
        }
        let loop_line = toks[k].line;
        let tags_start = k + 1;
        let mut v = tags_start;
        while v < toks.len() && toks[v].kind == TokKind::Tag {
            v += 1;
        }
        let tags: Vec<String> = toks[tags_start..v]
            .iter()
            .map(|t| text[t.span.clone()].to_ascii_lowercase())
            .collect();
        let mut end = v;
        while end < toks.len() && toks[end].is_value() {
            end += 1;
        }
        if tags.first().is_some_and(|t| t.starts_with(prefix)) {
            return Some((tags, &toks[v..end], loop_line));
        }
        k = end.max(k + 1);
    }
    None
}

/// At most 60 characters of `s`, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    let s = s.trim_end();
    match s.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_every_kind() {
        let text = "data_x\n# comment\n_a.b 'it''s ok' \nloop_\n_atom_site.id\n_atom_site.name\n1 \"N A\"\n2 ?\n;text\nfield\n;\n. \n";
        let toks = tokenize(text).unwrap();
        let kinds: Vec<TokKind> = toks.iter().map(|t| t.kind).collect();
        use TokKind::*;
        assert_eq!(
            kinds,
            [Reserved, Tag, Quoted, Loop, Tag, Tag, Bare, Quoted, Bare, Bare, Text, Bare]
        );
        assert_eq!(toks[2].value(text), Some("it''s ok"));
        assert_eq!(toks[7].value(text), Some("N A"));
        assert_eq!(toks[9].value(text), None);
        assert_eq!(toks[10].value(text), Some("text\nfield"));
        assert_eq!(toks[10].line, 9);
        assert_eq!(toks[11].line, 12);
        let (tags, values, line) = find_loop(text, &toks, "_atom_site.").unwrap();
        assert_eq!(tags, ["_atom_site.id", "_atom_site.name"]);
        assert_eq!(values.len(), 6);
        assert_eq!(line, 4);
    }

    #[test]
    fn unterminated_quote_and_text_field() {
        assert!(tokenize("_a 'open\n").unwrap_err().contains("line 1"));
        assert!(tokenize("_a\n;never closed\n")
            .unwrap_err()
            .contains("line 2"));
    }
}
