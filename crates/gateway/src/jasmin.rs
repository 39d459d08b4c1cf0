//! Jasmin's HTTP parameters for the calls Tern makes out (shared/DESIGN.md,
//! "HTTP API"): a receipt callback to a message's `dlr-url` at its
//! `dlr-level`, and an MO to a user's `mo_url`. Clients written against
//! Jasmin parse these names and values, so they are Jasmin's:
//!
//! - level 1 (the SMSC's answer to the submit): `id`, `message_status`
//!   (`ESME_ROK`, or the refusal's name), `level`, `connector`;
//! - level 2 and 3 (the receipt): also `id_smsc`, `subdate`, `donedate`
//!   (YYMMDDhhmm), `sub`, `dlvrd`, `err` and `text` (the first 20
//!   characters), with `message_status` the receipt's state (`DELIVRD`,
//!   `UNDELIV`, `REJECTD`, `EXPIRED`, ...);
//! - MO: `id`, `from`, `to`, `origin-connector`, `priority`, `coding`,
//!   `validity`, `content` (the text, decoded per its data_coding) and
//!   `binary` (the octets as upper-case hex).
//!
//! Not a stage: the callback sender and the connectors' inbound side
//! both call it.

use bytes::Bytes;
use smpp::CommandStatus;
use smpp::pdu::DeliverSm;
use smpp::text::Encoding;
use smpp::time::ReceiptDate;

use crate::store::{CallMethod, Callback, HttpCall, StoredMessage, UserReceipt};

/// The call a callback item makes; None when it has nowhere to go (a
/// receipt item whose message has no callback: it cannot be sent).
pub fn call_of(item: &Callback) -> Option<HttpCall> {
    match item {
        Callback::Call(c) => Some(c.clone()),
        Callback::Submitted {
            message,
            connector,
            status,
            ..
        } => {
            let target = message.callback.as_ref()?;
            let params = vec![
                p("id", &message.id),
                p("message_status", &status_name(*status)),
                p("level", "1"),
                p("connector", connector),
            ];
            Some(HttpCall {
                url: target.url.clone(),
                method: target.method,
                params,
            })
        }
        Callback::Receipt {
            receipt,
            connector,
            upstream_id,
        } => {
            let m = &receipt.message;
            let target = m.callback.as_ref()?;
            Some(HttpCall {
                url: target.url.clone(),
                method: target.method,
                params: receipt_params(receipt, connector, upstream_id, target.level.as_u8()),
            })
        }
    }
}

/// A level 2 (or 3) receipt's parameters.
fn receipt_params(
    r: &UserReceipt,
    connector: &str,
    upstream_id: &str,
    level: u8,
) -> Vec<(String, String)> {
    let m = &r.message;
    vec![
        p("id", &m.id),
        p("id_smsc", upstream_id),
        p("message_status", r.state.receipt_stat()),
        p("level", &level.to_string()),
        p("connector", connector),
        p("subdate", &date(m.accepted_ms)),
        p("donedate", &date(r.done_ms)),
        p("sub", &format!("{:03}", r.sub)),
        p("dlvrd", &format!("{:03}", r.dlvrd)),
        p("err", &format!("{:03}", r.error_code)),
        p("text", &first_20(m)),
    ]
}

/// An MO's call to `url` with `method`, Jasmin's MO parameters; `id` is
/// the MO's own id (a UUID the caller makes once, so a retried call
/// carries the same).
pub fn mo_call(
    url: &str,
    method: CallMethod,
    id: &str,
    connector: &str,
    d: &DeliverSm<Bytes>,
) -> HttpCall {
    let content = d.content();
    let text = Encoding::from_data_coding(d.data_coding.0).decode(content);
    let params = vec![
        p("id", id),
        p("from", &String::from_utf8_lossy(&d.source.addr)),
        p("to", &String::from_utf8_lossy(&d.destination.addr)),
        p("origin-connector", connector),
        p("priority", &d.priority_flag.to_string()),
        p("coding", &d.data_coding.0.to_string()),
        p("validity", &String::from_utf8_lossy(&d.validity_period)),
        p("content", &text),
        p("binary", &hex(content)),
    ];
    HttpCall {
        url: url.to_string(),
        method,
        params,
    }
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// `ESME_ROK`, or the status's name (`ESME_0x..` when it has none).
fn status_name(status: u32) -> String {
    let s = CommandStatus(status);
    s.name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("ESME_{status:#010x}"))
}

/// YYMMDDhhmm, UTC; empty for a time that has none.
fn date(ms: i64) -> String {
    ReceiptDate::from_unix(ms / 1000)
        .map(|d| d.format())
        .unwrap_or_default()
}

