//! Hostile clients against the reference servers (SPEC §6, issue 13): the built example
//! binaries on port 0, raw TCP over loopback. A client too slow with its request head or
//! body is disconnected within `TCX_HEADER_READ_TIMEOUT` / `TCX_BODY_READ_TIMEOUT`, idle and
//! slow connections do not delay a normal sign-in, connections above `TCX_MAX_CONNECTIONS`
//! wait in the backlog and are then served, and bad values stop the server with exit 2.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SERVERS: [&str; 2] = ["axum", "hyper"];

/// Server `name` with the test keys and secret, the memory store, plus `extra` variables.
fn start(name: &str, dir: &std::path::Path, extra: &[(&str, &str)]) -> Server {
    let keys = format!("acme:{KEY},other:{OTHER_KEY}");
    let secret = std::str::from_utf8(SECRET).unwrap();
    let mut env = vec![
        ("TCX_API_KEYS", keys.as_str()),
        ("TCX_JWT_SECRET", secret),
        ("TCX_DATABASE_URL", "memory:"),
    ];
    env.extend_from_slice(extra);
    Server::start(name, &env, dir)
}

/// The head of the guide's request (valid key and headers) announcing `content_length`.
fn guide_head(addr: SocketAddr, content_length: usize) -> String {
    format!(
        "POST /user/api/auth/external HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    )
}

/// A connection that has sent `bytes`.
async fn connect_and_send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// Reads until the server closes the connection (EOF or reset); returns how long that took
/// and what the server sent before. Panics if it is still open after `limit`.
async fn read_until_closed(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    limit: Duration,
) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "connection still open after {limit:?}; received {:?}",
        String::from_utf8_lossy(&received)
    );
    (started.elapsed(), received)
}

/// The guide's sign-in over a fresh connection: asserts 200 and returns how long it took.
async fn timed_sign_in(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let answer = http_external(addr, KEY, GUIDE_BODY).await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.text());
    elapsed
}

/// Reads one answer (head and `Content-Length` body) from a kept-alive connection; returns
/// its status line.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
            .await
            .expect("an answer within 3 s")
            .unwrap();
        assert!(n > 0, "closed before a whole answer: {received:?}");
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .expect("a content-length")
            .parse()
            .unwrap();
        if received.len() >= end + 4 + length {
            assert_eq!(received.len(), end + 4 + length, "one answer at a time");
            return text.lines().next().unwrap().to_owned();
        }
    }
}

