//! The registry table: every parameter mppd knows, in web UI order.
//!
//! The rows of `reference/parameters.tsv` come first within their tab and section, in the
//! order of the file; parameters from SPEC.md and `reference/mpp-provisioning.md` that the file
//! does not list sit next to them, in their own tab and section. `source` says where each entry
//! comes from: `tsv: <source column>` for the rows of the file.
//!
//! Kinds of the non-tsv entries were chosen against every value the real profiles in
//! `shared/profiles/` carry: where those values vary or the documentation is unclear the kind
//! is [`Kind::Text`].

use super::*;

/// Web UI place: (tab, section).
type At = (&'static str, &'static str);

// System tab.
const SYS_CONF: At = ("System", "System Configuration");
const SYS_NET: At = ("System", "Optional Network Configuration");
const SYS_8021X: At = ("System", "802.1X Authentication");
const SYS_SEC: At = ("System", "Security Settings");
const SYS_HTTP_PROXY: At = ("System", "HTTP Proxy Settings");
const SYS_VPN: At = ("System", "VPN Settings");
const SYS_TR069: At = ("System", "TR-069");
const SYS_PFS: At = ("System", "Peer Firmware Sharing");
// SIP tab.
const SIP_RTP: At = ("SIP", "RTP Parameters");
const SIP_PARAMS: At = ("SIP", "SIP Parameters");
const SIP_TIMERS: At = ("SIP", "SIP Timer Values (sec)");
// Provisioning tab.
const PROV_CFG: At = ("Provisioning", "Configuration Profile");
const PROV_UPGRADE: At = ("Provisioning", "Firmware Upgrade");
const PROV_CA: At = ("Provisioning", "CA Settings");
const PROV_MIC: At = ("Provisioning", "MIC Cert Settings");
const PROV_HTTP: At = ("Provisioning", "HTTP Settings");
const PROV_UPLOAD: At = ("Provisioning", "Upload Configuration Options");
const PROV_PRT: At = ("Provisioning", "Problem Report Tool");
const PROV_GPP: At = ("Provisioning", "General Purpose Parameters");
// Phone tab.
const PHONE_WEBEX: At = ("Phone", "Webex");
const PHONE_WS: At = ("Phone", "WebSocket API");
const PHONE_LCD_AUTH: At = ("Phone", "LCD Authentication");
const PHONE_LCD_AUTH_CUSTOM: At = ("Phone", "LCD Authentication Customization");
const PHONE_SUPP: At = ("Phone", "Supplementary Services");
const PHONE_XML: At = ("Phone", "XML Service");
const PHONE_LDAP: At = ("Phone", "LDAP");
// Ext(n) tab.
const EXT_GENERAL: At = ("Ext(n)", "General");
const EXT_SIP: At = ("Ext(n)", "SIP Settings");
const EXT_CALL_FEATURES: At = ("Ext(n)", "Call Feature Settings");
const EXT_PROXY: At = ("Ext(n)", "Proxy and Registration");
const EXT_SUBSCRIBER: At = ("Ext(n)", "Subscriber Information");
const EXT_AUDIO: At = ("Ext(n)", "Audio Configuration");

// Kinds used more than once.
const BOOL: Kind = Kind::Bool;
const TEXT: Kind = Kind::Text;
const MACRO_TEXT: Kind = Kind::MacroText;
const SECRET: Kind = Kind::Secret;
const RULE: Kind = Kind::Rule;
const ANY_PORT: Kind = Kind::Port { min: 1, max: 65535 };
const URL_TFTP_HTTP: Kind = Kind::Url(&["tftp", "http", "https"]);
const URL_HTTP: Kind = Kind::Url(&["http", "https"]);
const SIP_TIMER: Kind = Kind::Decimal {
    min_milli: 0,
    max_milli: 64_000,
};
const SECONDS: Kind = Kind::Int {
    min: 0,
    max: 2_147_483_647,
};
const UNITS_0_65535: Kind = Kind::Int { min: 0, max: 65535 };
const SESSION_TIMEOUT: Kind = Kind::Int {
    min: 60,
    max: 86400,
};
const CONDITION: Kind = Kind::Condition;
const ENUM_POST_PUT: Kind = Kind::Enum(&["POST", "PUT"]);

/// A global parameter with user access `na` and no alias or fallback.
const fn g(
    name: &'static str,
    at: At,
    label: &'static str,
    kind: Kind,
    default: &'static str,
    source: &'static str,
) -> ParamDef {
    ParamDef {
        name,
        aliases: &[],
        tab: at.0,
        section: at.1,
        label,
        kind,
        default: Default::Fixed(default),
        scope: Scope::Global,
        ua: Ua::Na,
        fallback: None,
        source,
    }
}

/// A per-line parameter (name ending in `_n_`) with user access `na`.
const fn l(
    name: &'static str,
    at: At,
    label: &'static str,
    kind: Kind,
    default: &'static str,
    source: &'static str,
) -> ParamDef {
    let mut def = g(name, at, label, kind, default, source);
    def.scope = Scope::Line;
    def
}

impl ParamDef {
    /// The same definition with another default user access.
    const fn ua(mut self, ua: Ua) -> Self {
        self.ua = ua;
        self
    }

    /// The same definition with other accepted names.
    const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// The same definition with a fallback parameter.
    const fn fallback(mut self, name: &'static str) -> Self {
        self.fallback = Some(name);
        self
    }

