//! Resource use of the processes under test, read from `/proc`: resident memory (`VmRSS`, and the
//! kernel's own peak `VmHWM`) sampled on a thread while the load runs, and CPU time
//! (`utime + stime`) at the start and end of the measured window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Linux reports CPU times in clock ticks of `USER_HZ`, which is 100 on every architecture the
/// kernel ABI exposes to user space.
const TICKS_PER_SECOND: f64 = 100.0;
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Sample {
    pub rss_kb: u64,
    pub hwm_kb: u64,
    pub cpu_s: f64,
}

/// Reads `/proc/PID/status` and `/proc/PID/stat`; `None` once the process is gone.
pub fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (`state`);
    // utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let cpu_ticks = ticks(14)? + ticks(15)?;
    Some(Sample {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
        cpu_s: cpu_ticks as f64 / TICKS_PER_SECOND,
    })
}

/// What one watched process did during a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    pub pid: u32,
    pub rss_start_kb: u64,
    pub rss_peak_kb: u64,
    pub rss_end_kb: u64,
    /// The kernel's peak since the process started (covers spikes between samples).
    pub hwm_kb: u64,
    /// CPU seconds used inside the measured window.
    pub cpu_s: f64,
    /// `cpu_s` over the window: 1.0 is one core fully busy.
    pub cpu_cores: f64,
}

struct Shared {
    peaks: Mutex<Vec<u64>>,
    stop: AtomicBool,
}

/// Samples a set of named processes until [`Watcher::finish`].
pub struct Watcher {
    names: Vec<(String, u32)>,
    first: Vec<Sample>,
    window_start: Option<(Instant, Vec<Sample>)>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts sampling `targets` (name, pid); the driver itself is always watched as `loadgen`.
    pub fn start(mut targets: Vec<(String, u32)>) -> Self {
        targets.push(("loadgen".into(), std::process::id()));
        let first: Vec<Sample> = targets
            .iter()
            .map(|(_, pid)| sample(*pid).unwrap_or_default())
            .collect();
        let shared = Arc::new(Shared {
            peaks: Mutex::new(first.iter().map(|s| s.rss_kb).collect()),
            stop: AtomicBool::new(false),
        });
        let pids: Vec<u32> = targets.iter().map(|(_, p)| *p).collect();
        let thread_shared = shared.clone();
        let thread = std::thread::spawn(move || {
            while !thread_shared.stop.load(Ordering::Relaxed) {
                std::thread::sleep(SAMPLE_EVERY);
                let rss: Vec<u64> = pids
                    .iter()
                    .map(|p| sample(*p).map_or(0, |s| s.rss_kb))
                    .collect();
                let mut peaks = thread_shared.peaks.lock().unwrap();
                for (peak, now) in peaks.iter_mut().zip(rss) {
                    *peak = (*peak).max(now);
                }
            }
        });
        Self {
            names: targets,
            first,
            window_start: None,
            shared,
            thread: Some(thread),
        }
    }

    /// The measured window begins now (after warm-up): CPU is counted from here.
    pub fn mark_window_start(&mut self) {
        let now: Vec<Sample> = self
            .names
            .iter()
            .map(|(_, pid)| sample(*pid).unwrap_or_default())
            .collect();
        self.window_start = Some((Instant::now(), now));
    }

    /// Stops sampling; the window ends now.
    pub fn finish(mut self) -> Vec<(String, Usage)> {
        let end = Instant::now();
        let last: Vec<Sample> = self
            .names
            .iter()
            .map(|(_, pid)| sample(*pid).unwrap_or_default())
            .collect();
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let peaks = self.shared.peaks.lock().unwrap().clone();
        let (start_at, start) = self
            .window_start
            .take()
            .unwrap_or_else(|| (end, self.first.clone()));
        let window = end.duration_since(start_at).as_secs_f64();
        self.names
            .iter()
            .enumerate()
            .map(|(i, (name, pid))| {
                let cpu_s = ((last[i].cpu_s - start[i].cpu_s) * 100.0).round() / 100.0;
                let usage = Usage {
                    pid: *pid,
                    rss_start_kb: start[i].rss_kb,
                    rss_peak_kb: peaks[i].max(last[i].rss_kb),
                    rss_end_kb: last[i].rss_kb,
                    hwm_kb: last[i].hwm_kb,
                    cpu_s,
                    cpu_cores: if window > 0.0 {
                        (cpu_s / window * 100.0).round() / 100.0
                    } else {
                        0.0
                    },
                };
                (name.clone(), usage)
            })
            .collect()
    }
}
