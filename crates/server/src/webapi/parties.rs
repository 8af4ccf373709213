//! An appointment's parties in a create or an update of the appointment, as Dataverse
//! takes them: the collection-valued navigation property `appointment_activity_parties`,
//! each party `{"partyid_systemuser@odata.bind": "/systemusers(<id>)",
//! "participationtypemask": 7}` (or `partyid_contact`, or only an `addressused`).
//! A create writes them with the appointment (deep insert); an update that names the
//! property replaces the appointment's parties. Appointments take the organizer (7,
//! one at most), required (5) and optional (6) attendees — Microsoft's "Activity party
//! types available for each activity". The engine reads them (`engine::act::sql`).

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value as Json;

use super::privileges::Tier;
use crate::error::ApiError;
use crate::store::auth::SignedInUser;
use crate::store::new_guid;

/// The navigation property.
pub const NAV: &str = "appointment_activity_parties";
/// Parties one appointment may have here: a bound on what a client sends.
const MAX_PARTIES: usize = 1_000;
const ORGANIZER: i64 = 7;

/// One party as sent.
pub struct Party {
    party: Option<(String, &'static str)>,
    mask: i64,
    address: Option<String>,
}

/// Takes `appointment_activity_parties` out of an appointment's JSON body: the body
/// without it (for the usual column parsing) and the parties, `None` when the body
/// does not name them. A body that is not a JSON object is left as it is (the column
/// parsing says what is wrong with it).
pub fn split(body: &[u8]) -> Result<(Vec<u8>, Option<Vec<Party>>), ApiError> {
    let Ok(Json::Object(mut object)) = serde_json::from_slice::<Json>(body) else {
        return Ok((body.to_vec(), None));
    };
    let Some(list) = object.remove(NAV) else {
        return Ok((body.to_vec(), None));
    };
    object.retain(|k, _| !k.starts_with(&format!("{NAV}@")));
    let Json::Array(items) = list else {
        return Err(ApiError::bad_request(format!(
            "The value of '{NAV}' must be an array of activity parties."
        )));
    };
    if items.len() > MAX_PARTIES {
        return Err(ApiError::bad_request(format!(
            "An appointment has at most {MAX_PARTIES} parties here; {} were sent.",
            items.len()
        )));
    }
    let parties = items.iter().map(party).collect::<Result<Vec<_>, _>>()?;
    if parties.iter().filter(|p| p.mask == ORGANIZER).count() > 1 {
        return Err(ApiError::bad_request(
            "An appointment has one organizer (participationtypemask 7); several were sent.",
        ));
    }
    let rest = serde_json::to_vec(&Json::Object(object))
        .map_err(|e| ApiError::bad_request(format!("The body cannot be read: {e}")))?;
    Ok((rest, Some(parties)))
}

fn party(item: &Json) -> Result<Party, ApiError> {
    let Json::Object(fields) = item else {
        return Err(ApiError::bad_request(format!(
            "Each item of '{NAV}' must be an activity party object."
        )));
    };
    let mut out = Party {
        party: None,
        mask: 0,
        address: None,
    };
    for (key, value) in fields {
        match key.as_str() {
            "participationtypemask" => {
                out.mask = value
                    .as_i64()
                    .filter(|m| matches!(m, 5..=7))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "participationtypemask {value} is not a party type of an appointment: \
                         5 (required attendee), 6 (optional attendee) or 7 (organizer)."
                        ))
                    })?;
            }
            "partyid_systemuser@odata.bind" | "partyid_contact@odata.bind" => {
                let table = if key.starts_with("partyid_systemuser") {
                    "systemuser"
                } else {
                    "contact"
                };
                out.party = Some((bound(key, value, table)?, table));
            }
            "addressused" => match value {
                Json::String(a) if a.chars().count() <= 320 => {
                    out.address = Some(a.trim().to_string()).filter(|a| !a.is_empty());
                }
                Json::Null => {}
                _ => {
                    return Err(ApiError::bad_request(
                        "addressused must be a text of at most 320 characters.",
                    ))
                }
            },
            k if k.starts_with('@') || k.contains("@odata.") && !k.ends_with("@odata.bind") => {}
            k => {
                return Err(ApiError::bad_request(format!(
                "The property '{k}' does not exist on type 'Microsoft.Dynamics.CRM.activityparty'."
            )))
            }
        }
    }
    if out.mask == 0 {
        return Err(ApiError::bad_request(
            "Each activity party needs its participationtypemask.",
        ));
    }
    if out.party.is_none() && out.address.is_none() {
        return Err(ApiError::bad_request(
            "Each activity party names a systemuser or a contact (partyid_systemuser@odata.bind, \
             partyid_contact@odata.bind) or an addressused.",
        ));
    }
    Ok(out)
}

