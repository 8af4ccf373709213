//! Contacts and tasks kept in step with Exchange: what one synchronization of one
//! folder of one mailbox does, decided from the links between records and Exchange
//! items, the changes Exchange reports (EWS SyncFolderItems) and the records the user's
//! synchronization filter selects. Pure: the server's `engine::act` does the EWS calls
//! and the SQL around [`plan`].
//!
//! The rules are Microsoft's ("Server-side synchronization logic", sync-logic.md, 2025;
//! "Deleting records that have been tracked"; quoted with their sources in
//! `docs/research/act-synchronization.md` §1-§2):
//!
//! * Dynamics 365 → Exchange: a record that meets the user's synchronization filter for
//!   the first time is created in Exchange, later changes update it, and a linked
//!   record that no longer meets it (or is gone) is a delete, within the per-type
//!   deletion rules below. The default filters: contacts "My Outlook Contacts" (owned
//!   by the user, Active); tasks owned by the user.
//! * Exchange → Dynamics 365: only items that are tracked (the "Tracked to Dynamics 365"
//!   category) or already linked come in.
//! * A link the user made by tracking an item stays while its record lives, even when
//!   the filter does not select the record (tracking is the user's explicit choice;
//!   Microsoft's logical-delete example is about records the filter brought).
//! * Deletes: a contact deleted in Exchange is deleted in Dynamics 365 only when the
//!   syncing user owns it; a contact deleted (or no longer selected) in Dynamics 365 is
//!   deleted in Exchange only when the syncing user is not its owner. A task deleted in
//!   Exchange is deleted in Dynamics 365 (OrgDBOrgSetting
//!   `SSSTaskDeletionSyncBehaviorFromExchange` off keeps it); a task deleted in
//!   Dynamics 365 is deleted in Exchange unless it is Completed there. With
//!   `DistinctPhysicalAndLogicalDeletesForExchangeSync`, a record only no longer
//!   selected (a logical delete) is unlinked instead. Where a delete is not made, the
//!   link is dropped: the item and the record live on separately.
//! * A record and its item both changed since the last cycle: Dynamics 365's version
//!   is written to Exchange. Microsoft documents no rule for this; the organization is
//!   the system of record, and an Exchange change is never silently half-applied.
//!
//! Appointments follow participation, not ownership (their party lists, Dataverse's
//! `activityparty`; the values `organizer`, `organizerid`, `requiredattendees`,
//! `optionalattendees` of a [`Record`] come from it):
//!
//! * Dynamics 365 → Exchange: "only the Dynamics 365 appointment organizer can
//!   synchronize and distribute appointments ... to Exchange attendees": the organizer's
//!   mailbox creates the meeting (Exchange sends the invitations, past meetings and
//!   meetings without attendees go without); an attendee's copy is linked to the
//!   record in the attendee's mailbox by its global object ID (EWS `UID`).
//! * Exchange → Dynamics 365: tracked meetings come in, their organizer and attendees
//!   as parties; "If the appointment state in Dynamics 365 is Completed or Canceled,
//!   any changes to the meeting in Exchange will not sync".
//! * Deletes: deleted in Exchange, the appointment is deleted in Dynamics 365 unless it
//!   is Completed or Canceled, in the past, or the syncing user is not its organizer;
//!   deleted in Dynamics 365, the meeting is deleted in Exchange only when it is linked,
//!   the syncing user is its organizer, it is in the future and the delete is not a
//!   logical one; otherwise it is unlinked.
//! * A tracked meeting that conflicts with an attendee's appointment is a prompt
//!   (the server's `engine::act::prompts`, Microsoft's booking check).

use std::collections::{BTreeMap, HashMap, HashSet};

/// The category Outlook users apply to track an item ("Tracked to Dynamics 365"). For
/// contacts Dynamics 365 tracks with its App for Outlook instead; the local
/// organization has no such app, so the category marks a tracked contact too.
pub const TRACKED_CATEGORY: &str = "Tracked to Dynamics 365";

/// The kinds of record this module synchronizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Appointment,
    Contact,
    Task,
}

impl Kind {
    /// In the order a cycle takes them: appointments last, so a calendar Exchange
    /// refuses does not hold up contacts and tasks.
    pub const ALL: [Kind; 3] = [Kind::Contact, Kind::Task, Kind::Appointment];

    /// The Exchange folder (EWS DistinguishedFolderId).
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Appointment => "calendar",
            Kind::Contact => "contacts",
            Kind::Task => "tasks",
        }
    }

    /// The EWS item element (`t:Contact`, `t:Task`).
    pub fn element(self) -> &'static str {
        match self {
            Kind::Appointment => "CalendarItem",
            Kind::Contact => "Contact",
            Kind::Task => "Task",
        }
    }

    /// The Dataverse table.
    pub fn table(self) -> &'static str {
        match self {
            Kind::Appointment => "appointment",
            Kind::Contact => "contact",
            Kind::Task => "task",
        }
    }

    /// The word for one in texts.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Appointment => "appointment",
            Kind::Contact => "contact",
            Kind::Task => "task",
        }
    }

    /// Dataverse's object type code (`exchangesyncidmapping.objecttypecode`).
    pub fn object_type_code(self) -> i64 {
        match self {
            Kind::Appointment => 4201,
            Kind::Contact => 2,
            Kind::Task => 4212,
        }
    }

    /// The EWS properties synchronized, in the order the EWS schema wants them inside
    /// the item element (Item's own first, then the type's).
    pub fn props(self) -> &'static [Prop] {
        match self {
            Kind::Appointment => APPOINTMENT_PROPS,
            Kind::Contact => CONTACT_PROPS,
            Kind::Task => TASK_PROPS,
        }
    }
}

/// An EWS property: its name as a child element, its FieldURI for UpdateItem, and for
/// an indexed one (an email address, a phone number) the collection and its entry key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prop {
    pub name: &'static str,
    pub uri: &'static str,
    pub entry: Option<(&'static str, &'static str)>,
    pub form: Form,
}

/// How a property's value is written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The element's text, written on create and update.
    Text,
    /// A list of attendees (`t:Attendee/t:Mailbox/t:EmailAddress`), as the addresses
    /// joined by `;`; written on create and update.
    Attendees,
    /// One mailbox (`t:Mailbox/t:EmailAddress`), read only: Exchange sets the organizer.
    Mailbox,
    /// Written when the item is created, never updated (a meeting's UID).
    OnCreate,
    /// Read only, never written (a calendar item's `CalendarItemType`).
    ReadOnly,
}

impl Prop {
    /// Whether UpdateItem sets (or deletes) it.
    pub fn updated(&self) -> bool {
        matches!(self.form, Form::Text | Form::Attendees)
    }

    /// Whether CreateItem writes it.
    pub fn created(&self) -> bool {
        !matches!(self.form, Form::Mailbox | Form::ReadOnly)
    }
}

const fn p(name: &'static str, uri: &'static str) -> Prop {
    Prop {
        name,
        uri,
        entry: None,
        form: Form::Text,
    }
}

const fn ix(name: &'static str, uri: &'static str, collection: &'static str) -> Prop {
    Prop {
        name,
        uri,
        entry: Some((collection, name)),
        form: Form::Text,
    }
}

const fn f(name: &'static str, uri: &'static str, form: Form) -> Prop {
    Prop {
        name,
        uri,
        entry: None,
        form,
    }
}

