//! `mock-upstream [--port N] [--chunks N] [--delay-ms N] [--key KEY] [--workers N] [--no-record]
//! [--fail-every N]`: serves until killed and prints `MOCK_LISTENING http://127.0.0.1:PORT` once
//! ready (`--no-record` keeps no copy of the requests, for benchmarks; `--fail-every N` answers
//! every N-th chat request with a `500`, for the soak run). One port speaks OpenAI
//! (`/v1/chat/completions`, `/v1/embeddings`, `/v1/responses`), Azure OpenAI
//! (`/openai/deployments/…`) and Anthropic (`/v1/messages`).

use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};

fn main() {
    let mut config = MockConfig::default();
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-record" {
            // Benchmarks: do not keep every request in memory.
            config.record = false;
            continue;
        }
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--port" => port = value.parse().expect("--port N"),
            "--chunks" => config.chunks = value.parse().expect("--chunks N"),
            "--delay-ms" => {
                config.chunk_delay = Duration::from_millis(value.parse().expect("--delay-ms N"))
            }
            "--key" => config.expected_key = Some(value),
            "--workers" => config.workers = value.parse().expect("--workers N"),
            "--fail-every" => config.fail_every = Some(value.parse().expect("--fail-every N")),
            other => panic!("unknown flag {other}"),
        }
    }
    let mock = MockUpstream::start_on(&format!("127.0.0.1:{port}"), config);
    println!("MOCK_LISTENING {}", mock.url());
    loop {
        std::thread::park();
    }
}
