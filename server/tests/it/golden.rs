//! Golden fixtures (`server/tests/fixtures/<upstream vendor>/<case>/`), in each vendor's exact
//! wire format, translated by a pair of dialects (the client's and the key's, through the
//! canonical model) and compared with the expected output as parsed JSON.
//!
//! - `anthropic/`: an OpenAI chat client served by an Anthropic key. Inputs
//!   `request.openai.json`, `response.anthropic.json`, `stream.anthropic.sse`,
//!   `error.anthropic.json`; outputs `request.anthropic`, `response.openai`, `stream.openai`,
//!   `error.openai`.
//! - `openai/` and `azure/` with `*.upstream.*` inputs: OpenAI passthrough (stream relay, error
//!   bodies).
//! - `openai/` with `request.anthropic.json`, `response.openai.json`, `stream.openai.sse`,
//!   `error.openai.json`: a Messages client served by an OpenAI-format key; outputs
//!   `request.openai`, `response.anthropic`, `stream.anthropic`, `error.anthropic`.
//!
//! - `<vendor>/responses_<case>/`: a Responses API client (`request.responses.json`) served by
//!   an Anthropic key (`anthropic/`) or a chat-only OpenAI-format key (`openai/`, DeepSeek
//!   here), with the same upstream inputs and outputs `request.<vendor>`, `response.responses`,
//!   `stream.responses`, `error.responses`; and the passthrough of an OpenAI key's Responses
//!   stream (`openai/responses_passthrough*/stream.upstream.sse` -> `stream.responses`). Only the
//!   Responses tests read these folders.
//!
//! Errors are `{"status", "body"}`; `stream.options.json` is `{"include_usage"}`. Expected
//! outputs sit beside the inputs (`*.expected.json`). `BLESS_GOLDEN=1` rewrites them; review
//! the diff before committing.

use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use api_proxy::adapters::openai::OpenAiStreamRelay;
use api_proxy::adapters::responses::ResponsesStreamRelay;
use api_proxy::adapters::sse::SseSplitter;
use api_proxy::adapters::translated::TranslatedStream;
use api_proxy::adapters::{
    anthropic, openai, responses, ClientDialect, RenderContext, StreamStep, StreamTranslator,
    UpstreamContext, UpstreamDialect,
};
use api_proxy::config::ProviderCatalog;
use bytes::BytesMut;
use serde_json::{json, Value};

const CREATED: i64 = 1_700_000_000;

/// A client dialect and the key's, for a provider of the shipped catalogue.
struct Pair {
    client: &'static dyn ClientDialect,
    upstream: &'static dyn UpstreamDialect,
    provider: &'static str,
    model: &'static str,
}

const CHAT_TO_ANTHROPIC: Pair = Pair {
    client: &openai::CHAT,
    upstream: &anthropic::ANTHROPIC_UPSTREAM,
    provider: "anthropic",
    model: "claude-sonnet-4-5",
};

const MESSAGES_TO_OPENAI: Pair = Pair {
    client: &anthropic::MESSAGES,
    upstream: &openai::OPENAI_UPSTREAM,
    provider: "openai",
    model: "gpt-4o",
};

const RESPONSES_TO_ANTHROPIC: Pair = Pair {
    client: &responses::RESPONSES,
    upstream: &anthropic::ANTHROPIC_UPSTREAM,
    provider: "anthropic",
    model: "claude-sonnet-4-5",
};

/// A chat-only OpenAI-format vendor: Responses calls are translated to chat completions.
const RESPONSES_TO_CHAT: Pair = Pair {
    client: &responses::RESPONSES,
    upstream: &openai::OPENAI_UPSTREAM,
    provider: "deepseek",
    model: "deepseek-v4-flash",
};

impl Pair {
    /// `request`: the client's request, which some dialects' answers repeat.
    fn context(&self, include_usage: bool, request: &[u8]) -> RenderContext {
        RenderContext {
            model: self.model.into(),
            created: CREATED,
            include_usage,
            request: bytes::Bytes::copy_from_slice(request),
        }
    }

