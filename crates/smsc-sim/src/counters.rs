//! What the simulator did, as counters printed in JSON on exit and SIGUSR1.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Counters, all monotonic except `binds_active` and `receipts_owed`.
        #[derive(Default)]
        pub struct Counters {
            $(pub $name: AtomicU64,)*
        }

        impl Counters {
            pub fn to_json(&self) -> serde_json::Value {
                let mut m = serde_json::Map::new();
                $(m.insert(stringify!($name).into(), self.$name.load(Relaxed).into());)*
                serde_json::Value::Object(m)
            }
        }
    };
}

counters! {
    connections,
    binds,
    binds_active,
    bind_refused,
    submit_sm,
    submit_ok,
    submit_failed,
    throttled,
    data_sm,
    submit_multi,
    query_sm,
    cancel_sm,
    replace_sm,
    receipts_sent,
    receipts_acked,
    receipts_failed,
    receipts_owed,
    receipts_withheld,
    mo_sent,
    mo_acked,
    drops,
}

pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

pub fn dec(c: &AtomicU64) {
    c.fetch_sub(1, Relaxed);
}
