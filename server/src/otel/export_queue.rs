//! The queue between the request path and the OTLP exporter's thread.
//!
//! A finished call is one [`CallTrace`] pushed onto a bounded queue, without waking anyone: the
//! exporter's thread sleeps until a batch's worth has queued (the pushing call then sends it one
//! wake-up), a flush or shutdown is asked, or its timer fires. There it writes the records, in
//! batches, into OTLP protobuf bodies ([`TraceEncoder`]) and posts them to the collector. When
//! the collector falls behind and the queue is full, records are dropped rather than slowing
//! calls; the spans dropped are counted and logged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use super::call_trace::CallTrace;
use super::collector::SendExport;
use super::otlp_encoding::TraceEncoder;

/// How the queue and its batches are sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Calls held before new ones are dropped.
    pub capacity: usize,
    /// Calls per export (each is one span and one per attempt).
    pub batch_calls: usize,
    /// Longest a finished call waits before it is exported.
    pub delay: Duration,
}

/// Longest a flush or a shutdown waits for the exporter's thread.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Drops and export errors are logged at most this often.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

enum Control {
    /// A batch's worth has queued.
    Export,
    Flush(crossbeam_channel::Sender<()>),
    Shutdown(crossbeam_channel::Sender<()>),
}

pub struct ExportQueue {
    calls: Sender<CallTrace>,
    control: Sender<Control>,
    batch_calls: usize,
    /// An `Export` wake-up is on its way and not yet taken.
    wake_sent: Arc<AtomicBool>,
    dropped_spans: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ExportQueue {
    /// Starts the exporter's thread.
    pub fn start<S: SendExport>(encoder: TraceEncoder, sink: S, config: QueueConfig) -> Self {
        let (calls, queued) = crossbeam_channel::bounded(config.capacity);
        let (control, controls) = crossbeam_channel::bounded(16);
        let wake_sent = Arc::new(AtomicBool::new(false));
        let dropped_spans = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            encoder,
            sink,
            body: Vec::new(),
            queued,
            controls,
            wake_sent: wake_sent.clone(),
            dropped_spans: dropped_spans.clone(),
            batch_spans: config.batch_calls.max(1) * 2,
            delay: config.delay,
            reported_drops: 0,
            last_log: None,
        };
        let thread = std::thread::Builder::new()
            .name("otlp-traces".to_owned())
            .spawn(move || worker.run())
            .expect("the trace exporter's thread starts");
        Self {
            calls,
            control,
            batch_calls: config.batch_calls.max(1),
            wake_sent,
            dropped_spans,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Queues a finished call; never blocks.
    pub fn push(&self, trace: CallTrace) {
        match self.calls.try_send(trace) {
            Ok(()) => {
                if self.calls.len() >= self.batch_calls
                    && !self.wake_sent.load(Ordering::Relaxed)
                    && !self.wake_sent.swap(true, Ordering::Relaxed)
                    && self.control.try_send(Control::Export).is_err()
                {
                    self.wake_sent.store(false, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Full(trace) | TrySendError::Disconnected(trace)) => {
                self.dropped_spans
                    .fetch_add(trace.span_count() as u64, Ordering::Relaxed);
            }
        }
    }

    /// Spans dropped so far because the queue was full (or the exporter stopped).
    pub fn dropped_spans(&self) -> u64 {
        self.dropped_spans.load(Ordering::Relaxed)
    }

    /// Exports everything queued now; returns when it is sent (or failed).
    pub fn flush(&self) {
        let (done, wait) = crossbeam_channel::bounded(1);
        if self.control.send(Control::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(FLUSH_TIMEOUT);
        }
    }

    /// Exports what is queued, stops the exporter and its thread.
    pub fn shutdown(&self) {
        let Some(thread) = self.thread.lock().expect("not poisoned").take() else {
            return;
        };
        let (done, wait) = crossbeam_channel::bounded(1);
        if self.control.send(Control::Shutdown(done)).is_ok()
            && wait.recv_timeout(FLUSH_TIMEOUT).is_ok()
        {
            let _ = thread.join();
        }
    }
}

struct Worker<S> {
    encoder: TraceEncoder,
    sink: S,
    /// The export's body, its allocation kept from one export to the next.
    body: Vec<u8>,
    queued: Receiver<CallTrace>,
    controls: Receiver<Control>,
    wake_sent: Arc<AtomicBool>,
    dropped_spans: Arc<AtomicU64>,
    batch_spans: usize,
    delay: Duration,
    reported_drops: u64,
    last_log: Option<Instant>,
}

impl<S: SendExport> Worker<S> {
    fn run(mut self) {
        loop {
            match self.controls.recv_timeout(self.delay) {
                Ok(Control::Export) => {
                    self.wake_sent.store(false, Ordering::Relaxed);
                    self.export_queued();
                }
                Ok(Control::Flush(done)) => {
                    self.export_queued();
                    let _ = done.send(());
                }
                Ok(Control::Shutdown(done)) => {
                    self.export_queued();
                    self.report_drops(true);
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => self.export_queued(),
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Exports what is queued now, in batches of about `batch_spans` spans.
    fn export_queued(&mut self) {
        // What arrives while exporting waits for the next round, so a busy proxy cannot keep
        // this loop from answering a flush.
        let mut left = self.queued.len();
        while left > 0 {
            let mut body = self.encoder.start(&mut self.body);
            let mut spans = 0;
            while left > 0 && spans < self.batch_spans {
                let Ok(trace) = self.queued.try_recv() else {
                    left = 0;
                    break;
                };
                left -= 1;
                spans += trace.span_count();
                body.push(&trace);
            }
            body.finish();
            if spans > 0 {
                self.export();
            }
        }
        self.report_drops(false);
    }

    fn export(&mut self) {
        if let Err(e) = self.sink.send(&self.body) {
            if self.may_log() {
                tracing::warn!(error = %e, "could not export traces");
            }
        }
    }

    fn report_drops(&mut self, last: bool) {
        let dropped = self.dropped_spans.load(Ordering::Relaxed);
        if dropped > self.reported_drops && (last || self.may_log()) {
            tracing::warn!(
                dropped_spans = dropped - self.reported_drops,
                dropped_total = dropped,
                "trace spans dropped: the export queue was full (the collector is slower than the calls; sample with OTEL_TRACES_SAMPLER)"
            );
            self.reported_drops = dropped;
        }
    }

    fn may_log(&mut self) -> bool {
        let now = Instant::now();
        if self.last_log.is_some_and(|at| now - at < LOG_INTERVAL) {
            return false;
        }
        self.last_log = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::SystemTime;

    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_sdk::Resource;
    use prost::Message as _;

    use super::*;
    use crate::otel::call_trace::{CallOutcome, TraceIds};
    use crate::otel::collector::ExportError;

    /// Counts the spans in the bodies it is sent, as a collector would decode them.
    #[derive(Debug, Clone, Default)]
    struct Counting {
        spans: Arc<AtomicUsize>,
        exports: Arc<AtomicUsize>,
    }

    impl SendExport for Counting {
        fn send(&mut self, body: &[u8]) -> Result<(), ExportError> {
            let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
            let spans: usize = request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            self.spans.fetch_add(spans, Ordering::SeqCst);
            self.exports.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn trace() -> CallTrace {
        CallTrace {
            ids: TraceIds {
                trace_id: TraceId::from(1),
                flags: TraceFlags::SAMPLED,
                state: TraceState::default(),
            },
            span_id: SpanId::from(2),
            remote_parent: None,
            start: SystemTime::now(),
            end: SystemTime::now(),
            endpoint: "chat/completions",
            request_model: "m".to_owned(),
            first_attempt: None,
            more_attempts: Vec::new(),
            outcome: CallOutcome {
                status: 200,
                key: None,
                response_model: None,
                input_tokens: 1,
                output_tokens: 1,
                attempts: 0,
                finish_reasons: Vec::new(),
                error: None,
            },
        }
    }

    fn queue(capacity: usize, batch_calls: usize) -> (ExportQueue, Counting) {
        let sink = Counting::default();
        let encoder = TraceEncoder::new(
            &Resource::builder_empty().with_service_name("test").build(),
            &InstrumentationScope::builder("test").build(),
        );
        let queue = ExportQueue::start(
            encoder,
            sink.clone(),
            QueueConfig {
                capacity,
                batch_calls,
                // Long enough that only pushes, flushes and shutdowns export.
                delay: Duration::from_secs(3600),
            },
        );
        (queue, sink)
    }

    #[test]
    fn a_flush_exports_everything_queued_in_batches() {
        let (queue, sink) = queue(1000, 100);
        queue.flush();
        assert_eq!(sink.exports.load(Ordering::SeqCst), 0);
        for _ in 0..250 {
            queue.push(trace());
        }
        queue.flush();
        assert_eq!(sink.spans.load(Ordering::SeqCst), 250);
        assert!(sink.exports.load(Ordering::SeqCst) >= 2, "in batches");
        assert_eq!(queue.dropped_spans(), 0);
        queue.shutdown();
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (queue, sink) = queue(4, 1000);
        for _ in 0..10 {
            queue.push(trace());
        }
        assert_eq!(queue.dropped_spans(), 6);
        queue.shutdown();
        assert_eq!(sink.spans.load(Ordering::SeqCst), 4);
        queue.push(trace());
        assert_eq!(queue.dropped_spans(), 7, "after shutdown too");
    }
}
