//! TURN through a real coturn: the credentials `convene` hands out open a relay allocation,
//! and credentials made with another secret do not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{ConveneProcess, free_port, http_client};

const SECRET: &str = "turn-secret-for-tests-0123456789";

/// coturn on loopback with the TURN REST scheme, as a child of the test.
struct Coturn {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Coturn {
    fn start() -> Self {
        let turnserver = "/usr/bin/turnserver";
        assert!(
            std::path::Path::new(turnserver).exists(),
            "coturn is not installed: apt-get install coturn (script/test does this as root)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let relay_low = 40_000 + (port % 2_000) * 10;
        let child = Command::new(turnserver)
            .args([
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                "--allow-loopback-peers",
                "--use-auth-secret",
                "--realm=convene.test",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--simple-log",
            ])
            .arg(format!("--listening-port={port}"))
            .arg(format!("--static-auth-secret={SECRET}"))
            .arg(format!("--min-port={relay_low}"))
            .arg(format!("--max-port={}", relay_low + 9))
            .arg(format!(
                "--log-file={}",
                dir.path().join("turn.log").display()
            ))
            .arg(format!(
                "--pidfile={}",
                dir.path().join("turn.pid").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver starts");
        // Ready in ~0.2 s; wait for the UDP listener by probing with the client below.
        std::thread::sleep(Duration::from_millis(400));
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// Allocates a relay and sends a few packets through it; true when it worked.
    fn allocate(&self, username: &str, password: &str) -> bool {
        let status = Command::new("timeout")
            .args(["20", "turnutils_uclient", "-y", "-n", "5", "-m", "1", "-p"])
            .arg(self.port.to_string())
            .args(["-u", username, "-w", password, "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("turnutils_uclient runs");
        status.success()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn handed_out_credentials_open_a_relay_on_a_real_coturn() {
    let coturn = Coturn::start();
    let turn_url = format!("turn:127.0.0.1:{}?transport=udp", coturn.port);
    let convene = ConveneProcess::start(
        "serve",
        &[
            ("CONVENE_TURN_URLS", turn_url.as_str()),
            (
                "CONVENE_STUN_URLS",
                &format!("stun:127.0.0.1:{}", coturn.port),
            ),
            ("CONVENE_TURN_SECRET", SECRET),
            ("CONVENE_TURN_CREDENTIAL_TTL_SECONDS", "600"),
        ],
    )
    .await;
    let http = http_client();
    let session: Value = http
        .post(convene.url("/api/v1/auth/register"))
        .json(&json!({"username": "alice", "password": "violet-otter-sings-42", "refresh_token_in_body": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["access_token"].as_str().unwrap();
    let user_id = session["user"]["id"].as_str().unwrap();

    let unauthenticated = http
        .get(convene.url("/api/v1/calls/ice-servers"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let servers: Value = http
        .get(convene.url("/api/v1/calls/ice-servers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let turn = servers["ice_servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|server| server["urls"][0].as_str().unwrap().starts_with("turn:"))
        .expect("a TURN server")
        .clone();
    assert_eq!(turn["urls"][0], turn_url);
    let username = turn["username"].as_str().unwrap();
    let credential = turn["credential"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, user_id);
    let expiry: i64 = expiry.parse().unwrap();
    let ttl = expiry - chrono::Utc::now().timestamp();
    assert!((590..=600).contains(&ttl), "ttl {ttl}");
    assert!(
        !servers.to_string().contains(SECRET),
        "the secret never leaves the server"
    );

    assert!(
        coturn.allocate(username, credential),
        "coturn accepts the handed-out credentials"
    );
    assert!(
        !coturn.allocate(username, "d3JvbmctcGFzc3dvcmQ="),
        "a wrong password is refused"
    );
    let forged = convene_gateway::turn::turn_password(b"another-secret-entirely", username);
    assert!(
        !coturn.allocate(username, &forged),
        "credentials from another secret are refused"
    );
    let expired_username = format!("{}:{user_id}", chrono::Utc::now().timestamp() - 60);
    let expired = convene_gateway::turn::turn_password(SECRET.as_bytes(), &expired_username);
    assert!(
        !coturn.allocate(&expired_username, &expired),
        "expired credentials are refused"
    );
}