/// The id a `partyid_<table>@odata.bind` names (`/<set>(<id>)`).
fn bound(key: &str, value: &Json, table: &str) -> Result<String, ApiError> {
    let set = if table == "systemuser" {
        "systemusers"
    } else {
        "contacts"
    };
    let text = value.as_str().unwrap_or_default();
    super::json::reference(text)
        .filter(|(s, _)| *s == set)
        .map(|(_, id)| id.to_string())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "The value '{text}' of '{key}' is not a reference: expected \"/{set}(<id>)\"."
            ))
        })
}

/// Replaces the appointment's parties with `parties`; a user or contact that does not
/// exist is refused as Dataverse refuses a bind to a missing record. Only an
/// administrator names another user as the organizer: the organizer's mailbox sends
/// the meeting and its invitations from that user's Exchange mailbox, which nobody
/// else may make it do.
pub fn write(
    tx: &Connection,
    user: &SignedInUser,
    activity: &str,
    parties: &[Party],
) -> Result<(), ApiError> {
    let other_organizer = parties.iter().any(|p| {
        p.mask == ORGANIZER
            && matches!(&p.party, Some((id, "systemuser")) if !id.eq_ignore_ascii_case(&user.systemuserid))
    });
    if other_organizer && Tier::of(user) != Tier::Administrator {
        return Err(super::forbidden(
            "Only a System Administrator or Global Administrator makes another user the \
             organizer of an appointment: the organizer's Exchange mailbox sends the meeting \
             and its invitations.",
        ));
    }
    for p in parties {
        if let Some((id, table)) = &p.party {
            let key = if *table == "systemuser" {
                "systemuserid"
            } else {
                "contactid"
            };
            let exists = tx
                .prepare_cached(&format!("SELECT 1 FROM {table} WHERE {key} = ?1"))?
                .query_row([id], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Err(ApiError::not_found(format!(
                    "{table} With Id = {id} Does Not Exist"
                )));
            }
        }
    }
    tx.execute(
        "DELETE FROM activityparty WHERE activityid = ?1",
        [activity],
    )?;
    for p in parties {
        tx.execute(
            "INSERT INTO activityparty (activitypartyid, activityid, partyid, partyobjecttypecode, \
             participationtypemask, addressused) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                new_guid()?,
                activity,
                p.party.as_ref().map(|(id, _)| id.as_str()),
                p.party.as_ref().map(|(_, t)| *t),
                p.mask,
                p.address
            ],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parties_are_taken_out_of_the_body_and_checked() {
        let body = br#"{"subject":"Review","appointment_activity_parties":[
            {"partyid_systemuser@odata.bind":"/systemusers(00000000-0000-4000-8000-000000000001)","participationtypemask":7},
            {"addressused":"guest@fabrikam.test","participationtypemask":5}]}"#;
        let (rest, parties) = split(body).unwrap();
        let rest: serde_json::Map<String, Json> = serde_json::from_slice(&rest).unwrap();
        assert!(!rest.contains_key(NAV) && rest.contains_key("subject"));
        let parties = parties.unwrap();
        assert_eq!(parties.len(), 2);
        assert_eq!(parties[0].mask, 7);
        assert_eq!(parties[1].address.as_deref(), Some("guest@fabrikam.test"));
        for bad in [
            r#"{"appointment_activity_parties":{}}"#,
            r#"{"appointment_activity_parties":[{"participationtypemask":2,"addressused":"a@b"}]}"#,
            r#"{"appointment_activity_parties":[{"participationtypemask":5}]}"#,
            r#"{"appointment_activity_parties":[{"participationtypemask":7,"addressused":"a@b"},{"participationtypemask":7,"addressused":"c@d"}]}"#,
            r#"{"appointment_activity_parties":[{"participationtypemask":5,"partyid_systemuser@odata.bind":"/contacts(00000000-0000-4000-8000-000000000001)"}]}"#,
            r#"{"appointment_activity_parties":[{"participationtypemask":5,"addressused":"a@b","effort":1}]}"#,
        ] {
            assert!(split(bad.as_bytes()).is_err(), "{bad}");
        }
        // Without the property, the body is untouched.
        let (same, none) = split(br#"{"subject":"x"}"#).unwrap();
        assert_eq!(
            (same.as_slice(), none.is_none()),
            (&br#"{"subject":"x"}"#[..], true)
        );
    }
}
