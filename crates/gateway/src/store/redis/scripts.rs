//! The scripts, one `.lua` file each under `lua/`, put together once at
//! start: the fragments the script calls into (`clock.lua`: `fmt`,
//! `now_ms`; `pending.lua`: `pending_count`; `receipts.lua`, after
//! `clock.lua`: the store's receipt rules), then the script, with every
//! name the prelude (`lua/prelude.lua`) gives a number — the answer codes
//! of [`super::codes`] and the SMPP states — written as that number.
//!
//! Why not put the prelude in front as Lua locals, and why fragments:
//! Redis runs a script's whole chunk at every call, so each chunk-level
//! local function is made again (a closure) and each chunk-level local it
//! uses becomes an upvalue to find and close — about 0.3 µs per call for
//! the sixteen named constants alone and 0.05–0.1 µs per function, on
//! the Redis core that is the whole cluster's ceiling. Names stay in the
//! source; numbers run. Unit tests below check that each script defines
//! every shared function it calls and that no prelude name is left.
//! Each file's header says its KEYS and ARGV.

use std::sync::LazyLock;

use ::redis::Script;

/// One script: its source before the names are inlined (its fragments,
/// then `lua/<name>.lua`) and the loaded [`Script`].
macro_rules! script {
    ($name:ident, $source:ident, $file:literal $(, $fragment:literal)*) => {
        pub(super) const $source: &str = concat!(
            $(include_str!(concat!("lua/", $fragment)),)*
            include_str!(concat!("lua/", $file))
        );
        pub(super) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(&inline_constants($source)));
    };
}

/// A merged script (see [`super::batching::Merge`]): the fragments, the
/// script's body as the function `one(k0, a0, nk, na)` (see
/// [`offset_body`]), then the loop that
/// runs it per request (`lua/merge.lua`). Its source is a `String` made
/// once, its [`Script`] a [`super::batching::Merge`].
macro_rules! merged {
    ($name:ident, $source:ident, $file:literal $(, $fragment:literal)*) => {
        pub(super) static $source: LazyLock<String> = LazyLock::new(|| {
            merged_source(
                concat!($(include_str!(concat!("lua/", $fragment)),)*),
                include_str!(concat!("lua/", $file)),
            )
        });
        pub(super) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(&inline_constants(&$source)));
    };
}

/// The source of a merged script: see [`merged`] and `lua/merge.lua`.
fn merged_source(fragments: &str, body: &str) -> String {
    // One reading of Redis' clock per invocation, for a script that
    // reads it (its body or the fragments' functions it calls).
    let clock = match fragments.split_once("local function now_ms(") {
        Some((_, after)) if body.contains("now_ms(") || after.contains("now_ms(") => {
            "local now_at_start = now_ms()\nnow_ms = function() return now_at_start end\n"
        }
        _ => "",
    };
    format!(
        "{fragments}{clock}local function one(k0, a0, nk, na)\n{}\nend\n{}",
        offset_body(body),
        include_str!("lua/merge.lua")
    )
}

/// A script's body reading its request's part of a merged invocation:
/// `KEYS[i]` as `KEYS[k0 + i]`, `ARGV[i]` as `ARGV[a0 + i]`, `#KEYS` and
/// `#ARGV` as `nk` and `na`. Comments too, which changes nothing.
fn offset_body(body: &str) -> String {
    body.replace("#KEYS", "nk")
        .replace("#ARGV", "na")
        .replace("KEYS[", "KEYS[k0 + ")
        .replace("ARGV[", "ARGV[a0 + ")
}

merged!(SUBMIT, SUBMIT_LUA, "submit.lua", "clock.lua", "pending.lua");
script!(CANCEL, CANCEL_LUA, "cancel.lua", "clock.lua");
script!(REPLACE, REPLACE_LUA, "replace.lua");
script!(DEPTH, DEPTH_LUA, "depth.lua", "pending.lua");
script!(PROMOTE, PROMOTE_LUA, "promote.lua", "clock.lua");
merged!(SENT, SENT_LUA, "sent.lua", "clock.lua", "receipts.lua");
script!(RETRY, RETRY_LUA, "retry.lua", "clock.lua");
script!(REROUTE, REROUTE_LUA, "reroute.lua");
script!(FAIL, FAIL_LUA, "fail.lua", "clock.lua", "receipts.lua");
merged!(
    RECEIPT,
    RECEIPT_LUA,
    "receipt.lua",
    "clock.lua",
    "receipts.lua"
);
script!(
    EXPIRE,
    EXPIRE_LUA,
    "expire.lua",
    "clock.lua",
    "receipts.lua"
);
script!(
    UNANSWERED,
    UNANSWERED_LUA,
    "unanswered.lua",
    "clock.lua",
    "receipts.lua"
);
script!(DELIVER, DELIVER_LUA, "deliver.lua", "clock.lua");
script!(DELIVERED, DELIVERED_LUA, "delivered.lua");
script!(REDELIVER, REDELIVER_LUA, "redeliver.lua");
script!(CB_QUEUE, CB_QUEUE_LUA, "cbqueue.lua", "clock.lua");
script!(CB_RETRY, CB_RETRY_LUA, "cbretry.lua", "clock.lua");
script!(CB_PROMOTE, CB_PROMOTE_LUA, "cbpromote.lua", "clock.lua");

