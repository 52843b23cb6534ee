//! The two load shapes. *Closed loop*: `concurrency` connections, each sending the next request as
//! soon as the previous answer is complete, for a warm-up and then a measured window (or a request
//! count). *Idle streams*: open `streams` streaming requests (a bounded number of handshakes at a
//! time, so the listen backlog never overflows), hold them all open for a while, then drop them.
//!
//! Work is spread over `threads` OS threads, each with its own single-threaded runtime and its own
//! [`Stats`], merged at the end: no lock or shared counter on the request path except the
//! optional request budget.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};
use tokio::time::timeout_at;

use crate::http::{BodySink, Conn, HttpError, Target};
use crate::stats::Stats;
use crate::watch::Watcher;

/// Pause after a failed connect, so a dead target is not hammered in a tight loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);

pub struct LoadConfig {
    pub target: Target,
    pub stream: bool,
    pub concurrency: usize,
    pub threads: usize,
    pub warmup: Duration,
    /// The measured window (the cap on it, with a request budget).
    pub duration: Duration,
    /// Stop after this many measured requests.
    pub requests: Option<u64>,
    /// Per-request limit; an exchange slower than this is an error (`timeout`).
    pub timeout: Duration,
    pub body: Vec<u8>,
}

/// What a closed-loop run measured.
pub struct LoadOutcome {
    pub stats: Stats,
    /// Errors during the warm-up (not in `stats`).
    pub warmup_errors: Stats,
    pub window: Duration,
}

struct Plan {
    target: Target,
    request: Vec<u8>,
    stream: bool,
    warm_end: Instant,
    deadline: Instant,
    timeout: Duration,
    budget: Option<(Arc<AtomicU64>, u64)>,
}

/// One finished exchange.
struct Exchange {
    status: u16,
    ttfc: Option<Duration>,
    sink: BodySink,
    close: bool,
}

async fn exchange(
    conn: &mut Conn,
    request: &[u8],
    started: Instant,
) -> Result<Exchange, HttpError> {
    conn.send(request).await?;
    let head = conn.read_head().await?;
    let mut sink = BodySink::default();
    conn.read_body(&head, &mut sink).await?;
    Ok(Exchange {
        status: head.status,
        ttfc: sink.first_at.map(|t| t.duration_since(started)),
        sink,
        close: head.close,
    })
}

/// How an exchange that completed at the HTTP level is judged.
fn verdict(ex: &Exchange, stream: bool) -> Result<(), String> {
    if ex.status != 200 {
        return Err(format!("status_{}", ex.status));
    }
    if stream && !ex.sink.ends_with_done() {
        return Err("stream_no_done".into());
    }
    Ok(())
}

