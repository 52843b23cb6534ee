//! Micro-benchmarks of the pure functions every proxied request runs through: picking a key,
//! parsing and rewriting an OpenAI request, translating a request and a stream between dialects,
//! relaying OpenAI and Anthropic stream events untouched, and costing a call; and, for
//! comparison with the pick, one request–reply through an actix mailbox.
//!
//! `cargo bench -p api-proxy --bench hot_paths` (`bench/run.sh` runs it and puts the numbers in
//! `bench/results/latest.md`). Inputs are the golden fixtures of the adapter tests, so the
//! benchmarks measure the same bytes the tests check.

use std::hint::black_box;
use std::sync::Arc;

use api_proxy::adapters::anthropic::{self, AnthropicEventParser, AnthropicStreamRelay};
use api_proxy::adapters::openai::{self, ChatDialect, ChunkRenderer, OpenAiStreamRelay};
use api_proxy::adapters::translated::TranslatedStream;
use api_proxy::adapters::{
    ClientDialect, RenderContext, Rewrite, StreamTranslator, UpstreamContext, UpstreamDialect,
};
use api_proxy::config::ProviderCatalog;
use api_proxy::routing::ewma::DecayingAverage;
use api_proxy::routing::ratelimit::RateLimitInfo;
use api_proxy::routing::{
    call_cost, pick, Bid, BidBoard, Health, KeyCounters, KeyProfile, ModelSet, PickQuery,
    PickResult, TokenUsage,
};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shared::keys::QuotaUnit;
use shared::settings::RoutingStrategy;

const ANTHROPIC_TOOL_REQUEST: &str =
    include_str!("../tests/fixtures/anthropic/tool_call/request.openai.json");
const ANTHROPIC_MULTI_TURN_REQUEST: &str =
    include_str!("../tests/fixtures/anthropic/system_multi_turn/request.openai.json");
const ANTHROPIC_TEXT_STREAM: &str =
    include_str!("../tests/fixtures/anthropic/plain_text/stream.anthropic.sse");
const ANTHROPIC_TOOL_STREAM: &str =
    include_str!("../tests/fixtures/anthropic/tool_call/stream.anthropic.sse");
const OPENAI_STREAM: &str =
    include_str!("../tests/fixtures/openai/usage_not_requested/stream.upstream.sse");

/// A small chat request, as the load generator sends it.
const SMALL_CHAT: &str = r#"{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello to the benchmark."}],"temperature":0.2}"#;
const SMALL_CHAT_STREAM: &str = r#"{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello to the benchmark."}],"temperature":0.2,"stream":true}"#;

/// A 40-turn conversation of about 20 KB, streamed.
fn long_chat_stream() -> String {
    let turns: Vec<String> = (0..40)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            format!(
                r#"{{"role":"{role}","content":"Turn {i}: {}"}}"#,
                "lorem ipsum dolor sit amet, ".repeat(16)
            )
        })
        .collect();
    format!(
        r#"{{"model":"gpt-4o","messages":[{}],"stream":true,"max_tokens":512}}"#,
        turns.join(",")
    )
}

