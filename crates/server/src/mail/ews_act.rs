//! Exchange Web Services for appointments, contacts and tasks: SyncFolderItems,
//! CreateItem, UpdateItem, DeleteItem of the `calendar`, `contacts` and `tasks`
//! folders (calendar items with the meeting messages Exchange sends for them), and the user
//! configuration where the mailbox records the organization it synchronizes them with.
//! The shapes are Microsoft's EWS reference (`docs/research/act-synchronization.md` §5);
//! core's `engine::act` says which properties a kind has and what they mean.
//!
//! Answers are read with roxmltree: items nest collections (email addresses, phone
//! numbers) that the inbox's flat scanner in `ews.rs` does not need to understand.

use mailsync_core::engine::act::{self, Change, Form, Item, Kind, Prop, Values};

use super::ews::{request_headers, soap_head, status_failure, xml_escape, EwsAuth, SOAP_TAIL};
use super::http::{self, Url};
use super::net::printable;
use super::{Failure, FailureKind, Timeouts, Tls};

const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const M: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";

/// The user configuration (EWS `UserConfiguration`, on the mailbox's root folder)
/// where the organization's ID is kept. Microsoft does not document where Dynamics 365
/// keeps it "in Exchange"; a user configuration object is EWS's place for an
/// application's per-mailbox settings.
pub const ORG_CONFIGURATION: &str = "Dynamics365.ServerSideSync";
const ORG_KEY: &str = "OrgId";

/// The extended property holding the engine's link marker (core's `act::marker`): a
/// named property in a property set of this product's own (a GUID made for it).
const MARKER_SET: &str = "c11ff724-aa03-4555-9952-8fa248a11c3e";
const MARKER_NAME: &str = "mailsync.link";

fn marker_uri() -> String {
    format!(
        "<t:ExtendedFieldURI PropertySetId=\"{MARKER_SET}\" PropertyName=\"{MARKER_NAME}\" PropertyType=\"String\"/>"
    )
}

/// The item shape every read asks for: all properties, plus the marker (extended
/// properties come only when named).
fn item_shape() -> String {
    format!(
        "<m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties>{}\
         </t:AdditionalProperties></m:ItemShape>",
        marker_uri()
    )
}

fn marker_xml(marker: &str) -> String {
    format!(
        "<t:ExtendedProperty>{}<t:Value>{}</t:Value></t:ExtendedProperty>",
        marker_uri(),
        xml_escape(marker)
    )
}

/// The attribute a calendar item's write must carry (EWS refuses one without it): the
/// meeting messages Exchange sends to its attendees, invitations or updates
/// (`SendToAllAndSaveCopy`) or none (`SendToNone`). Nothing for other kinds.
fn meeting_messages(kind: Kind, attribute: &str, send: bool) -> String {
    match (kind, send) {
        (Kind::Appointment, true) => format!(" {attribute}=\"SendToAllAndSaveCopy\""),
        (Kind::Appointment, false) => format!(" {attribute}=\"SendToNone\""),
        _ => String::new(),
    }
}

/// Whether a meeting's invitations go: "No invitation is sent if: The appointment is
/// in the past. / No attendees are invited." (the engine writes only as organizer).
pub fn invites(props: &Values, now: mailsync_core::Timestamp) -> bool {
    let attendees = ["RequiredAttendees", "OptionalAttendees"]
        .iter()
        .any(|a| props.get(*a).is_some_and(|v| !v.trim().is_empty()));
    let future = props
        .get("End")
        .and_then(|e| mailsync_core::Timestamp::parse(e))
        .is_some_and(|e| e.at > now);
    attendees && future
}

/// Changes one SyncFolderItems asks for (EWS allows 1 to 512).
pub const SYNC_PAGE: usize = 256;

/// One mailbox's EWS endpoint, credentials and impersonation.
pub struct Session<'a> {
    url: Url,
    creds: EwsAuth,
    as_user: Option<String>,
    tls: &'a Tls,
    timeouts: &'a Timeouts,
}

/// One SyncFolderItems answer.
#[derive(Debug, Clone, Default)]
pub struct SyncPage {
    pub state: String,
    /// `IncludesLastItemInRange`: nothing more to ask for now.
    pub last: bool,
    pub changes: Vec<Change>,
}

