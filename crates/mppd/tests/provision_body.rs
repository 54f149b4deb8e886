#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Profile bodies against the real `openssl enc` and `gzip` command lines (issue 4, item 3;
//! `reference/mpp-provisioning.md` §2.3-§2.4, §5.1): `--key` bodies made with `-md sha256` and
//! `-md md5`, gzip before encryption, plain gzip, wrong keys, truncation, Wazo's hex keys, FIPS,
//! a gzip bomb, and the `Report_Rule` direction (`encrypt`, decrypted by `openssl enc -d`).
//!
//! Every test works in its own temporary directory. OpenSSL 3 prints "deprecated key
//! derivation used" on stderr for `-k` without `-pbkdf2`; that is expected and ignored.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mppd::provision::body::{BodyError, decode, encrypt};
use mppd_config::xml::MAX_PROFILE_BYTES;
use tempfile::TempDir;

const PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/profiles/fusionpbx-8851.xml"
);

const KEY: &str = "SecretPhrase1234";

fn profile() -> Vec<u8> {
    fs::read(PROFILE).expect("shared profile fusionpbx-8851.xml")
}

/// Run a command, fail the test with its stderr unless it succeeds.
fn run(cmd: &mut Command) {
    let out = cmd.stdin(Stdio::null()).output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl enc -aes-256-cbc -salt [-md MD] -k KEY -in IN -out OUT`; returns OUT's bytes.
fn openssl_enc(dir: &Path, input: &Path, md: Option<&str>, key: &str) -> Vec<u8> {
    let out = dir.join(format!(
        "{}.{}.enc",
        input.file_name().unwrap().to_string_lossy(),
        md.unwrap_or("default")
    ));
    let mut cmd = Command::new("openssl");
    cmd.args(["enc", "-e", "-aes-256-cbc", "-salt"]);
    if let Some(md) = md {
        cmd.args(["-md", md]);
    }
    cmd.arg("-k")
        .arg(key)
        .arg("-in")
        .arg(input)
        .arg("-out")
        .arg(&out);
    run(&mut cmd);
    let body = fs::read(&out).unwrap();
    assert!(body.starts_with(b"Salted__"), "openssl enc output format");
    body
}

/// `gzip -c IN > IN.gz`; returns the path of the `.gz`.
fn gzip(input: &Path) -> PathBuf {
    let out = input.with_extension("xml.gz");
    let file = fs::File::create(&out).unwrap();
    run(Command::new("gzip")
        .args(["-9", "-c"])
        .arg(input)
        .stdout(file));
    out
}

/// A temp dir holding a copy of the shared profile.
fn dir_with_profile() -> (TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = profile();
    let path = dir.path().join("profile.xml");
    fs::write(&path, &bytes).unwrap();
    (dir, path, bytes)
}

#[test]
fn sha256_and_md5_encrypted_profiles_decode_to_the_original_bytes() {
    let (dir, path, original) = dir_with_profile();
    for md in [Some("sha256"), Some("md5"), None] {
        let body = openssl_enc(dir.path(), &path, md, KEY);
        assert_eq!(
            decode(&body, Some(KEY), false).unwrap(),
            original,
            "-md {md:?}"
        );
    }
    // The key may contain spaces ([--key "my secret phrase"], quotes removed by the parser).
    let body = openssl_enc(dir.path(), &path, Some("md5"), "my secret phrase");
    assert_eq!(
        decode(&body, Some("my secret phrase"), false).unwrap(),
        original
    );
}

#[test]
fn gzip_then_encrypted_decodes() {
    let (dir, path, original) = dir_with_profile();
    let gz = gzip(&path);
    for md in ["sha256", "md5"] {
        let body = openssl_enc(dir.path(), &gz, Some(md), KEY);
        assert_eq!(decode(&body, Some(KEY), false).unwrap(), original, "{md}");
    }
}

#[test]
fn plain_gzip_decodes_without_a_key() {
    let (_dir, path, original) = dir_with_profile();
    let body = fs::read(gzip(&path)).unwrap();
    assert_eq!(&body[..2], [0x1f, 0x8b]);
    assert_eq!(decode(&body, None, false).unwrap(), original);
    // Plain XML passes through unchanged.
    assert_eq!(decode(&original, None, false).unwrap(), original);
}

#[test]
fn wrong_key_is_wrong_key() {
    let (dir, path, _) = dir_with_profile();
    let gz = gzip(&path);
    for input in [&path, &gz] {
        for md in ["sha256", "md5"] {
            let body = openssl_enc(dir.path(), input, Some(md), KEY);
            let err = decode(&body, Some("SecretPhrase1235"), false).unwrap_err();
            assert_eq!(err, BodyError::WrongKey, "{input:?} -md {md}");
            assert!(err.to_string().contains("wrong --key"), "{err}");
            assert_eq!(
                decode(&body, Some(""), false).unwrap_err(),
                BodyError::WrongKey
            );
        }
    }
}

#[test]
fn key_and_format_must_agree() {
    let (dir, path, original) = dir_with_profile();
    // A key but a plaintext (or plain gzip) body: the phone decrypts whenever a key is present.
    let err = decode(&original, Some(KEY), false).unwrap_err();
    assert!(matches!(err, BodyError::NotEncrypted { .. }), "{err:?}");
    assert!(err.to_string().contains("not encrypted"), "{err}");
    let gz = fs::read(gzip(&path)).unwrap();
    assert!(matches!(
        decode(&gz, Some(KEY), false),
        Err(BodyError::NotEncrypted { .. })
    ));
    // An encrypted body but no key.
    let body = openssl_enc(dir.path(), &path, Some("sha256"), KEY);
    assert_eq!(decode(&body, None, false), Err(BodyError::KeyRequired));
}

#[test]
fn truncated_ciphertext_is_an_error_never_a_panic() {
    let (dir, path, _) = dir_with_profile();
    let gz = gzip(&path);
    for input in [&path, &gz] {
        for md in ["sha256", "md5"] {
            let body = openssl_enc(dir.path(), input, Some(md), KEY);
            // Every cut in and just after the header, every block boundary near the end,
            // and a sweep through the rest.
            let mut cuts: Vec<usize> = (0..=40).collect();
            cuts.extend((1..=4).map(|blocks| body.len() - 16 * blocks));
            cuts.extend((1..=17).map(|n| body.len() - n));
            cuts.extend((40..body.len()).step_by(997));
            for cut in cuts {
                let result = decode(&body[..cut], Some(KEY), false);
                let err = result.expect_err(&format!("{input:?} -md {md} cut at {cut}"));
                // Even a cut at a block boundary keeps the right key recognisable (the first
                // block decrypts to XML or a gzip header): truncation, not a wrong key.
                assert!(
                    matches!(err, BodyError::Truncated { .. })
                        || (input == &gz && matches!(err, BodyError::Corrupt { .. })),
                    "{input:?} -md {md} cut at {cut}: {err:?}"
                );
                assert!(err.to_string().contains("truncated"), "{err}");
            }
        }
    }
    // A cut plain gzip body too (from the full magic on: shorter bodies are not gzip and are
    // passed on, for the XML parser to refuse).
    let body = fs::read(&gz).unwrap();
    let cuts = [2, 5, 10, 20, body.len() / 2, body.len() - 8, body.len() - 1];
    for cut in cuts {
        let err = decode(&body[..cut], None, false).expect_err(&format!("gzip cut at {cut}"));
        assert!(
            matches!(err, BodyError::Truncated { .. } | BodyError::Corrupt { .. }),
            "gzip cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn wazo_hex_key_works() {
    // Wazo's xivo-cisco-spa plugin: a 32-byte random key, hex-encoded, given to `-k` without
    // `-md` (so the host's default digest: SHA-256 on OpenSSL 3, MD5 on OpenSSL 1.0).
    let (dir, path, original) = dir_with_profile();
    let out = Command::new("openssl")
        .args(["rand", "-hex", "32"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(key.len(), 64);
    for md in [None, Some("md5")] {
        let body = openssl_enc(dir.path(), &path, md, &key);
        assert_eq!(decode(&body, Some(&key), false).unwrap(), original);
    }
}

#[test]
fn fips_refuses_md5_but_not_sha256() {
    let (dir, path, original) = dir_with_profile();
    let md5 = openssl_enc(dir.path(), &path, Some("md5"), KEY);
    let err = decode(&md5, Some(KEY), true).unwrap_err();
    assert_eq!(err, BodyError::Md5RefusedInFips);
    assert!(
        err.to_string().contains("MD5") && err.to_string().contains("FIPS"),
        "{err}"
    );
    let sha = openssl_enc(dir.path(), &path, Some("sha256"), KEY);
    assert_eq!(decode(&sha, Some(KEY), true).unwrap(), original);
}

#[test]
fn gzip_bomb_is_too_large_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.gz");
    // 100 MiB of zeros, gzipped by the real gzip (about 100 KiB).
    run(Command::new("sh")
        .arg("-c")
        .arg("head -c 104857600 /dev/zero | gzip -c > \"$1\"")
        .arg("sh")
        .arg(&bomb));
    let body = fs::read(&bomb).unwrap();
    assert!(body.len() < 1024 * 1024, "bomb is {} bytes", body.len());

    let start = Instant::now();
    let err = decode(&body, None, false).unwrap_err();
    assert_eq!(
        err,
        BodyError::TooLarge {
            limit: MAX_PROFILE_BYTES
        }
    );
    // Encrypted, the same.
    let enc = openssl_enc(dir.path(), &bomb, Some("sha256"), KEY);
    assert!(matches!(
        decode(&enc, Some(KEY), false),
        Err(BodyError::TooLarge { .. })
    ));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn encrypt_output_decrypts_with_openssl() {
    let (dir, _path, original) = dir_with_profile();
    for key in [KEY, "my secret phrase", ""] {
        let body = encrypt(&original, key).unwrap();
        assert!(body.starts_with(b"Salted__"));
        let enc = dir.path().join("report.enc");
        let dec = dir.path().join("report.xml");
        fs::write(&enc, &body).unwrap();
        run(Command::new("openssl")
            .args([
                "enc",
                "-d",
                "-aes-256-cbc",
                "-md",
                "sha256",
                "-k",
                key,
                "-in",
            ])
            .arg(&enc)
            .arg("-out")
            .arg(&dec));
        assert_eq!(fs::read(&dec).unwrap(), original, "key {key:?}");
        // And back through decode.
        assert_eq!(decode(&body, Some(key), false).unwrap(), original);
    }
    // Fresh salt every time.
    assert_ne!(
        encrypt(&original, KEY).unwrap()[8..16],
        encrypt(&original, KEY).unwrap()[8..16]
    );
}