/// Appointment: Item's Subject, Body, Importance, then CalendarItemType's UID, Start,
/// End, IsAllDayEvent, LegacyFreeBusyStatus, Location, Organizer, RequiredAttendees,
/// OptionalAttendees.
static APPOINTMENT_PROPS: &[Prop] = &[
    p("Subject", "item:Subject"),
    p("Body", "item:Body"),
    p("Importance", "item:Importance"),
    f("UID", "calendar:UID", Form::OnCreate),
    p("Start", "calendar:Start"),
    p("End", "calendar:End"),
    p("IsAllDayEvent", "calendar:IsAllDayEvent"),
    p("LegacyFreeBusyStatus", "calendar:LegacyFreeBusyStatus"),
    p("Location", "calendar:Location"),
    f("Organizer", "calendar:Organizer", Form::Mailbox),
    f(
        "RequiredAttendees",
        "calendar:RequiredAttendees",
        Form::Attendees,
    ),
    f(
        "OptionalAttendees",
        "calendar:OptionalAttendees",
        Form::Attendees,
    ),
    f(
        "CalendarItemType",
        "calendar:CalendarItemType",
        Form::ReadOnly,
    ),
];

/// The alert's trace code for a recurring series tracked in Exchange, which this
/// organization does not synchronize.
pub const RECURRING_TRACECODE: i64 = 71;

/// Whether an Exchange calendar item belongs to a recurring series (its master, an
/// occurrence or an exception, EWS's `CalendarItemType`). Dynamics 365 keeps those as
/// `recurringappointmentmaster` records, which the local organization does not have:
/// such an item is not taken as a single appointment (that would be its first
/// occurrence only), and the user is told.
pub fn is_recurring(item: &Item) -> bool {
    matches!(
        item.props.get("CalendarItemType").map(|t| t.trim()),
        Some("RecurringMaster" | "Occurrence" | "Exception")
    )
}

/// The words of the alert for a tracked recurring series.
pub fn recurring_text(subject: &str) -> String {
    format!(
        "The recurring appointment \"{subject}\" was tracked in Exchange, but it was not \
         synchronized with Microsoft Dynamics 365: this organization synchronizes single \
         appointments only. Track the meetings of the series one by one, or keep the \
         series in Exchange only."
    )
}

/// Contact: the EWS ContactItemType's sequence (FileAs, GivenName, MiddleName,
/// EmailAddresses, PhoneNumbers, JobTitle, Surname).
static CONTACT_PROPS: &[Prop] = &[
    p("FileAs", "contacts:FileAs"),
    p("GivenName", "contacts:GivenName"),
    p("MiddleName", "contacts:MiddleName"),
    ix("EmailAddress1", "contacts:EmailAddress", "EmailAddresses"),
    ix("EmailAddress2", "contacts:EmailAddress", "EmailAddresses"),
    ix("EmailAddress3", "contacts:EmailAddress", "EmailAddresses"),
    ix("BusinessPhone", "contacts:PhoneNumber", "PhoneNumbers"),
    ix("MobilePhone", "contacts:PhoneNumber", "PhoneNumbers"),
    p("JobTitle", "contacts:JobTitle"),
    p("Surname", "contacts:Surname"),
];

/// Task: Item's Subject, Body, Importance, then TaskType's DueDate, PercentComplete,
/// StartDate, Status.
static TASK_PROPS: &[Prop] = &[
    p("Subject", "item:Subject"),
    p("Body", "item:Body"),
    p("Importance", "item:Importance"),
    p("DueDate", "task:DueDate"),
    p("PercentComplete", "task:PercentComplete"),
    p("StartDate", "task:StartDate"),
    p("Status", "task:Status"),
];

/// Values by name: a record's by Dataverse column, an item's by EWS property. Absent
/// and empty are the same: nothing.
pub type Values = BTreeMap<String, String>;

/// An Exchange item as SyncFolderItems or GetItem gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item {
    pub id: String,
    pub change_key: String,
    /// EWS property values by [`Prop::name`].
    pub props: Values,
    pub categories: Vec<String>,
    /// The link marker the engine wrote on the item ([`marker`]), if any.
    pub marker: Option<String>,
}

impl Item {
    pub fn tracked(&self) -> bool {
        self.categories
            .iter()
            .any(|c| c.eq_ignore_ascii_case(TRACKED_CATEGORY))
    }
}

/// Where and when a synchronization runs: the organization, the mailbox, the time
/// (appointments in the past are not deleted).
#[derive(Debug, Clone, Copy)]
pub struct Here<'a> {
    pub org: &'a str,
    pub mailbox: &'a str,
    pub now: crate::Timestamp,
}

/// The marker the engine writes on every item it links (an extended property): which
/// organization, mailbox and record it is linked to. An item found unlinked with
/// another organization's or mailbox's marker was linked before: the user is asked
/// ("previously linked items"). One with this mailbox's marker was unlinked here on
/// purpose (its record deleted or no longer selected) and is not brought back.
pub fn marker(here: Here<'_>, record: &str) -> String {
    format!(
        "v1;org={};mailbox={};record={}",
        here.org.to_ascii_lowercase(),
        here.mailbox.to_ascii_lowercase(),
        record.to_ascii_lowercase()
    )
}

/// A marker's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub org: String,
    pub mailbox: String,
    pub record: String,
}

pub fn parse_marker(text: &str) -> Option<Marker> {
    let mut parts = text.trim().split(';');
    if parts.next()? != "v1" {
        return None;
    }
    let mut get = |key: &str| {
        parts
            .next()?
            .strip_prefix(key)?
            .strip_prefix('=')
            .map(str::to_ascii_lowercase)
    };
    let (org, mailbox, record) = (get("org")?, get("mailbox")?, get("record")?);
    Some(Marker {
        org,
        mailbox,
        record,
    })
}

impl Marker {
    /// Written here: this organization and this mailbox.
    pub fn is_here(&self, here: Here<'_>) -> bool {
        self.org.eq_ignore_ascii_case(here.org) && self.mailbox.eq_ignore_ascii_case(here.mailbox)
    }
}

/// A change Exchange reports in a folder since the last synchronization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Created or updated (SyncFolderItems `Create` / `Update`).
    Upsert(Item),
    Delete(String),
}

/// A record as the engine reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub id: String,
    pub version: i64,
    pub owner: Option<String>,
    /// Column values (Dataverse names).
    pub values: Values,
    /// Whether the user's synchronization filter selects it.
    pub selected: bool,
}

/// A record linked with an Exchange item in one mailbox (`exchangesyncidmapping`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    pub exchange_id: String,
    /// The item's ChangeKey after the last synchronization: an `Update` with this key
    /// is the engine's own write coming back.
    pub change_key: String,
    pub record_id: String,
    /// The record's `versionnumber` after the last synchronization.
    pub version: i64,
    /// The record's owner at the last synchronization (a deleted record has none).
    pub owner: Option<String>,
    /// Whether the item was Completed in Exchange at the last synchronization.
    pub completed_in_exchange: bool,
    /// An appointment's end at the last synchronization (RFC 3339), and for an
    /// appointment [`Link::owner`] is its organizer.
    pub end: Option<String>,
    /// Whether the link began with the user tracking the item in Exchange (rather than
    /// with the filter selecting the record): the user asked for it, so it stays
    /// linked while the record lives, selected by the filter or not.
    pub tracked: bool,
}

/// The OrgDBOrgSettings that change the rules (defaults as Microsoft's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub distinct_logical_deletes: bool,
    pub delete_tasks_from_exchange: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            distinct_logical_deletes: false,
            delete_tasks_from_exchange: true,
        }
    }
}

