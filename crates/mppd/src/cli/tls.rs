//! `mppd tls probe|ciphers` and `mppd identity show|create` (docs/cli.md).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use mppd_config::identity::Mac;
use mppd_config::validate::split_host_port;
use mppd_core::tls::{self, CipherSource, ClientApp, WEB_DEFAULT_SUITES};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder, X509NameRef};
use serde_json::json;

use super::{CmdResult, Failure, Format, print_json, profile_for};
use crate::state::StateDir;
use crate::tls as shell;

/// `mppd tls ...`.
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Connect with the policy the profile gives an application; print `ok VERSION CIPHER` or
    /// `fail REASON: DETAIL`.
    Probe {
        /// The profile (default: STATE/profile.xml, else the embedded default).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// The application whose policy applies.
        #[arg(long, value_enum, default_value_t = ProbeApp::Provisioning)]
        app: ProbeApp,
        /// The SIP line (for `--app sip`).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
        line: u8,
        /// The name sent as SNI and checked against the certificate (default: HOST).
        #[arg(long, value_name = "HOST")]
        name: Option<String>,
        /// The server, `HOST:PORT`.
        target: String,
    },
    /// Print the suites an application offers (or the web server accepts).
    Ciphers {
        /// The profile (default: STATE/profile.xml, else the embedded default).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// The application.
        #[arg(long, value_enum, default_value_t = CipherApp::Sip)]
        app: CipherApp,
    },
}

/// Applications for `tls probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeApp {
    /// HTTPS provisioning.
    Provisioning,
    /// SIP over TLS.
    Sip,
    /// LDAPS / StartTLS.
    Ldap,
    /// XMPP.
    Xmpp,
    /// Report and PRT upload.
    Upload,
}

/// Applications for `tls ciphers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CipherApp {
    /// The HTTPS web server.
    Web,
    /// XMPP.
    Xmpp,
    /// SIP over TLS.
    Sip,
    /// HTTPS provisioning.
    Provisioning,
    /// LDAPS / StartTLS.
    Ldap,
    /// Report and PRT upload.
    Upload,
}

/// `mppd identity ...`.
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Show the device identity of the state directory.
    Show {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Create a device key and certificate signed by a CA (labs, tests, emulated phones).
    Create {
        /// The CA certificate (PEM).
        #[arg(long, value_name = "FILE")]
        ca_cert: PathBuf,
        /// The CA private key (PEM).
        #[arg(long, value_name = "FILE")]
        ca_key: PathBuf,
        /// The MAC address (subject ST).
        #[arg(long)]
        mac: String,
        /// The serial number (subject L).
        #[arg(long)]
        serial: String,
        /// The product name, e.g. CP-8851-3PCC (subject OU).
        #[arg(long)]
        product: String,
        /// Validity in days.
        #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: u32,
    },
}

fn client_app(app: ProbeApp, line: u8) -> ClientApp {
    match app {
        ProbeApp::Provisioning => ClientApp::Provisioning,
        ProbeApp::Sip => ClientApp::Sip { line },
        ProbeApp::Ldap => ClientApp::Ldap,
        ProbeApp::Xmpp => ClientApp::Xmpp,
        ProbeApp::Upload => ClientApp::Upload,
    }
}

/// Runs `mppd tls ...`.
pub fn run(state: &StateDir, cmd: &TlsCommand) -> CmdResult {
    match cmd {
        TlsCommand::Probe {
            profile,
            app,
            line,
            name,
            target,
        } => probe(
            state,
            profile.as_deref(),
            client_app(*app, *line),
            name.as_deref(),
            target,
        ),
        TlsCommand::Ciphers { profile, app } => ciphers(state, profile.as_deref(), *app),
    }
}

fn probe(
    state: &StateDir,
    profile: Option<&Path>,
    app: ClientApp,
    name: Option<&str>,
    target: &str,
) -> CmdResult {
    let (host, port) = split_host_port(target)
        .map_err(|e| Failure::Usage(format!("{target:?} is not HOST:PORT: {e}")))?;
    let port = port.ok_or_else(|| Failure::Usage(format!("{target:?} has no port")))?;
    let profile = profile_for(state, profile)?;
    let policy = tls::client_policy(&profile, app);
    let (connector, warnings) = shell::connector(&policy, state).map_err(|e| {
        eprintln!("mppd: {e}");
        Failure::Failed
    })?;
    for w in warnings {
        eprintln!("mppd: warning: {w}");
    }
    let name = name.unwrap_or(host);
    match shell::probe(&policy, &connector, host, port, name) {
        Ok(ok) => {
            println!("ok {} {}", ok.version, ok.cipher);
            Ok(())
        }
        Err(f) => {
            println!("fail {f}");
            Err(Failure::Failed)
        }
    }
}

