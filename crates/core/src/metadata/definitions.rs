//! `EntityDefinitions` as Dataverse returns them: EntityMetadata for a table,
//! AttributeMetadata for its columns, and the OptionSet of a choice or Boolean column
//! (`.../Attributes(LogicalName='x')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet`).
//! Expanding, selecting and casting are the server's business; these give whole objects.

use serde_json::{json, Map, Value};

use super::names::{self, is_custom, is_memo};
use super::{label, metadata_id};
use crate::model::{Access, Column, Kind, Table};
use crate::options::EMAIL_STATUSES;

/// The `AttributeType` of a column (`"String"`, `"Picklist"`...). `statecode` and
/// `statuscode` are Dataverse's State and Status types, `ownerid` its Owner type, and
/// text longer than a String column allows is Memo, as in Dataverse's own tables.
pub fn attribute_type(column: &Column) -> &'static str {
    match column.kind {
        Kind::Guid => "Uniqueidentifier",
        Kind::Text if is_memo(column) => "Memo",
        Kind::Text => "String",
        Kind::Int => "Integer",
        Kind::Decimal => "Decimal",
        Kind::Choice if column.name == "statecode" => "State",
        Kind::Choice if column.name == "statuscode" => "Status",
        Kind::Choice => "Picklist",
        Kind::Bool => "Boolean",
        Kind::DateTime => "DateTime",
        Kind::Lookup(_) if column.name == "ownerid" => "Owner",
        Kind::Lookup(_) => "Lookup",
    }
}

/// The AttributeMetadata type a client casts to (`PicklistAttributeMetadata`), without
/// the namespace: what the server checks a cast segment against.
pub fn metadata_type(column: &Column) -> &'static str {
    match attribute_type(column) {
        "Uniqueidentifier" => "UniqueIdentifierAttributeMetadata",
        "String" => "StringAttributeMetadata",
        "Memo" => "MemoAttributeMetadata",
        "Integer" => "IntegerAttributeMetadata",
        "Decimal" => "DecimalAttributeMetadata",
        "State" => "StateAttributeMetadata",
        "Status" => "StatusAttributeMetadata",
        "Picklist" => "PicklistAttributeMetadata",
        "Boolean" => "BooleanAttributeMetadata",
        "DateTime" => "DateTimeAttributeMetadata",
        // An owner is a lookup to its metadata.
        _ => "LookupAttributeMetadata",
    }
}

/// A table's EntityMetadata (`EntityDefinitions(LogicalName='mailbox')`), without its
/// `Attributes` (the server expands them from [`attribute_definitions`]).
pub fn entity_definition(table: &Table) -> Value {
    let custom = is_custom(table.logical);
    let key = format!("entity:{}", table.logical);
    let mut out = json!({
        "MetadataId": metadata_id(&key),
        "LogicalName": table.logical,
        "SchemaName": names::table_schema_name(table),
        "CollectionSchemaName": names::table_collection_schema_name(table),
        "EntitySetName": table.entity_set,
        // Dataverse's logical collection names of these tables equal their entity sets.
        "LogicalCollectionName": table.entity_set,
        "PrimaryIdAttribute": table.key,
        "PrimaryNameAttribute": table.primary_name,
        "DisplayName": label(&names::table_display_name(table), &key, !custom),
        "DisplayCollectionName": label(
            &names::table_display_collection_name(table),
            &format!("{key}/collection"),
            !custom,
        ),
        "Description": label("", &key, !custom),
        "OwnershipType": names::ownership_type(table),
        "IsCustomEntity": custom,
        "IsManaged": !custom,
        "IsActivity": table.logical == "email",
        "IsIntersect": false,
        "IsLogicalEntity": false,
        "TableType": "Standard",
        "HasChanged": null,
    });
    if let Some(code) = names::object_type_code(table) {
        out["ObjectTypeCode"] = json!(code);
    }
    out
}

/// Every column the API knows of `table` (hidden ones are not part of it; write-only
/// secrets are, with `IsValidForRead` false, as Dataverse lists `password`).
pub fn attribute_definitions(table: &Table) -> Vec<Value> {
    table
        .columns
        .iter()
        .filter(|c| c.access != Access::Hidden)
        .map(|c| attribute_definition(table, c))
        .collect()
}

