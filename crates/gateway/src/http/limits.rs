//! What one HTTP client may hold of tern (issue 11, "Limits"): requests
//! in flight, the time and size of a request's body, the size of each
//! parameter. The connection-level limits (connections, the time to send
//! headers) are [`super::server`]'s. With both, a flood or a slow client
//! holds a bounded amount of memory for a bounded time.
//!
//! [`limit`] is the router's middleware: over [`IN_FLIGHT_MAX`] requests
//! in flight a request is answered 503 with Retry-After at once (load is
//! shed, not queued); then the whole body is read within
//! [`BODY_READ_TIMEOUT`] (408 and the connection closed otherwise, so a
//! client sending one byte a second is cut off) and up to
//! [`BODY_MAX`] octets (413 and closed; at once when Content-Length
//! announces more). Handlers get the body already read.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use super::params::BadParameter;
use super::{Params, with_retry_after};

/// The largest request body taken (a /send is a few hundred bytes; a
/// batch of a thousand short messages fits).
pub const BODY_MAX: usize = 64 * 1024;

/// Requests being answered at once, at most; more are refused with 503
/// and Retry-After. Each holds at most [`BODY_MAX`] of body.
pub const IN_FLIGHT_MAX: usize = 1024;

/// The time a client has to send a request's whole body, from the end of
/// its headers.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest parameter name.
pub const NAME_MAX: usize = 64;

/// The longest value of a parameter not listed in [`VALUE_MAX`].
pub const VALUE_MAX_DEFAULT: usize = 256;

/// The longest values of the parameters that may be long: the text
/// (whose encoded length [`super::params`] checks again), and URLs.
pub const VALUE_MAX: &[(&str, usize)] = &[
    ("content", 32 * 1024),
    ("hex-content", 64 * 1024),
    ("dlr-url", 2048),
];

/// The requests in flight of one router.
#[derive(Clone)]
pub struct InFlight(Arc<Semaphore>);

impl Default for InFlight {
    fn default() -> Self {
        InFlight(Arc::new(Semaphore::new(IN_FLIGHT_MAX)))
    }
}

/// The router's middleware: the in-flight bound, then the body read
/// within its time and size.
pub async fn limit(State(in_flight): State<InFlight>, req: Request, next: Next) -> Response {
    let Ok(_permit) = in_flight.0.try_acquire() else {
        let r = (
            StatusCode::SERVICE_UNAVAILABLE,
            "Error \"too many requests\"",
        )
            .into_response();
        return with_retry_after(r);
    };
    let (parts, body) = req.into_parts();
    // A body announced over the bound is refused before it is read: it
    // does not hold a request slot for BODY_READ_TIMEOUT.
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > BODY_MAX as u64) {
        return too_large();
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, read_body(body)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(BodyFault::TooLarge)) => too_large(),
        Ok(Err(BodyFault::Broken)) => (
            StatusCode::BAD_REQUEST,
            "Error \"the body could not be read\"",
        )
            .into_response(),
        Err(_) => {
            let mut r = (
                StatusCode::REQUEST_TIMEOUT,
                "Error \"the body was not sent in time\"",
            )
                .into_response();
            r.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            r
        }
    }
}

/// 413, and the connection closed: the rest of the body is not read.
fn too_large() -> Response {
    let mut r = (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Error \"the body is larger than {BODY_MAX} octets\""),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    r
}

enum BodyFault {
    TooLarge,
    Broken,
}

async fn read_body(body: Body) -> Result<bytes::Bytes, BodyFault> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyFault::Broken)?;
        if buf.len() + chunk.len() > BODY_MAX {
            return Err(BodyFault::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Every parameter's name and value within its size, or the first that
/// is not, named.
pub fn check_params(p: &Params) -> Result<(), BadParameter> {
    for (name, value) in p {
        if name.len() > NAME_MAX {
            return Err(BadParameter(format!(
                "a parameter name is longer than {NAME_MAX} characters"
            )));
        }
        let max = VALUE_MAX
            .iter()
            .find(|(n, _)| n == name)
            .map_or(VALUE_MAX_DEFAULT, |(_, m)| *m);
        if value.len() > max {
            return Err(BadParameter(format!(
                "{name} is longer than {max} characters"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_parameter_has_its_size() {
        let p = |k: &str, n: usize| Params::from([(k.to_string(), "a".repeat(n))]);
        assert!(check_params(&p("from", VALUE_MAX_DEFAULT)).is_ok());
        let e = check_params(&p("from", VALUE_MAX_DEFAULT + 1)).unwrap_err();
        assert_eq!(e.0, "from is longer than 256 characters");
        assert!(check_params(&p("content", 32 * 1024)).is_ok());
        assert!(
            check_params(&p("content", 32 * 1024 + 1))
                .unwrap_err()
                .0
                .starts_with("content ")
        );
        assert!(
            check_params(&p("dlr-url", 2049))
                .unwrap_err()
                .0
                .starts_with("dlr-url ")
        );
        let e = check_params(&p(&"x".repeat(65), 1)).unwrap_err();
        assert!(e.0.contains("name"), "{}", e.0);
    }
}
