//! The Dataverse entity model, as data: each table's logical name, entity set, key,
//! primary name and columns (type and API access). One model for everyone: the OData
//! query layer ([`crate::odata`]) validates against it, the server's store maps it to
//! SQLite (a server test checks it against the live schema), and the console builds
//! grids and forms from it.
//!
//! ```
//! use mailsync_core::model::{self, Kind};
//!
//! let mailboxes = model::table("mailboxes").unwrap();
//! assert_eq!(mailboxes.key_column().kind, Kind::Guid);
//! let profile = mailboxes.property("_emailserverprofile_value").unwrap();
//! assert_eq!(profile.kind, Kind::Lookup(&["emailserverprofile"]));
//! assert!(!mailboxes.column("password").unwrap().readable());
//! ```

mod tables;

use crate::options::OptionSet;

pub use tables::{
    EMAIL, EMAILSERVERPROFILE, MAILBOX, ORGANIZATION, QUEUE, SYNCSTATISTIC, SYSTEMUSER, TABLES,
    TEAM, TRACELOG,
};

/// A column's type: how values are stored, converted, filtered and sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Guid,
    Text,
    Int,
    Decimal,
    /// An option set value (Dataverse "choice"): an integer.
    Choice,
    Bool,
    /// A point in time; stored and sent as UTC RFC 3339 text.
    DateTime,
    /// The id of a record of one of these tables (logical names). Its OData property
    /// is `_<name>_value`.
    Lookup(&'static [&'static str]),
}

impl Kind {
    /// The EDM type name Dataverse uses in its metadata and error messages.
    pub fn edm(self) -> &'static str {
        match self {
            Kind::Guid | Kind::Lookup(_) => "Edm.Guid",
            Kind::Text => "Edm.String",
            Kind::Int | Kind::Choice => "Edm.Int32",
            Kind::Decimal => "Edm.Decimal",
            Kind::Bool => "Edm.Boolean",
            Kind::DateTime => "Edm.DateTimeOffset",
        }
    }

    pub fn is_lookup(self) -> bool {
        matches!(self, Kind::Lookup(_))
    }
}

/// Who may read or write a column through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// Set by the system only (`versionnumber`, `createdon`, statuses...).
    ReadOnly,
    /// Accepted on create/update, never returned, filtered or sorted (passwords,
    /// secrets), so a query cannot be used as an oracle on a secret.
    WriteOnly,
    /// Internal: neither returned nor accepted, and unknown to OData queries
    /// (password hashes).
    Hidden,
}

/// One column. Build with [`Column::new`] and the `const` modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The logical name; also the SQL column name (a lookup's column holds the id).
    pub name: &'static str,
    pub kind: Kind,
    pub access: Access,
    /// A choice column's valid values (labels too); any other value is refused on write.
    pub options: Option<OptionSet>,
    /// A text column's MaxLength in characters, as Microsoft's table reference gives it;
    /// a longer value is refused on write.
    pub max_len: Option<u32>,
    filter: bool,
    sort: bool,
    /// Accepted on update too (Dataverse's IsValidForUpdate); `false`: set on create only.
    update: bool,
}

impl Column {
    /// A read-write column, usable in `$filter` and `$orderby`.
    pub const fn new(name: &'static str, kind: Kind) -> Self {
        Column {
            name,
            kind,
            access: Access::ReadWrite,
            options: None,
            max_len: None,
            filter: true,
            sort: true,
            update: true,
        }
    }

    /// A choice column with its valid values.
    pub const fn choice(name: &'static str, options: OptionSet) -> Self {
        Column {
            options: Some(options),
            ..Column::new(name, Kind::Choice)
        }
    }

    /// Whether `value` may be written: one of the options of a choice column.
    pub fn allows(&self, value: i64) -> bool {
        self.options
            .is_none_or(|set| set.iter().any(|(v, _)| i64::from(*v) == value))
    }

    /// At most `n` characters (a text column's MaxLength).
    pub const fn max(self, n: u32) -> Self {
        Column {
            max_len: Some(n),
            ..self
        }
    }

    /// Written when the record is created, never changed after (Dataverse's
    /// IsValidForUpdate false: a mailbox's `regardingobjectid`).
    pub const fn create_only(self) -> Self {
        Column {
            update: false,
            ..self
        }
    }

    pub const fn read_only(self) -> Self {
        Column {
            access: Access::ReadOnly,
            ..self
        }
    }

    pub const fn write_only(self) -> Self {
        Column {
            access: Access::WriteOnly,
            ..self
        }
    }

