//! A test PKI: a certificate authority made at run time in a temporary directory, issuing
//! server certificates with chosen names, key types and validity periods.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Name, X509NameBuilder};
use tempfile::TempDir;

/// One day in seconds.
const DAY: i64 = 24 * 60 * 60;

/// The validity period of an issued certificate, relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid now: from one day ago to 30 days from now.
    Valid,
    /// Expired: from 30 days ago to one day ago (`notAfter` in the past).
    Expired,
    /// Not yet valid: from one day from now to 30 days from now (`notBefore` in the future).
    NotYetValid,
}

impl Validity {
    /// `(notBefore, notAfter)` as Unix seconds, relative to `now`.
    fn bounds(self, now: i64) -> (i64, i64) {
        match self {
            Self::Valid => (now - DAY, now + 30 * DAY),
            Self::Expired => (now - 30 * DAY, now - DAY),
            Self::NotYetValid => (now + DAY, now + 30 * DAY),
        }
    }
}

/// The key type of an issued certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA 2048 (what RSA key-exchange suites need on the server).
    Rsa2048,
    /// ECDSA on P-256 (for `ECDHE-ECDSA-*` suites).
    EcdsaP256,
}

/// What an issued certificate is for (its extended key usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Server,
    Client,
}

/// A certificate authority for one test: `ca.pem` and `ca.key` in a temporary directory that
/// is removed when the value is dropped, together with every certificate it issued.
#[derive(Debug)]
pub struct TestCa {
    dir: TempDir,
    name: String,
    cert: X509,
    key: PKey<Private>,
    next_serial: AtomicU32,
}