/// A column's AttributeMetadata, with the properties of its type (MaxLength, Targets,
/// Format...). A choice or Boolean's OptionSet comes from [`option_set`], since
/// Dataverse only returns it when a client expands it.
pub fn attribute_definition(table: &Table, column: &Column) -> Value {
    let custom = is_custom(column.name) || is_custom(table.logical);
    let key = format!("attribute:{}.{}", table.logical, column.name);
    let ty = attribute_type(column);
    let mut out = json!({
        "@odata.type": format!("#Microsoft.Dynamics.CRM.{}", metadata_type(column)),
        "MetadataId": metadata_id(&key),
        "LogicalName": column.name,
        "SchemaName": names::column_schema_name(table, column),
        "EntityLogicalName": table.logical,
        "AttributeType": ty,
        "AttributeTypeName": {"Value": format!("{ty}Type")},
        "AttributeOf": null,
        "DisplayName": label(&names::column_display_name(table, column), &key, !custom),
        "Description": label("", &key, !custom),
        "IsPrimaryId": column.name == table.key,
        "IsPrimaryName": column.name == table.primary_name,
        "IsValidForCreate": column.writable(),
        "IsValidForUpdate": column.updatable(),
        "IsValidForRead": column.readable(),
        "IsFilterable": column.filterable(),
        "IsCustomAttribute": custom,
        "IsManaged": !custom,
        "IsLogical": false,
        "RequiredLevel": {
            "Value": names::required_level(table, column).as_str(),
            "CanBeChanged": custom,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        },
        "HasChanged": null,
    });
    if let Value::Object(map) = &mut out {
        add_type_properties(map, column);
    }
    out
}

/// The properties of the attribute's own metadata type.
fn add_type_properties(map: &mut Map<String, Value>, column: &Column) {
    let mut set = |k: &str, v: Value| {
        map.insert(k.to_string(), v);
    };
    match column.kind {
        Kind::Text => {
            // Email columns are formatted as such in Dataverse (mailto links in forms).
            let format = if column.name.contains("emailaddress") {
                "Email"
            } else {
                "Text"
            };
            if is_memo(column) {
                set("Format", json!("TextArea"));
            } else {
                set("Format", json!(format));
                set("FormatName", json!({"Value": format}));
            }
            if let Some(max) = column.max_len {
                set("MaxLength", json!(max));
            }
        }
        Kind::Int => {
            set("Format", json!("None"));
            set("MinValue", json!(i32::MIN));
            set("MaxValue", json!(i32::MAX));
        }
        Kind::Decimal => {
            // Dataverse's default for a new decimal column.
            set("Precision", json!(2));
            set("MinValue", json!(-100_000_000_000_i64));
            set("MaxValue", json!(100_000_000_000_i64));
        }
        Kind::DateTime => {
            set("Format", json!("DateAndTime"));
            set("DateTimeBehavior", json!({"Value": "UserLocal"}));
        }
        Kind::Lookup(targets) => {
            set("Targets", json!(targets));
            set("Format", json!("None"));
        }
        Kind::Guid | Kind::Choice | Kind::Bool => {}
    }
}

/// Option set names Dataverse gives otherwise than `<table>_<column>`.
const OPTION_SET_NAMES: &[(&str, &str, &str)] = &[("mailbox", "mailboxstatus", "mailbox_status")];

fn option_set_name(table: &Table, column: &Column) -> String {
    OPTION_SET_NAMES
        .iter()
        .find(|(t, c, _)| *t == table.logical && *c == column.name)
        .map_or_else(
            || format!("{}_{}", table.logical, column.name),
            |(_, _, name)| (*name).to_string(),
        )
}

/// The `OptionSet` of a choice column (Picklist, or State/Status for `statecode` and
/// `statuscode`) or a Boolean one (`TrueOption`/`FalseOption`); `None` for other kinds.
/// Local option sets, so `IsGlobal` is false.
pub fn option_set(table: &Table, column: &Column) -> Option<Value> {
    let custom = is_custom(column.name) || is_custom(table.logical);
    let key = format!("optionset:{}.{}", table.logical, column.name);
    let kind = match column.kind {
        Kind::Choice => attribute_type(column),
        Kind::Bool => "Boolean",
        _ => return None,
    };
    let mut out = json!({
        "MetadataId": metadata_id(&key),
        "Name": option_set_name(table, column),
        "OptionSetType": kind,
        "IsGlobal": false,
        "IsCustomOptionSet": custom,
        "IsManaged": !custom,
        "DisplayName": label(&names::column_display_name(table, column), &key, !custom),
        "Description": label("", &key, !custom),
        "HasChanged": null,
    });
    if column.kind == Kind::Bool {
        let (yes, no) = names::bool_labels(column);
        out["TrueOption"] = option(1, yes, &format!("{key}/1"), !custom);
        out["FalseOption"] = option(0, no, &format!("{key}/0"), !custom);
    } else {
        out["Options"] = choice_options(table, column, &key, !custom);
    }
    Some(out)
}

