//! `loadgen`: the driver of api-proxy's benchmark (`bench/run.sh`). Every run is bounded in time
//! and count and only ever targets loopback addresses.
//!
//! ```text
//! loadgen load    --url URL [--stream] --concurrency N [--duration-secs S] [--warmup-secs W]
//!                 [--requests N] [--threads T] [--timeout-secs T] [--model M]
//!                 [--watch NAME=PID]... [--scenario ID] [--target NAME] [--out FILE]
//! loadgen idle    --url URL --streams N [--open-concurrency K] [--open-timeout-secs T]
//!                 [--hold-secs H] [--threads T] [--watch NAME=PID]... [--scenario ID] [--target NAME] [--out FILE]
//! loadgen startup --health-url URL [--timeout-secs T] [--label L] [--out FILE] -- COMMAND [ARGS]...
//! loadgen sample  --pid PID [--label L] [--out FILE]
//! loadgen report  --run-dir DIR --json FILE --md FILE
//! ```
//!
//! `load` keeps `concurrency` keep-alive connections busy with `POST` chat completions (streamed
//! with `--stream`: time to first chunk and full time are both measured) and writes requests/s,
//! latency percentiles and errors by kind as JSON. `idle` opens many streams against a slow
//! upstream and holds them. `--watch` samples a process's RSS and CPU during the run.

mod http;
mod load;
mod report;
mod startup;
mod stats;
mod watch;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

use http::Target;
use stats::{Percentiles, Stats};
use watch::Watcher;

/// Upper bounds that keep any invocation short and local.
const MAX_SECONDS: u64 = 600;
const MAX_CONNECTIONS: usize = 20_000;
const MAX_THREADS: usize = 64;

/// `--flag value` pairs (a flag may repeat), bare `--stream`, and what follows `--`.
struct Args {
    flags: Vec<(String, String)>,
    rest: Vec<String>,
}

const BARE_FLAGS: &[&str] = &["--stream"];

impl Args {
    fn parse(raw: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut flags = Vec::new();
        let mut raw = raw.peekable();
        while let Some(flag) = raw.next() {
            if flag == "--" {
                return Ok(Self {
                    flags,
                    rest: raw.collect(),
                });
            }
            if !flag.starts_with("--") {
                return Err(format!("unexpected argument {flag}"));
            }
            if BARE_FLAGS.contains(&flag.as_str()) {
                flags.push((flag, "true".into()));
                continue;
            }
            let value = raw.next().ok_or_else(|| format!("{flag} needs a value"))?;
            flags.push((flag, value));
        }
        Ok(Self {
            flags,
            rest: Vec::new(),
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.flags
            .iter()
            .filter(move |(f, _)| f == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("{name} is required"))
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{name}: not a number: {v}")),
        }
    }

    fn secs(&self, name: &str, default: f64) -> Result<Duration, String> {
        let s: f64 = self.num(name, default)?;
        if !(0.0..=MAX_SECONDS as f64).contains(&s) {
            return Err(format!("{name} must be between 0 and {MAX_SECONDS}"));
        }
        Ok(Duration::from_secs_f64(s))
    }

    fn bounded(&self, name: &str, default: usize, max: usize) -> Result<usize, String> {
        let n: usize = self.num(name, default)?;
        if n == 0 || n > max {
            return Err(format!("{name} must be between 1 and {max}"));
        }
        Ok(n)
    }

    /// `--watch NAME=PID` pairs.
    fn watched(&self) -> Result<Vec<(String, u32)>, String> {
        self.all("--watch")
            .map(|w| {
                let (name, pid) = w
                    .split_once('=')
                    .ok_or_else(|| format!("--watch {w}: expected NAME=PID"))?;
                let pid = pid.parse().map_err(|_| format!("--watch {w}: bad pid"))?;
                Ok((name.to_owned(), pid))
            })
            .collect()
    }
}

/// A small request: Anthropic's Messages format for a `…/messages` target, else OpenAI's chat.
fn request_body(target: &Target, model: &str, stream: bool) -> Vec<u8> {
    if target.is_messages() {
        let mut body = json!({
            "model": model,
            "max_tokens": 256,
            "system": "You are a helpful assistant.",
            "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
            "temperature": 0.2
        });
        if stream {
            body["stream"] = Value::Bool(true);
        }
        return serde_json::to_vec(&body).expect("body serialises");
    }
    chat_body(model, stream)
}

/// A small chat request in OpenAI's format.
fn chat_body(model: &str, stream: bool) -> Vec<u8> {
    let mut body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello to the benchmark."}
        ],
        "temperature": 0.2
    });
    if stream {
        body["stream"] = Value::Bool(true);
    }
    serde_json::to_vec(&body).expect("body serialises")
}

fn errors_json(stats: &Stats) -> Value {
    json!(stats.errors)
}

fn resources_json(usage: Vec<(String, watch::Usage)>) -> Value {
    let map: BTreeMap<String, watch::Usage> = usage.into_iter().collect();
    json!(map)
}

