//! Keys, signatures and secrets. No HTTP here.

pub mod client_cert;
pub mod device_jws;
pub mod id_token;
pub mod jwt;
pub mod key_file;
pub mod key_ring;
pub mod keys;
pub mod p256_jwk;
pub mod saml_keys;
pub mod secret;
pub mod tls_files;
pub mod x509_name;
pub mod xmldsig;
pub mod xmlenc;
