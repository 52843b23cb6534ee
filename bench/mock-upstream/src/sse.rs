//! Server-sent event bodies shared by every vendor: pacing (`chunk_delay`), the ways a stream can
//! end (cleanly, reset mid-stream, stalled) and counting streams abandoned by their reader.
//!
//! Events are pre-rendered strings (`data: …\n\n` or `event: …\ndata: …\n\n`), so the vendor
//! modules decide the bytes and this module only decides the timing.

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::stream;

use crate::{Behaviour, MockConfig, MockState};

/// How long a reset waits so what was sent reaches the wire first: the client then sees a reset
/// mid-stream and not before the headers.
const RESET_GRACE: Duration = Duration::from_millis(30);

/// How a stream ends after its last event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ending {
    Clean,
    Reset,
    Stall,
}

/// The events of a complete, well-formed stream, split so the failure behaviours can cut it.
pub struct Script {
    /// Every event up to, not including, the terminator.
    pub events: Vec<String>,
    /// The terminator (`data: [DONE]`, `event: message_stop`), left out by [`Behaviour::NoDone`].
    pub terminator: Option<String>,
    /// The vendor's in-stream error event, sent by [`Behaviour::StreamError`].
    pub error_event: String,
}

impl Script {
    /// Applies the stream-failure behaviours: which events go out and how the stream ends.
    pub fn cut(self, behaviour: &Behaviour) -> (Vec<String>, Ending) {
        let Script {
            mut events,
            terminator,
            error_event,
        } = self;
        // A broken stream never reaches its terminator, however large `n` is.
        match *behaviour {
            Behaviour::ResetAfter(n) => {
                events.truncate(n);
                (events, Ending::Reset)
            }
            Behaviour::StallAfter(n) => {
                events.truncate(n);
                (events, Ending::Stall)
            }
            Behaviour::StreamError(n) => {
                events.truncate(n);
                events.push(error_event);
                (events, Ending::Clean)
            }
            Behaviour::NoDone => (events, Ending::Clean),
            _ => {
                events.extend(terminator);
                (events, Ending::Clean)
            }
        }
    }
}

/// A `200 text/event-stream` response playing `script` under `config`'s behaviour and pacing.
pub fn respond(
    script: Script,
    config: &MockConfig,
    state: Arc<MockState>,
    content_type: &str,
    headers: &[(&str, String)],
) -> HttpResponse {
    let (events, ending) = script.cut(&config.behaviour);
    let guard = StreamGuard { state, done: false };
    let delay = config.chunk_delay;
    let body = stream::unfold(
        (events.into_iter(), guard, 0usize),
        move |(mut it, mut guard, i)| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match it.next() {
                Some(e) => Some((Ok::<_, std::io::Error>(Bytes::from(e)), (it, guard, i + 1))),
                None => match ending {
                    Ending::Clean => {
                        guard.complete();
                        None
                    }
                    Ending::Reset => {
                        tokio::time::sleep(RESET_GRACE).await;
                        guard.complete();
                        Some((Err(std::io::Error::other("mock reset")), (it, guard, i + 1)))
                    }
                    Ending::Stall => {
                        std::future::pending::<()>().await;
                        None
                    }
                },
            }
        },
    );
    let mut resp = HttpResponse::Ok();
    resp.content_type(content_type)
        .insert_header(("cache-control", "no-cache"));
    for (name, value) in headers {
        resp.insert_header((*name, value.as_str()));
    }
    resp.streaming(body)
}

/// [`Behaviour::Flood`](crate::Behaviour::Flood): each chunk is made when the reader asks for it
/// and counted in [`MockState`]'s flooded bytes as it is handed over.
pub fn flood(chunks: usize, chunk_bytes: usize, state: Arc<MockState>) -> HttpResponse {
    let content = "x".repeat(chunk_bytes);
    let body = stream::unfold(0usize, move |i| {
        let state = state.clone();
        let event = match i.cmp(&chunks) {
            std::cmp::Ordering::Less => {
                let chunk = serde_json::json!({
                    "id": "chatcmpl-flood", "object": "chat.completion.chunk",
                    "created": crate::MOCK_CREATED, "model": "gpt-4o",
                    "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]
                });
                Some(format!("data: {chunk}\n\n"))
            }
            std::cmp::Ordering::Equal => Some("data: [DONE]\n\n".to_owned()),
            std::cmp::Ordering::Greater => None,
        };
        async move {
            let event = event?;
            state
                .flooded
                .fetch_add(event.len() as u64, std::sync::atomic::Ordering::AcqRel);
            Some((Ok::<_, std::io::Error>(Bytes::from(event)), i + 1))
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(body)
}

/// Counts streams dropped before their end (the reader went away).
struct StreamGuard {
    state: Arc<MockState>,
    done: bool,
}

impl StreamGuard {
    fn complete(&mut self) {
        self.done = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.done {
            self.state.stream_cancelled();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script {
            events: vec!["a".into(), "b".into(), "c".into()],
            terminator: Some("end".into()),
            error_event: "err".into(),
        }
    }

    #[test]
    fn normal_streams_end_with_the_terminator() {
        let (events, ending) = script().cut(&Behaviour::Normal);
        assert_eq!(events, ["a", "b", "c", "end"]);
        assert_eq!(ending, Ending::Clean);
    }

    #[test]
    fn no_done_leaves_out_only_the_terminator() {
        let (events, _) = script().cut(&Behaviour::NoDone);
        assert_eq!(events, ["a", "b", "c"]);
    }

    #[test]
    fn failures_cut_after_n_events() {
        assert_eq!(
            script().cut(&Behaviour::ResetAfter(2)),
            (vec!["a".to_owned(), "b".to_owned()], Ending::Reset)
        );
        assert_eq!(script().cut(&Behaviour::StallAfter(9)).0, ["a", "b", "c"]);
        assert_eq!(
            script().cut(&Behaviour::StreamError(1)),
            (vec!["a".to_owned(), "err".to_owned()], Ending::Clean)
        );
    }
}
