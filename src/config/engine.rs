//! The engine's sections of validated settings.

use std::sync::Arc;
use std::time::Duration;

use super::Settings;
use crate::crypto::client_cert::ClientCa;
use crate::domain::address::TrustedProxies;
use crate::domain::client::MtlsSupport;
use crate::domain::lifecycle::Lockout;
use crate::domain::url::OutboundRule;
use crate::engine::settings::{
    ApnsCredentials, Devices, EngineSettings, Mtls, PushProviders, Requests, Server, Tokens,
};

impl Settings {
    /// Where trustid may call on a client's behalf (validated settings).
    pub fn outbound_rule(&self) -> OutboundRule {
        OutboundRule {
            dev: self.dev,
            allowed: OutboundRule::parse_allowed(&self.outbound_allow).unwrap_or_default(),
        }
    }

    /// What mutual TLS offers clients (registration's rules read it).
    pub fn mtls_support(&self) -> MtlsSupport {
        MtlsSupport {
            certificates: self.mtls,
            ca: self.mtls && self.mtls_ca.is_some(),
        }
    }

    /// The mutual TLS section, for a validated `self` (the CA loaded).
    pub fn mtls_settings(&self) -> Mtls {
        if !self.mtls {
            return Mtls::default();
        }
        let ca = self.mtls_ca.as_deref().and_then(|path| match ClientCa::load(path) {
            Ok(ca) => Some(Arc::new(ca)),
            Err(error) => {
                tracing::error!(%error, "mtls_ca no longer loads; tls_client_auth is refused");
                None
            }
        });
        Mtls {
            support: MtlsSupport {
                certificates: true,
                ca: ca.is_some(),
            },
            ca,
            header: self.mtls_certificate_header.as_ref().map(|h| h.to_ascii_lowercase()),
            proxies: TrustedProxies::parse(&self.mtls_proxies).unwrap_or_default(),
        }
    }

    /// The engine's sections, for a validated `self`.
    pub fn engine(&self) -> EngineSettings {
        let never = |t: i64| if t == 0 { i64::MAX } else { t };
        let apns = match (
            &self.apns_key_file,
            &self.apns_key_id,
            &self.apns_team_id,
            &self.apns_topic,
        ) {
            (Some(key_file), Some(key_id), Some(team_id), Some(topic)) => Some(ApnsCredentials {
                key_file: key_file.clone(),
                key_id: key_id.clone(),
                team_id: team_id.clone(),
                topic: topic.clone(),
            }),
            _ => None,
        };
        EngineSettings {
            server: Server {
                issuer: self.issuer.clone(),
                dev: self.dev,
                admin_second_factor: self.admin_second_factor,
                trusted_proxies: TrustedProxies::parse(&self.trusted_proxies).unwrap_or_default(),
                outbound: self.outbound_rule(),
                request_timeout: Duration::from_secs(self.request_timeout.unsigned_abs()),
                metrics_separate: self.metrics_listen.is_some(),
                mtls: self.mtls_settings(),
                saml_entity_id: self
                    .saml_entity_id
                    .clone()
                    .unwrap_or_else(|| format!("{}/saml", self.issuer.trim_end_matches('/'))),
            },
            tokens: Tokens {
                access_ttl: self.access_token_ttl,
                id_ttl: self.id_token_ttl,
                refresh_ttl: self.refresh_token_ttl,
                management_ttl: self.management_token_ttl,
                id_token_hint_grace: self.id_token_hint_grace,
            },
            requests: Requests {
                poll_interval: self.poll_interval,
                default_expiry: self.request_expiry,
                max_expiry: self.max_request_expiry,
                user_per_minute: self.user_requests_per_minute,
                client_per_minute: self.client_requests_per_minute,
            },
            devices: Devices {
                challenge_ttl: self.challenge_ttl,
                clock_skew: self.device_clock_skew,
                activation_code_ttl: self.activation_code_ttl,
                activation_password_ttl: self.activation_password_ttl,
                registration_token_ttl: self.registration_token_ttl,
            },
            lockout: Lockout {
                device_threshold: never(self.device_lockout_threshold),
                user_threshold: never(self.user_lockout_threshold),
            },
            delivery_timeout: Duration::from_secs(self.delivery_timeout.unsigned_abs()),
            push: PushProviders {
                fcm_service_account: self.fcm_service_account.clone(),
                fcm_base_url: self.fcm_base_url.clone(),
                apns,
                apns_base_url: self.apns_base_url.clone(),
            },
            registration_access_token: self.registration_access_token.clone(),
            client_auth_failures_per_address: u32::try_from(self.client_auth_failures_per_address).unwrap_or(u32::MAX),
        }
    }
}
