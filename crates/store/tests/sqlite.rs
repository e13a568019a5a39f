//! The behavioural suite against SQLite, one temporary database file per test.

mod suite;

suite::store_suite!(convene_store::testing::sqlite);
