//! The reads of a device's requests on the direct path (`direct.rs`): the
//! device a proof names, its user's inbox, a transaction by id, a challenge
//! by nonce and a user by id, each read on the calling thread instead of a
//! hand-over to sqlx's thread.

use rusqlite::{OptionalExtension, params};

use super::direct::{Readers, bind_numbered};
use crate::domain::challenge::Challenge;
use crate::domain::device::Device;
use crate::domain::transaction::Transaction;
use crate::domain::user::User;
use crate::store::challenges::{CHALLENGE_BY_NONCE, ChallengeRow};
use crate::store::transactions::{TXN_COLUMNS, TransactionRow};
use crate::store::users::{DeviceRow, USER_ROW_BY_ID, UserRow};
use crate::store::{InboxItem, StoreResult};

/// `DeviceRow`'s columns, in the order `device_row` reads them.
const DEVICE_BY_ID: &str = "SELECT id, device_key, auth_key, user_id, status, failed_attempts, preferred, created_at, \
     push_channel, push_address, user_authentication_required FROM devices WHERE id = $1";

impl Readers {
    pub(super) fn device(&self, id: &str) -> StoreResult<Option<Device>> {
        self.with(|conn| {
            let row = conn
                .prepare_cached(DEVICE_BY_ID)?
                .query_row(params![id], device_row)
                .optional()?;
            row.map(Device::try_from).transpose()
        })
    }

    /// The inbox: `sql` is the shared statement (`$1` user, `$2` now, `$3`
    /// the ids the index by user holds) with the client's name last.
    pub(super) fn inbox(&self, sql: &str, user_id: &str, now: i64, ids: &str) -> StoreResult<Vec<InboxItem>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            bind_numbered(&mut statement, params![user_id, now, ids])?;
            let mut rows = statement.raw_query();
            let mut items = Vec::new();
            while let Some(r) = rows.next()? {
                let name_at = super::direct::TXN_COLUMN_COUNT;
                items.push(InboxItem {
                    transaction: Transaction::try_from(TransactionRow::from_direct(r)?)?,
                    // A client registered without a name: sqlx reads NULL as "".
                    client_name: r.get::<_, Option<String>>(name_at)?.unwrap_or_default(),
                });
            }
            Ok(items)
        })
    }

    pub(super) fn transaction(&self, id: &str) -> StoreResult<Option<Transaction>> {
        self.with(|conn| {
            let sql = format!("SELECT {TXN_COLUMNS} FROM transactions t WHERE t.id = $1");
            let row = conn
                .prepare_cached(&sql)?
                .query_row(params![id], TransactionRow::from_direct)
                .optional()?;
            row.map(Transaction::try_from).transpose()
        })
    }

    pub(super) fn user(&self, id: &str) -> StoreResult<Option<User>> {
        self.with(|conn| {
            let row = conn
                .prepare_cached(USER_ROW_BY_ID)?
                .query_row(params![id], UserRow::from_direct)
                .optional()?;
            row.map(User::try_from).transpose()
        })
    }

    pub(super) fn challenge(&self, nonce: &str) -> StoreResult<Option<Challenge>> {
        self.with(|conn| {
            let row = conn
                .prepare_cached(CHALLENGE_BY_NONCE)?
                .query_row(params![nonce], |r| {
                    Ok(ChallengeRow {
                        nonce: r.get(0)?,
                        transaction_id: r.get(1)?,
                        device_id: r.get(2)?,
                        expires_at: r.get(3)?,
                        used_at: r.get(4)?,
                        created_at: r.get(5)?,
                    })
                })
                .optional()?;
            Ok(row.map(Challenge::from))
        })
    }
}

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.get(0)?,
        device_key: r.get(1)?,
        auth_key: r.get(2)?,
        user_id: r.get(3)?,
        status: r.get(4)?,
        failed_attempts: r.get(5)?,
        preferred: r.get(6)?,
        created_at: r.get(7)?,
        push_channel: r.get(8)?,
        push_address: r.get(9)?,
        user_authentication_required: r.get(10)?,
    })
}
