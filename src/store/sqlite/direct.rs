//! The SQLite statements on the two hot paths, run without sqlx. sqlx runs
//! each SQLite connection on a thread of its own and hands every statement
//! (and every row back) across threads, which on the hot paths costs more
//! than the statements themselves. Here a hot read runs on the calling thread, on a
//! connection of its own, and the inserts run on one writer thread
//! (`group_commit.rs`): one hand-over per request, none per statement.
//!
//! A read blocks its async thread for the few microseconds one indexed
//! lookup takes. In WAL mode a reader does not wait for the writer; it can
//! meet a lock only in rare cases (a WAL being recovered after a crash,
//! another process holding the file exclusively). Then it gives up after
//! `READ_BUSY_TIMEOUT` and the caller reads through sqlx, whose own thread
//! waits, so an async thread is never held for long.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension, named_params, params};

use super::user_requests::{CATCH_UP, Row};
use crate::domain::transaction::Transaction;
use crate::domain::user::User;
use crate::store::deliveries::OWE_DEVICE_PUSHES;
use crate::store::transactions::{TransactionRow, auth_req_lookup, auth_req_matches};
use crate::store::users::{USER_BY_HINT, USER_BY_ID, UserRow};
use crate::store::{DeviceCounts, OwedPushes, SqliteSynchronous, StoreResult};

/// How long a statement waits for a lock another connection holds.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// As long, for a read on an async thread (module comment).
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(20);

/// Opens a read-write connection with the settings every trustid connection
/// to the file has (WAL is a property of the file, set by the migrations'
/// pool; `synchronous` and foreign keys are per connection).
pub(super) fn open(path: &Path, synchronous: SqliteSynchronous) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", synchronous.as_pragma())?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// The columns the direct SQLite path reads, by position: rusqlite finds a
/// column by name by comparing every name before it.
/// `users::USER_BY_ID`, `users::USER_BY_HINT` and `transactions::TXN_COLUMNS` list them
/// in this order (tested in `direct.rs`).
pub(crate) const USER_FIELDS: [&str; 8] = [
    "id",
    "email",
    "phone",
    "status",
    "failed_attempts",
    "user_code_hash",
    "static_password_hash",
    "created_at",
];

/// `TransactionRow::from_direct` reads these by index; the test holds
/// `transactions::TXN_COLUMNS` to this order.
pub(super) const TXN_COLUMN_COUNT: usize = 22;
#[cfg(test)]
pub(crate) const TXN_FIELDS: [&str; TXN_COLUMN_COUNT] = [
    "id",
    "auth_req_digest",
    "client_id",
    "user_id",
    "context",
    "app_id",
    "display_text",
    "scope",
    "acr",
    "status",
    "created_at",
    "expires_at",
    "decided_at",
    "poll_interval",
    "device_id",
    "failed_attempts",
    "failed_device_id",
    "auth_req_id",
    "notification_token",
    "notify_kind",
    "user_status",
    "match_number",
];

impl UserRow {
    /// The same row read by the direct SQLite path (columns by position,
    /// [`USER_FIELDS`]).
    pub(super) fn from_direct(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            email: r.get(1)?,
            phone: r.get(2)?,
            status: r.get(3)?,
            failed_attempts: r.get(4)?,
            user_code_hash: r.get(5)?,
            static_password_hash: r.get(6)?,
            created_at: r.get(7)?,
        })
    }
}

impl TransactionRow {
    /// The same row read by the direct SQLite path (columns by position,
    /// [`TXN_FIELDS`]).
    pub(super) fn from_direct(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            auth_req_digest: r.get(1)?,
            client_id: r.get(2)?,
            user_id: r.get(3)?,
            context: r.get(4)?,
            app_id: r.get(5)?,
            display_text: r.get(6)?,
            scope: r.get(7)?,
            acr: r.get(8)?,
            status: r.get(9)?,
            created_at: r.get(10)?,
            expires_at: r.get(11)?,
            decided_at: r.get(12)?,
            poll_interval: r.get(13)?,
            device_id: r.get(14)?,
            failed_attempts: r.get(15)?,
            failed_device_id: r.get(16)?,
            auth_req_id: r.get(17)?,
            notification_token: r.get(18)?,
            notify_kind: r.get(19)?,
            user_status: r.get(20)?,
            match_number: r.get(21)?,
        })
    }
}