#[tokio::test]
async fn a_dribbled_body_is_cut_off_within_the_body_timeout() {
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        let server = start(name, dir.path(), &[("TCX_BODY_READ_TIMEOUT", "2")]);
        let stream =
            connect_and_send(server.addr, guide_head(server.addr, 16_384).as_bytes()).await;
        let (reader, mut writer) = stream.into_split();
        // One byte a second: the whole body would take 16,384 s.
        let dribble = tokio::spawn(async move {
            for _ in 0..16_384 {
                if writer.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let (elapsed, received) = read_until_closed(reader, Duration::from_secs(6)).await;
        dribble.abort();
        eprintln!("{name}: dribbled body cut off after {elapsed:?}");
        assert!(
            elapsed >= Duration::from_millis(1500) && elapsed <= Duration::from_secs(4),
            "{name}: cut off after {elapsed:?}, expected about 2 s"
        );
        // Cut off without an answer: the request was never whole.
        assert!(
            received.is_empty(),
            "{name} answered: {:?}",
            String::from_utf8_lossy(&received)
        );
        // The server itself is fine.
        timed_sign_in(server.addr).await;
    }
}

#[tokio::test]
async fn a_body_that_arrives_in_time_is_served() {
    // The body timeout counts the whole body, not each read: a body sent in a few pieces
    // within it is answered as usual. And the header timeout counts time without a request:
    // this body takes longer than it, and is answered all the same.
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        let server = start(
            name,
            dir.path(),
            &[
                ("TCX_HEADER_READ_TIMEOUT", "1"),
                ("TCX_BODY_READ_TIMEOUT", "5"),
            ],
        );
        let mut stream = connect_and_send(
            server.addr,
            guide_head(server.addr, GUIDE_BODY.len()).as_bytes(),
        )
        .await;
        let (first, rest) = GUIDE_BODY.split_at(GUIDE_BODY.len() / 2);
        for piece in [first, rest] {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            stream.write_all(piece.as_bytes()).await.unwrap();
        }
        let status = read_answer(&mut stream).await;
        assert_eq!(status, "HTTP/1.1 200 OK", "{name}");
    }
}

#[tokio::test]
async fn a_stalled_request_head_is_cut_off_within_the_header_timeout() {
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        let server = start(name, dir.path(), &[("TCX_HEADER_READ_TIMEOUT", "2")]);
        let head = guide_head(server.addr, GUIDE_BODY.len());
        let half = &head.as_bytes()[..head.len() / 2];
        let stalled = connect_and_send(server.addr, half).await;
        // And one that never sends a byte.
        let silent = TcpStream::connect(server.addr).await.unwrap();
        let (stalled, silent) = tokio::join!(
            read_until_closed(stalled, Duration::from_secs(6)),
            read_until_closed(silent, Duration::from_secs(6)),
        );
        for (what, (elapsed, received)) in [("half a head", stalled), ("nothing", silent)] {
            eprintln!("{name}: client that sent {what} cut off after {elapsed:?}");
            assert!(
                elapsed >= Duration::from_millis(1500) && elapsed <= Duration::from_secs(4),
                "{name}: {what}: cut off after {elapsed:?}, expected about 2 s"
            );
            assert!(received.is_empty(), "{name}: {what}: {received:?}");
        }
        timed_sign_in(server.addr).await;
    }
}

#[tokio::test]
async fn a_kept_alive_connection_lives_while_it_asks_and_closes_when_idle() {
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        let server = start(name, dir.path(), &[("TCX_HEADER_READ_TIMEOUT", "2")]);
        let request = format!("{}{GUIDE_BODY}", guide_head(server.addr, GUIDE_BODY.len()));
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // A request every 1.2 s for 6 s: past the timeout in all, never within one.
        for _ in 0..5 {
            stream.write_all(request.as_bytes()).await.unwrap();
            let status = read_answer(&mut stream).await;
            assert_eq!(status, "HTTP/1.1 200 OK", "{name}");
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
        // Then nothing: closed between the timeout and a quarter more after the last answer
        // (1.2 s of which have passed).
        let (elapsed, received) = read_until_closed(stream, Duration::from_secs(6)).await;
        let since_answer = elapsed + Duration::from_millis(1200);
        eprintln!("{name}: idle kept-alive connection closed {since_answer:?} after its answer");
        assert!(
            since_answer >= Duration::from_millis(1900) && since_answer <= Duration::from_secs(4),
            "{name}: closed {since_answer:?} after the answer, expected 2-2.5 s"
        );
        assert!(received.is_empty(), "{name}: {received:?}");
    }
}

#[tokio::test]
async fn a_sign_in_answers_within_a_second_beside_500_idle_and_slow_connections() {
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        // TCX_MAX_CONNECTIONS left at its default (1024).
        let server = start(name, dir.path(), &[]);
        let head = guide_head(server.addr, 16_384);
        let mut hostile = Vec::new();
        for i in 0..500 {
            // Idle, half a head, or a whole head and part of the body.
            let bytes = match i % 3 {
                0 => Vec::new(),
                1 => head.as_bytes()[..head.len() / 2].to_vec(),
                _ => [head.as_bytes(), b"{\"id\":"].concat(),
            };
            hostile.push(connect_and_send(server.addr, &bytes).await);
        }
        // Let the server take them all in before the normal client comes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let elapsed = timed_sign_in(server.addr).await;
        eprintln!("{name}: sign-in beside 500 hostile connections took {elapsed:?}");
        assert!(
            elapsed < Duration::from_secs(1),
            "{name}: sign-in took {elapsed:?}"
        );
        // The hostile connections were still open: they were not simply dropped.
        let mut probe = [0u8; 1];
        let still_open = hostile[1].try_read(&mut probe);
        assert!(
            matches!(still_open, Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{name}: {still_open:?}"
        );
        drop(hostile);
    }
}

