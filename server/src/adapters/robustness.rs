//! Property tests: the dialects and the SSE parser never panic, whatever bytes arrive.
//!
//! `cargo test` runs 400 cases of each (a few seconds). For a longer fuzzing run, raise the count:
//! `PROPTEST_CASES=200000 cargo test --release -p api-proxy --lib adapters::robustness`
//! (about ten minutes on two cores). A failure prints the smallest input that fails; proptest
//! also saves it under `server/proptest-regressions/` so every later run tries it first.

use bytes::BytesMut;
use proptest::prelude::*;

use super::anthropic::{self, AnthropicEventParser, AnthropicEventRenderer, AnthropicStreamRelay};
use super::openai::{self, ChunkParser, ChunkRenderer, OpenAiStreamRelay};
use super::responses::{self, ResponsesEventRenderer, ResponsesStreamRelay};
use super::sse::{parse_event, SseSplitter};
use super::translated::TranslatedStream;
use super::{
    ClientDialect, RenderContext, Rewrite, StreamTranslator, UpstreamContext, UpstreamDialect,
};

fn context() -> RenderContext {
    RenderContext {
        model: "m".into(),
        created: 0,
        include_usage: true,
        request: Default::default(),
    }
}

/// Every request translation and answer parser, on `body`.
fn translate_everything(body: &[u8]) {
    let spec: shared::providers::ProviderSpec = serde_json::from_str(
        r#"{"id":"openai","display_name":"o","format":"openai","base_url":"http://x","auth":"bearer","models":[]}"#,
    )
    .unwrap();
    let upstream = UpstreamContext {
        model: "m",
        max_output_tokens: 10,
        provider: &spec,
    };
    for dialect in [
        &openai::CHAT as &dyn ClientDialect,
        &anthropic::MESSAGES,
        &openai::EMBEDDINGS,
        &responses::RESPONSES,
    ] {
        if let Ok(head) = dialect.parse(body) {
            let _ = head.rewrite(Rewrite {
                model: Some("x"),
                request_usage: true,
            });
        }
        if let Ok(Some(request)) = dialect.to_canonical(body) {
            let _ = anthropic::ANTHROPIC_UPSTREAM.build_request(&request, &upstream);
            let _ = openai::OPENAI_UPSTREAM.build_request(&request, &upstream);
        }
        let _ = dialect.passthrough_summary(body, true);
        let _ = dialect.passthrough_error(actix_web::http::StatusCode::BAD_GATEWAY, body);
        let _ = dialect.passthrough_stored_response(body);
        let _ = dialect.requires_native(body);
    }
    // The Responses API's answers repeat the request's settings, whatever the request was.
    let echoing = RenderContext {
        request: bytes::Bytes::copy_from_slice(body),
        ..context()
    };
    for upstream in [
        &anthropic::ANTHROPIC_UPSTREAM as &dyn UpstreamDialect,
        &openai::OPENAI_UPSTREAM,
    ] {
        if let Ok(response) = upstream.parse_response(body) {
            let _ = openai::CHAT.render_response(response.clone(), &context());
            let _ = responses::RESPONSES.render_response(response.clone(), &echoing);
            let _ = anthropic::MESSAGES.render_response(response, &context());
        }
        let failure = upstream.parse_failure(actix_web::http::StatusCode::BAD_GATEWAY, body);
        let _ = openai::CHAT.render_failure(&failure);
        let _ = anthropic::MESSAGES.render_failure(&failure);
        let _ = responses::RESPONSES.render_failure(&failure);
    }
}

/// 400, or `PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

/// Arbitrary JSON-ish text: random bytes alone rarely get past the first brace.
fn jsonish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z \"\\\\]{0,12}".prop_map(|s| format!("{s:?}")),
        prop::sample::select(vec![
            "\"user\"",
            "\"assistant\"",
            "\"system\"",
            "\"tool\"",
            "\"text\"",
            "\"image_url\"",
            "\"function\"",
            "\"auto\"",
            "\"required\"",
            "\"message_start\"",
            "\"content_block_delta\"",
            "\"input_json_delta\"",
            "\"text_delta\"",
            "\"tool_use\"",
            "\"message_delta\"",
            "\"error\"",
            "\"function_call\"",
            "\"function_call_output\"",
            "\"reasoning\"",
            "\"input_text\"",
            "\"response.created\"",
            "\"response.completed\"",
            "\"response.failed\"",
        ])
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop::sample::select(vec![
            "model",
            "messages",
            "role",
            "content",
            "type",
            "text",
            "tool_calls",
            "tool_call_id",
            "function",
            "arguments",
            "name",
            "tools",
            "tool_choice",
            "stream",
            "stop",
            "max_tokens",
            "image_url",
            "url",
            "index",
            "delta",
            "partial_json",
            "message",
            "usage",
            "output_tokens",
            "id",
            "content_block",
            "error",
            "input",
            "output",
            "call_id",
            "instructions",
            "response",
            "previous_response_id",
            "encrypted_content",
            "summary",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((keys, inner), 0..5).prop_map(|kv| {
                let members: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn request_parsing_and_translation_never_panic(body in jsonish()) {
        translate_everything(body.as_bytes());
        let _ = openai::chunk_usage(body.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        translate_everything(&bytes);
        let _ = parse_event(&bytes);
    }

    #[test]
    fn stream_translators_never_panic(
        events in prop::collection::vec((prop::option::of("[a-z_]{1,20}"), jsonish()), 0..12),
        cut in 1usize..64,
    ) {
        let mut raw = Vec::new();
        for (name, data) in &events {
            if let Some(n) = name {
                raw.extend_from_slice(format!("event: {n}\n").as_bytes());
            }
            raw.extend_from_slice(format!("data: {data}\n\n").as_bytes());
        }
        let mut translators: Vec<Box<dyn StreamTranslator>> = vec![
            Box::new(TranslatedStream::new(
                Box::new(AnthropicEventParser::default()),
                Box::new(ChunkRenderer::new(context())),
            )),
            Box::new(TranslatedStream::new(
                Box::new(ChunkParser::default()),
                Box::new(AnthropicEventRenderer::new(context())),
            )),
            Box::new(OpenAiStreamRelay::new(true)),
            Box::new(AnthropicStreamRelay::default()),
            Box::new(TranslatedStream::new(
                Box::new(AnthropicEventParser::default()),
                Box::new(ResponsesEventRenderer::new(context())),
            )),
            Box::new(TranslatedStream::new(
                Box::new(ChunkParser::default()),
                Box::new(ResponsesEventRenderer::new(context())),
            )),
            Box::new(ResponsesStreamRelay::default()),
        ];
        let mut splitter = SseSplitter::default();
        let mut out = BytesMut::new();
        for piece in raw.chunks(cut) {
            splitter.push(piece);
            while let Some(event) = splitter.next_event() {
                for t in &mut translators {
                    let _ = t.translate(&event, &mut out);
                }
            }
        }
        for t in &translators {
            let _ = t.usage();
            let _ = t.stored_response();
            t.write_failure(
                &super::canonical::StreamFailure::new(super::canonical::ErrorKind::Api, "x"),
                &mut out,
            );
        }
    }
}
