//! The behavioural suite against Postgres, one fresh database per test, on the server named
//! by `CONVENE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod suite;

suite::store_suite!(convene_store::testing::postgres);
