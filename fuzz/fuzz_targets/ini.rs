//! The INI reader and the whole configuration check on any text: a
//! configuration error is an error, never a panic. The input is the file,
//! optionally followed by a NUL and `NAME=value` lines the environment
//! holds (the `TERN_<SECTION>__<KEY>` overrides).
//!
//! Inputs naming `/dev`, `/proc` or `/sys` are skipped: `tls_cert` and
//! the like are read when the configuration is, and the fuzzer is not to
//! read devices.
#![no_main]

use gateway::config::{Config, ini};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lower = text.to_ascii_lowercase();
    if ["/dev", "/proc", "/sys"].iter().any(|p| lower.contains(p)) {
        return;
    }
    let (file, env) = text.split_once('\0').unwrap_or((&text, ""));
    if let Ok(sections) = ini::parse(file) {
        for s in &sections {
            let _ = s.title();
            for e in &s.entries {
                assert_eq!(s.get(&e.key).map(|f| f.line), Some(e.line));
                let _ = ini::env_name(&s.title(), &e.key);
            }
        }
    }
    for line in file.lines() {
        let _ = ini::value_of(line);
    }
    let env = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    match Config::parse(file, "fuzz.ini", &env) {
        Ok(_) => {}
        Err(errors) => {
            assert!(!errors.0.is_empty());
            let _ = errors.to_string();
        }
    }
});
