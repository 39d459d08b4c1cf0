//! Jasmin's REST API (`/secure/*`, shared/DESIGN.md "HTTP API"), for
//! clients written against it: the same requests and answers as Jasmin's
//! `jasmin.protocols.rest`, which wraps Jasmin's /send, /balance and
//! /rate. Here they wrap tern's own (`super::send_message`,
//! `super::balance_of`, `super::rate_of`): nothing is decided twice.
//!
//! As Jasmin's:
//! - credentials come only as HTTP Basic auth: missing or unreadable →
//!   401 `{"title", "description"}` (with `WWW-Authenticate: Basic`);
//!   refused → 403 like every other refusal below;
//! - the body is a JSON object of /send's parameters, read whatever its
//!   Content-Type; `_` in a name is read as `-` (`hex_content`,
//!   `dlr_url`); numbers are taken as their decimal text; `username` and
//!   `password` in it are ignored (Basic auth's win, as Jasmin's do); an
//!   unreadable body → 412 `{"title": "Cannot parse JSON data", ...}`;
//! - answers are `{"data": ...}` on 200 and `{"message": ...}` with the
//!   plain API's status otherwise, the texts being the plain API's with a
//!   closing `"` stripped (Jasmin's REST API strips `"` from both ends of
//!   its /send's answer, which only ends with one): `{"data": "Success
//!   \"<id>"}`, `{"message": "Error \"No route found"}`;
//! - a client whose `Accept` takes no JSON → 415.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::{AuthRefused, Flavour, Params, authenticate, balance_of, rate_of, refused, send_as};
use crate::config::User;
use crate::context::Context;
use crate::store::Store;

/// Jasmin's REST text of a plain API answer: its `"`s stripped from both
/// ends (Python's `str.strip('"')`).
pub(super) fn proxied(text: &str) -> String {
    text.trim_matches('"').to_string()
}

/// 401, as Falcon's `HTTPUnauthorized` in Jasmin's REST API answers it.
pub(super) fn unauthorized() -> Response {
    let body = serde_json::json!({
        "title": "Authentication required",
        "description": "Please provide a valid Basic auth token",
    });
    let mut r = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"tern\""),
    );
    r
}

/// 412 for a body that is not a JSON object, as Jasmin answers it.
pub(super) fn unparseable(why: &str) -> Response {
    let body = serde_json::json!({
        "title": "Cannot parse JSON data",
        "description": format!("Got unparseable json data: {why}"),
    });
    (StatusCode::PRECONDITION_FAILED, axum::Json(body)).into_response()
}

/// 415 when the client's `Accept` takes no JSON (Jasmin's
/// ContentTypeFilter); no `Accept` takes anything.
fn refuses_json(headers: &HeaderMap) -> Option<Response> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    let json = accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or("").trim();
        matches!(media, "*/*" | "application/*" | "application/json" | "")
    });
    if json {
        return None;
    }
    let body = serde_json::json!({
        "title": "Unsupported media type",
        "description": "This API supports JSON media type only.",
    });
    Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, axum::Json(body)).into_response())
}

/// The user of the request's Basic auth, or the answer refusing it.
pub(super) async fn rest_user<S: Store>(
    ctx: &Context<S>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Arc<User>, Response> {
    if let Some(r) = refuses_json(headers) {
        return Err(r);
    }
    if super::basic_auth(headers).is_none() {
        return Err(Flavour::Rest.auth_refused(&AuthRefused::Missing));
    }
    authenticate(ctx, peer, headers, &Params::new())
        .await
        .map_err(|r| Flavour::Rest.auth_refused(&r))
}

/// The user of the request's Basic auth and its body as a JSON object,
/// or the answer refusing one of them.
pub(super) async fn rest_user_and_object<S: Store>(
    ctx: &Context<S>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Arc<User>, serde_json::Map<String, serde_json::Value>), Response> {
    let user = rest_user(ctx, peer, headers).await?;
    let object = json_object(body).map_err(|why| unparseable(&why))?;
    Ok((user, object))
}

/// A JSON parameter's name as /send knows it: `_` read as `-`.
pub(super) fn parameter_name(name: &str) -> String {
    name.replace('_', "-")
}

/// A JSON parameter's value as /send reads it: a string as it is, a
/// number as its decimal text; anything else is refused, named.
pub(super) fn parameter_value(name: &str, v: &serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("{name} must be a string or a number")),
    }
}

