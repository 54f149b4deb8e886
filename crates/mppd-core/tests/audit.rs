//! `mppd_core::audit`: every check provoked and shown absent, a weak and a hardened profile,
//! and the real profiles of `shared/profiles/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use mppd_config::Profile;
use mppd_config::profile::is_secret_name;
use mppd_core::audit::{CHECKS, Finding, Severity, audit, find_check};

const PROFILES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/profiles/");

/// Two enabled lines on TLS with every per-line protection, everything else hardened too:
/// no finding at all.
const HARDENED: &[(&str, &str)] = &[
    ("TLS_Min_Version", "TLS 1.2"),
    ("TLS_Server_Min_Version", "TLS 1.2"),
    (
        "TLS_Cipher_List",
        "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL",
    ),
    ("Enable_SSLv3", "No"),
    ("Firewall", "Enabled"),
    ("Firewall_Config", "NO_ICMP_PING,NO_CISCO_TFTP"),
    ("Enable_Web_Server", "Yes"),
    ("Enable_Protocol", "Https"),
    ("Admin_Password", "Hard3ned-Adm1n!x"),
    ("User_Password", "Hard3ned-Us3r!y"),
    ("Restricted_Access_Domains", "example.net, example.org"),
    ("Provision_Enable", "Yes"),
    ("Upgrade_Enable", "Yes"),
    ("Profile_Rule", "https://prov.example.net/$PSN.xml"),
    ("GPP_SA", "k3y-Secr3t-SA"),
    (
        "Profile_Rule_B",
        "[--key $SA]http://prov.example.net/enc/$MA.cfg",
    ),
    (
        "Profile_Rule_C",
        "(\"$CCERT\" eq \"Installed\")? [--uid $MA --pwd $SA]https://a.example.net/x.xml | https://b.example.net/y.xml",
    ),
    ("Upgrade_Rule", "https://prov.example.net/fw/$PSN.loads"),
    (
        "Report_Rule",
        "[--delta]https://prov.example.net/r/d.xml [--status]https://prov.example.net/r/s.xml",
    ),
    ("Custom_CA_Rule", "https://prov.example.net/ca.pem"),
    ("Resync_From_SIP", "Yes"),
    ("Auth_Support_RFC8760", "Yes"),
    ("Line_Enable_1_", "Yes"),
    ("SIP_Transport_1_", "TLS"),
    ("TLS_Name_Validate_1_", "Yes"),
    ("Auth_INVITE_1_", "Yes"),
    ("MediaSec_Request_1_", "Yes"),
    ("MediaSec_Over_TLS_Only_1_", "Yes"),
    ("Auth_Resync-Reboot_1_", "Yes"),
    ("Line_Enable_2_", "Yes"),
    ("SIP_Transport_2_", "tls"),
    ("TLS_Name_Validate_2_", "Yes"),
    ("Auth_INVITE_2_", "yes"),
    ("MediaSec_Request_2_", "Yes"),
    ("MediaSec_Over_TLS_Only_2_", "Yes"),
    ("Auth_Resync-Reboot_2_", "Yes"),
    ("LDAP_Dir_Enable", "Yes"),
    ("LDAP_Server", "ldaps://ldap.example.net"),
    ("LDAP_Auth_Method", "Simple"),
    ("LDAP_Password", "Ld4p-Secr3t"),
    ("Enable_TR-069", "No"),
    ("Proxy_Mode", "Off"),
    ("Enable_802.1X_Authentication", "Yes"),
    ("FIPS_Mode", "Enabled"),
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A cfg.xml of `base` then `overrides` (the last duplicate wins, SPEC §0).
fn profile(base: &[(&str, &str)], overrides: &[(&str, &str)]) -> Profile {
    let mut xml = String::from("<flat-profile>\n");
    for (name, value) in base.iter().chain(overrides) {
        xml.push_str(&format!("<{name}>{}</{name}>\n", escape(value)));
    }
    xml.push_str("</flat-profile>\n");
    Profile::parse(xml.as_bytes()).unwrap()
}

/// The hardened profile with `overrides`, audited over two lines.
fn hardened_with(overrides: &[(&str, &str)]) -> Vec<Finding> {
    audit(&profile(HARDENED, overrides), 2)
}

fn ids(findings: &[Finding]) -> BTreeSet<&'static str> {
    findings.iter().map(|f| f.id).collect()
}

const NO_FIPS: (&str, &str) = ("FIPS_Mode", "Disabled");

/// One check: profiles that provoke it (with a parameter its finding must name) and near
/// misses that must not.
struct Case {
    id: &'static str,
    provoke: &'static [(&'static [(&'static str, &'static str)], &'static str)],
    absent: &'static [&'static [(&'static str, &'static str)]],
}

