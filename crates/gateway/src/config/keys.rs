//! A section's key table, and reading a section against it.
//!
//! Each section kind declares its keys once, in a [`key_table!`]: a key's
//! name, what its absence means (a default, written as an operator would
//! write it and read by the key's own parser; `required`; or `optional`,
//! left to the section's reader) and the parser of its value. That one
//! table is both the list of keys the section accepts (any other is an
//! "unknown key" error listing them in table order) and how each is read
//! ([`Keys::get`]).
//!
//! Reading never stops at an error: a bad value is reported with the file,
//! line, section and key and why, and the default stands in, so one pass
//! reports everything. A value from the environment
//! (`TERN_<SECTION>__<KEY>`, [`ini::env_name`]) wins over the file, and an
//! error in it names the variable.
//!
//! This module knows no section: the tables live with their sections
//! (`server.rs`, `users.rs`, `connectors.rs`, `filters.rs`, `routes.rs`).

use std::cell::RefCell;

use super::ConfigError;
use super::ini::{self, Section};

/// Reads a value's text; the error says why it is wrong.
pub(super) type Parse<T> = fn(&str) -> Result<T, String>;

/// A key with a default: `default` is text as in the file, read by `parse`.
pub(super) struct Key<T> {
    pub name: &'static str,
    pub default: &'static str,
    pub parse: Parse<T>,
}

/// A key without a default: `required` (its absence is an error) or
/// not, when the section's reader decides what its absence means (a
/// group's value, another key's, a computed one).
pub(super) struct Bare<T> {
    pub name: &'static str,
    pub required: bool,
    pub parse: Parse<T>,
}

/// What both kinds of key share.
pub(super) trait Spec {
    type Value;
    /// What [`Keys::get`] gives: the value for a [`Key`], an `Option` for
    /// a [`Bare`] one (`None` when missing or bad, already reported).
    type Read;
    fn name(&self) -> &'static str;
    fn parser(&self) -> Parse<Self::Value>;
    fn read(&self, keys: &Keys<'_, '_>) -> Self::Read;
    /// The default read by its own parser: `Ok` when there is none.
    #[cfg(test)]
    fn check_default(&self) -> Result<(), String> {
        Ok(())
    }
}

impl<T> Key<T> {
    /// The default as a value. Every table's defaults are read by its
    /// section's tests (`bad_defaults`), so this cannot fail at run time.
    fn default_value(&self) -> T {
        (self.parse)(self.default)
            .unwrap_or_else(|e| panic!("the default of `{}` does not parse: {e}", self.name))
    }
}

impl<T> Spec for Key<T> {
    type Value = T;
    type Read = T;
    fn name(&self) -> &'static str {
        self.name
    }
    fn parser(&self) -> Parse<T> {
        self.parse
    }
    fn read(&self, keys: &Keys<'_, '_>) -> T {
        keys.get_or(self, None)
    }
    #[cfg(test)]
    fn check_default(&self) -> Result<(), String> {
        (self.parse)(self.default).map(|_| ())
    }
}

impl<T> Spec for Bare<T> {
    type Value = T;
    type Read = Option<T>;
    fn name(&self) -> &'static str {
        self.name
    }
    fn parser(&self) -> Parse<T> {
        self.parse
    }
    fn read(&self, keys: &Keys<'_, '_>) -> Option<T> {
        if self.required {
            keys.require(self)
        } else {
            keys.written(self)
        }
    }
}

