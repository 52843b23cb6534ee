//! `GET /api/stats`.

use actix_web::{web, HttpResponse};
use shared::stats::{StatsResponse, StatsRow};

use super::auth::AdminAuth;
use crate::db::call_logs::{aggregate, StatsAggregate, StatsGroup};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn get_stats(state: web::Data<AppState>, _: AdminAuth) -> Result<HttpResponse, ApiError> {
    // Calls that already answered are counted: wait for their log rows.
    state.writer.flush().await;
    let midnight = state.clock.now_ms().div_euclid(86_400_000) * 86_400_000;
    let stats = state
        .db
        .run(move |conn| {
            let totals = aggregate(conn, StatsGroup::Total, 0)?;
            let today = aggregate(conn, StatsGroup::Total, midnight)?;
            Ok(StatsResponse {
                totals: totals
                    .into_iter()
                    .next()
                    .map(|a| row(a, StatsGroup::Total))
                    .unwrap_or_else(|| StatsRow {
                        group: "total".into(),
                        ..Default::default()
                    }),
                today: today
                    .into_iter()
                    .next()
                    .map(|a| row(a, StatsGroup::Total))
                    .unwrap_or_else(|| StatsRow {
                        group: "total".into(),
                        ..Default::default()
                    }),
                by_key: rows(aggregate(conn, StatsGroup::Key, 0)?, StatsGroup::Key),
                by_provider: rows(
                    aggregate(conn, StatsGroup::Provider, 0)?,
                    StatsGroup::Provider,
                ),
                by_model: rows(aggregate(conn, StatsGroup::Model, 0)?, StatsGroup::Model),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

fn rows(aggregates: Vec<StatsAggregate>, group: StatsGroup) -> Vec<StatsRow> {
    aggregates.into_iter().map(|a| row(a, group)).collect()
}

fn row(a: StatsAggregate, group: StatsGroup) -> StatsRow {
    let (name, key_id) = match group {
        StatsGroup::Key => (
            a.label.unwrap_or_else(|| "(no key)".into()),
            a.grp.as_deref().and_then(|g| g.parse().ok()),
        ),
        _ => (a.grp.unwrap_or_else(|| "(none)".into()), None),
    };
    StatsRow {
        group: name,
        key_id,
        calls: a.calls,
        errors: a.errors,
        prompt_tokens: a.prompt_tokens,
        completion_tokens: a.completion_tokens,
        total_tokens: a.total_tokens,
        cost_usd: a.cost_usd,
        latency_p50_ms: a.p50,
        latency_p95_ms: a.p95,
    }
}
