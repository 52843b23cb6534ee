//! The benchmark report: reads every result file of one `bench/run.sh` run (load and idle runs,
//! start-up and memory samples, `meta.json`, criterion's estimates), checks the targets of the
//! benchmark issue, and writes one JSON document and one Markdown page.
//!
//! Result files are read as `serde_json::Value`: the report is written once per run and the files
//! come from this crate, so a missing field shows as "n/a" rather than failing the run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Scenario ids in report order, with their headings.
const SCENARIOS: &[(&str, &str)] = &[
    ("nonstream_c1", "Non-stream, concurrency 1"),
    ("nonstream_c16", "Non-stream, concurrency 16"),
    ("nonstream_c64", "Non-stream, concurrency 64"),
    ("nonstream_c256", "Non-stream, concurrency 256"),
    ("stream_c16", "Stream (20 chunks × 10 ms), concurrency 16"),
    (
        "messages_stream_c16",
        "`/v1/messages` stream, Anthropic key (passthrough; 20 text deltas × 10 ms), concurrency 16",
    ),
    (
        "stream_c1000",
        "Stream (20 chunks × 10 ms), concurrency 1,000",
    ),
];
const TARGETS: &[&str] = &["direct", "nginx", "bare", "api-proxy"];
const PROXY: &str = "api-proxy";
/// The bare actix-web + awc forwarder (`bench/bare-forwarder`): api-proxy's stack without its
/// product logic.
const BARE: &str = "bare";
/// The call-logging pair: api-proxy at c=64, targets `logs on` and `logs off`.
const CALL_LOG: &str = "calllog_c64";

/// Non-stream c=64 in interleaved rounds (each result carries its `round`): every target once
/// per round, so drift of the machine between targets cancels within a round.
const ROUNDS: &str = "rounds_c64";

struct Run {
    meta: Value,
    results: Vec<Value>,
    micro: Vec<Value>,
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn load_run(dir: &Path) -> Result<Run, String> {
    let mut meta = json!({});
    let mut results = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let value = read_json(&path)?;
        match value["kind"].as_str() {
            Some("meta") => meta = value,
            Some(_) => results.push(value),
            None => {}
        }
    }
    let mut micro = Vec::new();
    collect_criterion(&dir.join("criterion"), &mut micro);
    micro.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(Run {
        meta,
        results,
        micro,
    })
}

/// criterion writes `<group>/<bench>/new/{benchmark,estimates}.json` under its home.
fn collect_criterion(dir: &Path, out: &mut Vec<Value>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let (Ok(bench), Ok(est)) = (
                read_json(&path.join("benchmark.json")),
                read_json(&path.join("estimates.json")),
            ) else {
                continue;
            };
            out.push(json!({
                "id": bench["full_id"],
                "throughput": bench["throughput"],
                "mean_ns": est["mean"]["point_estimate"],
                "median_ns": est["median"]["point_estimate"],
                "mean_ci_ns": [est["mean"]["confidence_interval"]["lower_bound"],
                               est["mean"]["confidence_interval"]["upper_bound"]],
            }));
        } else {
            collect_criterion(&path, out);
        }
    }
}

impl Run {
    fn find(&self, scenario: &str, target: &str) -> Option<&Value> {
        self.results
            .iter()
            .find(|r| r["scenario"] == scenario && r["target"] == target)
    }

    /// The round numbers of [`ROUNDS`], in order.
    fn rounds(&self) -> Vec<u64> {
        let mut rounds: Vec<u64> = self
            .results
            .iter()
            .filter(|r| r["scenario"] == ROUNDS)
            .filter_map(|r| r["round"].as_u64())
            .collect();
        rounds.sort_unstable();
        rounds.dedup();
        rounds
    }

    fn in_round(&self, round: u64, target: &str) -> Option<&Value> {
        self.results.iter().find(|r| {
            r["scenario"] == ROUNDS && r["round"].as_u64() == Some(round) && r["target"] == target
        })
    }

    /// `value` for every round that gives one, in round order.
    fn per_round(&self, value: impl Fn(u64) -> Option<f64>) -> Vec<f64> {
        self.rounds().into_iter().filter_map(value).collect()
    }

    /// `target`'s throughput over `base`'s in one round.
    fn round_ratio(&self, round: u64, target: &str, base: &str) -> Option<f64> {
        let t = self.in_round(round, target)?["rps"].as_f64()?;
        let b = self.in_round(round, base)?["rps"].as_f64()?;
        (b > 0.0).then_some(t / b)
    }

    /// `target`'s p99 minus direct's in one round, in ms.
    fn round_added_p99(&self, round: u64, target: &str) -> Option<f64> {
        let t = self.in_round(round, target)?["latency_ms"]["p99"].as_f64()?;
        let d = self.in_round(round, "direct")?["latency_ms"]["p99"].as_f64()?;
        Some(t - d)
    }

