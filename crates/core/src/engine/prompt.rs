//! The alerts that ask for action: synchronizing appointments, contacts and tasks
//! finds something only the user can decide, says so on the mailbox's wall, and waits.
//! The user answers with one of the product's bound actions on the alert
//! (`tracelogs(<id>)/Microsoft.Dynamics.CRM.mailsync_<Decision>`); the engine carries
//! the decision out in the mailbox's next cycle, deletes the alert (alerts are never
//! updated) and writes an Information alert saying what was done.
//!
//! Texts and error names are Microsoft's where it documents them: KB 4053811 ("One or
//! more duplicate records were found ... Do you want to continue and create a duplicate
//! record anyway?", `ExchangeSyncDuplicateRecordsError`), KB 4340070 ("A scheduling
//! conflict was found when saving appointment ...", `ExchangeSyncSchedulingConflictsError`).
//! Microsoft's alert offers Yes / No; "link to an existing record" is this product's.
//! The "previously linked items" alert has no public text; its words here are ours.

use super::act::{Kind, Values};

/// The Information alert that says what was done with a decision.
pub const OUTCOME_TRACECODE: i64 = 70;

/// What the alert asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Saving an item from Exchange found records that match it.
    Duplicates,
    /// An appointment from Exchange conflicts with an attendee's existing appointment.
    SchedulingConflict,
    /// The item was tracked by another mailbox or organization.
    PreviouslyLinked,
}

impl Prompt {
    pub const ALL: [Prompt; 3] = [
        Prompt::Duplicates,
        Prompt::SchedulingConflict,
        Prompt::PreviouslyLinked,
    ];

    /// Stored in the engine's table.
    pub fn code(self) -> i64 {
        match self {
            Prompt::Duplicates => 1,
            Prompt::SchedulingConflict => 2,
            Prompt::PreviouslyLinked => 3,
        }
    }

    pub fn from_code(code: i64) -> Option<Prompt> {
        Prompt::ALL.into_iter().find(|p| p.code() == code)
    }

    /// `errortypedisplay` of the alert.
    pub fn error_type(self) -> &'static str {
        match self {
            Prompt::Duplicates => "ExchangeSyncDuplicateRecordsError",
            Prompt::SchedulingConflict => "ExchangeSyncSchedulingConflictsError",
            Prompt::PreviouslyLinked => "ExchangeSyncPreviouslyLinkedItemsError",
        }
    }

    /// `tracecode` of the alert: the engine's next free codes (see `failure::codes`).
    pub fn tracecode(self) -> i64 {
        match self {
            Prompt::Duplicates => 67,
            Prompt::SchedulingConflict => 68,
            Prompt::PreviouslyLinked => 69,
        }
    }

    /// The prompt an alert is, from its error type.
    pub fn of_alert(error_type: &str) -> Option<Prompt> {
        Prompt::ALL
            .into_iter()
            .find(|p| p.error_type() == error_type)
    }

    /// The decisions the alert offers, in the order the console shows them.
    pub fn decisions(self) -> &'static [Decision] {
        match self {
            Prompt::Duplicates => &[
                Decision::CreateAnyway,
                Decision::LinkToRecord,
                Decision::Skip,
            ],
            Prompt::SchedulingConflict => &[Decision::SaveAnyway, Decision::Skip],
            Prompt::PreviouslyLinked => &[Decision::Relink, Decision::Ignore],
        }
    }

    /// The alert's text.
    pub fn text(self, kind: Kind, item: &str, mailbox: &str) -> String {
        match self {
            Prompt::Duplicates => format!(
                "One or more duplicate records were found in Microsoft Dynamics 365 when saving item \"{item}\" from Exchange to Microsoft Dynamics 365. Do you want to continue and create a duplicate record anyway?"
            ),
            Prompt::SchedulingConflict => format!(
                "A scheduling conflict was found when saving appointment {item} from Exchange to Microsoft Dynamics 365 because {mailbox} is unavailable at this time. Do you want to ignore the conflict and save anyway?"
            ),
            Prompt::PreviouslyLinked => format!(
                "Previously linked items were found for the mailbox {mailbox}: the {} \"{item}\" in Exchange was linked to a record by another mailbox or organization. Do you want to link it to this organization again?",
                kind.noun()
            ),
        }
    }
}

/// A user's answer to a prompt: each is a bound action on the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Duplicates: create the record anyway (Microsoft's "Yes").
    CreateAnyway,
    /// Duplicates: link the item to one of the duplicates (parameter `RecordId`).
    LinkToRecord,
    /// Duplicates, scheduling conflict: do not save it (Microsoft's "No").
    Skip,
    /// Scheduling conflict: save it anyway (Microsoft's "Yes").
    SaveAnyway,
    /// Previously linked: link it to this organization.
    Relink,
    /// Previously linked: leave it unlinked.
    Ignore,
}

impl Decision {
    pub const ALL: [Decision; 6] = [
        Decision::CreateAnyway,
        Decision::LinkToRecord,
        Decision::Skip,
        Decision::SaveAnyway,
        Decision::Relink,
        Decision::Ignore,
    ];

