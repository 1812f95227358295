//! Clients, and the push relays they set for their apps.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::FromRow;

use super::{StoreError, StoreResult};
use crate::domain::client::{Client, ClientMetadata};

/// How long a client read from the database is trusted.
pub const CLIENT_TTL: Duration = Duration::from_secs(5);
const PRUNE_EVERY: usize = 1024;

/// Clients read from the database, kept [`CLIENT_TTL`]: every authenticated
/// request reads its client. A change made through this process forgets its
/// entry at once (the next request reads the row again); another instance
/// goes on using what it read for at most the TTL.
#[derive(Default)]
pub(crate) struct ClientCache(RwLock<ClientMap>);

impl ClientCache {
    /// A cached client: shared, not copied.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Client>> {
        let clients = self.0.read().ok()?;
        let (client, at) = clients.map.get(id)?;
        (at.elapsed() < CLIENT_TTL).then(|| client.clone())
    }

    /// Taken before a read of the database and handed to [`Self::keep`].
    pub(crate) fn generation(&self) -> u64 {
        self.0.read().map(|c| c.generation).unwrap_or_default()
    }

    /// Keeps a client read under `generation`, unless a change was made
    /// since: that read may predate the change and must not be kept.
    pub(crate) fn keep(&self, client: &Arc<Client>, generation: u64) {
        if let Ok(mut clients) = self.0.write() {
            if clients.generation != generation {
                return;
            }
            clients.inserted += 1;
            if clients.inserted >= PRUNE_EVERY {
                clients.inserted = 0;
                clients.map.retain(|_, (_, at)| at.elapsed() < CLIENT_TTL);
            }
            clients
                .map
                .insert(client.id.to_string(), (client.clone(), Instant::now()));
        }
    }

    /// Forgets client `id` after a change of its row.
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut clients) = self.0.write() {
            clients.generation += 1;
            clients.map.remove(id);
        }
    }
}

/// Clients by id with the instant they were read; pruned once per
/// `PRUNE_EVERY` fills (a walk of the map), not on every fill.
#[derive(Default)]
struct ClientMap {
    map: HashMap<String, (Arc<Client>, Instant)>,
    inserted: usize,
    /// Moves with every change, so a read that raced one is not kept.
    generation: u64,
}

/// One change of a stored client; each writes its own columns only, so two
/// changes at once (an edit and a rotation) never undo each other.
#[derive(Debug, Clone, Copy)]
pub enum ClientChange<'a> {
    Metadata(&'a ClientMetadata),
    /// The digest of a new secret.
    SecretDigest(&'a str),
    /// Disabled since this instant, or (`None`) enabled.
    Disabled(Option<i64>),
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;

    async fn client(&self, id: &str) -> StoreResult<Option<Arc<Client>>>;

    /// Applies `change` to client `id` at `now`; false if there is no such
    /// client. This process's cached copy is forgotten at once.
    async fn change_client(&self, id: &str, change: ClientChange<'_>, now: i64) -> StoreResult<bool>;

    /// Sets (or with `None` removes) the push relay a client set for one of
    /// its apps; false if there was none to remove.
    async fn set_app_push_relay(&self, client_id: &str, app_id: &str, uri: Option<&str>, now: i64)
    -> StoreResult<bool>;

    /// The push relay a client set for an app, when one is set.
    async fn app_push_relay(&self, client_id: &str, app_id: &str) -> StoreResult<Option<String>>;

    /// Removes a client with its tokens and app relays, unless records
    /// that are evidence name it: its transactions, and the bindings and
    /// registrations it made (then nothing changes).
    async fn remove_client(&self, id: &str) -> StoreResult<ClientRemoval>;
}

/// What [`ClientStore::remove_client`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRemoval {
    Removed,
    Unknown,
    /// Transactions, bindings, registrations and risk evaluations that name the client.
    Named(i64),
}

/// Evidence that names a client and keeps it.
pub(crate) const NAMING: &str = "SELECT (SELECT COUNT(*) FROM transactions WHERE client_id = $1) \
     + (SELECT COUNT(*) FROM bindings WHERE client_id = $1) \
     + (SELECT COUNT(*) FROM registrations WHERE client_id = $1) \
     + (SELECT COUNT(*) FROM risk_events WHERE client_id = $1) \
     + (SELECT COUNT(*) FROM identity_documents WHERE client_id = $1)";

/// What goes with a removed client.
pub(crate) const OWNED: [&str; 6] = [
    "DELETE FROM access_tokens WHERE client_id = $1",
    "DELETE FROM refresh_tokens WHERE client_id = $1",
    "DELETE FROM management_tokens WHERE client_id = $1",
    "DELETE FROM registration_tokens WHERE client_id = $1",
    "DELETE FROM app_push_relays WHERE client_id = $1",
    "DELETE FROM risk_rules WHERE client_id = $1",
];

#[derive(FromRow)]
pub(crate) struct ClientRow {
    pub(crate) id: String,
    pub(crate) secret_digest: Option<String>,
    pub(crate) metadata: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: Option<i64>,
    pub(crate) disabled_at: Option<i64>,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            metadata: serde_json::from_str(&r.metadata)
                .map_err(|e| StoreError::Corrupt(format!("client metadata: {e}")))?,
            id: r.id.into(),
            secret_digest: r.secret_digest,
            created_at: r.created_at,
            updated_at: r.updated_at,
            disabled_at: r.disabled_at,
        })
    }
}