const CASES: &[Case] = &[
    Case {
        id: "admin-password-empty",
        provoke: &[
            (&[("Admin_Password", "")], "Admin_Password"),
            (
                &[("Admin_Password", ""), ("Enable_Web_Server", "No")],
                "Admin_Password",
            ),
        ],
        absent: &[&[], &[("Admin_Password", "x")]],
    },
    Case {
        id: "auth-resync-reboot-off",
        provoke: &[
            (&[("Auth_Resync-Reboot_2_", "No")], "Auth_Resync-Reboot_2_"),
            (&[("Auth_Resync-Reboot_1_", "no")], "Resync_From_SIP"),
        ],
        absent: &[
            &[],
            &[("Auth_Resync-Reboot_2_", "No"), ("Resync_From_SIP", "No")],
            &[("Auth_Resync-Reboot_2_", "No"), ("Line_Enable_2_", "No")],
            &[("Auth_Resync-Reboot_2_", "")],
        ],
    },
    Case {
        id: "cipher-anonymous",
        provoke: &[
            (&[("TLS_Cipher_List", "HIGH")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "ALL:!eNULL")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "ADH-AES128-SHA")], "TLS_Cipher_List"),
            (
                &[("TLS_Cipher_List", "DEFAULT:COMPLEMENTOFDEFAULT")],
                "TLS_Cipher_List",
            ),
            (&[("TLS_Cipher_List", "kECDHE+AES")], "TLS_Cipher_List"),
        ],
        absent: &[
            &[("TLS_Cipher_List", "HIGH:!aNULL")],
            &[("TLS_Cipher_List", "ALL:!aNULL:!MEDIUM")],
            &[("TLS_Cipher_List", "HIGH:-ADH:-AECDH")],
            &[("TLS_Cipher_List", "ECDHE+AES")],
            &[("TLS_Cipher_List", "!aNULL:ADH")],
        ],
    },
    Case {
        id: "cipher-export",
        provoke: &[
            (&[("TLS_Cipher_List", "EXP-RC4-MD5")], "TLS_Cipher_List"),
            (
                &[("TLS_Cipher_List", "HIGH:!aNULL:EXP1024-DES-CBC-SHA")],
                "TLS_Cipher_List",
            ),
        ],
        absent: &[
            &[("TLS_Cipher_List", "ALL:!aNULL")],
            &[("TLS_Cipher_List", "EXP-RC4-MD5:!EXP-RC4-MD5")],
        ],
    },
    Case {
        id: "cipher-null",
        provoke: &[
            (&[("TLS_Cipher_List", "eNULL")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "NULL-SHA256")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "COMPLEMENTOFALL")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "RSA")], "TLS_Cipher_List"),
        ],
        absent: &[
            &[("TLS_Cipher_List", "ALL")],
            &[("TLS_Cipher_List", "RSA:!eNULL")],
            &[("TLS_Cipher_List", "RSA:-NULL")],
        ],
    },
    Case {
        id: "credentials-over-cleartext",
        provoke: &[
            (
                &[(
                    "Profile_Rule",
                    "[--uid u1 --pwd Cl3ar-Pw]http://prov.example.net/x.xml",
                )],
                "Profile_Rule",
            ),
            (
                &[(
                    "Upgrade_Rule",
                    "http://u1:Cl3ar-Pw@prov.example.net/fw.loads",
                )],
                "Upgrade_Rule",
            ),
            (
                &[(
                    "Report_Rule",
                    "[--key k1 --uid u1 --pwd Cl3ar-Pw]tftp://prov.example.net/r",
                )],
                "Report_Rule",
            ),
            (
                &[(
                    "Profile_Rule_D",
                    "($A eq \"1\")? https://a.example.net/x | [--pwd \"Cl3ar Pw\"]http://b.example.net/y",
                )],
                "Profile_Rule_D",
            ),
        ],
        absent: &[
            &[(
                "Profile_Rule",
                "[--uid u1 --pwd Cl3ar-Pw]https://prov.example.net/x.xml",
            )],
            &[
                (
                    "Profile_Rule",
                    "[--uid u1 --pwd Cl3ar-Pw]http://prov.example.net/x.xml",
                ),
                ("Provision_Enable", "No"),
            ],
            &[("Upgrade_Rule", "http://u1@prov.example.net/fw.loads")],
            &[(
                "Profile_Rule",
                "[--uid $B --pwd $SD]http://prov.example.net/x.xml",
            )],
        ],
    },
    Case {
        id: "custom-ca-insecure-transport",
        provoke: &[
            (
                &[("Custom_CA_Rule", "http://prov.example.net/ca.pem")],
                "Custom_CA_Rule",
            ),
            (&[("Custom_CA_Rule", "/ca.pem")], "Custom_CA_Rule"),
        ],
        absent: &[
            &[("Custom_CA_Rule", "https://prov.example.net/ca.pem")],
            &[(
                "Custom_CA_Rule",
                "[--key $SA]http://prov.example.net/ca.pem",
            )],
            &[("Custom_CA_Rule", "")],
        ],
    },
    Case {
        id: "firewall-disabled",
        provoke: &[(&[("Firewall", "Disabled")], "Firewall")],
        absent: &[&[], &[("Firewall", "")]],
    },
    Case {
        id: "ldap-simple-bind-cleartext",
        provoke: &[(
            &[("LDAP_Server", "ldap://ldap.example.net")],
            "LDAP_Auth_Method",
        )],
        absent: &[
            &[],
            &[
                ("LDAP_Server", "ldap://ldap.example.net"),
                ("LDAP_StartTLS_Enable", "Yes"),
            ],
            &[
                ("LDAP_Server", "ldap://ldap.example.net"),
                ("LDAP_Auth_Method", "None"),
            ],
            &[
                ("LDAP_Server", "ldap://ldap.example.net"),
                ("LDAP_Dir_Enable", "No"),
            ],
        ],
    },
    Case {
        id: "sip-transport-cleartext",
        provoke: &[
            (&[("SIP_Transport_1_", "UDP")], "SIP_Transport_1_"),
            (&[("SIP_Transport_2_", "TCP")], "SIP_Transport_2_"),
            (&[("SIP_Transport_1_", "")], "SIP_Transport_1_"),
        ],
        absent: &[
            &[],
            &[("SIP_Transport_2_", "UDP"), ("Line_Enable_2_", "No")],
            &[("SIP_Transport_2_", "Auto")],
        ],
    },
    Case {
        id: "sslv3-enabled",
        provoke: &[(&[("Enable_SSLv3", "Yes"), NO_FIPS], "Enable_SSLv3")],
        absent: &[&[("Enable_SSLv3", "Yes")], &[NO_FIPS]],
    },
    Case {
        id: "tls-min-version-1-0",
        provoke: &[
            (
                &[("TLS_Min_Version", "TLS 1.0"), NO_FIPS],
                "TLS_Min_Version",
            ),
            (
                &[("TLS_Client_Min_Version", "tls 1.0"), NO_FIPS],
                "TLS_Client_Min_Version",
            ),
        ],
        absent: &[
            &[("TLS_Min_Version", "TLS 1.0")],
            &[("TLS_Min_Version", "TLS 1.3"), NO_FIPS],
            &[("TLS_Min_Version", "TLS 1.1"), NO_FIPS],
        ],
    },
    Case {
        id: "tls-name-validate-off",
        provoke: &[
            (&[("TLS_Name_Validate_1_", "No")], "TLS_Name_Validate_1_"),
            (
                &[("TLS_Name_Validate_2_", "No"), ("SIP_Transport_2_", "UDP")],
                "TLS_Name_Validate_2_",
            ),
        ],
        absent: &[
            &[("TLS_Name_Validate_1_", "No"), ("Line_Enable_1_", "No")],
            &[("TLS_Name_Validate_1_", "")],
        ],
    },
    Case {
        id: "web-ui-over-http",
        provoke: &[(&[("Enable_Protocol", "http")], "Enable_Protocol")],
        absent: &[
            &[("Enable_Protocol", "Http"), ("Enable_Web_Server", "No")],
            &[("Enable_Protocol", "")],
        ],
    },
    Case {
        id: "auth-invite-off",
        provoke: &[
            (&[("Auth_INVITE_2_", "No")], "Auth_INVITE_2_"),
            (&[("Auth_INVITE_1_", "")], "Auth_INVITE_1_"),
        ],
        absent: &[&[("Auth_INVITE_2_", "No"), ("Line_Enable_2_", "No")]],
    },
    Case {
        id: "cipher-des",
        provoke: &[
            (
                &[("TLS_Cipher_List", "RSA:!aNULL:!eNULL")],
                "TLS_Cipher_List",
            ),
            (&[("TLS_Cipher_List", "DES-CBC3-SHA")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "DES-CBC-SHA")], "TLS_Cipher_List"),
            (
                &[("TLS_Cipher_List", "HIGH:MEDIUM:!aNULL")],
                "TLS_Cipher_List",
            ),
        ],
        absent: &[
            &[("TLS_Cipher_List", "RSA:!aNULL:!eNULL:!MEDIUM")],
            &[("TLS_Cipher_List", "DEFAULT")],
        ],
    },
    Case {
        id: "cipher-md5",
        provoke: &[
            (&[("TLS_Cipher_List", "MD5"), NO_FIPS], "TLS_Cipher_List"),
            (
                &[("TLS_Cipher_List", "RC4-MD5"), NO_FIPS],
                "TLS_Cipher_List",
            ),
        ],
        absent: &[
            &[("TLS_Cipher_List", "MD5")],
            &[("TLS_Cipher_List", "ALL:!MD5:!aNULL"), NO_FIPS],
        ],
    },
    Case {
        id: "cipher-rc4",
        provoke: &[
            (&[("TLS_Cipher_List", "RC4-SHA")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "MEDIUM")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "ECDHE:!aNULL")], "TLS_Cipher_List"),
        ],
        absent: &[
            &[("TLS_Cipher_List", "ECDHE:!aNULL:!MEDIUM")],
            &[("TLS_Cipher_List", "HIGH:!aNULL")],
            // RC4 is no word of SPEC §14: the list is invalid and the defaults apply.
            &[("TLS_Cipher_List", "RC4:EXP")],
        ],
    },
    Case {
        id: "firewall-extra-ports",
        provoke: &[
            (&[("Firewall_Config", "TCP:12000")], "Firewall_Config"),
            (
                &[("Firewall_Config", "NO_ICMP_PING, UDP:8000:8010")],
                "Firewall_Config",
            ),
        ],
        absent: &[
            &[(
                "Firewall_Config",
                "NO_ICMP_PING,NO_ICMP_UNREACHABLE,NO_CISCO_TFTP",
            )],
            &[("Firewall_Config", "TCP:12000"), ("Firewall", "Disabled")],
            &[("Firewall_Config", "")],
        ],
    },
    Case {
        id: "ldap-cleartext",
        provoke: &[
            (
                &[
                    ("LDAP_Server", "ldap://ldap.example.net:389"),
                    ("LDAP_Auth_Method", "None"),
                ],
                "LDAP_Server",
            ),
            (
                &[("LDAP_Server", "LDAP://ldap.example.net")],
                "LDAP_StartTLS_Enable",
            ),
        ],
        absent: &[
            &[],
            &[
                ("LDAP_Server", "ldap://ldap.example.net"),
                ("LDAP_StartTLS_Enable", "Yes"),
            ],
            &[
                ("LDAP_Server", "ldap://ldap.example.net"),
                ("LDAP_Dir_Enable", "No"),
            ],
            &[("LDAP_Server", "")],
        ],
    },
    Case {
        id: "restricted-access-domains-empty",
        provoke: &[(
            &[("Restricted_Access_Domains", "")],
            "Restricted_Access_Domains",
        )],
        absent: &[&[("Restricted_Access_Domains", "example.net")]],
    },
    Case {
        id: "rfc8760-off",
        provoke: &[
            (
                &[("Auth_Support_RFC8760", "No"), NO_FIPS],
                "Auth_Support_RFC8760",
            ),
            (
                &[("Auth_Support_RFC8760_2_", "No"), NO_FIPS],
                "Auth_Support_RFC8760_2_",
            ),
            (
                &[("Auth_Support_RFC8760", ""), NO_FIPS],
                "Auth_Support_RFC8760",
            ),
        ],
        absent: &[
            &[
                ("Auth_Support_RFC8760", "No"),
                ("Auth_Support_RFC8760_1_", "Yes"),
                ("Auth_Support_RFC8760_2_", "Yes"),
                NO_FIPS,
            ],
            &[
                ("Auth_Support_RFC8760", "Yes"),
                ("Auth_Support_RFC8760_2_", ""),
                NO_FIPS,
            ],
            &[("Auth_Support_RFC8760", "No")],
        ],
    },
    Case {
        id: "rule-insecure-transport",
        provoke: &[
            (&[("Profile_Rule", "/$PSN.xml")], "Profile_Rule"),
            // Empty means the default, /$PSN.xml: tftp.
            (&[("Profile_Rule", "")], "Profile_Rule"),
            (
                &[("Upgrade_Rule", "http://prov.example.net/fw.loads")],
                "Upgrade_Rule",
            ),
            (
                &[(
                    "Report_Rule",
                    "[--delta]https://prov.example.net/d.xml [--status]http://prov.example.net/s.xml",
                )],
                "Report_Rule",
            ),
            (
                &[(
                    "Profile_Rule_D",
                    "(\"$CCERT\" eq \"Installed\")? https://a.example.net/x | tftp://b.example.net/y",
                )],
                "Profile_Rule_D",
            ),
            (
                &[("Cisco_Headset_Upgrade_Rule", "192.0.2.130/headset.bin")],
                "Cisco_Headset_Upgrade_Rule",
            ),
            (
                &[
                    ("GPP_A", "http://prov.example.net/p.xml"),
                    ("Profile_Rule", "$A"),
                ],
                "Profile_Rule",
            ),
            // GPP_SB is empty: the key is empty.
            (
                &[("Profile_Rule", "[--key $SB]http://prov.example.net/p.xml")],
                "Profile_Rule",
            ),
        ],
        absent: &[
            &[("Profile_Rule", "[--key $SA]tftp://prov.example.net/p.xml")],
            &[("Profile_Rule", "/$PSN.xml"), ("Provision_Enable", "No")],
            &[
                ("Upgrade_Rule", "http://prov.example.net/fw.loads"),
                ("Upgrade_Enable", "No"),
            ],
            &[
                ("Report_Rule", "http://prov.example.net/r.xml"),
                ("IKM_HTTP_Encrypt_Content", "ikm-value"),
            ],
            &[
                ("GPP_A", "https://prov.example.net/p.xml"),
                ("Profile_Rule", "$A"),
            ],
            &[(
                "Profile_Rule",
                "[--key \"my secret\"]http://prov.example.net/p.xml",
            )],
        ],
    },
    Case {
        id: "sip-transport-auto",
        provoke: &[(&[("SIP_Transport_1_", "auto")], "SIP_Transport_1_")],
        absent: &[&[("SIP_Transport_1_", "Auto"), ("Line_Enable_1_", "No")]],
    },
    Case {
        id: "tls-min-version-1-1",
        provoke: &[
            (
                &[("TLS_Min_Version", "TLS 1.1"), NO_FIPS],
                "TLS_Min_Version",
            ),
            // The default is TLS 1.1.
            (&[("TLS_Min_Version", ""), NO_FIPS], "TLS_Min_Version"),
        ],
        absent: &[
            &[("TLS_Min_Version", "TLS 1.1")],
            &[("TLS_Min_Version", "TLS 1.2"), NO_FIPS],
        ],
    },
    Case {
        id: "tls-server-min-version-1-1",
        provoke: &[(
            &[("TLS_Server_Min_Version", "TLS 1.1"), NO_FIPS],
            "TLS_Server_Min_Version",
        )],
        absent: &[
            &[("TLS_Server_Min_Version", "TLS 1.1")],
            &[
                ("TLS_Server_Min_Version", "TLS 1.1"),
                ("Enable_Web_Server", "No"),
                NO_FIPS,
            ],
            &[("TLS_Server_Min_Version", ""), NO_FIPS],
        ],
    },
    Case {
        id: "tr069-enabled",
        provoke: &[(&[("Enable_TR-069", "Yes"), NO_FIPS], "Enable_TR-069")],
        absent: &[&[("Enable_TR-069", "Yes")], &[NO_FIPS]],
    },
    Case {
        id: "web-cipher-fallback-3des",
        provoke: &[
            (&[("TLS_Cipher_List", "")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "FOO:BAR")], "Enable_Protocol"),
        ],
        absent: &[
            &[],
            &[("TLS_Cipher_List", ""), ("Enable_Protocol", "Http")],
            &[("TLS_Cipher_List", ""), ("Enable_Web_Server", "No")],
        ],
    },
    Case {
        id: "cipher-list-invalid",
        provoke: &[
            (&[("TLS_Cipher_List", "HIGH:!EXPORT")], "TLS_Cipher_List"),
            (&[("TLS_Cipher_List", "RC4")], "TLS_Cipher_List"),
        ],
        absent: &[&[], &[("TLS_Cipher_List", "")]],
    },
    Case {
        id: "http-proxy-basic-auth",
        provoke: &[
            (
                &[
                    ("Proxy_Mode", "Manual"),
                    ("Proxy_Server_Requires_Authentication", "Yes"),
                ],
                "Proxy_Server_Requires_Authentication",
            ),
            (
                &[
                    ("Proxy_Mode", "Auto"),
                    ("Proxy_Server_Requires_Authentication", "Yes"),
                ],
                "Proxy_Mode",
            ),
        ],
        absent: &[
            &[("Proxy_Server_Requires_Authentication", "Yes")],
            &[
                ("Proxy_Mode", "Manual"),
                ("Proxy_Server_Requires_Authentication", "No"),
            ],
        ],
    },
    Case {
        id: "ldap-digest-md5",
        provoke: &[(
            &[("LDAP_Auth_Method", "DIGEST-MD5"), NO_FIPS],
            "LDAP_Auth_Method",
        )],
        absent: &[
            &[("LDAP_Auth_Method", "DIGEST-MD5")],
            &[
                ("LDAP_Auth_Method", "DIGEST-MD5"),
                ("LDAP_Dir_Enable", "No"),
                NO_FIPS,
            ],
        ],
    },
    Case {
        id: "ldap-starttls-fallback",
        provoke: &[(
            &[
                ("LDAP_Server", "ldap://ldap.example.net"),
                ("LDAP_StartTLS_Enable", "Yes"),
            ],
            "LDAP_StartTLS_Enable",
        )],
        absent: &[
            &[("LDAP_StartTLS_Enable", "Yes")],
            &[
                ("LDAP_Server", "ldap://ldap.example.net"),
                ("LDAP_StartTLS_Enable", "No"),
            ],
        ],
    },
    Case {
        id: "mediasec-not-requested",
        provoke: &[(&[("MediaSec_Request_1_", "No")], "MediaSec_Request_1_")],
        absent: &[&[("MediaSec_Request_1_", "No"), ("Line_Enable_1_", "No")]],
    },
    Case {
        id: "mediasec-not-tls-only",
        provoke: &[
            (
                &[
                    ("MediaSec_Over_TLS_Only_2_", "No"),
                    ("SIP_Transport_2_", "UDP"),
                ],
                "MediaSec_Over_TLS_Only_2_",
            ),
            (
                &[
                    ("MediaSec_Over_TLS_Only_1_", ""),
                    ("SIP_Transport_1_", "Auto"),
                ],
                "MediaSec_Over_TLS_Only_1_",
            ),
        ],
        absent: &[
            // On a TLS line the setting changes nothing.
            &[("MediaSec_Over_TLS_Only_2_", "No")],
            &[
                ("MediaSec_Over_TLS_Only_2_", "Yes"),
                ("SIP_Transport_2_", "UDP"),
            ],
        ],
    },
    Case {
        id: "user-password-empty",
        provoke: &[(&[("User_Password", "")], "User_Password")],
        absent: &[&[]],
    },
    Case {
        id: "dot1x-disabled",
        provoke: &[
            (
                &[("Enable_802.1X_Authentication", "No")],
                "Enable_802.1X_Authentication",
            ),
            (
                &[("Enable_802.1X_Authentication", "")],
                "Enable_802.1X_Authentication",
            ),
        ],
        absent: &[&[]],
    },
    Case {
        id: "fips-disabled",
        provoke: &[
            (&[NO_FIPS], "FIPS_Mode"),
            (&[("FIPS_Mode", "No")], "FIPS_Mode"),
            (&[("FIPS_Mode", "")], "FIPS_Mode"),
        ],
        absent: &[&[], &[("FIPS_Mode", "Yes")]],
    },
];