    pub const fn hidden(self) -> Self {
        Column {
            access: Access::Hidden,
            ..self
        }
    }

    /// Readable, but refused in `$filter` (Dataverse refuses some, e.g. long text).
    pub const fn not_filterable(self) -> Self {
        Column {
            filter: false,
            ..self
        }
    }

    /// Readable, but refused in `$orderby`.
    pub const fn not_sortable(self) -> Self {
        Column {
            sort: false,
            ..self
        }
    }

    /// Returned by the API (`$select`).
    pub const fn readable(&self) -> bool {
        matches!(self.access, Access::ReadWrite | Access::ReadOnly)
    }

    /// Accepted on create.
    pub const fn writable(&self) -> bool {
        matches!(self.access, Access::ReadWrite | Access::WriteOnly)
    }

    /// Accepted on update.
    pub const fn updatable(&self) -> bool {
        self.writable() && self.update
    }

    /// Whether a text value fits the column's MaxLength (counted in characters).
    pub fn fits(&self, text: &str) -> bool {
        self.max_len
            .is_none_or(|max| text.len() <= max as usize || text.chars().count() <= max as usize)
    }

    /// Usable in `$filter`: never for a column that is not readable.
    pub const fn filterable(&self) -> bool {
        self.filter && self.readable()
    }

    /// Usable in `$orderby`: never for a column that is not readable.
    pub const fn sortable(&self) -> bool {
        self.sort && self.readable()
    }

    /// The name in OData payloads and queries: lookups are `_<name>_value`.
    pub fn property(&self) -> String {
        match self.kind {
            Kind::Lookup(_) => format!("_{}_value", self.name),
            _ => self.name.to_string(),
        }
    }
}

/// One table. `key` names a `Kind::Guid` column of `columns`, `primary_name` a text
/// column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// The logical name (`mailbox`), also the SQL table name; in messages as
    /// `Microsoft.Dynamics.CRM.mailbox`.
    pub logical: &'static str,
    /// The entity set (`mailboxes`): the URL segment.
    pub entity_set: &'static str,
    pub key: &'static str,
    pub primary_name: &'static str,
    pub columns: &'static [Column],
}

impl Table {
    /// A column by logical name, whatever its access (the store's view).
    pub fn column(&self, logical_name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == logical_name)
    }

    /// Resolves an OData property name (the API's view): `_x_value` for lookups, the
    /// logical name otherwise; hidden columns do not exist here.
    pub fn property(&self, property: &str) -> Option<&'static Column> {
        let visible = |c: &&'static Column| c.access != Access::Hidden;
        if let Some(inner) = property
            .strip_prefix('_')
            .and_then(|p| p.strip_suffix("_value"))
        {
            if let Some(c) = self
                .column(inner)
                .filter(|c| c.kind.is_lookup())
                .filter(visible)
            {
                return Some(c);
            }
        }
        self.column(property)
            .filter(|c| !c.kind.is_lookup())
            .filter(visible)
    }

    /// The key column. Panics if the table is inconsistent: a programming error.
    pub fn key_column(&self) -> &'static Column {
        self.column(self.key)
            .unwrap_or_else(|| panic!("{}: key column {} missing", self.entity_set, self.key))
    }

    /// `Microsoft.Dynamics.CRM.<logical name>`.
    pub fn type_name(&self) -> String {
        format!("Microsoft.Dynamics.CRM.{}", self.logical)
    }
}