/// A board of `n` OpenAI keys serving gpt-4o with varied fees, quotas and latencies, so the
/// balanced strategy has real scoring to do.
fn board(n: i32) -> BidBoard {
    let catalog = ProviderCatalog::load(None).expect("provider files");
    let openai = catalog.get("openai").expect("openai provider").clone();
    let board = BidBoard::default();
    for id in 1..=n {
        let quota = (id % 2 == 0).then_some(f64::from(id % 50) + 1.0);
        board.publish(Bid {
            profile: Arc::new(KeyProfile {
                id,
                secret_aad: vec![],
                seal_mismatch: false,
                name: format!("k{id}"),
                provider: openai.clone(),
                base_url: "http://127.0.0.1:1/v1".into(),
                sealed_secret: vec![],
                models: ModelSet::Provider,
                priority: None,
                weight: 1,
                enabled: true,
                cost_per_request: f64::from(id % 7) * 0.001,
                quota_unit: QuotaUnit::Usd,
                quota_total: quota.map(|_| 100.0),
                quota_reset: None,
                price_overrides: Default::default(),
                azure_api_version: None,
                azure_deployments: Default::default(),
            }),
            counters: Arc::new(KeyCounters::default()),
            health: Health::Active,
            quota_remaining: quota,
            ttfb: Some(DecayingAverage {
                value: 100.0 + f64::from(id % 13) * 10.0,
                at_ms: 0,
            }),
            total_latency: Some(DecayingAverage {
                value: 400.0 + f64::from(id % 11) * 25.0,
                at_ms: 0,
            }),
            rate_limit: RateLimitInfo::default(),
            last_failure_ms: None,
            generation: 0,
            seq: 0,
        });
    }
    board
}

fn bench_pick(c: &mut Criterion) {
    let mut group = c.benchmark_group("pick");
    for n in [10, 1_000] {
        let board = board(n);
        for strategy in [RoutingStrategy::Balanced, RoutingStrategy::RoundRobin] {
            let query = PickQuery {
                model: "gpt-4o",
                alias: None,
                provider: None,
                exclude: &[],
                only_key: None,
                conversation: None,
                strategy,
                stream: false,
                now_ms: 1_000,
            };
            let id = format!("{strategy:?}/{n}_keys").to_lowercase();
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                b.iter(|| match pick(black_box(&board), black_box(&query)) {
                    // The lease is dropped here, as after a request, so keys never fill up.
                    PickResult::Picked(p) => p.bid.key_id(),
                    PickResult::Unavailable { .. } => unreachable!("every key is usable"),
                })
            });
        }
    }
    group.finish();
}

fn bench_openai_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("openai_request");
    let long = long_chat_stream();
    let cases = [
        ("small_nonstream", SMALL_CHAT),
        ("small_stream", SMALL_CHAT_STREAM),
        ("long_20kb_stream", long.as_str()),
    ];
    for (name, body) in cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        // What the proxy does per request: parse, then ask for the usage chunk on streams (which
        // rewrites the body when the client did not ask for it).
        group.bench_function(BenchmarkId::new("parse_rewrite", name), |b| {
            b.iter(|| {
                let request = ChatDialect::parse_head(black_box(body.as_bytes())).unwrap();
                request.rewrite(Rewrite {
                    model: None,
                    request_usage: true,
                })
            })
        });
    }
    group.finish();
}

fn bench_anthropic_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("anthropic_request");
    let catalog = ProviderCatalog::load(None).expect("provider files");
    let context = UpstreamContext {
        model: "claude-sonnet-4-5",
        max_output_tokens: 64_000,
        provider: &catalog.get("anthropic").expect("anthropic provider").spec,
    };
    for (name, body) in [
        ("tool_call", ANTHROPIC_TOOL_REQUEST),
        ("system_multi_turn", ANTHROPIC_MULTI_TURN_REQUEST),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        // An OpenAI chat request for an Anthropic key: read into the canonical model, written
        // as a Messages request.
        group.bench_function(BenchmarkId::new("translate", name), |b| {
            b.iter(|| {
                let canonical = openai::CHAT
                    .to_canonical(black_box(body.as_bytes()))
                    .unwrap()
                    .unwrap();
                anthropic::ANTHROPIC_UPSTREAM
                    .build_request(&canonical, &context)
                    .unwrap()
            })
        });
    }
    group.finish();
}

/// The events of an SSE fixture, each with its blank-line terminator, as the splitter yields them.
fn events(sse: &str) -> Vec<Vec<u8>> {
    sse.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| format!("{e}\n\n").into_bytes())
        .collect()
}

fn run_stream(translator: &mut dyn StreamTranslator, events: &[Vec<u8>], out: &mut BytesMut) {
    out.clear();
    for e in events {
        black_box(translator.translate(black_box(e), out));
    }
}

