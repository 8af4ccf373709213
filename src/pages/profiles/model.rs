//! The email server profile form's data: core's rule input read from the form's draft,
//! the option lists, and what the form rules change when a value changes. Plain
//! functions (host unit tests).

use mailsync_core::options::{
    server_type_label, OptionSet, AUTH_PROTOCOLS, CREDENTIAL_RETRIEVALS, EXCHANGE_VERSIONS,
    TEST_STATUSES,
};
use mailsync_core::rules::{
    default_port, forces_auto_detect, is_usual_port, offers_exchange_settings,
    takes_profile_credentials, ConnectionRule, ProfileSettings,
};
use serde_json::{Map, Value};

pub const PROFILES: &str = "/api/data/v9.2/emailserverprofiles";

/// The directions a profile configures, by their column prefix.
pub const DIRECTIONS: [&str; 2] = ["incoming", "outgoing"];

fn int(m: &Map<String, Value>, k: &str) -> Option<i64> {
    m.get(k).and_then(Value::as_i64)
}

fn i32_of(m: &Map<String, Value>, k: &str) -> Option<i32> {
    int(m, k).and_then(|v| i32::try_from(v).ok())
}

fn flag(m: &Map<String, Value>, k: &str) -> Option<bool> {
    m.get(k).and_then(Value::as_bool)
}

/// The profile as core's rules read it.
pub fn settings_of(m: &Map<String, Value>) -> ProfileSettings {
    let conn = |dir: &str| ConnectionRule {
        credential_retrieval: i32_of(m, &format!("{dir}credentialretrieval")),
        authentication_protocol: i32_of(m, &format!("{dir}authenticationprotocol")),
        use_impersonation: flag(m, &format!("{dir}useimpersonation")),
        use_ssl: flag(m, &format!("{dir}usessl")),
        port: int(m, &format!("{dir}portnumber")),
    };
    ProfileSettings {
        server_type: i32_of(m, "servertype"),
        exchange_version: i32_of(m, "exchangeversion"),
        use_autodiscover: flag(m, "useautodiscover"),
        max_concurrent_connections: int(m, "maxconcurrentconnections"),
        min_polling_interval_minutes: int(m, "minpollingintervalinminutes"),
        incoming: conn("incoming"),
        outgoing: conn("outgoing"),
    }
}

/// What the form rules make of an edit: called after every change with the draft.
/// Returns the draft with the implied changes (Auto Detect forced, credentials cleared,
/// Exchange-only settings off, usual ports following the server type and SSL, outgoing
/// following incoming when "use same settings" is on).
pub fn apply_rules(before: &Map<String, Value>, mut m: Map<String, Value>) -> Map<String, Value> {
    let server_type = i32_of(&m, "servertype");
    if !offers_exchange_settings(server_type) {
        for k in [
            "useautodiscover",
            "incominguseimpersonation",
            "outgoinguseimpersonation",
        ] {
            if flag(&m, k) == Some(true) {
                m.insert(k.into(), Value::Bool(false));
            }
        }
    }
    if flag(&m, "usesamesettingsforoutgoingconnections") == Some(true) {
        for k in ["credentialretrieval", "authenticationprotocol", "username"] {
            let v = m
                .get(&format!("incoming{k}"))
                .cloned()
                .unwrap_or(Value::Null);
            m.insert(format!("outgoing{k}"), v);
        }
        match m.get("incomingpassword").cloned() {
            Some(pw) => m.insert("outgoingpassword".into(), pw),
            None => m.remove("outgoingpassword"),
        };
    }
    for dir in DIRECTIONS {
        let cr = i32_of(&m, &format!("{dir}credentialretrieval"));
        let proto = format!("{dir}authenticationprotocol");
        if forces_auto_detect(cr) && int(&m, &proto) != Some(0) {
            m.insert(proto, Value::from(0));
        }
        if !takes_profile_credentials(cr) {
            let user = format!("{dir}username");
            if m.get(&user).is_some_and(|v| !v.is_null()) {
                m.insert(user, Value::Null);
            }
            m.remove(&format!("{dir}password"));
        }
        let ssl_key = format!("{dir}usessl");
        let port_key = format!("{dir}portnumber");
        let moved = i32_of(before, "servertype") != server_type
            || flag(before, &ssl_key) != flag(&m, &ssl_key);
        let port = int(&m, &port_key);
        if moved && port.is_none_or(is_usual_port) {
            let ssl = flag(&m, &ssl_key).unwrap_or(true);
            m.insert(
                port_key,
                Value::from(default_port(server_type, dir == "incoming", ssl)),
            );
        }
    }
    m
}

