//! A minimal CIF 1.1 lexer (crate-private): just enough to find the
//! `_atom_site` loop of an mmCIF file and the byte span of every value in it, so
//! that [`super::write`] can replace B-factors in place and leave every other byte
//! of the file as it was.
//!
//! Lexemes are: reserved words (`data_…`, `loop_`, `save_…`, `global_`, `stop_`),
//! tags (`_category.item`), bare values, quoted values (`'…'` or `"…"`, closed by
//! the quote followed by whitespace) and semicolon text fields (a `;` in column 1
//! up to the next line that starts with `;`). Comments (`#` at the start of a
//! lexeme) run to the end of the line.

use std::ops::Range;

/// What a lexeme is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LexemeKind {
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

/// One lexeme: its kind, its byte span in the text and its (1-based) line,
/// held in 16 bytes (a large file has tens of millions of lexemes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lexeme {
    pub kind: LexemeKind,
    start: u32,
    end: u32,
    line: u32,
}

/// The longest text [`lex`] takes, in bytes: its offsets and line numbers are
/// held in 32 bits.
pub(crate) const MAX_TEXT: usize = u32::MAX as usize - 1;

impl Lexeme {
    /// A lexeme of a text of at most [`MAX_TEXT`] bytes.
    fn new(kind: LexemeKind, span: Range<usize>, line: usize) -> Self {
        Self {
            kind,
            start: span.start as u32,
            end: span.end as u32,
            line: line as u32,
        }
    }

    /// The lexeme's byte span in the text.
    pub fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The lexeme's (1-based) line.
    pub fn line(&self) -> usize {
        self.line as usize
    }

    /// Whether this lexeme is a data value (bare, quoted or text field).
    pub fn is_value(&self) -> bool {
        matches!(
            self.kind,
            LexemeKind::Bare | LexemeKind::Quoted | LexemeKind::Text
        )
    }

    /// The value's content: quotes and text-field semicolons removed; `None` for
    /// CIF's null values `?` (unknown) and `.` (inapplicable) when bare.
    pub fn value<'t>(&self, text: &'t str) -> Option<&'t str> {
        let raw = &text[self.span()];
        match self.kind {
            LexemeKind::Bare if raw == "?" || raw == "." => None,
            LexemeKind::Quoted => Some(&raw[1..raw.len() - 1]),
            LexemeKind::Text => Some(raw[1..raw.len() - 1].trim_end_matches(['\n', '\r'])),
            _ => Some(raw),
        }
    }
}

/// Splits `text` into CIF lexemes, or says where the text stops being CIF (an
/// unterminated quote or text field).
pub(crate) fn lex(text: &str) -> Result<Vec<Lexeme>, String> {
    if text.len() > MAX_TEXT {
        return Err(format!(
            "the text ({} bytes) is longer than the {MAX_TEXT} bytes the mmCIF reader takes",
            text.len()
        ));
    }
    let b = text.as_bytes();
    let n = b.len();
    let mut lexemes = Vec::new();
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
            lexemes.push(Lexeme::new(LexemeKind::Text, i..end, line));
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
            lexemes.push(Lexeme::new(LexemeKind::Quoted, i..j + 1, line));
            i = j + 1;
            continue;
        }
        let mut j = i;
        while j < n && !b[j].is_ascii_whitespace() {
            j += 1;
        }
        let word = &b[i..j];
        let prefix = |p: &[u8]| {
            word.get(..p.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(p))
        };
        let kind = if word[0] == b'_' {
            LexemeKind::Tag
        } else if word.eq_ignore_ascii_case(b"loop_") {
            LexemeKind::Loop
        } else if prefix(b"data_")
            || prefix(b"save_")
            || word.eq_ignore_ascii_case(b"global_")
            || word.eq_ignore_ascii_case(b"stop_")
        {
            LexemeKind::Reserved
        } else {
            LexemeKind::Bare
        };
        lexemes.push(Lexeme::new(kind, i..j, line));
        i = j;
    }
    Ok(lexemes)
}

