//! `GET /v1/models`: every model reachable with an enabled key, plus aliases that lead to one.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::state::AppState;

/// `GET /v1/models`: OpenAI's model list.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// `list`
    object: &'static str,
    data: Vec<ModelEntry>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelEntry {
    #[schema(example = "gpt-4o")]
    id: String,
    /// `model`
    object: &'static str,
    /// Always 0: api-proxy does not know when the provider released the model.
    created: i64,
    /// The provider of a key that serves it.
    owned_by: String,
}

pub fn list_models(state: &AppState) -> ModelList {
    let mut models: BTreeMap<String, String> = BTreeMap::new();
    state.board.for_each(|bid| {
        if !bid.profile.enabled {
            return;
        }
        for id in bid.profile.model_ids() {
            models
                .entry(id)
                .or_insert_with(|| bid.profile.provider_id().to_owned());
        }
    });
    for (alias, target) in &state.all_aliases() {
        if let Some(owner) = models.get(target).cloned() {
            models.entry(alias.clone()).or_insert(owner);
        }
    }
    ModelList {
        object: "list",
        data: models
            .into_iter()
            .map(|(id, owned_by)| ModelEntry {
                id,
                object: "model",
                created: 0,
                owned_by,
            })
            .collect(),
    }
}