/// One OptionMetadata.
fn option(value: i32, text: &str, key: &str, managed: bool) -> Value {
    json!({
        "Value": value,
        "Label": label(text, key, managed),
        "Description": label("", key, managed),
        "Color": null,
        "IsManaged": managed,
        "MetadataId": null,
        "HasChanged": null,
    })
}

/// The options of a choice column; State options also carry their default status and
/// invariant name, Status options the state they belong to (StateOptionMetadata,
/// StatusOptionMetadata).
fn choice_options(table: &Table, column: &Column, key: &str, managed: bool) -> Value {
    let set = column.options.unwrap_or(&[]);
    let options = set.iter().map(|&(value, text)| {
        let mut o = option(value, text, &format!("{key}/{value}"), managed);
        match attribute_type(column) {
            "State" => {
                o["DefaultStatus"] = json!(default_status(table, value));
                o["InvariantName"] = json!(text);
            }
            "Status" => o["State"] = json!(status_state(table, value, text)),
            _ => {}
        }
        o
    });
    Value::Array(options.collect())
}

/// The state an email status belongs to, from Microsoft's email reference (Pending
/// Send and Sending are Completed, Failed is Open).
const EMAIL_STATUS_STATES: &[(i32, i32)] = &[
    (1, 0),
    (2, 1),
    (3, 1),
    (4, 1),
    (5, 2),
    (6, 1),
    (7, 1),
    (8, 0),
];

/// The `statecode` a `statuscode` value belongs to: email's by the reference, the others'
/// (Active/Inactive) by the state of the same label.
fn status_state(table: &Table, status: i32, status_label: &str) -> Option<i32> {
    let statuses = table.column("statuscode").and_then(|c| c.options);
    if statuses == Some(EMAIL_STATUSES) {
        return EMAIL_STATUS_STATES
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, state)| *state);
    }
    let states = table.column("statecode").and_then(|c| c.options)?;
    states
        .iter()
        .find(|(_, l)| *l == status_label)
        .map(|(v, _)| *v)
}