/// Declares one section kind's key table: a module holding a constant per
/// key, `names()` (every key, in table order) and, for tests,
/// `bad_defaults()`.
///
/// ```text
/// key_table! {
///     pub(super) mod connector {
///         HOST: String = "host", required, trimmed;
///         PASSWORD: Secret = "password", default "", secret;
///         SUBMIT_ID_FORMAT: IdFormat = "submit_id_format", optional, id_format;
///         ..other; // the keys of the table `other` (a sibling), here
///     }
/// }
/// ```
macro_rules! key_table {
    ($(#[$doc:meta])* $vis:vis mod $table:ident { $($rows:tt)* }) => {
        $(#[$doc])*
        $vis mod $table {
            #[allow(unused_imports)]
            use super::*;

            $crate::config::keys::key_table!(@consts $($rows)*);

            /// Every key of the section, in the order an "unknown key"
            /// error lists them.
            pub fn names() -> Vec<&'static str> {
                $crate::config::keys::key_table!(@names [] $($rows)*)
            }

            /// The defaults that their own parser rejects (none, or a
            /// table is wrong).
            #[cfg(test)]
            pub fn bad_defaults() -> Vec<String> {
                let mut bad: Vec<String> = Vec::new();
                $crate::config::keys::key_table!(@defaults bad $($rows)*);
                bad
            }
        }
    };

    (@consts) => {};
    (@consts .. $sub:ident; $($rest:tt)*) => {
        $crate::config::keys::key_table!(@consts $($rest)*);
    };
    (@consts $key:ident : $ty:ty = $name:literal, $kind:ident $($default:literal)?, $parse:expr;
     $($rest:tt)*) => {
        $crate::config::keys::key_table!(@const $kind $key, $ty, $name, $parse $(, $default)?);
        $crate::config::keys::key_table!(@consts $($rest)*);
    };

    (@const default $key:ident, $ty:ty, $name:literal, $parse:expr, $default:literal) => {
        pub const $key: $crate::config::keys::Key<$ty> =
            $crate::config::keys::Key { name: $name, default: $default, parse: $parse };
    };
    (@const required $key:ident, $ty:ty, $name:literal, $parse:expr) => {
        pub const $key: $crate::config::keys::Bare<$ty> =
            $crate::config::keys::Bare { name: $name, required: true, parse: $parse };
    };
    (@const optional $key:ident, $ty:ty, $name:literal, $parse:expr) => {
        pub const $key: $crate::config::keys::Bare<$ty> =
            $crate::config::keys::Bare { name: $name, required: false, parse: $parse };
    };

    (@names [$($parts:tt)*]) => {
        [$($parts)*].concat()
    };
    (@names [$($parts:tt)*] .. $sub:ident; $($rest:tt)*) => {
        $crate::config::keys::key_table!(@names [$($parts)* &super::$sub::names()[..],] $($rest)*)
    };
    (@names [$($parts:tt)*] $key:ident : $ty:ty = $name:literal, $kind:ident $($default:literal)?,
     $parse:expr; $($rest:tt)*) => {
        $crate::config::keys::key_table!(@names [$($parts)* &[$name][..],] $($rest)*)
    };

    (@defaults $bad:ident) => {};
    (@defaults $bad:ident .. $sub:ident; $($rest:tt)*) => {
        $crate::config::keys::key_table!(@defaults $bad $($rest)*);
    };
    (@defaults $bad:ident $key:ident : $ty:ty = $name:literal, $kind:ident $($default:literal)?,
     $parse:expr; $($rest:tt)*) => {
        if let Err(e) = $crate::config::keys::Spec::check_default(&$key) {
            $bad.push(format!("{}: {e}", $name));
        }
        $crate::config::keys::key_table!(@defaults $bad $($rest)*);
    };
}
pub(crate) use key_table;

/// One file being read: collects its errors.
pub(super) struct Reader<'a> {
    file: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: RefCell<Vec<ConfigError>>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a str, env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Reader {
            file,
            env,
            errors: RefCell::new(Vec::new()),
        }
    }

    pub fn error(
        &self,
        line: Option<usize>,
        section: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
    ) {
        self.errors.borrow_mut().push(ConfigError {
            file: self.file.to_string(),
            line,
            section: section.map(str::to_string),
            key: key.map(str::to_string),
            message: message.into(),
        });
    }

    /// An error about a whole section, on its header's line.
    pub fn section_error(&self, section: &Section, message: impl Into<String>) {
        self.error(Some(section.line), Some(&section.title()), None, message);
    }

    /// The errors, in the order they were found.
    pub fn into_errors(self) -> Vec<ConfigError> {
        self.errors.into_inner()
    }
}

/// One section being read against its key table.
pub(super) struct Keys<'r, 'a> {
    reader: &'r Reader<'a>,
    section: &'r Section,
    title: String,
    allowed: Vec<&'static str>,
}