    fn by_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.results.iter().filter(move |r| r["kind"] == kind)
    }

    fn idle_scenario(&self) -> Option<String> {
        self.by_kind("idle")
            .find_map(|r| r["scenario"].as_str())
            .map(str::to_owned)
    }

    fn startup_ms(&self, label: &str) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .by_kind("startup")
            .filter(|r| r["label"] == label)
            .filter_map(|r| r["startup_ms"].as_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn sample(&self, label: &str) -> Option<&Value> {
        self.by_kind("sample").find(|r| r["label"] == label)
    }

    /// The api-proxy's largest resident size over every scenario and sample, in kB.
    fn proxy_peak_kb(&self) -> Option<(u64, String)> {
        let mut best: Option<(u64, String)> = None;
        let mut consider = |kb: Option<u64>, what: String| {
            if let Some(kb) = kb {
                if best.as_ref().is_none_or(|(b, _)| kb > *b) {
                    best = Some((kb, what));
                }
            }
        };
        for r in &self.results {
            if r["resources"][PROXY].is_object() {
                let res = &r["resources"][PROXY];
                consider(
                    res["rss_peak_kb"].as_u64(),
                    format!("sampled during {}", r["scenario"].as_str().unwrap_or("?")),
                );
            }
            if r["kind"] == "sample" {
                consider(r["hwm_kb"].as_u64(), "VmHWM at the end of the run".into());
            }
        }
        best
    }
}

fn median(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v[v.len() / 2])
}

/// The median of values in any order, and their range.
fn median_and_range(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some((median(&sorted)?, sorted[0], sorted[sorted.len() - 1]))
}

fn ms(v: &Value) -> String {
    v.as_f64().map_or("n/a".into(), |x| format!("{x:.3}"))
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn thousands(x: f64) -> String {
    let digits = (x.round() as u64).to_string();
    let head = digits.len() % 3;
    let mut out = digits[..head].to_owned();
    for group in digits.as_bytes()[head..].chunks(3) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(std::str::from_utf8(group).expect("ASCII digits"));
    }
    out
}

fn errors_cell(r: &Value) -> String {
    let total =
        r["error_count"].as_u64().unwrap_or(0) + r["warmup_error_count"].as_u64().unwrap_or(0);
    if total == 0 {
        return "0".into();
    }
    let mut kinds: Vec<String> = Vec::new();
    for key in ["errors", "warmup_errors"] {
        if let Some(map) = r[key].as_object() {
            for (k, n) in map {
                let tag = if key == "warmup_errors" {
                    " (warm-up)"
                } else {
                    ""
                };
                kinds.push(format!("{k}: {n}{tag}"));
            }
        }
    }
    format!("{total} ({})", kinds.join(", "))
}

/// One checked target.
struct Check {
    name: String,
    goal: String,
    measured: String,
    pass: Option<bool>,
}

fn check(
    name: &str,
    goal: &str,
    measured: Option<(f64, String)>,
    ok: impl Fn(f64) -> bool,
) -> Check {
    match measured {
        Some((x, text)) => Check {
            name: name.into(),
            goal: goal.into(),
            measured: text,
            pass: Some(ok(x)),
        },
        None => Check {
            name: name.into(),
            goal: goal.into(),
            measured: "not measured".into(),
            pass: None,
        },
    }
}

fn diff(run: &Run, scenario: &str, field: &str, quantile: &str) -> Option<f64> {
    diff_of(run, scenario, PROXY, field, quantile)
}

/// `target`'s value minus direct's.
fn diff_of(run: &Run, scenario: &str, target: &str, field: &str, quantile: &str) -> Option<f64> {
    let t = run.find(scenario, target)?[field][quantile].as_f64()?;
    let d = run.find(scenario, "direct")?[field][quantile].as_f64()?;
    Some(t - d)
}

