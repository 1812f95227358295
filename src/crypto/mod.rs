//! Keys, signatures and secrets. No HTTP here.

pub mod device_jws;
pub mod id_token;
pub mod jwt;
pub mod key_ring;
pub mod keys;
pub mod p256_jwk;
pub mod secret;
