"""Self-test of the fake EWS's calendar, contacts, tasks and user configurations
(scripts/smtp_ews.py), against the running servers: `bash scripts/mailservers.sh start`,
then `python3 scripts/smtp_ews_selftest.py`. Stdlib only; it speaks EWS SOAP over HTTPS
as a client would, as the impersonator (svc) on two fresh act-<random> mailboxes, and
stops at the first failed assertion (exit status 1). It leaves the test users' own
calendars as it found them.
"""

import base64
import http.client
import os
import re
import ssl
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "{" + NS_T + "}"
M = "{" + NS_M + "}"

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = Path(os.environ.get("MAILSERVERS_DIR", ROOT / "target" / "mailservers")) / "env"
env = {}
for line in ENV_FILE.read_text().splitlines():
    if "=" in line and not line.startswith("#"):
        k, _, v = line.partition("=")
        env[k] = v
HOST, PORT, DOMAIN = env["MAIL_HOST"], int(env["MAIL_EWS_PORT"]), env["MAIL_DOMAIN"]
SVC = env["MAIL_IMPERSONATOR"].split(",")[0]
SVC_PW = env[f"MAIL_PASSWORD_{SVC.upper()}"]
TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE

RUN = os.urandom(4).hex()
A = f"act-{RUN}-alice@{DOMAIN}"
B = f"act-{RUN}-bob@{DOMAIN}"
EXTERNAL = f"act-{RUN}-someone@external.example"  # an act-* local part: a mailbox here too
OUTSIDER = f"nobody-{RUN}@external.example"
LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def post(body: str, as_user=None, login=SVC, password=SVC_PW, anchor=None, raw=None):
    """(HTTP status, parsed envelope) of one EWS request."""
    header = '<t:RequestServerVersion Version="Exchange2013"/>'
    if as_user:
        header += (f"<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{as_user}"
                   "</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>")
    data = raw if raw is not None else (
        f'<?xml version="1.0" encoding="utf-8"?>\n<soap:Envelope xmlns:soap="{NS_SOAP}" xmlns:t="{NS_T}" '
        f'xmlns:m="{NS_M}"><soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>'
    ).encode()
    headers = {"Content-Type": "text/xml; charset=utf-8",
               "Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}
    if as_user or anchor:
        headers["X-AnchorMailbox"] = anchor if anchor is not None else as_user
    conn = http.client.HTTPSConnection(HOST, PORT, context=TLS, timeout=30)
    try:
        conn.request("POST", "/EWS/Exchange.asmx", data, headers)
        resp = conn.getresponse()
        text = resp.read()
    finally:
        conn.close()
    return resp.status, ET.fromstring(text)


def call(op: str, body: str, as_user=None, **kw):
    """The response messages of a successful HTTP exchange."""
    status, root = post(body, as_user, **kw)
    check(status == 200, f"{op}: HTTP {status}: {ET.tostring(root).decode()[:500]}")
    msgs = root.findall(f".//{M}{op}Response/{M}ResponseMessages/{M}{op}ResponseMessage")
    check(msgs, f"{op}: no response message")
    return msgs


def fault(body: str, as_user=None, **kw):
    """(faultstring, ResponseCode or '') of a request the server must refuse with a SOAP fault."""
    status, root = post(body, as_user, **kw)
    check(status == 500, f"expected a SOAP fault, got HTTP {status}")
    f = root.find(f".//{{{NS_SOAP}}}Fault")
    check(f is not None, "no s:Fault")
    code = root.findtext(".//{http://schemas.microsoft.com/exchange/services/2006/errors}ResponseCode") or ""
    return f.findtext("faultstring"), code


def success(msg, what):
    check(msg.get("ResponseClass") == "Success",
          f"{what}: {msg.findtext(M + 'ResponseCode')} {msg.findtext(M + 'MessageText')}")


def error(msg, code, what, text=None):
    check(msg.get("ResponseClass") == "Error" and msg.findtext(M + "ResponseCode") == code,
          f"{what}: expected {code}, got {msg.get('ResponseClass')} {msg.findtext(M + 'ResponseCode')}")
    if text is not None:
        check(msg.findtext(M + "MessageText") == text, f"{what}: text {msg.findtext(M + 'MessageText')!r}")


def create(mb, folder, item, attrs=""):
    msgs = call("CreateItem", f'<m:CreateItem {attrs}><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/>'
                f"</m:SavedItemFolderId><m:Items>{item}</m:Items></m:CreateItem>", mb)
    check(len(msgs) == 1, "CreateItem: one message")
    return msgs[0]


def created(mb, folder, item, attrs=""):
    msg = create(mb, folder, item, attrs)
    success(msg, f"CreateItem in {folder}")
    ref = msg.find(f"{M}Items/*/{T}ItemId")
    check(ref is not None and ref.get("Id") and ref.get("ChangeKey"), "CreateItem: ItemId Id ChangeKey")
    return ref.get("Id"), ref.get("ChangeKey")


def get(mb, *ids):
    refs = "".join(f'<t:ItemId Id="{i}"/>' for i in ids)
    return call("GetItem", "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
                f"<m:ItemIds>{refs}</m:ItemIds></m:GetItem>", mb)


def item(mb, item_id):
    msg = get(mb, item_id)[0]
    success(msg, "GetItem")
    items = msg.find(M + "Items")
    check(len(items) == 1, "GetItem: one item")
    element = items[0]
    check(element[0].tag == T + "ItemId" and element[0].get("Id") == item_id, "GetItem: ItemId first")
    return element


def update(mb, item_id, change_key, updates, attrs=""):
    key = f' ChangeKey="{change_key}"' if change_key else ""
    return call("UpdateItem", f"<m:UpdateItem {attrs}><m:ItemChanges><t:ItemChange>"
                f'<t:ItemId Id="{item_id}"{key}/><t:Updates>{updates}</t:Updates>'
                "</t:ItemChange></m:ItemChanges></m:UpdateItem>", mb)[0]


def updated(mb, item_id, change_key, updates, attrs=""):
    msg = update(mb, item_id, change_key, updates, attrs)
    success(msg, "UpdateItem")
    ref = msg.find(f"{M}Items/*/{T}ItemId")
    check(ref.get("Id") == item_id and ref.get("ChangeKey") != change_key, "UpdateItem: new ChangeKey")
    return ref.get("ChangeKey")


def delete(mb, item_id, attrs='DeleteType="HardDelete"'):
    return call("DeleteItem", f'<m:DeleteItem {attrs}><m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds>'
                "</m:DeleteItem>", mb)[0]


def sync(mb, folder, state=None, limit=512, expect_ok=True):
    """(new state, includes last, [(Create|Update|Delete, item id, element)])."""
    s = f"<m:SyncState>{state}</m:SyncState>" if state is not None else ""
    msg = call("SyncFolderItems", "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
               f'<m:SyncFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SyncFolderId>{s}'
               f"<m:MaxChangesReturned>{limit}</m:MaxChangesReturned></m:SyncFolderItems>", mb)[0]
    if not expect_ok:
        return msg
    success(msg, f"SyncFolderItems {folder}")
    changes = []
    for c in msg.find(M + "Changes"):
        kind = c.tag[len(T):]
        if kind == "Delete":
            changes.append((kind, c.find(T + "ItemId").get("Id"), None))
        else:
            element = c[0]
            check(element[0].tag == T + "ItemId", "sync: ItemId first")
            changes.append((kind, element[0].get("Id"), element))
    last = msg.findtext(M + "IncludesLastItemInRange")
    check(last in ("true", "false"), "IncludesLastItemInRange")
    state = msg.findtext(M + "SyncState")
    check(state, "SyncState")
    return state, last == "true", changes


def contact(given, surname, email=None):
    mail = (f'<t:EmailAddresses><t:Entry Key="EmailAddress1">{email}</t:Entry></t:EmailAddresses>'
            if email else "")
    return (f"<t:Contact><t:FileAs>{surname}, {given}</t:FileAs><t:GivenName>{given}</t:GivenName>"
            f"<t:CompanyName>Contoso</t:CompanyName>{mail}<t:JobTitle>Clerk</t:JobTitle>"
            f"<t:Surname>{surname}</t:Surname></t:Contact>")


def meeting(subject, attendees=(), optional=()):
    def people(tag, addresses):
        if not addresses:
            return ""
        inner = "".join(f"<t:Attendee><t:Mailbox><t:EmailAddress>{a}</t:EmailAddress></t:Mailbox></t:Attendee>"
                        for a in addresses)
        return f"<t:{tag}>{inner}</t:{tag}>"
    return (f'<t:CalendarItem><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">Agenda &amp; notes</t:Body>'
            "<t:Start>2026-12-10T09:00:00Z</t:Start><t:End>2026-12-10T10:00:00Z</t:End>"
            f"<t:Location>Room 1</t:Location>{people('RequiredAttendees', attendees)}"
            f"{people('OptionalAttendees', optional)}</t:CalendarItem>")


def set_field(uri, kind, element):
    return f'<t:SetItemField><t:FieldURI FieldURI="{uri}"/><t:{kind}>{element}</t:{kind}></t:SetItemField>'


def total(mb, folder, **kw):
    msg = call("GetFolder", "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
               f'<m:FolderIds><t:DistinguishedFolderId Id="{folder}"/></m:FolderIds></m:GetFolder>', mb, **kw)[0]
    success(msg, f"GetFolder {folder}")
    return int(msg.findtext(f".//{T}TotalCount"))


def main():
    print(f"fake EWS at https://{HOST}:{PORT}, mailboxes {A} and {B}")

    # -- impersonation ---------------------------------------------------------------
    body = ("<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
            '<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>')
    _, code = fault(body, A, login="alice", password=env["MAIL_PASSWORD_ALICE"])
    check(code == "ErrorImpersonateUserDenied", f"alice impersonating: {code}")
    _, code = fault(body, A, anchor="")
    check(code == "ErrorInvalidRequest", f"no X-AnchorMailbox: {code}")
    _, code = fault(body, OUTSIDER)
    check(code == "ErrorNonExistentMailbox", f"unknown mailbox: {code}")
    print("ok: impersonation (svc only, X-AnchorMailbox, unknown mailbox)")

    # -- folders -----------------------------------------------------------------------
    msgs = call("GetFolder", "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
                '<m:FolderIds><t:DistinguishedFolderId Id="calendar"/><t:DistinguishedFolderId Id="contacts"/>'
                '<t:DistinguishedFolderId Id="tasks"/><t:DistinguishedFolderId Id="inbox"/></m:FolderIds>'
                "</m:GetFolder>", A)
    check([m.find(f"{M}Folders")[0].tag[len(T):] for m in msgs]
          == ["CalendarFolder", "ContactsFolder", "TasksFolder", "Folder"], "GetFolder: folder elements")
    for m in msgs:
        success(m, "GetFolder")
        check(m.findtext(f".//{T}TotalCount") == "0", "GetFolder: empty")
    calendar_folder_id = msgs[0].find(f".//{T}FolderId").get("Id")
    msg = call("GetFolder", "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
               f'<m:FolderIds><t:FolderId Id="{calendar_folder_id}"/></m:FolderIds></m:GetFolder>', A)[0]
    check(msg.find(f".//{T}CalendarFolder") is not None, "GetFolder by FolderId")
    own = total(None, "calendar", login="alice", password=env["MAIL_PASSWORD_ALICE"])
    print("ok: GetFolder calendar/contacts/tasks/inbox, by FolderId, a test user's own calendar")

    # -- first syncs, creates ----------------------------------------------------------------
    states = {}
    for folder in ("calendar", "contacts", "tasks"):
        states[folder], last, changes = sync(A, folder)
        check(last and changes == [], f"first sync of empty {folder}")
    c1, c1_key = created(A, "contacts", contact("Ann", "Lee", "ann@example.com"))
    t1, t1_key = created(A, "tasks", "<t:Task><t:Subject>Call back</t:Subject><t:DueDate>2026-12-12T00:00:00Z"
                         "</t:DueDate><t:Status>NotStarted</t:Status></t:Task>")
    a1, a1_key = created(A, "calendar", meeting("Alone"), 'SendMeetingInvitations="SendToNone"')
    check(len({c1, t1, a1}) == 3, "distinct ids")
    error(create(A, "calendar", meeting("No attribute")), "ErrorSendMeetingInvitationsRequired",
          "calendar item without SendMeetingInvitations")
    error(create(A, "calendar", contact("X", "Y")), "ErrorCannotCreateContactInNonContactFolder",
          "contact in the calendar")
    check(total(A, "contacts") == 1 and total(A, "calendar") == 1 and total(A, "tasks") == 1, "TotalCount 1")
    print("ok: CreateItem in calendar, contacts, tasks (and its errors)")

    # -- GetItem ------------------------------------------------------------------------
    e = item(A, c1)
    check(e.tag == T + "Contact" and e.findtext(T + "GivenName") == "Ann"
          and e.findtext(f"{T}EmailAddresses/{T}Entry") == "ann@example.com", "GetItem contact")
    check(LAST_MODIFIED.match(e.findtext(T + "LastModifiedTime") or ""), "LastModifiedTime")
    e = item(A, a1)
    check(e.tag == T + "CalendarItem" and e.findtext(T + "UID") and e.findtext(T + "Body") == "Agenda & notes",
          "GetItem calendar item: UID, body")
    check(e.findtext(f"{T}Organizer/{T}Mailbox/{T}EmailAddress") == A, "organizer = the mailbox")
    e = item(A, t1)
    check(e.tag == T + "Task" and e.findtext(T + "Status") == "NotStarted", "GetItem task")
    msgs = get(A, c1, "AAAAbm9wZQ==")
    success(msgs[0], "GetItem good")
    error(msgs[1], "ErrorItemNotFound", "GetItem unknown", "The specified object was not found in the store.")
    error(get(B, c1)[0], "ErrorItemNotFound", "GetItem of another mailbox's item")
    print("ok: GetItem (all properties, ItemId first, UID, Organizer, LastModifiedTime; unknown id)")

    # -- sync: creates, no state ----------------------------------------------------------
    _, last, changes = sync(A, "contacts")
    check(last and [(k, i) for k, i, _ in changes] == [("Create", c1)], "sync without state: everything")
    check(changes[0][2].findtext(T + "JobTitle") == "Clerk", "sync: whole item")
    states["contacts"], last, changes = sync(A, "contacts", states["contacts"])
    check(last and [(k, i) for k, i, _ in changes] == [("Create", c1)], "sync from state: the create")
    s, last, changes = sync(A, "contacts", states["contacts"])
    check(last and changes == [], "sync again: nothing")
    print("ok: SyncFolderItems creates, from no state and from a state")

    # -- update ---------------------------------------------------------------------------
    c1_key2 = updated(A, c1, c1_key,
                      set_field("contacts:JobTitle", "Contact", "<t:JobTitle>Manager</t:JobTitle>")
                      + '<t:SetItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/>'
                      '<t:Contact><t:EmailAddresses><t:Entry Key="EmailAddress1">ann.lee@example.com</t:Entry>'
                      "</t:EmailAddresses></t:Contact></t:SetItemField>"
                      '<t:SetItemField><t:IndexedFieldURI FieldURI="contacts:PhoneNumber" FieldIndex="BusinessPhone"/>'
                      '<t:Contact><t:PhoneNumbers><t:Entry Key="BusinessPhone">+1 555 0100</t:Entry>'
                      "</t:PhoneNumbers></t:Contact></t:SetItemField>"
                      '<t:DeleteItemField><t:FieldURI FieldURI="contacts:CompanyName"/></t:DeleteItemField>')
    e = item(A, c1)
    names = [child.tag[len(T):] for child in e]
    check(e.findtext(T + "JobTitle") == "Manager" and e.find(T + "CompanyName") is None
          and e.findtext(f"{T}EmailAddresses/{T}Entry[@Key='EmailAddress1']") == "ann.lee@example.com"
          and e.findtext(f"{T}PhoneNumbers/{T}Entry[@Key='BusinessPhone']") == "+1 555 0100", "contact updated")
    check(names.index("PhoneNumbers") < names.index("JobTitle") < names.index("Surname"), "schema order kept")
    states["contacts"], last, changes = sync(A, "contacts", states["contacts"])
    check(last and [(k, i) for k, i, _ in changes] == [("Update", c1)]
          and changes[0][2].findtext(T + "JobTitle") == "Manager", "sync shows the Update")
    error(update(A, c1, c1_key, set_field("contacts:JobTitle", "Contact", "<t:JobTitle>Old</t:JobTitle>"),
                 'ConflictResolution="NeverOverwrite"'), "ErrorIrresolvableConflict", "stale ChangeKey",
          "The operation can't be performed because the item is out of date. Reload the item and try again.")
    check(item(A, c1).findtext(T + "JobTitle") == "Manager", "refused update changed nothing")
    error(update(A, c1, None, set_field("contacts:JobTitle", "Contact", "<t:JobTitle>X</t:JobTitle>")),
          "ErrorChangeKeyRequiredForWriteOperations", "update without ChangeKey")
    error(update(A, "AAAAbm9wZQ==", "AAAA", set_field("item:Subject", "Contact", "<t:Subject>x</t:Subject>")),
          "ErrorItemNotFound", "update of an unknown id")
    error(update(A, a1, a1_key, set_field("item:Subject", "CalendarItem", "<t:Subject>x</t:Subject>")),
          "ErrorSendMeetingInvitationsOrCancellationsRequired", "calendar update without the attribute")
    updated(A, c1, c1_key2, set_field("contacts:Surname", "Contact", "<t:Surname>Lee-Park</t:Surname>"),
                      'ConflictResolution="NeverOverwrite"')
    updated(A, t1, t1_key, set_field("task:Status", "Task", "<t:Status>Completed</t:Status>")
                      + set_field("task:PercentComplete", "Task", "<t:PercentComplete>100</t:PercentComplete>"))
    check(item(A, t1).findtext(T + "Status") == "Completed", "task updated")
    updated(A, a1, a1_key, set_field("calendar:Location", "CalendarItem", "<t:Location>Room 2</t:Location>"),
                      'SendMeetingInvitationsOrCancellations="SendToNone"')
    print("ok: UpdateItem (FieldURI, IndexedFieldURI, DeleteItemField; NeverOverwrite conflict; errors)")

    # -- delete ----------------------------------------------------------------------------
    success(delete(A, c1), "DeleteItem contact")
    error(delete(A, c1), "ErrorItemNotFound", "DeleteItem again")
    states["contacts"], last, changes = sync(A, "contacts", states["contacts"])
    check(last and [(k, i) for k, i, _ in changes] == [("Delete", c1)], f"sync shows the Delete: {changes}")
    error(delete(A, t1), "ErrorAffectedTaskOccurrencesRequired", "task delete without AffectedTaskOccurrences")
    error(delete(A, a1), "ErrorSendMeetingCancellationsRequired", "calendar delete without SendMeetingCancellations")
    fault(f'<m:DeleteItem><m:ItemIds><t:ItemId Id="{t1}"/></m:ItemIds></m:DeleteItem>', A)
    success(delete(A, t1, 'DeleteType="MoveToDeletedItems" AffectedTaskOccurrences="AllOccurrences"'), "task")
    success(delete(A, a1, 'DeleteType="HardDelete" SendMeetingCancellations="SendToNone"'), "appointment")
    for folder in ("tasks", "calendar"):
        states[folder], last, changes = sync(A, folder, states[folder])
        check(last and changes == [], f"{folder}: created, updated and deleted since the state: nothing")
    print("ok: DeleteItem (and its errors); sync Delete; created+deleted between syncs shows nothing")

    # -- create + delete / create + update between syncs -----------------------------------------
    gone, _ = created(A, "contacts", contact("Gone", "Soon"))
    success(delete(A, gone), "delete")
    c2, c2_key = created(A, "contacts", contact("Bea", "Kim"))
    updated(A, c2, c2_key, set_field("contacts:JobTitle", "Contact", "<t:JobTitle>Chief</t:JobTitle>"))
    states["contacts"], last, changes = sync(A, "contacts", states["contacts"])
    check(last and [(k, i) for k, i, _ in changes] == [("Create", c2)]
          and changes[0][2].findtext(T + "JobTitle") == "Chief", "create+delete: nothing; create+update: Create")
    print("ok: created+deleted shows nothing, created+updated one Create of the latest version")

    # -- paging -----------------------------------------------------------------------------
    x, x_key = created(A, "contacts", contact("X", "One"))
    y, _ = created(A, "contacts", contact("Y", "Two"))
    z, z_key = created(A, "contacts", contact("Z", "Three"))
    state, last, changes = sync(A, "contacts", states["contacts"], limit=1)
    check(not last and [(k, i) for k, i, _ in changes] == [("Create", x)], f"page 1: {changes}")
    updated(A, x, x_key, set_field("contacts:JobTitle", "Contact", "<t:JobTitle>X2</t:JobTitle>"))
    updated(A, z, z_key, set_field("contacts:JobTitle", "Contact", "<t:JobTitle>Z2</t:JobTitle>"))
    pages = []
    while True:
        state, last, changes = sync(A, "contacts", state, limit=1)
        check(len(changes) <= 1, "at most MaxChangesReturned")
        pages += [(k, i, e.findtext(T + "JobTitle") if e is not None else None) for k, i, e in changes]
        if last:
            break
        check(len(pages) < 10, "paging ends")
    check(pages == [("Create", y, "Clerk"), ("Create", z, "Z2"), ("Update", x, "X2")], f"pages: {pages}")
    states["contacts"] = state
    for bad in (0, 513, "x"):
        fault("<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
              '<m:SyncFolderId><t:DistinguishedFolderId Id="contacts"/></m:SyncFolderId>'
              f"<m:MaxChangesReturned>{bad}</m:MaxChangesReturned></m:SyncFolderItems>", A)
    print("ok: paging with MaxChangesReturned=1 and IncludesLastItemInRange; bad MaxChangesReturned refused")

    # -- invalid sync states ------------------------------------------------------------
    for mb, folder, bad in ((A, "contacts", "garbage!"), (A, "contacts", base64.b64encode(b"junk").decode()),
                            (A, "tasks", states["contacts"]), (B, "contacts", states["contacts"])):
        msg = sync(mb, folder, bad, expect_ok=False)
        error(msg, "ErrorInvalidSyncStateData", f"bad state for {folder}",
              "Synchronization state data is corrupt or otherwise invalid.")
        check(msg.findtext(M + "SyncState") in ("", None) and msg.findtext(M + "IncludesLastItemInRange") == "true",
              "empty SyncState, IncludesLastItemInRange true")
    print("ok: ErrorInvalidSyncStateData for garbage, another folder's and another mailbox's states")

    # -- meetings ---------------------------------------------------------------------------
    b_state, _, changes = sync(B, "calendar")
    check(changes == [], "B's calendar empty")
    m1, m1_key = created(A, "calendar", meeting("Budget", [B, OUTSIDER], [EXTERNAL]),
                         'SendMeetingInvitations="SendToAllAndSaveCopy"')
    uid = item(A, m1).findtext(T + "UID")
    b_state, last, changes = sync(B, "calendar", b_state)
    check(len(changes) == 1 and changes[0][0] == "Create", f"B got the invitation: {changes}")
    b_copy, b_elem = changes[0][1], changes[0][2]
    check(b_copy != m1 and b_elem.findtext(T + "UID") == uid
          and b_elem.findtext(f"{T}Organizer/{T}Mailbox/{T}EmailAddress") == A
          and b_elem.findtext(T + "Subject") == "Budget", "B's copy: same UID and organizer, own id")
    check(total(EXTERNAL, "calendar") == 1, "the optional act-* attendee got one too")
    m1_key = updated(A, m1, m1_key, set_field("calendar:Location", "CalendarItem", "<t:Location>Room 9</t:Location>"),
                     'SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy"')
    b_state, last, changes = sync(B, "calendar", b_state)
    check([(k, i) for k, i, _ in changes] == [("Update", b_copy)]
          and changes[0][2].findtext(T + "Location") == "Room 9", f"B's copy updated: {changes}")
    m1_key = updated(A, m1, m1_key, set_field("calendar:Location", "CalendarItem", "<t:Location>Room 7</t:Location>"),
                     'SendMeetingInvitationsOrCancellations="SendToNone"')
    b_state, last, changes = sync(B, "calendar", b_state)
    check(changes == [], "update not sent: B's copy unchanged")
    m2, _ = created(A, "calendar", meeting("Quiet", [B]), 'SendMeetingInvitations="SendToNone"')
    b_state, last, changes = sync(B, "calendar", b_state)
    check(changes == [], "SendToNone: no copy")
    success(delete(A, m1, 'DeleteType="HardDelete" SendMeetingCancellations="SendToAllAndSaveCopy"'), "cancel")
    b_state, last, changes = sync(B, "calendar", b_state)
    check([(k, i) for k, i, _ in changes] == [("Delete", b_copy)], f"cancellation removed B's copy: {changes}")
    check(total(EXTERNAL, "calendar") == 0, "and the other attendee's")
    # An attendee added gets a copy; removed, loses it. A test user is a mailbox too.
    m3, m3_key = created(A, "calendar", meeting("Review", [B]), 'SendMeetingInvitations="SendOnlyToAll"')
    b_state, last, changes = sync(B, "calendar", b_state)
    check([k for k, _, _ in changes] == ["Create"], "B invited to the review")
    alice = f"alice@{DOMAIN}"
    m3_key = updated(A, m3, m3_key, set_field("calendar:RequiredAttendees", "CalendarItem",
                                              "<t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>"
                                              f"{alice.upper()}</t:EmailAddress></t:Mailbox></t:Attendee>"
                                              "</t:RequiredAttendees>"),
                     'SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy"')
    b_state, last, changes = sync(B, "calendar", b_state)
    check([k for k, _, _ in changes] == ["Delete"], f"B removed from the review: {changes}")
    alice_login = dict(login="alice", password=env["MAIL_PASSWORD_ALICE"])
    check(total(None, "calendar", **alice_login) == own + 1, "alice (a test user) got the review")
    success(delete(A, m3, 'DeleteType="SoftDelete" SendMeetingCancellations="SendOnlyToAll"'), "cancel review")
    check(total(None, "calendar", **alice_login) == own, "and lost it on cancellation")
    success(delete(A, m2, 'DeleteType="HardDelete" SendMeetingCancellations="SendToNone"'), "delete quiet")
    print("ok: meeting copies to attendees (same UID/organizer), updates, cancellations, attendee changes")

    # -- user configuration ----------------------------------------------------------------
    def config(verb, inner, mb=A):
        return call(f"{verb}UserConfiguration", f"<m:{verb}UserConfiguration>{inner}</m:{verb}UserConfiguration>",
                    mb)[0]

    name = '<t:DistinguishedFolderId Id="root"/>'

    def entry(key, value):
        return (f"<t:DictionaryEntry><t:DictionaryKey><t:Type>String</t:Type><t:Value>{key}</t:Value>"
                f"</t:DictionaryKey><t:DictionaryValue><t:Type>String</t:Type><t:Value>{value}</t:Value>"
                "</t:DictionaryValue></t:DictionaryEntry>")

    def full(value):
        return (f'<m:UserConfiguration><t:UserConfigurationName Name="Mailsync.Act">{name}</t:UserConfigurationName>'
                f"<t:Dictionary>{entry('OrganizationId', value)}</t:Dictionary></m:UserConfiguration>")

    def get_config(props="Dictionary", mb=A):
        return config("Get", f'<m:UserConfigurationName Name="Mailsync.Act">{name}</m:UserConfigurationName>'
                      f"<m:UserConfigurationProperties>{props}</m:UserConfigurationProperties>", mb)

    error(get_config(), "ErrorItemNotFound", "missing configuration")
    success(config("Create", full("org-1")), "CreateUserConfiguration")
    error(config("Create", full("org-2")), "ErrorItemSave", "duplicate", "An object with this name already exists.")
    msg = get_config()
    success(msg, "GetUserConfiguration")
    uc = msg.find(M + "UserConfiguration")
    check(uc.find(T + "UserConfigurationName").get("Name") == "Mailsync.Act"
          and uc.findtext(f"{T}Dictionary/{T}DictionaryEntry/{T}DictionaryKey/{T}Value") == "OrganizationId"
          and uc.findtext(f"{T}Dictionary/{T}DictionaryEntry/{T}DictionaryValue/{T}Value") == "org-1"
          and uc.find(T + "ItemId") is None, "dictionary read back")
    success(config("Update", full("org-3")), "UpdateUserConfiguration")
    uc = get_config("All").find(M + "UserConfiguration")
    check(uc.findtext(f".//{T}DictionaryValue/{T}Value") == "org-3" and uc.find(T + "ItemId") is not None,
          "updated; All has the ItemId")
    error(get_config(mb=B), "ErrorItemNotFound", "per mailbox")
    success(config("Delete", f'<m:UserConfigurationName Name="Mailsync.Act">{name}</m:UserConfigurationName>'), "delete")
    error(get_config(), "ErrorItemNotFound", "deleted")
    error(config("Update", full("org-4")), "ErrorItemNotFound", "update of a missing one")
    fault("<m:GetUserConfiguration><m:UserConfigurationName Name=\"x\"><t:DistinguishedFolderId Id=\"root\"/>"
          "</m:UserConfigurationName></m:GetUserConfiguration>", A)
    print("ok: user configuration create/get/update/delete, duplicate, missing, per mailbox")

    # -- extended properties, address parts, nil dictionary values ----------------------
    ext = ('<t:ExtendedFieldURI PropertySetId="00020329-0000-0000-C000-000000000046" PropertyName="OrgId" '
           'PropertyType="String"/>')
    c3, c3_key = created(A, "contacts", contact("Eve", "Ng"))
    c3_key = updated(A, c3, c3_key, f"<t:SetItemField>{ext}<t:Contact><t:ExtendedProperty>{ext}"
                     "<t:Value>org-9</t:Value></t:ExtendedProperty></t:Contact></t:SetItemField>"
                     '<t:SetItemField><t:IndexedFieldURI FieldURI="contacts:PhysicalAddress:City" FieldIndex="Business"/>'
                     '<t:Contact><t:PhysicalAddresses><t:Entry Key="Business"><t:City>Oslo</t:City></t:Entry>'
                     "</t:PhysicalAddresses></t:Contact></t:SetItemField>")
    e = item(A, c3)
    check(e.findtext(f"{T}ExtendedProperty/{T}Value") == "org-9"
          and e.findtext(f"{T}PhysicalAddresses/{T}Entry[@Key='Business']/{T}City") == "Oslo",
          "extended property and address part set")
    updated(A, c3, c3_key, f"<t:DeleteItemField>{ext}</t:DeleteItemField>"
            '<t:DeleteItemField><t:IndexedFieldURI FieldURI="contacts:PhysicalAddress:City" FieldIndex="Business"/>'
            "</t:DeleteItemField>")
    e = item(A, c3)
    check(e.find(T + "ExtendedProperty") is None and e.find(T + "PhysicalAddresses") is None, "and deleted")
    success(delete(A, c3), "delete")
    nil = ('<m:UserConfiguration><t:UserConfigurationName Name="Nil"><t:DistinguishedFolderId Id="calendar"/>'
           "</t:UserConfigurationName><t:Dictionary><t:DictionaryEntry><t:DictionaryKey><t:Type>String</t:Type>"
           '<t:Value>k</t:Value></t:DictionaryKey><t:DictionaryValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
           ' xsi:nil="true"/></t:DictionaryEntry></t:Dictionary></m:UserConfiguration>')
    success(config("Create", nil), "config with a nil value")
    msg = config("Get", '<m:UserConfigurationName Name="Nil"><t:DistinguishedFolderId Id="calendar"/>'
                 "</m:UserConfigurationName><m:UserConfigurationProperties>Dictionary</m:UserConfigurationProperties>")
    value = msg.find(f".//{T}DictionaryValue")
    check(value is not None and value.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true", "nil kept")
    print("ok: ExtendedFieldURI, PhysicalAddress:<part>, xsi:nil dictionary values")

    # -- robustness -----------------------------------------------------------------------
    status, root = post("", A, raw=b"<not xml")
    check(status == 500 and "schema validation" in ET.tostring(root).decode(), "bad XML: schema fault")
    status, _ = post("", A, raw=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    check(status == 500, "DTD refused")
    deep = "<t:Subject>" * 100 + "</t:Subject>" * 100
    fault(f"<m:CreateItem><m:Items><t:Contact>{deep}</t:Contact></m:Items></m:CreateItem>", A)
    check(total(A, "contacts") == 4, "still answering, contacts intact")
    print("ok: bad XML, DTD, deep nesting refused; the server still answers")
    print(f"all {checks} checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED after {checks} checks: {e}", file=sys.stderr)
        sys.exit(1)