/// The table of an entity set (`mailboxes`) or logical name (`mailbox`).
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES
        .iter()
        .copied()
        .find(|t| t.entity_set == name || t.logical == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_has_its_options() {
        for t in TABLES {
            for c in t.columns {
                assert_eq!(
                    c.kind == Kind::Choice,
                    c.options.is_some_and(|o| !o.is_empty()),
                    "{}.{}",
                    t.logical,
                    c.name
                );
            }
        }
        let servertype = EMAILSERVERPROFILE.column("servertype").unwrap();
        assert!(servertype.allows(4) && !servertype.allows(42) && !servertype.allows(-1));
        let act = MAILBOX.column("actdeliverymethod").unwrap();
        assert!(act.allows(2) && !act.allows(3));
        assert!(EMAIL.column("statuscode").unwrap().allows(8));
        assert!(!MAILBOX.column("statecode").unwrap().allows(5));
        // Other kinds take any value of their type.
        assert!(MAILBOX.column("noemailcount").unwrap().allows(12345));
    }

    /// No text column is unbounded: each has Microsoft's MaxLength (a 15 MiB name was
    /// once stored).
    #[test]
    fn every_text_column_has_a_max_length() {
        for t in TABLES {
            for c in t.columns.iter().filter(|c| c.kind == Kind::Text) {
                assert!(c.max_len.is_some(), "{}.{}", t.logical, c.name);
            }
        }
        let name = MAILBOX.column("name").unwrap();
        assert_eq!(name.max_len, Some(200));
        assert!(name.fits(&"é".repeat(200)) && !name.fits(&"a".repeat(201)));
        assert_eq!(TRACELOG.column("text").unwrap().max_len, Some(2000));
        // Set when the mailbox is created for its user or queue, never changed after.
        let regarding = MAILBOX.column("regardingobjectid").unwrap();
        assert!(regarding.writable() && !regarding.updatable());
        assert!(MAILBOX.column("name").unwrap().updatable());
    }

    #[test]
    fn lookup_by_set_or_logical_name() {
        assert_eq!(table("mailboxes").unwrap().logical, "mailbox");
        assert_eq!(table("tracelog").unwrap().entity_set, "tracelogs");
        assert!(table("accounts").is_none());
    }

    #[test]
    fn tables_are_consistent() {
        for (i, t) in TABLES.iter().enumerate() {
            assert_eq!(t.columns[0].name, t.key, "{}", t.logical);
            assert_eq!(t.key_column().kind, Kind::Guid, "{}", t.logical);
            assert_eq!(
                t.column(t.primary_name).map(|c| c.kind),
                Some(Kind::Text),
                "{}",
                t.logical
            );
            for u in &TABLES[..i] {
                assert_ne!(t.logical, u.logical);
                assert_ne!(t.entity_set, u.entity_set);
            }
            for (j, c) in t.columns.iter().enumerate() {
                assert!(
                    t.columns[..j].iter().all(|d| d.name != c.name),
                    "{}.{} twice",
                    t.logical,
                    c.name
                );
                if let Kind::Lookup(targets) = c.kind {
                    assert!(!targets.is_empty());
                    for target in targets {
                        assert!(table(target).is_some(), "{}.{c:?}", t.logical);
                    }
                }
            }
        }
    }

    #[test]
    fn secrets_are_never_readable() {
        for t in TABLES {
            for col in t.columns {
                // Secrets: passwords, client secrets, OAuth tokens; not the flags saying
                // whether one is set (`ispasswordset`, `isoauthrefreshtokenset`).
                let secret = ["password", "secret", "token"]
                    .iter()
                    .any(|w| col.name.contains(w))
                    && !(col.name.starts_with("is") && col.name.ends_with("set"))
                    && !col.name.ends_with("expireson");
                assert_eq!(
                    secret,
                    matches!(col.access, Access::WriteOnly | Access::Hidden),
                    "{}.{}",
                    t.logical,
                    col.name
                );
                if secret {
                    assert!(!col.readable() && !col.filterable() && !col.sortable());
                }
            }
        }
    }

    #[test]
    fn access_rules() {
        let c = Column::new("x", Kind::Text);
        assert!(c.readable() && c.writable() && c.filterable() && c.sortable());
        let ro = c.read_only();
        assert!(ro.readable() && !ro.writable() && ro.filterable() && ro.sortable());
        for secret in [c.write_only(), c.hidden()] {
            assert!(!secret.readable() && !secret.filterable() && !secret.sortable());
        }
        assert!(c.write_only().writable() && !c.hidden().writable());
        let memo = c.not_filterable().not_sortable();
        assert!(memo.readable() && !memo.filterable() && !memo.sortable());
    }

    #[test]
    fn properties() {
        let user = table("systemuser").unwrap();
        assert_eq!(user.type_name(), "Microsoft.Dynamics.CRM.systemuser");
        let mailbox = user.property("_defaultmailbox_value").unwrap();
        assert_eq!(mailbox.name, "defaultmailbox");
        assert_eq!(mailbox.property(), "_defaultmailbox_value");
        assert!(user.property("defaultmailbox").is_none());
        assert_eq!(user.property("fullname").unwrap().property(), "fullname");
        assert!(user.property("_fullname_value").is_none());
        // Hidden: known to the store, not to the API.
        assert!(user.column("passwordhash").is_some());
        assert!(user.property("passwordhash").is_none());
        assert_eq!(Kind::Lookup(&["queue"]).edm(), "Edm.Guid");
        assert_eq!(Kind::Text.edm(), "Edm.String");
    }
}
