/// Errors of the store. Callers map them to client-facing codes; the cause stays in
/// `#[source]` for logs and is never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached (connection refused, pool timed out, I/O).
    /// The gateway answers 503 `store_unavailable`, and `/readyz` fails.
    #[error("store unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("username already taken")]
    UsernameTaken,
    #[error("record not found")]
    NotFound,
    #[error("meeting code already taken")]
    MeetingCodeTaken,
    #[error("the message belongs to someone else")]
    NotSender,
    #[error("the message was deleted")]
    MessageDeleted,
    #[error("applying migrations failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("store query failed")]
    Query(#[source] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            return Error::Unavailable(error);
        }
        match error {
            sqlx::Error::RowNotFound => Error::NotFound,
            other => Error::Query(other),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError;
        // A database that is down at start-up must read as "unavailable" (retry later), not
        // as a broken migration.
        match error {
            MigrateError::Execute(error) if is_unavailable(&error) => Error::Unavailable(error),
            other => Error::Migrate(other),
        }
    }
}

/// Whether `error` means "the database cannot serve us right now" rather than "this query is
/// wrong". The pool reports a refused connection as `PoolTimedOut` once `acquire_timeout`
/// passes; a server that is shutting down or starting up answers with SQLSTATE errors.
fn is_unavailable(error: &sqlx::Error) -> bool {
    use sqlx::error::DatabaseError;
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database_error) => {
            if let Some(pg_error) =
                database_error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            {
                let code = pg_error.code();
                // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect
                // now (starting up); 53300: too many connections.
                code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
            } else if let Some(sqlite_error) =
                database_error.try_downcast_ref::<sqlx::sqlite::SqliteError>()
            {
                // Primary result codes (the low byte of the extended code): BUSY and LOCKED
                // outlasted busy_timeout; IOERR, FULL, CANTOPEN are the disk's problem.
                let code = sqlite_error
                    .code()
                    .and_then(|code| code.parse::<i32>().ok());
                matches!(code.map(|code| code & 0xff), Some(5 | 6 | 10 | 13 | 14))
            } else {
                false
            }
        }
        _ => false,
    }
}