fn bench_streams(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream_chunks");
    for (name, sse) in [
        ("anthropic_text", ANTHROPIC_TEXT_STREAM),
        ("anthropic_tool_call", ANTHROPIC_TOOL_STREAM),
    ] {
        let events = events(sse);
        group.throughput(Throughput::Elements(events.len() as u64));
        group.bench_function(BenchmarkId::new("anthropic_to_openai", name), |b| {
            let mut out = BytesMut::with_capacity(16 * 1024);
            b.iter(|| {
                let mut t = TranslatedStream::new(
                    Box::new(AnthropicEventParser::default()),
                    Box::new(ChunkRenderer::new(RenderContext {
                        model: "claude-sonnet-4-5".into(),
                        created: 1_700_000_000,
                        include_usage: false,
                        request: Default::default(),
                    })),
                );
                run_stream(&mut t, &events, &mut out);
            })
        });
    }
    // A Messages stream relayed untouched (an Anthropic key serving a Messages client).
    let anthropic_events = events(ANTHROPIC_TEXT_STREAM);
    group.throughput(Throughput::Elements(anthropic_events.len() as u64));
    group.bench_function(BenchmarkId::new("anthropic_relay", "passthrough"), |b| {
        let mut out = BytesMut::with_capacity(16 * 1024);
        b.iter(|| {
            let mut t = AnthropicStreamRelay::default();
            run_stream(&mut t, &anthropic_events, &mut out);
        })
    });
    let events = events(OPENAI_STREAM);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function(BenchmarkId::new("openai_relay", "strip_usage"), |b| {
        let mut out = BytesMut::with_capacity(16 * 1024);
        b.iter(|| {
            let mut t = OpenAiStreamRelay::new(true);
            run_stream(&mut t, &events, &mut out);
        })
    });
    group.finish();
}

fn bench_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("cost");
    let board = board(1);
    let profile = board.get(1).expect("key 1").profile;
    let usage = TokenUsage {
        prompt: 1_200,
        completion: 350,
        cached: 400,
        cache_write: 0,
        reasoning: 0,
    };
    let pricing = profile.pricing("gpt-4o").expect("gpt-4o is priced").clone();
    group.bench_function("call_cost", |b| {
        b.iter(|| {
            call_cost(
                black_box(Some(&pricing)),
                black_box(0.001),
                black_box(&usage),
            )
        })
    });
    // As the proxy does it: the key's price for the model (overrides, then the catalogue), then
    // the cost.
    group.bench_function("price_lookup_and_cost", |b| {
        b.iter(|| {
            call_cost(
                profile.pricing(black_box("gpt-4o")),
                profile.cost_per_request,
                black_box(&usage),
            )
        })
    });
    group.finish();
}

/// An actor that answers at once: what one request–reply through an actix mailbox costs, the
/// price a router actor would add to every request (the board's pick has no such hop).
struct Echo;

impl actix::Actor for Echo {
    type Context = actix::Context<Self>;
}

struct Ask(u64);

impl actix::Message for Ask {
    type Result = u64;
}

impl actix::Handler<Ask> for Echo {
    type Result = u64;
    fn handle(&mut self, msg: Ask, _: &mut Self::Context) -> u64 {
        msg.0 + 1
    }
}

fn bench_mailbox(c: &mut Criterion) {
    use actix::Actor;
    let mut group = c.benchmark_group("mailbox");
    let system = actix_rt::System::new();
    let addr = system.block_on(async { Echo.start() });
    group.bench_function("round_trip", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let start = std::time::Instant::now();
                for i in 0..iters {
                    black_box(addr.send(Ask(i)).await.expect("the actor answers"));
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_mailbox,
    bench_pick,
    bench_openai_request,
    bench_anthropic_request,
    bench_streams,
    bench_cost
);
criterion_main!(benches);
