//! The outbox's and device pushes' rows as both backends read them.

use sqlx::FromRow;

use super::super::{StoreError, parse};
use crate::domain::delivery::{Delivery, DevicePush, PushRecord};

#[derive(FromRow)]
pub(crate) struct DeliveryRow {
    pub(crate) id: String,
    pub(crate) transaction_id: String,
    pub(crate) kind: String,
    pub(crate) target: String,
    pub(crate) bearer: String,
    pub(crate) payload: String,
    pub(crate) attempts: i64,
    pub(crate) give_up_at: i64,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        Ok(Delivery {
            kind: parse(&r.kind)?,
            id: r.id,
            transaction_id: r.transaction_id.into(),
            target: r.target,
            bearer: r.bearer,
            payload: r.payload,
            attempts: r.attempts,
            give_up_at: r.give_up_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct DevicePushRow {
    pub(crate) transaction_id: String,
    pub(crate) device_id: String,
    pub(crate) attempts: i64,
    pub(crate) give_up_at: i64,
    pub(crate) claimed_until: i64,
}

impl From<DevicePushRow> for DevicePush {
    fn from(r: DevicePushRow) -> Self {
        DevicePush {
            transaction_id: r.transaction_id.into(),
            device_id: r.device_id.into(),
            attempts: r.attempts,
            give_up_at: r.give_up_at,
            lease_until: r.claimed_until,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct PushRecordRow {
    pub(crate) device_id: String,
    pub(crate) state: String,
    pub(crate) channel: Option<String>,
    pub(crate) attempts: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) finished_at: Option<i64>,
}

impl TryFrom<PushRecordRow> for PushRecord {
    type Error = StoreError;
    fn try_from(r: PushRecordRow) -> Result<Self, StoreError> {
        Ok(PushRecord {
            state: parse(&r.state)?,
            channel: r.channel.as_deref().map(parse).transpose()?,
            device_id: r.device_id.into(),
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            finished_at: r.finished_at,
        })
    }
}
