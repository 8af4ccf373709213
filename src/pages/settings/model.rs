//! The Email tab's record (`organizations`) and `defaultemailsettings`' XML. Plain
//! functions (host unit tests).

use mailsync_core::email_settings::{set_xml_value, xml_value, ACT, INCOMING, OUTGOING};
use serde::{Deserialize, Serialize};

/// The Email tab's columns of the organization.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Org {
    pub organizationid: String,
    #[serde(rename = "@odata.etag", default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub emailconnectionchannel: Option<i64>,
    #[serde(default, rename = "_defaultemailserverprofileid_value")]
    pub defaultemailserverprofileid: Option<String>,
    #[serde(default)]
    pub defaultemailsettings: Option<String>,
    #[serde(default)]
    pub requireapprovalforuseremail: Option<bool>,
    #[serde(default)]
    pub requireapprovalforqueueemail: Option<bool>,
    #[serde(default)]
    pub generatealertsforerrors: Option<bool>,
    #[serde(default)]
    pub generatealertsforwarnings: Option<bool>,
    #[serde(default)]
    pub generatealertsforinformation: Option<bool>,
    #[serde(default)]
    pub notifymailboxownerofemailserverlevelalerts: Option<bool>,
    #[serde(default)]
    pub allowunresolvedpartiesonemailsend: Option<bool>,
}

pub const SELECT: &str =
    "organizationid,name,emailconnectionchannel,_defaultemailserverprofileid_value,\
    defaultemailsettings,requireapprovalforuseremail,requireapprovalforqueueemail,\
    generatealertsforerrors,generatealertsforwarnings,generatealertsforinformation,\
    notifymailboxownerofemailserverlevelalerts,allowunresolvedpartiesonemailsend";

/// What the form edits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form {
    pub channel: i64,
    pub profile: Option<String>,
    pub incoming: Option<i64>,
    pub outgoing: Option<i64>,
    pub act: Option<i64>,
    pub approved_users: bool,
    pub approved_queues: bool,
    pub alert_errors: bool,
    pub alert_warnings: bool,
    pub alert_information: bool,
    pub notify_owner: bool,
    pub allow_unresolved: bool,
}

impl Form {
    pub fn of(o: &Org) -> Self {
        let xml = o.defaultemailsettings.as_deref().unwrap_or("");
        Form {
            channel: o.emailconnectionchannel.unwrap_or(0),
            profile: o.defaultemailserverprofileid.clone(),
            incoming: xml_value(xml, INCOMING),
            outgoing: xml_value(xml, OUTGOING),
            act: xml_value(xml, ACT),
            approved_users: o.requireapprovalforuseremail.unwrap_or(false),
            approved_queues: o.requireapprovalforqueueemail.unwrap_or(false),
            alert_errors: o.generatealertsforerrors.unwrap_or(false),
            alert_warnings: o.generatealertsforwarnings.unwrap_or(false),
            alert_information: o.generatealertsforinformation.unwrap_or(false),
            notify_owner: o
                .notifymailboxownerofemailserverlevelalerts
                .unwrap_or(false),
            allow_unresolved: o.allowunresolvedpartiesonemailsend.unwrap_or(false),
        }
    }

    /// The PATCH body: only what differs from `saved`.
    pub fn changes(&self, saved: &Org) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        let old = Form::of(saved);
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        if self.channel != old.channel {
            put("emailconnectionchannel", self.channel.into());
        }
        if self.profile != old.profile {
            match &self.profile {
                Some(id) => put(
                    "defaultemailserverprofileid@odata.bind",
                    format!("/emailserverprofiles({id})").into(),
                ),
                None => put("defaultemailserverprofileid@odata.bind", Value::Null),
            }
        }
        if (self.incoming, self.outgoing, self.act) != (old.incoming, old.outgoing, old.act) {
            let xml = saved.defaultemailsettings.as_deref().unwrap_or("");
            let mut xml = xml.to_string();
            for (tag, v) in [
                (INCOMING, self.incoming),
                (OUTGOING, self.outgoing),
                (ACT, self.act),
            ] {
                if let Some(v) = v {
                    xml = set_xml_value(&xml, tag, v);
                }
            }
            put("defaultemailsettings", xml.into());
        }
        let bools = [
            (
                "requireapprovalforuseremail",
                self.approved_users,
                old.approved_users,
            ),
            (
                "requireapprovalforqueueemail",
                self.approved_queues,
                old.approved_queues,
            ),
            (
                "generatealertsforerrors",
                self.alert_errors,
                old.alert_errors,
            ),
            (
                "generatealertsforwarnings",
                self.alert_warnings,
                old.alert_warnings,
            ),
            (
                "generatealertsforinformation",
                self.alert_information,
                old.alert_information,
            ),
            (
                "notifymailboxownerofemailserverlevelalerts",
                self.notify_owner,
                old.notify_owner,
            ),
            (
                "allowunresolvedpartiesonemailsend",
                self.allow_unresolved,
                old.allow_unresolved,
            ),
        ];
        for (k, new, old) in bools {
            if new != old {
                put(k, new.into());
            }
        }
        m
    }
}

/// A profile to pick.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Profile {
    pub emailserverprofileid: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<EmailSettings><IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>\
                       <ACTDeliveryMethod>1</ACTDeliveryMethod></EmailSettings>";

    #[test]
    fn changes_only_what_differs() {
        let org: Org = serde_json::from_value(serde_json::json!({
            "organizationid": "o", "@odata.etag": "W/\"3\"", "emailconnectionchannel": 0,
            "_defaultemailserverprofileid_value": "p1", "defaultemailsettings": XML,
            "generatealertsforerrors": true
        }))
        .unwrap();
        let mut f = Form::of(&org);
        assert!(f.changes(&org).is_empty());
        f.alert_errors = false;
        f.profile = Some("p2".into());
        f.outgoing = Some(2);
        let c = f.changes(&org);
        assert_eq!(c["generatealertsforerrors"], false);
        assert_eq!(
            c["defaultemailserverprofileid@odata.bind"],
            "/emailserverprofiles(p2)"
        );
        assert!(c["defaultemailsettings"]
            .as_str()
            .unwrap()
            .contains("<OutgoingEmailDeliveryMethod>2</OutgoingEmailDeliveryMethod>"));
        assert_eq!(c.len(), 3);
    }
}
