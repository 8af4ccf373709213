//! The `$metadata` document: OData 4.0 CSDL XML in Dataverse's shape (namespace
//! `Microsoft.Dynamics.CRM`, alias `mscrm`, container `System`), generated from the
//! entity model, plus the functions the local organization's server answers.

use crate::model::{self, Column, Kind, Table, TABLES};

use super::names::is_memo;

const NAMESPACE: &str = "Microsoft.Dynamics.CRM";
const ALIAS: &str = "mscrm";

/// A single-valued navigation property: the way to bind (`<name>@odata.bind`) or expand
/// a lookup to one of its target tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavigationProperty {
    pub name: String,
    pub column: &'static Column,
    pub target: &'static Table,
}

/// Navigation properties Dataverse names otherwise than `<column>_<target>` for a lookup
/// to several tables: `(table, column, target, name)`. A mailbox's link to its user is
/// plain `regardingobjectid` (relationship `mailbox_regarding_systemuser`), while the one
/// to its queue is `regardingobjectid_queue` (Web API reference, mailbox EntityType).
const NAVIGATION_EXCEPTIONS: &[(&str, &str, &str, &str)] = &[(
    "mailbox",
    "regardingobjectid",
    "systemuser",
    "regardingobjectid",
)];

/// Dataverse's Owner lookup (`ownerid`: a user or a team) has one navigation property,
/// `ownerid`, to the abstract `principal` both derive from (no entity set of its own).
pub static PRINCIPAL: Table = Table {
    logical: "principal",
    entity_set: "",
    key: "ownerid",
    primary_name: "",
    columns: &[],
};

fn is_owner(column: &Column) -> bool {
    column.name == "ownerid"
}

/// The navigation property a lookup's value names for a record of `target` (the
/// `associatednavigationproperty` annotation, and what `@odata.bind` takes).
pub fn navigation_property_name(table: &Table, column: &Column, target: &str) -> String {
    let several = matches!(column.kind, Kind::Lookup(t) if t.len() > 1);
    if is_owner(column) {
        return column.name.to_string();
    }
    navigation_name(table, column, target, several)
}

/// The name of the navigation property of `column` (a lookup of `table`) to `target`:
/// the column's name for a lookup to one table, `<column>_<target>` for a lookup to
/// several (`regardingobjectid_mailbox`), but for Dataverse's exceptions.
fn navigation_name(table: &Table, column: &Column, target: &str, several: bool) -> String {
    let exception = NAVIGATION_EXCEPTIONS
        .iter()
        .find(|(t, c, to, _)| *t == table.logical && *c == column.name && *to == target);
    match exception {
        Some((_, _, _, name)) => (*name).to_string(),
        None if several => format!("{}_{target}", column.name),
        None => column.name.to_string(),
    }
}

/// Every single-valued navigation property of `table`, one per lookup and target; targets
/// the model does not serve are left out (their type would not exist in `$metadata`).
pub fn navigation_properties(table: &Table) -> Vec<NavigationProperty> {
    let mut out = Vec::new();
    for column in table.columns.iter().filter(|c| c.readable()) {
        let Kind::Lookup(targets) = column.kind else {
            continue;
        };
        if is_owner(column) {
            out.push(NavigationProperty {
                name: column.name.to_string(),
                column,
                target: &PRINCIPAL,
            });
            continue;
        }
        for target in targets.iter().filter_map(|t| model::table(t)) {
            out.push(NavigationProperty {
                name: navigation_name(table, column, target.logical, targets.len() > 1),
                column,
                target,
            });
        }
    }
    out
}

/// XML text or attribute value: the five predefined entities, so any name or label
/// yields well-formed XML.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(ch),
        }
    }
    out
}

/// An indenting XML writer: every attribute goes through [`escape`], and each `open` is
/// paired with a `close` by the code's structure.
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn start(&mut self, name: &str, attrs: &[(&str, &str)], end: &str) {
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push_str(&format!(" {key}=\"{}\"", escape(value)));
        }
        self.out.push_str(end);
        self.out.push('\n');
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs, ">");
        self.depth += 1;
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs, " />");
    }

    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push_str(&format!("</{name}>\n"));
    }
}