fn ciphers(state: &StateDir, profile: Option<&Path>, app: CipherApp) -> CmdResult {
    let profile = profile_for(state, profile)?;
    let fail = |e: shell::TlsError| {
        eprintln!("mppd: {e}");
        Failure::Failed
    };
    let (connector, warnings, source, label, wanted): (_, _, _, &str, Vec<String>) = match app {
        CipherApp::Web => {
            let policy = tls::server_policy(&profile);
            let (c, w) = shell::server_like_connector(&policy).map_err(fail)?;
            let wanted = match policy.ciphers.source {
                CipherSource::Configured => Vec::new(),
                _ => WEB_DEFAULT_SUITES.iter().map(|s| (*s).to_owned()).collect(),
            };
            (c, w, policy.ciphers.source, "web", wanted)
        }
        other => {
            let app = match other {
                CipherApp::Xmpp => ClientApp::Xmpp,
                CipherApp::Sip => ClientApp::Sip { line: 1 },
                CipherApp::Ldap => ClientApp::Ldap,
                CipherApp::Upload => ClientApp::Upload,
                _ => ClientApp::Provisioning,
            };
            let policy = tls::client_policy(&profile, app);
            let (c, w) = shell::connector(&policy, state).map_err(fail)?;
            (c, w, policy.ciphers.source, app.name(), Vec::new())
        }
    };
    for w in &warnings {
        eprintln!("mppd: warning: {w}");
    }
    let (old, tls13) = shell::offered_suites(&connector).map_err(fail)?;
    let mut out = std::io::stdout().lock();
    for s in &old {
        let _ = writeln!(out, "{s}");
    }
    let missing: Vec<&String> = wanted.iter().filter(|w| !old.contains(w)).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(
            out,
            "# unavailable in this OpenSSL build: {}",
            names.join(", ")
        );
    }
    let _ = writeln!(out, "# tls1.3: {}", tls13.join(", "));
    let line = match source {
        CipherSource::Configured => "# list: configured TLS_Cipher_List".to_owned(),
        CipherSource::DefaultEmpty => format!("# list: default for {label}"),
        CipherSource::DefaultInvalid(e) => format!(
            "# list: default for {label} (TLS_Cipher_List {:?} is invalid: {e})",
            profile.effective("TLS_Cipher_List").unwrap_or_default()
        ),
    };
    let _ = writeln!(out, "{line}");
    Ok(())
}

/// Runs `mppd identity ...`.
pub fn identity(state: &StateDir, cmd: &IdentityCommand) -> CmdResult {
    match cmd {
        IdentityCommand::Show { format } => identity_show(state, *format),
        IdentityCommand::Create {
            ca_cert,
            ca_key,
            mac,
            serial,
            product,
            days,
        } => identity_create(state, ca_cert, ca_key, mac, serial, product, *days),
    }
}

fn name_string(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect();
    parts.join(", ")
}

fn identity_show(state: &StateDir, format: Format) -> CmdResult {
    let loaded = state.identity().map_err(|e| {
        eprintln!("mppd: {e}");
        Failure::Failed
    })?;
    let id = &loaded.identity;
    let cert = fs::read(state.identity_dir().join("device.pem"))
        .ok()
        .and_then(|b| X509::from_pem(&b).ok());
    let (subject, issuer, expires) = match &cert {
        Some(c) => (
            Some(name_string(c.subject_name())),
            Some(name_string(c.issuer_name())),
            Some(c.not_after().to_string()),
        ),
        None => (None, None, None),
    };
    let mac = id.mac.as_ref().map(Mac::colon);
    match format {
        Format::Json => print_json(&json!({
            "mac": mac,
            "serial": id.serial,
            "product_name": id.product_name,
            "psn": id.psn(),
            "firmware_version": id.firmware_version,
            "ccert": id.ccert(),
            "emulated": loaded.emulated,
            "certificate": cert.as_ref().map(|_| json!({
                "subject": subject, "issuer": issuer, "not_after": expires,
            })),
        })),
        Format::Text => {
            let mut out = std::io::stdout().lock();
            let v = |o: Option<&str>| o.unwrap_or("unknown").to_owned();
            let _ = writeln!(out, "mac:       {}", v(mac.as_deref()));
            let _ = writeln!(out, "serial:    {}", v(id.serial.as_deref()));
            let _ = writeln!(out, "product:   {}", v(id.product_name.as_deref()));
            let _ = writeln!(out, "psn:       {}", v(id.psn()));
            let _ = writeln!(out, "firmware:  {}", v(id.firmware_version.as_deref()));
            let _ = writeln!(out, "ccert:     {}", id.ccert());
            if loaded.emulated {
                let _ = writeln!(out, "(emulated lab identity: the state dir has none)");
            }
            if let (Some(s), Some(i), Some(e)) = (subject, issuer, expires) {
                let _ = writeln!(out, "subject:   {s}");
                let _ = writeln!(out, "issuer:    {i}");
                let _ = writeln!(out, "expires:   {e}");
            }
        }
    }
    Ok(())
}