    /// The same definition with a per-line default of `base + n`.
    const fn line_offset(mut self, base: u32) -> Self {
        self.default = Default::LineOffset(base);
        self
    }
}

/// Log message defaults (SPEC §12).
const LOG_REQUEST: &str = "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH";
const LOG_SUCCESS: &str = "$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH";
const LOG_FAILURE: &str = "$PN $MAC -- Resync failed: $ERR";
const LOG_UPGRADE_REQUEST: &str = "$PN $MAC -- Requesting upgrade $SCHEME://$SERVIP:$PORT$PATH";
const LOG_UPGRADE_SUCCESS: &str =
    "$PN $MAC -- Successful upgrade $SCHEME://$SERVIP:$PORT$PATH -- $ERR";
const LOG_UPGRADE_FAILURE: &str = "$PN $MAC -- Upgrade failed: $ERR";

pub(super) static PARAMS: &[ParamDef] = &[
    // ---- System > System Configuration ----
    g(
        "Restricted_Access_Domains",
        SYS_CONF,
        "Restricted Access Domains",
        Kind::FqdnList,
        "",
        "tsv: seed §1",
    ),
    g(
        "Enable_Web_Server",
        SYS_CONF,
        "Enable Web Server",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "Enable_Protocol",
        SYS_CONF,
        "Enable Protocol",
        Kind::Enum(&["Http", "Https"]),
        "Https",
        "tsv: ref (12.0(3)+; older Http)",
    ),
    g(
        "Web_Server_Port",
        SYS_CONF,
        "Web Server Port",
        ANY_PORT,
        "443",
        "tsv: ref (12.0(3)+; seed's firewall table and older firmware: 80)",
    ),
    g(
        "Enable_Web_Admin_Access",
        SYS_CONF,
        "Enable Web Admin Access",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "Admin_Password",
        SYS_CONF,
        "Admin Password",
        SECRET,
        "",
        "tsv: ref",
    ),
    g(
        "User_Password",
        SYS_CONF,
        "User Password",
        SECRET,
        "",
        "tsv: ref",
    )
    .ua(Ua::Rw),
    g(
        "Session_Max_Timeout",
        SYS_CONF,
        "Session Max Timeout",
        SESSION_TIMEOUT,
        "3600",
        "tsv: ref",
    ),
    g(
        "Session_Idle_Timeout",
        SYS_CONF,
        "Session Idle Timeout",
        SESSION_TIMEOUT,
        "3600",
        "tsv: ref",
    ),
    g(
        "Phone-UI-User-Mode",
        SYS_CONF,
        "Phone-UI-User-Mode",
        BOOL,
        "No",
        "tsv: ref",
    ),
    g(
        "Enable_Direct_Action_Url",
        SYS_CONF,
        "Enable Direct Action Url",
        BOOL,
        "Yes",
        "mpp-provisioning §4, §3.6",
    ),
    g(
        "User_Password_Prompt",
        SYS_CONF,
        "User Password Prompt",
        BOOL,
        "Yes",
        "mpp-provisioning §4",
    ),
    g(
        "Phone-UI-readonly",
        SYS_CONF,
        "Phone-UI-readonly",
        BOOL,
        "No",
        "mpp-provisioning §4",
    ),
    g(
        "Display_Password_Warnings",
        SYS_CONF,
        "Display Password Warnings",
        BOOL,
        "Yes",
        "mpp-provisioning §4",
    ),
    g(
        "Block_Nonproxy_SIP",
        SYS_CONF,
        "Block Nonproxy SIP",
        BOOL,
        "No",
        "mpp-provisioning §4 (name also in the fusionpbx 9861 profile)",
    ),
    // ---- System > Optional Network Configuration ----
    g(
        "Syslog_Server",
        SYS_NET,
        "Syslog Server",
        Kind::HostPort,
        "",
        "tsv: seed §12",
    ),
    g(
        "Syslog_Identifier",
        SYS_NET,
        "Syslog Identifier",
        Kind::Enum(&["None", "$MA", "$MAU", "$MAC", "$SN"]),
        "None",
        "tsv: ref",
    ),
    g(
        "Debug_Level",
        SYS_NET,
        "Debug Level",
        Kind::Enum(&[
            "EMERGENCY",
            "ALERT",
            "CRITICAL",
            "ERROR",
            "WARNING",
            "NOTICE",
            "INFO",
            "DEBUG",
        ]),
        "NOTICE",
        "tsv: ref (older firmware: 0-2)",
    ),
    g(
        "Debug_Server",
        SYS_NET,
        "Debug Server",
        Kind::HostPort,
        "",
        "mpp-provisioning §4",
    ),
    // ---- System > 802.1X Authentication ----
    g(
        "Enable_802.1X_Authentication",
        SYS_8021X,
        "Enable 802.1X Authentication",
        BOOL,
        "No",
        "tsv: seed §17",
    )
    .ua(Ua::Rw),
    g(
        "Certificate_Select",
        SYS_8021X,
        "Certificate Select",
        Kind::Enum(&["Manufacturing installed", "Custom installed"]),
        "Manufacturing installed",
        "mpp-provisioning §4 (XREF 12.0(7): user level, ua=rw)",
    )
    .ua(Ua::Rw),
    // ---- System > Security Settings ----
    g(
        "TLS_Min_Version",
        SYS_SEC,
        "TLS Min Version",
        Kind::Enum(&["TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"]),
        "TLS 1.1",
        "tsv: seed §5 (alias TLS_Client_Min_Version)",
    )
    .aliases(&["TLS_Client_Min_Version"]),
    g(
        "TLS_Server_Min_Version",
        SYS_SEC,
        "TLS Server Min Version",
        Kind::Enum(&["TLS 1.1", "TLS 1.2", "TLS 1.3"]),
        "TLS 1.2",
        "tsv: ref",
    ),
    g(
        "TLS_Cipher_List",
        SYS_SEC,
        "TLS Cipher List",
        Kind::CipherList,
        "",
        "tsv: seed §14",
    ),
    g(
        "Firewall",
        SYS_SEC,
        "Firewall",
        Kind::Enum(&["Enabled", "Disabled"]),
        "Enabled",
        "tsv: seed §13",
    ),
    g(
        "Firewall_Config",
        SYS_SEC,
        "Firewall Options",
        Kind::FirewallOptions,
        "",
        "tsv: seed §13",
    ),
    g(
        "FIPS_Mode",
        SYS_SEC,
        "FIPS Mode",
        Kind::EnumAlias {
            values: &["Enabled", "Disabled"],
            aliases: &[("Yes", "Enabled"), ("No", "Disabled")],
        },
        "Disabled",
        "tsv: seed §19",
    ),
    g(
        "Enable_SSLv3",
        SYS_SEC,
        "Enable SSLv3",
        BOOL,
        "No",
        "tsv: ref",
    ),
    // ---- System > HTTP Proxy Settings ----
    g(
        "Proxy_Mode",
        SYS_HTTP_PROXY,
        "Proxy Mode",
        Kind::Enum(&["Auto", "Manual", "Off"]),
        "Off",
        "tsv: seed §18",
    )
    .ua(Ua::Rw),
    g(
        "Use_Auto_Discovery__WPAD_",
        SYS_HTTP_PROXY,
        "Use Auto Discovery (WPAD)",
        BOOL,
        "Yes",
        "tsv: seed §18",
    )
    .ua(Ua::Rw),
    g(
        "PAC_URL",
        SYS_HTTP_PROXY,
        "PAC URL",
        URL_TFTP_HTTP,
        "",
        "tsv: seed §18",
    )
    .ua(Ua::Rw),
    g(
        "Proxy_Host",
        SYS_HTTP_PROXY,
        "Proxy Host",
        Kind::Host,
        "",
        "tsv: seed §18",
    )
    .ua(Ua::Rw),
    g(
        "Proxy_Port",
        SYS_HTTP_PROXY,
        "Proxy Port",
        ANY_PORT,
        "3128",
        "tsv: seed §18",
    )
    .ua(Ua::Rw),
    g(
        "Proxy_Server_Requires_Authentication",
        SYS_HTTP_PROXY,
        "Proxy Server Requires Authentication",
        BOOL,
        "No",
        "tsv: seed §18",
    )
    .ua(Ua::Rw),
    g(
        "Proxy_Username",
        SYS_HTTP_PROXY,
        "Username",
        TEXT,
        "",
        "tsv: seed §18",
    )
    .ua(Ua::Rw),
    g(
        "Proxy_Password",
        SYS_HTTP_PROXY,
        "Password",
        SECRET,
        "",
        "tsv: seed §18",
    )
    .ua(Ua::Rw),
    // ---- System > VPN Settings ----
    g(
        "VPN_Server",
        SYS_VPN,
        "VPN Server",
        Kind::Host,
        "",
        "tsv: seed §20",
    )
    .ua(Ua::Rw),
    g(
        "VPN_User_Name",
        SYS_VPN,
        "VPN User Name",
        TEXT,
        "",
        "tsv: seed §20",
    )
    .ua(Ua::Rw),
    g(
        "VPN_Password",
        SYS_VPN,
        "VPN Password",
        Kind::SecretAlnum,
        "",
        "tsv: seed §20",
    )
    .ua(Ua::Rw),
    g(
        "VPN_Tunnel_Group",
        SYS_VPN,
        "VPN Tunnel Group",
        TEXT,
        "",
        "tsv: seed §20",
    )
    .ua(Ua::Rw),
    g(
        "Connect_on_Bootup",
        SYS_VPN,
        "Connect on Bootup",
        BOOL,
        "No",
        "tsv: seed §20",
    )
    .ua(Ua::Rw),
    // ---- System > TR-069 ----
    g(
        "Enable_TR-069",
        SYS_TR069,
        "Enable TR-069",
        BOOL,
        "No",
        "tsv: ref (name from label)",
    ),
    g(
        "ACS_URL",
        SYS_TR069,
        "ACS URL",
        URL_HTTP,
        "",
        "mpp-provisioning §4 (name in the fusionpbx profiles)",
    ),
    g(
        "ACS_Username",
        SYS_TR069,
        "ACS Username",
        TEXT,
        "admin",
        "mpp-provisioning §4 (name in the fusionpbx profiles)",
    ),
    g(
        "ACS_Password",
        SYS_TR069,
        "ACS Password",
        SECRET,
        "",
        "mpp-provisioning §4 (name in the fusionpbx profiles, commented out)",
    ),
    g(
        "Connection_Request_Username",
        SYS_TR069,
        "Connection Request Username",
        TEXT,
        "",
        "mpp-provisioning §4 (name in the fusionpbx profiles)",
    ),
    g(
        "Connection_Request_Password",
        SYS_TR069,
        "Connection Request Password",
        SECRET,
        "",
        "mpp-provisioning §4 (name in the fusionpbx profiles, commented out)",
    ),
    g(
        "Periodic_Inform_Interval",
        SYS_TR069,
        "Periodic Inform Interval",
        SECONDS,
        "20",
        "mpp-provisioning §4 (name in the fusionpbx profiles)",
    ),
    g(
        "Periodic_Inform_Enable",
        SYS_TR069,
        "Periodic Inform Enable",
        BOOL,
        "Yes",
        "mpp-provisioning §4 (name in the fusionpbx profiles)",
    ),
    g(
        "CWMP_V1.2_Support",
        SYS_TR069,
        "CWMP V1.2 Support",
        BOOL,
        "Yes",
        "mpp-provisioning §4 (name in the fusionpbx profiles)",
    ),
    g(
        "BACKUP_ACS_URL",
        SYS_TR069,
        "BACKUP ACS URL",
        URL_HTTP,
        "",
        "mpp-provisioning §4 (name in the fusionpbx profiles)",
    ),
    g(
        "BACKUP_ACS_User",
        SYS_TR069,
        "BACKUP ACS User",
        TEXT,
        "",
        "mpp-provisioning §4 (name in the fusionpbx profiles)",
    ),
    g(
        "BACKUP_ACS_Password",
        SYS_TR069,
        "BACKUP ACS Password",
        SECRET,
        "",
        "mpp-provisioning §4 (name in the fusionpbx profiles, commented out)",
    ),
    // ---- System > Peer Firmware Sharing ----
    g(
        "Peer_Firmware_Sharing",
        SYS_PFS,
        "Peer Firmware Sharing",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "Peer_Firmware_Sharing_Log_Server",
        SYS_PFS,
        "Peer Firmware Sharing Log Server",
        Kind::HostPort,
        "",
        "mpp-provisioning §4",
    ),
    // ---- SIP ----
    g(
        "RTP_Port_Min",
        SIP_RTP,
        "RTP Port Min",
        Kind::Port {
            min: 2048,
            max: 49151,
        },
        "16384",
        "tsv: ref",
    ),
    g(
        "RTP_Port_Max",
        SIP_RTP,
        "RTP Port Max",
        Kind::Port {
            min: 2048,
            max: 49151,
        },
        "16482",
        "tsv: ref",
    ),
    g(
        "SIP_TCP_Port_Min",
        SIP_PARAMS,
        "SIP TCP Port Min",
        ANY_PORT,
        "5060",
        "tsv: ref",
    ),
    g(
        "SIP_TCP_Port_Max",
        SIP_PARAMS,
        "SIP TCP Port Max",
        ANY_PORT,
        "5080",
        "tsv: ref",
    ),
    g("SIP_T1", SIP_TIMERS, "SIP T1", SIP_TIMER, ".5", "tsv: ref"),
    g("SIP_T2", SIP_TIMERS, "SIP T2", SIP_TIMER, "4", "tsv: ref"),
    g("SIP_T4", SIP_TIMERS, "SIP T4", SIP_TIMER, "5", "tsv: ref"),
    g(
        "Max_Auth",
        SIP_PARAMS,
        "Max Auth",
        Kind::Int { min: 0, max: 255 },
        "2",
        "tsv: ref",
    ),
    g(
        "Reg_Retry_Intvl",
        SIP_TIMERS,
        "Reg Retry Intvl",
        Kind::Int {
            min: 1,
            max: 2_147_483_647,
        },
        "30",
        "tsv: ref",
    ),
    g(
        "Reg_Retry_Long_Intvl",
        SIP_TIMERS,
        "Reg Retry Long Intvl",
        SECONDS,
        "1200",
        "tsv: ref",
    ),
    g(
        "SIP_User_Agent_Name",
        SIP_PARAMS,
        "SIP User Agent Name",
        MACRO_TEXT,
        "$VERSION",
        "mpp-provisioning §2.5",
    ),
    // ---- Provisioning > Configuration Profile ----
    g(
        "Provision_Enable",
        PROV_CFG,
        "Provision Enable",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "Resync_On_Reset",
        PROV_CFG,
        "Resync On Reset",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "Resync_Random_Delay",
        PROV_CFG,
        "Resync Random Delay",
        UNITS_0_65535,
        "2",
        "tsv: ref (units of 20 s)",
    ),
    g(
        "Resync_At__HHmm_",
        PROV_CFG,
        "Resync At (HHmm)",
        Kind::HhMm,
        "",
        "tsv: ref",
    ),
    g(
        "Resync_At_Random_Delay",
        PROV_CFG,
        "Resync At Random Delay",
        Kind::Int {
            min: 600,
            max: 65535,
        },
        "600",
        "tsv: ref",
    ),
    g(
        "Resync_Periodic",
        PROV_CFG,
        "Resync Periodic",
        Kind::ResyncInterval,
        "3600",
        "tsv: ref",
    ),
    g(
        "Resync_Error_Retry_Delay",
        PROV_CFG,
        "Resync Error Retry Delay",
        Kind::IntList {
            min: 0,
            max: 2_147_483_647,
        },
        "60,120,240,480,960,1920,3840,7680,15360,30720,61440,86400",
        "tsv: ref",
    ),
    g(
        "Forced_Resync_Delay",
        PROV_CFG,
        "Forced Resync Delay",
        UNITS_0_65535,
        "14400",
        "tsv: ref",
    ),
    g(
        "Resync_From_SIP",
        PROV_CFG,
        "Resync From SIP",
        BOOL,
        "Yes",
        "tsv: ref / SPEC §4b",
    ),
    g(
        "Resync_After_Upgrade_Attempt",
        PROV_CFG,
        "Resync After Upgrade Attempt",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "Resync_Trigger_1",
        PROV_CFG,
        "Resync Trigger 1",
        CONDITION,
        "",
        "tsv: ref",
    ),
    g(
        "Resync_Trigger_2",
        PROV_CFG,
        "Resync Trigger 2",
        CONDITION,
        "",
        "tsv: ref",
    ),
    g(
        "Resync_Fails_On_FNF",
        PROV_CFG,
        "Resync Fails On FNF",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "Profile_Authentication_Type",
        PROV_CFG,
        "Profile Authentication Type",
        Kind::Enum(&[
            "Disabled",
            "Basic Http Authentication",
            "XSI Authentication",
        ]),
        "Basic Http Authentication",
        "tsv: ref",
    ),
    g(
        "Profile_Rule",
        PROV_CFG,
        "Profile Rule",
        RULE,
        "/$PSN.xml",
        "tsv: ref",
    ),
    g(
        "Profile_Rule_B",
        PROV_CFG,
        "Profile Rule B",
        RULE,
        "",
        "tsv: ref",
    ),
    g(
        "Profile_Rule_C",
        PROV_CFG,
        "Profile Rule C",
        RULE,
        "",
        "tsv: ref",
    ),
    g(
        "Profile_Rule_D",
        PROV_CFG,
        "Profile Rule D",
        RULE,
        "",
        "tsv: ref",
    ),
    g(
        "DHCP_Option_To_Use",
        PROV_CFG,
        "DHCP Option To Use",
        Kind::IntList { min: 1, max: 254 },
        "66,160,159,150,60,43,125",
        "tsv: seed §2",
    ),
    g(
        "DHCPv6_Option_To_Use",
        PROV_CFG,
        "DHCPv6 Option To Use",
        Kind::IntList { min: 1, max: 65535 },
        "17,160,159",
        "tsv: seed §2",
    ),
    g(
        "Log_Request_Msg",
        PROV_CFG,
        "Log Request Msg",
        MACRO_TEXT,
        LOG_REQUEST,
        "tsv: seed §12",
    ),
    g(
        "Log_Success_Msg",
        PROV_CFG,
        "Log Success Msg",
        MACRO_TEXT,
        LOG_SUCCESS,
        "tsv: seed §12",
    ),
    g(
        "Log_Failure_Msg",
        PROV_CFG,
        "Log Failure Msg",
        MACRO_TEXT,
        LOG_FAILURE,
        "tsv: seed §12",
    ),
    g(
        "User_Configurable_Resync",
        PROV_CFG,
        "User Configurable Resync",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "IKM_HTTP_Encrypt_Content",
        PROV_CFG,
        "(hidden)",
        SECRET,
        "",
        "mpp-provisioning §2.4, §4 (not shown, not exported)",
    ),
    // ---- Provisioning > Firmware Upgrade ----
    g(
        "Upgrade_Enable",
        PROV_UPGRADE,
        "Upgrade Enable",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    g(
        "Upgrade_Error_Retry_Delay",
        PROV_UPGRADE,
        "Upgrade Error Retry Delay",
        SECONDS,
        "3600",
        "tsv: ref",
    ),
    g(
        "Downgrade_Rev_Limit",
        PROV_UPGRADE,
        "Downgrade Rev Limit",
        TEXT,
        "",
        "mpp-provisioning §2.6",
    ),
    g(
        "Upgrade_Rule",
        PROV_UPGRADE,
        "Upgrade Rule",
        RULE,
        "",
        "tsv: ref",
    ),
    g(
        "Cisco_Headset_Upgrade_Rule",
        PROV_UPGRADE,
        "Cisco Headset Upgrade Rule",
        RULE,
        "",
        "tsv: seed §1",
    ),
    g(
        "Log_Upgrade_Request_Msg",
        PROV_UPGRADE,
        "Log Upgrade Request Msg",
        MACRO_TEXT,
        LOG_UPGRADE_REQUEST,
        "tsv: ref",
    ),
    g(
        "Log_Upgrade_Success_Msg",
        PROV_UPGRADE,
        "Log Upgrade Success Msg",
        MACRO_TEXT,
        LOG_UPGRADE_SUCCESS,
        "tsv: ref",
    ),
    g(
        "Log_Upgrade_Failure_Msg",
        PROV_UPGRADE,
        "Log Upgrade Failure Msg",
        MACRO_TEXT,
        LOG_UPGRADE_FAILURE,
        "tsv: ref",
    ),
    // ---- Provisioning > CA Settings, MIC Cert Settings, HTTP Settings ----
    g(
        "Custom_CA_Rule",
        PROV_CA,
        "Custom CA Rule",
        RULE,
        "",
        "tsv: seed §1",
    ),
    g(
        "MIC_Cert_Refresh_Enable",
        PROV_MIC,
        "MIC Cert Refresh Enable",
        BOOL,
        "No",
        "mpp-provisioning §2.6, §4",
    ),
    g(
        "MIC_Cert_Refresh_Rule",
        PROV_MIC,
        "MIC Cert Refresh Rule",
        URL_HTTP,
        "http://sudirenewal.cisco.com/",
        "mpp-provisioning §2.6",
    ),
    g(
        "HTTP_User_Agent_Name",
        PROV_HTTP,
        "HTTP User Agent Name",
        MACRO_TEXT,
        "",
        "tsv: ref",
    ),
    // ---- Provisioning > Upload Configuration Options ----
    g(
        "Report_Rule",
        PROV_UPLOAD,
        "Report Rule",
        RULE,
        "",
        "tsv: seed §1",
    ),
    g(
        "HTTP_Report_Method",
        PROV_UPLOAD,
        "HTTP Report Method",
        Kind::Enum(&["PUT", "POST"]),
        "POST",
        "tsv: ref",
    ),
    // The Cisco guides write `Report_to_Server` and `periodic_upload_to_server`; the fusionpbx
    // 9861 profile sends `Report_To_Server` and `Periodic_Upload_To_Server`. Names are
    // case-sensitive, so every spelling seen is accepted.
    g(
        "Report_to_Server",
        PROV_UPLOAD,
        "Report to Server",
        Kind::Enum(&["On Request", "On Local Change", "Periodically"]),
        "On Request",
        "mpp-provisioning §3.6",
    )
    .aliases(&["Report_To_Server"]),
    g(
        "Periodic_Upload_to_Server",
        PROV_UPLOAD,
        "Periodic Upload to Server",
        Kind::Int {
            min: 600,
            max: 2_592_000,
        },
        "3600",
        "mpp-provisioning §3.6 (range 600-259200 or 600-2592000)",
    )
    .aliases(&["periodic_upload_to_server", "Periodic_Upload_To_Server"]),
    g(
        "Upload_Delay_On_Local_Change",
        PROV_UPLOAD,
        "Upload Delay On Local Change",
        Kind::Int { min: 10, max: 900 },
        "60",
        "mpp-provisioning §3.6",
    ),
    // ---- Provisioning > Problem Report Tool ----
    g(
        "PRT_Upload_Rule",
        PROV_PRT,
        "PRT Upload Rule",
        URL_HTTP,
        "",
        "tsv: ref",
    ),
    g(
        "PRT_Upload_Method",
        PROV_PRT,
        "PRT Upload Method",
        ENUM_POST_PUT,
        "POST",
        "tsv: ref",
    ),
    g(
        "PRT_Max_Timer",
        PROV_PRT,
        "PRT Max Timer",
        Kind::Int { min: 15, max: 1440 },
        "",
        "mpp-provisioning §4 (minutes)",
    ),
    g(
        "PRT_Name",
        PROV_PRT,
        "PRT Name",
        MACRO_TEXT,
        "",
        "mpp-provisioning §4",
    ),
    g(
        "PRT_HTTP_Header",
        PROV_PRT,
        "PRT HTTP Header",
        TEXT,
        "",
        "mpp-provisioning §4",
    ),
    g(
        "PRT_HTTP_Header_Value",
        PROV_PRT,
        "PRT HTTP Header Value",
        TEXT,
        "",
        "mpp-provisioning §4",
    ),
    g(
        "PRT_Upload_at_Crash",
        PROV_PRT,
        "PRT Upload at Crash",
        BOOL,
        "No",
        "tsv: seed §7",
    ),
    // ---- Provisioning > General Purpose Parameters ----
    g("GPP_A", PROV_GPP, "GPP A", TEXT, "", "tsv: ref"),
    g("GPP_B", PROV_GPP, "GPP B", TEXT, "", "tsv: ref"),
    g("GPP_C", PROV_GPP, "GPP C", TEXT, "", "tsv: ref"),
    g("GPP_D", PROV_GPP, "GPP D", TEXT, "", "tsv: ref"),
    g("GPP_E", PROV_GPP, "GPP E", TEXT, "", "tsv: ref"),
    g("GPP_F", PROV_GPP, "GPP F", TEXT, "", "tsv: ref"),
    g("GPP_G", PROV_GPP, "GPP G", TEXT, "", "tsv: ref"),
    g("GPP_H", PROV_GPP, "GPP H", TEXT, "", "tsv: ref"),
    g("GPP_I", PROV_GPP, "GPP I", TEXT, "", "tsv: ref"),
    g("GPP_J", PROV_GPP, "GPP J", TEXT, "", "tsv: ref"),
    g("GPP_K", PROV_GPP, "GPP K", TEXT, "", "tsv: ref"),
    g("GPP_L", PROV_GPP, "GPP L", TEXT, "", "tsv: ref"),
    g("GPP_M", PROV_GPP, "GPP M", TEXT, "", "tsv: ref"),
    g("GPP_N", PROV_GPP, "GPP N", TEXT, "", "tsv: ref"),
    g("GPP_O", PROV_GPP, "GPP O", TEXT, "", "tsv: ref"),
    g("GPP_P", PROV_GPP, "GPP P", TEXT, "", "tsv: ref"),
    g(
        "GPP_SA",
        PROV_GPP,
        "(hidden)",
        SECRET,
        "",
        "tsv: ref (not shown, not exported)",
    ),
    g(
        "GPP_SB",
        PROV_GPP,
        "(hidden)",
        SECRET,
        "",
        "tsv: ref (not shown, not exported)",
    ),
    g(
        "GPP_SC",
        PROV_GPP,
        "(hidden)",
        SECRET,
        "",
        "tsv: ref (not shown, not exported)",
    ),
    g(
        "GPP_SD",
        PROV_GPP,
        "(hidden)",
        SECRET,
        "",
        "tsv: ref (not shown, not exported)",
    ),
    // ---- Phone > Webex ----
    g(
        "Webex_Onboard_Enable",
        PHONE_WEBEX,
        "Onboard Enable",
        BOOL,
        "Yes",
        "mpp-provisioning §3.5, §4",
    ),
    g(
        "Webex_Metrics_Enable",
        PHONE_WEBEX,
        "Metrics Enable",
        BOOL,
        "No",
        "tsv: seed §6",
    ),
    // ---- Phone > WebSocket API ----
    g(
        "Control_Server_URL",
        PHONE_WS,
        "Control Server URL",
        Kind::Url(&["ws", "wss"]),
        "",
        "mpp-provisioning §4",
    ),
    g(
        "Allowed_APIs",
        PHONE_WS,
        "Allowed APIs",
        TEXT,
        ".*",
        "mpp-provisioning §4 (regular expression)",
    ),
    // ---- Phone > LCD Authentication ----
    g(
        "Require_Authentication_for_LCD_Menu_Access",
        PHONE_LCD_AUTH,
        "Require Authentication for LCD Menu Access",
        Kind::Enum(&["Default", "Customized", "No"]),
        "Default",
        "mpp-provisioning §4",
    ),
    g(
        "Factory_Reset_Menu",
        PHONE_LCD_AUTH_CUSTOM,
        "Factory Reset Menu",
        BOOL,
        "Yes",
        "mpp-provisioning §4",
    ),
    g(
        "Profile_Rule_Menu",
        PHONE_LCD_AUTH_CUSTOM,
        "Profile Rule Menu",
        BOOL,
        "Yes",
        "mpp-provisioning §4",
    ),
    // ---- Phone > Supplementary Services, XML Service ----
    g(
        "Secure_Call_Serv",
        PHONE_SUPP,
        "Secure Call Serv",
        BOOL,
        "Yes",
        "mpp-provisioning §4 (default from the fusionpbx template)",
    ),
    g(
        "CISCO_XML_EXE_Enable",
        PHONE_XML,
        "CISCO XML EXE Enable",
        BOOL,
        "No",
        "mpp-provisioning §4",
    ),
    g(
        "CISCO_XML_EXE_Auth_Mode",
        PHONE_XML,
        "CISCO XML EXE Auth Mode",
        Kind::Enum(&["Trusted", "Local Credential", "Remote Credential"]),
        "Local Credential",
        "mpp-provisioning §4",
    ),
    // ---- Phone > LDAP ----
    g(
        "LDAP_Dir_Enable",
        PHONE_LDAP,
        "LDAP Dir Enable",
        BOOL,
        "No",
        "tsv: ref",
    ),
    g(
        "LDAP_Prompt_For_Empty_Credentials",
        PHONE_LDAP,
        "(hidden)",
        BOOL,
        "No",
        "XREF (not on the web page; name in the fusionpbx 9861 profile)",
    ),
    g(
        "LDAP_Corp_Dir_Name",
        PHONE_LDAP,
        "Corp Dir Name",
        TEXT,
        "",
        "tsv: ref",
    ),
    g(
        "LDAP_Server",
        PHONE_LDAP,
        "Server",
        Kind::LdapUrl,
        "",
        "tsv: seed §9",
    ),
    g(
        "LDAP_StartTLS_Enable",
        PHONE_LDAP,
        "StartTLS Enable",
        BOOL,
        "No",
        "tsv: seed §9",
    ),
    g(
        "LDAP_Auth_Method",
        PHONE_LDAP,
        "Auth Method",
        Kind::Enum(&["None", "Simple", "DIGEST-MD5"]),
        "None",
        "tsv: seed §9",
    ),
    g(
        "LDAP_Client_DN",
        PHONE_LDAP,
        "Client DN",
        TEXT,
        "",
        "tsv: ref (Simple bind DN)",
    ),
    g(
        "LDAP_Username",
        PHONE_LDAP,
        "Username",
        TEXT,
        "",
        "tsv: ref (DIGEST-MD5)",
    ),
    g(
        "LDAP_Password",
        PHONE_LDAP,
        "Password",
        SECRET,
        "",
        "tsv: ref",
    ),
    g(
        "LDAP_Search_Base",
        PHONE_LDAP,
        "Search Base",
        TEXT,
        "",
        "tsv: ref",
    ),
    g(
        "LDAP_Last_Name_Filter",
        PHONE_LDAP,
        "Last Name Filter",
        TEXT,
        "",
        "tsv: ref",
    ),
    g(
        "LDAP_First_Name_Filter",
        PHONE_LDAP,
        "First Name Filter",
        TEXT,
        "",
        "tsv: ref",
    ),
    g(
        "LDAP_Search_Item_3",
        PHONE_LDAP,
        "Search Item 3",
        TEXT,
        "",
        "SPA/MPP admin guides (name in the fusionpbx profiles)",
    ),
    g(
        "LDAP_Item_3_Filter",
        PHONE_LDAP,
        "Search Item 3 Filter",
        TEXT,
        "",
        "SPA/MPP admin guides (name in the fusionpbx profiles)",
    ),
    g(
        "LDAP_Search_Item_4",
        PHONE_LDAP,
        "Search Item 4",
        TEXT,
        "",
        "SPA/MPP admin guides (name in the fusionpbx profiles)",
    ),
    g(
        "LDAP_Item_4_Filter",
        PHONE_LDAP,
        "Search Item 4 Filter",
        TEXT,
        "",
        "SPA/MPP admin guides (name in the fusionpbx profiles; older templates spell it \
         LDAP_item_4_Filter)",
    )
    .aliases(&["LDAP_item_4_Filter"]),
    g(
        "LDAP_Display_Attrs",
        PHONE_LDAP,
        "Display Attrs",
        TEXT,
        "",
        "tsv: ref",
    ),
    g(
        "LDAP_Number_Mapping",
        PHONE_LDAP,
        "Number Mapping",
        TEXT,
        "",
        "SPA/MPP admin guides (name in the fusionpbx profiles)",
    ),
    // ---- Ext(n) > General ----
    l(
        "Line_Enable_n_",
        EXT_GENERAL,
        "Line Enable",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    // ---- Ext(n) > SIP Settings ----
    l(
        "SIP_Transport_n_",
        EXT_SIP,
        "SIP Transport",
        Kind::Enum(&["UDP", "TCP", "TLS", "Auto"]),
        "UDP",
        "tsv: seed §8",
    ),
    l(
        "SIP_Port_n_",
        EXT_SIP,
        "SIP Port",
        ANY_PORT,
        "",
        "tsv: ref + decision (distinct UDP port per line)",
    )
    .line_offset(5059),
    l(
        "EXT_SIP_Port_n_",
        EXT_SIP,
        "EXT SIP Port",
        Kind::Port { min: 0, max: 65535 },
        "0",
        "mpp-provisioning §4 (default 0 as real exports; DESK guide: 5060)",
    ),
    l(
        "Auth_INVITE_n_",
        EXT_SIP,
        "Auth INVITE",
        BOOL,
        "No",
        "tsv: seed §3",
    ),
    g(
        "Auth_Support_RFC8760",
        EXT_SIP,
        "Auth Support RFC8760",
        BOOL,
        "No",
        "tsv: seed §4 (per line override Auth_Support_RFC8760_n_)",
    ),
    l(
        "Auth_Support_RFC8760_n_",
        EXT_SIP,
        "Auth Support RFC8760",
        BOOL,
        "",
        "SPEC §4 (per line override of Auth_Support_RFC8760)",
    )
    .fallback("Auth_Support_RFC8760"),
    l(
        "Auth_Resync-Reboot_n_",
        EXT_SIP,
        "Auth Resync-Reboot",
        BOOL,
        "Yes",
        "tsv: SPEC §4b",
    ),
    l(
        "MediaSec_Request_n_",
        EXT_SIP,
        "MediaSec Request",
        BOOL,
        "No",
        "tsv: seed §16",
    ),
    l(
        "MediaSec_Over_TLS_Only_n_",
        EXT_SIP,
        "MediaSec Over TLS Only",
        BOOL,
        "No",
        "tsv: seed §16",
    ),
    // ---- Ext(n) > Call Feature Settings ----
    l(
        "Secure_Call_Option_n_",
        EXT_CALL_FEATURES,
        "Secure Call Option",
        Kind::Enum(&["Optional", "Required", "Strict"]),
        "Optional",
        "mpp-provisioning §4",
    ),
    // ---- Ext(n) > Proxy and Registration ----
    l(
        "Proxy_n_",
        EXT_PROXY,
        "Proxy",
        Kind::SipProxy,
        "",
        "tsv: seed §1",
    ),
    l(
        "Outbound_Proxy_n_",
        EXT_PROXY,
        "Outbound Proxy",
        Kind::HostPort,
        "",
        "tsv: seed §1",
    ),
    l(
        "Alternate_Proxy_n_",
        EXT_PROXY,
        "Alternate Proxy",
        Kind::HostPort,
        "",
        "MPP admin guides (name in the fusionpbx profiles)",
    ),
    l(
        "Alternate_Outbound_Proxy_n_",
        EXT_PROXY,
        "Alternate Outbound Proxy",
        Kind::HostPort,
        "",
        "MPP admin guides (name in the fusionpbx profiles)",
    ),
    l(
        "TLS_Name_Validate_n_",
        EXT_PROXY,
        "TLS Name Validate",
        BOOL,
        "Yes",
        "tsv: seed §15",
    ),
    l(
        "Register_n_",
        EXT_PROXY,
        "Register",
        BOOL,
        "Yes",
        "tsv: ref",
    ),
    l(
        "Register_Expires_n_",
        EXT_PROXY,
        "Register Expires",
        SECONDS,
        "3600",
        "tsv: ref",
    ),
    l(
        "Use_DNS_SRV_n_",
        EXT_PROXY,
        "Use DNS SRV",
        BOOL,
        "No",
        "MPP admin guides (name in the fusionpbx profiles)",
    ),
    // ---- Ext(n) > Subscriber Information ----
    l(
        "Display_Name_n_",
        EXT_SUBSCRIBER,
        "Display Name",
        TEXT,
        "",
        "tsv: ref",
    ),
    l(
        "User_ID_n_",
        EXT_SUBSCRIBER,
        "User ID",
        TEXT,
        "",
        "tsv: ref",
    ),
    l(
        "Password_n_",
        EXT_SUBSCRIBER,
        "Password",
        SECRET,
        "",
        "tsv: ref",
    ),
    l(
        "Auth_ID_n_",
        EXT_SUBSCRIBER,
        "Auth ID",
        TEXT,
        "",
        "tsv: ref",
    )
    .fallback("User_ID_n_"),
    // ---- Ext(n) > Audio Configuration ----
    l(
        "Encryption_Method_n_",
        EXT_AUDIO,
        "Encryption Method",
        TEXT,
        "AES 128",
        "mpp-provisioning §4 (values not documented; fusionpbx template: AES 128)",
    ),
];