/// A complex type's properties: `(name, type, nullable)`.
type Props = &'static [(&'static str, &'static str, bool)];

/// The response types of the functions below, as Dataverse declares them (the WhoAmI
/// and RetrieveUserPrivileges CSDL is quoted in Microsoft's Web API docs).
const COMPLEX_TYPES: &[(&str, Props)] = &[
    (
        "WhoAmIResponse",
        &[
            ("BusinessUnitId", "Edm.Guid", false),
            ("UserId", "Edm.Guid", false),
            ("OrganizationId", "Edm.Guid", false),
        ],
    ),
    (
        "RolePrivilege",
        &[
            ("Depth", "mscrm.PrivilegeDepth", false),
            ("PrivilegeId", "Edm.Guid", false),
            ("BusinessUnitId", "Edm.Guid", false),
            ("PrivilegeName", "Edm.String", true),
        ],
    ),
    (
        "RetrieveUserPrivilegesResponse",
        &[("RolePrivileges", "Collection(mscrm.RolePrivilege)", true)],
    ),
    (
        "EntityRecordCountCollection",
        &[
            ("Count", "Edm.Int32", false),
            ("IsReadOnly", "Edm.Boolean", false),
            ("Keys", "Collection(Edm.String)", true),
            ("Values", "Collection(Edm.Int64)", true),
        ],
    ),
    (
        // The product's own: what `mailsync_BeginOAuthSignIn` answers.
        "mailsync_BeginOAuthSignInResponse",
        &[
            ("AuthorizationUrl", "Edm.String", false),
            ("RedirectUri", "Edm.String", false),
            ("Provider", "Edm.String", false),
            ("Account", "Edm.String", false),
        ],
    ),
    (
        "RetrieveTotalRecordCountResponse",
        &[(
            "EntityRecordCountCollection",
            "mscrm.EntityRecordCountCollection",
            true,
        )],
    ),
];

/// `RolePrivilege.Depth`: serialized as the member name (`"Global"`), which is why it is
/// an enum and not a number.
const PRIVILEGE_DEPTHS: &[(&str, &str)] = &[
    ("Basic", "0"),
    ("Local", "1"),
    ("Deep", "2"),
    ("Global", "3"),
    ("RecordFilter", "4"),
];

/// A function the server answers: bound ones take the record of `bound_to` (a logical
/// name) as their first parameter and are called as
/// `<set>(<id>)/Microsoft.Dynamics.CRM.<name>`; unbound ones get a `FunctionImport`.
struct Function {
    name: &'static str,
    bound_to: Option<&'static str>,
    params: &'static [(&'static str, &'static str)],
    returns: &'static str,
}

const FUNCTIONS: &[Function] = &[
    Function {
        name: "WhoAmI",
        bound_to: None,
        params: &[],
        returns: "mscrm.WhoAmIResponse",
    },
    Function {
        name: "RetrieveUserPrivileges",
        bound_to: Some("systemuser"),
        params: &[],
        returns: "mscrm.RetrieveUserPrivilegesResponse",
    },
    Function {
        name: "RetrieveTotalRecordCount",
        bound_to: None,
        params: &[("EntityNames", "Collection(Edm.String)")],
        returns: "mscrm.RetrieveTotalRecordCountResponse",
    },
    Function {
        name: "DownloadMailboxDetails",
        bound_to: Some("mailbox"),
        params: &[],
        returns: "Edm.String",
    },
];

/// A function is declared only if the table it is bound to is served.
fn offered(f: &Function) -> bool {
    f.bound_to.is_none_or(|t| model::table(t).is_some())
}

