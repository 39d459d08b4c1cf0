//! The HTTP API's parameter reading on any bytes: Jasmin's /send query or
//! form, `/secure/send`'s JSON object and `/secure/sendbatch`'s batch.
//! Never a panic; a /send that is accepted makes a submit_sm that encodes.
//! The first byte picks the flavour.
#![no_main]

use gateway::http::fuzzing;
use libfuzzer_sys::fuzz_target;
use smpp::pdu::{Body, Pdu};

fn encodes(send: &gateway::http::params::Send) {
    let pdu = Pdu::new(1, Body::SubmitSm(send.submit.clone()));
    if let Err(e) = pdu.to_bytes() {
        panic!("an accepted /send does not encode: {e:?} {send:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flavour, body)) = data.split_first() else {
        return;
    };
    match flavour % 3 {
        0 => {
            if let Ok(send) = fuzzing::send_form(body) {
                encodes(&send);
            }
        }
        1 => {
            if let Ok(send) = fuzzing::send_rest(body) {
                encodes(&send);
            }
        }
        _ => {
            if let Ok(messages) = fuzzing::send_batch(body) {
                for send in messages.iter().flatten() {
                    encodes(send);
                }
            }
        }
    }
});