impl Settings {
    pub fn from_org(orgdborgsettings: Option<&str>) -> Settings {
        let flag = |name: &str| {
            orgdborgsettings
                .and_then(|s| crate::rules::org_db_setting(s, name))
                .map(|v| v.eq_ignore_ascii_case("true") || v == "1")
        };
        let d = Settings::default();
        Settings {
            distinct_logical_deletes: flag("DistinctPhysicalAndLogicalDeletesForExchangeSync")
                .unwrap_or(d.distinct_logical_deletes),
            delete_tasks_from_exchange: flag("SSSTaskDeletionSyncBehaviorFromExchange")
                .unwrap_or(d.delete_tasks_from_exchange),
        }
    }
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A tracked item without a record: create the record (owned by the user), link.
    CreateRecord { item: Item, values: Values },
    /// A meeting whose global object ID (UID) is an appointment's the user takes part
    /// in (an attendee's copy, or the organizer's own): link, create nothing.
    LinkRecord { item: Item, record_id: String },
    /// An unlinked item that another mailbox or organization linked before: ask.
    AskPreviouslyLinked { item: Item, values: Values },
    /// A linked item changed in Exchange.
    UpdateRecord {
        record_id: String,
        item: Item,
        values: Values,
    },
    /// A linked item deleted in Exchange, whose record goes too.
    DeleteRecord {
        record_id: String,
        exchange_id: String,
    },
    /// The link goes; the item and the record stay.
    Unlink { exchange_id: String },
    /// A selected record without an item: create it in Exchange, link.
    CreateItem { record_id: String, props: Values },
    /// A linked record changed in Dynamics 365.
    UpdateItem {
        record_id: String,
        exchange_id: String,
        change_key: String,
        props: Values,
    },
    /// A linked record gone or no longer selected, whose item goes too.
    DeleteItem {
        record_id: String,
        exchange_id: String,
    },
    /// A tracked item this organization does not synchronize (a recurring series): the
    /// user is told, nothing is written.
    NotSynchronized { item: Item, text: String },
}

/// What one synchronization of `kind`'s folder does for `user`, at most `limit`
/// actions (the rest wait for the next cycle).
///
/// `records`: every record the user's filter selects, plus every linked record that
/// still exists (selected or not); a linked record absent from it is deleted.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    kind: Kind,
    here: Here<'_>,
    user: &str,
    settings: Settings,
    links: &[Link],
    changes: &[Change],
    records: &[Record],
    limit: usize,
) -> Vec<Action> {
    let by_item: HashMap<&str, &Link> = links.iter().map(|l| (l.exchange_id.as_str(), l)).collect();
    let by_record: HashMap<&str, &Record> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut actions = Vec::new();
    // Links settled by an Exchange change (deleted there): not looked at again.
    let mut settled: HashSet<&str> = HashSet::new();
    let mut linked: HashSet<&str> = links.iter().map(|l| l.record_id.as_str()).collect();
    // The appointments the user takes part in, by UID and (as "id:<id>") by id.
    let meetings: HashMap<String, &Record> = match kind {
        Kind::Appointment => records
            .iter()
            .filter(|r| r.selected)
            .flat_map(|r| {
                let uid = r
                    .values
                    .get("globalobjectid")
                    .map(|u| u.trim().to_ascii_lowercase())
                    .filter(|u| !u.is_empty());
                [uid, Some(format!("id:{}", r.id.to_ascii_lowercase()))]
                    .into_iter()
                    .flatten()
                    .map(move |k| (k, r))
            })
            .collect(),
        _ => HashMap::new(),
    };

    for change in changes {
        match change {
            Change::Upsert(item) => match by_item.get(item.id.as_str()) {
                Some(link) => {
                    if item.change_key == link.change_key {
                        continue; // the engine's own write, coming back
                    }
                    match by_record.get(link.record_id.as_str()) {
                        // Both changed: Dynamics 365's version goes to Exchange below.
                        Some(r) if r.version > link.version => {}
                        // Appointments: the organizer's changes only, and none once
                        // Completed or Canceled in Dynamics 365.
                        Some(r) if !takes_changes(kind, user, r, link) => {}
                        Some(_) => actions.push(Action::UpdateRecord {
                            record_id: link.record_id.clone(),
                            item: item.clone(),
                            values: to_record(kind, &item.props),
                        }),
                        // The record is gone: the delete rules below decide.
                        None => {}
                    }
                }
                None if kind == Kind::Appointment && is_recurring(item) => {
                    if item.tracked() {
                        let subject = item.props.get("Subject").map_or("", |s| s.as_str());
                        actions.push(Action::NotSynchronized {
                            item: item.clone(),
                            text: recurring_text(subject),
                        });
                    }
                }
                None => match item.marker.as_deref().and_then(parse_marker) {
                    // A meeting of an appointment the user takes part in: linked.
                    _ if meeting_of(item, here, &meetings, &linked).is_some() => {
                        let r = meeting_of(item, here, &meetings, &linked).unwrap_or_default();
                        linked.insert(r);
                        actions.push(Action::LinkRecord {
                            item: item.clone(),
                            record_id: r.to_string(),
                        });
                    }
                    // Unlinked here on purpose: not brought back.
                    Some(m) if m.is_here(here) => {}
                    Some(_) => actions.push(Action::AskPreviouslyLinked {
                        item: item.clone(),
                        values: to_record(kind, &item.props),
                    }),
                    None if item.tracked() => actions.push(Action::CreateRecord {
                        item: item.clone(),
                        values: to_record(kind, &item.props),
                    }),
                    None => {}
                },
            },
            Change::Delete(id) => {
                let Some(link) = by_item.get(id.as_str()) else {
                    continue;
                };
                settled.insert(link.exchange_id.as_str());
                let record = by_record.get(link.record_id.as_str());
                let delete = record.is_some_and(|r| match kind {
                    Kind::Appointment => {
                        organizes(kind, user, r)
                            && !closed(&r.values)
                            && future(r.values.get("scheduledend"), here.now)
                    }
                    Kind::Contact => r.owner.as_deref() == Some(user),
                    Kind::Task => settings.delete_tasks_from_exchange,
                });
                actions.push(if delete {
                    Action::DeleteRecord {
                        record_id: link.record_id.clone(),
                        exchange_id: link.exchange_id.clone(),
                    }
                } else {
                    Action::Unlink {
                        exchange_id: link.exchange_id.clone(),
                    }
                });
            }
        }
    }

    // Dynamics 365 → Exchange, for the links Exchange did not settle.
    for link in links {
        if settled.contains(link.exchange_id.as_str()) {
            continue;
        }
        match by_record.get(link.record_id.as_str()) {
            Some(r) if r.selected || link.tracked => {
                if r.version > link.version && organizes(kind, user, r) && writable(kind, r) {
                    // Both changed: the item's newest key, so AutoResolve takes ours.
                    let change_key = changes
                        .iter()
                        .find_map(|c| match c {
                            Change::Upsert(i) if i.id == link.exchange_id => {
                                Some(i.change_key.clone())
                            }
                            _ => None,
                        })
                        .unwrap_or_else(|| link.change_key.clone());
                    actions.push(Action::UpdateItem {
                        record_id: r.id.clone(),
                        exchange_id: link.exchange_id.clone(),
                        change_key,
                        props: to_exchange(kind, &r.values),
                    });
                }
            }
            record => {
                // Gone (physical) or no longer selected (logical).
                let logical = record.is_some();
                let owner = match (kind, record) {
                    (Kind::Appointment, Some(r)) => organizer(r),
                    (_, Some(r)) => r.owner.as_deref(),
                    (_, None) => link.owner.as_deref(),
                };
                // A logical delete the organization keeps apart from a physical one.
                let unlink_only = logical && settings.distinct_logical_deletes;
                let delete = match kind {
                    // Linked, organized by the user, in the future, not a logical delete.
                    Kind::Appointment => {
                        let end =
                            record.map_or(link.end.as_ref(), |r| r.values.get("scheduledend"));
                        !logical && owner == Some(user) && future(end, here.now)
                    }
                    Kind::Contact => !unlink_only && owner != Some(user),
                    Kind::Task => !unlink_only && !link.completed_in_exchange,
                };
                actions.push(if delete {
                    Action::DeleteItem {
                        record_id: link.record_id.clone(),
                        exchange_id: link.exchange_id.clone(),
                    }
                } else {
                    Action::Unlink {
                        exchange_id: link.exchange_id.clone(),
                    }
                });
            }
        }
    }

    for r in records {
        // An appointment with a UID was in Exchange once: unlinked since (deleted there
        // in the past, say), it is not sent again.
        let sent_before = kind == Kind::Appointment
            && r.values
                .get("globalobjectid")
                .is_some_and(|u| !u.trim().is_empty());
        if r.selected
            && organizes(kind, user, r)
            && writable(kind, r)
            && !sent_before
            && !linked.contains(r.id.as_str())
        {
            actions.push(Action::CreateItem {
                record_id: r.id.clone(),
                props: to_exchange(kind, &r.values),
            });
        }
    }
    actions.truncate(limit);
    actions
}

