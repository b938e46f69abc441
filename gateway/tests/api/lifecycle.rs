//! The gateway binary's lifecycle: a bad setting stops it at start; SIGTERM stops it taking
//! connections but lets the request in flight finish, then it exits cleanly.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};

use crate::helpers::TestApp;
use swatter_testkit::free_port;

/// How long a stopping process may take (Kubernetes' default grace period).
const GRACE: Duration = Duration::from_secs(30);

/// Kills the child if the test fails half-way.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads until the end of a response head.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(GRACE, stream.read(&mut byte))
            .await
            .expect("the gateway answers in time")
            .expect("read from the gateway");
        assert_eq!(n, 1, "the gateway closed the connection: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("an ASCII head")
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_refuses_new_connections_and_exits_cleanly() {
    let app = TestApp::spawn().await;
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_swatter-gateway"))
        .env("SWATTER_GATEWAY_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "SWATTER_IDENTITY_URL",
            format!("http://{}", app.identity_addr),
        )
        .env("SWATTER_ISSUES_URL", format!("http://{}", app.issues_addr))
        .env(
            "SWATTER_REPORTING_URL",
            format!("http://{}", app.issues_addr),
        )
        .env("SWATTER_METRICS_ADDR", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the gateway binary");
    let mut gateway = Process(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + GRACE;
    loop {
        if let Ok(response) = app.client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(
            gateway.0.try_wait().unwrap().is_none(),
            "the gateway exited at start"
        );
        assert!(Instant::now() < deadline, "the gateway never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A sign-up whose head is sent but whose body is held back: the gateway has the request in
    // hand once it asks for the body (100 Continue).
    let body = json!({
        "username": "late-riser",
        "email": "late-riser@example.com",
        "password": "late-riser-password",
        "full_name": "Late Riser",
    })
    .to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/users HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let interim = read_head(&mut stream).await;
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");

    // SAFETY: kill(2) on our own child's pid.
    let signalled = unsafe { libc::kill(gateway.0.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(signalled, 0, "send SIGTERM");

    // New connections are refused once the signal is handled...
    let deadline = Instant::now() + GRACE;
    while TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the gateway still accepts connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...while the process waits for the request in flight.
    assert!(
        gateway.0.try_wait().unwrap().is_none(),
        "the gateway exited with a request in flight"
    );

    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(GRACE, stream.read_to_end(&mut answer))
        .await
        .expect("the answer comes in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("\"username\":\"late-riser\""), "{answer}");

    let deadline = Instant::now() + GRACE;
    let status = loop {
        if let Some(status) = gateway.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the gateway did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "the gateway exited with {status}");

    // The sign-up really happened.
    let tokens = app.login("late-riser", "late-riser-password").await;
    assert_eq!(tokens.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn a_malformed_metrics_address_stops_the_binary_at_start_naming_the_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_swatter-gateway"))
        .env("SWATTER_METRICS_ADDR", "everywhere")
        .env("SWATTER_GATEWAY_ADDR", "127.0.0.1:0")
        .output()
        .expect("run the gateway binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SWATTER_METRICS_ADDR=\"everywhere\" is malformed"),
        "{stderr}"
    );
}