impl TestCa {
    /// A new self-signed CA (RSA 2048, SHA-256, `CN=<name>`, `O=mppd tests`), written to
    /// `ca.pem` and `ca.key` in a fresh temporary directory.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mppd-testca-")
            .tempdir()
            .unwrap_or_else(|e| panic!("TestCa {name}: creating a temp dir: {e}"));
        let (cert, key) = make_ca(name).unwrap_or_else(|e| panic!("TestCa {name}: {e}"));
        let ca = Self {
            dir,
            name: name.to_owned(),
            cert,
            key,
            next_serial: AtomicU32::new(2),
        };
        write_pem(&ca.cert_path(), &ca.cert.to_pem(), &ca.name);
        write_pem(&ca.key_path(), &ca.key.private_key_to_pem_pkcs8(), &ca.name);
        ca
    }

    /// The CA's name (its CN).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory holding `ca.pem`, `ca.key` and the issued files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `ca.pem`: the CA certificate.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `ca.key`: the CA's private key (PKCS#8 PEM).
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("ca.key")
    }

    /// The CA certificate.
    pub fn cert(&self) -> &X509 {
        &self.cert
    }

    /// Copies `ca.pem` to `STATE/ca/<file_name>` (creating `STATE/ca/`), the custom CA of a
    /// state directory, and returns that path.
    pub fn install_into(&self, state_dir: &Path, file_name: &str) -> PathBuf {
        let ca_dir = state_dir.join("ca");
        fs::create_dir_all(&ca_dir)
            .unwrap_or_else(|e| panic!("creating {}: {e}", ca_dir.display()));
        let dest = ca_dir.join(file_name);
        fs::copy(self.cert_path(), &dest).unwrap_or_else(|e| {
            panic!(
                "copying {} to {}: {e}",
                self.cert_path().display(),
                dest.display()
            )
        });
        dest
    }

    /// Issues an RSA 2048 server certificate and returns `(cert_path, key_path)`.
    ///
    /// `names` become DNS subject alternative names and `ips` IP subject alternative names;
    /// when both are empty the certificate has no SAN extension at all. `cn` is the subject's
    /// common name (none when `None`). The certificate has `extendedKeyUsage = serverAuth`,
    /// `keyUsage = digitalSignature, keyEncipherment` and is signed with SHA-256.
    pub fn issue_server(
        &self,
        names: &[&str],
        ips: &[IpAddr],
        cn: Option<&str>,
        validity: Validity,
    ) -> (PathBuf, PathBuf) {
        self.issue_server_key(names, ips, cn, validity, KeyType::Rsa2048)
    }

    /// A server certificate with only a common name: no subject alternative name extension.
    pub fn issue_server_cn_only(&self, cn: &str, validity: Validity) -> (PathBuf, PathBuf) {
        self.issue_server(&[], &[], Some(cn), validity)
    }

    /// [`issue_server`](Self::issue_server) with a chosen key type.
    pub fn issue_server_key(
        &self,
        names: &[&str],
        ips: &[IpAddr],
        cn: Option<&str>,
        validity: Validity,
        key_type: KeyType,
    ) -> (PathBuf, PathBuf) {
        self.issue(Purpose::Server, names, ips, cn, validity, key_type)
    }

    /// An RSA 2048 client certificate (`extendedKeyUsage = clientAuth`, no SAN) with subject
    /// `O=mppd tests, CN=<cn>`; returns `(cert_path, key_path)`.
    pub fn issue_client(&self, cn: &str, validity: Validity) -> (PathBuf, PathBuf) {
        self.issue(
            Purpose::Client,
            &[],
            &[],
            Some(cn),
            validity,
            KeyType::Rsa2048,
        )
    }

    fn issue(
        &self,
        purpose: Purpose,
        names: &[&str],
        ips: &[IpAddr],
        cn: Option<&str>,
        validity: Validity,
        key_type: KeyType,
    ) -> (PathBuf, PathBuf) {
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let kind = match purpose {
            Purpose::Server => "server",
            Purpose::Client => "client",
        };
        let what = format!(
            "TestCa {}: issuing {kind} certificate #{serial} (names {names:?}, ips {ips:?}, cn {cn:?})",
            self.name
        );
        let (cert, key) = self
            .make_leaf(purpose, names, ips, cn, validity, key_type, serial)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let cert_path = self.dir.path().join(format!("{kind}-{serial}.pem"));
        let key_path = self.dir.path().join(format!("{kind}-{serial}.key"));
        write_pem(&cert_path, &cert.to_pem(), &what);
        write_pem(&key_path, &key.private_key_to_pem_pkcs8(), &what);
        (cert_path, key_path)
    }

    #[allow(clippy::too_many_arguments)] // private; every argument is one property of the leaf
    fn make_leaf(
        &self,
        purpose: Purpose,
        names: &[&str],
        ips: &[IpAddr],
        cn: Option<&str>,
        validity: Validity,
        key_type: KeyType,
        serial: u32,
    ) -> Result<(X509, PKey<Private>), ErrorStack> {
        let key = match key_type {
            KeyType::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
            KeyType::EcdsaP256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                PKey::from_ec_key(EcKey::generate(&group)?)?
            }
        };
        let mut subject = X509NameBuilder::new()?;
        subject.append_entry_by_nid(Nid::ORGANIZATIONNAME, "mppd tests")?;
        if let Some(cn) = cn {
            subject.append_entry_by_nid(Nid::COMMONNAME, cn)?;
        }
        let subject = subject.build();

        let mut b = base_builder(&subject, self.cert.subject_name(), &key, validity, serial)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        let eku = match purpose {
            Purpose::Server => ExtendedKeyUsage::new().server_auth().build()?,
            Purpose::Client => ExtendedKeyUsage::new().client_auth().build()?,
        };
        b.append_extension(eku)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(aki)?;
        if !names.is_empty() || !ips.is_empty() {
            let mut san = SubjectAlternativeName::new();
            for n in names {
                san.dns(n);
            }
            for ip in ips {
                san.ip(&ip.to_string());
            }
            let san = san.build(&b.x509v3_context(Some(&self.cert), None))?;
            b.append_extension(san)?;
        }
        b.sign(&self.key, MessageDigest::sha256())?;
        Ok((b.build(), key))
    }
}

/// A self-signed CA certificate and its key.
fn make_ca(name: &str) -> Result<(X509, PKey<Private>), ErrorStack> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut subject = X509NameBuilder::new()?;
    subject.append_entry_by_nid(Nid::ORGANIZATIONNAME, "mppd tests")?;
    subject.append_entry_by_nid(Nid::COMMONNAME, name)?;
    let subject = subject.build();
    let mut b = base_builder(&subject, &subject, &key, Validity::Valid, 1)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((b.build(), key))
}

/// A v3 certificate builder with subject, issuer, public key, serial and validity set.
fn base_builder(
    subject: &X509Name,
    issuer: &openssl::x509::X509NameRef,
    key: &PKey<Private>,
    validity: Validity,
    serial: u32,
) -> Result<X509Builder, ErrorStack> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let (not_before, not_after) = validity.bounds(now);
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = BigNum::from_u32(serial)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(issuer)?;
    b.set_pubkey(key)?;
    let not_before = Asn1Time::from_unix(not_before)?;
    let not_after = Asn1Time::from_unix(not_after)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    Ok(b)
}

/// Writes PEM bytes produced by OpenSSL (or panics saying `what` failed).
fn write_pem(path: &Path, pem: &Result<Vec<u8>, ErrorStack>, what: &str) {
    let bytes = match pem {
        Ok(b) => b,
        Err(e) => panic!("{what}: encoding {}: {e}", path.display()),
    };
    fs::write(path, bytes).unwrap_or_else(|e| panic!("{what}: writing {}: {e}", path.display()));
}
