//! A configuration error, and all of a file's: where (file, line, section,
//! key) and what, printed as `file:line: [section] key: message`.
//!
//! The printed form is what operators, tests and docs/configuration.md
//! read: keep it.

use std::fmt;

/// One configuration error: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub section: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        match (&self.section, &self.key) {
            (Some(s), Some(k)) => write!(f, ": [{s}] {k}: ")?,
            (Some(s), None) => write!(f, ": [{s}]: ")?,
            (None, Some(k)) => write!(f, ": {k}: ")?,
            (None, None) => write!(f, ": ")?,
        }
        f.write_str(&self.message)
    }
}

/// Every error found in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
