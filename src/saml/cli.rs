//! `trustid saml sps add|list|remove|import`: the operator's commands for
//! the registry of service providers. Every refusal is a message and a
//! non-zero exit, with nothing stored.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use url::Url;

use crate::domain::saml_cert::{CertUse, SpCertificate};
use crate::domain::saml_sp::{EntityId, NameIdFormat, SamlSpSettings, SignedParts, parse_attributes, post_endpoints};
use crate::domain::saml_sp_metadata::parse_sp_metadata;
use crate::engine::saml_sps::{self, SpListing};
use crate::store::Store;

#[derive(Subcommand)]
pub enum SamlCommand {
    /// The service providers trustid answers as a SAML IdP.
    #[command(subcommand)]
    Sps(SpsCommand),
}

#[derive(Subcommand)]
pub enum SpsCommand {
    /// Register a service provider.
    Add {
        /// Its entity ID (the Issuer of its requests).
        #[arg(long)]
        entity_id: String,
        #[command(flatten)]
        flags: SpFlags,
        /// Answer in JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Every registered service provider.
    List {
        /// Answer in JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove a service provider.
    Remove {
        /// The SP's entity ID.
        entity_id: String,
    },
    /// Register a service provider from its SAML metadata (an EntityDescriptor
    /// with an SPSSODescriptor); the flags override what it says.
    Import {
        /// The SP's metadata file (XML).
        metadata: PathBuf,
        /// Register under this entity ID instead of the metadata's.
        #[arg(long)]
        entity_id: Option<String>,
        #[command(flatten)]
        flags: SpFlags,
        /// Answer in JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// What `add` sets and `import` overrides.
#[derive(Args)]
pub struct SpFlags {
    /// An AssertionConsumerService URL (HTTP-POST; https, http on loopback in
    /// dev mode); repeatable, indexed in order, the first is the default.
    #[arg(long = "acs")]
    acs: Vec<String>,
    /// The name the user's device shows.
    #[arg(long)]
    name: Option<String>,
    /// Its signing certificate (PEM or base64 DER): its requests must then be signed.
    #[arg(long)]
    signing_cert: Option<PathBuf>,
    /// Its encryption certificate (PEM or base64 DER): assertions are then encrypted.
    #[arg(long)]
    encryption_cert: Option<PathBuf>,
    /// persistent (default), transient, emailAddress or unspecified.
    #[arg(long)]
    name_id_format: Option<NameIdFormat>,
    /// The attributes it receives, by SAML name, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    attributes: Option<Vec<String>>,
    /// What trustid signs: response (default), assertion or both.
    #[arg(long)]
    sign: Option<SignedParts>,
    /// Allow IdP-initiated login (/saml/sso?sp=ENTITY_ID).
    #[arg(long)]
    idp_initiated: bool,
    /// The RelayState an IdP-initiated login sends.
    #[arg(long, requires = "idp_initiated")]
    relay_state: Option<String>,
    /// The app (appId) its logins are for.
    #[arg(long)]
    app_id: Option<String>,
    /// Its SingleLogoutService URL, where LogoutResponses go.
    #[arg(long)]
    logout_url: Option<String>,
    /// A client that may export this SP's Assertions of its own approved
    /// transactions (POST /manage/v1/saml/assertions); repeatable.
    #[arg(long = "exporter")]
    exporters: Vec<String>,
}

/// Runs `command` against `store`; `dev` allows http ACS URLs on loopback.
pub async fn run(store: &dyn Store, dev: bool, now: i64, command: SamlCommand) -> anyhow::Result<()> {
    let SamlCommand::Sps(command) = command;
    match command {
        SpsCommand::Add { entity_id, flags, json } => {
            let entity_id = EntityId::parse(&entity_id).map_err(|e| anyhow!("--entity-id: {e}"))?;
            let first = flags
                .acs
                .first()
                .ok_or_else(|| anyhow!("give at least one --acs URL"))?;
            let mut settings = SamlSpSettings::new(entity_id, parse_url(first)?);
            flags.apply(&mut settings)?;
            register(store, settings, dev, now, json).await
        }
        SpsCommand::Import {
            metadata,
            entity_id,
            flags,
            json,
        } => {
            let xml =
                std::fs::read_to_string(&metadata).with_context(|| format!("cannot read {}", metadata.display()))?;
            let mut md = parse_sp_metadata(&xml).map_err(|e| anyhow!("{}: {e}", metadata.display()))?;
            if let Some(e) = entity_id {
                md.entity_id = EntityId::parse(&e).map_err(|e| anyhow!("--entity-id: {e}"))?;
            }
            let mut settings = md.into_settings();
            flags.apply(&mut settings)?;
            register(store, settings, dev, now, json).await
        }
        SpsCommand::List { json } => {
            let sps = saml_sps::list_saml_sps(store).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sps)?);
            } else {
                println!("ENTITY ID\tNAME\tACS\tSIGNED REQUESTS\tSIGN\tNAME ID");
                for sp in &sps {
                    println!("{}", row(sp));
                }
            }
            Ok(())
        }
        SpsCommand::Remove { entity_id } => {
            saml_sps::remove_saml_sp(store, &entity_id, now).await?;
            println!("SAML SP {entity_id} removed");
            Ok(())
        }
    }
}

async fn register(store: &dyn Store, settings: SamlSpSettings, dev: bool, now: i64, json: bool) -> anyhow::Result<()> {
    let sp = SpListing::from(saml_sps::add_saml_sp(store, settings, dev, now).await?);
    if json {
        println!("{}", serde_json::to_string_pretty(&sp)?);
    } else {
        println!("SAML SP {} registered (id {})", sp.settings.entity_id, sp.id);
    }
    Ok(())
}

/// One line of `list`'s table.
fn row(sp: &SpListing) -> String {
    let s = &sp.settings;
    let acs: Vec<&str> = s.acs.iter().map(|a| a.url.as_str()).collect();
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        s.entity_id,
        s.display_name,
        acs.join(","),
        if s.signing_cert.is_some() { "required" } else { "no" },
        s.sign.as_str(),
        s.name_id_format.as_str()
    )
}