/// An item-level EWS error (`ResponseCode: MessageText`): that item alone failed.
pub type ItemError = String;

impl<'a> Session<'a> {
    pub fn new(
        url: &str,
        creds: impl Into<EwsAuth>,
        as_user: Option<&str>,
        tls: &'a Tls,
        timeouts: &'a Timeouts,
    ) -> Result<Session<'a>, Failure> {
        Ok(Session {
            url: Url::parse(url).map_err(|m| Failure::new(FailureKind::Protocol, "http", m))?,
            creds: creds.into(),
            as_user: as_user.map(str::to_string),
            tls,
            timeouts,
        })
    }

    /// Posts one operation; the answer's body when HTTP said 200.
    async fn call(&self, stage: &'static str, operation: String) -> Result<String, Failure> {
        let as_user = self.as_user.as_deref();
        let resp = http::post(
            &self.url,
            &request_headers(&self.creds, as_user),
            format!("{}{operation}{SOAP_TAIL}", soap_head(as_user)),
            self.tls,
            self.timeouts,
        )
        .await?;
        let body = String::from_utf8_lossy(&resp.body).into_owned();
        if resp.status != 200 {
            return Err(status_failure(&resp, &body, stage));
        }
        Ok(body)
    }

    /// The ID of the organization the mailbox synchronizes appointments, contacts and
    /// tasks with, `None` when none is recorded.
    /// One operation as written (tests: what Outlook does that the engine does not,
    /// such as a recurring series).
    #[cfg(test)]
    pub(crate) async fn raw(&self, operation: String) -> Result<String, Failure> {
        self.call("test", operation).await
    }

    pub async fn organization(&self) -> Result<Option<String>, Failure> {
        const STAGE: &str = "getuserconfiguration";
        let body = self
            .call(
                STAGE,
                format!(
                    "<m:GetUserConfiguration><m:UserConfigurationName Name=\"{ORG_CONFIGURATION}\">\
                     <t:DistinguishedFolderId Id=\"root\"/></m:UserConfigurationName>\
                     <m:UserConfigurationProperties>Dictionary</m:UserConfigurationProperties>\
                     </m:GetUserConfiguration>"
                ),
            )
            .await?;
        let doc = parse(&body, STAGE)?;
        let message = response_message(&doc, STAGE)?;
        if let Some(error) = message_error(message) {
            return if error.0 == "ErrorItemNotFound" {
                Ok(None)
            } else {
                Err(protocol(STAGE, error))
            };
        }
        let value = message
            .descendants()
            .filter(|n| n.has_tag_name((T, "DictionaryEntry")))
            .find(|e| {
                child(*e, "DictionaryKey")
                    .and_then(|k| child(k, "Value"))
                    .and_then(|v| v.text())
                    == Some(ORG_KEY)
            })
            .and_then(|e| child(e, "DictionaryValue"))
            .and_then(|v| child(v, "Value"))
            .and_then(|v| v.text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        Ok(value)
    }

    /// Records `org_id` as the mailbox's organization (`replace`: one is recorded
    /// already, the configuration is updated rather than created).
    pub async fn claim(&self, org_id: &str, replace: bool) -> Result<(), Failure> {
        const STAGE: &str = "userconfiguration";
        let op = if replace {
            "UpdateUserConfiguration"
        } else {
            "CreateUserConfiguration"
        };
        let body = self
            .call(
                STAGE,
                format!(
                    "<m:{op}><m:UserConfiguration><t:UserConfigurationName Name=\"{ORG_CONFIGURATION}\">\
                     <t:DistinguishedFolderId Id=\"root\"/></t:UserConfigurationName><t:Dictionary>\
                     <t:DictionaryEntry><t:DictionaryKey><t:Type>String</t:Type><t:Value>{ORG_KEY}</t:Value></t:DictionaryKey>\
                     <t:DictionaryValue><t:Type>String</t:Type><t:Value>{}</t:Value></t:DictionaryValue></t:DictionaryEntry>\
                     </t:Dictionary></m:UserConfiguration></m:{op}>",
                    xml_escape(org_id)
                ),
            )
            .await?;
        let doc = parse(&body, STAGE)?;
        match message_error(response_message(&doc, STAGE)?) {
            None => Ok(()),
            Some(e) => Err(protocol(STAGE, e)),
        }
    }

    /// The folder's changes since `state` (everything in it without one), at most
    /// [`SYNC_PAGE`]. A state Exchange no longer accepts is `Ok(None)`: start again.
    pub async fn sync(&self, kind: Kind, state: Option<&str>) -> Result<Option<SyncPage>, Failure> {
        const STAGE: &str = "syncfolderitems";
        let state = state
            .map(|s| format!("<m:SyncState>{}</m:SyncState>", xml_escape(s)))
            .unwrap_or_default();
        let body = self
            .call(
                STAGE,
                format!(
                    "<m:SyncFolderItems>{}\
                     <m:SyncFolderId><t:DistinguishedFolderId Id=\"{}\"/></m:SyncFolderId>{state}\
                     <m:MaxChangesReturned>{SYNC_PAGE}</m:MaxChangesReturned></m:SyncFolderItems>",
                    item_shape(),
                    kind.folder()
                ),
            )
            .await?;
        let doc = parse(&body, STAGE)?;
        let message = response_message(&doc, STAGE)?;
        if let Some(error) = message_error(message) {
            return if error.0 == "ErrorInvalidSyncStateData" {
                Ok(None)
            } else {
                Err(protocol(STAGE, error))
            };
        }
        let text = |name| child_m(message, name).and_then(|n| n.text()).unwrap_or("");
        let mut page = SyncPage {
            state: text("SyncState").trim().to_string(),
            last: text("IncludesLastItemInRange").trim() != "false",
            changes: Vec::new(),
        };
        if let Some(changes) = child_m(message, "Changes") {
            for change in changes.children().filter(|n| n.is_element()) {
                let name = change.tag_name().name();
                match name {
                    "Create" | "Update" => {
                        if let Some(node) = change.children().find(|n| n.is_element()) {
                            page.changes.push(Change::Upsert(read_item(kind, node)));
                        }
                    }
                    "Delete" => {
                        if let Some(id) = child(change, "ItemId").and_then(|i| i.attribute("Id")) {
                            page.changes.push(Change::Delete(id.to_string()));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(Some(page))
    }

    /// One item with all its properties (GetItem), `None` when it is gone.
    pub async fn get(&self, kind: Kind, id: &str) -> Result<Option<Item>, Failure> {
        Ok(self.get_many(kind, &[id]).await?.pop().flatten())
    }

    /// Several items with all their properties (one GetItem), in the order asked; `None`
    /// for one that is gone. SyncFolderItems "cannot return properties like Body or
    /// Attachments" (nor a meeting's attendees): the engine reads the items it reports
    /// again with this.
    pub async fn get_many(&self, kind: Kind, ids: &[&str]) -> Result<Vec<Option<Item>>, Failure> {
        const STAGE: &str = "getitem";
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let refs: String = ids
            .iter()
            .map(|id| format!("<t:ItemId Id=\"{}\"/>", xml_escape(id)))
            .collect();
        let body = self
            .call(
                STAGE,
                format!(
                    "<m:GetItem>{}<m:ItemIds>{refs}</m:ItemIds></m:GetItem>",
                    item_shape()
                ),
            )
            .await?;
        let doc = parse(&body, STAGE)?;
        let mut out = Vec::with_capacity(ids.len());
        for message in doc
            .descendants()
            .filter(|n| n.is_element() && n.attribute("ResponseClass").is_some())
        {
            match message_error(message) {
                Some((code, _)) if code == "ErrorItemNotFound" => out.push(None),
                Some(error) => return Err(protocol(STAGE, error)),
                None => out.push(
                    child_m(message, "Items")
                        .and_then(|items| items.children().find(|n| n.is_element()))
                        .map(|node| read_item(kind, node)),
                ),
            }
        }
        one_answer_each(STAGE, ids.len(), out.len())?;
        Ok(out)
    }

    /// Creates one item in the kind's folder with `categories`, as an Outlook user does
    /// (tracking with "Tracked to Dynamics 365"): the tests' stand-in for Outlook. The
    /// engine creates with [`Session::create_many`].
    #[cfg(test)]
    pub async fn create(
        &self,
        kind: Kind,
        props: &Values,
        categories: &[&str],
        marker: Option<&str>,
    ) -> Result<Result<(String, String), ItemError>, Failure> {
        const STAGE: &str = "createitem";
        let send = ["RequiredAttendees", "OptionalAttendees"]
            .iter()
            .any(|a| props.contains_key(*a));
        let body = self
            .call(
                STAGE,
                format!(
                    "<m:CreateItem MessageDisposition=\"SaveOnly\"{}><m:SavedItemFolderId>\
                     <t:DistinguishedFolderId Id=\"{}\"/></m:SavedItemFolderId><m:Items>{}</m:Items></m:CreateItem>",
                    meeting_messages(kind, "SendMeetingInvitations", send),
                    kind.folder(),
                    item_xml(kind, props, categories, marker)
                ),
            )
            .await?;
        item_id_answer(&body, STAGE)
    }

    /// Creates several items in the kind's folder with one CreateItem (each with its
    /// link marker): one answer per item, in order.
    /// `invite`: a calendar's meetings go to their attendees (see [`invites`]).
    pub async fn create_many(
        &self,
        kind: Kind,
        items: &[(&Values, String)],
        invite: bool,
    ) -> Result<Vec<Result<(String, String), ItemError>>, Failure> {
        const STAGE: &str = "createitem";
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let xml: String = items
            .iter()
            .map(|(props, marker)| item_xml(kind, props, &[], Some(marker)))
            .collect();
        let body = self
            .call(
                STAGE,
                format!(
                    "<m:CreateItem MessageDisposition=\"SaveOnly\"{}><m:SavedItemFolderId>\
                     <t:DistinguishedFolderId Id=\"{}\"/></m:SavedItemFolderId><m:Items>{xml}</m:Items></m:CreateItem>",
                    meeting_messages(kind, "SendMeetingInvitations", invite),
                    kind.folder(),
                ),
            )
            .await?;
        let doc = parse(&body, STAGE)?;
        let answers: Vec<_> = doc
            .descendants()
            .filter(|n| n.is_element() && n.attribute("ResponseClass").is_some())
            .map(|message| match message_error(message) {
                Some((code, text)) => Err(format!("{code}: {text}")),
                None => {
                    let id = message
                        .descendants()
                        .find(|n| n.has_tag_name((T, "ItemId")));
                    Ok((
                        id.and_then(|i| i.attribute("Id"))
                            .unwrap_or_default()
                            .to_string(),
                        id.and_then(|i| i.attribute("ChangeKey"))
                            .unwrap_or_default()
                            .to_string(),
                    ))
                }
            })
            .collect();
        one_answer_each(STAGE, items.len(), answers.len())?;
        Ok(answers)
    }

    /// Writes the record's values over the item's (`props`: each property set, or
    /// deleted when the record has none) and the link marker. `AutoResolve`: the
    /// organization's version wins a conflict. A meeting's update goes to its attendees
    /// when `send` (an organizer's change of a meeting in the future).
    #[allow(clippy::too_many_arguments)]
    pub async fn update(
        &self,
        kind: Kind,
        id: &str,
        change_key: &str,
        props: Option<&Values>,
        marker: Option<&str>,
        send: bool,
    ) -> Result<Result<(String, String), ItemError>, Failure> {
        const STAGE: &str = "updateitem";
        let mut updates = String::new();
        if let Some(m) = marker {
            updates.push_str(&format!(
                "<t:SetItemField>{}<t:{}>{}</t:{}></t:SetItemField>",
                marker_uri(),
                kind.element(),
                marker_xml(m),
                kind.element()
            ));
        }
        let no_props = Values::new();
        let props = props.unwrap_or(&no_props);
        let fields: &[Prop] = if props.is_empty() && marker.is_some() {
            &[]
        } else {
            kind.props()
        };
        for prop in fields.iter().filter(|p| p.updated()) {
            let uri = field_uri(prop);
            match props.get(prop.name) {
                Some(value) => updates.push_str(&format!(
                    "<t:SetItemField>{uri}<t:{}>{}</t:{}></t:SetItemField>",
                    kind.element(),
                    prop_xml(prop, value),
                    kind.element()
                )),
                // A meeting's start and end cannot be cleared.
                None if matches!(prop.name, "Start" | "End") => {}
                None => updates.push_str(&format!("<t:DeleteItemField>{uri}</t:DeleteItemField>")),
            }
        }
        let body = self
            .call(
                STAGE,
                format!(
                    "<m:UpdateItem MessageDisposition=\"SaveOnly\" ConflictResolution=\"AutoResolve\"{}>\
                     <m:ItemChanges><t:ItemChange><t:ItemId Id=\"{}\" ChangeKey=\"{}\"/>\
                     <t:Updates>{updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>",
                    meeting_messages(kind, "SendMeetingInvitationsOrCancellations", send),
                    xml_escape(id),
                    xml_escape(change_key)
                ),
            )
            .await?;
        item_id_answer(&body, STAGE)
    }

    /// Deletes an item (to Deleted Items, as Outlook does). One already gone is fine.
    /// A meeting's cancellation goes to its attendees (the engine deletes a meeting only
    /// as its organizer, in the future).
    pub async fn delete(&self, kind: Kind, id: &str) -> Result<Result<(), ItemError>, Failure> {
        const STAGE: &str = "deleteitem";
        let task = match kind {
            Kind::Task => " AffectedTaskOccurrences=\"AllOccurrences\"".to_string(),
            _ => meeting_messages(kind, "SendMeetingCancellations", true),
        };
        let body = self
            .call(
                STAGE,
                format!(
                    "<m:DeleteItem DeleteType=\"MoveToDeletedItems\"{task}><m:ItemIds>\
                     <t:ItemId Id=\"{}\"/></m:ItemIds></m:DeleteItem>",
                    xml_escape(id)
                ),
            )
            .await?;
        let doc = parse(&body, STAGE)?;
        Ok(match message_error(response_message(&doc, STAGE)?) {
            None => Ok(()),
            Some((code, _)) if code == "ErrorItemNotFound" => Ok(()),
            Some((code, text)) => Err(format!("{code}: {text}")),
        })
    }
}

/// A request naming several items is answered with one response message per item.
fn one_answer_each(stage: &'static str, asked: usize, answered: usize) -> Result<(), Failure> {
    if asked == answered {
        return Ok(());
    }
    Err(Failure::new(
        FailureKind::Protocol,
        stage,
        format!("{asked} items in the request, {answered} answers"),
    ))
}

fn parse<'i>(body: &'i str, stage: &'static str) -> Result<roxmltree::Document<'i>, Failure> {
    roxmltree::Document::parse(body).map_err(|e| {
        Failure::new(
            FailureKind::Protocol,
            stage,
            format!("not XML ({e}): {}", printable(body.as_bytes(), 200)),
        )
    })
}

/// The first `*ResponseMessage` of the answer.
fn response_message<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    stage: &'static str,
) -> Result<roxmltree::Node<'a, 'i>, Failure> {
    doc.descendants()
        .find(|n| n.is_element() && n.attribute("ResponseClass").is_some())
        .ok_or_else(|| {
            Failure::new(
                FailureKind::Protocol,
                stage,
                "no response message in the answer",
            )
        })
}

/// `(ResponseCode, MessageText)` of a message whose class is Error.
fn message_error(message: roxmltree::Node) -> Option<(String, String)> {
    if message.attribute("ResponseClass") != Some("Error") {
        return None;
    }
    let text = |name| {
        child_m(message, name)
            .and_then(|n| n.text())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    Some((text("ResponseCode"), text("MessageText")))
}

fn protocol(stage: &'static str, (code, text): (String, String)) -> Failure {
    // Exchange asking to come back later is the server being busy, not a fault.
    let kind = if code == "ErrorServerBusy" {
        FailureKind::Http(429)
    } else {
        FailureKind::Protocol
    };
    Failure::new(kind, stage, format!("{code}: {text}"))
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name((T, name)))
}

fn child_m<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name((M, name)))
}

/// The ItemId and ChangeKey a CreateItem or UpdateItem answered, or the item's error.
fn item_id_answer(
    body: &str,
    stage: &'static str,
) -> Result<Result<(String, String), ItemError>, Failure> {
    let doc = parse(body, stage)?;
    let message = response_message(&doc, stage)?;
    if let Some((code, text)) = message_error(message) {
        return Ok(Err(format!("{code}: {text}")));
    }
    let id = message
        .descendants()
        .find(|n| n.has_tag_name((T, "ItemId")))
        .ok_or_else(|| Failure::new(FailureKind::Protocol, stage, "no ItemId in the answer"))?;
    Ok(Ok((
        id.attribute("Id").unwrap_or_default().to_string(),
        id.attribute("ChangeKey").unwrap_or_default().to_string(),
    )))
}

/// An item element of the answer as core's [`Item`].
fn read_item(kind: Kind, node: roxmltree::Node) -> Item {
    let (id, change_key) = child(node, "ItemId")
        .map(|i| {
            (
                i.attribute("Id").unwrap_or_default().to_string(),
                i.attribute("ChangeKey").unwrap_or_default().to_string(),
            )
        })
        .unwrap_or_default();
    let mut props = Values::new();
    for prop in kind.props() {
        let value = match prop.entry {
            Some((collection, key)) => child(node, collection).and_then(|c| {
                c.children()
                    .find(|e| e.has_tag_name((T, "Entry")) && e.attribute("Key") == Some(key))
                    .and_then(|e| e.text())
            }),
            None => match prop.form {
                Form::Attendees | Form::Mailbox => {
                    let list: Vec<&str> = child(node, prop.name)
                        .map(|n| {
                            n.descendants()
                                .filter(|e| e.has_tag_name((T, "EmailAddress")))
                                .filter_map(|e| e.text())
                                .collect()
                        })
                        .unwrap_or_default();
                    let list = act::addresses(&list.join(";"));
                    if !list.is_empty() {
                        props.insert(prop.name.to_string(), list);
                    }
                    continue;
                }
                Form::Text | Form::OnCreate | Form::ReadOnly => {
                    child(node, prop.name).and_then(|n| n.text())
                }
            },
        };
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            props.insert(prop.name.to_string(), v.to_string());
        }
    }
    let categories = child(node, "Categories")
        .map(|c| {
            c.children()
                .filter(|s| s.has_tag_name((T, "String")))
                .filter_map(|s| s.text())
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    let marker = node
        .children()
        .filter(|n| n.has_tag_name((T, "ExtendedProperty")))
        .find(|p| {
            child(*p, "ExtendedFieldURI").is_some_and(|u| {
                u.attribute("PropertyName") == Some(MARKER_NAME)
                    && u.attribute("PropertySetId")
                        .is_some_and(|s| s.eq_ignore_ascii_case(MARKER_SET))
            })
        })
        .and_then(|p| child(p, "Value"))
        .and_then(|v| v.text())
        .map(|t| t.trim().to_string());
    Item {
        id,
        change_key,
        props,
        categories,
        marker,
    }
}

fn field_uri(prop: &Prop) -> String {
    match prop.entry {
        Some((_, key)) => format!(
            "<t:IndexedFieldURI FieldURI=\"{}\" FieldIndex=\"{key}\"/>",
            prop.uri
        ),
        None => format!("<t:FieldURI FieldURI=\"{}\"/>", prop.uri),
    }
}

fn categories_xml(categories: &[&str]) -> String {
    let list: String = categories
        .iter()
        .map(|c| format!("<t:String>{}</t:String>", xml_escape(c)))
        .collect();
    format!("<t:Categories>{list}</t:Categories>")
}

/// One property as the child of an item element.
fn prop_xml(prop: &Prop, value: &str) -> String {
    let v = xml_escape(value);
    match prop.entry {
        Some((collection, key)) => {
            format!("<t:{collection}><t:Entry Key=\"{key}\">{v}</t:Entry></t:{collection}>")
        }
        None if prop.name == "Body" => format!("<t:Body BodyType=\"Text\">{v}</t:Body>"),
        None if prop.form == Form::Attendees => {
            let list: String = act::addresses(value)
                .split(';')
                .filter(|a| !a.is_empty())
                .map(|a| {
                    format!(
                        "<t:Attendee><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox></t:Attendee>",
                        xml_escape(a)
                    )
                })
                .collect();
            format!("<t:{0}>{list}</t:{0}>", prop.name)
        }
        None => format!("<t:{0}>{v}</t:{0}>", prop.name),
    }
}

/// A whole item element, its properties in the schema's order (the entries of one
/// collection together, where the first of them stands).
fn item_xml(kind: Kind, props: &Values, categories: &[&str], marker: Option<&str>) -> String {
    let mut xml = format!("<t:{}>", kind.element());
    let mut done: Vec<&str> = Vec::new();
    let mut categorized = categories.is_empty();
    // ExtendedProperty stands after Item's own properties, before the type's.
    let mut marked = marker.is_none();
    for prop in kind.props().iter().filter(|p| p.created()) {
        if !marked && !prop.uri.starts_with("item:") {
            if !categorized {
                categorized = true;
                xml.push_str(&categories_xml(categories));
            }
            marked = true;
            xml.push_str(&marker_xml(marker.unwrap_or_default()));
        }
        // Item's Categories stand after its Subject and Body, before the rest.
        if !categorized && !matches!(prop.name, "Subject" | "Body") {
            categorized = true;
            xml.push_str(&categories_xml(categories));
        }
        match prop.entry {
            Some((collection, _)) => {
                if done.contains(&collection) {
                    continue;
                }
                done.push(collection);
                let entries: String = kind
                    .props()
                    .iter()
                    .filter(|p| p.entry.is_some_and(|(c, _)| c == collection))
                    .filter_map(|p| {
                        props.get(p.name).map(|v| {
                            format!("<t:Entry Key=\"{}\">{}</t:Entry>", p.name, xml_escape(v))
                        })
                    })
                    .collect();
                if !entries.is_empty() {
                    xml.push_str(&format!("<t:{collection}>{entries}</t:{collection}>"));
                }
            }
            None => {
                if let Some(v) = props.get(prop.name) {
                    xml.push_str(&prop_xml(prop, v));
                }
            }
        }
    }
    if !categorized {
        xml.push_str(&categories_xml(categories));
    }
    if let (false, Some(m)) = (marked, marker) {
        xml.push_str(&marker_xml(m));
    }
    xml.push_str(&format!("</t:{}>", kind.element()));
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_written_in_schema_order_and_read_back() {
        let props: Values = [
            ("Surname", "Lee"),
            ("GivenName", "Ann & Co"),
            ("EmailAddress2", "b@x.test"),
            ("EmailAddress1", "a@x.test"),
            ("MobilePhone", "555"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let xml = item_xml(Kind::Contact, &props, &[], None);
        assert_eq!(
            xml,
            "<t:Contact><t:GivenName>Ann &amp; Co</t:GivenName><t:EmailAddresses>\
             <t:Entry Key=\"EmailAddress1\">a@x.test</t:Entry><t:Entry Key=\"EmailAddress2\">b@x.test</t:Entry>\
             </t:EmailAddresses><t:PhoneNumbers><t:Entry Key=\"MobilePhone\">555</t:Entry></t:PhoneNumbers>\
             <t:Surname>Lee</t:Surname></t:Contact>"
        );
        let doc = format!(
            "<r xmlns:t=\"{T}\"><t:Contact><t:ItemId Id=\"i1\" ChangeKey=\"k1\"/>\
             <t:Categories><t:String>Tracked to Dynamics 365</t:String></t:Categories>{}</t:Contact></r>",
            &xml["<t:Contact>".len()..xml.len() - "</t:Contact>".len()]
        );
        let doc = roxmltree::Document::parse(&doc).unwrap();
        let node = doc.root_element().first_element_child().unwrap();
        let item = read_item(Kind::Contact, node);
        assert_eq!((item.id.as_str(), item.change_key.as_str()), ("i1", "k1"));
        assert!(item.tracked());
        assert_eq!(item.props, props);
    }
}
