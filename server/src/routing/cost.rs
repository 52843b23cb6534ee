//! The cost of a call: a per-call fee plus tokens times the model's prices (USD per 1M tokens).

use shared::providers::ModelPricing;

/// Token counts in OpenAI's convention: `prompt` includes `cached` and `cache_write`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub prompt: i64,
    pub completion: i64,
    /// Prompt tokens read from the provider's cache.
    pub cached: i64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write: i64,
    /// Completion tokens spent reasoning (a part of `completion`, which is what is charged),
    /// when the upstream reports them apart.
    pub reasoning: i64,
}

/// The most tokens one count of one call may say; beyond is a broken upstream, not a call
/// (the largest context windows hold a few million).
pub const MAX_CALL_TOKENS: i64 = 1_000_000_000_000;

impl TokenUsage {
    pub fn total(&self) -> i64 {
        self.prompt.saturating_add(self.completion)
    }

    /// This usage with every count within `[0, MAX_CALL_TOKENS]`, and whether one was not (a
    /// negative or absurd count from an upstream must not turn into a refund, a negative quota
    /// or an overflowing sum).
    pub fn clamped(self) -> (Self, bool) {
        let clamp = |n: i64| n.clamp(0, MAX_CALL_TOKENS);
        let clamped = Self {
            prompt: clamp(self.prompt),
            completion: clamp(self.completion),
            // Parts of the prompt: never more than it.
            cached: clamp(self.cached).min(clamp(self.prompt)),
            cache_write: clamp(self.cache_write).min(clamp(self.prompt)),
            // A part of the completion.
            reasoning: clamp(self.reasoning).min(clamp(self.completion)),
        };
        let changed = clamped != self;
        (clamped, changed)
    }
}

const PER_MILLION: f64 = 1_000_000.0;

pub fn call_cost(pricing: Option<&ModelPricing>, per_call: f64, usage: &TokenUsage) -> f64 {
    let Some(p) = pricing else {
        return per_call;
    };
    let cached = usage.cached.max(0) as f64;
    let cache_write = usage.cache_write.max(0) as f64;
    let fresh = (usage.prompt as f64 - cached - cache_write).max(0.0);
    let tokens = fresh * p.input
        + cached * p.cached_input.unwrap_or(p.input)
        + cache_write * p.cache_write.unwrap_or(p.input)
        + usage.completion.max(0) as f64 * p.output;
    per_call + tokens / PER_MILLION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_clamped_into_believable_counts() {
        let fine = TokenUsage {
            prompt: 100,
            completion: 20,
            cached: 40,
            cache_write: 10,
            reasoning: 0,
        };
        assert_eq!(fine.clamped(), (fine, false));
        let (clamped, changed) = TokenUsage {
            prompt: -5,
            completion: i64::MAX,
            cached: -1,
            cache_write: 3,
            reasoning: 0,
        }
        .clamped();
        assert!(changed);
        assert_eq!(
            clamped,
            TokenUsage {
                prompt: 0,
                completion: MAX_CALL_TOKENS,
                cached: 0,
                cache_write: 0,
                reasoning: 0,
            }
        );
        let (clamped, _) = TokenUsage {
            prompt: i64::MAX,
            completion: i64::MAX,
            ..Default::default()
        }
        .clamped();
        assert_eq!(clamped.total(), 2 * MAX_CALL_TOKENS);
    }

    #[test]
    fn totals_saturate_instead_of_wrapping() {
        let usage = TokenUsage {
            prompt: i64::MAX,
            completion: i64::MAX,
            ..Default::default()
        };
        assert_eq!(usage.total(), i64::MAX);
    }

    fn pricing() -> ModelPricing {
        ModelPricing {
            input: 2.5,
            output: 10.0,
            cached_input: Some(1.25),
            cache_write: None,
        }
    }

    #[test]
    fn tokens_times_prices_plus_fee() {
        let usage = TokenUsage {
            prompt: 1_000_000,
            completion: 100_000,
            cached: 0,
            cache_write: 0,
            reasoning: 0,
        };
        let cost = call_cost(Some(&pricing()), 0.01, &usage);
        assert!((cost - (0.01 + 2.5 + 1.0)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn cached_prompt_tokens_use_the_cached_price() {
        let usage = TokenUsage {
            prompt: 1_000_000,
            completion: 0,
            cached: 400_000,
            cache_write: 0,
            reasoning: 0,
        };
        let cost = call_cost(Some(&pricing()), 0.0, &usage);
        assert!((cost - (0.6 * 2.5 + 0.4 * 1.25)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn unknown_model_costs_only_the_fee() {
        assert_eq!(call_cost(None, 0.002, &TokenUsage::default()), 0.002);
    }
}
