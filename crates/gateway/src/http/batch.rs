//! `POST /secure/sendbatch`, Jasmin's REST batch: `messages` (each a
//! /secure/send object, whose `to` may be a list), `globals` (parameters
//! every message inherits unless it sets its own) and `batch_config`.
//! Answer `{"data": {"batchId": "<uuid>", "messageCount": N}}`, N the
//! messages taken (one per destination), as Jasmin counts them.
//!
//! Unlike Jasmin, which queues the batch and sends it later, each message
//! is taken here before the answer, one by one, through the one submit
//! path ([`super::send_message`]), each accepted or refused on its own
//! (so over the user's throughput, the rest of a batch is refused). What
//! became of each is a [`BatchOutcome`]: it is what Jasmin's
//! `batch_config.callback_url` (called per accepted message) and
//! `errback_url` (per refused one) report, with GET and Jasmin's
//! parameters, through the store's callback queue (retried until a 2xx
//! for up to [`CALLBACK_TTL`]). `schedule_at` is refused (400: tern does
//! not hold messages back).
//!
//! As Jasmin does, a message without `to`, or without `content` and
//! `hex_content`, is skipped and not counted. A batch has at most
//! [`BATCH_MAX`] messages (400 naming `messages` above).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value};
use tracing::{info, warn};

use super::params::{BadParameter, callback_url};
use super::rest::{parameter_name, parameter_value, rest_user_and_object};
use super::{Flavour, Params, SendRefused, send_message};
use crate::context::Context;
use crate::store::{CallMethod, HttpCall, Store};

/// The most messages (destinations) in one batch.
pub const BATCH_MAX: usize = 1000;

/// How long a batch's callback waits to be answered 2xx (retried with
/// back-off until then, as every callback).
pub const CALLBACK_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What became of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageOutcome {
    /// Its destination, as the client gave it.
    pub to: String,
    /// Its message id once stored, or why it was refused.
    pub result: Result<String, SendRefused>,
}

/// Where a batch's outcomes are to be reported (Jasmin's `batch_config`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchCallbacks {
    /// Called for each accepted message.
    pub callback_url: Option<String>,
    /// Called for each refused message.
    pub errback_url: Option<String>,
}

/// What became of every message of a batch, in the batch's order.
///
/// This is what the durable callback queue takes to make Jasmin's batch
/// callbacks: [`BatchOutcome::callbacks`] gives each call (its URL and
/// its query parameters) to make with GET. It is built in
/// [`send_batch`], which refuses batches with callback URLs until the
/// queue takes it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub batch_id: String,
    pub callbacks: BatchCallbacks,
    pub results: Vec<MessageOutcome>,
}

impl MessageOutcome {
    /// Jasmin's callback parameters for this message: `batchId`, `to`,
    /// `status` (1 accepted, 0 refused) and `statusText` (`Success
    /// "<id>"`, or `HTTPAPI error: Error "<reason>` as Jasmin's REST
    /// tasks write it).
    pub fn callback_query(&self, batch_id: &str) -> Vec<(&'static str, String)> {
        let (status, text) = match &self.result {
            Ok(id) => ("1", format!("Success \"{id}\"")),
            Err(e) => ("0", format!("HTTPAPI error: Error \"{e}")),
        };
        vec![
            ("batchId", batch_id.to_string()),
            ("to", self.to.clone()),
            ("status", status.to_string()),
            ("statusText", text),
        ]
    }
}

impl BatchCallbacks {
    /// The call to make for `m` of batch `batch_id` (GET, Jasmin's
    /// parameters), when its kind (accepted or refused) has a URL.
    pub fn call_for(&self, batch_id: &str, m: &MessageOutcome) -> Option<HttpCall> {
        let url = match m.result {
            Ok(_) => self.callback_url.as_deref(),
            Err(_) => self.errback_url.as_deref(),
        }?;
        let params = m
            .callback_query(batch_id)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Some(HttpCall {
            url: url.to_string(),
            method: CallMethod::Get,
            params,
        })
    }
}

impl BatchOutcome {
    /// The callbacks to make: for each message whose kind (accepted or
    /// refused) has a URL, that call.
    pub fn callbacks(&self) -> Vec<HttpCall> {
        self.results
            .iter()
            .filter_map(|m| self.callbacks.call_for(&self.batch_id, m))
            .collect()
    }

    /// How many were accepted.
    pub fn accepted(&self) -> usize {
        self.results.iter().filter(|m| m.result.is_ok()).count()
    }
}