#[test]
fn every_check_has_a_case_both_ways() {
    for check in CHECKS {
        let case = CASES.iter().find(|c| c.id == check.id);
        let case = case.unwrap_or_else(|| panic!("no test case for finding {}", check.id));
        assert!(
            !case.provoke.is_empty(),
            "{}: no provoking profile",
            check.id
        );
        assert!(!case.absent.is_empty(), "{}: no absence profile", check.id);
    }
    for case in CASES {
        assert!(
            find_check(case.id).is_some(),
            "case for unknown id {}",
            case.id
        );
    }
    assert_eq!(CASES.len(), CHECKS.len());
}

#[test]
fn each_case_provokes_its_finding() {
    for case in CASES {
        let check = find_check(case.id).unwrap();
        for (overrides, param) in case.provoke {
            let findings = hardened_with(overrides);
            let found: Vec<&Finding> = findings.iter().filter(|f| f.id == case.id).collect();
            assert_eq!(
                found.len(),
                1,
                "{}: expected one finding with {overrides:?}, got {:#?}",
                case.id,
                findings
            );
            let f = found[0];
            assert_eq!(f.severity, check.severity, "{}", case.id);
            assert!(
                f.params.iter().any(|p| p == param),
                "{}: params {:?} lack {param} with {overrides:?}",
                case.id,
                f.params
            );
            assert!(!f.why.is_empty() && !f.fix.is_empty(), "{}", case.id);
        }
    }
}