async fn closed_loop_worker(plan: Rc<Plan>, stats: Rc<RefCell<Stats>>, warm: Rc<RefCell<Stats>>) {
    let mut conn: Option<Conn> = None;
    let book = |at: Instant| if at >= plan.warm_end { &stats } else { &warm };
    loop {
        let now = Instant::now();
        if now >= plan.deadline {
            return;
        }
        if let Some((used, limit)) = &plan.budget {
            if now >= plan.warm_end && used.fetch_add(1, Ordering::Relaxed) >= *limit {
                return;
            }
        }
        let mut c = match conn.take() {
            Some(c) => c,
            None => match timeout_at(plan.deadline.into(), Conn::connect(plan.target.addr)).await {
                Err(_) => return,
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    book(Instant::now()).borrow_mut().error(e.kind());
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        let limit = plan.deadline.min(started + plan.timeout);
        let result = timeout_at(limit.into(), exchange(&mut c, &plan.request, started)).await;
        let done = Instant::now();
        match result {
            // Cut off by the end of the run: neither a success nor an error.
            Err(_) if done >= plan.deadline => return,
            Err(_) => book(done).borrow_mut().error("timeout".into()),
            Ok(Err(e)) => book(done).borrow_mut().error(e.kind()),
            Ok(Ok(ex)) => {
                let mut s = book(done).borrow_mut();
                match verdict(&ex, plan.stream) {
                    Ok(()) => {
                        s.ok += 1;
                        s.record_latency(done - started);
                        if let Some(t) = ex.ttfc.filter(|_| plan.stream) {
                            s.record_ttfc(t);
                        }
                    }
                    Err(kind) => s.error(kind),
                }
                s.bytes += ex.sink.bytes;
                s.events += ex.sink.events;
                if !ex.close {
                    conn = Some(c);
                }
            }
        }
    }
}

/// Splits `n` as evenly as possible over `parts`.
fn share(n: usize, parts: usize, i: usize) -> usize {
    n / parts + usize::from(i < n % parts)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn closed_loop(config: LoadConfig, watcher: &mut Watcher) -> LoadOutcome {
    let start = Instant::now();
    let warm_end = start + config.warmup;
    let plan = Plan {
        request: config.target.post_json(&config.body),
        target: config.target,
        stream: config.stream,
        warm_end,
        deadline: warm_end + config.duration,
        timeout: config.timeout,
        budget: config
            .requests
            .map(|limit| (Arc::new(AtomicU64::new(0)), limit)),
    };
    let deadline = plan.deadline;
    let finished_at = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..config.threads)
        .map(|i| {
            let n = share(config.concurrency, config.threads, i);
            let plan = Plan {
                target: plan.target.clone(),
                request: plan.request.clone(),
                budget: plan.budget.clone(),
                ..plan
            };
            let finished_at = finished_at.clone();
            std::thread::spawn(move || {
                let plan = Rc::new(plan);
                let stats = Rc::new(RefCell::new(Stats::default()));
                let warm = Rc::new(RefCell::new(Stats::default()));
                let local = tokio::task::LocalSet::new();
                for _ in 0..n {
                    local.spawn_local(closed_loop_worker(
                        plan.clone(),
                        stats.clone(),
                        warm.clone(),
                    ));
                }
                runtime().block_on(local);
                let ended = Instant::now().saturating_duration_since(start).as_nanos() as u64;
                finished_at.fetch_max(ended, Ordering::Relaxed);
                (
                    Rc::try_unwrap(stats).ok().expect("tasks done").into_inner(),
                    Rc::try_unwrap(warm).ok().expect("tasks done").into_inner(),
                )
            })
        })
        .collect();
    std::thread::sleep(warm_end.saturating_duration_since(Instant::now()));
    watcher.mark_window_start();
    let mut stats = Stats::default();
    let mut warmup_errors = Stats::default();
    for t in threads {
        let (s, w) = t.join().expect("driver thread");
        stats.merge(s);
        warmup_errors.merge(w);
    }
    // With a request budget the run ends when the last worker does; otherwise at the deadline.
    let ended = start + Duration::from_nanos(finished_at.load(Ordering::Relaxed));
    LoadOutcome {
        stats,
        warmup_errors,
        window: ended.min(deadline).saturating_duration_since(warm_end),
    }
}

pub struct IdleConfig {
    pub target: Target,
    pub streams: usize,
    pub threads: usize,
    /// Handshakes (connect, request, first chunk) in progress at once.
    pub open_concurrency: usize,
    /// Time allowed for every stream to open.
    pub open_timeout: Duration,
    pub hold: Duration,
    pub body: Vec<u8>,
}

/// What an idle-streams run measured.
pub struct IdleOutcome {
    /// TTFC of each opened stream; `errors` by kind (including `open_timeout` for streams that had
    /// not sent their first chunk when the open phase ended, and `ended_early` for streams that
    /// finished or broke during the hold).
    pub stats: Stats,
    pub opened: usize,
    /// Time until every stream had opened (or the open phase ended).
    pub open_time: Duration,
    /// Streams still open when the hold ended.
    pub alive_at_end: usize,
}

#[derive(Default)]
struct IdleCounters {
    opened: AtomicUsize,
    /// Streams that failed before their first chunk.
    failed_unopened: AtomicUsize,
    alive_at_stop: AtomicUsize,
}

async fn idle_stream(
    target: Rc<Target>,
    request: Rc<Vec<u8>>,
    gate: Arc<Semaphore>,
    counters: Arc<IdleCounters>,
    stats: Rc<RefCell<Stats>>,
    mut stop: watch::Receiver<bool>,
) {
    let opened = Rc::new(Cell::new(false));
    let run = async {
        let permit = gate.acquire_owned().await.expect("semaphore open");
        let started = Instant::now();
        let mut conn = Conn::connect(target.addr).await?;
        conn.send(&request).await?;
        let head = conn.read_head().await?;
        let mut sink = BodySink::default();
        if head.status != 200 {
            conn.read_body(&head, &mut sink).await?;
            return Ok(format!("status_{}", head.status));
        }
        let (on_stats, on_counters, on_opened) = (stats.clone(), counters.clone(), opened.clone());
        sink.on_first = Some(Box::new(move |at: Instant| {
            drop(permit);
            on_opened.set(true);
            on_counters.opened.fetch_add(1, Ordering::Relaxed);
            on_stats.borrow_mut().record_ttfc(at - started);
        }));
        conn.read_body(&head, &mut sink).await?;
        Ok::<_, HttpError>(if sink.first_at.is_some() {
            "ended_early".to_owned()
        } else {
            "empty_stream".to_owned()
        })
    };
    tokio::select! {
        result = run => {
            let kind = match result {
                Ok(kind) => kind,
                Err(e) => e.kind(),
            };
            if !opened.get() {
                counters.failed_unopened.fetch_add(1, Ordering::Relaxed);
            }
            stats.borrow_mut().error(kind);
        }
        _ = stop.wait_for(|s| *s) => {
            if opened.get() {
                counters.alive_at_stop.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

pub fn idle_streams(config: IdleConfig, watcher: &mut Watcher) -> IdleOutcome {
    let start = Instant::now();
    let gate = Arc::new(Semaphore::new(config.open_concurrency.max(1)));
    let counters = Arc::new(IdleCounters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let request = config.target.post_json(&config.body);
    let threads: Vec<_> = (0..config.threads)
        .map(|i| {
            let n = share(config.streams, config.threads, i);
            let (target, request) = (config.target.clone(), request.clone());
            let (gate, counters, stop_rx) = (gate.clone(), counters.clone(), stop_rx.clone());
            std::thread::spawn(move || {
                let target = Rc::new(target);
                let request = Rc::new(request);
                let stats = Rc::new(RefCell::new(Stats::default()));
                let local = tokio::task::LocalSet::new();
                for _ in 0..n {
                    local.spawn_local(idle_stream(
                        target.clone(),
                        request.clone(),
                        gate.clone(),
                        counters.clone(),
                        stats.clone(),
                        stop_rx.clone(),
                    ));
                }
                runtime().block_on(local);
                Rc::try_unwrap(stats).ok().expect("tasks done").into_inner()
            })
        })
        .collect();
    let open_deadline = start + config.open_timeout;
    let settled = || {
        counters.opened.load(Ordering::Relaxed) + counters.failed_unopened.load(Ordering::Relaxed)
    };
    while settled() < config.streams && Instant::now() < open_deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let open_time = start.elapsed();
    let opened = counters.opened.load(Ordering::Relaxed);
    watcher.mark_window_start();
    std::thread::sleep(config.hold);
    let _ = stop_tx.send(true);
    let mut stats = Stats::default();
    for t in threads {
        stats.merge(t.join().expect("driver thread"));
    }
    let alive_at_end = counters.alive_at_stop.load(Ordering::Relaxed);
    // Streams that never sent a first chunk: still connecting or waiting when the hold ended.
    let never_opened = config
        .streams
        .saturating_sub(counters.opened.load(Ordering::Relaxed))
        .saturating_sub(counters.failed_unopened.load(Ordering::Relaxed));
    if never_opened > 0 {
        *stats.errors.entry("open_timeout".into()).or_default() += never_opened as u64;
    }
    stats.ok = opened as u64;
    IdleOutcome {
        stats,
        opened,
        open_time,
        alive_at_end,
    }
}