/// One message of a batch, its parameters read: `to` and the rest, or
/// why its parameters cannot be read.
struct Taken {
    to: String,
    params: Result<Params, BadParameter>,
}

/// The batch's body read into its messages, one per destination.
#[derive(Debug)]
struct Batch {
    callbacks: BatchCallbacks,
    messages: Vec<Map<String, Value>>,
}

fn bad(reason: impl Into<String>) -> BadParameter {
    BadParameter(reason.into())
}

/// Read `messages`, `globals` and `batch_config`.
fn read_batch(body: &Map<String, Value>) -> Result<Batch, BadParameter> {
    let globals = match body.get("globals") {
        None => Map::new(),
        Some(Value::Object(g)) => g.clone(),
        Some(_) => return Err(bad("globals must be an object")),
    };
    let config = match body.get("batch_config") {
        None => Map::new(),
        Some(Value::Object(c)) => c.clone(),
        Some(_) => return Err(bad("batch_config must be an object")),
    };
    let url = |name: &str| match config.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => callback_url(s, &format!("batch_config.{name}")).map(Some),
        Some(_) => Err(bad(format!("batch_config.{name} must be a string"))),
    };
    let callbacks = BatchCallbacks {
        callback_url: url("callback_url")?,
        errback_url: url("errback_url")?,
    };
    if config.get("schedule_at").is_some_and(|v| !v.is_null()) {
        return Err(bad("batch_config.schedule_at is not supported"));
    }
    let Some(messages) = body.get("messages") else {
        return Err(bad("messages is missing"));
    };
    let Value::Array(messages) = messages else {
        return Err(bad("messages must be a list"));
    };
    let mut out = Vec::new();
    for m in messages {
        let Value::Object(m) = m else {
            return Err(bad("messages must be a list of objects"));
        };
        // Names as /send knows them; the message's own win over globals.
        let mut merged: Map<String, Value> = globals
            .iter()
            .map(|(k, v)| (parameter_name(k), v.clone()))
            .collect();
        for (k, v) in m {
            merged.insert(parameter_name(k), v.clone());
        }
        let has_content = merged.contains_key("content") || merged.contains_key("hex-content");
        let Some(to) = merged.get("to").cloned() else {
            continue;
        };
        if !has_content {
            continue;
        }
        match to {
            Value::Array(list) => {
                for one in list {
                    let mut each = merged.clone();
                    each.insert("to".into(), one);
                    out.push(each);
                }
            }
            _ => out.push(merged),
        }
        if out.len() > BATCH_MAX {
            return Err(bad(format!(
                "messages: a batch has at most {BATCH_MAX} messages"
            )));
        }
    }
    Ok(Batch {
        callbacks,
        messages: out,
    })
}

/// The parameters of each message of a batch as /send reads them (for
/// [`super::fuzzing`]; the outer error refuses the batch whole).
pub(super) fn messages_of(
    body: &Map<String, Value>,
) -> Result<Vec<Result<Params, BadParameter>>, BadParameter> {
    Ok(read_batch(body)?
        .messages
        .iter()
        .map(|m| take(m).params)
        .collect())
}

/// One message's parameters as /send reads them.
fn take(message: &Map<String, Value>) -> Taken {
    let to = match message.get("to") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut p = Params::new();
    for (name, v) in message {
        if name == "username" || name == "password" {
            continue;
        }
        match parameter_value(name, v) {
            Ok(value) => {
                p.insert(name.clone(), value);
            }
            Err(reason) => {
                return Taken {
                    to,
                    params: Err(bad(reason)),
                };
            }
        }
    }
    Taken { to, params: Ok(p) }
}

