//! The profiles grid's columns and how one profile reads in the shared
//! [`DataGrid`](crate::components::grid::DataGrid): its server type, where it
//! connects, its mailboxes, and whether core's rules support its configuration.

use leptos::prelude::*;
use leptos_router::components::A;
use mailsync_core::options::credential_retrieval_label;
use mailsync_core::rules::check_profile;
use mailsync_core::Severity;
use serde_json::{Map, Value};

use super::model::{settings_of, test_status_label};
use crate::api::Total;
use crate::components::columns::{GridColumn, Shown};

/// A profile as the grid reads it, with how many mailboxes use it (`None` where the
/// organization would not count them).
pub type Row = (Map<String, Value>, Option<Total>);

/// The grid's columns: the name always, the others unless the user hides them. The
/// mailboxes and the configuration are worked out here, so they do not sort.
pub const COLUMNS: &[GridColumn] = &[
    GridColumn {
        key: "name",
        label: "Name",
        sort: Some("name"),
        shown: Shown::Always,
    },
    GridColumn {
        key: "servertype",
        label: "Server Type",
        sort: Some("servertype"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "location",
        label: "Incoming Server",
        sort: Some("incomingserverlocation"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "credentials",
        label: "Authenticate Using",
        sort: Some("incomingcredentialretrieval"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "autodiscover",
        label: "Auto Discover",
        sort: Some("useautodiscover"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "connections",
        label: "Max Connections",
        sort: Some("maxconcurrentconnections"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "lasttest",
        label: "Last Test",
        sort: Some("lasttestexecutionstatus"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "mailboxes",
        label: "Mailboxes",
        sort: None,
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "configuration",
        label: "Configuration",
        sort: None,
        shown: Shown::ByDefault,
    },
];

fn text(p: &Map<String, Value>, k: &str) -> String {
    p.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A profile's id and name.
pub fn key((p, _): &Row) -> (String, String) {
    (text(p, "emailserverprofileid"), text(p, "name"))
}

/// One profile's cells, in the columns' order.
pub fn cells((p, count): Row) -> AnyView {
    let int = |k: &str| p.get(k).and_then(Value::as_i64);
    let as_i32 = |k: &str| int(k).map(|v| v as i32);
    let id = text(&p, "emailserverprofileid");
    let findings = check_profile(&settings_of(&p));
    let (badge, label) = match findings.first().map(|f| f.severity) {
        Some(Severity::Error) => ("badge badge-error", "Invalid"),
        Some(Severity::Warning) => ("badge badge-warning", "Unsupported settings"),
        _ => ("badge badge-success", "Supported"),
    };
    let first = findings
        .first()
        .map(|f| f.message.clone())
        .unwrap_or_default();
    let server_type = mailsync_core::rules::profile_kind_label(
        as_i32("servertype"),
        as_i32("incomingcredentialretrieval"),
        as_i32("outgoingcredentialretrieval"),
    );
    let credentials = as_i32("incomingcredentialretrieval")
        .map(credential_retrieval_label)
        .unwrap_or_default();
    let autodiscover = match p.get("useautodiscover").and_then(Value::as_bool) {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "",
    };
    let connections = int("maxconcurrentconnections").map(|n| n.to_string());
    let test = test_status_label(int("lasttestexecutionstatus"));
    let (name, location) = (text(&p, "name"), text(&p, "incomingserverlocation"));
    view! {
        <td class="nowrap" data-col="name"><A href=format!("/profiles/{id}")>{name}</A></td>
        <td data-col="servertype">{server_type}</td>
        <td class="small" data-col="location">{location}</td>
        <td class="small" data-col="credentials">{credentials}</td>
        <td data-col="autodiscover">{autodiscover}</td>
        <td class="num" data-col="connections">{connections}</td>
        <td data-col="lasttest">{test}</td>
        <td class="num" data-col="mailboxes">{count.map(|n| n.to_string())}</td>
        <td data-col="configuration"><span class=badge title=first>{label}</span></td>
    }
    .into_any()
}