/// The prelude's names and their numbers: its `local A, B = 1, 2` lines
/// (see `lua/prelude.lua`; `codes`' tests hold them to the Rust codes).
pub(super) fn prelude_constants() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for line in include_str!("lua/prelude.lua").lines() {
        let Some((names, values)) = line
            .strip_prefix("local ")
            .and_then(|rest| rest.split_once('='))
        else {
            continue;
        };
        let names = names.split(',').map(str::trim);
        let values = values.split(',').map(str::trim);
        out.extend(names.zip(values));
    }
    out
}

/// `source` with every prelude name written as its number. Names are
/// whole identifiers: `R_FINAL` is replaced, `MY_R_FINAL` is not.
fn inline_constants(source: &str) -> String {
    let constants = prelude_constants();
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        match constants.iter().find(|(name, _)| *name == word) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(word),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> [(&'static str, &'static str); 18] {
        [
            ("submit", SUBMIT_LUA.as_str()),
            ("cancel", CANCEL_LUA),
            ("replace", REPLACE_LUA),
            ("depth", DEPTH_LUA),
            ("promote", PROMOTE_LUA),
            ("sent", SENT_LUA.as_str()),
            ("retry", RETRY_LUA),
            ("reroute", REROUTE_LUA),
            ("fail", FAIL_LUA),
            ("receipt", RECEIPT_LUA.as_str()),
            ("expire", EXPIRE_LUA),
            ("unanswered", UNANSWERED_LUA),
            ("deliver", DELIVER_LUA),
            ("delivered", DELIVERED_LUA),
            ("redeliver", REDELIVER_LUA),
            ("cbqueue", CB_QUEUE_LUA),
            ("cbretry", CB_RETRY_LUA),
            ("cbpromote", CB_PROMOTE_LUA),
        ]
    }

    /// The functions the fragments define.
    fn shared_functions() -> Vec<String> {
        [
            include_str!("lua/clock.lua"),
            include_str!("lua/pending.lua"),
            include_str!("lua/receipts.lua"),
        ]
        .iter()
        .flat_map(|f| f.lines())
        .filter_map(|l| l.strip_prefix("local function "))
        .filter_map(|l| l.split('(').next())
        .map(str::to_string)
        .collect()
    }

    /// Code without its `--` comments.
    fn code(source: &str) -> String {
        source
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn every_script_defines_the_shared_functions_it_calls_before_calling_them() {
        let shared = shared_functions();
        assert!(shared.len() >= 7, "{shared:?}");
        for (name, source) in all() {
            let code = code(&inline_constants(source));
            for f in &shared {
                let call = format!("{f}(");
                let Some(first_call) = code
                    .match_indices(&call)
                    .map(|(i, _)| i)
                    .find(|&i| !code[..i].ends_with("local function "))
                else {
                    continue;
                };
                let defined = code.find(&format!("local function {f}("));
                assert!(
                    defined.is_some_and(|d| d < first_call),
                    "{name}.lua calls {f} without its fragment before it"
                );
            }
        }
    }

    #[test]
    fn a_merged_body_reads_its_requests_keys_and_arguments_only_by_offset() {
        for source in [SUBMIT_LUA.as_str(), SENT_LUA.as_str(), RECEIPT_LUA.as_str()] {
            let body = source
                .split("local function one(k0, a0, nk, na)\n")
                .nth(1)
                .and_then(|b| b.split(include_str!("lua/merge.lua")).next())
                .expect("a merged source");
            let code = code(body);
            assert!(code.contains("KEYS[k0 + "), "{code}");
            assert_eq!(
                code.matches("KEYS").count(),
                code.matches("KEYS[k0 + ").count(),
                "{code}"
            );
            assert_eq!(
                code.matches("ARGV").count(),
                code.matches("ARGV[a0 + ").count(),
                "{code}"
            );
        }
        assert_eq!(
            offset_body("local n = #ARGV - 6 return KEYS[5 + 2 * n], ARGV[1], #KEYS"),
            "local n = na - 6 return KEYS[k0 + 5 + 2 * n], ARGV[a0 + 1], nk"
        );
    }

    #[test]
    fn the_prelude_defines_no_function() {
        assert!(!code(include_str!("lua/prelude.lua")).contains("function"));
    }

    #[test]
    fn no_prelude_name_is_left_in_a_script() {
        let constants = prelude_constants();
        assert_eq!(constants.len(), 20, "{constants:?}");
        for (name, source) in all() {
            let code = code(&inline_constants(source));
            let words: Vec<&str> = code
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            for (constant, _) in &constants {
                assert!(
                    !words.contains(constant),
                    "{name}.lua still says {constant}"
                );
            }
        }
    }

    #[test]
    fn names_are_replaced_as_whole_identifiers() {
        assert_eq!(
            inline_constants("return R_FINAL, MY_R_FINAL, R_FINAL_X, {R_HELD}"),
            "return 4, MY_R_FINAL, R_FINAL_X, {0}"
        );
        assert_eq!(
            inline_constants("if st == DELIVERED then"),
            "if st == 2 then"
        );
    }
}
