//! Clients, and the push relays they set for their apps.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::FromRow;

use super::{StoreError, StoreResult};
use crate::domain::client::Client;

/// How long a client read from the database is trusted.
pub const CLIENT_TTL: Duration = Duration::from_secs(5);
const PRUNE_EVERY: usize = 1024;

/// Clients read from the database, kept [`CLIENT_TTL`]: every authenticated
/// request reads its client. Clients are only ever inserted today, so the
/// TTL bounds what a future change of a client, from any process, may lag.
#[derive(Default)]
pub(crate) struct ClientCache(RwLock<ClientMap>);

impl ClientCache {
    /// A cached client: shared, not copied.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Client>> {
        let clients = self.0.read().ok()?;
        let (client, at) = clients.map.get(id)?;
        (at.elapsed() < CLIENT_TTL).then(|| client.clone())
    }

    pub(crate) fn keep(&self, client: &Arc<Client>) {
        if let Ok(mut clients) = self.0.write() {
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
}

/// Clients by id with the instant they were read; pruned once per
/// `PRUNE_EVERY` fills (a walk of the map), not on every fill.
#[derive(Default)]
struct ClientMap {
    map: HashMap<String, (Arc<Client>, Instant)>,
    inserted: usize,
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;

    async fn client(&self, id: &str) -> StoreResult<Option<Arc<Client>>>;

    /// Sets (or with `None` removes) the push relay a client set for one of
    /// its apps; false if there was none to remove.
    async fn set_app_push_relay(&self, client_id: &str, app_id: &str, uri: Option<&str>, now: i64)
    -> StoreResult<bool>;

    /// The push relay a client set for an app, when one is set.
    async fn app_push_relay(&self, client_id: &str, app_id: &str) -> StoreResult<Option<String>>;
}

#[derive(FromRow)]
pub(crate) struct ClientRow {
    pub(crate) id: String,
    pub(crate) secret_digest: Option<String>,
    pub(crate) metadata: String,
    pub(crate) created_at: i64,
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
        })
    }
}

/// Implements [`ClientStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! client_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::client::Client;
            use $crate::store::clients::{ClientRow, ClientStore};
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
                    let row: Option<ClientRow> = query_as("SELECT * FROM clients WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    let client = row.map(Client::try_from).transpose()?.map(std::sync::Arc::new);
                    if let Some(c) = &client {
                        self.clients.keep(c);
                    }
                    Ok(client)
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
