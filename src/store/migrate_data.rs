//! `trustid migrate-data`: copies every table of one database into another,
//! SQLite to PostgreSQL (the move when one machine is not enough) or either
//! way. Both are migrated first; the target must hold no data. The source is
//! read from one snapshot and the target written in one transaction, in an
//! order its foreign keys accept, each table's count checked on both sides
//! before the commit: the copy is whole or not at all. Every
//! column of both schemas is `BIGINT`/`INTEGER` or `TEXT`, so values travel
//! as one of those or NULL; a column the source lacks stops the copy.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use anyhow::{Context, bail};
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Column, Row};

use super::SqliteSynchronous;

/// Tables that are not data: the migration ledgers, SQLite's in-memory
/// user index epoch (written by its migration, meaningless elsewhere), and
/// PostgreSQL's counters of the last minute's requests (the caps; SQLite
/// counts in memory, and a copy is made with no server running).
const NOT_DATA: &[&str] = &["_sqlx_migrations", "user_epoch", "request_counts"];

/// Rows sent in one INSERT; keeps binds under both backends' limits
/// (the widest table has ~30 columns).
const ROWS_PER_INSERT: usize = 200;

/// A value of a column: every column is an integer or text.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Integer(Option<i64>),
    Text(Option<String>),
}

enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// What was copied: rows per table, in copy order.
pub type Copied = Vec<(String, u64)>;

/// Copies `from` into `to` (both migrated here first).
pub async fn copy(from: &str, to: &str) -> anyhow::Result<Copied> {
    if from == to {
        bail!("the source and the target are the same database");
    }
    // A server writing meanwhile would lose those writes: SQLite knows.
    let _locks = [from, to]
        .into_iter()
        .filter(|url| url.starts_with("sqlite:"))
        .map(|url| super::sqlite::backup::not_served(url, "copying its data"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for url in [from, to] {
        super::open(url, SqliteSynchronous::Full).await?;
    }
    let (source, target) = (Db::connect(from).await?, Db::connect(to).await?);
    let tables = target.tables().await?;
    let source_tables: BTreeSet<String> = source.tables().await?.into_iter().collect();
    for table in &tables {
        if !source_tables.contains(table) {
            bail!("the source has no table `{table}`: is it a trustid database?");
        }
        if target.count(table).await? > 0 {
            bail!("the target is not empty (table `{table}` holds rows): migrate into a new database");
        }
    }
    let order = target.copy_order(&tables).await?;
    let mut copied = Vec::new();
    for table in &order {
        copied.push((table.clone(), 0));
    }
    let columns = {
        let mut all = Vec::new();
        for table in &order {
            all.push(target.columns(table).await?);
        }
        all
    };
    // One read snapshot, one write transaction; rows stream through in
    // batches, so a table of millions never sits in memory.
    macro_rules! copy_all {
        ($read:expr, $write:expr, $write_batch:ident) => {{
            let (mut read, mut write) = ($read, $write);
            for ((table, count), columns) in copied.iter_mut().zip(&columns) {
                let sql = select(table, columns);
                let mut rows = sqlx::query(&sql).fetch(&mut *read);
                let mut batch = Vec::with_capacity(ROWS_PER_INSERT);
                while let Some(row) = rows.try_next().await? {
                    batch.push(values(&row, columns, table)?);
                    if batch.len() == ROWS_PER_INSERT {
                        *count += $write_batch(&mut write, table, columns, &batch).await?;
                        batch.clear();
                    }
                }
                drop(rows);
                *count += $write_batch(&mut write, table, columns, &batch).await?;
                // Checked before the commit: a difference leaves the target empty.
                let sql = format!("SELECT COUNT(*) FROM {}", quoted(table));
                let was: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *read).await?;
                let is: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *write).await?;
                if was.unsigned_abs() != *count || is.unsigned_abs() != *count {
                    bail!("table `{table}`: {was} rows in the source, {count} copied, {is} in the target");
                }
            }
            write.commit().await?;
        }};
    }
    match (&source, &target) {
        (Db::Sqlite(s), Db::Postgres(t)) => copy_all!(s.begin().await?, t.begin().await?, write_postgres),
        (Db::Sqlite(s), Db::Sqlite(t)) => copy_all!(s.begin().await?, t.begin().await?, write_sqlite),
        (Db::Postgres(s), Db::Sqlite(t)) => copy_all!(snapshot(s).await?, t.begin().await?, write_sqlite),
        (Db::Postgres(s), Db::Postgres(t)) => copy_all!(snapshot(s).await?, t.begin().await?, write_postgres),
    }
    Ok(copied)
}

/// A column's name and whether it holds integers (else text).
type Columns = Vec<(String, bool)>;