/// An appointment's organizer, when a user of the organization.
fn organizer(r: &Record) -> Option<&str> {
    r.values
        .get("organizerid")
        .map(String::as_str)
        .filter(|o| !o.is_empty())
}

/// Whether the user may write the record to Exchange: anyone for contacts and tasks;
/// for appointments only the organizer ("only the Dynamics 365 appointment organizer
/// can synchronize and distribute appointments").
fn organizes(kind: Kind, user: &str, r: &Record) -> bool {
    kind != Kind::Appointment || organizer(r).is_some_and(|o| o.eq_ignore_ascii_case(user))
}

/// Whether an Exchange change of a linked item comes into the record. Appointments:
/// not once Completed or Canceled; from the organizer's mailbox, or, when the
/// organizer is not a user here, from the mailbox that tracked it (an attendee's copy
/// only changes when the organizer's meeting does).
fn takes_changes(kind: Kind, user: &str, r: &Record, link: &Link) -> bool {
    kind != Kind::Appointment
        || (!closed(&r.values)
            && (organizes(kind, user, r) || (organizer(r).is_none() && link.tracked)))
}

/// Whether the record can be written to Exchange: an appointment needs its start and
/// end (EWS cannot clear them).
fn writable(kind: Kind, r: &Record) -> bool {
    kind != Kind::Appointment
        || ["scheduledstart", "scheduledend"].iter().all(|c| {
            r.values
                .get(*c)
                .and_then(|t| crate::time::Timestamp::parse(t))
                .is_some()
        })
}

/// An appointment Completed (1) or Canceled (2).
fn closed(values: &Values) -> bool {
    matches!(int(values, "statecode"), Some(1 | 2))
}

/// Whether a time (RFC 3339) is after `now`; an unknown time is not.
fn future(at: Option<&String>, now: crate::Timestamp) -> bool {
    at.and_then(|t| crate::time::Timestamp::parse(t))
        .is_some_and(|p| p.at > now)
}

/// The record of a meeting the user takes part in, unless already linked: by its UID,
/// or by the marker another mailbox of this organization wrote on it (a copy that
/// arrived before the organizer's mailbox recorded the UID).
fn meeting_of<'r>(
    item: &Item,
    here: Here<'_>,
    meetings: &HashMap<String, &'r Record>,
    linked: &HashSet<&str>,
) -> Option<&'r str> {
    let by_uid = item
        .props
        .get("UID")
        .and_then(|u| meetings.get(&u.trim().to_ascii_lowercase()));
    let by_marker = || {
        let m = item.marker.as_deref().and_then(parse_marker)?;
        if !m.org.eq_ignore_ascii_case(here.org) {
            return None;
        }
        meetings.get(&format!("id:{}", m.record)).filter(|r| {
            r.values
                .get("globalobjectid")
                .is_none_or(|u| u.trim().is_empty())
        })
    };
    let r = by_uid.or_else(by_marker)?;
    (!linked.contains(r.id.as_str())).then_some(r.id.as_str())
}

/// The columns each kind's records are read with.
pub fn columns(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Appointment => &[
            "subject",
            "description",
            "scheduledstart",
            "scheduledend",
            "location",
            "isalldayevent",
            "prioritycode",
            "statecode",
            "statuscode",
            "globalobjectid",
        ],
        Kind::Contact => &[
            "firstname",
            "middlename",
            "lastname",
            "fullname",
            "emailaddress1",
            "emailaddress2",
            "emailaddress3",
            "jobtitle",
            "telephone1",
            "mobilephone",
            "statecode",
        ],
        Kind::Task => &[
            "subject",
            "description",
            "scheduledstart",
            "scheduledend",
            "percentcomplete",
            "prioritycode",
            "statecode",
            "statuscode",
        ],
    }
}

/// Contact columns and the EWS properties they are (both ways); FileAs is written
/// from the full name and never read back.
const CONTACT_MAP: &[(&str, &str)] = &[
    ("firstname", "GivenName"),
    ("middlename", "MiddleName"),
    ("lastname", "Surname"),
    ("emailaddress1", "EmailAddress1"),
    ("emailaddress2", "EmailAddress2"),
    ("emailaddress3", "EmailAddress3"),
    ("jobtitle", "JobTitle"),
    ("telephone1", "BusinessPhone"),
    ("mobilephone", "MobilePhone"),
];

/// Appointment columns and properties (both ways; the party lists as addresses joined
/// by `;`, which the server reads from and writes to `activityparty`). "Appointment
/// Time", Body, Importance, Location, Optional and Required Attendees, Organizer, Show
/// Time As and Subject are the fields Microsoft lists as synchronized.
const APPOINTMENT_MAP: &[(&str, &str)] = &[
    ("subject", "Subject"),
    ("description", "Body"),
    ("scheduledstart", "Start"),
    ("scheduledend", "End"),
    ("location", "Location"),
    ("globalobjectid", "UID"),
    ("requiredattendees", "RequiredAttendees"),
    ("optionalattendees", "OptionalAttendees"),
];

const TASK_MAP: &[(&str, &str)] = &[
    ("subject", "Subject"),
    ("description", "Body"),
    ("scheduledstart", "StartDate"),
    // "The task scheduled end date in Dynamics 365 syncs to Exchange as the task due date."
    ("scheduledend", "DueDate"),
    ("percentcomplete", "PercentComplete"),
];

fn copy(from: &Values, map: &[(&str, &str)], reverse: bool, to: &mut Values) {
    for (column, prop) in map {
        let (src, dst) = if reverse {
            (*prop, *column)
        } else {
            (*column, *prop)
        };
        if let Some(v) = from.get(src).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            to.insert(dst.to_string(), v.to_string());
        }
    }
}

