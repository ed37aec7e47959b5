//! Inbound limits of the real binary on 127.0.0.1: slow headers (slowloris), slow bodies, idle
//! keep-alive connections and more connections than the cap. Slow and idle clients are closed,
//! and health checks of other clients keep being answered within a second. Bounded in count
//! and time.

mod common;

use std::time::{Duration, Instant};

use test_support::server::OmpsServer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const BINARY: &str = env!("CARGO_BIN_EXE_omps-server");

fn server(max_connections: usize, min_body_rate: u64) -> OmpsServer {
    OmpsServer::builder(BINARY)
        .env("OMPS_HEADER_READ_TIMEOUT", "2")
        .env("OMPS_KEEP_ALIVE_TIMEOUT", "3")
        .env("OMPS_MIN_BODY_RATE", min_body_rate.to_string())
        .env("OMPS_BODY_RATE_GRACE", "2")
        .env("OMPS_MAX_CONNECTIONS", max_connections.to_string())
        .env("OMPS_LOG", "error")
        .start()
}

/// How long `GET /v1/health/ping` takes on a fresh connection, with its status.
async fn health(addr: &str) -> (Duration, u16) {
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /v1/health/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse::<u16>().ok()
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(0);
    (started.elapsed(), status)
}

/// Waits until the server closes `stream` (EOF or reset); the time it took, or `None` when it
/// stays open past `within`. Whatever the server answers first is read and discarded.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn slow_and_idle_clients_are_closed_while_health_answers() {
    let server = server(256, 1000);
    let addr = server.addr().to_owned();
    let started = Instant::now();

    // 50 slowloris connections: one header byte every 500 ms, forever.
    let mut slowloris = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /v2/o/zipfile HTTP/1.1\r\n")
            .await
            .unwrap();
        slowloris.push(s);
    }
    let dribble = tokio::spawn({
        let addr = addr.clone();
        async move {
            // The dribblers write on their own connections; a closed one ends its loop.
            let mut tasks = Vec::new();
            for mut s in slowloris {
                tasks.push(tokio::spawn(async move {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while Instant::now() < deadline {
                        if s.write_all(b"X").await.is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    closed_within(&mut s, Duration::from_millis(100))
                        .await
                        .is_some()
                        || Instant::now() < deadline
                }));
            }
            let _ = addr;
            let mut closed = 0;
            for t in tasks {
                if t.await.unwrap() {
                    closed += 1;
                }
            }
            closed
        }
    });

    // 20 bodies at 10 B/s against a minimum of 1000 B/s.
    let mut slow_bodies = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            format!(
                "POST /v2/slow{i}/zipfile HTTP/1.1\r\nHost: x\r\nAuthorization: basic x\r\n\
                 Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n\
                 --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.zip\"\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        slow_bodies.push(s);
    }
    let bodies = tokio::spawn(async move {
        let mut answers = Vec::new();
        for mut s in slow_bodies {
            answers.push(tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    if s.write_all(&[b'z'; 10]).await.is_err() {
                        break;
                    }
                    if let Some(seen) = closed_within(&mut s, Duration::from_secs(1)).await {
                        return String::from_utf8_lossy(&seen).into_owned();
                    }
                }
                closed_within(&mut s, Duration::from_secs(5))
                    .await
                    .map_or_else(
                        || "still open".to_owned(),
                        |seen| String::from_utf8_lossy(&seen).into_owned(),
                    )
            }));
        }
        let mut out = Vec::new();
        for a in answers {
            out.push(a.await.unwrap());
        }
        out
    });

    // 300 idle connections: above the cap of 256 with everything else.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }

    // Health from other clients, every 200 ms for 8 s.
    let mut slowest = Duration::ZERO;
    let mut statuses = Vec::new();
    while started.elapsed() < Duration::from_secs(8) {
        let (took, status) = health(&addr).await;
        slowest = slowest.max(took);
        statuses.push(status);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(statuses.iter().all(|s| *s == 200), "health: {statuses:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "health took {slowest:?} under attack"
    );

    // Every idle connection is closed (evicted or timed out).
    let checks: Vec<_> = idle
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                closed_within(&mut s, Duration::from_secs(5))
                    .await
                    .is_none()
            })
        })
        .collect();
    let mut still_open = 0;
    for c in checks {
        if c.await.unwrap() {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "idle connections left open");
    let closed = dribble.await.unwrap();
    assert_eq!(closed, 50, "slowloris connections closed");
    let answers = bodies.await.unwrap();
    for answer in &answers {
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "a slow body gets 408 or is closed: {answer:?}"
        );
    }
    assert!(
        answers.iter().any(|a| a.contains("OMPSRequestTimeout")),
        "{answers:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "bounded");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_answers_503_and_idle_keep_alive_is_closed() {
    // Two connections at most, each busy with an upload that arrives just fast enough.
    let server = server(2, 1);
    let addr = server.addr().to_owned();
    let mut busy = Vec::new();
    for i in 0..2 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            format!(
                "POST /v2/busy{i}/zipfile HTTP/1.1\r\nHost: x\r\nAuthorization: basic x\r\n\
                 Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut third = TcpStream::connect(&addr).await.unwrap();
    third
        .write_all(b"GET /v1/health/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_within(&mut third, Duration::from_secs(5))
        .await
        .expect("the server closes the refused connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("\"OMPSServerBusy\""), "{answer}");
    drop(busy);

    // Once they are gone, a keep-alive client is served and then closed when idle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut client = TcpStream::connect(&addr).await.unwrap();
    client
        .write_all(b"GET /v1/health/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let seen = closed_within(&mut client, Duration::from_secs(10))
        .await
        .expect("the idle keep-alive connection is closed");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    let idle_for = started.elapsed();
    assert!(
        idle_for >= Duration::from_secs(1),
        "kept alive for a while first: {idle_for:?}"
    );
}
