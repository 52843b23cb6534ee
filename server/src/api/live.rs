//! `GET /api/live`: the dashboard's websocket. Authenticated like the REST API (the admin token as
//! `Authorization: Bearer`) or, since browsers cannot set headers on websockets, with a
//! single-use ticket from `POST /api/live/ticket` (see [`super::live_tickets`]); the token itself
//! is refused in the URL, where access logs would keep it. Failed attempts count towards the
//! admin throttle. Each connection gets `hello`, then every event; one that falls behind the
//! hub's backlog gets a `resync`, and one that stops reading is dropped rather than buffered
//! without bound.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::Message;
use futures_util::StreamExt;
use serde::Deserialize;
use shared::live::{LiveEvent, LiveTicket};
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::auth::{bearer, check_admin, throttled, AdminAuth};
use super::openapi::responses::{BadRequest, TooManyFailedAuthentications, Unauthorized};
use crate::error::ApiError;
use crate::state::AppState;

const HEARTBEAT: Duration = Duration::from_secs(15);
/// A client that cannot take one message in this long is disconnected.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// A ticket from `POST /api/live/ticket`, when the admin token cannot be sent as
    /// `Authorization: Bearer` (browsers).
    ticket: Option<String>,
    /// Refused (400): the admin token does not belong in a URL.
    token: Option<String>,
}

/// Opens the live feed (a websocket).
///
/// `hello`, then every finished `call`, `key_state` changes and a `snapshot` every second, each
/// one JSON text message (`LiveEvent`). A client that falls behind gets `resync`. Browsers, which
/// cannot set headers on websockets, pass a ticket from `POST /api/live/ticket` as `?ticket=`.
#[utoipa::path(
    get,
    path = "/api/live",
    tag = "observability",
    security(("admin_token" = []), ()),
    params(LiveQuery),
    responses(
        (status = 101, description = "Switched to the websocket; each message is a `LiveEvent`"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 429, response = TooManyFailedAuthentications),
    )
)]
pub async fn get_live(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<LiveQuery>,
) -> Result<HttpResponse, ApiError> {
    if query.token.is_some() {
        return Err(ApiError::BadRequest {
            message: "the admin token is not accepted in the URL, where logs would keep it: send \
                      it as Authorization: Bearer, or open the feed with a ticket from POST \
                      /api/live/ticket (?ticket=)"
                .into(),
            param: Some("token".into()),
        });
    }
    match (bearer(&req), query.ticket.as_deref()) {
        (None, Some(ticket)) => throttled(&req, &state, || {
            if state.live_tickets.redeem(ticket, state.clock.now_ms()) {
                Ok(())
            } else {
                Err(ApiError::Unauthorized(
                    "invalid, used or expired ticket: get a new one from POST /api/live/ticket"
                        .into(),
                ))
            }
        })?,
        _ => check_admin(&req, &state)?,
    }
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

/// Gets a ticket for the live feed.
///
/// The ticket opens one websocket (`GET /api/live?ticket=`) within 30 seconds; browsers use it
/// because they cannot send `Authorization` on a websocket, and the admin token must not travel
/// in a URL.
#[utoipa::path(
    post,
    path = "/api/live/ticket",
    tag = "observability",
    responses(
        (status = 200, description = "A single-use ticket", body = LiveTicket),
        (status = 401, response = Unauthorized),
        (status = 429, response = TooManyFailedAuthentications),
    )
)]
pub async fn create_live_ticket(
    state: web::Data<AppState>,
    _: AdminAuth,
) -> Result<HttpResponse, ApiError> {
    let (ticket, expires_at) = state.live_tickets.issue(state.clock.now_ms());
    Ok(HttpResponse::Ok().json(LiveTicket { ticket, expires_at }))
}