impl Db {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?.foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new().max_connections(2).connect_with(options).await?;
            Ok(Db::Postgres(pool))
        }
    }

    async fn tables(&self) -> anyhow::Result<Vec<String>> {
        let names: Vec<String> = match self {
            Db::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .fetch_all(pool)
                .await?
            }
        };
        Ok(names.into_iter().filter(|n| !NOT_DATA.contains(&n.as_str())).collect())
    }

    async fn columns(&self, table: &str) -> anyhow::Result<Columns> {
        let columns: Vec<(String, String)> = match self {
            Db::Sqlite(pool) => {
                sqlx::query_as("SELECT name, type FROM pragma_table_info(?) ORDER BY cid")
                    .bind(table)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(pool)
                .await?
            }
        };
        columns
            .into_iter()
            .map(|(name, kind)| match kind.to_ascii_lowercase().as_str() {
                "integer" | "bigint" => Ok((name, true)),
                "text" => Ok((name, false)),
                other => bail!("`{table}.{name}` is of type {other}, which this copy does not know"),
            })
            .collect()
    }

    async fn count(&self, table: &str) -> anyhow::Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM {}", quoted(table));
        let n: i64 = match self {
            Db::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await?,
            Db::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await?,
        };
        Ok(n.unsigned_abs())
    }

    /// `tables` with every table after those its foreign keys name.
    async fn copy_order(&self, tables: &[String]) -> anyhow::Result<Vec<String>> {
        let mut needs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for table in tables {
            let parents: Vec<String> = match self {
                Db::Sqlite(pool) => {
                    sqlx::query_scalar("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)")
                        .bind(table)
                        .fetch_all(pool)
                        .await?
                }
                Db::Postgres(pool) => {
                    sqlx::query_scalar(
                        "SELECT DISTINCT ccu.table_name::text FROM information_schema.table_constraints tc \
                         JOIN information_schema.constraint_column_usage ccu \
                           ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema \
                         WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() \
                           AND tc.table_name = $1",
                    )
                    .bind(table)
                    .fetch_all(pool)
                    .await?
                }
            };
            let parents = parents.into_iter().filter(|p| p != table && tables.contains(p));
            needs.insert(table.clone(), parents.collect());
        }
        let mut order = Vec::new();
        while !needs.is_empty() {
            let ready: Vec<String> = needs
                .iter()
                .filter(|(_, parents)| parents.iter().all(|p| order.contains(p)))
                .map(|(table, _)| table.clone())
                .collect();
            if ready.is_empty() {
                bail!(
                    "the foreign keys of {:?} form a cycle",
                    needs.keys().collect::<Vec<_>>()
                );
            }
            for table in ready {
                needs.remove(&table);
                order.push(table);
            }
        }
        Ok(order)
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn select(table: &str, columns: &Columns) -> String {
    let names: Vec<String> = columns.iter().map(|(name, _)| quoted(name)).collect();
    format!("SELECT {} FROM {}", names.join(", "), quoted(table))
}

/// A read-only transaction on one snapshot of `pool`.
async fn snapshot(pool: &sqlx::PgPool) -> anyhow::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut read = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *read)
        .await?;
    Ok(read)
}

fn values<R: Row>(row: &R, columns: &Columns, table: &str) -> anyhow::Result<Vec<Value>>
where
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    columns
        .iter()
        .enumerate()
        .map(|(i, (name, integer))| {
            let context = || format!("`{table}.{name}` ({})", row.columns()[i].name());
            Ok(match integer {
                true => Value::Integer(row.try_get(i).with_context(context)?),
                false => Value::Text(row.try_get(i).with_context(context)?),
            })
        })
        .collect()
}

/// `INSERT INTO table (columns) VALUES (…), (…)` for `rows` rows, with
/// `?` or `$n` placeholders.
fn insert(table: &str, columns: &Columns, rows: usize, numbered: bool) -> String {
    let names: Vec<String> = columns.iter().map(|(name, _)| quoted(name)).collect();
    let mut n = 0;
    let tuples: Vec<String> = (0..rows)
        .map(|_| {
            let marks: Vec<String> = columns
                .iter()
                .map(|_| {
                    n += 1;
                    if numbered { format!("${n}") } else { "?".to_owned() }
                })
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        quoted(table),
        names.join(", "),
        tuples.join(", ")
    )
}

/// `write_postgres` and `write_sqlite`: one INSERT of `rows` (none: nothing).
macro_rules! batch_writer {
    ($name:ident, $conn:ty, $numbered:expr) => {
        async fn $name(conn: &mut $conn, table: &str, columns: &Columns, rows: &[Vec<Value>]) -> anyhow::Result<u64> {
            if rows.is_empty() {
                return Ok(0);
            }
            let sql = insert(table, columns, rows.len(), $numbered);
            let mut query = sqlx::query(&sql);
            for value in rows.iter().flatten() {
                query = match value {
                    Value::Integer(v) => query.bind(*v),
                    Value::Text(v) => query.bind(v.clone()),
                };
            }
            let done = query
                .execute(conn)
                .await
                .with_context(|| format!("writing `{table}`"))?;
            Ok(done.rows_affected())
        }
    };
}
batch_writer!(write_postgres, sqlx::PgConnection, true);
batch_writer!(write_sqlite, sqlx::SqliteConnection, false);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_name_every_column_and_number_their_binds_for_postgres() {
        let columns = vec![("id".to_owned(), false), ("at".to_owned(), true)];
        assert_eq!(
            insert("audit", &columns, 2, true),
            r#"INSERT INTO "audit" ("id", "at") VALUES ($1, $2), ($3, $4)"#
        );
        assert_eq!(
            insert("audit", &columns, 1, false),
            r#"INSERT INTO "audit" ("id", "at") VALUES (?, ?)"#
        );
    }
}
