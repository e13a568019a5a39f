//! Fresh, migrated, throwaway databases for tests (feature `testing`): this crate's
//! behavioural suite and other crates' tests that need a real store.
//!
//! Postgres is never skipped: when it cannot be reached the helper panics and names
//! `CONVENE_TEST_POSTGRES_URL`, because a silently skipped backend is an untested one.
#![allow(clippy::expect_used)] // Test scaffolding: a failure here is the test's failure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

use crate::{PostgresStore, SqliteStore, Store};

/// Where the Postgres server for tests listens; its database is only used to create and drop
/// per-test databases.
pub const POSTGRES_URL_VAR: &str = "CONVENE_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A migrated database that exists for one test. Call [`TestDatabase::cleanup`] at the end;
/// a test that panics before it leaks a Postgres database named `convene_test_…`.
pub struct TestDatabase {
    pub store: Arc<dyn Store>,
    /// How a binary under test reaches the same database: `sqlite://<path>` or the fresh
    /// database's `postgres://…/convene_test_…` URL.
    pub url: String,
    /// The SQLite file; `None` for Postgres.
    pub path: Option<PathBuf>,
    backend: Backend,
}

enum Backend {
    Sqlite {
        store: SqliteStore,
        /// Removed on drop, taking the database file with it.
        _dir: TempDir,
    },
    Postgres {
        store: PostgresStore,
        admin_url: String,
        name: String,
    },
}

/// A SQLite file in a fresh temporary directory, migrated.
pub async fn sqlite() -> TestDatabase {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("convene.db");
    let store = SqliteStore::connect(&path)
        .await
        .expect("open the SQLite test database");
    store
        .migrate()
        .await
        .expect("migrate the SQLite test database");
    TestDatabase {
        store: Arc::new(store.clone()),
        url: format!("sqlite://{}", path.display()),
        path: Some(path),
        backend: Backend::Sqlite { store, _dir: dir },
    }
}

/// A new database `convene_test_<uuid>` on the server at `$CONVENE_TEST_POSTGRES_URL`
/// (default `postgres://postgres@127.0.0.1:5432/postgres`), migrated.
pub async fn postgres() -> TestDatabase {
    let admin_url =
        std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let name = format!("convene_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = admin_connection(&admin_url).await;
    // The name is ours (a UUID), so formatting it into the statement is safe.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create the Postgres test database");
    // Best effort: the database exists either way.
    let _ = admin.close().await;

    let url = with_database(&admin_url, &name);
    let store = PostgresStore::connect(&url, 10, Duration::from_secs(10))
        .await
        .expect("configure the Postgres test pool");
    store
        .migrate()
        .await
        .expect("migrate the Postgres test database");
    TestDatabase {
        store: Arc::new(store.clone()),
        url,
        path: None,
        backend: Backend::Postgres {
            store,
            admin_url,
            name,
        },
    }
}

impl TestDatabase {
    /// Closes the pool and deletes the database (the SQLite directory, or
    /// `DROP DATABASE … WITH (FORCE)`, which also ends connections a test left open).
    pub async fn cleanup(self) {
        match self.backend {
            Backend::Sqlite { store, _dir } => store.close().await,
            Backend::Postgres {
                store,
                admin_url,
                name,
            } => {
                store.close().await;
                let mut admin = admin_connection(&admin_url).await;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .expect("drop the Postgres test database");
                let _ = admin.close().await;
            }
        }
    }
}

async fn admin_connection(admin_url: &str) -> PgConnection {
    match PgConnection::connect(admin_url).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "cannot reach the Postgres server for tests at {admin_url} ({error}); \
             start one or point {POSTGRES_URL_VAR} at one"
        ),
    }
}

/// `admin_url` with its database (the path) replaced by `database`, query string kept.
fn with_database(admin_url: &str, database: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let server = match base[authority_start..].find('/') {
        Some(index) => &base[..authority_start + index],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_the_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t"),
            "postgres://postgres@127.0.0.1:5432/t"
        );
        assert_eq!(with_database("postgres://h", "t"), "postgres://h/t");
        assert_eq!(
            with_database("postgres://h:1/db?sslmode=disable", "t"),
            "postgres://h:1/t?sslmode=disable"
        );
    }
}
