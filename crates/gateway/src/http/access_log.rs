//! The HTTP access log: one `info` event per request, target `tern::http`,
//! with `method`, `path`, `query`, `status`, `duration_us`, `peer` and
//! `user` (the authenticated user, when there is one).
//!
//! Passwords never reach it: the query string is logged with every
//! `password` value replaced by `***`, bodies (forms, JSON) and headers
//! (Basic auth) are not logged at all. Nor are the texts people send
//! (`content`, `hex-content`: their length only) or a callback URL's path
//! and query (`dlr-url`: its scheme and host only; a query may carry a
//! customer's token). The user is the one
//! [`super::authenticate`] accepted, told through [`record_user`] (a
//! task-local slot the request's future runs in), never the name a client
//! claimed.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::info;

tokio::task_local! {
    static USER: RefCell<Option<String>>;
}

/// Tell the access log who the request's user is (no-op outside a
/// logged request).
pub fn record_user(system_id: &str) {
    let _ = USER.try_with(|u| *u.borrow_mut() = Some(system_id.to_string()));
}

/// The router's outermost middleware.
pub async fn log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(redact);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (response, user) = USER
        .scope(RefCell::new(None), async move {
            let r = next.run(req).await;
            (r, USER.with(|u| u.borrow_mut().take()))
        })
        .await;
    info!(
        target: "tern::http",
        %method,
        path,
        query = query.as_deref().unwrap_or(""),
        status = response.status().as_u16(),
        duration_us = started.elapsed().as_micros() as u64,
        peer = peer.map(|p| p.to_string()).unwrap_or_default(),
        user = user.as_deref().unwrap_or(""),
        "request"
    );
    response
}

/// The query string with each `password` value (whatever the case of
/// its name) replaced by `***`, texts by their length and a `dlr-url` by
/// its scheme and host; a query that cannot be read is not logged, as it
/// might hold a password.
fn redact(query: &str) -> String {
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) else {
        return "<unreadable>".to_string();
    };
    let pairs: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| {
            let name = k.to_ascii_lowercase();
            let v = match name.as_str() {
                "password" => "***".to_string(),
                "content" | "hex-content" => format!("<{} bytes>", v.len()),
                "dlr-url" => match url::Url::parse(&v) {
                    Ok(u) => format!("{}://{}/...", u.scheme(), u.host_str().unwrap_or("")),
                    Err(_) => "<unreadable>".to_string(),
                },
                _ => v,
            };
            (k, v)
        })
        .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_else(|_| "<unreadable>".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("username=a&password=s3cret&to=33"),
            "username=a&password=***&to=33"
        );
        assert_eq!(redact("PassWord=s3cret"), "PassWord=***");
        assert_eq!(redact("pass%77ord=s3cret"), "password=***");
        assert!(!redact("password=s3%63ret&password=again").contains("s3"));
    }

    #[test]
    fn texts_and_callback_urls_are_not_logged() {
        assert_eq!(
            redact("to=33&content=my+secret+code+1234"),
            "to=33&content=%3C19+bytes%3E"
        );
        assert_eq!(redact("hex-content=4142"), "hex-content=%3C4+bytes%3E");
        let r = redact("dlr-url=https%3A%2F%2Fh.example%2Fdlr%3Ftoken%3Dabc");
        assert!(r.contains("h.example") && !r.contains("abc"), "{r}");
    }
}