/// A state's default status: the first status that belongs to it (Dataverse's defaults
/// for these tables: Active 1, Inactive 2; email Open 1, Completed 2, Canceled 5).
fn default_status(table: &Table, state: i32) -> Option<i32> {
    let statuses = table.column("statuscode").and_then(|c| c.options)?;
    statuses
        .iter()
        .find(|(v, l)| status_state(table, *v, l) == Some(state))
        .map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        EMAIL, EMAILSERVERPROFILE, MAILBOX, ORGANIZATION, SYNCSTATISTIC, SYSTEMUSER, TABLES,
        TRACELOG,
    };

    fn attr(t: &Table, c: &str) -> Value {
        attribute_definition(t, t.column(c).unwrap())
    }

    #[test]
    fn entity_definitions() {
        let m = entity_definition(&MAILBOX);
        assert_eq!(m["LogicalName"], "mailbox");
        assert_eq!(m["SchemaName"], "Mailbox");
        assert_eq!(m["EntitySetName"], "mailboxes");
        assert_eq!(m["LogicalCollectionName"], "mailboxes");
        assert_eq!(m["PrimaryIdAttribute"], "mailboxid");
        assert_eq!(m["PrimaryNameAttribute"], "name");
        assert_eq!(m["ObjectTypeCode"], 9606);
        assert_eq!(m["OwnershipType"], "UserOwned");
        assert_eq!(m["IsCustomEntity"], false);
        assert_eq!(m["DisplayName"]["UserLocalizedLabel"]["Label"], "Mailbox");
        assert_eq!(
            m["DisplayCollectionName"]["LocalizedLabels"][0]["Label"],
            "Mailboxes"
        );
        assert_eq!(m["DisplayName"]["UserLocalizedLabel"]["LanguageCode"], 1033);
        assert_eq!(m["MetadataId"], metadata_id("entity:mailbox"));
        assert_eq!(
            entity_definition(&EMAILSERVERPROFILE)["ObjectTypeCode"],
            9605
        );
        assert_eq!(entity_definition(&TRACELOG)["ObjectTypeCode"], 4800);
        assert_eq!(
            entity_definition(&TRACELOG)["OwnershipType"],
            "OrganizationOwned"
        );
        assert_eq!(entity_definition(&EMAIL)["IsActivity"], true);
        let custom = entity_definition(&SYNCSTATISTIC);
        assert_eq!(custom["IsCustomEntity"], true);
        assert!(custom.get("ObjectTypeCode").is_none());
        assert_eq!(
            custom["DisplayCollectionName"]["UserLocalizedLabel"]["Label"],
            "Sync Statistics"
        );
        // Every table gets a distinct id.
        let mut ids: Vec<String> = TABLES
            .iter()
            .map(|t| entity_definition(t)["MetadataId"].to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), TABLES.len());
    }

    #[test]
    fn attribute_types() {
        let cases = [
            (
                &MAILBOX,
                "mailboxid",
                "UniqueIdentifierAttributeMetadata",
                "Uniqueidentifier",
            ),
            (&MAILBOX, "name", "StringAttributeMetadata", "String"),
            (
                &MAILBOX,
                "emailrouteraccessapproval",
                "PicklistAttributeMetadata",
                "Picklist",
            ),
            (&MAILBOX, "statecode", "StateAttributeMetadata", "State"),
            (&MAILBOX, "statuscode", "StatusAttributeMetadata", "Status"),
            (
                &MAILBOX,
                "enabledforact",
                "BooleanAttributeMetadata",
                "Boolean",
            ),
            (
                &MAILBOX,
                "emailserverprofile",
                "LookupAttributeMetadata",
                "Lookup",
            ),
            (&MAILBOX, "ownerid", "LookupAttributeMetadata", "Owner"),
            (
                &MAILBOX,
                "lastsyncstartedon",
                "DateTimeAttributeMetadata",
                "DateTime",
            ),
            (
                &MAILBOX,
                "noemailcount",
                "IntegerAttributeMetadata",
                "Integer",
            ),
            (&EMAIL, "description", "MemoAttributeMetadata", "Memo"),
        ];
        for (t, c, odata, ty) in cases {
            let a = attr(t, c);
            assert_eq!(
                a["@odata.type"],
                format!("#Microsoft.Dynamics.CRM.{odata}"),
                "{c}"
            );
            assert_eq!(a["AttributeType"], ty, "{c}");
            assert_eq!(a["AttributeTypeName"]["Value"], format!("{ty}Type"), "{c}");
        }
        let decimal = Column::new("mailsync_rate", Kind::Decimal);
        assert_eq!(metadata_type(&decimal), "DecimalAttributeMetadata");
        assert_eq!(
            attribute_definition(&SYNCSTATISTIC, &decimal)["Precision"],
            2
        );
    }

    #[test]
    fn attribute_flags_follow_the_model() {
        let id = attr(&MAILBOX, "mailboxid");
        assert_eq!(id["IsPrimaryId"], true);
        assert_eq!(id["IsValidForCreate"], false);
        assert_eq!(id["RequiredLevel"]["Value"], "SystemRequired");
        let name = attr(&MAILBOX, "name");
        assert_eq!(name["IsPrimaryName"], true);
        assert_eq!(name["MaxLength"], 200);
        assert_eq!(name["SchemaName"], "Name");
        assert_eq!(name["IsValidForUpdate"], true);
        // Set on create only.
        let regarding = attr(&MAILBOX, "regardingobjectid");
        assert_eq!(regarding["IsValidForCreate"], true);
        assert_eq!(regarding["IsValidForUpdate"], false);
        assert_eq!(regarding["Targets"], json!(["systemuser", "queue"]));
        assert_eq!(
            regarding["DisplayName"]["UserLocalizedLabel"]["Label"],
            "Regarding"
        );
        // Write-only secrets are listed, unreadable.
        let password = attr(&MAILBOX, "password");
        assert_eq!(password["IsValidForRead"], false);
        assert_eq!(password["IsValidForCreate"], true);
        let read_only = attr(&MAILBOX, "lastsyncerror");
        assert_eq!(read_only["IsValidForCreate"], false);
        assert_eq!(read_only["IsValidForUpdate"], false);
        assert_eq!(
            read_only["DisplayName"]["UserLocalizedLabel"]["Label"],
            "Last Sync Error Stack"
        );
        let approval = attr(&SYSTEMUSER, "emailrouteraccessapproval");
        assert_eq!(approval["RequiredLevel"]["Value"], "SystemRequired");
        assert_eq!(attr(&MAILBOX, "username")["RequiredLevel"]["Value"], "None");
        assert_eq!(
            attr(&MAILBOX, "emailaddress")["FormatName"]["Value"],
            "Email"
        );
        assert_eq!(
            attr(&MAILBOX, "createdon")["DateTimeBehavior"]["Value"],
            "UserLocal"
        );
        assert_eq!(attr(&MAILBOX, "noemailcount")["MaxValue"], i32::MAX);
        assert_eq!(
            attr(&SYNCSTATISTIC, "mailsync_items")["IsCustomAttribute"],
            true
        );
        assert_eq!(
            attr(&SYNCSTATISTIC, "mailsync_items")["SchemaName"],
            "mailsync_Items"
        );
    }

    #[test]
    fn attribute_lists_leave_out_hidden_columns() {
        let user = attribute_definitions(&SYSTEMUSER);
        let names: Vec<&str> = user
            .iter()
            .filter_map(|a| a["LogicalName"].as_str())
            .collect();
        assert!(names.contains(&"fullname") && names.contains(&"defaultmailbox"));
        assert!(!names.contains(&"passwordhash"));
        assert_eq!(attribute_definitions(&MAILBOX).len(), MAILBOX.columns.len());
        for t in TABLES {
            for a in attribute_definitions(t) {
                assert_eq!(a["EntityLogicalName"], t.logical);
                assert!(
                    a["DisplayName"]["UserLocalizedLabel"]["Label"].is_string(),
                    "{a}"
                );
            }
        }
    }

    #[test]
    fn picklist_option_sets() {
        let approval = MAILBOX.column("emailrouteraccessapproval").unwrap();
        let set = option_set(&MAILBOX, approval).unwrap();
        assert_eq!(set["Name"], "mailbox_emailrouteraccessapproval");
        assert_eq!(set["OptionSetType"], "Picklist");
        assert_eq!(set["IsGlobal"], false);
        let options = set["Options"].as_array().unwrap();
        assert_eq!(options.len(), 4);
        assert_eq!(options[2]["Value"], 2);
        assert_eq!(
            options[2]["Label"]["UserLocalizedLabel"]["Label"],
            "Pending Approval"
        );
        assert_eq!(
            options[2]["Label"]["LocalizedLabels"][0]["LanguageCode"],
            1033
        );
        let status = MAILBOX.column("mailboxstatus").unwrap();
        assert_eq!(
            option_set(&MAILBOX, status).unwrap()["Name"],
            "mailbox_status"
        );
        assert!(option_set(&MAILBOX, MAILBOX.column("name").unwrap()).is_none());
    }

    #[test]
    fn state_and_status_option_sets() {
        let state = option_set(&MAILBOX, MAILBOX.column("statecode").unwrap()).unwrap();
        assert_eq!(state["OptionSetType"], "State");
        assert_eq!(state["Options"][1]["DefaultStatus"], 2);
        assert_eq!(state["Options"][0]["InvariantName"], "Active");
        let status = option_set(&MAILBOX, MAILBOX.column("statuscode").unwrap()).unwrap();
        assert_eq!(status["OptionSetType"], "Status");
        assert_eq!(status["Options"][1]["State"], 1);
        let email_status = option_set(&EMAIL, EMAIL.column("statuscode").unwrap()).unwrap();
        let state_of = |v: i64| {
            email_status["Options"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["Value"] == v)
                .map(|o| o["State"].clone())
        };
        assert_eq!(state_of(6), Some(json!(1)));
        assert_eq!(state_of(8), Some(json!(0)));
        let email_state = option_set(&EMAIL, EMAIL.column("statecode").unwrap()).unwrap();
        let defaults: Vec<&Value> = email_state["Options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| &o["DefaultStatus"])
            .collect();
        assert_eq!(defaults, [&json!(1), &json!(2), &json!(5)]);
        assert_eq!(
            email_state["DisplayName"]["UserLocalizedLabel"]["Label"],
            "Activity Status"
        );
    }

    #[test]
    fn boolean_option_sets() {
        let set = option_set(&MAILBOX, MAILBOX.column("enabledforact").unwrap()).unwrap();
        assert_eq!(set["OptionSetType"], "Boolean");
        assert_eq!(set["TrueOption"]["Value"], 1);
        assert_eq!(
            set["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"],
            "Yes"
        );
        assert_eq!(set["FalseOption"]["Value"], 0);
        assert_eq!(
            set["FalseOption"]["Label"]["UserLocalizedLabel"]["Label"],
            "No"
        );
        assert!(set.get("Options").is_none());
        let disabled = option_set(&SYSTEMUSER, SYSTEMUSER.column("isdisabled").unwrap()).unwrap();
        assert_eq!(
            disabled["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"],
            "Disabled"
        );
        let alerts = ORGANIZATION.column("generatealertsforerrors").unwrap();
        assert_eq!(
            option_set(&ORGANIZATION, alerts).unwrap()["Name"],
            "organization_generatealertsforerrors"
        );
    }
}