fn first_20(m: &StoredMessage) -> String {
    let s = &m.submit;
    Encoding::from_data_coding(s.data_coding.0)
        .decode(s.content())
        .chars()
        .take(20)
        .collect()
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(out, "{x:02X}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use smpp::MessageState;
    use smpp::pdu::{Address, DataCoding, SubmitSm};

    use super::*;
    use crate::store::{DlrLevel, ReceiptCallback};

    fn message(level: DlrLevel) -> Arc<StoredMessage> {
        Arc::new(StoredMessage {
            id: "m-1".into(),
            user: "u".into(),
            connectors: vec!["up".into()],
            submit: SubmitSm {
                short_message: Bytes::from_static(b"Hello there, this is longer than twenty"),
                ..Default::default()
            },
            parts: 1,
            rate_micro: 0,
            // 2026-12-03 10:20 UTC
            accepted_ms: 1_796_293_200_000,
            expires_ms: None,
            callback: Some(ReceiptCallback {
                url: "http://127.0.0.1:9/dlr".into(),
                method: CallMethod::Post,
                level,
            }),
            route: None,
        })
    }

    fn get<'a>(c: &'a HttpCall, k: &str) -> Option<&'a str> {
        c.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_level_1_callback_has_jasmins_four_parameters() {
        let c = call_of(&Callback::Submitted {
            message: message(DlrLevel::Smsc),
            connector: "up".into(),
            status: 0,
            upstream_id: "x1".into(),
        })
        .unwrap();
        assert_eq!(c.url, "http://127.0.0.1:9/dlr");
        assert_eq!(c.method, CallMethod::Post);
        let names: Vec<&str> = c.params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["id", "message_status", "level", "connector"]);
        assert_eq!(get(&c, "message_status"), Some("ESME_ROK"));
        let refused = call_of(&Callback::Submitted {
            message: message(DlrLevel::Both),
            connector: "up".into(),
            status: 0x0b,
            upstream_id: String::new(),
        })
        .unwrap();
        assert_eq!(get(&refused, "message_status"), Some("ESME_RINVDSTADR"));
        assert_eq!(get(&refused, "level"), Some("1"));
    }

    #[test]
    fn a_receipt_callback_has_the_terminal_parameters() {
        let r = UserReceipt {
            message: message(DlrLevel::Both),
            state: MessageState::Undeliverable,
            error_code: 7,
            sub: 2,
            dlvrd: 1,
            done_ms: 1_796_293_500_000,
        };
        let c = call_of(&Callback::Receipt {
            receipt: Box::new(r),
            connector: "up".into(),
            upstream_id: "abc".into(),
        })
        .unwrap();
        assert_eq!(get(&c, "id"), Some("m-1"));
        assert_eq!(get(&c, "id_smsc"), Some("abc"));
        assert_eq!(get(&c, "message_status"), Some("UNDELIV"));
        assert_eq!(get(&c, "level"), Some("3"));
        assert_eq!(get(&c, "subdate"), Some("2612031020"));
        assert_eq!(get(&c, "donedate"), Some("2612031025"));
        assert_eq!(get(&c, "sub"), Some("002"));
        assert_eq!(get(&c, "dlvrd"), Some("001"));
        assert_eq!(get(&c, "err"), Some("007"));
        assert_eq!(get(&c, "text"), Some("Hello there, this is"));
        assert_eq!(get(&c, "connector"), Some("up"));
    }

    #[test]
    fn a_receipt_of_a_message_without_a_callback_has_no_call() {
        let mut m = (*message(DlrLevel::Terminal)).clone();
        m.callback = None;
        let item = Callback::Submitted {
            message: Arc::new(m),
            connector: "up".into(),
            status: 0,
            upstream_id: String::new(),
        };
        assert_eq!(call_of(&item), None);
    }

    #[test]
    fn an_mo_call_decodes_its_text_and_gives_its_octets() {
        let d = DeliverSm::<Bytes> {
            source: Address {
                addr: Bytes::from_static(b"33600000001"),
                ..Default::default()
            },
            destination: Address {
                addr: Bytes::from_static(b"1234"),
                ..Default::default()
            },
            data_coding: DataCoding(8),
            short_message: Bytes::from_static(b"\x00h\x00\xe9"),
            ..Default::default()
        };
        let c = mo_call("http://h/mo", CallMethod::Get, "mo-1", "up", &d);
        assert_eq!(get(&c, "id"), Some("mo-1"));
        assert_eq!(get(&c, "from"), Some("33600000001"));
        assert_eq!(get(&c, "to"), Some("1234"));
        assert_eq!(get(&c, "origin-connector"), Some("up"));
        assert_eq!(get(&c, "coding"), Some("8"));
        assert_eq!(get(&c, "content"), Some("hé"));
        assert_eq!(get(&c, "binary"), Some("006800E9"));
        assert_eq!(c.method, CallMethod::Get);
    }
}
