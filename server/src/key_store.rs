//! Managing provider keys: validation, sealing the secret, the database row, and keeping the key's
//! actor in step. The plaintext secret exists here only between the request and `seal_secret`.

use std::collections::BTreeMap;

use shared::keys::{KeyPatch, KeyState, KeyTestResult, KeyView, NewKey, RateLimitView, MAX_AMOUNT};
use shared::providers::ModelPricing;
use shared::providers::ProviderFormat;

use crate::actors::key::KeySnapshot;
use crate::actors::registry::EditEffects;
use crate::adapters::openai;
use crate::config::base_url_problem;
use crate::crypto::{self, Secret, SecretBinding};
use crate::db::api_keys::{self, ApiKeyChanges, ApiKeyRow, NewApiKey};
use crate::db::now_ms;
use crate::error::ApiError;
use crate::key_seal;
use crate::proxy::{proxy_call, Call};
use crate::routing::key_live::{
    parse_quota_reset, parse_quota_unit, quota_reset_name, quota_unit_name, KeyLive,
};
use crate::routing::pick::Filter;
use crate::routing::quota::next_reset;
use crate::routing::ratelimit::RateLimitInfo;
use crate::state::AppState;

const MAX_NAME: usize = 100;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        message: format!("{field}: {}", message.into()),
        param: Some(field.to_owned()),
    }
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_secret(key: &str) -> Result<Secret, ApiError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(invalid("api_key", "must not be empty"));
    }
    if key.len() > 4096 || key.chars().any(|c| c.is_control() || c == ' ') {
        return Err(invalid(
            "api_key",
            "must be a single token without spaces or control characters",
        ));
    }
    Ok(Secret::new(key))
}

/// A key's `base_url`, without its trailing `/` ([`base_url_problem`] says what it must be).
fn check_base_url(url: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(u) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let u = u.trim_end_matches('/');
    match base_url_problem(u) {
        Some(why) => Err(invalid("base_url", format!("{why}; got `{u}`"))),
        None => Ok(Some(u.to_owned())),
    }
}

/// Whether `v` is a price, fee or quota the API accepts: from 0 to [`MAX_AMOUNT`].
fn is_amount(v: f64) -> bool {
    (0.0..=MAX_AMOUNT).contains(&v)
}

fn check_amount(field: &str, value: Option<f64>) -> Result<Option<f64>, ApiError> {
    match value {
        Some(v) if !is_amount(v) => Err(invalid(
            field,
            format!("must be a number from 0 to {MAX_AMOUNT:e}"),
        )),
        other => Ok(other),
    }
}

fn check_models(models: &[String]) -> Result<String, ApiError> {
    if models.iter().any(|m| m.trim().is_empty()) {
        return Err(invalid("models", "model ids must not be empty"));
    }
    Ok(serde_json::to_string(models).expect("strings serialise"))
}

pub async fn create_key(state: &AppState, new: NewKey) -> Result<KeyView, ApiError> {
    let provider = state.catalog.get(&new.provider).ok_or_else(|| {
        invalid(
            "provider",
            format!(
                "unknown provider {:?}; see GET /api/providers",
                new.provider
            ),
        )
    })?;
    let name = check_name(&new.name)?;
    let secret = check_secret(&new.api_key)?;
    let base_url = check_base_url(new.base_url.as_deref())?;
    if provider.format() == ProviderFormat::Azure && base_url.is_none() {
        return Err(invalid(
            "base_url",
            "Azure keys need their resource URL, e.g. https://NAME.openai.azure.com",
        ));
    }
    if new.priority.is_some_and(|p| p < 0) {
        return Err(invalid("priority", "must be >= 0"));
    }
    let quota_total = check_amount("quota_total", new.quota_total)?;
    let quota_remaining = check_amount("quota_remaining", new.quota_remaining)?.or(quota_total);
    let cost_per_request = check_amount("cost_per_request", new.cost_per_request)?.unwrap_or(0.0);
    let models = check_models(new.models.as_deref().unwrap_or_default())?;
    let weight = check_weight(new.weight.unwrap_or(1))?;
    let price_overrides = check_prices(&new.price_overrides.unwrap_or_default())?;
    let uid = crypto::random_token("");
    let now = state.clock.now_ms();
    let aad = SecretBinding {
        uid: &uid,
        provider: &new.provider,
        base_url: base_url.as_deref(),
        auth: provider.spec.auth,
    }
    .aad();
    let row = NewApiKey {
        secret_ciphertext: state.cipher.seal_secret(&secret, &aad),
        seal_version: key_seal::SEAL_VERSION,
        secret_hint: secret.masked(),
        uid,
        provider: new.provider.clone(),
        name,
        base_url,
        models,
        priority: new.priority,
        enabled: new.enabled.unwrap_or(true),
        cost_per_request,
        quota_total,
        quota_remaining,
        quota_unit: quota_unit_name(new.quota_unit.unwrap_or_default()).to_owned(),
        azure_api_version: new.azure_api_version.filter(|v| !v.trim().is_empty()),
        azure_deployments: serde_json::to_string(&new.azure_deployments.unwrap_or_default())
            .expect("a map serialises"),
        created_at: now,
        updated_at: now,
        weight,
        quota_reset: new.quota_reset.map(|p| quota_reset_name(p).to_owned()),
        quota_reset_at: new.quota_reset.map(|p| next_reset(p, now)),
        price_overrides,
    };
    let row = state
        .db
        .run(move |conn| api_keys::insert(conn, &row))
        .await?;
    state.keys.spawn(&row).map_err(ApiError::Internal)?;
    tracing::info!(key_id = row.id, provider = %row.provider, "key added");
    Ok(view(&row, None))
}