impl SpFlags {
    /// Sets what the flags name on `settings`; `--acs` replaces every ACS.
    fn apply(self, settings: &mut SamlSpSettings) -> anyhow::Result<()> {
        if !self.acs.is_empty() {
            let urls = self
                .acs
                .iter()
                .map(|raw| parse_url(raw))
                .collect::<anyhow::Result<_>>()?;
            settings.acs = post_endpoints(urls);
        }
        if let Some(name) = self.name {
            settings.display_name = name;
        }
        if let Some(file) = &self.signing_cert {
            settings.signing_cert = Some(read_cert(file, CertUse::Signing, "--signing-cert")?);
        }
        if let Some(file) = &self.encryption_cert {
            settings.encryption_cert = Some(read_cert(file, CertUse::Encryption, "--encryption-cert")?);
        }
        if let Some(format) = self.name_id_format {
            settings.name_id_format = format;
        }
        if let Some(names) = &self.attributes {
            settings.attributes = Some(parse_attributes(names).map_err(|e| anyhow!("--attributes: {e}"))?);
        }
        if let Some(sign) = self.sign {
            settings.sign = sign;
        }
        settings.idp_initiated |= self.idp_initiated;
        if self.relay_state.is_some() {
            settings.default_relay_state = self.relay_state;
        }
        if self.app_id.is_some() {
            settings.app_id = self.app_id;
        }
        if !self.exporters.is_empty() {
            settings.exporters = self.exporters;
        }
        if let Some(raw) = &self.logout_url {
            settings.logout_url = Some(Url::parse(raw).map_err(|e| anyhow!("--logout-url `{raw}` is not a URL: {e}"))?);
        }
        Ok(())
    }
}

fn parse_url(raw: &str) -> anyhow::Result<Url> {
    Url::parse(raw).map_err(|e| anyhow!("--acs `{raw}` is not a URL: {e}"))
}

fn read_cert(file: &Path, usage: CertUse, flag: &str) -> anyhow::Result<SpCertificate> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{flag}: cannot read {}", file.display()))?;
    SpCertificate::parse(&text, usage).map_err(|e| anyhow!("{flag} {}: the certificate {e}", file.display()))
}