fn checks(run: &Run) -> Vec<Check> {
    let mut out = Vec::new();
    let added = |scenario: &str, quantile: &str| {
        let x = diff(run, scenario, "latency_ms", quantile)?;
        let nginx = diff_of(run, scenario, "nginx", "latency_ms", quantile)
            .map(|n| format!(" (nginx: {n:+.3} ms)"))
            .unwrap_or_default();
        Some((x, format!("{x:.3} ms{nginx}")))
    };
    out.push(check(
        "Added p50 latency, non-stream c=1",
        "≤ 0.1 ms",
        added("nonstream_c1", "p50"),
        |x| x <= 0.1,
    ));
    // Judged on the median over interleaved rounds where there are rounds, else the single run.
    let rounds = run.rounds().len();
    let p99 = match median_and_range(&run.per_round(|r| run.round_added_p99(r, PROXY))) {
        Some((m, lo, hi)) => {
            let others: String = ["nginx", BARE]
                .iter()
                .filter_map(|t| {
                    median_and_range(&run.per_round(|r| run.round_added_p99(r, t)))
                        .map(|(m, _, _)| format!("; {t} {m:+.3}"))
                })
                .collect();
            let single = added("nonstream_c64", "p99")
                .map(|(_, text)| format!("; single run: {text}"))
                .unwrap_or_default();
            Some((
                m,
                format!(
                    "{m:.3} ms, median of {rounds} rounds ({lo:+.3} to {hi:+.3}{others}){single}"
                ),
            ))
        }
        None => added("nonstream_c64", "p99"),
    };
    out.push(check(
        "Added p99 latency, non-stream c=64",
        "≤ 1 ms",
        p99,
        |x| x <= 1.0,
    ));
    let ratio = |scenario: &str| {
        let p = run.find(scenario, PROXY)?["rps"].as_f64()?;
        let n = run.find(scenario, "nginx")?["rps"].as_f64()?;
        (n > 0.0).then(|| {
            (
                p / n,
                format!(
                    "{:.2} × nginx ({} vs {} req/s)",
                    p / n,
                    thousands(p),
                    thousands(n)
                ),
            )
        })
    };
    let throughput = match median_and_range(&run.per_round(|r| run.round_ratio(r, PROXY, "nginx")))
    {
        Some((m, lo, hi)) => {
            let single = ratio("nonstream_c64")
                .map(|(_, text)| format!("; single run: {text}"))
                .unwrap_or_default();
            let bare = median_and_range(&run.per_round(|r| run.round_ratio(r, BARE, "nginx")))
                .map(|(b, _, _)| format!("; bare forwarder {b:.2}"))
                .unwrap_or_default();
            Some((
                m,
                format!(
                    "{m:.2} × nginx, median of {rounds} rounds ({lo:.2} to {hi:.2}{bare}){single}"
                ),
            ))
        }
        None => ratio("nonstream_c64"),
    };
    out.push(check(
        "Throughput vs nginx, non-stream c=64",
        "≥ 0.75 × nginx",
        throughput,
        |x| x >= 0.75,
    ));
    let mut proxy_errors = 0u64;
    let mut proxy_runs = 0;
    for r in run
        .results
        .iter()
        .filter(|r| r["target"] == PROXY || r["scenario"] == CALL_LOG)
    {
        proxy_runs += 1;
        proxy_errors +=
            r["error_count"].as_u64().unwrap_or(0) + r["warmup_error_count"].as_u64().unwrap_or(0);
    }
    out.push(check(
        "Errors through api-proxy, every scenario",
        "0",
        (proxy_runs > 0).then(|| {
            (
                proxy_errors as f64,
                format!("{proxy_errors} in {proxy_runs} runs"),
            )
        }),
        |x| x == 0.0,
    ));
    out.push(check(
        "RSS idle",
        "< 30 MB",
        run.sample("idle")
            .and_then(|s| s["rss_kb"].as_u64())
            .map(|kb| (mb(kb), format!("{:.1} MB", mb(kb)))),
        |x| x < 30.0,
    ));
    // A peak taken while most idle streams never opened says little about holding them all.
    let idle_caveat = run
        .idle_scenario()
        .and_then(|idle| run.find(&idle, PROXY))
        .filter(|r| r["opened"].as_u64() < r["streams"].as_u64())
        .map(|r| {
            format!(
                "; only {} of {} idle streams were open",
                r["opened"], r["streams"]
            )
        })
        .unwrap_or_default();
    // The same streams through the bare forwarder: the stack's own share.
    let bare_idle = run
        .idle_scenario()
        .and_then(|idle| run.find(&idle, BARE))
        .and_then(|r| r["resources"][BARE]["rss_peak_kb"].as_u64())
        .map(|kb| format!("; bare forwarder: {:.1} MB", mb(kb)))
        .unwrap_or_default();
    out.push(check(
        "RSS peak, every scenario",
        "< 100 MB",
        run.proxy_peak_kb().map(|(kb, what)| {
            (
                mb(kb),
                format!("{:.1} MB ({what}{idle_caveat}{bare_idle})", mb(kb)),
            )
        }),
        |x| x < 100.0,
    ));
    for scenario in ["stream_c16", "stream_c1000"] {
        let c = scenario.trim_start_matches("stream_c");
        out.push(check(
            &format!("TTFC overhead p50, stream c={c}"),
            "< 1 ms",
            diff(run, scenario, "ttfc_ms", "p50").map(|x| {
                let bare = diff_of(run, scenario, BARE, "ttfc_ms", "p50")
                    .map(|b| format!(" (bare forwarder: {b:+.3} ms)"))
                    .unwrap_or_default();
                (x, format!("{x:.3} ms{bare}"))
            }),
            |x| x < 1.0,
        ));
    }
    if let Some(idle) = run.idle_scenario() {
        let r = run.find(&idle, PROXY);
        out.push(check(
            "Idle streams held through api-proxy",
            "all opened and held, 0 errors",
            r.map(|r| {
                let streams = r["streams"].as_u64().unwrap_or(0);
                let alive = r["alive_at_end"].as_u64().unwrap_or(0);
                let errors = r["error_count"].as_u64().unwrap_or(0);
                let ok = alive == streams && errors == 0;
                (
                    if ok { 1.0 } else { 0.0 },
                    format!("{alive} of {streams} held, {errors} errors"),
                )
            }),
            |x| x == 1.0,
        ));
    }
    for (label, what) in [
        ("fresh", "empty data folder"),
        ("existing", "existing database"),
    ] {
        let v = run.startup_ms(label);
        out.push(check(
            &format!("Start-up to first served request ({what})"),
            "< 100 ms",
            median(&v).map(|m| {
                (
                    m,
                    format!(
                        "{m:.1} ms (median of {}; min {:.1}, max {:.1})",
                        v.len(),
                        v[0],
                        v[v.len() - 1]
                    ),
                )
            }),
            |x| x < 100.0,
        ));
    }
    out.push(check(
        "Release binary size",
        "< 20 MB",
        run.meta["binary_size_bytes"].as_u64().map(|b| {
            let m = b as f64 / 1024.0 / 1024.0;
            (m, format!("{m:.1} MB ({b} bytes)"))
        }),
        |x| x < 20.0,
    ));
    let logging = || {
        let on = run.find(CALL_LOG, "logs on")?["rps"].as_f64()?;
        let off = run.find(CALL_LOG, "logs off")?["rps"].as_f64()?;
        (off > 0.0).then(|| {
            (
                on / off,
                format!(
                    "{:.2} (on {} vs off {} req/s)",
                    on / off,
                    thousands(on),
                    thousands(off)
                ),
            )
        })
    };
    match logging() {
        Some(measured) => out.push(check(
            "Call logging on vs off, non-stream c=64",
            "on ≥ 0.95 × off",
            Some(measured),
            |x| x >= 0.95,
        )),
        None => out.push(Check {
            name: "Call logging on vs off".into(),
            goal: "no throughput cost".into(),
            measured: run.meta["call_logging_note"]
                .as_str()
                .unwrap_or("not measured")
                .into(),
            pass: None,
        }),
    }
    out
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "PASS",
        Some(false) => "MISS",
        None => "TODO",
    }
}