/// A record's values as the Exchange item's properties. A property absent from the
/// result is cleared in Exchange.
pub fn to_exchange(kind: Kind, record: &Values) -> Values {
    let mut props = Values::new();
    match kind {
        Kind::Appointment => {
            copy(record, APPOINTMENT_MAP, false, &mut props);
            dates(&mut props, &["Start", "End"]);
            let all_day = int(record, "isalldayevent").unwrap_or(0) == 1;
            props.insert("IsAllDayEvent".into(), all_day.to_string());
            // "If the appointment status in Dynamics 365 is Completed, Canceled, or Free
            // (Open), the appointment status syncs to Exchange as Free."
            let state = int(record, "statecode").unwrap_or(3);
            let status = int(record, "statuscode").unwrap_or(5);
            let busy = match (state, status) {
                (1 | 2, _) | (_, 1) => "Free",
                (_, 2) => "Tentative",
                (_, 6) => "OOF",
                _ => "Busy",
            };
            props.insert("LegacyFreeBusyStatus".into(), busy.into());
            props.insert("Importance".into(), importance(record).into());
        }
        Kind::Contact => {
            copy(record, CONTACT_MAP, false, &mut props);
            if let Some(full) = record.get("fullname").filter(|f| !f.trim().is_empty()) {
                props.insert("FileAs".into(), full.trim().to_string());
            }
        }
        Kind::Task => {
            copy(record, TASK_MAP, false, &mut props);
            dates(&mut props, &["StartDate", "DueDate"]);
            let state = int(record, "statecode").unwrap_or(0);
            let status = int(record, "statuscode").unwrap_or(2);
            // "a Completed or Canceled task syncs to Exchange as Completed".
            let s = match (state, status) {
                (1 | 2, _) => "Completed",
                (_, 3) => "InProgress",
                (_, 4) => "WaitingOnOthers",
                (_, 7) => "Deferred",
                _ => "NotStarted",
            };
            props.insert("Status".into(), s.into());
            if s == "Completed" {
                props.insert("PercentComplete".into(), "100".into());
            }
            props.insert("Importance".into(), importance(record).into());
        }
    }
    props
}

/// Dates as RFC 3339 UTC, both ways: a record's columns, and an item's properties as
/// EWS's `xs:dateTime` wants them. One that is not a date is left out (cleared on the
/// record; rather than refused by Exchange with the whole request).
fn dates(props: &mut Values, names: &[&str]) {
    for name in names {
        if let Some(v) = props.get_mut(*name) {
            match crate::time::Timestamp::parse(v) {
                Some(p) => *v = p.at.to_rfc3339(),
                None => {
                    props.remove(*name);
                }
            }
        }
    }
}

/// A record's `prioritycode` as the item's Importance.
fn importance(record: &Values) -> &'static str {
    match int(record, "prioritycode") {
        Some(0) => "Low",
        Some(2) => "High",
        _ => "Normal",
    }
}

/// An item's Importance as `prioritycode`.
fn priority(props: &Values) -> i64 {
    match props.get("Importance").map(|s| s.trim()) {
        Some("Low") => 0,
        Some("High") => 2,
        _ => 1,
    }
}

/// A party list as the values hold it: addresses trimmed, lowercased, each once, in
/// the order given, joined by `;`.
pub fn addresses(list: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    for a in list.split(';').map(|a| a.trim().to_ascii_lowercase()) {
        if !a.is_empty() && !seen.contains(&a) {
            seen.push(a);
        }
    }
    seen.join(";")
}

/// An Exchange item's properties as the record's column values (statecode and
/// statuscode as numbers). Only the columns synchronized are present; an absent one is
/// cleared on the record.
pub fn to_record(kind: Kind, props: &Values) -> Values {
    let mut values = Values::new();
    match kind {
        Kind::Appointment => {
            copy(props, APPOINTMENT_MAP, true, &mut values);
            dates(&mut values, &["scheduledstart", "scheduledend"]);
            for list in ["requiredattendees", "optionalattendees"] {
                if let Some(v) = values.get_mut(list) {
                    *v = addresses(v);
                }
            }
            if let Some(o) = props.get("Organizer").map(|o| addresses(o)) {
                values.insert("organizer".into(), o);
            }
            let all_day = props
                .get("IsAllDayEvent")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            values.insert("isalldayevent".into(), u8::from(all_day).to_string());
            values.insert("prioritycode".into(), priority(props).to_string());
            // "If the appointment state in Exchange is Free, the appointment state syncs
            // to Dynamics 365 as Free"; Working elsewhere: Open, Free. Busy and Out of
            // Office are Scheduled (Busy / Out of Office), Tentative Open.
            let (state, status) = match props.get("LegacyFreeBusyStatus").map(|s| s.trim()) {
                Some("Free" | "WorkingElsewhere") => (0, 1),
                Some("Tentative") => (0, 2),
                Some("OOF") => (3, 6),
                _ => (3, 5),
            };
            values.insert("statecode".into(), state.to_string());
            values.insert("statuscode".into(), status.to_string());
        }
        Kind::Contact => copy(props, CONTACT_MAP, true, &mut values),
        Kind::Task => {
            copy(props, TASK_MAP, true, &mut values);
            dates(&mut values, &["scheduledstart", "scheduledend"]);
            let percent = props
                .get("PercentComplete")
                .and_then(|p| p.trim().parse::<f64>().ok());
            if let Some(pc) = percent {
                values.insert("percentcomplete".into(), format!("{}", pc.round() as i64));
            }
            // "Tasks that are set as 100% complete sync to Dynamics 365 as Completed";
            // "Tasks that haven't been started in Exchange sync ... as Not Started."
            let status = props.get("Status").map(|s| s.trim()).unwrap_or("");
            let (state, reason) = if status == "Completed" || percent.is_some_and(|p| p >= 100.0) {
                (1, 5)
            } else {
                match status {
                    "InProgress" => (0, 3),
                    "WaitingOnOthers" => (0, 4),
                    "Deferred" => (0, 7),
                    _ => (0, 2),
                }
            };
            values.insert("statecode".into(), state.to_string());
            values.insert("statuscode".into(), reason.to_string());
            values.insert("prioritycode".into(), priority(props).to_string());
        }
    }
    values
}

/// The columns an item from Exchange writes (an absent value clears the column), and
/// whether each holds a number.
pub fn columns_from_exchange(kind: Kind) -> Vec<(&'static str, bool)> {
    let numeric = |c: &str| {
        matches!(
            c,
            "statecode" | "statuscode" | "prioritycode" | "percentcomplete" | "isalldayevent"
        )
    };
    let mut columns: Vec<&'static str> = match kind {
        // The party lists are not columns: the server writes them as parties.
        Kind::Appointment => APPOINTMENT_MAP
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| !c.ends_with("attendees"))
            .collect(),
        Kind::Contact => CONTACT_MAP.iter().map(|(c, _)| *c).collect(),
        Kind::Task => TASK_MAP.iter().map(|(c, _)| *c).collect(),
    };
    match kind {
        Kind::Appointment => {
            columns.extend(["isalldayevent", "statecode", "statuscode", "prioritycode"])
        }
        Kind::Task => columns.extend(["statecode", "statuscode", "prioritycode"]),
        Kind::Contact => {}
    }
    columns.into_iter().map(|c| (c, numeric(c))).collect()
}

/// A contact's `fullname` as Dataverse computes it ("Full Name Format: First Last";
/// the middle name only when given), `None` when it has no name at all.
pub fn full_name(first: Option<&str>, middle: Option<&str>, last: Option<&str>) -> Option<String> {
    let full = [first, middle, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!full.is_empty()).then_some(full)
}

/// Whether an item is Completed in Exchange (a task's Status).
pub fn completed_in_exchange(kind: Kind, props: &Values) -> bool {
    kind == Kind::Task && props.get("Status").is_some_and(|s| s.trim() == "Completed")
}

