//! Dashboard endpoints against a database of 1,000,000 calls. A benchmark, not a timed test: it is
//! `#[ignore]`d in the normal run and started by `bench/run.sh` (or by hand:
//! `cargo test --release -p api-proxy --test it scale -- --ignored --nocapture`); it prints how long
//! each endpoint takes and checks only that the answers are right.

use std::time::Instant;

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection;

use crate::support::*;

const CALLS: i64 = 1_000_000;

#[actix_web::test]
#[ignore = "benchmark: run with --ignored"]
async fn dashboard_endpoints_with_a_million_calls() {
    let app = TestApp::start().await;
    let id = app
        .add_key(serde_json::json!({"provider": "openai", "name": "bulk", "api_key": SECRET}))
        .await;
    let now = api_proxy::db::now_ms();
    let started = Instant::now();
    app.state()
        .db
        .run(move |conn| {
            // One call every 2.5 s over the last 30 days, four models, 3% errors.
            conn.batch_execute(&format!(
                "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x + 1 < {CALLS})
                 INSERT INTO call_logs (created_at, request_id, key_id, key_name, provider, model, endpoint, stream,
                                        status, latency_ms, prompt_tokens, completion_tokens, total_tokens, cost_usd, attempts)
                 SELECT {now} - x * 2592, 'req_' || x, {id}, 'bulk', 'openai',
                        CASE x % 4 WHEN 0 THEN 'gpt-4o' WHEN 1 THEN 'gpt-4o-mini' WHEN 2 THEN 'gpt-4.1' ELSE 'o3-mini' END,
                        'chat/completions', x % 2, CASE WHEN x % 33 = 0 THEN 500 ELSE 200 END,
                        200 + x % 700, 100, 50, 150, 0.001, 1
                 FROM n;
                 INSERT INTO usage_hour (bucket, key_id, key_name, provider, model, calls, errors, prompt_tokens,
                                         completion_tokens, cost_usd, latency_hist)
                 SELECT (created_at / 3600000) * 3600000, key_id, 'bulk', 'openai', model, COUNT(*), SUM(status >= 400),
                        SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), X''
                 FROM call_logs GROUP BY 1, 2, 5;
                 INSERT INTO usage_minute (bucket, key_id, key_name, provider, model, calls, errors, prompt_tokens,
                                           completion_tokens, cost_usd, latency_hist)
                 SELECT (created_at / 60000) * 60000, key_id, 'bulk', 'openai', model, COUNT(*), SUM(status >= 400),
                        SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), X''
                 FROM call_logs WHERE created_at > {now} - 7200000 GROUP BY 1, 2, 5;
                 ANALYZE;"
            ))?;
            Ok(())
        })
        .await
        .unwrap();
    println!(
        "generated {CALLS} calls in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let deep = app
        .admin("GET", "/api/logs?limit=1&before=200000", None)
        .await;
    assert_eq!(deep.body["data"].as_array().unwrap().len(), 1);
    println!("| endpoint | ms |\n|---|---|");
    for path in [
        "/api/logs?limit=50".to_owned(),
        "/api/logs?limit=50&before=500000".to_owned(),
        "/api/logs?limit=50&model=o3-mini".to_owned(),
        "/api/logs?limit=50&status=error".to_owned(),
        format!("/api/logs?limit=50&key_id={id}&status=500"),
        "/api/logs?limit=50&provider=openai".to_owned(),
        format!(
            "/api/logs?limit=50&since={}&until={}",
            now - 86_400_000,
            now - 3_600_000
        ),
        "/api/logs/123456".to_owned(),
        "/api/stats".to_owned(),
        "/api/stats/timeseries?range=hour".to_owned(),
        "/api/stats/timeseries?range=day".to_owned(),
        "/api/stats/timeseries?range=month".to_owned(),
        "/api/keys".to_owned(),
    ] {
        let t = Instant::now();
        let r = app.admin("GET", &path, None).await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        println!("| `{path}` | {ms:.1} |");
    }
    let stats = app.admin("GET", "/api/stats", None).await;
    assert_eq!(stats.body["totals"]["calls"], CALLS);
    app.stop().await;
}