fn proxy_resources(r: &Value) -> String {
    let res = &r["resources"][PROXY];
    match (res["rss_peak_kb"].as_u64(), res["cpu_cores"].as_f64()) {
        (Some(kb), Some(cores)) => format!("{:.1} MB / {cores:.2}", mb(kb)),
        _ => "".into(),
    }
}

fn markdown(run: &Run, checks: &[Check]) -> String {
    let mut md = String::new();
    let m = &run.meta;
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    let _ = writeln!(md, "# api-proxy benchmark\n");
    let _ = writeln!(
        md,
        "Run {} on commit `{}`{}; {} ({} cores). `bench/run.sh` with BENCH_SECONDS={} (warm-up {} s) per scenario and target; driver, mock and proxy share the machine.\n",
        text(&m["date"]),
        text(&m["commit"]),
        if m["dirty"] == true { " (with uncommitted changes)" } else { "" },
        text(&m["cpu"]),
        text(&m["cores"]),
        text(&m["bench_seconds"]),
        text(&m["warmup_seconds"]),
    );
    let _ = writeln!(
        md,
        "Targets: **direct** = mock-upstream ({} worker thread{}); **nginx** = {} as a plain `proxy_pass` reverse proxy ({} workers, keepalive upstream); **bare** = `bench/bare-forwarder`, actix-web + awc forwarding body and content type and nothing else (api-proxy's stack, workers, client settings and allocator, no product logic); **api-proxy** = release build, {} workers, LOG_LEVEL=warn, one OpenAI key pointing at the mock, routing, accounting and call logging on (see *Call logging on vs off* for the pair with it off).\n",
        text(&m["mock_workers"]),
        if m["mock_workers"] == 1 { "" } else { "s" },
        text(&m["nginx_version"]),
        text(&m["nginx_workers"]),
        text(&m["proxy_workers"]),
    );

    let _ = writeln!(md, "## Targets\n");
    let _ = writeln!(
        md,
        "| target | goal | measured | result |\n|---|---|---|---|"
    );
    for c in checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            c.name,
            c.goal,
            c.measured,
            verdict(c.pass)
        );
    }

    rounds_section(run, &mut md);
    yardstick_section(run, &mut md);

    let _ = writeln!(
        md,
        "\n## Non-stream `POST /v1/chat/completions`\n\nLatency in ms; *added* is the target's value minus direct's. Last column: api-proxy's peak RSS and CPU (cores busy) during the run.\n"
    );
    for (id, heading) in SCENARIOS
        .iter()
        .filter(|(id, _)| id.starts_with("nonstream"))
    {
        let _ = writeln!(md, "### {heading}\n");
        let _ = writeln!(
            md,
            "| target | req/s | p50 | p90 | p99 | max | added p50 | added p99 | errors | RSS / CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
        );
        let direct = run.find(id, "direct");
        for t in TARGETS {
            let Some(r) = run.find(id, t) else {
                continue;
            };
            let l = &r["latency_ms"];
            let added = |q: &str| match (
                l[q].as_f64(),
                direct.and_then(|d| d["latency_ms"][q].as_f64()),
            ) {
                (Some(a), Some(b)) if *t != "direct" => format!("{:+.3}", a - b),
                _ => "".into(),
            };
            let _ = writeln!(
                md,
                "| {t} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                thousands(r["rps"].as_f64().unwrap_or(0.0)),
                ms(&l["p50"]),
                ms(&l["p90"]),
                ms(&l["p99"]),
                ms(&l["max"]),
                added("p50"),
                added("p99"),
                errors_cell(r),
                if *t == PROXY {
                    proxy_resources(r)
                } else {
                    String::new()
                },
            );
        }
        md.push('\n');
    }

    let _ = writeln!(
        md,
        "## Streams (`stream: true`)\n\n`POST /v1/chat/completions`, and `POST /v1/messages` where named. TTFC = time to first chunk, full = time to the stream's terminator (`data: [DONE]`, `message_stop`), in ms; *TTFC overhead* is the target's TTFC p50 minus direct's.\n"
    );
    for (id, heading) in SCENARIOS
        .iter()
        .filter(|(id, _)| id.starts_with("stream") || id.starts_with("messages_stream"))
    {
        let _ = writeln!(md, "### {heading}\n");
        let _ = writeln!(
            md,
            "| target | streams/s | TTFC p50 | TTFC p90 | TTFC p99 | TTFC max | full p50 | full p99 | TTFC overhead | errors | RSS / CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
        );
        let direct_ttfc = run
            .find(id, "direct")
            .and_then(|d| d["ttfc_ms"]["p50"].as_f64());
        for t in TARGETS {
            let Some(r) = run.find(id, t) else {
                continue;
            };
            let (f, l) = (&r["ttfc_ms"], &r["latency_ms"]);
            let overhead = match (f["p50"].as_f64(), direct_ttfc) {
                (Some(a), Some(b)) if *t != "direct" => format!("{:+.3}", a - b),
                _ => "".into(),
            };
            let _ = writeln!(
                md,
                "| {t} | {} | {} | {} | {} | {} | {} | {} | {overhead} | {} | {} |",
                thousands(r["rps"].as_f64().unwrap_or(0.0)),
                ms(&f["p50"]),
                ms(&f["p90"]),
                ms(&f["p99"]),
                ms(&f["max"]),
                ms(&l["p50"]),
                ms(&l["p99"]),
                errors_cell(r),
                if *t == PROXY {
                    proxy_resources(r)
                } else {
                    String::new()
                },
            );
        }
        md.push('\n');
    }

    if let Some(idle) = run.idle_scenario() {
        let streams = run
            .find(&idle, "direct")
            .or_else(|| run.find(&idle, PROXY))
            .map_or(Value::Null, |r| r["streams"].clone());
        let _ = writeln!(
            md,
            "## Idle streams\n\n{} streaming requests opened against a slow upstream (one chunk, then one every {} s), held for {} s, then dropped. *open* = time until every stream had its first chunk.\n",
            text(&streams),
            text(&m["idle_delay_s"]),
            text(&m["idle_hold_seconds"]),
        );
        let _ = writeln!(
            md,
            "| target | opened | held to the end | open (ms) | TTFC p50 | TTFC p99 | TTFC max | errors | RSS / CPU |\n|---|---:|---:|---:|---:|---:|---:|---|---|"
        );
        for t in TARGETS {
            let Some(r) = run.find(&idle, t) else {
                continue;
            };
            let f = &r["ttfc_ms"];
            let _ = writeln!(
                md,
                "| {t} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r["opened"],
                r["alive_at_end"],
                ms(&r["open_ms"]),
                ms(&f["p50"]),
                ms(&f["p99"]),
                ms(&f["max"]),
                errors_cell(r),
                if *t == PROXY {
                    proxy_resources(r)
                } else {
                    String::new()
                },
            );
        }
        md.push('\n');
    }

    let _ = writeln!(md, "## api-proxy process\n");
    let _ = writeln!(md, "| measure | value |\n|---|---|");
    if let Some(s) = run.sample("idle") {
        let _ = writeln!(
            md,
            "| RSS idle (after start-up, one key, a few requests) | {:.1} MB |",
            mb(s["rss_kb"].as_u64().unwrap_or(0))
        );
    }
    if let Some(s) = run.sample("end") {
        let _ = writeln!(
            md,
            "| RSS at the end / VmHWM (peak over the whole run) | {:.1} MB / {:.1} MB |",
            mb(s["rss_kb"].as_u64().unwrap_or(0)),
            mb(s["hwm_kb"].as_u64().unwrap_or(0))
        );
        let _ = writeln!(
            md,
            "| CPU time over the whole run | {:.1} s |",
            s["cpu_s"].as_f64().unwrap_or(0.0)
        );
    }
    for (label, what) in [
        ("fresh", "empty data folder"),
        ("existing", "existing database"),
    ] {
        let v = run.startup_ms(label);
        if let Some(med) = median(&v) {
            let all: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
            let _ = writeln!(
                md,
                "| Start-up to first `200` from `/api/health`, {what} | {med:.1} ms (runs: {}) |",
                all.join(", ")
            );
        }
    }
    if let Some(b) = m["binary_size_bytes"].as_u64() {
        let _ = writeln!(
            md,
            "| Release binary (`target/release/api-proxy`{}) | {:.1} MB |",
            m["binary_note"]
                .as_str()
                .map(|n| format!(", {n}"))
                .unwrap_or_default(),
            b as f64 / 1024.0 / 1024.0
        );
    }
    md.push('\n');

    let _ = writeln!(
        md,
        "## Micro-benchmarks (criterion, `server/benches/hot_paths.rs`)\n"
    );
    if run.micro.is_empty() {
        let _ = writeln!(md, "Not run (BENCH_MICRO=0).\n");
    } else {
        let _ = writeln!(
            md,
            "| benchmark | median | mean (95% CI) | per event / input |\n|---|---:|---:|---|"
        );
        for b in &run.micro {
            let ns = |v: &Value| v.as_f64().map_or("n/a".into(), human_ns);
            // Stream benchmarks translate a whole fixture stream; show the cost per event too.
            let per = match (
                b["throughput"]["Elements"].as_f64(),
                b["median_ns"].as_f64(),
            ) {
                (Some(n), Some(t)) if n > 0.0 => {
                    format!("{} per event ({n} events)", human_ns(t / n))
                }
                _ => b["throughput"]["Bytes"]
                    .as_u64()
                    .map(|n| format!("{n}-byte body"))
                    .unwrap_or_default(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} ({} – {}) | {per} |",
                text(&b["id"]),
                ns(&b["median_ns"]),
                ns(&b["mean_ns"]),
                ns(&b["mean_ci_ns"][0]),
                ns(&b["mean_ci_ns"][1]),
            );
        }
        md.push('\n');
    }

    let _ = writeln!(md, "## Call logging on vs off\n");
    let _ = writeln!(
        md,
        "{}\n",
        m["call_logging_note"].as_str().unwrap_or("Not measured.")
    );
    let pair: Vec<(&str, &Value)> = ["logs on", "logs off"]
        .into_iter()
        .filter_map(|t| run.find(CALL_LOG, t).map(|r| (t, r)))
        .collect();
    if !pair.is_empty() {
        let _ = writeln!(
            md,
            "| api-proxy | req/s | p50 | p90 | p99 | max | errors | RSS / CPU |\n|---|---:|---:|---:|---:|---:|---|---|"
        );
        for (t, r) in pair {
            let l = &r["latency_ms"];
            let _ = writeln!(
                md,
                "| {t} | {} | {} | {} | {} | {} | {} | {} |",
                thousands(r["rps"].as_f64().unwrap_or(0.0)),
                ms(&l["p50"]),
                ms(&l["p90"]),
                ms(&l["p99"]),
                ms(&l["max"]),
                errors_cell(r),
                proxy_resources(r),
            );
        }
        md.push('\n');
    }
    if let Some(notes) = m["notes"].as_array() {
        let _ = writeln!(md, "## Notes\n");
        for n in notes {
            let _ = writeln!(md, "- {}", text(n));
        }
    }
    md
}