impl<'r, 'a> Keys<'r, 'a> {
    /// Checks the section's keys against `allowed` (a table's `names()`),
    /// reporting each unknown one.
    pub fn new(reader: &'r Reader<'a>, section: &'r Section, allowed: Vec<&'static str>) -> Self {
        let title = section.title();
        for e in &section.entries {
            if !allowed.contains(&e.key.as_str()) {
                reader.error(
                    Some(e.line),
                    Some(&title),
                    Some(&e.key),
                    format!("unknown key (allowed: {})", allowed.join(", ")),
                );
            }
        }
        Keys {
            reader,
            section,
            title,
            allowed,
        }
    }

    /// A key as its table says: a [`Key`]'s value (its default when left
    /// out or bad), or a [`Bare`] one's if written and good (missing is an
    /// error when it is required).
    pub fn get<K: Spec>(&self, key: &K) -> K::Read {
        key.read(self)
    }

    /// A key's value, else `fallback` (a user's group), else its default.
    pub fn get_or<T>(&self, key: &Key<T>, fallback: Option<T>) -> T {
        self.written(key)
            .or(fallback)
            .unwrap_or_else(|| key.default_value())
    }

    /// The value written (file or environment), if any and good; never
    /// the default.
    pub fn written<K: Spec>(&self, key: &K) -> Option<K::Value> {
        let (v, line) = self.raw(key.name())?;
        match (key.parser())(&v) {
            Ok(t) => Some(t),
            Err(m) => {
                self.err(line, key.name(), m);
                None
            }
        }
    }

    /// The value written, if good, without reporting anything: for a rule
    /// between keys that reads one whose errors its own read reported.
    pub fn peek<K: Spec>(&self, key: &K) -> Option<K::Value> {
        let (v, _) = self.raw(key.name())?;
        (key.parser())(&v).ok()
    }

    /// The value written; its absence is an error.
    pub fn require<K: Spec>(&self, key: &K) -> Option<K::Value> {
        if self.raw(key.name()).is_none() {
            self.reader.error(
                Some(self.section.line),
                Some(&self.title),
                Some(key.name()),
                "required key is missing",
            );
            return None;
        }
        self.written(key)
    }

    /// Whether the key is written, good or bad.
    pub fn given<K: Spec>(&self, key: &K) -> bool {
        self.raw(key.name()).is_some()
    }

    /// An error about a key's value found beyond its parser (a rule
    /// between keys, a name that refers to nothing): on the key's line.
    pub fn fault<K: Spec>(&self, key: &K, message: impl Into<String>) {
        let line = self.raw(key.name()).and_then(|(_, line)| line);
        self.err(line, key.name(), message);
    }

    /// The raw value: the environment override first, then the file.
    fn raw(&self, name: &str) -> Option<(String, Option<usize>)> {
        debug_assert!(
            self.allowed.contains(&name),
            "`{name}` is read but not in [{}]'s table",
            self.title
        );
        if let Some(v) = (self.reader.env)(&ini::env_name(&self.title, name)) {
            return Some((v, None));
        }
        self.section
            .get(name)
            .map(|e| (e.value.clone(), Some(e.line)))
    }