fn write_out(args: &Args, value: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).expect("json");
    match args.get("--out") {
        Some(path) => std::fs::write(path, text + "\n").map_err(|e| format!("{path}: {e}")),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn cmd_load(args: &Args) -> Result<(), String> {
    let url = args.required("--url")?;
    let mut target = Target::parse(url)?;
    target.bearer = args.get("--bearer").map(str::to_owned);
    let stream = args.get("--stream").is_some();
    let concurrency = args.bounded("--concurrency", 1, MAX_CONNECTIONS)?;
    let threads = args.bounded("--threads", 1, MAX_THREADS)?.min(concurrency);
    let warmup = args.secs("--warmup-secs", 1.0)?;
    let duration = args.secs("--duration-secs", 10.0)?;
    let requests = match args.get("--requests") {
        None => None,
        Some(_) => Some(args.num::<u64>("--requests", 0)?),
    };
    let timeout = args.secs("--timeout-secs", 30.0)?;
    let model = args.get("--model").unwrap_or("gpt-4o");
    let body = request_body(&target, model, stream);
    let mut watcher = Watcher::start(args.watched()?);
    let outcome = load::closed_loop(
        load::LoadConfig {
            target,
            stream,
            concurrency,
            threads,
            warmup,
            duration,
            requests,
            timeout,
            body,
        },
        &mut watcher,
    );
    let resources = resources_json(watcher.finish());
    let window = outcome.window.as_secs_f64();
    let s = &outcome.stats;
    let rps = if window > 0.0 {
        s.ok as f64 / window
    } else {
        0.0
    };
    let value = json!({
        "kind": "load",
        "scenario": args.get("--scenario"),
        "target": args.get("--target"),
        "mode": if stream { "stream" } else { "nonstream" },
        "url": url,
        "concurrency": concurrency,
        "threads": threads,
        "warmup_s": warmup.as_secs_f64(),
        "window_s": (window * 1000.0).round() / 1000.0,
        "requests": s.ok,
        "rps": (rps * 10.0).round() / 10.0,
        "latency_ms": Percentiles::of(&s.latency),
        "ttfc_ms": Percentiles::of(&s.ttfc),
        "error_count": s.error_count(),
        "errors": errors_json(s),
        "warmup_error_count": outcome.warmup_errors.error_count(),
        "warmup_errors": errors_json(&outcome.warmup_errors),
        "bytes": s.bytes,
        "events": s.events,
        "resources": resources,
    });
    write_out(args, &value)
}

fn cmd_idle(args: &Args) -> Result<(), String> {
    let url = args.required("--url")?;
    let target = Target::parse(url)?;
    let streams = args.bounded("--streams", 100, MAX_CONNECTIONS)?;
    let threads = args.bounded("--threads", 1, MAX_THREADS)?.min(streams);
    let open_concurrency = args.bounded("--open-concurrency", 256, MAX_CONNECTIONS)?;
    let open_timeout = args.secs("--open-timeout-secs", 60.0)?;
    let hold = args.secs("--hold-secs", 10.0)?;
    let model = args.get("--model").unwrap_or("gpt-4o");
    let mut watcher = Watcher::start(args.watched()?);
    let outcome = load::idle_streams(
        load::IdleConfig {
            target,
            streams,
            threads,
            open_concurrency,
            open_timeout,
            hold,
            body: chat_body(model, true),
        },
        &mut watcher,
    );
    let resources = resources_json(watcher.finish());
    let s = &outcome.stats;
    let value = json!({
        "kind": "idle",
        "scenario": args.get("--scenario"),
        "target": args.get("--target"),
        "url": url,
        "streams": streams,
        "opened": outcome.opened,
        "alive_at_end": outcome.alive_at_end,
        "open_ms": (outcome.open_time.as_secs_f64() * 1e6).round() / 1e3,
        "hold_s": hold.as_secs_f64(),
        "ttfc_ms": Percentiles::of(&s.ttfc),
        "error_count": s.error_count(),
        "errors": errors_json(s),
        "resources": resources,
    });
    write_out(args, &value)
}

fn cmd_startup(args: &Args) -> Result<(), String> {
    let health = Target::parse(args.required("--health-url")?)?;
    let timeout = args.secs("--timeout-secs", 30.0)?;
    let ms = startup::measure(&health, &args.rest, timeout)?;
    write_out(
        args,
        &json!({"kind": "startup", "label": args.get("--label"), "startup_ms": ms}),
    )
}

fn cmd_sample(args: &Args) -> Result<(), String> {
    let pid: u32 = args
        .required("--pid")?
        .parse()
        .map_err(|_| "--pid: not a number")?;
    let s = watch::sample(pid).ok_or_else(|| format!("no process {pid}"))?;
    write_out(
        args,
        &json!({"kind": "sample", "label": args.get("--label"), "pid": pid,
                "rss_kb": s.rss_kb, "hwm_kb": s.hwm_kb, "cpu_s": s.cpu_s}),
    )
}

fn cmd_report(args: &Args) -> Result<(), String> {
    report::write(
        std::path::Path::new(args.required("--run-dir")?),
        std::path::Path::new(args.required("--json")?),
        std::path::Path::new(args.required("--md")?),
    )
}

fn main() -> ExitCode {
    let mut raw = std::env::args().skip(1);
    let command = raw.next().unwrap_or_default();
    let result = Args::parse(raw).and_then(|args| match command.as_str() {
        "load" => cmd_load(&args),
        "idle" => cmd_idle(&args),
        "startup" => cmd_startup(&args),
        "sample" => cmd_sample(&args),
        "report" => cmd_report(&args),
        _ => Err("usage: loadgen load|idle|startup|sample|report … (see the module docs)".into()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
