//! Small server-side HTML builders. Every piece of text that is not a literal of this file goes
//! through [`escape`].

use std::fmt::Write as _;

use mppd_config::Kind;
use serde_json::Value;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The navigation of a logged-in page.
pub struct Nav<'a> {
    /// `admin` or `user`.
    pub role: &'a str,
    /// `(url segment, title)` of each tab the account may open.
    pub tabs: &'a [(String, String)],
    /// Whether to link the admin page.
    pub admin: bool,
    /// The session's CSRF token (for the logout form).
    pub csrf: &'a str,
}

/// A whole page.
pub fn page(title: &str, nav: Option<&Nav<'_>>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} - mppd</title>\
         <style>body{{font-family:sans-serif;margin:1em}}td,th{{padding:2px 6px;text-align:left;vertical-align:top}}\
         .err{{color:#b00;font-weight:bold}}.note{{color:#555}}nav a{{margin-right:1em}}</style>\
         </head><body>",
        escape(title)
    );
    if let Some(nav) = nav {
        out.push_str("<nav><a href=\"/status\">Info</a><a href=\"/directory\">Directory</a>");
        for (seg, name) in nav.tabs {
            let _ = write!(out, "<a href=\"/tab/{}\">{}</a>", escape(seg), escape(name));
        }
        if nav.admin {
            out.push_str("<a href=\"/admin\">Admin</a>");
        }
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/logout\" style=\"display:inline\">{}\
             <button type=\"submit\">Log out ({})</button></form></nav>",
            csrf_field(nav.csrf),
            escape(nav.role)
        );
    }
    let _ = write!(out, "<h1>{}</h1>{body}</body></html>", escape(title));
    out
}

/// The hidden CSRF field of a form.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(token)
    )
}

/// The login form.
pub fn login_form(token: &str, message: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(m) = message {
        let _ = write!(out, "<p class=\"err\">{}</p>", escape(m));
    }
    let _ = write!(
        out,
        "<form method=\"post\" action=\"/login\">{}\
         <p><label>Account <select name=\"account\"><option value=\"admin\">admin</option>\
         <option value=\"user\">user</option></select></label></p>\
         <p><label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label></p>\
         <p><button type=\"submit\">Log in</button></p></form>",
        csrf_field(token)
    );
    out
}

/// Describes the values a kind accepts.
pub fn allowed(kind: &Kind) -> String {
    match kind {
        Kind::Bool => "Yes | No".into(),
        Kind::Enum(v) | Kind::EnumAlias { values: v, .. } => v.join(" | "),
        Kind::Port { min, max } => format!("port {min}-{max}"),
        Kind::PortRange => "port range x-y (1-65535)".into(),
        Kind::Int { min, max } => format!("integer {min}-{max}"),
        Kind::Decimal {
            min_milli,
            max_milli,
        } => format!("number {}-{}", milli(*min_milli), milli(*max_milli)),
        Kind::Host => "host name or IP address".into(),
        Kind::HostPort => "host[:port]".into(),
        Kind::Url(schemes) => format!("URL ({})", schemes.join(", ")),
        Kind::LdapUrl => "ldap:// or ldaps:// URL".into(),
        Kind::Rule => "provisioning rule".into(),
        Kind::SipProxy => "host[:port] or SRV list".into(),
        Kind::FqdnList => "comma-separated host names".into(),
        Kind::IntList { min, max } => format!("comma-separated integers {min}-{max}"),
        Kind::Secret => "secret".into(),
        Kind::SecretAlnum => "secret (letters and digits)".into(),
        Kind::CipherList => "OpenSSL cipher list".into(),
        Kind::FirewallOptions => {
            "NO_ICMP_PING, NO_ICMP_UNREACHABLE, NO_CISCO_TFTP, UDP:x[:y], TCP:x[:y]".into()
        }
        Kind::HhMm => "time HHmm (0000-2400)".into(),
        Kind::ResyncInterval => "seconds, list of seconds or base+random".into(),
        Kind::Condition => "resync condition".into(),
        _ => "text".into(),
    }
}

fn milli(v: i64) -> String {
    if v % 1000 == 0 {
        (v / 1000).to_string()
    } else {
        format!("{}.{:03}", v / 1000, (v % 1000).abs())
            .trim_end_matches('0')
            .to_owned()
    }
}

