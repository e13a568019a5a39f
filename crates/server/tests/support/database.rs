//! A fresh, empty database of its own for one test on the machine's PostgreSQL server
//! (127.0.0.1:5432, trust authentication; see /work/shared/TESTING.md), created and dropped
//! with `psql`. For tests that share one database between several processes but do not stop
//! Postgres itself (those use [`super::ThrowawayPostgres`]).

use std::process::{Command, Output, Stdio};

/// The maintenance database of the machine's server; `CONVENE_TEST_POSTGRES_URL` overrides
/// it (any database on the server, connected to as a role allowed to create databases).
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("CONVENE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

fn psql(admin_url: &str, sql: &str) -> Output {
    Command::new("psql")
        .arg(admin_url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("run psql ({error}): install `postgresql-client`"))
}

/// `convene_test_<uuid>` on the machine's server; dropped (connections terminated) on drop.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    pub fn create() -> Self {
        let admin_url = admin_url();
        let name = format!("convene_test_{}", uuid::Uuid::new_v4().simple());
        let output = psql(&admin_url, &format!("CREATE DATABASE \"{name}\""));
        assert!(
            output.status.success(),
            "creating the database {name} on {admin_url} failed ({}): {}\n\
             (the tests need PostgreSQL on 127.0.0.1:5432 with trust authentication, or \
             CONVENE_TEST_POSTGRES_URL)",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("the admin URL names a database");
        let url = format!("{base}/{name}");
        TestDatabase {
            admin_url,
            name,
            url,
        }
    }

    /// `postgres://…/convene_test_<uuid>`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let output = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
        if !output.status.success() {
            eprintln!(
                "dropping the test database {} failed: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