/// Every round of [`ROUNDS`]: each target's req/s and added p99, and api-proxy's ratios.
fn rounds_section(run: &Run, md: &mut String) {
    let rounds = run.rounds();
    if rounds.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n## Non-stream c=64 in interleaved rounds\n\n{} rounds of {} s per target (after the warm-up), each measuring every target once, the order rotated from round to round: what the machine does between targets hits a whole round alike. The two c=64 targets above are judged on the medians of these rounds. Cells: req/s, then p99 minus direct's p99 in ms.\n",
        rounds.len(),
        run.meta["round_seconds"]
    );
    let targets: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| rounds.iter().any(|&r| run.in_round(r, t).is_some()))
        .collect();
    let mut head = String::from("| round |");
    let mut rule = String::from("|---:|");
    for t in &targets {
        let _ = write!(head, " {t} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(
        md,
        "{head} api-proxy / nginx | bare / nginx | api-proxy / bare |\n{rule}---:|---:|---:|"
    );
    let ratio_cell = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.2}"));
    for &r in &rounds {
        let mut row = format!("| {r} |");
        for t in &targets {
            let cell = run.in_round(r, t).map_or(String::new(), |v| {
                let added = run
                    .round_added_p99(r, t)
                    .filter(|_| *t != "direct")
                    .map(|a| format!(", {a:+.2}"))
                    .unwrap_or_default();
                format!(
                    "{}{added}",
                    v["rps"].as_f64().map_or("n/a".into(), thousands)
                )
            });
            let _ = write!(row, " {cell} |");
        }
        let _ = writeln!(
            md,
            "{row} {} | {} | {} |",
            ratio_cell(run.round_ratio(r, PROXY, "nginx")),
            ratio_cell(run.round_ratio(r, BARE, "nginx")),
            ratio_cell(run.round_ratio(r, PROXY, BARE))
        );
    }
    let mut row = String::from("| **median** |");
    for t in &targets {
        let rps = median_and_range(&run.per_round(|r| run.in_round(r, t)?["rps"].as_f64()));
        let added = median_and_range(&run.per_round(|r| run.round_added_p99(r, t)))
            .filter(|_| *t != "direct")
            .map(|(m, _, _)| format!(", {m:+.2}"))
            .unwrap_or_default();
        let _ = write!(
            row,
            " {}{added} |",
            rps.map_or(String::new(), |(m, _, _)| thousands(m))
        );
    }
    let median_of = |values: Vec<f64>| ratio_cell(median_and_range(&values).map(|x| x.0));
    let _ = writeln!(
        md,
        "{row} {} | {} | {} |",
        median_of(run.per_round(|r| run.round_ratio(r, PROXY, "nginx"))),
        median_of(run.per_round(|r| run.round_ratio(r, BARE, "nginx"))),
        median_of(run.per_round(|r| run.round_ratio(r, PROXY, BARE)))
    );
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// api-proxy against the bare forwarder, scenario by scenario: what the product logic costs on
/// top of the stack it is built on.
fn yardstick(run: &Run) -> Vec<Value> {
    SCENARIOS
        .iter()
        .filter_map(|(id, _)| {
            let bare = run.find(id, BARE)?;
            let proxy = run.find(id, PROXY)?;
            let rps = |r: &Value| r["rps"].as_f64().unwrap_or(0.0);
            let lat = |r: &Value, q: &str| {
                let field = if id.starts_with("stream") {
                    "ttfc_ms"
                } else {
                    "latency_ms"
                };
                r[field][q].as_f64()
            };
            Some(json!({
                "scenario": id,
                "bare_rps": rps(bare),
                "proxy_rps": rps(proxy),
                "ratio": (rps(bare) > 0.0).then(|| rps(proxy) / rps(bare)),
                "added_p50_ms": lat(proxy, "p50").zip(lat(bare, "p50")).map(|(p, b)| p - b),
                "added_p99_ms": lat(proxy, "p99").zip(lat(bare, "p99")).map(|(p, b)| p - b),
            }))
        })
        .collect()
}