#[test]
fn each_case_shows_its_absence() {
    for case in CASES {
        for overrides in case.absent {
            let findings = hardened_with(overrides);
            assert!(
                !ids(&findings).contains(case.id),
                "{}: unexpected with {overrides:?}: {:#?}",
                case.id,
                findings
            );
        }
    }
}

#[test]
fn hardened_profile_has_no_finding_at_all() {
    let findings = hardened_with(&[]);
    assert!(findings.is_empty(), "{findings:#?}");
    // Without 802.1X and FIPS, only the two info findings appear.
    let findings = hardened_with(&[("Enable_802.1X_Authentication", "No"), NO_FIPS]);
    assert_eq!(
        ids(&findings),
        BTreeSet::from(["dot1x-disabled", "fips-disabled"])
    );
    assert!(findings.iter().all(|f| f.severity == Severity::Info));
}

/// Every weakness of the issue at once.
const WEAK: &[(&str, &str)] = &[
    ("TLS_Min_Version", "TLS 1.0"),
    ("Enable_SSLv3", "Yes"),
    ("TLS_Cipher_List", "ALL:eNULL:EXP-RC4-MD5"),
    ("Firewall", "Disabled"),
    ("Enable_Web_Server", "Yes"),
    ("Enable_Protocol", "Http"),
    ("Admin_Password", ""),
    ("User_Password", ""),
    ("Restricted_Access_Domains", ""),
    (
        "Profile_Rule",
        "[--uid admin --pwd Pr0v-9dK2mQ7w]http://prov.example.net/$MA.xml",
    ),
    ("Custom_CA_Rule", "http://prov.example.net/ca.pem"),
    ("Resync_From_SIP", "Yes"),
    ("Line_Enable_1_", "Yes"),
    ("SIP_Transport_1_", "UDP"),
    ("TLS_Name_Validate_1_", "No"),
    ("Auth_INVITE_1_", "No"),
    ("Auth_Support_RFC8760", "No"),
    ("MediaSec_Request_1_", "No"),
    ("MediaSec_Over_TLS_Only_1_", "No"),
    ("Auth_Resync-Reboot_1_", "No"),
    ("Line_Enable_2_", "Yes"),
    ("SIP_Transport_2_", "Auto"),
    ("LDAP_Dir_Enable", "Yes"),
    ("LDAP_Server", "ldap://ldap.example.net"),
    ("LDAP_Auth_Method", "Simple"),
    ("LDAP_StartTLS_Enable", "No"),
    ("Enable_TR-069", "Yes"),
    ("Proxy_Mode", "Manual"),
    ("Proxy_Server_Requires_Authentication", "Yes"),
    ("Enable_802.1X_Authentication", "No"),
    ("FIPS_Mode", "Disabled"),
];

