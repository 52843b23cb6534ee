// @generated automatically by Diesel CLI.

diesel::table! {
    api_keys (id) {
        id -> Integer,
        uid -> Text,
        provider -> Text,
        name -> Text,
        secret_ciphertext -> Binary,
        secret_hint -> Text,
        base_url -> Nullable<Text>,
        models -> Text,
        priority -> Nullable<Integer>,
        enabled -> Bool,
        cost_per_request -> Double,
        quota_total -> Nullable<Double>,
        quota_remaining -> Nullable<Double>,
        quota_unit -> Text,
        azure_api_version -> Nullable<Text>,
        azure_deployments -> Text,
        auth_dead -> Bool,
        total_calls -> BigInt,
        total_errors -> BigInt,
        total_tokens -> BigInt,
        total_cost_usd -> Double,
        latency_ewma_ms -> Nullable<Double>,
        last_used_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        weight -> Integer,
        quota_reset -> Nullable<Text>,
        quota_reset_at -> Nullable<BigInt>,
        price_overrides -> Text,
        quota_rejected -> Bool,
        ttfb_ewma_ms -> Nullable<Double>,
        seal_version -> Integer,
    }
}

diesel::table! {
    call_logs (id) {
        id -> Integer,
        created_at -> BigInt,
        request_id -> Text,
        key_id -> Nullable<Integer>,
        key_name -> Nullable<Text>,
        provider -> Nullable<Text>,
        model -> Text,
        endpoint -> Text,
        stream -> Bool,
        status -> Integer,
        error -> Nullable<Text>,
        latency_ms -> BigInt,
        ttfb_ms -> Nullable<BigInt>,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        cached_tokens -> BigInt,
        total_tokens -> BigInt,
        cost_usd -> Double,
        attempts -> Integer,
        client_key_id -> Nullable<Integer>,
        attempt_trail -> Nullable<Text>,
        price_input -> Nullable<Double>,
        price_output -> Nullable<Double>,
        price_cached_input -> Nullable<Double>,
        price_cache_write -> Nullable<Double>,
        price_per_call -> Nullable<Double>,
    }
}

diesel::table! {
    client_keys (id) {
        id -> Integer,
        name -> Text,
        key_hash -> Text,
        prefix -> Text,
        created_at -> BigInt,
        budget_usd -> Nullable<Double>,
        budget_period -> Text,
        rpm -> Nullable<Integer>,
        tpm -> Nullable<Integer>,
        max_parallel -> Nullable<Integer>,
        models -> Nullable<Text>,
        expires_at -> Nullable<BigInt>,
        enabled -> Bool,
        note -> Nullable<Text>,
        revoked_at -> Nullable<BigInt>,
        spent_usd -> Double,
        spent_period_start -> BigInt,
    }
}

diesel::table! {
    fleet_changes (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    key_cooling (key_id) {
        key_id -> Integer,
        until_ms -> BigInt,
    }
}

diesel::table! {
    meta (name) {
        name -> Text,
        value -> Binary,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    usage_hour (bucket, key_id, model) {
        bucket -> BigInt,
        key_id -> Integer,
        key_name -> Text,
        provider -> Text,
        model -> Text,
        calls -> BigInt,
        errors -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        cost_usd -> Double,
        latency_hist -> Binary,
    }
}

diesel::table! {
    usage_minute (bucket, key_id, model) {
        bucket -> BigInt,
        key_id -> Integer,
        key_name -> Text,
        provider -> Text,
        model -> Text,
        calls -> BigInt,
        errors -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        cost_usd -> Double,
        latency_hist -> Binary,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    call_logs,
    client_keys,
    fleet_changes,
    key_cooling,
    meta,
    settings,
    usage_hour,
    usage_minute,
);