/// A new profile's values: IMAP/SMTP with SSL on the usual ports, credentials from
/// each mailbox.
pub fn defaults() -> Map<String, Value> {
    let v = serde_json::json!({
        "servertype": 4, "useautodiscover": false,
        "incomingcredentialretrieval": 0, "outgoingcredentialretrieval": 0,
        "incomingauthenticationprotocol": 3, "outgoingauthenticationprotocol": 3,
        "incomingusessl": true, "outgoingusessl": true,
        "incomingportnumber": 993, "outgoingportnumber": 465,
        "incominguseimpersonation": false, "outgoinguseimpersonation": false,
        "usesamesettingsforoutgoingconnections": true,
        "maxconcurrentconnections": 10, "minpollingintervalinminutes": 0,
        "timeoutmailboxconnection": false, "moveundeliveredemails": false,
        "sendemailalert": false,
    });
    v.as_object().cloned().unwrap_or_default()
}

pub fn server_types() -> Vec<(i64, &'static str)> {
    [0, 2, 3, 1, 4]
        .into_iter()
        .map(|v| (v, server_type_label(v as i32)))
        .collect()
}

/// A core option set as the form's choices.
fn choices(set: OptionSet) -> Vec<(i64, &'static str)> {
    set.iter().map(|(v, l)| (i64::from(*v), *l)).collect()
}

pub fn credential_retrievals() -> Vec<(i64, &'static str)> {
    choices(CREDENTIAL_RETRIEVALS)
}

pub fn auth_protocols() -> Vec<(i64, &'static str)> {
    choices(AUTH_PROTOCOLS)
}

pub fn exchange_versions() -> Vec<(i64, &'static str)> {
    choices(EXCHANGE_VERSIONS)
}

pub fn test_status_label(v: Option<i64>) -> &'static str {
    TEST_STATUSES
        .iter()
        .find(|(o, _)| v == Some(i64::from(*o)))
        .map_or("", |(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn server_to_server_forces_auto_detect_and_clears_credentials() {
        let before = map(json!({"servertype": 0, "incomingcredentialretrieval": 1,
            "incomingauthenticationprotocol": 3, "incomingusername": "svc", "incomingpassword": "x",
            "incomingusessl": true, "incomingportnumber": 443}));
        let mut after = before.clone();
        after.insert("incomingcredentialretrieval".into(), json!(2));
        let m = apply_rules(&before, after);
        assert_eq!(m["incomingauthenticationprotocol"], 0);
        assert_eq!(m["incomingusername"], Value::Null);
        assert!(!m.contains_key("incomingpassword"));
        assert_eq!(m["incomingportnumber"], 443);
    }

    #[test]
    fn pop_imap_turn_exchange_settings_off_and_move_usual_ports() {
        let before = map(json!({"servertype": 0, "useautodiscover": true,
            "incominguseimpersonation": true, "incomingusessl": true, "incomingportnumber": 443,
            "outgoingusessl": true, "outgoingportnumber": 2525}));
        let mut after = before.clone();
        after.insert("servertype".into(), json!(1));
        let m = apply_rules(&before, after);
        assert_eq!(m["useautodiscover"], false);
        assert_eq!(m["incominguseimpersonation"], false);
        assert_eq!(m["incomingportnumber"], 995);
        // A custom port is the administrator's choice.
        assert_eq!(m["outgoingportnumber"], 2525);
        let mut plain = m.clone();
        plain.insert("incomingusessl".into(), json!(false));
        assert_eq!(apply_rules(&m, plain)["incomingportnumber"], 110);
    }

    #[test]
    fn same_settings_copy_incoming_to_outgoing() {
        let before = map(json!({"usesamesettingsforoutgoingconnections": true,
            "incomingcredentialretrieval": 1, "incomingauthenticationprotocol": 2, "incomingusername": "svc"}));
        let m = apply_rules(&before, before.clone());
        assert_eq!(m["outgoingcredentialretrieval"], 1);
        assert_eq!(m["outgoingauthenticationprotocol"], 2);
        assert_eq!(m["outgoingusername"], "svc");
    }

    #[test]
    fn reads_settings_for_core() {
        let s = settings_of(&map(
            json!({"servertype": 4, "maxconcurrentconnections": 500,
            "incomingusessl": false, "incomingportnumber": 143}),
        ));
        assert_eq!(s.server_type, Some(4));
        assert_eq!(s.max_concurrent_connections, Some(500));
        assert_eq!(s.incoming.use_ssl, Some(false));
        assert_eq!(s.outgoing.port, None);
        let d = settings_of(&defaults());
        assert!(mailsync_core::rules::check_profile(&d).is_empty());
    }
}