/// Read connections, each used by one caller at a time. There are never more
/// than the threads that read at once (a read does not await), so in a
/// server this is one per runtime thread.
pub(super) struct Readers {
    path: PathBuf,
    synchronous: SqliteSynchronous,
    idle: Mutex<Vec<Connection>>,
    /// Tests: every read meets a lock (a WAL reader meets one too rarely to
    /// provoke).
    #[cfg(test)]
    pub(super) busy: std::sync::atomic::AtomicBool,
}

impl Readers {
    pub(super) fn new(path: PathBuf, synchronous: SqliteSynchronous) -> Self {
        Self {
            path,
            synchronous,
            idle: Mutex::new(Vec::new()),
            #[cfg(test)]
            busy: Default::default(),
        }
    }

    pub(super) fn with<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        #[cfg(test)]
        if self.busy.load(std::sync::atomic::Ordering::Relaxed) {
            let busy = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY);
            return Err(rusqlite::Error::SqliteFailure(busy, None).into());
        }
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = open(&self.path, self.synchronous)?;
                // A reader that tried to write would be a bug: let SQLite say so.
                conn.pragma_update(None, "query_only", true)?;
                conn.busy_timeout(READ_BUSY_TIMEOUT)?;
                conn
            }
        };
        let result = read(&conn);
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        result
    }

    /// The user a `login_hint` names (id, then e-mail, then phone) with their
    /// active and pushable device counts. Most hints are the relying party's
    /// own user id: that is tried first, with one probe of the primary key.
    /// Only a hint no id matches runs the statement that tries all three (an
    /// index probe each, then a sort to rank them).
    pub(super) fn user_by_hint(&self, hint: &str) -> StoreResult<Option<(User, DeviceCounts)>> {
        self.with(|conn| {
            for sql in [USER_BY_ID, USER_BY_HINT] {
                let row = conn
                    .prepare_cached(sql)?
                    .query_row(params![hint], |r| {
                        // Named `active_devices` and `pushable_devices`, after the user.
                        let counts = DeviceCounts {
                            active: r.get(USER_FIELDS.len())?,
                            pushable: r.get(USER_FIELDS.len() + 1)?,
                        };
                        Ok((UserRow::from_direct(r)?, counts))
                    })
                    .optional()?;
                if let Some((user, counts)) = row {
                    return Ok(Some((User::try_from(user)?, counts)));
                }
            }
            Ok(None)
        })
    }

    /// `user_epoch.n`, which moves with every change of a user or a device
    /// (`user_cache.rs`).
    pub(super) fn user_epoch(&self) -> StoreResult<i64> {
        self.with(|conn| Ok(conn.prepare_cached(USER_EPOCH)?.query_row([], |r| r.get(0))?))
    }

    /// At most `limit` transactions added after rowid `last`, by rowid: the
    /// catch-up of the index by user (`user_requests.rs`).
    pub(super) fn rows_after(&self, last: i64, limit: i64) -> StoreResult<Vec<Row>> {
        self.with(|conn| {
            let rows = conn
                .prepare_cached(CATCH_UP)?
                .query_map(params![last, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// A transaction by the digest of its `auth_req_id` (a first poll).
    pub(super) fn transaction_by_auth_req(&self, digest: &str) -> StoreResult<Option<Transaction>> {
        let (sql, key) = auth_req_lookup(digest);
        self.with(|conn| {
            let row = conn
                .prepare_cached(sql)?
                .query_row(params![key], TransactionRow::from_direct)
                .optional()?;
            let txn = row.map(Transaction::try_from).transpose()?;
            Ok(txn.filter(|t| auth_req_matches(t, digest)))
        })
    }
}

/// Binds `$N` to `values[N - 1]` in a statement shared with sqlx: SQLite
/// numbers `$N` parameters by first appearance, not by N (`SET a = $2 WHERE
/// id = $1` would bind the other way round positionally); sqlx binds them by
/// name.
pub(super) fn bind_numbered(
    statement: &mut rusqlite::CachedStatement<'_>,
    values: &[&dyn ToSql],
) -> rusqlite::Result<()> {
    for i in 1..=statement.parameter_count() {
        let value = statement
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$')?.parse::<usize>().ok())
            .and_then(|n| values.get(n.checked_sub(1)?))
            .ok_or(rusqlite::Error::InvalidParameterCount(i, values.len()))?;
        statement.raw_bind_parameter(i, *value)?;
    }
    Ok(())
}

/// Inserts one transaction row; `Ok(false)` when its id (or an old-format
/// digest, migration `20261130000001`) exists.
pub(super) fn insert_transaction(conn: &Connection, t: &Transaction) -> rusqlite::Result<bool> {
    let notify = t.notify.as_ref();
    let stored = conn.prepare_cached(INSERT_TRANSACTION)?.execute(params![
        t.id.as_str(),
        t.auth_req_digest,
        t.client_id.as_str(),
        t.user_id.as_str(),
        t.context.as_str(),
        t.app_id,
        t.display_text,
        t.scope,
        t.acr,
        t.status.as_str(),
        t.created_at,
        t.expires_at,
        t.decided_at,
        t.interval,
        t.device_id.as_deref(),
        t.failed_attempts,
        t.failed_device_id.as_deref(),
        notify.map(|n| &n.auth_req_id),
        notify.map(|n| &n.client_notification_token),
        notify.map(|n| if n.push { "push" } else { "ping" }),
        t.user_status.map(|s| s.as_str()),
        t.match_number,
    ])?;
    Ok(stored == 1)
}

/// Owes the pushes of a request inserted in the same transaction; returns
/// how many.
pub(super) fn owe_device_pushes(conn: &Connection, t: &Transaction, pushes: OwedPushes) -> rusqlite::Result<u64> {
    let owed = conn.prepare_cached(OWE_DEVICE_PUSHES)?.execute(named_params! {
        "$1": t.id.as_str(),
        "$2": t.user_id.as_str(),
        "$3": pushes.only_preferred,
        "$4": pushes.now_ms,
        "$5": t.expires_at * 1000,
    })?;
    Ok(owed as u64)
}

/// The counter the triggers of migration `20261201000001_user_epoch.sql` move.
const USER_EPOCH: &str = "SELECT n FROM user_epoch WHERE id = 1";

const INSERT_TRANSACTION: &str = "INSERT INTO transactions (id, auth_req_digest, client_id, user_id, context, \
     app_id, display_text, scope, acr, status, created_at, expires_at, decided_at, poll_interval, device_id, \
     failed_attempts, failed_device_id, auth_req_id, notification_token, notify_kind, user_status, match_number) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) \
     ON CONFLICT DO NOTHING";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_are_bound_by_their_number_not_their_place() {
        let conn = Connection::open_in_memory().unwrap();
        // `$2` comes first: bound by place it would take values[0].
        let mut statement = conn.prepare_cached("SELECT $2 || '-' || $1").unwrap();
        bind_numbered(&mut statement, params!["first", "second"]).unwrap();
        let mut rows = statement.raw_query();
        let joined: String = rows.next().unwrap().unwrap().get(0).unwrap();
        assert_eq!(joined, "second-first");
        drop(rows);
        // A parameter with no number, or a number past the values, is refused.
        for sql in ["SELECT ?", "SELECT $3"] {
            let mut statement = conn.prepare_cached(sql).unwrap();
            let refused = bind_numbered(&mut statement, params!["first", "second"]);
            assert!(
                matches!(refused, Err(rusqlite::Error::InvalidParameterCount(1, 2))),
                "{sql}: {refused:?}"
            );
        }
    }

    #[test]
    fn the_direct_statements_list_their_columns_in_the_order_they_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        for file in crate::store::sqlite_migration_files() {
            conn.execute_batch(&std::fs::read_to_string(file).unwrap()).unwrap();
        }
        let names = |sql: &str| -> Vec<String> {
            let stmt = conn.prepare(sql).unwrap();
            stmt.column_names().into_iter().map(str::to_owned).collect()
        };
        let mut user: Vec<&str> = USER_FIELDS.to_vec();
        user.extend(["active_devices", "pushable_devices"]);
        assert_eq!(names(USER_BY_ID), user);
        assert_eq!(names(USER_BY_HINT), user);
        for digest in ["id.digest", "legacy-digest"] {
            assert_eq!(names(auth_req_lookup(digest).0), TXN_FIELDS);
        }
    }

    #[test]
    fn connections_take_the_configured_synchronous_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Connection::open(&path).unwrap(); // creates the file: `open` never does
        // PRAGMA synchronous reads 1 for NORMAL and 2 for FULL.
        for (mode, expected) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
            let conn = open(&path, mode).unwrap();
            let read: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
            assert_eq!(read, expected, "{mode:?}");
        }
    }
}