/// The `$metadata` document.
pub fn csdl() -> String {
    let mut x = Xml {
        out: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"),
        depth: 0,
    };
    x.open(
        "edmx:Edmx",
        &[
            ("Version", "4.0"),
            ("xmlns:edmx", "http://docs.oasis-open.org/odata/ns/edmx"),
        ],
    );
    x.open("edmx:DataServices", &[]);
    x.open(
        "Schema",
        &[
            ("Namespace", NAMESPACE),
            ("Alias", ALIAS),
            ("xmlns", "http://docs.oasis-open.org/odata/ns/edm"),
        ],
    );
    write_operation_types(&mut x);
    // Dataverse's base of every table, so clients that expect it find it.
    x.empty(
        "EntityType",
        &[("Name", "crmbaseentity"), ("Abstract", "true")],
    );
    // What an owner is: a user or a team.
    x.open(
        "EntityType",
        &[("Name", PRINCIPAL.logical), ("Abstract", "true")],
    );
    x.open("Key", &[]);
    x.empty("PropertyRef", &[("Name", PRINCIPAL.key)]);
    x.close("Key");
    x.empty(
        "Property",
        &[
            ("Name", PRINCIPAL.key),
            ("Type", "Edm.Guid"),
            ("Nullable", "false"),
        ],
    );
    x.close("EntityType");
    for table in TABLES {
        write_entity_type(&mut x, table);
    }
    write_functions(&mut x);
    write_actions(&mut x);
    write_container(&mut x);
    x.close("Schema");
    x.close("edmx:DataServices");
    x.close("edmx:Edmx");
    x.out
}

fn write_operation_types(x: &mut Xml) {
    x.open(
        "EnumType",
        &[("Name", "PrivilegeDepth"), ("UnderlyingType", "Edm.Int32")],
    );
    for (name, value) in PRIVILEGE_DEPTHS {
        x.empty("Member", &[("Name", name), ("Value", value)]);
    }
    x.close("EnumType");
    for (name, props) in COMPLEX_TYPES {
        x.open("ComplexType", &[("Name", name)]);
        for (prop, ty, nullable) in *props {
            let mut attrs = vec![("Name", *prop), ("Type", *ty)];
            if !nullable {
                attrs.push(("Nullable", "false"));
            }
            x.empty("Property", &attrs);
        }
        x.close("ComplexType");
    }
}

fn write_entity_type(x: &mut Xml, table: &Table) {
    x.open(
        "EntityType",
        &[("Name", table.logical), ("BaseType", "mscrm.crmbaseentity")],
    );
    x.open("Key", &[]);
    x.empty("PropertyRef", &[("Name", table.key)]);
    x.close("Key");
    for column in table.columns.iter().filter(|c| c.readable()) {
        write_property(x, table, column);
    }
    for nav in navigation_properties(table) {
        let ty = format!("{ALIAS}.{}", nav.target.logical);
        x.open("NavigationProperty", &[("Name", &nav.name), ("Type", &ty)]);
        // The `_x_value` property holds the target's key (as Dataverse declares it).
        x.empty(
            "ReferentialConstraint",
            &[
                ("Property", &nav.column.property()),
                ("ReferencedProperty", nav.target.key),
            ],
        );
        x.close("NavigationProperty");
    }
    // One-to-many relationships (`appointment_activity_parties`), which `$expand` reads.
    for many in crate::odata::one_to_many(table) {
        let ty = format!("Collection({ALIAS}.{})", many.target.logical);
        x.empty("NavigationProperty", &[("Name", many.name), ("Type", &ty)]);
    }
    x.close("EntityType");
}

/// One structural property: lookups appear as their `_x_value` Edm.Guid, text carries
/// its MaxLength (as the model enforces it), the key is never null.
fn write_property(x: &mut Xml, table: &Table, column: &Column) {
    let name = column.property();
    let max = column.max_len.map(|n| n.to_string());
    let mut attrs = vec![("Name", name.as_str()), ("Type", column.kind.edm())];
    match column.kind {
        Kind::Text => {
            attrs.push(("Unicode", "false"));
            if let Some(max) = &max {
                // Memo columns are unbounded in CSDL terms; Dataverse's limit is huge.
                attrs.push(("MaxLength", if is_memo(column) { "max" } else { max }));
            }
        }
        Kind::Decimal => attrs.push(("Scale", "Variable")),
        _ => {}
    }
    if column.name == table.key {
        attrs.push(("Nullable", "false"));
    }
    x.empty("Property", &attrs);
}