/// Whether the user's default synchronization filter selects a record of theirs:
/// contacts "My Outlook Contacts" (owned and Active), tasks owned, appointments "where
/// you are a party on the appointment but are not just the owner" (the value
/// `partyids`: the parties that are users, joined by `;`).
pub fn selected(kind: Kind, user: &str, owner: Option<&str>, values: &Values) -> bool {
    match kind {
        Kind::Appointment => values.get("partyids").is_some_and(|ids| {
            ids.split(';')
                .any(|id| id.trim().eq_ignore_ascii_case(user))
        }),
        Kind::Contact => owner == Some(user) && int(values, "statecode").unwrap_or(0) == 0,
        Kind::Task => owner == Some(user),
    }
}

fn int(values: &Values, column: &str) -> Option<i64> {
    values.get(column).and_then(|v| v.trim().parse().ok())
}

/// The organization a mailbox's appointments, contacts and tasks synchronize with, as
/// the Exchange mailbox records it (Dynamics 365 stores "the organization ID (OrgID)
/// for the synchronizing organization ... in Exchange").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Primary {
    /// No organization is recorded: this one writes its ID.
    Unclaimed,
    /// This organization.
    Ours,
    /// Another organization.
    Other(String),
}

/// What to do about the primary organization: `Ok(true)` to write ours (unclaimed, or
/// the mailbox's "Synchronize items with Exchange from this organization only" with a
/// Test & Enable overwriting another's), `Ok(false)` nothing, `Err(other)` when another
/// organization keeps it (the mailbox gets the documented alert, no ACT sync).
pub fn claim(primary: &Primary, marked_primary: bool, testing: bool) -> Result<bool, String> {
    match primary {
        Primary::Ours => Ok(false),
        Primary::Unclaimed => Ok(true),
        Primary::Other(_) if marked_primary && testing => Ok(true),
        Primary::Other(id) => Err(id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "me";
    /// 2027-01-15T08:00:00Z.
    const NOW: crate::Timestamp = crate::Timestamp(1_800_000_000);
    const HERE: Here<'static> = Here {
        org: "org-a",
        mailbox: "mb-1",
        now: NOW,
    };
    const THEM: &str = "them";

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn item(id: &str, key: &str, tracked: bool, props: &[(&str, &str)]) -> Item {
        Item {
            id: id.into(),
            change_key: key.into(),
            props: values(props),
            categories: if tracked {
                vec![TRACKED_CATEGORY.into()]
            } else {
                vec!["Blue".into()]
            },
            marker: None,
        }
    }

    fn record(id: &str, version: i64, owner: &str, vals: &[(&str, &str)]) -> Record {
        let values = values(vals);
        Record {
            id: id.into(),
            version,
            owner: Some(owner.into()),
            selected: selected(Kind::Contact, ME, Some(owner), &values),
            values,
        }
    }

    fn link(item: &str, key: &str, record: &str, version: i64, owner: &str) -> Link {
        Link {
            exchange_id: item.into(),
            change_key: key.into(),
            record_id: record.into(),
            version,
            owner: Some(owner.into()),
            completed_in_exchange: false,
            tracked: false,
            end: None,
        }
    }

    /// The plan of one of the user's folders, default settings.
    fn plan_of(kind: Kind, links: &[Link], changes: &[Change], records: &[Record]) -> Vec<Action> {
        plan(
            kind,
            HERE,
            ME,
            Settings::default(),
            links,
            changes,
            records,
            100,
        )
    }

    fn plan_c(links: &[Link], changes: &[Change], records: &[Record]) -> Vec<Action> {
        plan_of(Kind::Contact, links, changes, records)
    }

    #[test]
    fn only_tracked_or_linked_items_come_in() {
        let changes = [
            Change::Upsert(item("i1", "k1", true, &[("Surname", "Tracked")])),
            Change::Upsert(item("i2", "k1", false, &[("Surname", "Private")])),
        ];
        let actions = plan_c(&[], &changes, &[]);
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert!(matches!(&actions[0], Action::CreateRecord { values, .. }
            if values.get("lastname").map(String::as_str) == Some("Tracked")));
        // Linked but untracked: its changes come in.
        let l = link("i2", "k0", "r2", 1, ME);
        let r = record("r2", 1, ME, &[("lastname", "Private")]);
        let actions = plan_c(&[l], &changes[1..], &[r]);
        assert!(
            matches!(&actions[..], [Action::UpdateRecord { record_id, .. }] if record_id == "r2")
        );
    }

    #[test]
    fn the_engines_own_write_coming_back_is_not_a_change() {
        let l = link("i1", "k5", "r1", 3, ME);
        let r = record("r1", 3, ME, &[("lastname", "Same")]);
        let changes = [Change::Upsert(item(
            "i1",
            "k5",
            true,
            &[("Surname", "Same")],
        ))];
        assert!(plan_c(&[l], &changes, &[r]).is_empty());
    }

    #[test]
    fn selected_records_go_to_exchange_and_changes_follow() {
        let new = record("r1", 1, ME, &[("lastname", "New"), ("fullname", "Ann New")]);
        let changed = record("r2", 4, ME, &[("lastname", "Changed")]);
        let same = record("r3", 2, ME, &[("lastname", "Same")]);
        let links = [link("i2", "k", "r2", 3, ME), link("i3", "k", "r3", 2, ME)];
        let actions = plan_c(&links, &[], &[new, changed, same]);
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert!(actions
            .iter()
            .any(|a| matches!(a, Action::CreateItem { record_id, props }
            if record_id == "r1" && props.get("FileAs").map(String::as_str) == Some("Ann New"))));
        assert!(actions
            .iter()
            .any(|a| matches!(a, Action::UpdateItem { record_id, .. } if record_id == "r2")));
    }

    #[test]
    fn when_both_changed_the_organizations_version_wins() {
        let l = link("i1", "k1", "r1", 1, ME);
        let r = record("r1", 2, ME, &[("lastname", "Ours")]);
        let changes = [Change::Upsert(item(
            "i1",
            "k2",
            false,
            &[("Surname", "Theirs")],
        ))];
        let actions = plan_c(&[l], &changes, &[r]);
        assert!(
            matches!(&actions[..], [Action::UpdateItem { change_key, props, .. }]
                if change_key == "k2" && props.get("Surname").map(String::as_str) == Some("Ours")),
            "{actions:?}"
        );
    }

    #[test]
    fn contacts_deleted_in_exchange_are_deleted_only_when_the_user_owns_them() {
        let mine = record("r1", 1, ME, &[]);
        let mut theirs = record("r2", 1, THEM, &[]);
        theirs.selected = false;
        let links = [link("i1", "k", "r1", 1, ME), link("i2", "k", "r2", 1, THEM)];
        let changes = [Change::Delete("i1".into()), Change::Delete("i2".into())];
        let actions = plan_c(&links, &changes, &[mine, theirs]);
        assert_eq!(
            actions,
            vec![
                Action::DeleteRecord {
                    record_id: "r1".into(),
                    exchange_id: "i1".into()
                },
                Action::Unlink {
                    exchange_id: "i2".into()
                }
            ]
        );
    }

    #[test]
    fn contacts_leave_exchange_only_when_the_user_is_not_their_owner() {
        // Reassigned to someone else (Microsoft's Paul and Laura): deleted in Paul's.
        let mut reassigned = record("r1", 2, THEM, &[]);
        reassigned.selected = false;
        // Deleted in Dynamics 365 while the user owned it: unlinked, kept in Exchange.
        let links = [link("i1", "k", "r1", 1, ME), link("i2", "k", "gone", 1, ME)];
        let actions = plan_c(&links, &[], &[reassigned]);
        assert_eq!(
            actions,
            vec![
                Action::DeleteItem {
                    record_id: "r1".into(),
                    exchange_id: "i1".into()
                },
                Action::Unlink {
                    exchange_id: "i2".into()
                }
            ]
        );
        // With distinct logical deletes, no longer selected is an unlink.
        let s = Settings {
            distinct_logical_deletes: true,
            ..Settings::default()
        };
        let mut reassigned = record("r1", 2, THEM, &[]);
        reassigned.selected = false;
        let actions = plan(
            Kind::Contact,
            HERE,
            ME,
            s,
            &links[..1],
            &[],
            &[reassigned],
            10,
        );
        assert_eq!(
            actions,
            vec![Action::Unlink {
                exchange_id: "i1".into()
            }]
        );
    }

    #[test]
    fn tasks_follow_their_deletion_rules() {
        let mut done = link("i1", "k", "t1", 1, ME);
        done.completed_in_exchange = true;
        let open = link("i2", "k", "t2", 1, ME);
        // Deleted in Dynamics 365: deleted in Exchange unless Completed there.
        let actions = plan(
            Kind::Task,
            HERE,
            ME,
            Settings::default(),
            &[done, open.clone()],
            &[],
            &[],
            10,
        );
        assert_eq!(
            actions,
            vec![
                Action::Unlink {
                    exchange_id: "i1".into()
                },
                Action::DeleteItem {
                    record_id: "t2".into(),
                    exchange_id: "i2".into()
                }
            ]
        );
        // Deleted in Exchange: deleted in Dynamics 365, unless the setting keeps them.
        let task = Record {
            id: "t2".into(),
            version: 1,
            owner: Some(ME.into()),
            values: Values::new(),
            selected: true,
        };
        let gone = [Change::Delete("i2".into())];
        let actions = plan(
            Kind::Task,
            HERE,
            ME,
            Settings::default(),
            std::slice::from_ref(&open),
            &gone,
            std::slice::from_ref(&task),
            10,
        );
        assert!(matches!(&actions[..], [Action::DeleteRecord { .. }]));
        let keep = Settings::from_org(Some(
            "<OrgSettings><SSSTaskDeletionSyncBehaviorFromExchange>false</SSSTaskDeletionSyncBehaviorFromExchange></OrgSettings>",
        ));
        let actions = plan(Kind::Task, HERE, ME, keep, &[open], &gone, &[task], 10);
        assert!(matches!(&actions[..], [Action::Unlink { .. }]));
    }

    #[test]
    fn task_states_map_as_microsoft_documents() {
        let r = values(&[("statecode", "2"), ("statuscode", "6"), ("subject", "Call")]);
        let p = to_exchange(Kind::Task, &r);
        assert_eq!(p.get("Status").map(String::as_str), Some("Completed"));
        assert_eq!(p.get("Subject").map(String::as_str), Some("Call"));
        let v = to_record(
            Kind::Task,
            &values(&[("PercentComplete", "100"), ("Status", "InProgress")]),
        );
        assert_eq!(
            (v["statecode"].as_str(), v["statuscode"].as_str()),
            ("1", "5")
        );
        let v = to_record(
            Kind::Task,
            &values(&[("Status", "NotStarted"), ("Importance", "High")]),
        );
        assert_eq!(
            (
                v["statecode"].as_str(),
                v["statuscode"].as_str(),
                v["prioritycode"].as_str()
            ),
            ("0", "2", "2")
        );
        // Round trip of a contact.
        let c = values(&[
            ("firstname", "Ann"),
            ("lastname", "Lee"),
            ("emailaddress1", "ann@x.test"),
        ]);
        let back = to_record(Kind::Contact, &to_exchange(Kind::Contact, &c));
        assert_eq!(back, c);
    }

    #[test]
    fn items_linked_elsewhere_ask_and_items_unlinked_here_stay_out() {
        let mut elsewhere = item("i1", "k", false, &[("Surname", "Elsewhere")]);
        elsewhere.marker = Some(marker(
            Here {
                org: "org-b",
                mailbox: "mb-9",
                now: NOW,
            },
            "r9",
        ));
        let mut other_mailbox = item("i2", "k", true, &[("Surname", "Other mailbox")]);
        other_mailbox.marker = Some(marker(
            Here {
                org: "ORG-A",
                mailbox: "mb-2",
                now: NOW,
            },
            "r2",
        ));
        let mut unlinked_here = item("i3", "k", true, &[("Surname", "Unlinked here")]);
        unlinked_here.marker = Some(marker(HERE, "r3"));
        let changes: Vec<Change> = [elsewhere, other_mailbox, unlinked_here]
            .into_iter()
            .map(Change::Upsert)
            .collect();
        let actions = plan_c(&[], &changes, &[]);
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert!(actions
            .iter()
            .all(|a| matches!(a, Action::AskPreviouslyLinked { .. })));
        let m = parse_marker(&marker(HERE, "R1")).unwrap();
        assert_eq!(m.record, "r1");
        assert!(m.is_here(HERE));
        assert_eq!(parse_marker("v2;org=a;mailbox=b;record=c"), None);
        assert_eq!(parse_marker("v1;org=a"), None);
    }

    #[test]
    fn the_primary_organization_is_claimed_once_and_overwritten_only_on_purpose() {
        assert_eq!(claim(&Primary::Unclaimed, false, false), Ok(true));
        assert_eq!(claim(&Primary::Ours, true, true), Ok(false));
        let other = Primary::Other("x".into());
        assert_eq!(claim(&other, false, true), Err("x".into()));
        assert_eq!(claim(&other, true, false), Err("x".into()));
        assert_eq!(claim(&other, true, true), Ok(true));
    }

    fn meeting(id: &str, organizer: &str, parties: &[&str], vals: &[(&str, &str)]) -> Record {
        let mut values = values(vals);
        values.insert("organizerid".into(), organizer.into());
        values.insert("partyids".into(), parties.join(";"));
        Record {
            id: id.into(),
            version: 1,
            owner: Some(organizer.into()),
            selected: selected(Kind::Appointment, ME, Some(organizer), &values),
            values,
        }
    }

    fn meeting_plan(links: &[Link], changes: &[Change], records: &[Record]) -> Vec<Action> {
        plan_of(Kind::Appointment, links, changes, records)
    }

    const FUTURE: (&str, &str) = ("scheduledend", "2027-02-01T10:00:00Z");
    const PAST: (&str, &str) = ("scheduledend", "2026-12-01T10:00:00Z");

    #[test]
    fn appointments_go_to_exchange_from_their_organizer_and_link_by_uid_elsewhere() {
        let mine = meeting(
            "a1",
            ME,
            &[ME, THEM],
            &[
                ("subject", "Review"),
                ("scheduledstart", "2027-02-01T09:00:00Z"),
                FUTURE,
            ],
        );
        let theirs = meeting(
            "a2",
            THEM,
            &[THEM, ME],
            &[
                ("subject", "Their meeting"),
                ("globalobjectid", "UID-2"),
                FUTURE,
            ],
        );
        let not_mine = meeting("a3", THEM, &[THEM], &[("subject", "Not mine")]);
        assert!(mine.selected && theirs.selected && !not_mine.selected);
        // The attendee's copy of their meeting arrives with the organizer's marker.
        let mut copy = item(
            "i2",
            "k",
            false,
            &[("UID", "uid-2"), ("Subject", "Their meeting")],
        );
        copy.marker = Some(marker(
            Here {
                org: "org-a",
                mailbox: "mb-them",
                now: NOW,
            },
            "a2",
        ));
        let actions = meeting_plan(
            &[],
            &[Change::Upsert(copy.clone())],
            &[mine, theirs, not_mine],
        );
        assert_eq!(
            actions,
            vec![
                Action::LinkRecord {
                    item: copy,
                    record_id: "a2".into()
                },
                Action::CreateItem {
                    record_id: "a1".into(),
                    props: values(&[
                        ("End", "2027-02-01T10:00:00Z"),
                        ("Importance", "Normal"),
                        ("IsAllDayEvent", "false"),
                        ("LegacyFreeBusyStatus", "Busy"),
                        ("Start", "2027-02-01T09:00:00Z"),
                        ("Subject", "Review"),
                    ]),
                },
            ]
        );
    }

    #[test]
    fn appointment_changes_come_from_the_organizer_and_not_once_closed() {
        let link = |id: &str, record: &str| Link {
            exchange_id: id.into(),
            change_key: "k0".into(),
            record_id: record.into(),
            version: 1,
            owner: Some(ME.into()),
            ..Link::default()
        };
        let mine = meeting("a1", ME, &[ME], &[FUTURE]);
        let closed = meeting("a2", ME, &[ME], &[FUTURE, ("statecode", "1")]);
        let theirs = meeting("a3", THEM, &[THEM, ME], &[FUTURE]);
        let changed = |id: &str| Change::Upsert(item(id, "k1", false, &[("Subject", "Moved")]));
        let actions = meeting_plan(
            &[link("i1", "a1"), link("i2", "a2"), link("i3", "a3")],
            &[changed("i1"), changed("i2"), changed("i3")],
            &[mine, closed, theirs],
        );
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert!(matches!(&actions[0], Action::UpdateRecord { record_id, .. } if record_id == "a1"));
    }

    #[test]
    fn appointments_are_deleted_only_when_organized_by_the_user_and_in_the_future() {
        let link = |id: &str, record: &str, end: &str| Link {
            exchange_id: id.into(),
            change_key: "k0".into(),
            record_id: record.into(),
            version: 1,
            owner: Some(ME.into()),
            end: Some(end.into()),
            ..Link::default()
        };
        // Deleted in Exchange.
        let records = [
            meeting("a1", ME, &[ME], &[FUTURE]),
            meeting("a2", ME, &[ME], &[PAST]),
            meeting("a3", THEM, &[THEM, ME], &[FUTURE]),
            meeting("a4", ME, &[ME], &[FUTURE, ("statecode", "2")]),
        ];
        let links = [
            link("i1", "a1", FUTURE.1),
            link("i2", "a2", PAST.1),
            link("i3", "a3", FUTURE.1),
            link("i4", "a4", FUTURE.1),
        ];
        let deleted: Vec<Change> = ["i1", "i2", "i3", "i4"]
            .iter()
            .map(|i| Change::Delete(i.to_string()))
            .collect();
        let actions = meeting_plan(&links, &deleted, &records);
        assert_eq!(
            actions,
            vec![
                Action::DeleteRecord {
                    record_id: "a1".into(),
                    exchange_id: "i1".into()
                },
                Action::Unlink {
                    exchange_id: "i2".into()
                },
                Action::Unlink {
                    exchange_id: "i3".into()
                },
                Action::Unlink {
                    exchange_id: "i4".into()
                },
            ]
        );
        // Deleted in Dynamics 365 (gone), or no longer a party (a logical delete).
        let dropped = meeting("a3", THEM, &[THEM], &[FUTURE]);
        let actions = meeting_plan(
            &[
                link("i1", "a1", FUTURE.1),
                link("i2", "a2", PAST.1),
                link("i3", "a3", FUTURE.1),
            ],
            &[],
            &[dropped],
        );
        assert_eq!(
            actions,
            vec![
                Action::DeleteItem {
                    record_id: "a1".into(),
                    exchange_id: "i1".into()
                },
                Action::Unlink {
                    exchange_id: "i2".into()
                },
                Action::Unlink {
                    exchange_id: "i3".into()
                },
            ]
        );
    }

    #[test]
    fn meetings_from_exchange_become_appointments_with_their_parties() {
        let props = values(&[
            ("Subject", "Kickoff"),
            ("Start", "2027-02-01T09:00:00Z"),
            ("End", "2027-02-01T10:00:00Z"),
            ("IsAllDayEvent", "false"),
            ("LegacyFreeBusyStatus", "Tentative"),
            ("Importance", "High"),
            ("UID", "U1"),
            ("Organizer", "Boss@Contoso.test"),
            (
                "RequiredAttendees",
                "a@contoso.test; B@contoso.test;a@contoso.test",
            ),
        ]);
        let values = to_record(Kind::Appointment, &props);
        assert_eq!(
            values.get("organizer").map(String::as_str),
            Some("boss@contoso.test")
        );
        assert_eq!(
            values.get("requiredattendees").map(String::as_str),
            Some("a@contoso.test;b@contoso.test")
        );
        assert_eq!(
            values.get("scheduledstart").map(String::as_str),
            Some("2027-02-01T09:00:00Z")
        );
        assert_eq!(
            (values["statecode"].as_str(), values["statuscode"].as_str()),
            ("0", "2")
        );
        assert_eq!(values["prioritycode"], "2");
        assert_eq!(values["globalobjectid"], "U1");
        let back = to_exchange(Kind::Appointment, &values);
        assert_eq!(
            back.get("LegacyFreeBusyStatus").map(String::as_str),
            Some("Tentative")
        );
        assert_eq!(back.get("Organizer"), None, "Exchange sets the organizer");
        let written: Vec<&str> = columns_from_exchange(Kind::Appointment)
            .iter()
            .map(|(c, _)| *c)
            .collect();
        assert!(written.contains(&"globalobjectid") && !written.contains(&"requiredattendees"));
    }

    #[test]
    fn meetings_sent_once_are_not_sent_again_and_copies_link_by_marker() {
        let start = ("scheduledstart", "2027-02-01T09:00:00Z");
        // In Exchange once (it has a UID), unlinked since: not created again.
        let sent = meeting("a1", ME, &[ME], &[start, FUTURE, ("globalobjectid", "U1")]);
        // No start: cannot be written to Exchange.
        let undated = meeting("a2", ME, &[ME], &[FUTURE]);
        // B's meeting, its UID not recorded yet; B's copy carries B's marker.
        let theirs = meeting("a3", THEM, &[THEM, ME], &[start, FUTURE]);
        let mut copy = item("i3", "k", false, &[("UID", "U3")]);
        copy.marker = Some(marker(
            Here {
                org: "ORG-A",
                mailbox: "mb-them",
                now: NOW,
            },
            "A3",
        ));
        let actions = meeting_plan(
            &[],
            &[Change::Upsert(copy.clone())],
            &[sent, undated, theirs],
        );
        assert_eq!(
            actions,
            vec![Action::LinkRecord {
                item: copy,
                record_id: "a3".into()
            }]
        );
        // Dates go to Exchange as RFC 3339; one that is not a date is left out.
        let props = to_exchange(
            Kind::Appointment,
            &values(&[
                ("scheduledstart", "2027-02-01 09:00:00"),
                ("scheduledend", "soon"),
            ]),
        );
        assert_eq!(
            props.get("Start").map(String::as_str),
            Some("2027-02-01T09:00:00Z")
        );
        assert_eq!(props.get("End"), None);
    }
}
