//! `/send`'s parameters (Jasmin's names) read into the submit_sm the one
//! submit path takes, and the tags its routes' `tag` filters see. Every
//! fault is a [`BadParameter`] naming the parameter: the HTTP API answers
//! it with 400 `Error "<reason>"`.

use std::collections::HashMap;

use bytes::Bytes;
use smpp::pdu::{Address, DataCoding, Npi, RegisteredDelivery, SubmitSm, Ton};
use smpp::text::Encoding;
use smpp::time::SmppTime;
use smpp::tlv::{TlvTag, TlvsBuilder};

use crate::store::{CallMethod, DlrLevel, ReceiptCallback};

/// The most octets in short_message; longer content goes in
/// message_payload, which the connector splits per its `split`.
const SHORT_MESSAGE_MAX: usize = 254;

/// The most octets of content a /send may carry (Jasmin's limit is the
/// message_payload TLV's, 64 KiB; a message of 255 parts is far less).
const CONTENT_MAX: usize = 32 * 1024;

/// A parameter that is missing or wrong: the reason says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadParameter(pub String);

fn bad(reason: impl Into<String>) -> BadParameter {
    BadParameter(reason.into())
}

/// What a /send asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub submit: SubmitSm<Bytes>,
    pub tags: Vec<u32>,
    /// Where the receipts go (`dlr=yes` with a `dlr-url`).
    pub callback: Option<ReceiptCallback>,
}

/// Read /send's parameters (Jasmin's: `to`, `from`, `coding`, `content`
/// or `hex-content`, `priority`, `sdt`, `validity-period`, `dlr`,
/// `dlr-url`, `dlr-level`, `dlr-method`, `tags`). Credentials are the
/// caller's business.
pub fn send(p: &HashMap<String, String>) -> Result<Send, BadParameter> {
    let to = p.get("to").ok_or_else(|| bad("to is missing"))?;
    let digits = to.strip_prefix('+').unwrap_or(to);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("to must be digits, with an optional leading +"));
    }
    let destination = Address {
        ton: Ton::INTERNATIONAL,
        npi: Npi::ISDN,
        addr: Bytes::copy_from_slice(digits.as_bytes()),
    };
    let source = match p.get("from").map(String::as_str) {
        None | Some("") => Address::default(),
        Some(f) if f.len() > 20 => return Err(bad("from is longer than 20 characters")),
        // source_addr is a C-Octet String: a NUL would end it early, and
        // no submit_sm can carry it (found by fuzz/'s http_params).
        Some(f) if f.contains('\0') => return Err(bad("from must not contain a NUL character")),
        Some(f) => {
            let numeric = f.strip_prefix('+').unwrap_or(f);
            if !numeric.is_empty() && numeric.bytes().all(|b| b.is_ascii_digit()) {
                Address {
                    ton: Ton::INTERNATIONAL,
                    npi: Npi::ISDN,
                    addr: Bytes::copy_from_slice(numeric.as_bytes()),
                }
            } else {
                Address {
                    ton: Ton::ALPHANUMERIC,
                    npi: Npi::UNKNOWN,
                    addr: Bytes::copy_from_slice(f.as_bytes()),
                }
            }
        }
    };
    let coding = number(p, "coding", 0, 14)?;
    let encoding = Encoding::from_data_coding(coding);
    let content = match (p.get("content"), p.get("hex-content")) {
        (Some(_), Some(_)) => return Err(bad("give content or hex-content, not both")),
        (None, None) => return Err(bad("content is missing")),
        (Some(text), None) => encoding
            .encode(text)
            .map_err(|_| bad("content cannot be encoded in this coding"))?,
        (None, Some(hex)) => from_hex(hex).ok_or_else(|| bad("hex-content is not hex"))?,
    };
    if content.len() > CONTENT_MAX {
        return Err(bad("content is too long"));
    }
    let priority = number(p, "priority", 0, 3)?;
    let schedule = match p.get("sdt") {
        None => Bytes::new(),
        // A NUL is no part of it (the SMPP parser forgives one trailing
        // terminator; stored, it would make a field that cannot encode).
        Some(t) if t.contains('\0') => return Err(bad("sdt is not an SMPP time")),
        Some(t) => match SmppTime::parse(t.as_bytes()) {
            Ok(_) => Bytes::copy_from_slice(t.as_bytes()),
            Err(_) => return Err(bad("sdt is not an SMPP time")),
        },
    };
    let validity = match p.get("validity-period") {
        None => Bytes::new(),
        Some(_) => relative_minutes(number(p, "validity-period", 1, 99 * 1440 + 1439)?),
    };
    let dlr = match p.get("dlr").map(String::as_str) {
        None | Some("no") => false,
        Some("yes") => true,
        Some(_) => return Err(bad("dlr must be yes or no")),
    };
    let level = match p.get("dlr-level").map(|v| v.trim()) {
        None => DlrLevel::Smsc,
        Some(v) => v
            .parse::<u8>()
            .ok()
            .and_then(DlrLevel::from_u8)
            .ok_or_else(|| bad("dlr-level must be 1, 2 or 3"))?,
    };
    let method = match p.get("dlr-method") {
        None => CallMethod::Get,
        Some(m) => {
            CallMethod::parse(m.trim()).ok_or_else(|| bad("dlr-method must be GET or POST"))?
        }
    };
    // As Jasmin: the callback is dlr=yes's; a dlr-url alone asks nothing.
    let callback = match (dlr, p.get("dlr-url")) {
        (true, Some(u)) => Some(ReceiptCallback {
            url: callback_url(u, "dlr-url")?,
            method,
            level,
        }),
        _ => None,
    };
    // The SMSC is asked for a receipt when one goes somewhere: to the
    // user's binds (no dlr-url), or to a callback at level 2 or 3.
    let registered = match &callback {
        Some(c) => c.level.terminal(),
        None => dlr,
    };
    let tags = match p.get("tags") {
        None => Vec::new(),
        Some(t) => t
            .split(',')
            .map(|v| v.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("tags must be numbers separated by commas"))?,
    };
    let (short_message, tlvs) = if content.len() > SHORT_MESSAGE_MAX {
        let mut b = TlvsBuilder::new();
        b.push(TlvTag::MESSAGE_PAYLOAD, &content);
        (Bytes::new(), b.build())
    } else {
        (Bytes::from(content), Default::default())
    };
    Ok(Send {
        submit: SubmitSm {
            source,
            destination,
            data_coding: DataCoding(coding),
            priority_flag: priority,
            schedule_delivery_time: schedule,
            validity_period: validity,
            registered_delivery: RegisteredDelivery(u8::from(registered)),
            short_message,
            tlvs,
            ..Default::default()
        },
        tags,
        callback,
    })
}

