//! A translated stream: the upstream dialect's [`EventParser`] reads each event into canonical
//! events and the client dialect's [`EventRenderer`] writes them in the client's words.

use bytes::BytesMut;

use super::canonical::{StreamEvent, StreamFailure};
use super::{EventParser, EventRenderer, StreamStep, StreamTranslator};
use crate::routing::TokenUsage;

pub struct TranslatedStream {
    parser: Box<dyn EventParser>,
    renderer: Box<dyn EventRenderer>,
    /// Reused for every event.
    events: Vec<StreamEvent>,
}

impl TranslatedStream {
    pub fn new(parser: Box<dyn EventParser>, renderer: Box<dyn EventRenderer>) -> Self {
        Self {
            parser,
            renderer,
            events: Vec::with_capacity(4),
        }
    }
}

impl StreamTranslator for TranslatedStream {
    fn translate(&mut self, raw: &[u8], out: &mut BytesMut) -> StreamStep {
        self.events.clear();
        if let Err(failure) = self.parser.parse(raw, &mut self.events) {
            // What the upstream said before failing still reaches the client.
            for event in self.events.drain(..) {
                self.renderer.render(event, out);
            }
            return StreamStep::Failed(failure);
        }
        for event in self.events.drain(..) {
            if self.renderer.render(event, out) {
                return StreamStep::Done;
            }
        }
        StreamStep::Continue
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.parser.usage()
    }

    fn write_failure(&self, failure: &StreamFailure, out: &mut BytesMut) {
        self.renderer.render_failure(failure, out);
    }
}
