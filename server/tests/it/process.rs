//! The real binary as a process: graceful SIGTERM drains an in-flight stream and flushes its call
//! log, and nothing it prints at trace level contains a key.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use api_proxy::db::call_logs::{self, LogFilter};
use api_proxy::db::Db;
use futures_util::StreamExt;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::json;
use tempfile::TempDir;

use crate::support::*;

pub struct Process {
    pub child: std::process::Child,
    pub output: Arc<Mutex<String>>,
    pub base: String,
}

impl Process {
    /// `method path` on this process, with the admin token.
    pub fn admin(&self, http: &awc::Client, method: &str, path: &str) -> awc::ClientRequest {
        http.request(method.parse().unwrap(), format!("{}{path}", self.base))
            .insert_header(("authorization", format!("Bearer {ADMIN_TOKEN}")))
    }

    /// Registers one OpenAI key pointing at `mock` through the admin API, on a connection closed
    /// afterwards: a kept-alive one would count in the server's connections until its keep-alive
    /// timeout, and tests that count connections would race it.
    pub async fn add_openai_key(&self, http: &awc::Client, mock: &MockUpstream) {
        let created = self
            .admin(http, "POST", "/api/keys")
            .force_close()
            .send_json(&json!({"provider": "openai", "name": "main", "api_key": SECRET, "base_url": mock.openai_base()}))
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
}

/// A test that ends early (or simply ends) must not leave the server running.
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary at trace level (every line it prints is checked for keys).
pub fn spawn_binary(dir: &TempDir) -> Process {
    spawn_binary_with(
        dir,
        &[("LOG_LEVEL", "trace"), ("SHUTDOWN_TIMEOUT_SECS", "30")],
    )
}

pub fn spawn_binary_with(dir: &TempDir, extra: &[(&str, &str)]) -> Process {
    spawn(binary_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_api-proxy")),
        dir,
        extra,
    ))
}

/// `program` (the api-proxy binary) set up to serve from `dir`, its output piped.
pub fn binary_command(program: &std::path::Path, dir: &TempDir, extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .envs(env_for(dir, extra))
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts `cmd` and waits for its listening line.
pub fn spawn(mut cmd: Command) -> Process {
    let mut child = cmd.spawn().expect("api-proxy binary starts");
    let output = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel::<String>();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let (output, tx) = (output.clone(), tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("api-proxy listening on ").nth(1) {
                    // (In a JSON log line the address is followed by the message's quote.)
                    let address = rest.split(|c: char| c.is_whitespace() || c == '"');
                    let _ = tx.send(address.into_iter().next().unwrap_or("").to_owned());
                }
                let mut out = output.lock().unwrap();
                out.push_str(&line);
                out.push('\n');
            }
        });
    }
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no listening line; output:\n{}", output.lock().unwrap()));
    Process {
        child,
        output,
        base,
    }
}