    fn request(&self, body: &[u8]) -> Value {
        let catalog = ProviderCatalog::load(None).unwrap();
        let provider = catalog.get(self.provider).unwrap();
        let canonical = self.client.to_canonical(body).unwrap().unwrap();
        let out = self
            .upstream
            .build_request(
                &canonical,
                &UpstreamContext {
                    model: self.model,
                    max_output_tokens: provider.model(self.model).unwrap().max_output_tokens,
                    provider: &provider.spec,
                },
            )
            .unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    /// The client's answer, with the usage accounted for it under `_cost_usage`.
    fn response(&self, body: &[u8], request: &[u8]) -> Value {
        let response = self.upstream.parse_response(body).unwrap();
        let usage = response.usage;
        let out = self
            .client
            .render_response(response, &self.context(false, request));
        let mut value: Value = serde_json::from_slice(&out).unwrap();
        value["_cost_usage"] = json!([
            usage.prompt,
            usage.completion,
            usage.cached,
            usage.cache_write
        ]);
        value
    }

    fn stream(&self, include_usage: bool, request: &[u8]) -> TranslatedStream {
        TranslatedStream::new(
            self.upstream
                .stream_parser(&self.context(include_usage, request)),
            self.client
                .stream_renderer(self.context(include_usage, request)),
        )
    }

    fn error(&self, input: &Value) -> Value {
        let status = StatusCode::from_u16(input["status"].as_u64().unwrap() as u16).unwrap();
        let failure = self
            .upstream
            .parse_failure(status, input["body"].to_string().as_bytes());
        let (got, body) = self.client.render_failure(&failure);
        let body: Value = serde_json::from_slice(&body).unwrap();
        json!({"status": got.as_u16(), "body": body})
    }
}

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
                StreamStep::Failed(failure) => {
                    end = json!({"failed": failure.message});
                    break 'outer;
                }
            }
        }
    }
    let text = String::from_utf8(out.to_vec()).unwrap();
    // `data:` payloads; an `event:` line before one (Anthropic's) is kept as `_event`.
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| {
            let (name, data) = match e.strip_prefix("event: ") {
                Some(rest) => {
                    let (name, data) = rest.split_once('\n')?;
                    (Some(name), data.strip_prefix("data: ")?)
                }
                None => (None, e.strip_prefix("data: ")?),
            };
            let mut value =
                serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
            if let (Some(name), Some(object)) = (name, value.as_object_mut()) {
                object.insert("_event".into(), json!(name));
            }
            Some(value)
        })
        .collect();
    let usage = translator
        .usage()
        .map(|u| json!([u.prompt, u.completion, u.cached, u.cache_write]));
    json!({"events": events, "end": end, "usage": usage})
}

/// The chat and Messages cases of `vendor` (the Responses API's have their own test).
fn cases(vendor: &str) -> Vec<PathBuf> {
    case_dirs(vendor, false)
}

/// The `responses_*` cases of `vendor`.
fn responses_cases(vendor: &str) -> Vec<PathBuf> {
    case_dirs(vendor, true)
}

fn case_dirs(vendor: &str, responses: bool) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures().join(vendor))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("responses_") == responses
        })
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    dirs
}

#[test]
fn anthropic_golden_fixtures() {
    let mut checked = 0;
    for case in cases("anthropic") {
        checked += check_pair(&CHAT_TO_ANTHROPIC, &case, "openai", "anthropic");
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}

/// Checks every fixture of `case` for `pair`, whose client speaks `client` and whose key speaks
/// `upstream` (the fixture files' vendor names); returns how many it checked.
fn check_pair(pair: &Pair, case: &Path, client: &str, upstream: &str) -> usize {
    let mut checked = 0;
    let request = case.join(format!("request.{client}.json"));
    let request_body = std::fs::read(&request).unwrap_or_default();
    if request.exists() {
        let out = pair.request(&request_body);
        check(case, &format!("request.{upstream}"), out);
        checked += 1;
    }
    let response = case.join(format!("response.{upstream}.json"));
    if response.exists() {
        let out = pair.response(&std::fs::read(&response).unwrap(), &request_body);
        check(case, &format!("response.{client}"), out);
        checked += 1;
    }
    let stream = case.join(format!("stream.{upstream}.sse"));
    if stream.exists() {
        let out = run_stream(
            &std::fs::read(&stream).unwrap(),
            pair.stream(include_usage(case), &request_body),
        );
        check(case, &format!("stream.{client}"), out);
        checked += 1;
    }
    let error = case.join(format!("error.{upstream}.json"));
    if error.exists() {
        let out = pair.error(&read_json(&error));
        check(case, &format!("error.{client}"), out);
        checked += 1;
    }
    checked
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
            let (_, body) =
                openai::CHAT.passthrough_error(status, input["body"].to_string().as_bytes());
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

#[test]
fn messages_served_by_openai_golden_fixtures() {
    let mut checked = 0;
    for case in cases("openai") {
        checked += check_pair(&MESSAGES_TO_OPENAI, &case, "anthropic", "openai");
    }
    assert!(checked >= 10, "only {checked} fixtures checked");
}

#[test]
fn responses_golden_fixtures() {
    let mut checked = 0;
    for case in responses_cases("anthropic") {
        checked += check_pair(&RESPONSES_TO_ANTHROPIC, &case, "responses", "anthropic");
    }
    for case in responses_cases("openai") {
        checked += check_pair(&RESPONSES_TO_CHAT, &case, "responses", "openai");
        let stream = case.join("stream.upstream.sse");
        if stream.exists() {
            let out = run_stream(
                &std::fs::read(&stream).unwrap(),
                ResponsesStreamRelay::default(),
            );
            check(&case, "stream.responses", out);
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}