/// Writes a private file (mode 0600) atomically.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".device.key.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn identity_create(
    state: &StateDir,
    ca_cert: &Path,
    ca_key: &Path,
    mac: &str,
    serial: &str,
    product: &str,
    days: u32,
) -> CmdResult {
    let mac: Mac = mac
        .parse()
        .map_err(|e| Failure::Usage(format!("--mac: {e}")))?;
    for (flag, v) in [("--serial", serial), ("--product", product)] {
        if v.trim().is_empty() || v.chars().any(char::is_control) {
            return Err(Failure::Usage(format!(
                "{flag} {v:?} is empty or has control characters"
            )));
        }
    }
    let read = |p: &Path| {
        fs::read(p).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", p.display())))
    };
    let ca = X509::from_pem(&read(ca_cert)?).map_err(|e| {
        Failure::Usage(format!("{}: not a PEM certificate: {e}", ca_cert.display()))
    })?;
    let ca_pkey = PKey::private_key_from_pem(&read(ca_key)?)
        .map_err(|e| Failure::Usage(format!("{}: not a PEM private key: {e}", ca_key.display())))?;
    if !ca.public_key().is_ok_and(|k| k.public_eq(&ca_pkey)) {
        return Err(Failure::Usage(format!(
            "{} is not the key of {}",
            ca_key.display(),
            ca_cert.display()
        )));
    }
    let built = (|| -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
        let key = PKey::from_rsa(Rsa::generate(2048)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, product)?;
        name.append_entry_by_nid(Nid::LOCALITYNAME, serial)?;
        name.append_entry_by_nid(Nid::STATEORPROVINCENAME, &mac.colon())?;
        let name = name.build();
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let mut sn = BigNum::new()?;
        sn.rand(64, MsbOption::MAYBE_ZERO, false)?;
        let sn = sn.to_asn1_integer()?;
        b.set_serial_number(&sn)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(ca.subject_name())?;
        b.set_pubkey(&key)?;
        let not_before = Asn1Time::days_from_now(0)?;
        b.set_not_before(&not_before)?;
        let not_after = Asn1Time::days_from_now(days)?;
        // A device certificate never outlives the CA that signs it.
        if not_after.as_ref() > ca.not_after() {
            eprintln!(
                "mppd: the CA expires {}: the device certificate ends then too",
                ca.not_after()
            );
            b.set_not_after(ca.not_after())?;
        } else {
            b.set_not_after(&not_after)?;
        }
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&ca), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&ca), None))?;
        b.append_extension(aki)?;
        b.sign(&ca_pkey, MessageDigest::sha256())?;
        Ok((b.build().to_pem()?, key.private_key_to_pem_pkcs8()?))
    })()
    .map_err(|e| {
        eprintln!("mppd: cannot create the certificate: {e}");
        Failure::Failed
    })?;
    let dir = state.identity_dir();
    fs::create_dir_all(&dir).map_err(|e| {
        eprintln!("mppd: cannot create {}: {e}", dir.display());
        Failure::Failed
    })?;
    let (pem, key) = built;
    let key_path = dir.join("device.key");
    let pem_path = dir.join("device.pem");
    write_private(&key_path, &key)
        .and_then(|()| mppd_config::store::write_atomic(&pem_path, &pem))
        .map_err(|e| {
            eprintln!(
                "mppd: cannot write the identity into {}: {e}",
                dir.display()
            );
            Failure::Failed
        })?;
    eprintln!(
        "mppd: wrote {} and {} (OU={product}, L={serial}, ST={})",
        pem_path.display(),
        key_path.display(),
        mac.colon()
    );
    Ok(())
}