#[actix_web::test]
async fn sigterm_drains_a_stream_and_keeps_its_log_and_no_key_is_ever_logged() {
    let mock = MockUpstream::start(MockConfig {
        chunks: 20,
        chunk_delay: Duration::from_millis(25),
        ..Default::default()
    });
    let dir = TempDir::new().unwrap();
    let mut proc = spawn_binary(&dir);
    let http = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();

    proc.add_openai_key(&http, &mock).await;

    let mut stream = http
        .post(format!("{}/v1/chat/completions", proc.base))
        .send_json(&stream_body("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let first = stream.next().await.unwrap().unwrap();
    let mut text = String::from_utf8_lossy(&first).into_owned();

    // SIGTERM while the stream is in flight.
    let pid = i32::try_from(proc.child.id()).unwrap();
    assert_eq!(send_sigterm(pid), 0);
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(
        text.trim_end().ends_with("data: [DONE]"),
        "the in-flight stream finished: {text}"
    );
    assert_eq!(assembled(&text).split(' ').count(), 20);

    let status = proc.child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");

    // The drained call's log row was flushed before exit.
    let db = Db::open(&dir.path().join("data/api-proxy.db")).unwrap();
    let rows = db
        .run(|conn| call_logs::page(conn, &LogFilter::default(), 10))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, 200);
    assert!(rows[0].stream);
    assert_eq!(rows[0].completion_tokens, 20);

    let output = proc.output.lock().unwrap().clone();
    assert!(output.contains("shutting down"), "{output}");
    assert!(
        output.contains("TRACE") || output.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(
        !output.contains("SECRETSECRET"),
        "a key reached the logs:\n{output}"
    );
    assert!(
        !output.contains(ADMIN_TOKEN),
        "the admin token reached the logs"
    );
}

fn send_sigterm(pid: i32) -> i32 {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map_or(-1, |s| s.code().unwrap_or(-1))
}

/// Regression: with the log's reader gone, each failed log write was reported with `eprintln!`,
/// which panicked on the same broken pipe inside the SIGTERM task, so the server never stopped.
#[test]
fn sigterm_stops_the_server_even_when_nobody_reads_its_log() {
    let dir = TempDir::new().unwrap();
    let mut child = binary_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_api-proxy")),
        &dir,
        &[("LOG_LEVEL", "info")],
    )
    .spawn()
    .expect("api-proxy binary starts");
    drop(child.stderr.take());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("api-proxy listening on "));
    assert!(listening, "no listening line");
    // Nobody reads the log any more: the next write fails with a broken pipe.
    drop(lines);

    let pid = i32::try_from(child.id()).unwrap();
    assert_eq!(send_sigterm(pid), 0);
    // Bounded: SHUTDOWN_TIMEOUT_SECS is 5 in the tests; nothing is in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("api-proxy ignored SIGTERM with its log pipe closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

/// SIGTERM under load: every answered call is in the call logs and in its key's counters and
/// quota after a restart, the calls answered in the last milliseconds before the signal too. The
/// key actors fold in their last outcomes before the writer's last batch (before: the outcomes
/// still waiting for their actor's batch window were lost from the key's counters and quota).
#[actix_web::test]
async fn sigterm_under_load_loses_no_answered_call() {
    const CALLS: usize = 300;
    const QUOTA: f64 = 100_000.0;
    let mock = MockUpstream::start(MockConfig {
        workers: 2,
        ..Default::default()
    });
    let dir = TempDir::new().unwrap();
    let env = [("LOG_LEVEL", "info"), ("WORKERS", "2")];
    let mut proc = spawn_binary_with(&dir, &env);
    let http = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let created = proc
        .admin(&http, "POST", "/api/keys")
        .force_close()
        .send_json(
            &json!({"provider": "openai", "name": "main", "api_key": SECRET,
            "base_url": mock.openai_base(), "quota_total": QUOTA}),
        )
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // Connections closed after each call: no idle one keeps the drain waiting, so the server
    // stops within milliseconds of the signal.
    let url = format!("{}/v1/chat/completions", proc.base);
    let answers = futures_util::future::join_all((0..CALLS).map(|_| async {
        let mut resp = http
            .post(&url)
            .force_close()
            .send_json(&chat_body("gpt-4o"))
            .await
            .ok()?;
        let body = resp.body().await.ok()?;
        (resp.status() == StatusCode::OK && !body.is_empty()).then_some(())
    }))
    .await;
    assert!(
        answers.iter().all(Option::is_some),
        "every call is answered"
    );
    let pid = i32::try_from(proc.child.id()).unwrap();
    assert_eq!(send_sigterm(pid), 0);
    let status = proc.child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    drop(proc);

    let proc = spawn_binary_with(&dir, &env);
    let get = |path: &str| {
        let request = proc.admin(&http, "GET", path).force_close();
        async move {
            let mut resp = request.send().await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&resp.body().limit(1 << 22).await.unwrap())
                .unwrap()
        }
    };
    let stats = get("/api/stats").await;
    assert_eq!(stats["totals"]["calls"], CALLS, "call logs: {stats}");
    let logs = get("/api/logs?limit=500").await;
    assert_eq!(logs["data"].as_array().unwrap().len(), CALLS);
    let key = get("/api/keys/1").await;
    assert_eq!(key["usage"]["calls"], CALLS, "{key}");
    assert_eq!(key["quota_remaining"], QUOTA - CALLS as f64, "{key}");
}

#[actix_web::test]
async fn json_logs_are_one_object_per_line() {
    let dir = TempDir::new().unwrap();
    let proc = spawn_binary_with(&dir, &[("LOG_FORMAT", "json"), ("LOG_LEVEL", "info")]);
    let http = awc::Client::default();
    let health = http
        .get(format!("{}/api/health", proc.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let output = proc.output.lock().unwrap().clone();
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| !l.starts_with("api-proxy admin token"))
        .collect();
    assert!(!lines.is_empty());
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let listening = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("api-proxy listening on"))
        })
        .expect("the listening line");
    assert_eq!(listening["level"], "INFO");
    assert_eq!(listening["target"], "api_proxy::app");
    assert!(listening["timestamp"].is_string());
    // The event's fields sit beside the message.
    assert_eq!(
        format!("http://{}", listening["addr"].as_str().unwrap()),
        proc.base
    );
}
