//! The `convene-operator` binary: configuration refused before anything binds, the `crd`
//! command, health endpoints that do not depend on Kubernetes or Redis, and SIGTERM.

#![allow(clippy::unwrap_used)] // helpers of a test: a panic is the failure report

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_convene-operator");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap()
}

fn operator_command() -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[test]
fn crd_prints_the_generated_crd() {
    let output = operator_command().arg("crd").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        convene_operator::crd::crd_yaml().unwrap()
    );
}

#[test]
fn a_bad_configuration_exits_2_naming_the_setting() {
    let output = operator_command()
        .env("POD_NAMESPACE", "convene")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("CONVENE_REDIS_URL"), "{stderr}");

    let output = operator_command()
        .env("POD_NAMESPACE", "convene")
        .env("CONVENE_REDIS_URL", "redis://127.0.0.1:6379")
        .env("CONVENE_OPERATOR_HTTP_ADDR", "nowhere")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("CONVENE_OPERATOR_HTTP_ADDR")
    );

    let output = operator_command()
        .arg("reconcile-everything")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    Some((status, response))
}

/// Kubernetes and Redis both unreachable (closed ports): the operator still starts, is
/// alive, says it is not ready, does not lead, and stops cleanly on SIGTERM.
#[test]
fn health_does_not_depend_on_kubernetes_or_redis_and_sigterm_stops_it() {
    let directory = tempfile::tempdir().unwrap();
    let kubeconfig = directory.path().join("kubeconfig");
    let apiserver_port = free_port();
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster: {{server: 'http://127.0.0.1:{apiserver_port}'}}\nusers:\n- name: none\n  user: {{token: none}}\ncontexts:\n- name: none\n  context: {{cluster: none, user: none, namespace: convene}}\ncurrent-context: none\n"
        ),
    )
    .unwrap();
    let http_port = free_port();
    let redis_port = free_port();
    let mut child = operator_command()
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", directory.path())
        .env("POD_NAMESPACE", "convene")
        .env("POD_NAME", "convene-operator-test")
        .env(
            "CONVENE_REDIS_URL",
            format!("redis://127.0.0.1:{redis_port}"),
        )
        .env(
            "CONVENE_OPERATOR_HTTP_ADDR",
            format!("127.0.0.1:{http_port}"),
        )
        .env("CONVENE_OPERATOR_SHUTDOWN_SECONDS", "3")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let healthz = loop {
        if let Some(response) = http_get(http_port, "/healthz") {
            break response;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never served /healthz"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(healthz.0, 200);
    let readyz = http_get(http_port, "/readyz").unwrap();
    assert_eq!(readyz.0, 503, "{}", readyz.1);
    let metrics = http_get(http_port, "/metrics").unwrap();
    assert_eq!(metrics.0, 200);
    assert!(
        metrics.1.contains("convene_operator_leader 0"),
        "{}",
        metrics.1
    );

    let stopping = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if stopping.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            panic!("did not stop within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {logs}");
    // JSON logs, one object per line.
    let messages: Vec<String> = logs
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["message"].to_string())
        .collect();
    assert!(
        messages
            .iter()
            .any(|message| message.contains("shutting down")),
        "{logs}"
    );
}