/// POST /secure/sendbatch: read the batch, take each message, answer.
/// Each message's callback (`callback_url` when accepted, `errback_url`
/// when refused) joins the store's callback queue as soon as its message
/// is taken, before the next: a tern that dies mid-batch has queued the
/// calls of what it took (a kill between a message's store and its
/// callback's loses that one call).
pub async fn send_batch<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (user, object) = match rest_user_and_object(&ctx, peer, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let batch = match read_batch(&object) {
        Ok(b) => b,
        Err(e) => return Flavour::Rest.error(StatusCode::BAD_REQUEST, &e.0),
    };
    let mut outcome = BatchOutcome {
        batch_id: uuid::Uuid::new_v4().to_string(),
        callbacks: batch.callbacks,
        results: Vec::with_capacity(batch.messages.len()),
    };
    for message in &batch.messages {
        let Taken { to, params } = take(message);
        let result = match params {
            Ok(p) => send_message(&ctx, &user, &p).await,
            Err(e) => Err(SendRefused::BadParameter(e)),
        };
        let m = MessageOutcome { to, result };
        if let Some(call) = outcome.callbacks.call_for(&outcome.batch_id, &m) {
            if let Err(e) = ctx.store.queue_callback(&call, CALLBACK_TTL).await {
                warn!(
                    target: "tern::http",
                    batch_id = %outcome.batch_id,
                    error = %e,
                    "cannot queue a batch callback; it is lost"
                );
            }
        }
        outcome.results.push(m);
    }
    info!(
        target: "tern::http",
        batch_id = %outcome.batch_id,
        messages = outcome.results.len(),
        accepted = outcome.accepted(),
        "batch taken"
    );
    Flavour::Rest.data(serde_json::json!({
        "batchId": outcome.batch_id,
        "messageCount": outcome.results.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submit::SubmitError;

    fn batch(v: Value) -> Result<Batch, BadParameter> {
        read_batch(v.as_object().unwrap())
    }

    #[test]
    fn messages_inherit_globals_and_lists_expand() {
        let b = batch(serde_json::json!({
            "globals": {"from": "Brand2", "dlr_level": 3},
            "messages": [
                {"from": "Brand1", "to": ["1", "2", 3], "content": "a"},
                {"to": "4", "hex_content": "41"},
                {"to": "5"},
                {"content": "no destination"},
            ],
        }))
        .unwrap();
        assert_eq!(b.messages.len(), 4);
        let taken: Vec<Taken> = b.messages.iter().map(take).collect();
        let tos: Vec<&str> = taken.iter().map(|t| t.to.as_str()).collect();
        assert_eq!(tos, ["1", "2", "3", "4"]);
        let p = taken[0].params.as_ref().unwrap();
        assert_eq!(p["from"], "Brand1");
        assert_eq!(p["dlr-level"], "3");
        let p = taken[3].params.as_ref().unwrap();
        assert_eq!(
            (p["from"].as_str(), p["hex-content"].as_str()),
            ("Brand2", "41")
        );
        assert_eq!(b.callbacks, BatchCallbacks::default());
    }

    #[test]
    fn faults_name_their_parameter() {
        let reason = |v: Value| batch(v).unwrap_err().0;
        assert!(reason(serde_json::json!({})).starts_with("messages"));
        assert!(reason(serde_json::json!({"messages": {}})).starts_with("messages"));
        assert!(reason(serde_json::json!({"messages": [], "globals": 1})).starts_with("globals"));
        assert!(
            reason(serde_json::json!({"messages": [], "batch_config": {"schedule_at": "10s"}}))
                .starts_with("batch_config.schedule_at")
        );
        let many: Vec<String> = (0..=BATCH_MAX).map(|i| i.to_string()).collect();
        assert!(
            reason(serde_json::json!({"messages": [{"to": many, "content": "x"}]}))
                .starts_with("messages")
        );
        let b = batch(serde_json::json!({
            "messages": [{"to": "1", "content": {"a": 1}}],
            "batch_config": {"callback_url": "http://a/ok", "errback_url": "http://a/ko"},
        }))
        .unwrap();
        assert_eq!(b.callbacks.callback_url.as_deref(), Some("http://a/ok"));
        let t = take(&b.messages[0]);
        assert!(t.params.unwrap_err().0.starts_with("content "));
    }

    #[test]
    fn callbacks_are_jasmins() {
        let o = BatchOutcome {
            batch_id: "b1".into(),
            callbacks: BatchCallbacks {
                callback_url: Some("http://a/ok".into()),
                errback_url: None,
            },
            results: vec![
                MessageOutcome {
                    to: "33".into(),
                    result: Ok("id1".into()),
                },
                MessageOutcome {
                    to: "34".into(),
                    result: Err(SendRefused::Submit(SubmitError::NoRoute)),
                },
            ],
        };
        assert_eq!(o.accepted(), 1);
        let calls = o.callbacks();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].url, "http://a/ok");
        assert_eq!(calls[0].method, CallMethod::Get);
        let expected: Vec<(String, String)> = [
            ("batchId", "b1"),
            ("to", "33"),
            ("status", "1"),
            ("statusText", "Success \"id1\""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(calls[0].params, expected);
        let q = o.results[1].callback_query("b1");
        assert_eq!(q[2], ("status", "0".to_string()));
        assert_eq!(q[3].1, "HTTPAPI error: Error \"No route found");
    }
}
