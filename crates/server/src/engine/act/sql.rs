//! The SQL of appointments, contacts and tasks: a folder's sync state, links and
//! records read; what a cycle did written (records, links, the new sync state).

use mailsync_core::engine::act::{self, Action, Kind, Link, Record, Values};
use mailsync_core::engine::alerts::{level, Alert, On};
use mailsync_core::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::store::{new_guid, Result};

/// Records of a user one cycle reads at most per kind.
const RECORDS_PER_KIND: usize = 20_000;

/// An action done in Exchange (or needing nothing there), with what Exchange answered
/// (the item's id and ChangeKey) and, for a record created from an item, its new id.
pub struct Applied {
    pub action: Action,
    pub written: Option<(String, String)>,
    pub record: Option<String>,
}

pub type Folder = (Option<String>, Vec<Link>, Vec<Record>);

pub fn read_folder(c: &mut Connection, mailbox: &str, user: &str, kind: Kind) -> Result<Folder> {
    let state: Option<String> = c
        .query_row(
            "SELECT syncstate FROM exchangesyncstate WHERE mailboxid = ?1 AND folder = ?2",
            params![mailbox, kind.folder()],
            |r| r.get(0),
        )
        .optional()?;
    let mut stmt = c.prepare_cached(
        "SELECT exchangeentryid, exchangechangekey, objectid, syncedversion, recordownerid, \
         completedinexchange, tracked, itemend FROM exchangesyncidmapping \
         WHERE mailboxid = ?1 AND objecttypecode = ?2",
    )?;
    let links: Vec<Link> = stmt
        .query_map(params![mailbox, kind.object_type_code()], |r| {
            Ok(Link {
                exchange_id: r.get(0)?,
                change_key: r.get(1)?,
                record_id: r.get(2)?,
                version: r.get(3)?,
                owner: r.get(4)?,
                completed_in_exchange: r.get(5)?,
                tracked: r.get(6)?,
                end: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let (table, key) = (kind.table(), key_column(kind));
    let columns = act::columns(kind);
    let select = format!(
        "SELECT {key}, versionnumber, ownerid, {} FROM {table}",
        columns.join(", ")
    );
    let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Record> {
        let mut values = Values::new();
        for (i, column) in columns.iter().enumerate() {
            let v: rusqlite::types::Value = r.get(3 + i)?;
            let text = match v {
                rusqlite::types::Value::Text(t) => Some(t),
                rusqlite::types::Value::Integer(n) => Some(n.to_string()),
                rusqlite::types::Value::Real(f) => Some(f.to_string()),
                _ => None,
            };
            if let Some(t) = text {
                values.insert(column.to_string(), t);
            }
        }
        let owner: Option<String> = r.get(2)?;
        Ok(Record {
            id: r.get(0)?,
            version: r.get(1)?,
            selected: act::selected(kind, user, owner.as_deref(), &values),
            owner,
            values,
        })
    };
    // Appointments follow participation: those the user is a party to.
    let mine = match kind {
        Kind::Appointment => {
            "activityid IN (SELECT activityid FROM activityparty WHERE partyid = ?1)"
        }
        _ => "ownerid = ?1",
    };
    let mut records: Vec<Record> = c
        .prepare(&format!(
            "{select} WHERE {mine} ORDER BY modifiedon LIMIT {RECORDS_PER_KIND}"
        ))?
        .query_map([user], read)?
        .collect::<rusqlite::Result<_>>()?;
    let mut one = c.prepare(&format!("{select} WHERE {key} = ?1"))?;
    let mut have: std::collections::HashSet<String> =
        records.iter().map(|r| r.id.to_ascii_lowercase()).collect();
    for link in &links {
        if !have.insert(link.record_id.to_ascii_lowercase()) {
            continue;
        }
        if let Some(r) = one.query_row([&link.record_id], read).optional()? {
            records.push(r);
        }
    }
    if kind == Kind::Appointment {
        for r in &mut records {
            parties(c, &r.id, &mut r.values)?;
            r.selected = act::selected(kind, user, r.owner.as_deref(), &r.values);
        }
    }
    Ok((state, links, records))
}

/// Participation types (`activityparty.participationtypemask`).
const REQUIRED: i64 = 5;
const OPTIONAL: i64 = 6;
const ORGANIZER: i64 = 7;

/// `(partyid, partyobjecttypecode, participationtypemask, address)`.
type PartyRow = (Option<String>, Option<String>, i64, Option<String>);

/// An appointment's parties as core's values: `organizer` (address), `organizerid`
/// (when a user), `requiredattendees` and `optionalattendees` (addresses joined by
/// `;`), `partyids` (the users among them).
fn parties(c: &Connection, activity: &str, values: &mut Values) -> Result<()> {
    let rows: Vec<PartyRow> = c
        .prepare_cached(
            "SELECT p.partyid, p.partyobjecttypecode, p.participationtypemask, \
             COALESCE(p.addressused, u.internalemailaddress, k.emailaddress1) \
             FROM activityparty p \
             LEFT JOIN systemuser u ON p.partyobjecttypecode = 'systemuser' AND u.systemuserid = p.partyid \
             LEFT JOIN contact k ON p.partyobjecttypecode = 'contact' AND k.contactid = p.partyid \
             WHERE p.activityid = ?1 ORDER BY p.rowid",
        )?
        .query_map([activity], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let (mut required, mut optional, mut users) = (Vec::new(), Vec::new(), Vec::new());
    for (id, table, mask, address) in rows {
        let user = id.filter(|_| table.as_deref() == Some("systemuser"));
        if let Some(u) = &user {
            if !users.contains(u) {
                users.push(u.clone());
            }
        }
        let address = address.unwrap_or_default();
        match mask {
            ORGANIZER => {
                values.insert("organizer".into(), address);
                if let Some(u) = user {
                    values.insert("organizerid".into(), u);
                }
            }
            REQUIRED => required.push(address),
            OPTIONAL => optional.push(address),
            _ => {}
        }
    }
    for (name, list) in [
        ("requiredattendees", required),
        ("optionalattendees", optional),
    ] {
        let list = act::addresses(&list.join(";"));
        if !list.is_empty() {
            values.insert(name.into(), list);
        }
    }
    values.insert("partyids".into(), users.join(";"));
    Ok(())
}

/// Who an address is here: a user (by their primary email address), else a contact
/// (by their first), else nobody (`None`: the party keeps only the address).
fn resolve(c: &Connection, address: &str) -> Result<Option<(String, &'static str)>> {
    let user: Option<String> = c
        .prepare_cached(
            "SELECT systemuserid FROM systemuser WHERE internalemailaddress = ?1 COLLATE NOCASE \
             ORDER BY isdisabled, createdon LIMIT 1",
        )?
        .query_row([address], |r| r.get(0))
        .optional()?;
    if let Some(u) = user {
        return Ok(Some((u, "systemuser")));
    }
    let contact: Option<String> = c
        .prepare_cached(
            "SELECT contactid FROM contact WHERE emailaddress1 = ?1 COLLATE NOCASE \
             ORDER BY statecode, createdon LIMIT 1",
        )?
        .query_row([address], |r| r.get(0))
        .optional()?;
    Ok(contact.map(|k| (k, "contact")))
}

/// The user an appointment from Exchange belongs to: its organizer when a user here
/// ("If the organizer of the Outlook meeting is a Dynamics 365 user, the owner will be
/// the organizer. If the organizer is not a Dynamics 365 user, the owner will be the
/// user who tracked it.").
fn appointment_owner(c: &Connection, values: &Values, tracker: &str) -> Result<String> {
    if let Some(o) = values.get("organizer").filter(|o| !o.is_empty()) {
        if let Some((id, "systemuser")) = resolve(c, o)? {
            return Ok(id);
        }
    }
    Ok(tracker.to_string())
}

/// Writes an appointment's parties from core's values (organizer, required and
/// optional attendees), replacing those it had.
fn write_parties(tx: &Transaction<'_>, activity: &str, values: &Values) -> Result<()> {
    tx.execute(
        "DELETE FROM activityparty WHERE activityid = ?1",
        [activity],
    )?;
    let lists = [
        ("organizer", ORGANIZER),
        ("requiredattendees", REQUIRED),
        ("optionalattendees", OPTIONAL),
    ];
    for (name, mask) in lists {
        let Some(list) = values.get(name) else {
            continue;
        };
        for address in act::addresses(list).split(';').filter(|a| !a.is_empty()) {
            let who = resolve(tx, address)?;
            tx.execute(
                "INSERT INTO activityparty (activitypartyid, activityid, partyid, \
                 partyobjecttypecode, participationtypemask, addressused) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    new_guid()?,
                    activity,
                    who.as_ref().map(|w| w.0.as_str()),
                    who.as_ref().map(|w| w.1),
                    mask,
                    address
                ],
            )?;
        }
    }
    Ok(())
}

pub fn key_column(kind: Kind) -> &'static str {
    match kind {
        Kind::Contact => "contactid",
        Kind::Appointment | Kind::Task => "activityid",
    }
}

/// Writes what was done in one transaction: records, links, the new sync state.
pub fn write_folder(
    tx: &Transaction<'_>,
    mailbox: &str,
    user: &str,
    kind: Kind,
    applied: &[Applied],
    state: &Option<String>,
    now: Timestamp,
) -> Result<()> {
    let otc = kind.object_type_code();
    for Applied {
        action,
        written,
        record,
    } in applied
    {
        match action {
            Action::CreateRecord { item, values } => {
                // A meeting another mailbox of one of its parties saved meanwhile (the
                // mailboxes' cycles run side by side): linked to that appointment.
                let saved = match kind {
                    Kind::Appointment => meeting(tx, values)?,
                    _ => None,
                };
                let id = match saved {
                    Some(id) => id,
                    None => {
                        let id = match record {
                            Some(id) => id.clone(),
                            None => new_guid()?,
                        };
                        insert_record(tx, kind, &id, user, values)?;
                        id
                    }
                };
                link_marked(tx, mailbox, user, kind, item, written, &id, true)?;
            }
            Action::UpdateRecord {
                record_id,
                item,
                values,
            } => {
                update_record(tx, kind, record_id, values)?;
                link_marked(tx, mailbox, user, kind, item, &None, record_id, false)?;
            }
            Action::DeleteRecord {
                record_id,
                exchange_id,
            } => {
                tx.execute(
                    &format!(
                        "DELETE FROM {} WHERE {} = ?1",
                        kind.table(),
                        key_column(kind)
                    ),
                    [record_id],
                )?;
                unlink(tx, mailbox, otc, exchange_id)?;
            }
            // Turned into a prompt before anything was written.
            Action::AskPreviouslyLinked { .. } => {}
            // Said on the mailbox's wall; nothing else is written.
            Action::NotSynchronized { text, .. } => {
                let alert = Alert {
                    on: On::Mailbox,
                    level: level::WARNING,
                    tracecode: act::RECURRING_TRACECODE,
                    error_type: String::new(),
                    text: text.clone(),
                    details: String::new(),
                };
                let stamp = now.to_rfc3339();
                crate::engine::db::insert_alert(tx, &alert, "", (mailbox, "mailbox"), &stamp, now)?;
            }
            Action::LinkRecord { item, record_id } => {
                link_marked(tx, mailbox, user, kind, item, written, record_id, false)?;
            }
            Action::Unlink { exchange_id } | Action::DeleteItem { exchange_id, .. } => {
                unlink(tx, mailbox, otc, exchange_id)?;
            }
            Action::CreateItem { record_id, props }
            | Action::UpdateItem {
                record_id, props, ..
            } => {
                if let (Kind::Appointment, Some(uid), Some(_)) = (kind, props.get("UID"), written) {
                    // The meeting's UID the engine gave it: the appointment's global
                    // object ID, by which attendees' copies are linked.
                    tx.execute(
                        "UPDATE appointment SET globalobjectid = ?1 WHERE activityid = ?2 \
                         AND (globalobjectid IS NULL OR globalobjectid = '')",
                        params![uid, record_id],
                    )?;
                }
                if let Some((id, change_key)) = written {
                    link(
                        tx,
                        mailbox,
                        user,
                        kind,
                        id,
                        change_key,
                        record_id,
                        Linked {
                            completed: act::completed_in_exchange(kind, props),
                            tracked: false,
                        },
                    )?;
                }
            }
        }
    }
    if let Some(state) = state {
        tx.execute(
            "INSERT INTO exchangesyncstate (mailboxid, folder, syncstate) VALUES (?1, ?2, ?3) \
             ON CONFLICT (mailboxid, folder) DO UPDATE SET syncstate = excluded.syncstate",
            params![mailbox, kind.folder(), state],
        )?;
    }
    Ok(())
}

/// The appointment with the meeting's global object ID, if one exists.
pub fn meeting(tx: &Transaction<'_>, values: &Values) -> Result<Option<String>> {
    let Some(uid) = values.get("globalobjectid").filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    Ok(tx
        .query_row(
            "SELECT activityid FROM appointment WHERE globalobjectid = ?1 COLLATE NOCASE \
             ORDER BY createdon LIMIT 1",
            [uid],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn unlink(tx: &Transaction<'_>, mailbox: &str, otc: i64, exchange_id: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM exchangesyncidmapping WHERE mailboxid = ?1 AND objecttypecode = ?2 \
         AND exchangeentryid = ?3",
        params![mailbox, otc, exchange_id],
    )?;
    Ok(())
}

/// Links an item as Exchange reported it, or as the engine's marker left it
/// (`written`: its id and new ChangeKey), to `record`; `tracked` when the user tracked
/// it.
#[allow(clippy::too_many_arguments)]
fn link_marked(
    tx: &Transaction<'_>,
    mailbox: &str,
    user: &str,
    kind: Kind,
    item: &act::Item,
    written: &Option<(String, String)>,
    record: &str,
    tracked: bool,
) -> Result<()> {
    let change_key = written
        .as_ref()
        .map_or(item.change_key.as_str(), |(_, k)| k.as_str());
    link(
        tx,
        mailbox,
        user,
        kind,
        &item.id,
        change_key,
        record,
        Linked {
            completed: act::completed_in_exchange(kind, &item.props),
            tracked,
        },
    )
}

/// What a link records of the item besides its id.
pub struct Linked {
    /// Completed in Exchange (tasks).
    pub completed: bool,
    /// The user tracked it (see core's `act::Link::tracked`); a link once tracked
    /// stays so.
    pub tracked: bool,
}

/// Links (or re-links) an item and a record, as of the record's version now.
#[allow(clippy::too_many_arguments)]
pub fn link(
    tx: &Transaction<'_>,
    mailbox: &str,
    user: &str,
    kind: Kind,
    exchange_id: &str,
    change_key: &str,
    record_id: &str,
    linked: Linked,
) -> Result<()> {
    // For an appointment, its organizer (when a user) and its end.
    let (owner, end) = match kind {
        Kind::Appointment => (
            "(SELECT partyid FROM activityparty WHERE activityid = ?1 AND participationtypemask = 7 \
             AND partyobjecttypecode = 'systemuser' LIMIT 1)",
            "scheduledend",
        ),
        _ => ("ownerid", "NULL"),
    };
    let (version, owner, subject, end): (i64, Option<String>, Option<String>, Option<String>) = tx
        .query_row(
            &format!(
                "SELECT versionnumber, {owner}, {}, {end} FROM {} WHERE {} = ?1",
                match kind {
                    Kind::Contact => "fullname",
                    Kind::Appointment | Kind::Task => "subject",
                },
                kind.table(),
                key_column(kind)
            ),
            [record_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let id = new_guid()?;
    tx.execute(
        "INSERT INTO exchangesyncidmapping (exchangesyncidmappingid, mailboxid, exchangeentryid, \
         objectid, objecttypecode, ownerid, itemsubject, exchangechangekey, syncedversion, \
         recordownerid, completedinexchange, tracked, itemend) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
         ON CONFLICT (mailboxid, objecttypecode, exchangeentryid) DO UPDATE SET \
         objectid = excluded.objectid, itemsubject = excluded.itemsubject, \
         exchangechangekey = excluded.exchangechangekey, syncedversion = excluded.syncedversion, \
         recordownerid = excluded.recordownerid, completedinexchange = excluded.completedinexchange, \
         tracked = MAX(tracked, excluded.tracked), itemend = excluded.itemend, \
         modifiedon = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
        params![
            id,
            mailbox,
            exchange_id,
            record_id,
            kind.object_type_code(),
            user,
            subject,
            change_key,
            version,
            owner,
            linked.completed,
            linked.tracked,
            end
        ],
    )?;
    Ok(())
}

fn sql_value(numeric: bool, v: Option<&String>) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match v {
        None => Value::Null,
        Some(t) if numeric => t.trim().parse::<i64>().map_or(Value::Null, Value::Integer),
        Some(t) => Value::Text(t.clone()),
    }
}

/// The contact's computed full name, from the values written.
fn full_name(values: &Values) -> Option<String> {
    act::full_name(
        values.get("firstname").map(String::as_str),
        values.get("middlename").map(String::as_str),
        values.get("lastname").map(String::as_str),
    )
}

pub fn insert_record(
    tx: &Transaction<'_>,
    kind: Kind,
    id: &str,
    user: &str,
    values: &Values,
) -> Result<()> {
    let owner = match kind {
        Kind::Appointment => appointment_owner(tx, values, user)?,
        _ => user.to_string(),
    };
    let mut names = vec![key_column(kind), "ownerid"];
    let mut args: Vec<rusqlite::types::Value> = vec![id.to_string().into(), owner.into()];
    for (column, numeric) in act::columns_from_exchange(kind) {
        if let Some(v) = values.get(column) {
            names.push(column);
            args.push(sql_value(numeric, Some(v)));
        }
    }
    if kind == Kind::Contact {
        names.push("fullname");
        args.push(sql_value(false, full_name(values).as_ref()));
    }
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    tx.execute(
        &format!(
            "INSERT INTO {} ({}) VALUES ({})",
            kind.table(),
            names.join(", "),
            marks.join(", ")
        ),
        rusqlite::params_from_iter(args),
    )?;
    if kind == Kind::Appointment {
        write_parties(tx, id, values)?;
    }
    Ok(())
}

fn update_record(tx: &Transaction<'_>, kind: Kind, id: &str, values: &Values) -> Result<()> {
    let mut sets = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    for (column, numeric) in act::columns_from_exchange(kind) {
        args.push(sql_value(numeric, values.get(column)));
        sets.push(format!("{column} = ?{}", args.len()));
    }
    if kind == Kind::Contact {
        args.push(sql_value(false, full_name(values).as_ref()));
        sets.push(format!("fullname = ?{}", args.len()));
    }
    args.push(id.to_string().into());
    tx.execute(
        &format!(
            "UPDATE {} SET {} WHERE {} = ?{}",
            kind.table(),
            sets.join(", "),
            key_column(kind),
            args.len()
        ),
        rusqlite::params_from_iter(args),
    )?;
    if kind == Kind::Appointment {
        write_parties(tx, id, values)?;
    }
    Ok(())
}
