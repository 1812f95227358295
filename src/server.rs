//! `trustid serve`: open the store, load the keys, build the engine's state
//! from the settings' sections, listen.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::crypto::key_ring::KeyRing;
use crate::crypto::keys::SigningKeys;
use crate::store::Store;
use crate::{AppState, oidc, router, store};

mod listen;
mod tls;

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let stop = stop_signal()?;
    // While held, `trustid restore` refuses to replace the file under us.
    let _serving = match settings.database_url.starts_with("sqlite:") {
        true => Some(store::sqlite::backup::ServingLock::take(&settings.database_url)?),
        false => None,
    };
    let store = store::open(&settings.database_url, settings.sqlite_synchronous).await?;
    // A first start generates the RSA keys after the listener is up (they
    // take hundreds of milliseconds); what signs or publishes keys waits for them.
    let (keys, incomplete) = SigningKeys::load_quick(&settings.keys_dir, SystemClock.now())?;
    let address = settings.listen.clone();
    let issuer = settings.issuer.clone();
    let state = build_state(&settings, store, keys, Arc::new(SystemClock));
    if incomplete {
        state.keys.complete(state.clock.now());
    }
    let workers = crate::engine::delivery::spawn_worker(state.clone());
    spawn_key_reloader(state.clone());
    spawn_janitor(state.clone());
    let certificates = settings.tls_files()?.map(tls::Certificates::load).transpose()?;
    let tls = certificates.as_ref().map(|c| c.acceptor(settings.mtls)).transpose()?;
    tls::spawn_reloader(certificates)?;
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("trustid listening on {address} ({scheme})");
    println!("issuer: {issuer}");
    println!(
        "discovery: {}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    println!("add a client: trustid clients add --name \"My bank\"");
    if let Some(address) = &settings.metrics_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (metrics_listen)"))?;
        println!("metrics: http://{address}/metrics");
        let metrics = crate::ops::metrics::router(state.clone());
        tokio::spawn(listen::serve(listener, metrics, None, state.drain.started()));
    }
    let server = listen::serve(listener, router(state.clone()), tls, state.drain.started());
    let mut server = tokio::spawn(server);
    let signal = tokio::select! {
        signal = stop => signal,
        served = &mut server => {
            served?;
            anyhow::bail!("the listener stopped by itself");
        }
    };
    tracing::info!(
        signal,
        "draining: no new connections; in-flight requests and deliveries finish"
    );
    state.drain.start();
    let grace = std::time::Duration::from_secs(settings.shutdown_grace.unsigned_abs());
    let drained = async {
        let served = server.await;
        workers.finished().await;
        served
    };
    match tokio::time::timeout(grace, drained).await {
        Ok(served) => served?,
        Err(_) => tracing::warn!(
            ?grace,
            "still busy after the grace period; exiting (owed deliveries stay owed)"
        ),
    }
    // Standard error, beside the log: standard output holds the start-up banner only.
    eprintln!("trustid stopped ({signal})");
    Ok(())
}

/// Completes on SIGTERM (systemd, Kubernetes, `docker stop`) or SIGINT
/// (Ctrl-C). Installed at once: from then on neither kills the process.
fn stop_signal() -> anyhow::Result<impl Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// The engine's state for validated `settings`: each part gets its section.
pub fn build_state(settings: &Settings, store: Arc<dyn Store>, keys: SigningKeys, clock: Arc<dyn Clock>) -> AppState {
    let engine = settings.engine();
    let discovery = oidc::discovery::document(&engine.server, engine.registration_access_token.is_some());
    let keys = KeyRing::new(settings.keys_dir.clone(), keys);
    AppState::new(engine, store, keys, clock, Bytes::from(discovery.to_string()))
}

/// Re-reads the shared keys directory every minute, so that a `trustid keys
/// rotate` (or retire) reaches every instance without a restart.
fn spawn_key_reloader(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            // Reading (and, for a missing algorithm, generating) keys is
            // blocking file and CPU work: keep it off the async workers.
            let (keys, now) = (state.keys.clone(), state.clock.now());
            let _ = tokio::task::spawn_blocking(move || keys.reload(now)).await;
        }
    });
}

/// Every ten minutes: forgets finished SAML logins and old AuthnRequest IDs,
/// ended console sessions and old failed sign-ins.
fn spawn_janitor(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            crate::engine::saml_login::prune(&state).await;
            crate::engine::admin_sessions::prune(&state).await;
        }
    });
}
