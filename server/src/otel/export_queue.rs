//! The queue between the request path and the OTLP exporter's thread.
//!
//! A finished call is one [`CallTrace`] pushed onto a bounded queue, without waking anyone: the
//! exporter's thread sleeps until a batch's worth has queued (the pushing call then sends it one
//! wake-up), a flush or shutdown is asked, or its timer fires. There it turns the records into
//! the SDK's `SpanData` and hands them to the OTLP `SpanExporter` in batches. When the collector
//! falls behind and the queue is full, records are dropped rather than slowing calls; the spans
//! dropped are counted and logged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::call_trace::{call_spans, CallTrace};

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
    pub fn start<E>(exporter: E, scope: InstrumentationScope, config: QueueConfig) -> Self
    where
        E: SpanExporter + 'static,
    {
        let (calls, queued) = crossbeam_channel::bounded(config.capacity);
        let (control, controls) = crossbeam_channel::bounded(16);
        let wake_sent = Arc::new(AtomicBool::new(false));
        let dropped_spans = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            exporter,
            scope,
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

struct Worker<E> {
    exporter: E,
    scope: InstrumentationScope,
    queued: Receiver<CallTrace>,
    controls: Receiver<Control>,
    wake_sent: Arc<AtomicBool>,
    dropped_spans: Arc<AtomicU64>,
    batch_spans: usize,
    delay: Duration,
    reported_drops: u64,
    last_log: Option<Instant>,
}

impl<E: SpanExporter> Worker<E> {
    fn run(mut self) {
        let mut batch = Vec::with_capacity(self.batch_spans + 8);
        loop {
            match self.controls.recv_timeout(self.delay) {
                Ok(Control::Export) => {
                    self.wake_sent.store(false, Ordering::Relaxed);
                    self.export_queued(&mut batch);
                }
                Ok(Control::Flush(done)) => {
                    self.export_queued(&mut batch);
                    let _ = done.send(());
                }
                Ok(Control::Shutdown(done)) => {
                    self.export_queued(&mut batch);
                    let _ = self.exporter.shutdown();
                    self.report_drops(true);
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => self.export_queued(&mut batch),
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Exports what is queued now, in batches of about `batch_spans` spans.
    fn export_queued(&mut self, batch: &mut Vec<SpanData>) {
        // What arrives while exporting waits for the next round, so a busy proxy cannot keep
        // this loop from answering a flush.
        let mut left = self.queued.len();
        while left > 0 {
            while left > 0 && batch.len() < self.batch_spans {
                let Ok(trace) = self.queued.try_recv() else {
                    left = 0;
                    break;
                };
                left -= 1;
                call_spans(trace, &self.scope, batch);
            }
            self.export(batch);
        }
        self.report_drops(false);
    }

    fn export(&mut self, batch: &mut Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let spans = std::mem::replace(batch, Vec::with_capacity(self.batch_spans + 8));
        if let Err(e) = futures_executor::block_on(self.exporter.export(spans)) {
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
    use opentelemetry_sdk::error::OTelSdkResult;

    use super::*;
    use crate::otel::call_trace::{CallOutcome, TraceIds};

    #[derive(Debug, Clone, Default)]
    struct Counting {
        spans: Arc<AtomicUsize>,
        exports: Arc<AtomicUsize>,
        shut: Arc<AtomicBool>,
    }

    impl SpanExporter for Counting {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.spans.fetch_add(batch.len(), Ordering::SeqCst);
            self.exports.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        fn shutdown(&self) -> OTelSdkResult {
            self.shut.store(true, Ordering::SeqCst);
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
        let exporter = Counting::default();
        let queue = ExportQueue::start(
            exporter.clone(),
            InstrumentationScope::builder("test").build(),
            QueueConfig {
                capacity,
                batch_calls,
                // Long enough that only pushes, flushes and shutdowns export.
                delay: Duration::from_secs(3600),
            },
        );
        (queue, exporter)
    }

    #[test]
    fn a_flush_exports_everything_queued_in_batches() {
        let (queue, exporter) = queue(1000, 100);
        queue.flush();
        assert_eq!(exporter.exports.load(Ordering::SeqCst), 0);
        for _ in 0..250 {
            queue.push(trace());
        }
        queue.flush();
        assert_eq!(exporter.spans.load(Ordering::SeqCst), 250);
        assert_eq!(queue.dropped_spans(), 0);
        queue.shutdown();
        assert!(exporter.shut.load(Ordering::SeqCst));
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (queue, exporter) = queue(4, 1000);
        for _ in 0..10 {
            queue.push(trace());
        }
        assert_eq!(queue.dropped_spans(), 6);
        queue.shutdown();
        assert_eq!(exporter.spans.load(Ordering::SeqCst), 4);
        queue.push(trace());
        assert_eq!(queue.dropped_spans(), 7, "after shutdown too");
    }
}