    /// An error about a key: on `line`, or the section's line with the
    /// variable named when the value came from the environment.
    fn err(&self, line: Option<usize>, name: &str, message: impl Into<String>) {
        let mut m = message.into();
        if line.is_none() && self.raw(name).is_some() {
            m.push_str(&format!(" (from {})", ini::env_name(&self.title, name)));
        }
        self.reader.error(
            line.or(Some(self.section.line)),
            Some(&self.title),
            Some(name),
            m,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::{text, whole};
    use super::*;

    key_table! {
        mod inner {
            LIMIT: u32 = "limit", optional, whole;
        }
    }

    key_table! {
        mod demo {
            PORT: u16 = "port", default "2775", whole;
            NAME: String = "name", required, text;
            ..inner;
            NOTE: String = "note", default "none", text;
        }
    }

    fn section(text: &str) -> Section {
        ini::parse(text).unwrap().remove(0)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// Reads `text` with `read` and gives what it read and the errors as
    /// they print.
    fn read<T>(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        read: impl Fn(&Keys<'_, '_>) -> T,
    ) -> (T, Vec<String>) {
        let s = section(text);
        let reader = Reader::new("t.ini", env);
        let value = read(&Keys::new(&reader, &s, demo::names()));
        let errors = reader.into_errors().iter().map(|e| e.to_string()).collect();
        (value, errors)
    }

    #[test]
    fn names_follow_the_table_with_spliced_tables_in_place() {
        assert_eq!(demo::names(), vec!["port", "name", "limit", "note"]);
        assert!(demo::bad_defaults().is_empty());
        assert!(inner::bad_defaults().is_empty());
    }

    #[test]
    fn an_unknown_key_names_file_line_section_key_and_the_table() {
        let (_, e) = read("[demo:x]\nname = a\ncolour = red\n", &no_env, |_| ());
        assert_eq!(
            e,
            vec!["t.ini:3: [demo:x] colour: unknown key (allowed: port, name, limit, note)"]
        );
    }

    #[test]
    fn a_default_stands_in_for_a_key_left_out() {
        let ((port, note, limit), e) = read("[demo]\nname = a\n", &no_env, |k| {
            (k.get(&demo::PORT), k.get(&demo::NOTE), k.get(&inner::LIMIT))
        });
        assert_eq!((port, note.as_str(), limit), (2775, "none", None));
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn a_bad_value_is_reported_and_the_default_stands_in() {
        let (port, e) = read("[demo]\nname = a\nport = lots\n", &no_env, |k| {
            k.get(&demo::PORT)
        });
        assert_eq!(port, 2775);
        assert_eq!(
            e,
            vec!["t.ini:3: [demo] port: expected a whole number, got \"lots\""]
        );
    }

    #[test]
    fn a_missing_required_key_is_reported_on_the_section_line() {
        let (name, e) = read("\n[demo]\nport = 1\n", &no_env, |k| k.get(&demo::NAME));
        assert_eq!(name, None);
        assert_eq!(e, vec!["t.ini:2: [demo] name: required key is missing"]);
    }

    #[test]
    fn the_environment_wins_and_its_errors_name_the_variable() {
        let env = |v: &str| match v {
            "TERN_DEMO__PORT" => Some("99".to_string()),
            "TERN_DEMO__LIMIT" => Some("many".to_string()),
            _ => None,
        };
        let ((port, limit), e) = read("[demo]\nname = a\nport = 1\nlimit = 2\n", &env, |k| {
            (k.get(&demo::PORT), k.get(&inner::LIMIT))
        });
        assert_eq!((port, limit), (99, None));
        assert_eq!(
            e,
            vec![
                "t.ini:1: [demo] limit: expected a whole number, got \"many\" (from TERN_DEMO__LIMIT)"
            ]
        );
    }

    #[test]
    fn written_value_then_fallback_then_default() {
        let (v, _) = read("[demo]\nport = 7\n", &no_env, |k| {
            k.get_or(&demo::PORT, Some(8))
        });
        assert_eq!(v, 7);
        let (v, _) = read("[demo]\n", &no_env, |k| k.get_or(&demo::PORT, Some(8)));
        assert_eq!(v, 8);
        let (v, e) = read("[demo]\nport = x\n", &no_env, |k| {
            k.get_or(&demo::PORT, Some(8))
        });
        assert_eq!((v, e.len()), (8, 1));
        let (v, _) = read("[demo]\n", &no_env, |k| k.get_or(&demo::PORT, None));
        assert_eq!(v, 2775);
        let (v, _) = read("[demo]\n", &no_env, |k| k.written(&demo::PORT));
        assert_eq!(v, None, "written never gives the default");
    }

    #[test]
    fn a_fault_is_reported_on_the_key_line() {
        let (given, e) = read("[demo]\nname = a\nnote = b\n", &no_env, |k| {
            k.fault(&demo::NOTE, "not this one");
            (k.given(&demo::NOTE), k.given(&demo::PORT))
        });
        assert_eq!(given, (true, false));
        assert_eq!(e, vec!["t.ini:3: [demo] note: not this one"]);
    }
}
