//! The estimate a client key's limits reserve before a call is forwarded: prompt tokens by the
//! byte heuristic, plus the output allowance (`max_tokens` or its newer spellings, else the
//! model's output limit; nothing for embeddings), priced at the dearest key that could serve it.

use crate::adapters::{RequestHead, Wire};
use crate::client_limits::budget::usd_to_nanos;
use crate::client_limits::{prompt_estimate, Demand};
use crate::routing::{call_cost, BidBoard, PickQuery, TokenUsage};

/// Output tokens assumed when neither the request nor the model config gives a limit.
pub const FALLBACK_OUTPUT_TOKENS: u64 = 4096;

/// The output limit the request sets, if it sets one.
fn asked_output(request: &RequestHead<'_>) -> Option<u64> {
    ["max_completion_tokens", "max_tokens", "max_output_tokens"]
        .iter()
        .find_map(|name| request.member(name))
        .and_then(|value| value.get().trim().parse().ok())
}

pub fn estimate(
    board: &BidBoard,
    query: &PickQuery<'_>,
    request: &RequestHead<'_>,
    body_len: usize,
    wire: Wire,
) -> Demand {
    let prompt = prompt_estimate(body_len);
    let embeddings = wire == Wire::OpenAiEmbeddings;
    let asked = asked_output(request);
    let output_for = |model_limit: Option<u64>| {
        if embeddings {
            0
        } else {
            asked.or(model_limit).unwrap_or(FALLBACK_OUTPUT_TOKENS)
        }
    };
    let mut demand = Demand::default();
    board.for_each(|bid| {
        if !query.matches(bid) {
            return;
        }
        let Some(model) = query.model_for(bid) else {
            return;
        };
        let spec = bid.profile.provider.model(model);
        let output = output_for(spec.map(|m| u64::from(m.max_output_tokens)));
        let usage = TokenUsage {
            prompt: prompt as i64,
            completion: output as i64,
            ..TokenUsage::default()
        };
        let cost = call_cost(
            bid.profile.pricing_with(model, || spec),
            bid.profile.cost_per_request,
            &usage,
        );
        demand.tokens = demand.tokens.max(prompt + output);
        demand.cost = demand.cost.max(usd_to_nanos(cost).max(0));
    });
    if demand.tokens == 0 {
        demand.tokens = prompt + output_for(None);
    }
    demand
}