/// The loop whose tags start with `prefix` (compared case-insensitively, e.g.
/// `"_atom_site."`): its lower-cased tags, its values (row-major) and the line of
/// its `loop_`. `None` if the text has no such loop.
pub(crate) fn find_loop<'a>(
    text: &str,
    lexemes: &'a [Lexeme],
    prefix: &str,
) -> Option<(Vec<String>, &'a [Lexeme], usize)> {
    let mut k = 0;
    while k < lexemes.len() {
        if lexemes[k].kind != LexemeKind::Loop {
            k += 1;
            continue;
        }
        let loop_line = lexemes[k].line();
        let tags_start = k + 1;
        let mut v = tags_start;
        while v < lexemes.len() && lexemes[v].kind == LexemeKind::Tag {
            v += 1;
        }
        let tags: Vec<String> = lexemes[tags_start..v]
            .iter()
            .map(|t| text[t.span()].to_ascii_lowercase())
            .collect();
        let mut end = v;
        while end < lexemes.len() && lexemes[end].is_value() {
            end += 1;
        }
        if tags.first().is_some_and(|t| t.starts_with(prefix)) {
            return Some((tags, &lexemes[v..end], loop_line));
        }
        k = end.max(k + 1);
    }
    None
}

/// Calls `f(tag, value, line)` for every value of every item whose lower-cased
/// tag `wanted` accepts, in file order: single items (`_tag value`) and loop
/// columns alike (`value` is `None` for `?` and `.`).
pub(crate) fn for_each_item<'t>(
    text: &'t str,
    lexemes: &[Lexeme],
    wanted: impl Fn(&str) -> bool,
    mut f: impl FnMut(&str, Option<&'t str>, usize),
) {
    let mut k = 0;
    while k < lexemes.len() {
        match lexemes[k].kind {
            LexemeKind::Loop => {
                let tags_start = k + 1;
                let mut v = tags_start;
                while v < lexemes.len() && lexemes[v].kind == LexemeKind::Tag {
                    v += 1;
                }
                let mut end = v;
                while end < lexemes.len() && lexemes[end].is_value() {
                    end += 1;
                }
                let tags: Vec<String> = lexemes[tags_start..v]
                    .iter()
                    .map(|t| text[t.span()].to_ascii_lowercase())
                    .collect();
                let columns: Vec<usize> = (0..tags.len()).filter(|&c| wanted(&tags[c])).collect();
                if !columns.is_empty() {
                    for row in lexemes[v..end].chunks(tags.len()) {
                        for &c in &columns {
                            if let Some(value) = row.get(c) {
                                f(&tags[c], value.value(text), value.line());
                            }
                        }
                    }
                }
                k = end.max(k + 1);
            }
            LexemeKind::Tag => {
                let tag = text[lexemes[k].span()].to_ascii_lowercase();
                match lexemes.get(k + 1) {
                    Some(value) if value.is_value() => {
                        if wanted(&tag) {
                            f(&tag, value.value(text), lexemes[k].line());
                        }
                        k += 2;
                    }
                    _ => k += 1,
                }
            }
            _ => k += 1,
        }
    }
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
    fn lexemes_of_every_kind() {
        let text = "data_x\n# comment\n_a.b 'it''s ok' \nloop_\n_atom_site.id\n_atom_site.name\n1 \"N A\"\n2 ?\n;text\nfield\n;\n. \n";
        let lexemes = lex(text).unwrap();
        let kinds: Vec<LexemeKind> = lexemes.iter().map(|t| t.kind).collect();
        use LexemeKind::*;
        assert_eq!(
            kinds,
            [Reserved, Tag, Quoted, Loop, Tag, Tag, Bare, Quoted, Bare, Bare, Text, Bare]
        );
        assert_eq!(lexemes[2].value(text), Some("it''s ok"));
        assert_eq!(lexemes[7].value(text), Some("N A"));
        assert_eq!(lexemes[9].value(text), None);
        assert_eq!(lexemes[10].value(text), Some("text\nfield"));
        assert_eq!(lexemes[10].line(), 9);
        assert_eq!(lexemes[11].line(), 12);
        let (tags, values, line) = find_loop(text, &lexemes, "_atom_site.").unwrap();
        assert_eq!(tags, ["_atom_site.id", "_atom_site.name"]);
        assert_eq!(values.len(), 6);
        assert_eq!(line, 4);
    }

    #[test]
    fn unterminated_quote_and_text_field() {
        assert!(lex("_a 'open\n").unwrap_err().contains("line 1"));
        assert!(lex("_a\n;never closed\n").unwrap_err().contains("line 2"));
    }
}