/// The other side of the checks that exclude those of [`WEAK`]: TLS 1.1 instead of 1.0, the
/// web server on Https, an invalid cipher list, the firewall on with extra ports, StartTLS.
const WEAK_B: &[(&str, &str)] = &[
    ("TLS_Min_Version", "TLS 1.1"),
    ("TLS_Server_Min_Version", "TLS 1.1"),
    ("Enable_Protocol", "Https"),
    ("TLS_Cipher_List", "HIGH:RC4"),
    ("Firewall", "Enabled"),
    ("Firewall_Config", "UDP:5000,TCP:22"),
    ("LDAP_StartTLS_Enable", "Yes"),
    ("LDAP_Auth_Method", "DIGEST-MD5"),
];

const ONLY_IN_B: &[&str] = &[
    "tls-min-version-1-1",
    "tls-server-min-version-1-1",
    "web-cipher-fallback-3des",
    "cipher-list-invalid",
    "firewall-extra-ports",
    "ldap-starttls-fallback",
    "ldap-digest-md5",
];

#[test]
fn weak_profile_reports_every_finding() {
    let a = audit(&profile(WEAK, &[]), 2);
    let got = ids(&a);
    let want: BTreeSet<&str> = CHECKS
        .iter()
        .map(|c| c.id)
        .filter(|id| !ONLY_IN_B.contains(id))
        .collect();
    assert_eq!(got, want);
    // The variant covers the checks that exclude some of the above.
    let b = audit(&profile(WEAK, WEAK_B), 2);
    let got_b = ids(&b);
    for id in ONLY_IN_B {
        assert!(
            got_b.contains(id),
            "{id} missing from the variant: {got_b:?}"
        );
    }
    for id in [
        "tls-min-version-1-0",
        "web-ui-over-http",
        "firewall-disabled",
        "ldap-cleartext",
        "ldap-simple-bind-cleartext",
        "cipher-null",
    ] {
        assert!(!got_b.contains(id), "{id} in the variant");
    }
    // Per-line findings name every line involved.
    let transport = a
        .iter()
        .find(|f| f.id == "sip-transport-cleartext")
        .unwrap();
    assert_eq!(transport.params, ["SIP_Transport_1_"]);
    let auto = a.iter().find(|f| f.id == "sip-transport-auto").unwrap();
    assert_eq!(auto.params, ["SIP_Transport_2_"]);
    let invite = a.iter().find(|f| f.id == "auth-invite-off").unwrap();
    assert_eq!(invite.params, ["Auth_INVITE_1_", "Auth_INVITE_2_"]);
}

