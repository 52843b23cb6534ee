//! Start-up time: spawn the server and poll a health URL as fast as the kernel answers (a refused
//! connect costs microseconds), until it serves `200`. The clock starts just before `spawn`, so
//! exec, runtime and database set-up, migrations and binding are all counted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::Target;

const POLL_PAUSE: Duration = Duration::from_micros(200);

/// Milliseconds from spawn to the first `200` from `health`; the child is killed afterwards.
pub fn measure(health: &Target, command: &[String], timeout: Duration) -> Result<f64, String> {
    let (program, args) = command.split_first().ok_or("no command to start")?;
    let request = health.get();
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let result = loop {
        if started.elapsed() > timeout {
            break Err(format!("no 200 from {} within {timeout:?}", health.path));
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("{program} exited during start-up: {status}"));
        }
        if probe(health, &request) {
            break Ok(started.elapsed().as_secs_f64() * 1000.0);
        }
        std::thread::sleep(POLL_PAUSE);
    };
    let _ = child.kill();
    let _ = child.wait();
    result.map(|ms| (ms * 1000.0).round() / 1000.0)
}

/// One blocking health request; true on a `200`.
fn probe(target: &Target, request: &[u8]) -> bool {
    let Ok(mut s) = TcpStream::connect(target.addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(request).is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match s.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    head[..got].starts_with(b"HTTP/1.1 200") || head[..got].starts_with(b"HTTP/1.0 200")
}
