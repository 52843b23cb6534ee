//! The live feed: one websocket to `GET /api/live?ticket=…` per signed-in tab, each connection
//! with a fresh single-use ticket from `POST /api/live/ticket` (the admin token never goes into a
//! URL). Each text message is a `shared::live::LiveEvent`. When the socket closes (server
//! restart, network) it reconnects after [`crate::backoff::delay_ms`]; the attempt counter resets
//! once a message arrives.

use std::time::Duration;

use futures_util::future::{abortable, AbortHandle};
use futures_util::StreamExt;
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::Message;
use shared::live::LiveEvent;
use yew::platform::spawn_local;
use yew::Callback;

use super::api::Api;
use super::browser::{now_ms, random, websocket_url};
use crate::backoff;
use crate::query::encode;
use crate::state::live::LiveAction;

/// The running feed; dropping it closes the socket and stops reconnecting.
pub struct LiveFeed {
    abort: AbortHandle,
}

impl Drop for LiveFeed {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// Starts the feed; every change is reported through `dispatch`.
pub fn start(token: &str, dispatch: Callback<LiveAction>) -> LiveFeed {
    let (task, abort) = abortable(run(token.to_owned(), dispatch));
    spawn_local(async move {
        let _ = task.await;
    });
    LiveFeed { abort }
}

/// The feed's URL with a fresh ticket, if one could be had.
async fn ticketed_url(token: &str) -> Option<String> {
    let ticket = Api::live_ticket(token).await.ok()?;
    websocket_url(&format!("/api/live?ticket={}", encode(&ticket.ticket)))
}

async fn run(token: String, dispatch: Callback<LiveAction>) {
    let mut attempt: u32 = 0;
    loop {
        dispatch.emit(LiveAction::Connecting);
        let url = ticketed_url(&token).await;
        if let Some(mut socket) = url.and_then(|url| WebSocket::open(&url).ok()) {
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                // Unknown event types (a newer server) are skipped, not fatal.
                if let Ok(event) = serde_json::from_str::<LiveEvent>(&text) {
                    attempt = 0;
                    dispatch.emit(LiveAction::Event {
                        event: Box::new(event),
                        now: now_ms(),
                    });
                }
            }
        }
        let delay = backoff::delay_ms(attempt, random());
        attempt = attempt.saturating_add(1);
        dispatch.emit(LiveAction::Closed {
            retry_at: now_ms() + i64::from(delay),
        });
        gloo_timers::future::sleep(Duration::from_millis(u64::from(delay))).await;
    }
}