fn yardstick_section(run: &Run, md: &mut String) {
    let rows = yardstick(run);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n## api-proxy against the bare actix-web + awc forwarder\n\nWhat the product logic (parsing, routing, leases, accounting, call logging, the live feed) costs on top of the stack it is built on. Latency: full time for non-stream, time to first chunk for stream, in ms.\n\n| scenario | bare req/s | api-proxy req/s | api-proxy / bare | added p50 | added p99 |\n|---|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            r["scenario"].as_str().unwrap_or(""),
            thousands(r["bare_rps"].as_f64().unwrap_or(0.0)),
            thousands(r["proxy_rps"].as_f64().unwrap_or(0.0)),
            r["ratio"]
                .as_f64()
                .map_or("n/a".into(), |x| format!("{x:.2}")),
            r["added_p50_ms"]
                .as_f64()
                .map_or("n/a".into(), |x| format!("{x:+.3}")),
            r["added_p99_ms"]
                .as_f64()
                .map_or("n/a".into(), |x| format!("{x:+.3}")),
        );
    }
}

pub fn write(run_dir: &Path, json_out: &Path, md_out: &Path) -> Result<(), String> {
    let run = load_run(run_dir)?;
    let checks = checks(&run);
    let targets: Vec<Value> = checks
        .iter()
        .map(|c| json!({"target": c.name, "goal": c.goal, "measured": c.measured, "result": verdict(c.pass)}))
        .collect();
    let doc = json!({
        "meta": run.meta,
        "targets": targets,
        "against_bare_forwarder": yardstick(&run),
        "results": run.results,
        "micro": run.micro,
    });
    let json_text = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    std::fs::write(json_out, json_text).map_err(|e| format!("{}: {e}", json_out.display()))?;
    std::fs::write(md_out, markdown(&run, &checks))
        .map_err(|e| format!("{}: {e}", md_out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(61_234_567.0), "61,234,567");
    }

    #[test]
    fn targets_are_checked_against_direct_and_nginx() {
        let load = |scenario: &str, target: &str, rps: f64, p50: f64, p99: f64| {
            json!({"kind": "load", "scenario": scenario, "target": target, "rps": rps,
                   "latency_ms": {"p50": p50, "p99": p99}, "error_count": 0})
        };
        let run = Run {
            meta: json!({"binary_size_bytes": 9_000_000}),
            results: vec![
                load("nonstream_c1", "direct", 10_000.0, 0.10, 0.20),
                load("nonstream_c1", PROXY, 8_000.0, 0.15, 0.30),
                load("nonstream_c64", "direct", 40_000.0, 1.0, 3.0),
                load("nonstream_c64", "nginx", 30_000.0, 1.2, 3.5),
                load("nonstream_c64", PROXY, 20_000.0, 2.0, 5.0),
            ],
            micro: vec![],
        };
        let checks = checks(&run);
        let find = |name: &str| checks.iter().find(|c| c.name.starts_with(name)).unwrap();
        assert_eq!(find("Added p50").pass, Some(true));
        assert_eq!(find("Added p99").pass, Some(false));
        assert_eq!(find("Throughput vs nginx").pass, Some(false));
        assert_eq!(find("Errors").pass, Some(true));
        assert_eq!(find("Release binary").pass, Some(true));
        assert_eq!(find("RSS idle").pass, None);
    }

    #[test]
    fn interleaved_rounds_are_judged_on_their_medians() {
        let round = |round: u64, target: &str, rps: f64, p99: f64| {
            json!({"kind": "load", "scenario": ROUNDS, "round": round, "target": target,
                   "rps": rps, "latency_ms": {"p50": 1.0, "p99": p99}, "error_count": 0})
        };
        let mut results = vec![
            // The single run alone would fail both targets.
            json!({"kind": "load", "scenario": "nonstream_c64", "target": "direct", "rps": 50_000.0,
                   "latency_ms": {"p99": 2.0}, "error_count": 0}),
            json!({"kind": "load", "scenario": "nonstream_c64", "target": "nginx", "rps": 50_000.0,
                   "latency_ms": {"p99": 2.5}, "error_count": 0}),
            json!({"kind": "load", "scenario": "nonstream_c64", "target": PROXY, "rps": 20_000.0,
                   "latency_ms": {"p99": 6.0}, "error_count": 0}),
        ];
        // Ratios 0.80, 0.50 (an outlier round), 0.90; added p99 0.5, 4.0, 0.8.
        for (r, nginx, proxy, p99) in [
            (1, 40_000.0, 32_000.0, 2.5),
            (2, 50_000.0, 25_000.0, 6.0),
            (3, 30_000.0, 27_000.0, 2.8),
        ] {
            results.push(round(r, "direct", 50_000.0, 2.0));
            results.push(round(r, "nginx", nginx, 2.2));
            results.push(round(r, PROXY, proxy, p99));
        }
        let run = Run {
            meta: json!({"round_seconds": 5}),
            results,
            micro: vec![],
        };
        assert_eq!(run.rounds(), vec![1, 2, 3]);
        let checks = checks(&run);
        let find = |name: &str| checks.iter().find(|c| c.name.starts_with(name)).unwrap();
        let throughput = find("Throughput vs nginx");
        assert_eq!(throughput.pass, Some(true), "{}", throughput.measured);
        assert!(
            throughput
                .measured
                .starts_with("0.80 × nginx, median of 3 rounds (0.50 to 0.90)"),
            "{}",
            throughput.measured
        );
        assert!(throughput.measured.contains("single run: 0.40 × nginx"));
        let p99 = find("Added p99");
        assert_eq!(p99.pass, Some(true), "{}", p99.measured);
        assert!(
            p99.measured.starts_with("0.800 ms, median of 3 rounds"),
            "{}",
            p99.measured
        );

        let md = markdown(&run, &checks);
        assert!(
            md.contains("## Non-stream c=64 in interleaved rounds"),
            "{md}"
        );
        assert!(md.contains("| **median** |"), "{md}");
    }
}