#[test]
fn severities_the_issue_requires() {
    let sev = |id: &str| find_check(id).unwrap().severity;
    for id in [
        "cipher-null",
        "cipher-anonymous",
        "cipher-export",
        "tls-min-version-1-0",
        "firewall-disabled",
        "admin-password-empty",
        "credentials-over-cleartext",
    ] {
        assert_eq!(sev(id), Severity::High, "{id}");
    }
    assert_eq!(sev("dot1x-disabled"), Severity::Info);
    assert_eq!(sev("fips-disabled"), Severity::Info);
    assert!(sev("tls-min-version-1-1") < Severity::High);
}

#[test]
fn fips_mode_silences_what_it_forbids() {
    let fips = audit(&profile(WEAK, &[("FIPS_Mode", "Enabled")]), 2);
    let got = ids(&fips);
    for id in [
        "tls-min-version-1-0",
        "sslv3-enabled",
        "tr069-enabled",
        "rfc8760-off",
        "cipher-md5",
        "fips-disabled",
    ] {
        assert!(!got.contains(id), "{id} under FIPS");
    }
    for id in [
        "cipher-null",
        "cipher-rc4",
        "firewall-disabled",
        "web-ui-over-http",
    ] {
        assert!(got.contains(id), "{id} missing under FIPS");
    }
}