/// The product's own bound actions, `mailsync_` as a publisher prefix: the answers to
/// the alerts that ask for action (`engine::prompt::Decision`), bound to an alert, and a
/// mailbox's OAuth sign-in (the server's `webapi/signin.rs`).
fn write_actions(x: &mut Xml) {
    if model::table("tracelog").is_none() {
        return;
    }
    let ty = format!("{ALIAS}.tracelog");
    for d in crate::engine::prompt::Decision::ALL {
        x.open("Action", &[("Name", d.action()), ("IsBound", "true")]);
        x.empty(
            "Parameter",
            &[("Name", "entity"), ("Type", &ty), ("Nullable", "false")],
        );
        if d == crate::engine::prompt::Decision::LinkToRecord {
            x.empty(
                "Parameter",
                &[
                    ("Name", "RecordId"),
                    ("Type", "Edm.Guid"),
                    ("Nullable", "false"),
                ],
            );
        }
        x.close("Action");
    }
    // A mailbox's sign-in to its mail provider ("Gmail OAuth", "Azure AD OAuth").
    if model::table("mailbox").is_some() {
        x.open(
            "Action",
            &[("Name", "mailsync_BeginOAuthSignIn"), ("IsBound", "true")],
        );
        x.empty(
            "Parameter",
            &[
                ("Name", "entity"),
                ("Type", &format!("{ALIAS}.mailbox")),
                ("Nullable", "false"),
            ],
        );
        x.empty(
            "ReturnType",
            &[
                ("Type", "mscrm.mailsync_BeginOAuthSignInResponse"),
                ("Nullable", "false"),
            ],
        );
        x.close("Action");
    }
}

fn write_functions(x: &mut Xml) {
    for f in FUNCTIONS.iter().filter(|f| offered(f)) {
        let mut attrs = vec![("Name", f.name)];
        if f.bound_to.is_some() {
            attrs.push(("IsBound", "true"));
        }
        x.open("Function", &attrs);
        if let Some(table) = f.bound_to {
            let ty = format!("{ALIAS}.{table}");
            x.empty(
                "Parameter",
                &[("Name", "entity"), ("Type", &ty), ("Nullable", "false")],
            );
        }
        for (name, ty) in f.params {
            x.empty(
                "Parameter",
                &[("Name", name), ("Type", ty), ("Nullable", "false")],
            );
        }
        x.empty("ReturnType", &[("Type", f.returns), ("Nullable", "false")]);
        x.close("Function");
    }
}

