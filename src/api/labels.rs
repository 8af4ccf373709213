//! The organization's own labels of option values, from its metadata: a customized
//! organization (a relabelled or added option) shows its labels, not the product's
//! defaults that core knows.
//!
//! A page that shows choice fields calls [`provide_option_labels`] with its table; the
//! form's choice fields read them from the context and keep core's labels until the
//! metadata arrives (or where the organization does not give it).

use std::collections::HashMap;

use leptos::prelude::*;
use serde::Deserialize;

use super::{get_json, ApiResult, Collection};

/// attribute logical name → (option value → label).
pub type OptionLabels = HashMap<String, HashMap<i64, String>>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    logical_name: String,
    #[serde(default)]
    option_set: Option<OptionSet>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OptionSet {
    #[serde(default)]
    options: Vec<Option_>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Option_ {
    value: i64,
    #[serde(default)]
    label: Option<Label>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Label {
    #[serde(default)]
    user_localized_label: Option<LocalizedLabel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LocalizedLabel {
    label: String,
}

/// The labels of every choice column of `table` (a logical name): one request.
pub async fn option_labels(table: &str) -> ApiResult<OptionLabels> {
    let path = format!(
        "/api/data/v9.2/EntityDefinitions(LogicalName='{table}')/Attributes/\
         Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName\
         &$expand=OptionSet($select=Options)"
    );
    let attributes: Collection<Attribute> = get_json(&path).await?;
    Ok(read(attributes.value))
}

fn read(attributes: Vec<Attribute>) -> OptionLabels {
    attributes
        .into_iter()
        .filter_map(|a| {
            let options = a
                .option_set?
                .options
                .into_iter()
                .filter_map(|o| Some((o.value, o.label?.user_localized_label?.label)))
                .collect();
            Some((a.logical_name, options))
        })
        .collect()
}

/// The organization's option labels of the table a page shows, for its fields.
#[derive(Clone, Copy)]
pub struct OrgLabels(pub Signal<OptionLabels>);

impl OrgLabels {
    /// The organization's label of `value` of `attribute`, when it has one.
    pub fn get(&self, attribute: &str, value: i64) -> Option<String> {
        self.0
            .with(|l| l.get(attribute).and_then(|o| o.get(&value)).cloned())
    }
}

/// Loads `table`'s option labels and provides them to the fields below. A refusal
/// (a user who may not read metadata) leaves core's labels in place.
pub fn provide_option_labels(table: &'static str) {
    let loaded = LocalResource::new(move || option_labels(table));
    let labels = Signal::derive(move || loaded.get().and_then(|r| r.ok()).unwrap_or_default());
    provide_context(OrgLabels(labels));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_picklist_metadata() {
        let json = r#"{"value":[
            {"LogicalName":"incomingemaildeliverymethod","MetadataId":"x","OptionSet":{"Options":[
                {"Value":2,"Label":{"LocalizedLabels":[],"UserLocalizedLabel":{"Label":"Server-Side Sync (Contoso)","LanguageCode":1033}}},
                {"Value":0,"Label":{"UserLocalizedLabel":null}}]}},
            {"LogicalName":"nooptions"}]}"#;
        let c: Collection<Attribute> = serde_json::from_str(json).unwrap();
        let l = read(c.value);
        assert_eq!(
            l["incomingemaildeliverymethod"].get(&2).map(String::as_str),
            Some("Server-Side Sync (Contoso)")
        );
        assert!(!l["incomingemaildeliverymethod"].contains_key(&0));
        assert!(!l.contains_key("nooptions"));
    }
}
