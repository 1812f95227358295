//! The device's door (mobile SDK → trustid): key registration, the inbox of
//! pending requests, push channels and push token exchange, and signed
//! decisions. Every request carries a proof signed with the device key;
//! errors use the API error schema.

pub mod activate;
pub mod decision;
pub mod identity_documents;
pub mod inbox;
pub mod proof;
pub mod push_channel;
pub mod push_exchange;
pub mod register;
