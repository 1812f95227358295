//! The store's vocabulary of the user and device lifecycle: what a device
//! activates with, and what activation and unregistration did.

use crate::domain::transaction::Transaction;

/// What a device activates with.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// A binding, by id (its activation code was checked by the caller).
    Binding(&'a str),
    /// A registration, by id (its activation password was checked).
    Registration(&'a str),
    /// A registration token, by digest.
    Token(&'a str),
}

#[derive(Debug, Clone)]
pub enum ActivateOutcome {
    /// Bound and active; these open provisioning requests were approved by it.
    Activated { provisioned: Vec<Transaction> },
    /// The credential was used, removed or expired meanwhile.
    CredentialSpent,
    /// The device is bound to another user, locked or removed.
    DeviceUnavailable,
}

/// What unregistering a user removed.
#[derive(Debug, Clone, Default)]
pub struct Unregistered {
    pub devices: u64,
    pub bindings: u64,
    pub registrations: u64,
    /// Open transactions, now ended (denied) for their clients.
    pub transactions: Vec<Transaction>,
}