pub async fn update_key(state: &AppState, id: i32, patch: KeyPatch) -> Result<KeyView, ApiError> {
    let current = get_row(state, id).await?;
    let now = state.clock.now_ms();
    let mut changes = ApiKeyChanges {
        updated_at: now,
        ..Default::default()
    };
    let mut effects = EditEffects::default();
    if let Some(name) = &patch.name {
        changes.name = Some(check_name(name)?);
    }
    // Where the stored secret goes changes only with the secret itself: with the admin token
    // alone, a new base_url and a key test would send the secret to any host.
    let base_url = match &patch.base_url {
        Some(url) => Some(check_base_url(url.as_deref())?),
        None => None,
    };
    if base_url
        .as_ref()
        .is_some_and(|url| *url != current.base_url)
        && patch.api_key.is_none()
    {
        return Err(invalid(
            "base_url",
            "changing base_url needs the key's api_key in the same request: a stored key is only \
             sent where it was entered for",
        ));
    }
    if let Some(key) = &patch.api_key {
        let secret = check_secret(key)?;
        let provider = state.catalog.get(&current.provider).ok_or_else(|| {
            invalid(
                "provider",
                format!("provider {:?} is not configured", current.provider),
            )
        })?;
        let aad = SecretBinding {
            uid: &current.uid,
            provider: &current.provider,
            base_url: base_url.as_ref().unwrap_or(&current.base_url).as_deref(),
            auth: provider.spec.auth,
        }
        .aad();
        changes.secret_ciphertext = Some(state.cipher.seal_secret(&secret, &aad));
        changes.seal_version = Some(key_seal::SEAL_VERSION);
        changes.secret_hint = Some(secret.masked());
        // A new secret deserves a new chance.
        changes.auth_dead = Some(false);
        changes.quota_rejected = Some(false);
        effects.reset_health = true;
    }
    if let Some(url) = base_url {
        changes.base_url = Some(url);
        // A new address deserves a new chance too.
        effects.reset_health = true;
    }
    if let Some(models) = &patch.models {
        changes.models = Some(check_models(models)?);
    }
    if let Some(priority) = patch.priority {
        if priority.is_some_and(|p| p < 0) {
            return Err(invalid("priority", "must be >= 0"));
        }
        changes.priority = Some(priority);
    }
    if let Some(enabled) = patch.enabled {
        changes.enabled = Some(enabled);
        if enabled && !current.enabled {
            changes.auth_dead = Some(false);
            changes.quota_rejected = Some(false);
            effects.reset_health = true;
        }
    }
    if let Some(cost) = patch.cost_per_request {
        changes.cost_per_request =
            Some(check_amount("cost_per_request", Some(cost))?.unwrap_or(0.0));
    }
    if let Some(total) = patch.quota_total {
        changes.quota_total = Some(check_amount("quota_total", total)?);
        effects.quota_edited = true;
    }
    if let Some(remaining) = patch.quota_remaining {
        changes.quota_remaining = Some(check_amount("quota_remaining", remaining)?);
        // A top-up also clears the provider's "out of credit" verdict.
        changes.quota_rejected = Some(false);
        effects.quota_edited = true;
    }
    if let Some(period) = patch.quota_reset {
        changes.quota_reset = Some(period.map(|p| quota_reset_name(p).to_owned()));
        changes.quota_reset_at = Some(period.map(|p| next_reset(p, now)));
        effects.quota_edited = true;
    }
    if let Some(weight) = patch.weight {
        changes.weight = Some(check_weight(weight)?);
    }
    if let Some(prices) = &patch.price_overrides {
        changes.price_overrides = Some(check_prices(prices)?);
    }
    if let Some(unit) = patch.quota_unit {
        changes.quota_unit = Some(quota_unit_name(unit).to_owned());
        effects.quota_edited = true;
    }
    if let Some(version) = patch.azure_api_version {
        changes.azure_api_version = Some(version.filter(|v| !v.trim().is_empty()));
    }
    if let Some(deployments) = &patch.azure_deployments {
        changes.azure_deployments =
            Some(serde_json::to_string(deployments).expect("a map serialises"));
    }
    // Counters the key's actor already sent must land before the edit, not after it.
    state.writer.flush().await;
    let row = state
        .db
        .run(move |conn| api_keys::update(conn, id, &changes))
        .await?
        .ok_or_else(|| not_found(id))?;
    state
        .keys
        .apply_edit(&row, effects)
        .await
        .map_err(ApiError::Internal)?;
    let snapshot = state.keys.snapshot(id).await;
    Ok(view(&row, snapshot.as_ref()))
}