/// A JSON object of /send parameters as [`Params`], credentials left out.
pub(super) fn object_params(
    object: &serde_json::Map<String, serde_json::Value>,
    into: &mut Params,
) -> Result<(), String> {
    for (k, v) in object {
        let name = parameter_name(k);
        if name == "username" || name == "password" {
            continue;
        }
        let value = parameter_value(&name, v)?;
        into.insert(name, value);
    }
    Ok(())
}

/// The body as a JSON object, or why not (for [`unparseable`]).
pub(super) fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(o)) => Ok(o),
        Ok(_) => Err("the body is not a JSON object".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// POST /secure/send: a JSON object of /send's parameters.
pub async fn send<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (user, object) = match rest_user_and_object(&ctx, peer, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut p = Params::new();
    if let Err(reason) = object_params(&object, &mut p) {
        return Flavour::Rest.error(StatusCode::BAD_REQUEST, &reason);
    }
    send_as(&ctx, &user, &p, Flavour::Rest).await
}

/// GET /secure/balance: `{"data": {"balance": 12.5, "sms_count": null}}`.
pub async fn balance<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let user = match rest_user(&ctx, peer, &headers).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    match balance_of(&ctx, &user).await {
        Ok(v) => Flavour::Rest.data(v),
        Err(e) => refused(Flavour::Rest, &e),
    }
}

/// GET /secure/rate?to=...: `{"data": {"submit_sm_count": 1,
/// "unit_rate": 0.1}}`; the parameters in the query string (Jasmin's
/// documented form) or a JSON body (what Jasmin's code reads), or both.
pub async fn rate<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let user = match rest_user(&ctx, peer, &headers).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut p = Params::new();
    if let Some(q) = query {
        match serde_urlencoded::from_str::<Vec<(String, String)>>(&q) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    let name = parameter_name(&k);
                    if name != "username" && name != "password" {
                        p.insert(name, v);
                    }
                }
            }
            Err(_) => {
                return Flavour::Rest.error(
                    StatusCode::BAD_REQUEST,
                    "the query string is not url-encoded",
                );
            }
        }
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        let object = match json_object(&body) {
            Ok(o) => o,
            Err(why) => return unparseable(&why),
        };
        if let Err(reason) = object_params(&object, &mut p) {
            return Flavour::Rest.error(StatusCode::BAD_REQUEST, &reason);
        }
    }
    match rate_of(&ctx, &user, p) {
        Ok(v) => Flavour::Rest.data(v),
        Err(e) => refused(Flavour::Rest, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_stripped_as_jasmin_strips_them() {
        assert_eq!(proxied("Success \"abc\""), "Success \"abc");
        assert_eq!(
            proxied("Error \"No route found\""),
            "Error \"No route found"
        );
    }

    #[test]
    fn json_parameters_read_as_send_parameters() {
        let o = serde_json::json!({
            "to": 19012233451u64,
            "hex_content": "0623",
            "dlr_level": 3,
            "username": "mallory",
            "password": "x",
        });
        let mut p = Params::new();
        object_params(o.as_object().unwrap(), &mut p).unwrap();
        assert_eq!(p.get("to").map(String::as_str), Some("19012233451"));
        assert_eq!(p.get("hex-content").map(String::as_str), Some("0623"));
        assert_eq!(p.get("dlr-level").map(String::as_str), Some("3"));
        assert!(!p.contains_key("username") && !p.contains_key("password"));
        let o = serde_json::json!({"to": ["1", "2"]});
        let e = object_params(o.as_object().unwrap(), &mut Params::new()).unwrap_err();
        assert!(e.starts_with("to "), "{e}");
    }

    #[test]
    fn accept_headers() {
        let mut h = HeaderMap::new();
        assert!(refuses_json(&h).is_none());
        for ok in ["*/*", "application/json", "text/html, application/*;q=0.5"] {
            h.insert(header::ACCEPT, ok.parse().unwrap());
            assert!(refuses_json(&h).is_none(), "{ok}");
        }
        h.insert(header::ACCEPT, "text/html".parse().unwrap());
        assert_eq!(
            refuses_json(&h).map(|r| r.status()),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }
}
