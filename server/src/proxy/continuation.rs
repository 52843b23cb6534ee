//! Follow-ups of stored answers (the Responses API's `previous_response_id`). The upstream keeps
//! such an answer in the account of the key that made it, so a follow-up may only go to that
//! key: sent to another account it would fail (that account never saw the answer) or, worse,
//! quietly start over. When the key that made it cannot serve now, the client is told so
//! plainly instead of being switched to a different account.
//!
//! An id api-proxy does not know (made before a restart, long ago, or by another client of the
//! upstream) is routed like any other request; only keys that speak the client's wire natively
//! can take it (see `ClientDialect::requires_native`).

use crate::adapters::RequestHead;
use crate::error::ApiError;
use crate::routing::pick::Filter;
use crate::routing::PickQuery;
use crate::state::AppState;

/// The keys the call must not use: every key but the one that stored the answer the request
/// continues, when api-proxy knows it (none otherwise); an error when that key cannot take the
/// request now.
pub fn keys_to_avoid(
    state: &AppState,
    request: &RequestHead<'_>,
    query: &PickQuery<'_>,
) -> Result<Vec<i32>, ApiError> {
    let Some(id) = request.continues.as_deref() else {
        return Ok(Vec::new());
    };
    let Some(owner) = state.response_owners.owner(id, query.now_ms) else {
        return Ok(Vec::new());
    };
    let Some(bid) = state.board.get(owner) else {
        return Err(ApiError::NoKeyAvailable(format!(
            "response `{id}` is stored in the account of a key that was removed from api-proxy; \
             no other key's account has it, so it cannot be continued"
        )));
    };
    if let Err(filter) = query.admit(&bid) {
        return Err(ApiError::NoKeyAvailable(format!(
            "response `{id}` is stored in the account of key `{}`, which cannot take this request \
             now ({}); no other key's account has that response, so the request was not sent \
             elsewhere",
            bid.profile.name,
            why(filter, query.now_ms)
        )));
    }
    let mut others = Vec::with_capacity(state.board.len());
    state.board.for_each(|b| {
        if b.key_id() != owner {
            others.push(b.key_id());
        }
    });
    Ok(others)
}

/// A filter in words, with waits in seconds from `now_ms`.
fn why(filter: Filter, now_ms: i64) -> String {
    let secs = |until_ms: i64| ((until_ms - now_ms).max(0) as u64).div_ceil(1000);
    match filter {
        Filter::Throttled { until_ms } | Filter::RateLimited { until_ms } => {
            format!("rate-limited for another {} s", secs(until_ms))
        }
        Filter::Cooling { until_ms } => {
            format!(
                "cooling down after failures for another {} s",
                secs(until_ms)
            )
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_said_in_seconds() {
        assert_eq!(
            why(Filter::Throttled { until_ms: 10_500 }, 1_000),
            "rate-limited for another 10 s"
        );
        assert_eq!(
            why(Filter::Cooling { until_ms: 2_001 }, 1_000),
            "cooling down after failures for another 2 s"
        );
        assert_eq!(why(Filter::Disabled, 0), "disabled");
        assert_eq!(why(Filter::ModelNotServed, 0), "does not serve this model");
    }
}
