//! `GET /api/live`: the dashboard's websocket. Authenticated like the REST API (the admin token as
//! `Authorization: Bearer` or, since browsers cannot set headers on websockets, `?token=`).
//! Each connection gets `hello`, then every event; one that falls behind the hub's backlog gets a
//! `resync`, and one that stops reading is dropped rather than buffered without bound.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::Message;
use futures_util::StreamExt;
use serde::Deserialize;
use shared::live::LiveEvent;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::auth::check_admin;
use super::openapi::responses::{BadRequest, Unauthorized};
use crate::error::ApiError;
use crate::state::AppState;

const HEARTBEAT: Duration = Duration::from_secs(15);
/// A client that cannot take one message in this long is disconnected.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// The admin token, when it cannot be sent as `Authorization: Bearer`.
    token: Option<String>,
}

/// Opens the live feed (a websocket).
///
/// `hello`, then every finished `call`, `key_state` changes and a `snapshot` every second, each
/// one JSON text message (`LiveEvent`). A client that falls behind gets `resync`. Browsers, which
/// cannot set headers on websockets, pass the admin token as `?token=`.
#[utoipa::path(
    get,
    path = "/api/live",
    tag = "observability",
    params(LiveQuery),
    responses(
        (status = 101, description = "Switched to the websocket; each message is a `LiveEvent`"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn get_live(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<LiveQuery>,
) -> Result<HttpResponse, ApiError> {
    check_admin(&req, &state, query.token.as_deref())?;
    let (response, mut session, mut incoming) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("websocket handshake failed: {e}")))?;
    let mut events = state.live.subscribe();
    let mut closing = state.live.closing();
    let hello = serde_json::to_string(&LiveEvent::Hello {
        version: env!("CARGO_PKG_VERSION").into(),
        server_time: state.clock.now_ms(),
    })
    .expect("hello serialises");
    actix_web::rt::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        let mut outgoing = Some(hello);
        loop {
            if let Some(text) = outgoing.take() {
                match tokio::time::timeout(SEND_TIMEOUT, session.text(text)).await {
                    Ok(Ok(())) => {}
                    _ => break,
                }
            }
            tokio::select! {
                event = events.recv() => match event {
                    Ok(text) => outgoing = Some(text.to_string()),
                    Err(RecvError::Lagged(missed)) => {
                        outgoing = serde_json::to_string(&LiveEvent::Resync {
                            reason: format!("{missed} events were dropped"),
                        })
                        .ok();
                    }
                    Err(RecvError::Closed) => break,
                },
                message = incoming.next() => match message {
                    Some(Ok(Message::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                _ = closing.wait_for(|closed| *closed) => break,
                _ = heartbeat.tick() => {
                    if session.ping(b"").await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}
