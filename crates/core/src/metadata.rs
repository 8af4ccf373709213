//! Dataverse's metadata for the local organization's tables, generated from
//! [`crate::model::TABLES`] so that a table added there is described everywhere:
//!
//! - [`csdl`]: the `$metadata` document (OData 4.0 CSDL XML);
//! - [`service_document`]: the service root's list of entity sets;
//! - [`entity_definition`], [`attribute_definitions`], [`attribute_definition`],
//!   [`option_set`]: the `EntityDefinitions` JSON (EntityMetadata, AttributeMetadata,
//!   OptionSetMetadata);
//! - [`formatted_value`] and [`wants_annotation`]: the
//!   `OData.Community.Display.V1.FormattedValue` annotations and the
//!   `odata.include-annotations` preference that asks for them.
//!
//! Names and labels Dataverse clients show (display names, schema names, object type
//! codes) come from Microsoft's table reference, in [`names`]; tables and columns it
//! does not cover get readable fallbacks.
//!
//! ```
//! use mailsync_core::{metadata, model};
//!
//! let xml = metadata::csdl();
//! assert!(xml.contains(r#"<EntitySet Name="mailboxes" EntityType="Microsoft.Dynamics.CRM.mailbox">"#));
//! let approval = model::MAILBOX.column("emailrouteraccessapproval").unwrap();
//! let label = metadata::formatted_value(approval, &serde_json::json!(1));
//! assert_eq!(label.as_deref(), Some("Approved"));
//! ```

mod csdl;
mod definitions;
mod format;
pub mod names;

use serde_json::{json, Value};

use crate::model::TABLES;

pub use csdl::{
    csdl, navigation_properties, navigation_property_name, NavigationProperty, PRINCIPAL,
};
pub use definitions::{
    attribute_definition, attribute_definitions, attribute_type, entity_definition, metadata_type,
    option_set,
};
pub use format::{formatted_value, wants_annotation, FORMATTED_VALUE};
pub use names::RequiredLevel;

/// The language of every label: the local organization is installed in English.
pub const LANGUAGE_CODE: u32 = 1033;

/// A deterministic `MetadataId` for `key` (`entity:mailbox`,
/// `attribute:mailbox.name`...): a version-4-shaped GUID made from a 128-bit FNV-1a hash
/// of the key. Dataverse's ids are random but fixed per organization; clients cache
/// metadata by them, so the local organization's must be the same on every start and
/// every machine, and no two keys should collide (FNV-1a over 128 bits makes that
/// vanishingly unlikely for a few hundred keys). Not a secret, not random.
pub fn metadata_id(key: &str) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let hash = key
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME));
    let mut bytes = hash.to_be_bytes();
    // Version 4 and the RFC 4122 variant, so it parses as an ordinary random GUID.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The service document (`GET /api/data/v9.2/`): every entity set, as Dataverse lists
/// them. `base_url` is the service root (`https://host/api/data/v9.2/`); a missing
/// trailing slash is added so the context URL is always `<root>/$metadata`.
pub fn service_document(base_url: &str) -> Value {
    let slash = if base_url.ends_with('/') { "" } else { "/" };
    let sets: Vec<Value> = TABLES
        .iter()
        .map(|t| json!({"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set}))
        .collect();
    json!({
        "@odata.context": format!("{base_url}{slash}$metadata"),
        "value": sets,
    })
}

/// A `Label` complex value (`DisplayName`, `Description`, an option's `Label`) in the
/// one language the organization has; `key` seeds the localized label's `MetadataId`.
/// Empty text gives the empty label Dataverse returns for a missing description.
pub(crate) fn label(text: &str, key: &str, managed: bool) -> Value {
    if text.is_empty() {
        return json!({"LocalizedLabels": [], "UserLocalizedLabel": null});
    }
    let localized = json!({
        "Label": text,
        "LanguageCode": LANGUAGE_CODE,
        "IsManaged": managed,
        "MetadataId": metadata_id(&format!("label:{key}")),
        "HasChanged": null,
    });
    json!({"LocalizedLabels": [localized.clone()], "UserLocalizedLabel": localized})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_guid_v4(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
            && s.chars()
                .all(|c| c == '-' || matches!(c, '0'..='9' | 'a'..='f'))
            && parts[2].starts_with('4')
            && matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b')
    }

    #[test]
    fn metadata_ids_are_stable_v4_guids() {
        let a = metadata_id("entity:mailbox");
        assert!(is_guid_v4(&a), "{a}");
        assert_eq!(a, metadata_id("entity:mailbox"));
        assert_ne!(a, metadata_id("entity:mailboxes"));
        assert!(is_guid_v4(&metadata_id("")));
        // Pinned: ids must not change between releases (clients cache them).
        assert_eq!(a, "017ab226-0812-43b1-a13c-5bd7017a0e90");
        let mut all: Vec<String> = TABLES
            .iter()
            .flat_map(|t| {
                t.columns
                    .iter()
                    .map(move |c| metadata_id(&format!("attribute:{}.{}", t.logical, c.name)))
            })
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "metadata ids collide");
    }

    #[test]
    fn service_document_lists_every_entity_set() {
        let doc = service_document("https://org.example/api/data/v9.2/");
        assert_eq!(
            doc["@odata.context"],
            "https://org.example/api/data/v9.2/$metadata"
        );
        let sets = doc["value"].as_array().unwrap();
        assert_eq!(sets.len(), TABLES.len());
        assert!(
            sets.contains(&json!({"name": "mailboxes", "kind": "EntitySet", "url": "mailboxes"}))
        );
        assert!(sets.iter().all(|s| s["kind"] == "EntitySet"));
        let unslashed = service_document("http://localhost:8080/api/data/v9.2");
        assert_eq!(
            unslashed["@odata.context"],
            "http://localhost:8080/api/data/v9.2/$metadata"
        );
    }

    #[test]
    fn labels() {
        let l = label("Mailbox", "entity:mailbox", true);
        assert_eq!(l["UserLocalizedLabel"]["Label"], "Mailbox");
        assert_eq!(l["LocalizedLabels"][0]["LanguageCode"], 1033);
        assert_eq!(l["LocalizedLabels"][0], l["UserLocalizedLabel"]);
        let empty = label("", "x", true);
        assert_eq!(empty["UserLocalizedLabel"], Value::Null);
        assert_eq!(empty["LocalizedLabels"], json!([]));
    }
}
