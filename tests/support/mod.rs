//! Shared harness for the end-to-end tests: start the project's binaries
//! on free loopback ports, wait for them, stop them by PID, and bind to
//! them with our session crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smpp::pdu::{
    Address, Bind, Body, DeliverSm, DeliverSmResp, Npi, RegisteredDelivery, SubmitSm, Ton,
};
use smpp_session::{BindMode, Event, Session, SessionConfig, esme};
use tokio::sync::mpsc;

pub mod pki;
pub mod sink;

/// The directory the workspace's binaries are built into (next to the test
/// executable's `deps/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("target profile dir").to_path_buf()
}

/// Path of a workspace binary; panics with the command to build it.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is not built: run `cargo build --workspace` (make test does)",
        p.display()
    );
    p
}

/// A free loopback port (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed (by its PID) when dropped.
pub struct Proc {
    pub child: Option<Child>,
    pub name: String,
}

impl Proc {
    pub fn start(name: &str, args: &[&str]) -> Proc {
        Proc::start_env(name, args, &[])
    }

    /// [`Proc::start`] with variables added to the environment it inherits.
    pub fn start_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let child = Command::new(bin(name))
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            child: Some(child),
            name: name.into(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Send a signal by PID.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status();
    }

    /// Stop with SIGTERM and collect the output.
    pub fn stop(mut self) -> Output {
        self.signal("TERM");
        let child = self.child.take().unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Wait until something accepts TCP connections on the port.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on 127.0.0.1:{port} after 20 s");
}

/// Start smsc-sim on a free port with extra options; returns it and its port.
pub fn smsc_sim(extra: &[&str]) -> (Proc, u16) {
    smsc_sim_on(free_port(), extra)
}

/// smsc-sim on `port` with extra options; returns it and its port.
pub fn smsc_sim_on(port: u16, extra: &[&str]) -> (Proc, u16) {
    let port_s = port.to_string();
    let mut args = vec!["--port", &port_s, "--log", "warn"];
    args.extend_from_slice(extra);
    let p = Proc::start("smsc-sim", &args);
    wait_for_port(port);
    (p, port)
}

/// A submit_sm from "Tern" (alphanumeric) to the international number
/// `dest`, saying `text`, with registered_delivery `rd`.
pub fn sms(dest: &str, text: &str, rd: u8) -> SubmitSm<Bytes> {
    SubmitSm {
        source: Address {
            ton: Ton::ALPHANUMERIC,
            npi: Npi::UNKNOWN,
            addr: Bytes::from_static(b"Tern"),
        },
        destination: Address {
            ton: Ton::INTERNATIONAL,
            npi: Npi::ISDN,
            addr: Bytes::copy_from_slice(dest.as_bytes()),
        },
        registered_delivery: RegisteredDelivery(rd),
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..Default::default()
    }
}

pub fn bind_body(system_id: &str, password: &str) -> Bind<Bytes> {
    Bind {
        system_id: Bytes::copy_from_slice(system_id.as_bytes()),
        password: Bytes::copy_from_slice(password.as_bytes()),
        interface_version: 0x34,
        ..Default::default()
    }
}

/// Bind to 127.0.0.1:port.
pub async fn bind(
    port: u16,
    mode: BindMode,
    system_id: &str,
    password: &str,
) -> Result<(Session, mpsc::Receiver<Event>), smpp_session::SessionError> {
    let (s, ev, _) = esme::connect(
        &format!("127.0.0.1:{port}"),
        mode,
        bind_body(system_id, password),
        SessionConfig::default(),
    )
    .await?;
    Ok((s, ev))
}

/// The next deliver_sm on `s` (its events `ev`), answered with ESME_ROK;
/// panics when none comes within `within` or another request comes.
pub async fn next_deliver(
    s: &Session,
    ev: &mut mpsc::Receiver<Event>,
    within: Duration,
) -> DeliverSm<Bytes> {
    let Event::Request(p) = tokio::time::timeout(within, ev.recv())
        .await
        .expect("a deliver_sm in time")
        .expect("session open");
    let seq = p.sequence_number;
    let Body::DeliverSm(d) = p.body else {
        panic!("{:?}", p.body)
    };
    s.respond(
        seq,
        smpp::CommandStatus::ESME_ROK,
        Body::DeliverSmResp(DeliverSmResp::default()),
    )
    .await
    .unwrap();
    d
}

/// Run a binary to completion with a time limit; returns its output.
pub fn run_with_timeout(name: &str, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{name} did not finish within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running tern on a config written for the test.
pub struct Tern {
    pub proc: Proc,
    pub port: u16,
    pub dir: PathBuf,
}

impl Tern {
    /// Start `tern run` on `config`, where `{smpp_port}` and `{http_port}`
    /// are replaced by free ports.
    pub fn start(config: &str) -> Tern {
        Tern::start_on(config, free_port(), free_port())
    }

    /// Start `tern run` on `config` with `{smpp_port}` and `{http_port}`
    /// replaced by the ports given: a test that kills a tern and starts it
    /// again uses the same ports, so its clients find it where it was.
    pub fn start_on(config: &str, port: u16, http: u16) -> Tern {
        let tern = Tern::spawn_env(config, port, http, &[]);
        wait_for_port(port);
        tern
    }

    /// Start `tern run` like [`Tern::start_on`] with variables added to its
    /// environment, and return at once, without waiting for its port: for
    /// a test that waits for another sign (systemd's READY).
    pub fn spawn_env(config: &str, port: u16, http: u16, env: &[(&str, &str)]) -> Tern {
        let dir = std::env::temp_dir().join(format!("tern-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = config
            .replace("{smpp_port}", &port.to_string())
            .replace("{http_port}", &http.to_string());
        std::fs::write(dir.join("tern.ini"), text).unwrap();
        let path = dir.join("tern.ini");
        let proc = Proc::start_env("tern", &["run", "-c", path.to_str().unwrap()], env);
        Tern { proc, port, dir }
    }

    /// The configuration file this tern runs on (rewrite it, then SIGHUP).
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("tern.ini")
    }
}

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A redis-server of the test's own on a free loopback port, with its data
/// in a directory of its own (append-only file, fsync on every write, so a
/// SIGKILL loses nothing acknowledged).
pub struct Redis {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("tern-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Redis {
            port,
            dir,
            child: None,
        };
        r.restart();
        r
    }

    /// Start (again) on the same port and directory.
    pub fn restart(&mut self) {
        let which = Command::new("sh")
            .args(["-c", "command -v redis-server"])
            .output()
            .unwrap();
        assert!(
            which.status.success(),
            "redis-server is not installed: apt-get install redis-server (make test does)"
        );
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir.to_str().unwrap(),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).trim() == "PONG" {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    /// Kill it with SIGKILL (by PID).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Run redis-cli against it; its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// smsc-sim with its stdout (the counters' JSON lines) read as it comes.
pub struct Sim {
    pub proc: Proc,
    pub port: u16,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Sim {
    pub fn start(extra: &[&str]) -> Sim {
        Sim::start_on(free_port(), extra)
    }

    /// [`Sim::start`] on `port` (an SMSC that comes up where a connector
    /// already looks for it).
    pub fn start_on(port: u16, extra: &[&str]) -> Sim {
        let (mut proc, port) = smsc_sim_on(port, extra);
        let stdout = proc
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .expect("piped stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let l = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                l.lock().unwrap().push(line);
            }
        });
        Sim { proc, port, lines }
    }

    /// The simulator's counters now (SIGUSR1).
    pub fn counters(&self) -> serde_json::Value {
        let before = self.lines.lock().unwrap().len();
        self.proc.signal("USR1");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(l) = self.lines.lock().unwrap().get(before) {
                return serde_json::from_str(l).unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("smsc-sim printed no counters");
    }

    /// Wait until `f(counters)` holds, or panic with the last counters.
    pub fn wait_for(
        &self,
        what: &str,
        within: Duration,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let c = self.counters();
            if f(&c) {
                return c;
            }
            if Instant::now() > deadline {
                panic!("smsc-sim: {what} not within {within:?}: {c}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Run any command to completion with a time limit, its stdout and stderr
/// read as they come (so a chatty child cannot fill a pipe and stall); on
/// the limit it is killed (by its PID) and the test panics with what it
/// printed. Panics when it cannot be started at all.
pub fn run_command_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    use std::io::Read;
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let Some(status) = status else {
        panic!(
            "{what} did not finish within {limit:?}; stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

/// 127.0.0.`n`: a loopback source address of its own (Linux routes all
/// of 127.0.0.0/8 to loopback), for tests of per-address behaviour.
pub fn local(n: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(127, 0, 0, n)
}

/// A TCP connection to 127.0.0.1:`port` from `source`, within `within`.
pub async fn connect_from_within(
    source: std::net::Ipv4Addr,
    port: u16,
    within: Duration,
) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::from((source, 0)))
        .unwrap();
    tokio::time::timeout(
        within,
        socket.connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
    )
    .await
    .expect("connected in time")
    .unwrap_or_else(|e| panic!("connecting from {source}: {e}"))
}

/// `password` hashed by `tern hash-password` (argon2id, PHC string).
pub fn hash_password(password: &str) -> String {
    let mut child = Command::new(bin("tern"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), password.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
