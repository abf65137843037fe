//! Does reading the journal hold up other requests? `/versions` latency measured
//! while another client reads the full journal (in pages, or all at once), and
//! without it. The reader runs on its own thread and does not parse what it reads,
//! so the latencies are the server's, not this process's.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latencies of sequential `/versions` requests, in milliseconds.
pub struct Latencies {
    /// Requests made.
    pub count: usize,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// Journal reads (pages, or whole journals) completed meanwhile.
    pub reads: usize,
}

/// How the other client reads the journal.
#[derive(Debug, Clone, Copy)]
pub enum Reader {
    /// Nobody reads it.
    None,
    /// Pages of this many entries, from the start to the end, again and again.
    Pages(usize),
    /// The whole journal in one answer, again and again.
    Whole,
}

/// One HTTP/1.1 GET on a fresh connection, read to its end and thrown away but for
/// its last 200 bytes (where the journal's trailer is), so that this thread takes
/// little of the CPU the latencies are measured on.
fn get(addr: &str, path: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n")?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(tail);
        }
        tail.extend_from_slice(&buf[n.saturating_sub(200)..n]);
        let excess = tail.len().saturating_sub(200);
        tail.drain(..excess);
    }
}

/// `"name":N` in a JSON text, without parsing the rest.
fn number_after(text: &[u8], name: &str) -> Option<u64> {
    let key = format!("\"{name}\":");
    let at = text.windows(key.len()).rposition(|w| w == key.as_bytes())? + key.len();
    let digits: String = text[at..].iter().take_while(|b| b.is_ascii_digit()).map(|b| *b as char).collect();
    digits.parse().ok()
}

/// `/versions` one at a time on a keep-alive connection for `duration`, while the
/// reader reads the journal.
pub fn versions_latency(base: &str, duration: Duration, reader: Reader) -> Result<Latencies, String> {
    let addr = base.trim_start_matches("http://").to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0usize;
            while !stop.load(Ordering::Relaxed) {
                match reader {
                    Reader::None => return reads,
                    Reader::Whole => {
                        if get(&addr, "/_harness/journal").is_err() {
                            return reads;
                        }
                        reads += 1;
                    }
                    Reader::Pages(size) => {
                        let mut since = 0;
                        loop {
                            let Ok(body) =
                                get(&addr, &format!("/_harness/journal?since={since}&limit={size}"))
                            else {
                                return reads;
                            };
                            reads += 1;
                            since = number_after(&body, "next_since").unwrap_or(since);
                            let more = body.windows(11).any(|w| w == b"\"more\":true");
                            if !more || stop.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                    }
                }
            }
            reads
        })
    };
    let mut stream = TcpStream::connect(&addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let request = format!("GET /_matrix/client/versions HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    let mut latencies = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let started = Instant::now();
        stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        // One answer: headers, then exactly content-length bytes.
        let mut got = Vec::new();
        loop {
            let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the probe's connection".into());
            }
            got.extend_from_slice(&buf[..n]);
            if let Some(head_end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if got.len() >= head_end + 4 + length {
                    break;
                }
            }
        }
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    stop.store(true, Ordering::Relaxed);
    let reads = thread.join().map_err(|_| "the journal reader panicked".to_owned())?;
    latencies.sort_by(|a, b| a.total_cmp(b));
    let p99 = latencies.get(latencies.len() * 99 / 100).copied().unwrap_or(0.0);
    Ok(Latencies {
        count: latencies.len(),
        p99_ms: p99,
        max_ms: latencies.last().copied().unwrap_or(0.0),
        reads,
    })
}
