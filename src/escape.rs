//! Names from input files are data, never code: the one place that turns a user-supplied string
//! (a layer name, a path on the command line) into text that is safe inside each kind of file
//! `gen` writes. Every writer calls the function for its target; none formats a name raw.
//!
//! All functions first make the text printable ASCII ([`visible`]): control characters, and
//! anything outside ASCII, become Rust-style escapes (`\n`, `\u{fc}`), so no name can start a
//! new line — the way out of every line comment (Verilog `//`, Tcl `#`, Python `#`) and out of a
//! Markdown table row. Then each target neutralises what still has meaning there.

/// Longest layer name `gen` accepts: the name becomes part of module and file names
/// (`<top>.v`, `<top>_ooc.xdc`, Verilator's `V<top>__Syms.h`), which most file systems limit
/// to 255 bytes.
pub const MAX_NAME_LEN: usize = 160;

/// `s` as printable ASCII: `\` becomes `\\`, control and non-ASCII characters become Rust
/// escapes (`\n`, `\t`, `\u{fc}`); printable ASCII other than `\` is kept.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.extend(c.escape_default()),
        }
    }
    out
}

/// Text for inside a C or Verilog block comment (`/* … */`) or a C/Verilog `//` comment:
/// no comment terminator or opener, no trigraph (`??/` is a backslash in strict ISO C and
/// C++ before 17, which would continue a `//` comment onto the next line).
pub fn c_comment(s: &str) -> String {
    let mut out = visible(s);
    // Repeat until stable: "*/*/" would otherwise leave a terminator after one pass.
    loop {
        let next = out
            .replace("*/", "* /")
            .replace("/*", "/ *")
            .replace("??", "? ?");
        if next == out {
            return out;
        }
        out = next;
    }
}

/// Text for inside a Verilog `//` comment (the same rules as C: Verilog tools also honour
/// `/* */` and the C preprocessor is sometimes run over HDL).
pub fn verilog_comment(s: &str) -> String {
    c_comment(s)
}

/// The contents of a C string literal (between the quotes): `"`, `\` and `?` escaped
/// (`\?` stops trigraphs), every byte outside printable ASCII as a three-digit octal escape.
pub fn c_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'"' | b'\\' | b'?' => {
                out.push('\\');
                out.push(b as char);
            }
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// Text for a Tcl `#` comment: printable ASCII, and braces escaped — a comment inside a braced
/// body still counts braces, so an unbalanced `{` in a name would swallow the rest of a proc.
/// A trailing `\` cannot continue the comment: [`visible`] doubles every backslash.
pub fn tcl_comment(s: &str) -> String {
    visible(s).replace('{', "\\{").replace('}', "\\}")
}

/// `s` as one Tcl word: bare when it is plain, in braces when that keeps it literal, else
/// with every special character backslash-escaped. Control and non-ASCII characters are
/// always `\uXXXX` escapes (a raw carriage return ends a word, and the files stay ASCII).
pub fn tcl_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/+=,<>@%".contains(c));
    if plain {
        return s.to_string();
    }
    // Braces keep everything literal unless the text has a backslash, unbalanced braces or
    // characters that must be escaped.
    let mut depth = 0i64;
    let balanced = s.chars().all(|c| {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        depth >= 0
    }) && depth == 0;
    let printable = s.chars().all(|c| (' '..='~').contains(&c));
    if balanced && printable && !s.contains('\\') {
        return format!("{{{s}}}");
    }
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            c if "{}[]$\\\"; \t".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out
}

/// Whether `s` is made of ASCII letters, digits, `.`, `-` and `_` only (and is not empty):
/// safe as it is in every target, and readable in a Markdown code span.
fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Text for Markdown prose or a table cell. A plain name ([`is_plain`]) stays as it is;
/// anything else becomes printable ASCII with every ASCII punctuation character
/// backslash-escaped (CommonMark allows that for all of them), so a name can neither end a
/// table cell (`|`), open a code span or emphasis, nor start raw HTML.
pub fn markdown(s: &str) -> String {
    if is_plain(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() * 2);
    for c in visible(s).chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A name for Markdown as code: `` `block1.act` `` when plain, else [`markdown`] text (a code
/// span cannot escape a backtick).
pub fn markdown_code(s: &str) -> String {
    if is_plain(s) {
        format!("`{s}`")
    } else {
        markdown(s)
    }
}

/// A file-name stem for `name`: ASCII letters, digits, `.`, `-`, `_` kept, everything else
/// `_`; never empty, never a leading `.` (no hidden files, no `..`).
pub fn file_stem(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "x*/ int injected_c = 1; /* \" ' \\ $x [exit 1] {a} ??/ `|<b>&\u{fc}\n# next";

    #[test]
    fn visible_text_is_one_printable_ascii_line() {
        let v = visible(HOSTILE);
        assert!(v.chars().all(|c| (' '..='~').contains(&c)), "{v}");
        assert!(v.contains("\\u{fc}") && v.contains("\\n# next"), "{v}");
        assert_eq!(visible("a\\b"), "a\\\\b");
    }

    #[test]
    fn c_comments_cannot_be_closed_opened_or_continued() {
        for s in [HOSTILE, "*/*/", "**//", "/*/", "???/", "a*", "a/"] {
            let c = c_comment(s);
            assert!(
                !c.contains("*/") && !c.contains("/*") && !c.contains("??"),
                "{s} -> {c}"
            );
            // `a*` followed by the closing `*/` of our own comment is still fine: the writer
            // puts a space before it.
        }
    }

    #[test]
    fn c_strings_escape_quotes_backslashes_trigraphs_and_bytes() {
        assert_eq!(c_string("a\"b\\c??/d"), "a\\\"b\\\\c\\?\\?/d");
        assert_eq!(c_string("\u{fc}\n"), "\\303\\274\\012");
    }

    #[test]
    fn tcl_comments_keep_braces_balanced_and_backslashes_even() {
        let t = tcl_comment("a{b}\\");
        assert_eq!(t, "a\\{b\\}\\\\");
    }

    #[test]
    fn tcl_words_escape_control_and_non_ascii_characters() {
        assert_eq!(tcl_word("plain_word"), "plain_word");
        assert_eq!(tcl_word("a b"), "{a b}");
        assert_eq!(tcl_word("a\rb"), "a\\u000Db");
        assert_eq!(tcl_word("\u{fc}[x]"), "\\u00FC\\[x\\]");
        assert_eq!(tcl_word("{"), "\\{");
    }

    #[test]
    fn markdown_escapes_every_punctuation_character() {
        assert_eq!(markdown("a|b`c*d<e"), "a\\|b\\`c\\*d\\<e");
        assert_eq!(markdown("block1.act"), "block1.act");
        assert_eq!(markdown_code("block1.act"), "`block1.act`");
        assert_eq!(markdown_code("a`b"), "a\\`b");
        assert!(!markdown("x\ny").contains('\n'));
    }

    #[test]
    fn file_stems_are_plain_and_never_hidden() {
        assert_eq!(file_stem("block1.act"), "block1.act");
        assert_eq!(file_stem("../x y"), "_.._x_y");
        assert_eq!(file_stem(""), "_");
        assert_eq!(file_stem(".."), "_..");
    }
}