#[test]
fn findings_are_sorted_by_severity_then_id() {
    let a = audit(&profile(WEAK, &[]), 2);
    for pair in a.windows(2) {
        assert!(
            pair[0].severity > pair[1].severity
                || (pair[0].severity == pair[1].severity && pair[0].id < pair[1].id),
            "{} before {}",
            pair[0].id,
            pair[1].id
        );
    }
    assert_eq!(a.first().unwrap().severity, Severity::High);
    assert_eq!(a.last().unwrap().severity, Severity::Info);
}

#[test]
fn lines_bound_the_per_line_checks() {
    // Line 3 keeps every default (UDP, no Auth INVITE...): audited only when asked for.
    let p = profile(HARDENED, &[]);
    assert!(audit(&p, 2).is_empty());
    let three = audit(&p, 3);
    let transport = three
        .iter()
        .find(|f| f.id == "sip-transport-cleartext")
        .unwrap();
    assert_eq!(transport.params, ["SIP_Transport_3_"]);
    assert!(
        transport.why.contains("line 3 (UDP, the default)"),
        "{}",
        transport.why
    );
    let p = profile(HARDENED, &[("Line_Enable_3_", "No")]);
    assert!(audit(&p, 3).is_empty());
    // No line audited: no per-line finding even on a default profile; more than 16 is 16.
    let defaults = Profile::new();
    let none = ids(&audit(&defaults, 0));
    assert!(!none.contains("sip-transport-cleartext"));
    let all = audit(&defaults, 255);
    let transport = all
        .iter()
        .find(|f| f.id == "sip-transport-cleartext")
        .unwrap();
    assert_eq!(transport.params.len(), 16);
}

#[test]
fn default_profile_findings() {
    // The embedded default (every parameter at its SPEC default) is not hardened.
    let got = ids(&audit(&Profile::new(), 2));
    let want = BTreeSet::from([
        "admin-password-empty",
        "sip-transport-cleartext",
        "auth-invite-off",
        "restricted-access-domains-empty",
        "rfc8760-off",
        "rule-insecure-transport",
        "tls-min-version-1-1",
        "web-cipher-fallback-3des",
        "mediasec-not-requested",
        "mediasec-not-tls-only",
        "user-password-empty",
        "dot1x-disabled",
        "fips-disabled",
    ]);
    assert_eq!(got, want);
}

#[test]
fn json_shape() {
    let findings = hardened_with(&[("Firewall", "Disabled"), ("Enable_Protocol", "Http")]);
    let v = serde_json::to_value(serde_json::json!({ "findings": findings })).unwrap();
    let list = v["findings"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], "firewall-disabled");
    assert_eq!(list[0]["severity"], "high");
    assert_eq!(list[0]["params"], serde_json::json!(["Firewall"]));
    assert!(list[0]["why"].is_string() && list[0]["fix"].is_string());
    let keys: BTreeSet<&str> = list[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["id", "severity", "params", "why", "fix"])
    );
    assert_eq!(
        serde_json::to_value(Severity::Medium).unwrap(),
        serde_json::json!("medium")
    );
}

fn real(name: &str) -> (Profile, Vec<Finding>) {
    let bytes = std::fs::read(format!("{PROFILES}{name}")).unwrap();
    let p = Profile::parse(&bytes).unwrap();
    let f = audit(&p, 2);
    (p, f)
}

fn finding<'a>(findings: &'a [Finding], id: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} in {findings:#?}"))
}

#[test]
fn fusionpbx_8851() {
    let (_, f) = real("fusionpbx-8851.xml");
    let web = finding(&f, "web-ui-over-http");
    assert_eq!(web.params, ["Enable_Web_Server", "Enable_Protocol"]);
    let creds = finding(&f, "credentials-over-cleartext");
    assert_eq!(creds.params, ["Profile_Rule"]);
    assert!(
        creds.why.contains("http://pbx.example.net"),
        "{}",
        creds.why
    );
    assert_eq!(
        finding(&f, "rule-insecure-transport").params,
        ["Profile_Rule"]
    );
    // Line 1 is TLS, line 2 TCP.
    assert_eq!(
        finding(&f, "sip-transport-cleartext").params,
        ["SIP_Transport_2_"]
    );
    assert_eq!(
        finding(&f, "mediasec-not-tls-only").params,
        ["MediaSec_Over_TLS_Only_2_"]
    );
    finding(&f, "tls-min-version-1-1");
    let got = ids(&f);
    // Custom CA over https, restricted domains set, admin password set, SSLv3 off.
    for id in [
        "custom-ca-insecure-transport",
        "restricted-access-domains-empty",
        "admin-password-empty",
        "sslv3-enabled",
        "firewall-disabled",
        "tr069-enabled",
        "web-cipher-fallback-3des",
    ] {
        assert!(!got.contains(id), "{id}");
    }
}

