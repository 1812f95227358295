//! The black-box tests, one test binary: each file here is a module, all of
//! them share `common` (the `spawn_app()` harness). One binary links the crate
//! and its dependencies once instead of once per file. Tests still
//! run in any order and in parallel, now in one process: none may set
//! environment variables or change the current directory (a spawned
//! `trustid` gets its settings through `Command::env`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod admin_cli;
mod architecture;
mod backchannel;
mod backup;
mod cli;
mod client_auth_throttle;
mod config_doc;
mod console;
mod console_address;
mod console_audit;
mod console_browser;
mod console_cancel;
mod console_clients;
mod console_keys;
mod console_phone;
mod console_rules;
mod console_saml;
mod console_saml_edit;
mod console_transactions;
mod console_users;
mod delivery;
mod device;
mod device_cli;
mod device_cli_executive;
mod device_push;
mod device_push_providers;
mod discovery;
mod executive;
mod flow;
mod health;
mod hints;
mod inbox;
mod keys;
mod lifecycle;
mod limits;
mod metrics;
mod migrate_data;
mod migrations;
mod mtls;
mod mtls_tokens;
mod openapi;
mod openid_client;
mod operator_cli;
mod parsers_prop;
mod partners;
mod races;
mod registration;
mod request_ids;
mod responses_conform;
mod risk_errors;
mod risk_registration;
mod risk_rules;
mod saml_browser;
mod saml_cli;
mod saml_sps;
mod saml_sso;
mod saml_xml;
mod secrets_in_logs;
mod shutdown;
mod signed_requests;
mod tls;
mod token;
mod tokens;
mod users_admin;
mod walkthrough;