/// Implements [`ClientStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! client_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::client::Client;
            use $crate::store::clients::{ClientChange, ClientRemoval, ClientRow, ClientStore, NAMING, OWNED};
            use $crate::store::{StoreError, StoreResult, conflict};

            #[async_trait::async_trait]
            impl ClientStore for $store {
                async fn insert_client(&self, c: &Client) -> StoreResult<()> {
                    let metadata = serde_json::to_string(&c.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    query("INSERT INTO clients (id, secret_digest, metadata, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(c.id.as_str())
                        .bind(&c.secret_digest)
                        .bind(metadata)
                        .bind(c.created_at)
                        .execute(&self.pool)
                        .await
                        .map_err(conflict("client id"))?;
                    Ok(())
                }

                async fn client(&self, id: &str) -> StoreResult<Option<std::sync::Arc<Client>>> {
                    if let Some(client) = self.clients.get(id) {
                        return Ok(Some(client));
                    }
                    let generation = self.clients.generation();
                    let row: Option<ClientRow> = query_as("SELECT * FROM clients WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    let client = row.map(Client::try_from).transpose()?.map(std::sync::Arc::new);
                    if let Some(c) = &client {
                        self.clients.keep(c, generation);
                    }
                    Ok(client)
                }

                async fn change_client(&self, id: &str, change: ClientChange<'_>, now: i64) -> StoreResult<bool> {
                    let set = match change {
                        ClientChange::Metadata(m) => {
                            let json = serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                            query("UPDATE clients SET metadata = $1, updated_at = $2 WHERE id = $3").bind(json)
                        }
                        ClientChange::SecretDigest(digest) => {
                            query("UPDATE clients SET secret_digest = $1, updated_at = $2 WHERE id = $3").bind(digest)
                        }
                        ClientChange::Disabled(at) => {
                            query("UPDATE clients SET disabled_at = $1, updated_at = $2 WHERE id = $3").bind(at)
                        }
                    };
                    let done = set.bind(now).bind(id).execute(&self.pool).await?;
                    self.clients.forget(id);
                    Ok(done.rows_affected() == 1)
                }

                async fn remove_client(&self, id: &str) -> StoreResult<ClientRemoval> {
                    let mut tx = self.pool.begin().await?;
                    let named: i64 = sqlx::query_scalar(NAMING).bind(id).fetch_one(&mut *tx).await?;
                    if named > 0 {
                        return Ok(ClientRemoval::Named(named));
                    }
                    for delete in OWNED {
                        query(delete).bind(id).execute(&mut *tx).await?;
                    }
                    let done = query("DELETE FROM clients WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    tx.commit().await?;
                    self.clients.forget(id);
                    Ok(match done.rows_affected() {
                        1 => ClientRemoval::Removed,
                        _ => ClientRemoval::Unknown,
                    })
                }

                async fn set_app_push_relay(
                    &self,
                    client_id: &str,
                    app_id: &str,
                    uri: Option<&str>,
                    now: i64,
                ) -> StoreResult<bool> {
                    let done = match uri {
                        Some(uri) => query(
                            "INSERT INTO app_push_relays (client_id, app_id, push_relay_uri, updated_at) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (client_id, app_id) DO UPDATE SET push_relay_uri = excluded.push_relay_uri, \
                             updated_at = excluded.updated_at",
                        )
                        .bind(client_id)
                        .bind(app_id)
                        .bind(uri)
                        .bind(now)
                        .execute(&self.pool)
                        .await?,
                        None => query("DELETE FROM app_push_relays WHERE client_id = $1 AND app_id = $2")
                            .bind(client_id)
                            .bind(app_id)
                            .execute(&self.pool)
                            .await?,
                    };
                    Ok(done.rows_affected() == 1)
                }

                async fn app_push_relay(&self, client_id: &str, app_id: &str) -> StoreResult<Option<String>> {
                    let found: Option<(String,)> =
                        query_as("SELECT push_relay_uri FROM app_push_relays WHERE client_id = $1 AND app_id = $2")
                            .bind(client_id)
                            .bind(app_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(found.map(|(uri,)| uri))
                }
            }
        };
    };
}
pub(crate) use client_sql;