#[test]
fn fusionpbx_9861() {
    let (_, f) = real("fusionpbx-9861.xml");
    // Https with an empty cipher list: the web server's fallback offers 3DES.
    finding(&f, "web-cipher-fallback-3des");
    assert!(!ids(&f).contains("web-ui-over-http"));
    assert_eq!(
        finding(&f, "tls-min-version-1-1").params,
        ["TLS_Min_Version"]
    );
    // RFC 8760 is set No per line.
    assert_eq!(
        finding(&f, "rfc8760-off").params,
        ["Auth_Support_RFC8760_1_", "Auth_Support_RFC8760_2_"]
    );
    finding(&f, "credentials-over-cleartext");
}

#[test]
fn wazo_profiles() {
    // Every line disabled: Auth_Resync-Reboot_n_ No does not count.
    let (_, f) = real("wazo-cp-phone.xml");
    let got = ids(&f);
    for id in [
        "auth-resync-reboot-off",
        "sip-transport-cleartext",
        "auth-invite-off",
    ] {
        assert!(!got.contains(id), "{id}");
    }
    finding(&f, "admin-password-empty");
    // Both bootstrap rules over plain http.
    let (_, f) = real("wazo-model-cfg.xml");
    let rules = finding(&f, "rule-insecure-transport");
    assert_eq!(
        rules.params,
        ["Profile_Rule", "Profile_Rule_B", "Profile_Rule_C"]
    );
    assert!(
        rules.why.contains("http://192.0.2.10:8667"),
        "{}",
        rules.why
    );
    // Web UI over http, empty user password, the default tftp profile rule.
    let (_, f) = real("wazo-base.xml");
    finding(&f, "web-ui-over-http");
    finding(&f, "user-password-empty");
    assert!(!ids(&f).contains("admin-password-empty"));
    assert!(finding(&f, "rule-insecure-transport").why.contains("tftp"));
}

/// Secret values of a profile: registry secrets and password-like names, and the arguments
/// of `--pwd`/`--key` in rules (URL passwords are checked by name below).
fn secrets(p: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    for e in p.entries() {
        if is_secret_name(&e.name) && e.value.len() >= 4 {
            out.push(e.value.clone());
        }
        let mut words = e
            .value
            .split(|c: char| c.is_whitespace() || c == ']' || c == '[');
        while let Some(w) = words.next() {
            if (w == "--pwd" || w == "--key")
                && let Some(arg) = words.next().filter(|a| a.len() >= 4)
            {
                out.push(arg.trim_matches('"').to_owned());
            }
        }
    }
    out
}

#[test]
fn secrets_never_appear_in_findings() {
    let mut files: Vec<_> = std::fs::read_dir(PROFILES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 7);
    let mut checked = 0;
    for path in files {
        let p = Profile::parse(&std::fs::read(&path).unwrap()).unwrap();
        let secrets = secrets(&p);
        for lines in [2, 16] {
            for f in audit(&p, lines) {
                for s in &secrets {
                    assert!(
                        !f.why.contains(s.as_str()) && !f.fix.contains(s.as_str()),
                        "{}: {} reveals a secret",
                        path.display(),
                        f.id
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0);
    // The provisioning password of the FusionPBX profiles, by name.
    for file in [
        "fusionpbx-8811.xml",
        "fusionpbx-8851.xml",
        "fusionpbx-9861.xml",
    ] {
        let (p, f) = real(file);
        assert!(secrets(&p).iter().any(|s| s == "Pr0v-9dK2mQ7w"));
        for finding in &f {
            assert!(
                !finding.why.contains("Pr0v-9dK2mQ7w"),
                "{file}: {}",
                finding.id
            );
            assert!(
                !finding.fix.contains("Pr0v-9dK2mQ7w"),
                "{file}: {}",
                finding.id
            );
            assert!(
                !finding.why.contains("Adm1n-7Rq4Vx2p"),
                "{file}: {}",
                finding.id
            );
        }
    }
    // Weak test profiles: URL passwords and quoted --pwd arguments too.
    for overrides in [
        &[("Upgrade_Rule", "http://u1:Url-Pa55@prov.example.net/fw")][..],
        &[(
            "Profile_Rule",
            "[--uid u --pwd \"Qu0ted Pa55\"]http://h.example.net/x",
        )][..],
        &[
            ("LDAP_Password", "Ld4p-Pa55"),
            ("LDAP_Server", "ldap://h.example.net"),
        ][..],
    ] {
        let p = profile(WEAK, overrides);
        let f = audit(&p, 2);
        for s in ["Url-Pa55", "Qu0ted Pa55", "Ld4p-Pa55", "Pr0v-9dK2mQ7w"] {
            for x in &f {
                assert!(!x.why.contains(s) && !x.fix.contains(s), "{}: {s}", x.id);
            }
        }
    }
}

#[test]
fn every_shared_profile_audits_without_panic() {
    for entry in std::fs::read_dir(PROFILES).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "xml") {
            let p = Profile::parse(&std::fs::read(&path).unwrap()).unwrap();
            for lines in [0, 1, 2, 10, 16] {
                let f = audit(&p, lines);
                assert!(f.iter().all(|x| find_check(x.id).is_some()));
            }
        }
    }
}
