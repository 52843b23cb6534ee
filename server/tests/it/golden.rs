//! Golden fixtures (`server/tests/fixtures/<vendor>/<case>/`), in each vendor's exact wire format,
//! translated by the adapters and compared with the expected OpenAI output as parsed JSON.
//!
//! Inputs: `request.openai.json`, `response.anthropic.json`, `stream.anthropic.sse`,
//! `stream.upstream.sse` (OpenAI/Azure), `error.anthropic.json` / `error.upstream.json`
//! (`{"status", "body"}`), `stream.options.json` (`{"include_usage"}`).
//! Expected outputs sit beside them (`*.expected.json`). `BLESS_GOLDEN=1` rewrites them; review
//! the diff before committing.

use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use api_proxy::adapters::anthropic::{self, AnthropicStreamTranslator, RequestDefaults};
use api_proxy::adapters::openai::{self, OpenAiStreamRelay};
use api_proxy::adapters::sse::SseSplitter;
use api_proxy::adapters::{StreamStep, StreamTranslator};
use bytes::BytesMut;
use serde_json::{json, Value};

const CREATED: i64 = 1_700_000_000;
const ROUTED_MODEL: &str = "claude-sonnet-4-5";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares with `<name>.expected.json`, or writes it when blessing.
fn check(case: &Path, name: &str, actual: Value) {
    let path = case.join(format!("{name}.expected.json"));
    if std::env::var_os("BLESS_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        return;
    }
    assert!(
        path.exists(),
        "missing {} (run with BLESS_GOLDEN=1 and review)",
        path.display()
    );
    let expected = read_json(&path);
    assert_eq!(actual, expected, "{} differs", path.display());
}

fn include_usage(case: &Path) -> bool {
    let p = case.join("stream.options.json");
    p.exists() && read_json(&p)["include_usage"] == true
}

/// Feeds an SSE file through a translator, in small reads, and returns the client's events.
fn run_stream(raw: &[u8], mut translator: impl StreamTranslator) -> Value {
    let mut splitter = SseSplitter::default();
    let mut out = BytesMut::new();
    let mut end = json!("unterminated");
    'outer: for piece in raw.chunks(7) {
        splitter.push(piece);
        while let Some(event) = splitter.next_event() {
            match translator.translate(&event, &mut out) {
                StreamStep::Continue => {}
                StreamStep::Done => {
                    end = json!("done");
                    break 'outer;
                }
                StreamStep::Failed(message) => {
                    end = json!({"failed": message});
                    break 'outer;
                }
            }
        }
    }
    let text = String::from_utf8(out.to_vec()).unwrap();
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_owned())))
        .collect();
    let usage = translator
        .usage()
        .map(|u| json!([u.prompt, u.completion, u.cached, u.cache_write]));
    json!({"events": events, "end": end, "usage": usage})
}

fn cases(vendor: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures().join(vendor))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    dirs
}

#[test]
fn anthropic_golden_fixtures() {
    let mut checked = 0;
    for case in cases("anthropic") {
        let request = case.join("request.openai.json");
        if request.exists() {
            let out = anthropic::translate_request(
                &std::fs::read(&request).unwrap(),
                ROUTED_MODEL,
                RequestDefaults {
                    max_output_tokens: 64000,
                },
            )
            .unwrap();
            check(
                &case,
                "request.anthropic",
                serde_json::from_slice(&out).unwrap(),
            );
            checked += 1;
        }
        let response = case.join("response.anthropic.json");
        if response.exists() {
            let (out, usage) =
                anthropic::translate_response(&std::fs::read(&response).unwrap(), CREATED).unwrap();
            let mut value: Value = serde_json::from_slice(&out).unwrap();
            value["_cost_usage"] = json!([
                usage.prompt,
                usage.completion,
                usage.cached,
                usage.cache_write
            ]);
            check(&case, "response.openai", value);
            checked += 1;
        }
        let stream = case.join("stream.anthropic.sse");
        if stream.exists() {
            let translator =
                AnthropicStreamTranslator::new(ROUTED_MODEL, CREATED, include_usage(&case));
            check(
                &case,
                "stream.openai",
                run_stream(&std::fs::read(&stream).unwrap(), translator),
            );
            checked += 1;
        }
        let error = case.join("error.anthropic.json");
        if error.exists() {
            let input = read_json(&error);
            let status = StatusCode::from_u16(input["status"].as_u64().unwrap() as u16).unwrap();
            let (got, body) =
                anthropic::translate_error(status, input["body"].to_string().as_bytes());
            let body: Value = serde_json::from_slice(&body).unwrap();
            check(
                &case,
                "error.openai",
                json!({"status": got.as_u16(), "body": body}),
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}

#[test]
fn openai_and_azure_golden_fixtures() {
    let mut checked = 0;
    for case in cases("openai").into_iter().chain(cases("azure")) {
        let stream = case.join("stream.upstream.sse");
        if stream.exists() {
            let relay = OpenAiStreamRelay::new(!include_usage(&case));
            check(
                &case,
                "stream.openai",
                run_stream(&std::fs::read(&stream).unwrap(), relay),
            );
            checked += 1;
        }
        let error = case.join("error.upstream.json");
        if error.exists() {
            let input = read_json(&error);
            let status = StatusCode::from_u16(input["status"].as_u64().unwrap() as u16).unwrap();
            let body = openai::error_body_for(status, input["body"].to_string().as_bytes());
            check(
                &case,
                "error.openai",
                serde_json::from_slice(&body).unwrap(),
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} fixtures checked");
}
