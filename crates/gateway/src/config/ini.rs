//! The INI dialect of etc/tern.ini, read line by line.
//!
//! - `[kind]` or `[kind:name]` sections; kinds and keys are
//!   case-insensitive (`sessionInitTimerSecs` == `sessioninittimersecs`),
//!   names keep their case (a system_id is case-sensitive).
//! - `key = value` (or `key: value`); values are taken literally, so a
//!   regex keeps its backslashes (`^\+33\d+$`).
//! - Comments: a line starting with `;` or `#`, or ` ;` / ` #` after
//!   whitespace at the end of a value. A value that needs ` ;` is quoted:
//!   `"a ;b"`.
//! - A section or key given twice is an error naming both lines.
//!
//! Why not the `config` crate: its INI reader (rust-ini) drops backslashes
//! (`^\+33` becomes `^+33`, an invalid regex), keeps inline comments in the
//! value, and silently merges a section written twice. Operators' regexes
//! and credentials must arrive exactly as written.

use std::collections::BTreeMap;

/// One `key = value` with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, lower-cased.
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// One section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `smpp-server`, `user`, `mt-route`...: lower-cased.
    pub kind: String,
    /// The part after `:`, as written; empty for singleton sections.
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

impl Section {
    /// `user:demo`, or `smpp-server`.
    pub fn title(&self) -> String {
        if self.name.is_empty() {
            self.kind.clone()
        } else {
            format!("{}:{}", self.kind, self.name)
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// An error in the file's structure, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub section: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

/// Parse a whole file. All errors are collected, not just the first.
pub fn parse(text: &str) -> Result<Vec<Section>, Vec<SyntaxError>> {
    let mut sections: Vec<Section> = Vec::new();
    let mut errors = Vec::new();
    let mut seen_sections: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with(';') || l.starts_with('#') {
            continue;
        }
        if let Some(rest) = l.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                errors.push(SyntaxError {
                    line,
                    section: None,
                    key: None,
                    message: format!("section header without ']': {l}"),
                });
                continue;
            };
            let after = rest[end + 1..].trim();
            if !after.is_empty() && !after.starts_with(';') && !after.starts_with('#') {
                errors.push(SyntaxError {
                    line,
                    section: None,
                    key: None,
                    message: format!("unexpected text after the section header: {after}"),
                });
            }
            let title = rest[..end].trim();
            let (kind, name) = match title.split_once(':') {
                Some((k, n)) => (k.trim().to_ascii_lowercase(), n.trim().to_string()),
                None => (title.to_ascii_lowercase(), String::new()),
            };
            if kind.is_empty() {
                errors.push(SyntaxError {
                    line,
                    section: None,
                    key: None,
                    message: "empty section name".into(),
                });
            }
            if let Some(first) = seen_sections.insert((kind.clone(), name.clone()), line) {
                errors.push(SyntaxError {
                    line,
                    section: Some(title.to_string()),
                    key: None,
                    message: format!("section written twice (first on line {first})"),
                });
            }
            sections.push(Section {
                kind,
                name,
                line,
                entries: Vec::new(),
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            errors.push(SyntaxError {
                line,
                section: None,
                key: None,
                message: "a setting before any [section]".into(),
            });
            continue;
        };
        let Some(sep) = l.find(['=', ':']) else {
            errors.push(SyntaxError {
                line,
                section: Some(section.title()),
                key: None,
                message: format!("expected `key = value`, got {l:?}"),
            });
            continue;
        };
        let key = l[..sep].trim().to_ascii_lowercase();
        if key.is_empty() {
            errors.push(SyntaxError {
                line,
                section: Some(section.title()),
                key: None,
                message: "a value without a key".into(),
            });
            continue;
        }
        let value = match value_of(&l[sep + 1..]) {
            Ok(v) => v,
            Err(message) => {
                errors.push(SyntaxError {
                    line,
                    section: Some(section.title()),
                    key: Some(key),
                    message,
                });
                continue;
            }
        };
        if let Some(first) = section.get(&key) {
            errors.push(SyntaxError {
                line,
                section: Some(section.title()),
                key: Some(key.clone()),
                message: format!("key written twice (first on line {})", first.line),
            });
            continue;
        }
        section.entries.push(Entry { key, value, line });
    }
    if errors.is_empty() {
        Ok(sections)
    } else {
        Err(errors)
    }
}

/// A value without its trailing comment, unquoted if quoted.
pub fn value_of(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if let Some(rest) = v.strip_prefix('"') {
        let Some(end) = rest.find('"') else {
            return Err("a quoted value without its closing quote".into());
        };
        let after = rest[end + 1..].trim();
        if !after.is_empty() && !after.starts_with(';') && !after.starts_with('#') {
            return Err(format!("unexpected text after the quoted value: {after}"));
        }
        return Ok(rest[..end].to_string());
    }
    // A comment starts at ` ;` or ` #` (any whitespace before it).
    let bytes = v.as_bytes();
    let mut cut = v.len();
    for i in 1..bytes.len() {
        if (bytes[i] == b';' || bytes[i] == b'#') && bytes[i - 1].is_ascii_whitespace() {
            cut = i;
            break;
        }
    }
    Ok(v[..cut].trim_end().to_string())
}

/// The environment variable that overrides `key` of `section`:
/// `TERN_<SECTION>__<KEY>`, upper-cased, every character other than a
/// letter or digit written `_` (`[user:demo] password` is
/// `TERN_USER_DEMO__PASSWORD`).
pub fn env_name(section_title: &str, key: &str) -> String {
    let up = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("TERN_{}__{}", up(section_title), up(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_dialect() {
        let text = "; top comment\n[smpp-server]\nsessionInitTimerSecs = 30 ; seconds\nport=2775\n\n[filter:fr]\ntype = destination_addr\nvalue = ^\\+?33\\d+$   # France\n[user:Demo]\npassword = \"a ;b\"\nnote: x#y\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].title(), "smpp-server");
        assert_eq!(s[0].get("sessioninittimersecs").unwrap().value, "30");
        assert_eq!(s[0].get("sessioninittimersecs").unwrap().line, 3);
        assert_eq!(s[1].get("value").unwrap().value, "^\\+?33\\d+$");
        assert_eq!(s[2].name, "Demo");
        assert_eq!(s[2].get("password").unwrap().value, "a ;b");
        assert_eq!(s[2].get("note").unwrap().value, "x#y");
    }

    #[test]
    fn duplicates_and_junk_are_errors_with_lines() {
        let text = "[user:a]\nx = 1\nX = 2\n[user:a]\njunk\n[nope\n";
        let e = parse(text).unwrap_err();
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        assert!(e[0].message.contains("first on line 2"));
        assert!(e[1].message.contains("first on line 1"));
        assert!(parse("x = 1\n").is_err());
        assert!(parse("[a]\nv = \"open\n").is_err());
    }

    #[test]
    fn env_names() {
        assert_eq!(
            env_name("user:demo", "password"),
            "TERN_USER_DEMO__PASSWORD"
        );
        assert_eq!(env_name("smpp-server", "port"), "TERN_SMPP_SERVER__PORT");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn plain_values_come_back(v in "[A-Za-z0-9^$\\\\+*.()\\[\\]{}|?-]{1,40}") {
            let text = format!("[s]\nk = {v}\n");
            let s = parse(&text).unwrap();
            proptest::prop_assert_eq!(&s[0].get("k").unwrap().value, &v);
        }
    }
}