/// The choices of a select input, or `None` for a text input.
pub fn choices(kind: &Kind) -> Option<&'static [&'static str]> {
    match kind {
        Kind::Bool => Some(&["Yes", "No"]),
        Kind::Enum(v) | Kind::EnumAlias { values: v, .. } => Some(v),
        _ => None,
    }
}

/// One field as a page shows it.
pub struct Field<'a> {
    /// The cfg.xml name (the form key is `v:NAME`).
    pub name: &'a str,
    /// The label.
    pub label: &'a str,
    /// The kind.
    pub kind: &'a Kind,
    /// Whether it is a secret (never shown; "set"/"unset").
    pub secret: bool,
    /// The value to put in the input (already masked where needed; ignored for secrets).
    pub value: &'a str,
    /// For secrets: whether a value is set.
    pub set: bool,
    /// The default (already masked where needed).
    pub default: &'a str,
    /// Whether the account may change it.
    pub editable: bool,
    /// The validation error to show beside it.
    pub error: Option<&'a str>,
}

/// A table row for a field.
pub fn field_row(f: &Field<'_>) -> String {
    let name = escape(f.name);
    let disabled = if f.editable { "" } else { " disabled" };
    let mut input = String::new();
    if f.secret {
        let _ = write!(
            input,
            "<input type=\"password\" name=\"v:{name}\" value=\"\" autocomplete=\"new-password\"{disabled}> \
             <span class=\"note\">({})</span>",
            if f.set { "set" } else { "unset" }
        );
        if f.editable && f.set {
            let _ = write!(
                input,
                " <label><input type=\"checkbox\" name=\"clear:{name}\" value=\"1\"> clear</label>"
            );
        }
    } else if let Some(options) = choices(f.kind)
        && (f.value.is_empty() || options.contains(&f.value))
    {
        let _ = write!(input, "<select name=\"v:{name}\"{disabled}>");
        if f.value.is_empty() {
            input.push_str("<option value=\"\" selected></option>");
        }
        for o in options {
            let sel = if *o == f.value { " selected" } else { "" };
            let o = escape(o);
            let _ = write!(input, "<option value=\"{o}\"{sel}>{o}</option>");
        }
        input.push_str("</select>");
    } else {
        let _ = write!(
            input,
            "<input type=\"text\" name=\"v:{name}\" value=\"{}\" size=\"40\"{disabled}>",
            escape(f.value)
        );
    }
    let error = f
        .error
        .map(|e| format!(" <span class=\"err\">{}</span>", escape(e)))
        .unwrap_or_default();
    let default = if f.secret {
        String::new()
    } else {
        escape(f.default)
    };
    format!(
        "<tr id=\"f-{name}\"><th><label>{}</label></th><td>{input}{error}</td>\
         <td class=\"note\">default: {default}</td><td class=\"note\">{}</td></tr>",
        escape(f.label),
        escape(&allowed(f.kind))
    )
}

/// Renders a JSON value as nested definition lists.
pub fn json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut out = String::from("<dl>");
            for (k, v) in m {
                let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), json(v));
            }
            out.push_str("</dl>");
            out
        }
        Value::Array(a) => {
            let mut out = String::from("<ul>");
            for v in a {
                let _ = write!(out, "<li>{}</li>", json(v));
            }
            out.push_str("</ul>");
            out
        }
        Value::String(s) => escape(s),
        Value::Null => "-".into(),
        other => escape(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain ü"), "plain ü");
    }

    #[test]
    fn describes_kinds() {
        assert_eq!(allowed(&Kind::Bool), "Yes | No");
        assert_eq!(
            allowed(&Kind::Decimal {
                min_milli: 500,
                max_milli: 64_000
            }),
            "number 0.5-64"
        );
    }

    #[test]
    fn field_rows_escape_and_hide_secrets() {
        let row = field_row(&Field {
            name: "Admin_Password",
            label: "Admin Password",
            kind: &Kind::Secret,
            secret: true,
            value: "hunter2",
            set: true,
            default: "",
            editable: true,
            error: None,
        });
        assert!(!row.contains("hunter2"));
        assert!(row.contains("(set)"));
        let row = field_row(&Field {
            name: "X",
            label: "<b>",
            kind: &Kind::Text,
            secret: false,
            value: "\"><script>",
            set: false,
            default: "",
            editable: false,
            error: Some("bad <value>"),
        });
        assert!(!row.contains("<script>") && !row.contains("<b>"));
        assert!(row.contains("disabled") && row.contains("bad &lt;value&gt;"));
    }
}