pub async fn delete_key(state: &AppState, id: i32) -> Result<(), ApiError> {
    state.keys.retire(id);
    state.writer.flush().await;
    let deleted = state.db.run(move |conn| api_keys::delete(conn, id)).await?;
    if !deleted {
        return Err(not_found(id));
    }
    tracing::info!(key_id = id, "key deleted");
    Ok(())
}

pub async fn get_key(state: &AppState, id: i32) -> Result<KeyView, ApiError> {
    let row = get_row(state, id).await?;
    let snapshot = state.keys.snapshot(id).await;
    Ok(view(&row, snapshot.as_ref()))
}

pub async fn list_keys(state: &AppState) -> Result<Vec<KeyView>, ApiError> {
    let rows = state.db.run(api_keys::list).await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        let snapshot = state.keys.snapshot(row.id).await;
        views.push(view(&row, snapshot.as_ref()));
    }
    Ok(views)
}

/// Makes a minimal real call through this key (whatever its state) and reports the result. A
/// success clears a verdict the key may carry (auth dead, out of credit, cooling).
pub async fn test_key(
    state: &AppState,
    client: &awc::Client,
    id: i32,
) -> Result<KeyTestResult, ApiError> {
    let row = get_row(state, id).await?;
    let bid = state
        .board
        .get(id)
        .ok_or_else(|| ApiError::Internal(format!("key {id} has no actor")))?;
    let model = bid
        .profile
        .model_ids()
        .into_iter()
        .find(|m| {
            bid.profile
                .provider
                .model(m)
                .is_none_or(|spec| spec.max_output_tokens > 0)
        })
        .ok_or_else(|| invalid("models", "this key lists no model to test with"))?;
    if bid.profile.seal_mismatch {
        // Its secret is sent nowhere, not even by an explicit test.
        return Ok(KeyTestResult {
            ok: false,
            status: None,
            latency_ms: 0,
            model,
            message: Filter::SealMismatch.to_string(),
        });
    }
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "Reply with the single word: ok"}],
        "max_tokens": 5
    });
    let started = std::time::Instant::now();
    let outcome = proxy_call(
        state,
        client,
        Call {
            body: serde_json::to_vec(&body).expect("json").into(),
            dialect: &openai::CHAT,
            headers: Vec::new(),
            provider: None,
            client_key_id: None,
            only_key: Some(id),
            trace_parent: None,
        },
    )
    .await;
    let latency_ms = started.elapsed().as_millis() as i64;
    let (status, bytes) = match outcome {
        Ok(response) => {
            let status = response.status();
            let bytes = actix_web::body::to_bytes(response.into_body())
                .await
                .unwrap_or_default();
            (status, bytes)
        }
        Err(e) => (actix_web::ResponseError::status_code(&e), e.body()),
    };
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let ok = status.is_success();
    let message = if ok {
        parsed["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    } else {
        parsed["error"]["message"]
            .as_str()
            .unwrap_or("the call failed")
            .to_owned()
    };
    if ok {
        state
            .keys
            .apply_edit(
                &row,
                EditEffects {
                    reset_health: true,
                    quota_edited: false,
                },
            )
            .await
            .map_err(ApiError::Internal)?;
    }
    Ok(KeyTestResult {
        ok,
        status: Some(status.as_u16()),
        latency_ms,
        model,
        message,
    })
}

