//! `GET /v1/models`: every model reachable with an enabled key, plus aliases that lead to one, in
//! OpenAI's list shape or Anthropic's.

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

/// Either list shape (Anthropic's when the request carries `anthropic-version`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ModelListAnswer {
    OpenAi(ModelList),
    Anthropic(AnthropicModelList),
}

/// Anthropic's model list: one page holding every model.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AnthropicModelList {
    data: Vec<AnthropicModelEntry>,
    has_more: bool,
    first_id: Option<String>,
    last_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AnthropicModelEntry {
    /// `model`
    #[serde(rename = "type")]
    kind: &'static str,
    #[schema(example = "claude-sonnet-4-5")]
    id: String,
    /// The id: api-proxy knows no other name.
    display_name: String,
    /// RFC 3339; the Unix epoch: api-proxy does not know when the provider released the model.
    created_at: &'static str,
}

/// The same models in Anthropic's shape.
pub fn anthropic_list(list: ModelList) -> AnthropicModelList {
    let data: Vec<AnthropicModelEntry> = list
        .data
        .into_iter()
        .map(|m| AnthropicModelEntry {
            kind: "model",
            display_name: m.id.clone(),
            id: m.id,
            created_at: "1970-01-01T00:00:00Z",
        })
        .collect();
    AnthropicModelList {
        first_id: data.first().map(|m| m.id.clone()),
        last_id: data.last().map(|m| m.id.clone()),
        has_more: false,
        data,
    }
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
