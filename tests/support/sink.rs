//! A test HTTP endpoint for tern's callbacks (receipts to a `dlr-url`, MO
//! to a `mo_url`): axum on a free loopback port, on a thread and runtime
//! of its own (a test that blocks its own runtime cannot starve it). It
//! records every call (method, path, parameters from the query or the
//! form, the status it answered) and answers 200 `ACK/Jasmin`, or the
//! statuses a test queued with [`Sink::answer_next`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

/// One call the sink got.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// The query's parameters, then the form's.
    pub params: HashMap<String, String>,
    /// What the sink answered.
    pub answered: u16,
}

impl Call {
    pub fn get(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }
}

#[derive(Default)]
struct Shared {
    calls: Vec<Call>,
    /// Statuses to answer next, in order; 200 when empty.
    next: VecDeque<u16>,
    /// Answer this to everything while set.
    always: Option<u16>,
}

pub struct Sink {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl Sink {
    pub fn start() -> Sink {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let s = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                let app = Router::new().fallback(record).with_state(s);
                let _ = axum::serve(listener, app).await;
            });
        });
        Sink { port, shared }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answer the next calls with these statuses (then 200 again).
    pub fn answer_next(&self, statuses: &[u16]) {
        self.shared.lock().unwrap().next.extend(statuses);
    }

    /// Answer every call with `status` (None: back to 200).
    pub fn answer_always(&self, status: Option<u16>) {
        self.shared.lock().unwrap().always = status;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().unwrap().calls.clone()
    }

    /// Wait until `f(calls)` holds; panics with the calls after `within`.
    pub fn wait_for(&self, what: &str, within: Duration, f: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let deadline = Instant::now() + within;
        loop {
            let calls = self.calls();
            if f(&calls) {
                return calls;
            }
            if Instant::now() > deadline {
                panic!("sink: {what} not within {within:?}; calls: {calls:#?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn record(State(s): State<Arc<Mutex<Shared>>>, req: Request) -> impl IntoResponse {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let mut params: HashMap<String, String> =
        serde_urlencoded::from_str(&query).unwrap_or_default();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    params.extend(form);
    let mut g = s.lock().unwrap();
    let status = g.always.or_else(|| g.next.pop_front()).unwrap_or(200);
    g.calls.push(Call {
        method,
        path,
        params,
        answered: status,
    });
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        "ACK/Jasmin",
    )
}