/// The longest callback URL taken.
pub const URL_MAX: usize = 2048;

/// A callback URL (`dlr-url`, `callback_url`): absolute http or https
/// with a host, at most [`URL_MAX`] long.
pub fn callback_url(u: &str, name: &str) -> Result<String, BadParameter> {
    let u = u.trim();
    let ok = u.len() <= URL_MAX
        && url::Url::parse(u).is_ok_and(|parsed| {
            matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some()
        });
    if ok {
        Ok(u.to_string())
    } else {
        Err(bad(format!("{name} must be an http or https URL")))
    }
}

/// An integer parameter in `min..=max`, `default` when absent.
fn number<T: TryFrom<u32> + Copy>(
    p: &HashMap<String, String>,
    name: &str,
    default: T,
    max: u32,
) -> Result<T, BadParameter> {
    let Some(v) = p.get(name) else {
        return Ok(default);
    };
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= max)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| bad(format!("{name} must be a number from 0 to {max}")))
}

/// A relative SMPP time of `minutes` (SMPP 3.4 §7.1.1: YYMMDDhhmmss000R).
fn relative_minutes(minutes: u32) -> Bytes {
    let (days, rest) = (minutes / 1440, minutes % 1440);
    Bytes::from(format!(
        "0000{:02}{:02}{:02}00000R",
        days,
        rest / 60,
        rest % 60
    ))
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_plain_send() {
        let s = send(&params(&[
            ("to", "+447700900123"),
            ("from", "Tern"),
            ("content", "hi"),
        ]))
        .unwrap();
        assert_eq!(&s.submit.destination.addr[..], b"447700900123");
        assert_eq!(s.submit.source.ton, Ton::ALPHANUMERIC);
        assert_eq!(&s.submit.short_message[..], b"hi");
        assert_eq!(s.submit.registered_delivery.0, 0);
        assert!(s.tags.is_empty());
        let s = send(&params(&[
            ("to", "33"),
            ("from", "+3361"),
            ("content", "x"),
            ("dlr", "yes"),
            ("tags", "1, 7"),
        ]))
        .unwrap();
        assert_eq!(s.submit.source.ton, Ton::INTERNATIONAL);
        assert_eq!(&s.submit.source.addr[..], b"3361");
        assert_eq!(s.submit.registered_delivery.0, 1);
        assert_eq!(s.tags, vec![1, 7]);
    }

    #[test]
    fn a_dlr_url_makes_a_callback_at_its_level() {
        let with = |extra: &[(&str, &str)]| {
            let mut p = vec![("to", "33"), ("content", "x")];
            p.extend_from_slice(extra);
            send(&params(&p)).unwrap()
        };
        // Jasmin's defaults: level 1, GET; level 1 asks the SMSC for no
        // receipt.
        let s = with(&[("dlr", "yes"), ("dlr-url", "http://127.0.0.1:9/dlr?k=1")]);
        let c = s.callback.unwrap();
        assert_eq!(c.url, "http://127.0.0.1:9/dlr?k=1");
        assert_eq!((c.level, c.method), (DlrLevel::Smsc, CallMethod::Get));
        assert_eq!(s.submit.registered_delivery.0, 0);
        let s = with(&[
            ("dlr", "yes"),
            ("dlr-url", "https://h.example/d"),
            ("dlr-level", "3"),
            ("dlr-method", "post"),
        ]);
        let c = s.callback.unwrap();
        assert_eq!((c.level, c.method), (DlrLevel::Both, CallMethod::Post));
        assert_eq!(s.submit.registered_delivery.0, 1);
        let s = with(&[("dlr", "yes"), ("dlr-url", "http://h/"), ("dlr-level", "2")]);
        assert_eq!(s.callback.unwrap().level, DlrLevel::Terminal);
        assert_eq!(s.submit.registered_delivery.0, 1);
        // dlr=no: a dlr-url asks nothing (Jasmin).
        let s = with(&[("dlr", "no"), ("dlr-url", "http://h/")]);
        assert_eq!(s.callback, None);
        assert_eq!(s.submit.registered_delivery.0, 0);
        // dlr=yes without a URL: receipts over SMPP, as before.
        let s = with(&[("dlr", "yes")]);
        assert_eq!(s.callback, None);
        assert_eq!(s.submit.registered_delivery.0, 1);
    }

    #[test]
    fn codings_hex_and_long_content() {
        let s = send(&params(&[("to", "33"), ("coding", "8"), ("content", "é")])).unwrap();
        assert_eq!(&s.submit.short_message[..], &[0x00, 0xE9]);
        assert_eq!(s.submit.data_coding.0, 8);
        let s = send(&params(&[("to", "33"), ("hex-content", "48690a")])).unwrap();
        assert_eq!(&s.submit.short_message[..], b"Hi\n");
        let long = "a".repeat(400);
        let s = send(&params(&[("to", "33"), ("content", &long)])).unwrap();
        assert!(s.submit.short_message.is_empty());
        assert_eq!(s.submit.body().len(), 400);
    }

    #[test]
    fn times() {
        let s = send(&params(&[
            ("to", "33"),
            ("content", "x"),
            ("validity-period", "1500"),
        ]))
        .unwrap();
        assert_eq!(&s.submit.validity_period[..], b"000001010000000R");
        assert!(
            SmppTime::parse(&s.submit.validity_period)
                .unwrap()
                .is_some()
        );
        let s = send(&params(&[
            ("to", "33"),
            ("content", "x"),
            ("sdt", "000000001000000R"),
        ]))
        .unwrap();
        assert_eq!(&s.submit.schedule_delivery_time[..], b"000000001000000R");
    }

    #[test]
    fn each_fault_names_its_parameter() {
        let reason = |pairs: &[(&str, &str)]| send(&params(pairs)).unwrap_err().0;
        assert!(reason(&[("content", "x")]).starts_with("to "));
        assert!(reason(&[("to", "44-77"), ("content", "x")]).starts_with("to "));
        assert!(reason(&[("to", "33")]).starts_with("content "));
        assert!(
            reason(&[("to", "33"), ("content", "x"), ("hex-content", "00")]).contains("not both")
        );
        assert!(reason(&[("to", "33"), ("hex-content", "0g")]).starts_with("hex-content"));
        assert!(reason(&[("to", "33"), ("content", "x"), ("coding", "15")]).starts_with("coding"));
        assert!(
            reason(&[("to", "33"), ("content", "x"), ("priority", "4")]).starts_with("priority")
        );
        assert!(reason(&[("to", "33"), ("content", "x"), ("sdt", "soon")]).starts_with("sdt"));
        assert!(
            reason(&[("to", "33"), ("content", "x"), ("validity-period", "x")])
                .starts_with("validity-period")
        );
        assert!(reason(&[("to", "33"), ("content", "x"), ("dlr", "maybe")]).starts_with("dlr"));
        assert!(reason(&[("to", "33"), ("content", "x"), ("tags", "a")]).starts_with("tags"));
        assert!(reason(&[("to", "33"), ("content", "€"), ("coding", "3")]).starts_with("content"));
        assert!(reason(&[("to", "33"), ("content", "x"), ("from", "\0Tern")]).starts_with("from"));
        assert!(reason(&[("to", "33"), ("content", "x"), ("from", "Te\0rn")]).starts_with("from"));
        let dlr = |extra: &[(&str, &str)]| {
            let mut p = vec![("to", "33"), ("content", "x"), ("dlr", "yes")];
            p.extend_from_slice(extra);
            reason(&p)
        };
        assert!(dlr(&[("dlr-url", "ftp://x/")]).starts_with("dlr-url"));
        assert!(dlr(&[("dlr-url", "not a url")]).starts_with("dlr-url"));
        assert!(dlr(&[("dlr-url", "http://x/"), ("dlr-level", "4")]).starts_with("dlr-level"));
        assert!(dlr(&[("dlr-url", "http://x/"), ("dlr-method", "PUT")]).starts_with("dlr-method"));
        let long = format!("http://x/{}", "a".repeat(URL_MAX));
        assert!(dlr(&[("dlr-url", &long)]).starts_with("dlr-url"));
        let huge = "a".repeat(CONTENT_MAX + 1);
        assert!(reason(&[("to", "33"), ("content", &huge)]).contains("too long"));
    }
}