fn write_container(x: &mut Xml) {
    x.open("EntityContainer", &[("Name", "System")]);
    for table in TABLES {
        let ty = format!("{NAMESPACE}.{}", table.logical);
        x.open(
            "EntitySet",
            &[("Name", table.entity_set), ("EntityType", &ty)],
        );
        for nav in navigation_properties(table)
            .into_iter()
            .filter(|n| !n.target.entity_set.is_empty())
        {
            x.empty(
                "NavigationPropertyBinding",
                &[("Path", &nav.name), ("Target", nav.target.entity_set)],
            );
        }
        x.close("EntitySet");
    }
    for f in FUNCTIONS.iter().filter(|f| f.bound_to.is_none()) {
        let function = format!("{NAMESPACE}.{}", f.name);
        x.empty(
            "FunctionImport",
            &[("Name", f.name), ("Function", &function)],
        );
    }
    x.close("EntityContainer");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MAILBOX, QUEUE, TRACELOG};

    /// A tiny XML checker: tags balance, attribute values are quoted, `&` only starts a
    /// predefined entity, exactly one root element. Returns the element names in order.
    fn well_formed(xml: &str) -> Result<Vec<String>, String> {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
            .ok_or("no XML declaration")?;
        let (mut stack, mut names, mut roots) = (Vec::<String>::new(), Vec::new(), 0);
        let mut rest = body;
        while let Some(lt) = rest.find('<') {
            check_text(&rest[..lt])?;
            let gt = rest[lt..].find('>').ok_or("unterminated tag")? + lt;
            let tag = &rest[lt + 1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
                if open != name {
                    return Err(format!("<{open}> closed by </{name}>"));
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag
                .split_whitespace()
                .next()
                .ok_or("empty tag")?
                .to_string();
            check_attributes(&tag[name.len()..])?;
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        check_text(rest)?;
        match (stack.is_empty(), roots) {
            (true, 1) => Ok(names),
            (false, _) => Err(format!("unclosed: {stack:?}")),
            _ => Err(format!("{roots} root elements")),
        }
    }

    fn check_text(text: &str) -> Result<(), String> {
        let mut parts = text.split('&').skip(1);
        parts.try_for_each(|p| {
            ["amp;", "lt;", "gt;", "quot;", "apos;"]
                .iter()
                .any(|e| p.starts_with(e))
                .then_some(())
                .ok_or(format!("bare & before {p:?}"))
        })?;
        if text.contains('>') {
            return Err(format!("bare > in {text:?}"));
        }
        Ok(())
    }

    /// ` a="1" b="2"`: name, `=`, a double-quoted value without `<`, repeated.
    fn check_attributes(mut attrs: &str) -> Result<(), String> {
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                return Ok(());
            }
            let eq = attrs
                .find("=\"")
                .ok_or(format!("bad attribute in {attrs:?}"))?;
            if attrs[..eq].contains(char::is_whitespace) {
                return Err(format!("bad attribute name in {attrs:?}"));
            }
            let value_end = attrs[eq + 2..].find('"').ok_or("unquoted value")? + eq + 2;
            check_text(&attrs[eq + 2..value_end])?;
            if attrs[eq + 2..value_end].contains('<') {
                return Err("< in an attribute value".into());
            }
            attrs = &attrs[value_end + 1..];
        }
    }

    #[test]
    fn csdl_is_well_formed() {
        let xml = csdl();
        let names = well_formed(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert_eq!(names[0], "edmx:Edmx");
        let count = |n: &str| names.iter().filter(|x| *x == n).count();
        // One per table, plus the abstract base and the abstract owner (`principal`).
        assert_eq!(count("EntityType"), TABLES.len() + 2);
        assert_eq!(count("EntitySet"), TABLES.len());
        assert_eq!(count("EntityContainer"), 1);
        assert_eq!(count("FunctionImport"), 2);
        assert_eq!(count("Function"), 4);
    }

    /// The checker itself must reject what it claims to.
    #[test]
    fn checker_rejects_malformed_xml() {
        let decl = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";
        for bad in [
            "<a><b></a></b>",
            "<a>",
            "<a/><b/>",
            "<a x=\"1 & 2\"/>",
            "<a x=1/>",
            "<a>x > y</a>",
        ] {
            assert!(well_formed(&format!("{decl}{bad}")).is_err(), "{bad}");
        }
        assert!(well_formed(&format!("{decl}<a x=\"&lt;\"><b/>t &amp; u</a>")).is_ok());
    }

    #[test]
    fn csdl_declares_tables_as_dataverse_does() {
        let xml = csdl();
        for needle in [
            r#"<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#,
            r#"<EntityType Name="mailbox" BaseType="mscrm.crmbaseentity">"#,
            r#"<PropertyRef Name="mailboxid" />"#,
            r#"<NavigationProperty Name="appointment_activity_parties" Type="Collection(mscrm.activityparty)" />"#,
            r#"<Property Name="mailboxid" Type="Edm.Guid" Nullable="false" />"#,
            r#"<Property Name="name" Type="Edm.String" Unicode="false" MaxLength="200" />"#,
            r#"<Property Name="_emailserverprofile_value" Type="Edm.Guid" />"#,
            r#"<Property Name="emailrouteraccessapproval" Type="Edm.Int32" />"#,
            r#"<Property Name="enabledforact" Type="Edm.Boolean" />"#,
            r#"<Property Name="createdon" Type="Edm.DateTimeOffset" />"#,
            r#"<Property Name="description" Type="Edm.String" Unicode="false" MaxLength="max" />"#,
            r#"<NavigationProperty Name="emailserverprofile" Type="mscrm.emailserverprofile">"#,
            r#"<ReferentialConstraint Property="_emailserverprofile_value" ReferencedProperty="emailserverprofileid" />"#,
            r#"<NavigationProperty Name="regardingobjectid_mailbox" Type="mscrm.mailbox">"#,
            r#"<NavigationProperty Name="regardingobjectid_emailserverprofile" Type="mscrm.emailserverprofile">"#,
            r#"<NavigationProperty Name="regardingobjectid_queue" Type="mscrm.queue">"#,
            r#"<EntityContainer Name="System">"#,
            r#"<EntitySet Name="mailboxes" EntityType="Microsoft.Dynamics.CRM.mailbox">"#,
            r#"<NavigationPropertyBinding Path="regardingobjectid_mailbox" Target="mailboxes" />"#,
            r#"<FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI" />"#,
            r#"<FunctionImport Name="RetrieveTotalRecordCount" Function="Microsoft.Dynamics.CRM.RetrieveTotalRecordCount" />"#,
            r#"<Function Name="RetrieveUserPrivileges" IsBound="true">"#,
            r#"<Parameter Name="entity" Type="mscrm.systemuser" Nullable="false" />"#,
            r#"<Parameter Name="EntityNames" Type="Collection(Edm.String)" Nullable="false" />"#,
            r#"<ReturnType Type="mscrm.WhoAmIResponse" Nullable="false" />"#,
            r#"<Property Name="RolePrivileges" Type="Collection(mscrm.RolePrivilege)" />"#,
            r#"<Property Name="Depth" Type="mscrm.PrivilegeDepth" Nullable="false" />"#,
            r#"<Member Name="Global" Value="3" />"#,
            r#"<Parameter Name="entity" Type="mscrm.mailbox" Nullable="false" />"#,
            r#"<ReturnType Type="Edm.String" Nullable="false" />"#,
        ] {
            assert!(xml.contains(needle), "missing {needle}");
        }
        // Secrets and internals are not part of the API's shape; bound functions get no
        // import; a lookup is never a plain property.
        for absent in [
            "\"password\"",
            "passwordhash",
            r#"Name="oauthclientsecret""#,
            r#"Name="oauthrefreshtoken""#,
            r#"Name="oauthaccesstoken""#,
            r#"FunctionImport Name="RetrieveUserPrivileges""#,
            r#"<Property Name="emailserverprofile""#,
            "regardingobjectid_systemuser",
        ] {
            assert!(!xml.contains(absent), "unexpected {absent}");
        }
    }

    #[test]
    fn navigation_names() {
        let column = |name: &str| MAILBOX.column(name).unwrap();
        assert_eq!(
            navigation_property_name(&MAILBOX, column("ownerid"), "team"),
            "ownerid"
        );
        assert_eq!(
            navigation_property_name(&MAILBOX, column("regardingobjectid"), "systemuser"),
            "regardingobjectid"
        );
        assert_eq!(
            navigation_property_name(&MAILBOX, column("regardingobjectid"), "queue"),
            "regardingobjectid_queue"
        );
        let xml = csdl();
        assert!(xml.contains(r#"<EntityType Name="principal" Abstract="true">"#));
        assert!(xml.contains(r#"<NavigationProperty Name="ownerid" Type="mscrm.principal">"#));
        assert!(!xml.contains(r#"Target="">"#) && !xml.contains(r#"Target="" />"#));
        let names = |t: &Table| -> Vec<String> {
            navigation_properties(t)
                .into_iter()
                .map(|n| n.name)
                .collect()
        };
        assert_eq!(
            names(&MAILBOX),
            [
                "regardingobjectid",
                "regardingobjectid_queue",
                "ownerid",
                "emailserverprofile"
            ]
        );
        assert_eq!(
            names(&TRACELOG),
            [
                "regardingobjectid_mailbox",
                "regardingobjectid_emailserverprofile"
            ]
        );
        assert_eq!(names(&QUEUE), ["ownerid", "defaultmailbox"]);
        let regarding = &navigation_properties(&MAILBOX)[0];
        assert_eq!(regarding.target.logical, "systemuser");
        assert_eq!(regarding.column.name, "regardingobjectid");
    }

    /// Property and navigation names share one namespace per entity type.
    #[test]
    fn member_names_are_unique() {
        for t in TABLES {
            let mut all: Vec<String> = t
                .columns
                .iter()
                .filter(|c| c.readable())
                .map(|c| c.property())
                .chain(navigation_properties(t).into_iter().map(|n| n.name))
                .collect();
            let n = all.len();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), n, "{}", t.logical);
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("plain é"), "plain é");
    }
}