async fn get_row(state: &AppState, id: i32) -> Result<ApiKeyRow, ApiError> {
    state
        .db
        .run(move |conn| api_keys::get(conn, id))
        .await?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: i32) -> ApiError {
    ApiError::NotFound(format!("no key with id {id}"))
}

/// The public view of a key: live state from its actor when it has one, else from the row.
pub fn view(row: &ApiKeyRow, live: Option<&KeySnapshot>) -> KeyView {
    let from_row = KeyLive::from_row(row, now_ms());
    let fallback_state = if !row.enabled {
        KeyState::Disabled
    } else if row.auth_dead {
        KeyState::AuthDead
    } else if row.quota_rejected || row.quota_remaining.is_some_and(|q| q <= 0.0) {
        KeyState::QuotaExhausted
    } else {
        KeyState::Active
    };
    let rate_limit = |r: &RateLimitInfo| {
        (!r.is_empty()).then_some(RateLimitView {
            requests_remaining: r.requests_remaining,
            requests_limit: r.requests_limit,
            tokens_remaining: r.tokens_remaining,
            tokens_limit: r.tokens_limit,
            reset_at: r.reset_at_ms,
        })
    };
    KeyView {
        id: i64::from(row.id),
        provider: row.provider.clone(),
        name: row.name.clone(),
        masked_key: row.secret_hint.clone(),
        base_url: row.base_url.clone(),
        models: serde_json::from_str(&row.models).unwrap_or_default(),
        priority: row.priority,
        enabled: row.enabled,
        cost_per_request: row.cost_per_request,
        quota_total: row.quota_total,
        quota_remaining: live.map_or(from_row.quota_remaining, |s| s.quota_remaining),
        quota_unit: parse_quota_unit(&row.quota_unit),
        azure_api_version: row.azure_api_version.clone(),
        azure_deployments: serde_json::from_str::<BTreeMap<String, String>>(&row.azure_deployments)
            .unwrap_or_default(),
        state: live.map_or(fallback_state, |s| s.state),
        state_until: live.and_then(|s| s.state_until),
        usage: live.map_or(from_row.usage.clone(), |s| s.usage.clone()),
        weight: row.weight,
        quota_reset: parse_quota_reset(row.quota_reset.as_deref()),
        quota_reset_at: live.map_or(row.quota_reset_at, |s| s.quota_reset_at),
        price_overrides: serde_json::from_str(&row.price_overrides).unwrap_or_default(),
        in_flight: live.map_or(0, |s| s.in_flight),
        rate_limit: live.and_then(|s| rate_limit(&s.rate_limit)),
        burn_rate_per_hour: live.and_then(|s| s.burn_rate_per_hour),
        quota_forecast_exhausted_at: live.and_then(|s| s.quota_forecast_exhausted_at),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn check_weight(weight: i32) -> Result<i32, ApiError> {
    if !(1..=1000).contains(&weight) {
        return Err(invalid("weight", "must be between 1 and 1000"));
    }
    Ok(weight)
}

fn check_prices(prices: &BTreeMap<String, ModelPricing>) -> Result<String, ApiError> {
    for (model, p) in prices {
        let values = [Some(p.input), Some(p.output), p.cached_input, p.cache_write];
        if model.trim().is_empty() || values.iter().flatten().any(|v| !is_amount(*v)) {
            return Err(invalid(
                "price_overrides",
                format!("{model:?}: prices must be numbers from 0 to {MAX_AMOUNT:e}"),
            ));
        }
    }
    Ok(serde_json::to_string(prices).expect("prices serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::keys::QuotaUnit;

    #[test]
    fn validation_names_the_field() {
        assert!(
            matches!(check_name("  "), Err(ApiError::BadRequest { param: Some(p), .. }) if p == "name")
        );
        assert!(check_secret("sk-abc def").is_err());
        assert!(check_base_url(Some("ftp://x")).is_err());
        assert!(check_base_url(Some("http://[")).is_err());
        assert_eq!(
            check_base_url(Some("http://h:1/v1/")).unwrap().as_deref(),
            Some("http://h:1/v1")
        );
        assert!(check_amount("quota_total", Some(-1.0)).is_err());
        assert!(check_amount("cost_per_request", Some(f64::MAX)).is_err());
        assert!(check_amount("cost_per_request", Some(MAX_AMOUNT)).is_ok());
        assert_eq!(quota_unit_name(QuotaUnit::Usd), "usd");
    }
}
