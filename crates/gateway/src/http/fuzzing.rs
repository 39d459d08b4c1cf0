//! The HTTP API's parameter reading without a server, for `fuzz/`'s
//! `http_params` target: each function reads a request's parameters the
//! way its endpoint does and checks them as /send does (sizes, then
//! meaning), up to where the submit path would take over. Not an API:
//! hidden from the docs, kept to what the fuzz target needs.

use super::params::Send;
use super::{Params, batch, form_params, read_send, rest};

/// Jasmin's /send from a query string or a url-encoded form body (axum's
/// `Query` reads a query with the same serde_urlencoded).
pub fn send_form(body: &[u8]) -> Result<Send, String> {
    let p = form_params(body)?;
    read_send(&p).map_err(|e| e.0)
}

/// `/secure/send`: a JSON object of /send's parameters.
pub fn send_rest(body: &[u8]) -> Result<Send, String> {
    let object = rest::json_object(body)?;
    let mut p = Params::new();
    rest::object_params(&object, &mut p)?;
    read_send(&p).map_err(|e| e.0)
}

/// `/secure/sendbatch`: the batch read into its messages, each read as
/// /send reads it (the outer error: the batch is refused whole).
pub fn send_batch(body: &[u8]) -> Result<Vec<Result<Send, String>>, String> {
    let object = rest::json_object(body)?;
    let messages = batch::messages_of(&object).map_err(|e| e.0)?;
    Ok(messages
        .into_iter()
        .map(|m| m.and_then(|p| read_send(&p)).map_err(|e| e.0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flavour_reads_as_its_endpoint() {
        let send = send_form(b"username=u&password=p&to=%2B447700900123&content=hi").unwrap();
        assert_eq!(&send.submit.destination.addr[..], b"447700900123");
        assert!(send_form(b"to=447700900123&content=hi&coding=99").is_err());
        assert!(send_form(b"to=%zz").is_err());
        let send = send_rest(br#"{"to": 447700900123, "content": "hi", "password": []}"#).unwrap();
        assert_eq!(&send.submit.short_message[..], b"hi");
        assert!(send_rest(b"[]").is_err());
        let batch = send_batch(
            br#"{"globals": {"content": "hi"},
                 "messages": [{"to": ["447700900123", "x"]}, {"from": "skipped"}]}"#,
        )
        .unwrap();
        assert_eq!(batch.len(), 2);
        assert!(batch[0].is_ok() && batch[1].is_err());
        assert!(send_batch(br#"{"messages": 1}"#).is_err());
    }

    /// fuzz/'s http_params found it: a NUL in `from` (a raw byte in a
    /// form, kept by serde_urlencoded) made a submit_sm that cannot be
    /// encoded. Refused now, naming `from`.
    #[test]
    fn a_nul_in_from_is_a_bad_parameter() {
        let crash: &[u8] = b"username=demo&password=demo&to=447700900123&from=\0username=dTern\
            &content=Hello:dlr=yes&dlr-url=http%3emo&password=demo&tont=HelA%2F%lo";
        assert_eq!(
            send_form(crash).unwrap_err(),
            "from must not contain a NUL character"
        );
        let escaped = send_form(b"to=447700900123&from=Te%00rn&content=hi").unwrap_err();
        assert!(escaped.starts_with("from "), "{escaped}");
        let json = send_rest(br#"{"to": "447700900123", "from": "Te\u0000rn", "content": "hi"}"#);
        assert!(json.unwrap_err().starts_with("from "));
    }

    /// Found by the `http_params` target's hour (2026-12-04): an `sdt`
    /// ending in a NUL passed the SMPP time check (which forgives one
    /// terminator) and was stored with it, a schedule_delivery_time of 17
    /// octets that cannot be encoded. Refused now, naming `sdt`.
    #[test]
    fn an_sdt_with_a_nul_is_a_bad_parameter() {
        let crash: &[u8] = b"username=demo&password=demo&to=4479&content=hello&from=Tern\
            &validity-period=601&sdt=000000000100000R\0&x=1";
        assert_eq!(send_form(crash).unwrap_err(), "sdt is not an SMPP time");
        for sdt in ["%00", "000000000100000R%00", "0000000001%0000000R"] {
            let form = format!("to=4479&content=hi&sdt={sdt}");
            assert_eq!(
                send_form(form.as_bytes()).unwrap_err(),
                "sdt is not an SMPP time",
                "{sdt}"
            );
        }
        let ok = send_form(b"to=4479&content=hi&sdt=000000000100000R").unwrap();
        assert_eq!(&ok.submit.schedule_delivery_time[..], b"000000000100000R");
        let json =
            send_rest(br#"{"to": "4479", "content": "hi", "sdt": "000000000100000R\u0000"}"#);
        assert_eq!(json.unwrap_err(), "sdt is not an SMPP time");
    }
}