    /// The bound action's name (`Microsoft.Dynamics.CRM.<name>` on a tracelog).
    pub fn action(self) -> &'static str {
        match self {
            Decision::CreateAnyway => "mailsync_CreateAnyway",
            Decision::LinkToRecord => "mailsync_LinkToRecord",
            Decision::Skip => "mailsync_Skip",
            Decision::SaveAnyway => "mailsync_SaveAnyway",
            Decision::Relink => "mailsync_Relink",
            Decision::Ignore => "mailsync_Ignore",
        }
    }

    pub fn from_action(name: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.action() == name)
    }

    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            Decision::CreateAnyway => "Create anyway",
            Decision::LinkToRecord => "Link to this record",
            Decision::Skip => "Skip",
            Decision::SaveAnyway => "Save anyway",
            Decision::Relink => "Relink",
            Decision::Ignore => "Ignore",
        }
    }

    /// Stored in the engine's table.
    pub fn code(self) -> i64 {
        Decision::ALL.iter().position(|d| *d == self).unwrap_or(0) as i64 + 1
    }

    pub fn from_code(code: i64) -> Option<Decision> {
        usize::try_from(code - 1)
            .ok()
            .and_then(|i| Decision::ALL.get(i).copied())
    }

    /// Whether the item ends up linked to a record (created or existing).
    pub fn saves(self) -> bool {
        !matches!(self, Decision::Skip | Decision::Ignore)
    }

    /// The Information alert written once the engine carried the decision out.
    pub fn outcome(self, kind: Kind, item: &str, by: &str) -> String {
        let noun = kind.noun();
        match self {
            Decision::CreateAnyway => format!(
                "The {noun} \"{item}\" from Exchange was saved in Microsoft Dynamics 365 as a new record although duplicates exist, as {by} chose."
            ),
            Decision::LinkToRecord => format!(
                "The {noun} \"{item}\" from Exchange was linked to the existing record {by} chose; the record's values were written to Exchange."
            ),
            Decision::Skip => format!(
                "The {noun} \"{item}\" from Exchange was not saved in Microsoft Dynamics 365, as {by} chose; it stays in Exchange."
            ),
            Decision::SaveAnyway => format!(
                "The appointment \"{item}\" from Exchange was saved in Microsoft Dynamics 365 despite the scheduling conflict, as {by} chose."
            ),
            Decision::Relink => format!(
                "The {noun} \"{item}\" in Exchange was linked to this organization again, as {by} chose."
            ),
            Decision::Ignore => format!(
                "The {noun} \"{item}\" in Exchange stays unlinked from this organization, as {by} chose."
            ),
        }
    }
}

/// The key two records of a kind are duplicates by, `None` when the record has none:
/// contacts by their email address (case-insensitive), the field Dataverse's duplicate
/// detection rules for contacts use most (Microsoft's example rule matches names; an
/// address names one person, so the engine asks only when it is the same).
pub fn duplicate_key(kind: Kind, values: &Values) -> Option<String> {
    match kind {
        Kind::Contact => values
            .get("emailaddress1")
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty()),
        // Appointments are checked for scheduling conflicts instead.
        Kind::Appointment | Kind::Task => None,
    }
}

/// A name for the item in texts: a contact's full name or address, an appointment's
/// or a task's subject.
pub fn item_name(kind: Kind, values: &Values) -> String {
    let v = |c: &str| values.get(c).map(|s| s.trim()).filter(|s| !s.is_empty());
    match kind {
        Kind::Contact => super::act::full_name(v("firstname"), v("middlename"), v("lastname"))
            .or_else(|| v("emailaddress1").map(str::to_string)),
        Kind::Appointment | Kind::Task => v("subject").map(str::to_string),
    }
    .unwrap_or_else(|| "(no name)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decision_has_one_action_and_each_prompt_offers_its_own() {
        for d in Decision::ALL {
            assert_eq!(Decision::from_action(d.action()), Some(d));
            assert_eq!(Decision::from_code(d.code()), Some(d));
            assert!(d.action().starts_with("mailsync_"));
        }
        assert_eq!(Decision::from_code(0), None);
        for p in Prompt::ALL {
            assert_eq!(Prompt::from_code(p.code()), Some(p));
            assert_eq!(Prompt::of_alert(p.error_type()), Some(p));
            assert!(!p.decisions().is_empty());
        }
        assert!(!Prompt::Duplicates.decisions().contains(&Decision::Relink));
    }

    #[test]
    fn contacts_are_duplicates_by_their_email_address() {
        let v = |e: &str| -> Values { [("emailaddress1".to_string(), e.to_string())].into() };
        assert_eq!(
            duplicate_key(Kind::Contact, &v(" Ann@X.test ")),
            Some("ann@x.test".into())
        );
        assert_eq!(duplicate_key(Kind::Contact, &v("  ")), None);
        assert_eq!(duplicate_key(Kind::Task, &v("ann@x.test")), None);
    }

    #[test]
    fn the_texts_are_microsofts() {
        let t = Prompt::Duplicates.text(Kind::Contact, "Andrew Fuller", "Nancy");
        assert!(t.starts_with("One or more duplicate records were found in Microsoft Dynamics 365 when saving item \"Andrew Fuller\" from Exchange"));
        let c = crate::classify::classify(&crate::classify::Evidence {
            error_type: Some(Prompt::Duplicates.error_type()),
            text: &t,
            http_status: None,
            error_code: None,
        });
        assert_eq!(c.rule.as_deref(), Some("act-duplicate-records"));
        assert_eq!(c.nature, crate::report::Nature::Prompt);
    }
}
