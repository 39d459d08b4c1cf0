//! The scripts, one `.lua` file each under `lua/`, each with the shared
//! prelude (`lua/prelude.lua`: the answer codes of [`super::codes`] by
//! name and the store's rules in Lua) in front, put together at build
//! time. Each file's header says its KEYS and ARGV.

use std::sync::LazyLock;

use ::redis::Script;

/// One script: the prelude, then `lua/<name>.lua`.
macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(super) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(
                include_str!("lua/prelude.lua"),
                include_str!(concat!("lua/", $file))
            ))
        });
    };
}

script!(SUBMIT, "submit.lua");
script!(CANCEL, "cancel.lua");
script!(DEPTH, "depth.lua");
script!(PROMOTE, "promote.lua");
script!(SENT, "sent.lua");
script!(RETRY, "retry.lua");
script!(FAIL, "fail.lua");
script!(RECEIPT, "receipt.lua");
script!(DELIVER, "deliver.lua");
script!(DELIVERED, "delivered.lua");
script!(REDELIVER, "redeliver.lua");