#[tokio::test]
async fn above_the_connection_cap_a_client_waits_in_the_backlog_and_is_served() {
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        let server = start(
            name,
            dir.path(),
            &[
                ("TCX_MAX_CONNECTIONS", "4"),
                ("TCX_HEADER_READ_TIMEOUT", "2"),
            ],
        );
        let idle: Vec<TcpStream> = {
            let mut idle = Vec::new();
            for _ in 0..4 {
                idle.push(TcpStream::connect(server.addr).await.unwrap());
            }
            idle
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The fifth connection is not refused: it waits until the header timeout frees a slot.
        let elapsed = timed_sign_in(server.addr).await;
        eprintln!("{name}: sign-in above a full cap of 4 idle connections took {elapsed:?}");
        assert!(
            elapsed >= Duration::from_millis(1000) && elapsed <= Duration::from_secs(4),
            "{name}: sign-in took {elapsed:?}, expected about 2 s (the idle ones' timeout)"
        );
        // With the slots free again, the next one is immediate.
        let elapsed = timed_sign_in(server.addr).await;
        assert!(elapsed < Duration::from_secs(1), "{name}: {elapsed:?}");
        drop(idle);
    }
}

#[tokio::test]
async fn sigterm_with_hostile_connections_open_exits_0_promptly() {
    for name in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        // A request in flight holds the shutdown until it ends, and a client still sending its
        // head or body counts as one: the timeouts bound that wait (with the defaults, 10 s,
        // the 9 s grace period ends it first).
        let server = start(
            name,
            dir.path(),
            &[
                ("TCX_BODY_READ_TIMEOUT", "2"),
                ("TCX_HEADER_READ_TIMEOUT", "2"),
            ],
        );
        let head = guide_head(server.addr, 16_384);
        let _half_head = connect_and_send(server.addr, &head.as_bytes()[..20]).await;
        let _idle = TcpStream::connect(server.addr).await.unwrap();
        let _part_body = connect_and_send(server.addr, format!("{head}{{").as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let status = server.terminate();
        let elapsed = started.elapsed();
        eprintln!("{name}: exited {status} {elapsed:?} after SIGTERM");
        assert!(status.success(), "{name}: {status}");
        assert!(elapsed < Duration::from_secs(4), "{name}: {elapsed:?}");
    }
}

#[test]
fn bad_server_limits_stop_the_server_with_exit_2_naming_the_variable() {
    let cases = [
        ("TCX_HEADER_READ_TIMEOUT", "abc"),
        ("TCX_HEADER_READ_TIMEOUT", "0"),
        ("TCX_BODY_READ_TIMEOUT", "-1"),
        ("TCX_BODY_READ_TIMEOUT", "3601"),
        ("TCX_MAX_CONNECTIONS", "0"),
        ("TCX_MAX_CONNECTIONS", "many"),
        ("TCX_MAX_CONNECTIONS", "1.5"),
    ];
    for name in SERVERS {
        for (var, value) in cases {
            let dir = tempfile::tempdir().unwrap();
            let output = std::process::Command::new(example_binary(name))
                .current_dir(dir.path())
                .env_remove("RUST_LOG")
                .env("TCX_LISTEN", "127.0.0.1:0")
                .env("TCX_DATABASE_URL", "memory:")
                .env(var, value)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{name} {var}={value}: {stderr}"
            );
            assert!(stderr.contains(var), "{name} {var}={value}: {stderr}");
            assert!(
                !String::from_utf8_lossy(&output.stdout).contains("listening on"),
                "{name} {var}={value}"
            );
        }
    }
}
