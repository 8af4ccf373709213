"""Test SMTP server (aiosmtpd) and a fake EWS/Autodiscover endpoint, for mailservers.sh.

SMTP: a submission port (STARTTLS required before anything else, then AUTH PLAIN/LOGIN
against the dovecot passwd-file; 535 on bad credentials) and an implicit-TLS port.
Both also take SASL XOAUTH2 (advertised in EHLO as AUTH LOGIN PLAIN XOAUTH2), as Gmail and
Exchange Online do: base64("user=<address>\x01auth=Bearer <access token>\x01\x01"), as
the initial response on the AUTH line or after an empty "334 " challenge. The token is
checked by GET <--oauth-authority>/mock/introspect?service=smtp (scripts/oauth_mock.mjs: a
live Google token with https://mail.google.com/, or an Entra ID one with SMTP.Send), and
user= must be the token's address (case-insensitive). Good: "235 2.7.0 Accepted", and the
session's login (the X-Mailsync-Auth header below) is that address. Refused, in Gmail's
words: "334 " + base64({"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}),
then, after the client's (empty) line, "535-5.7.8 Username and Password not accepted. ..."
(two lines). Not base64 or not that shape: "501 5.5.2 Cannot Decode response"; the
introspection unreachable: "454 4.7.0 Temporary authentication failure". AUTH lines may be
12,288 octets long (RFC 4954's limit; a JWT does not fit aiosmtpd's 512); DATA lines stay at
RFC 5321's 1,000.
Every accepted message is written to the outbox as a .eml file and, for recipients whose
local part is a test user, delivered into that user's Maildir new/ (so a test can read
it back over IMAP). Recipients whose local part starts with "reject" are refused with
550, so a test can make one message of a batch fail; "defer" ones get 451 (greylisting:
try again later) and "hangup" ones make the server drop the connection.

EWS (HTTPS, Basic auth against the same users): POST /EWS/Exchange.asmx answers a
GetFolder of the inbox with TotalCount/UnreadCount counted from the user's Maildir; a
CreateItem (SendOnly/SendAndSaveCopy) by sending each t:Message like SMTP does (outbox,
test users' Maildirs; "reject*@" recipients answer ResponseClass="Error"
ErrorInvalidRecipients, "defer*@" ones ErrorServerBusy); a FindItem of the inbox by
listing the user's Maildir messages, oldest first, with ids stable across new/ and cur/;
POST /autodiscover/autodiscover.xml answers a POX Autodiscover request with that EWS
URL (an address whose local part starts with "redirect" gets a redirectUrl to a host
outside the domain, as a hostile server would send); POST /status/<code> answers with
that HTTP status (for failure tests).

Impersonation, as Exchange does it: without an ExchangeImpersonation SOAP header every
call acts on the signed-in account's own mailbox. With one (ConnectingSID /
PrimarySmtpAddress), an account listed in --impersonators acts on that mailbox (it must
also send X-AnchorMailbox naming it); any other account gets the SOAP fault
ErrorImpersonateUserDenied, and an unknown mailbox ErrorNonExistentMailbox. Besides the
test users, every address whose local part starts with "act-" is a mailbox, reachable
only that way (it has no password): each ACT test makes its own fresh ones.

App-only OAuth, as Exchange Online does it for a server-to-server app (Dynamics 365's
way): `Authorization: Bearer <JWT>` from Microsoft Entra ID's client credentials flow
(scripts/oauth_mock.mjs stands in for it at --oauth-authority). The token is checked for
real: RS256 signature against the JWKS of the token's tenant (GET
<authority>/<tid>/discovery/v2.0/keys, cached, fetched again for an unknown kid), iss
https://sts.windows.net/<tid>/ with tid one of --oauth-tenants, aud Exchange Online
(https://outlook.office365.com, https://outlook.office.com or its app id
00000002-0000-0ff1-ce00-000000000000), nbf/exp with 60 s of clock skew, roles holding
full_access_as_app. A bad one gets HTTP 401 with `WWW-Authenticate: Bearer client_id=...,
error="invalid_token"` and an x-ms-diagnostics header, as Exchange Online answers. A good
one may act on any mailbox, but only through ExchangeImpersonation (and X-AnchorMailbox
naming it); without the header: the SOAP fault ErrorInvalidExchangeImpersonationHeaderData
"ExchangeImpersonation SOAP header must be present for this type of OAuth token.".
Autodiscover takes Basic only.

Calendar, contacts and tasks (for ACT, in memory, per mailbox: the lowercased address,
"<user>@<domain>" for a user signed in as itself; lost when the process ends). Folders
are DistinguishedFolderId calendar / contacts / tasks (or the t:FolderId GetFolder gave):
- GetFolder: t:CalendarFolder / t:ContactsFolder / t:TasksFolder with FolderId and
  TotalCount (the inbox answers as above);
- CreateItem of t:CalendarItem / t:Contact / t:Task: stores the item's property elements
  as given, adds t:LastModifiedTime and, for calendar items, t:UID and t:Organizer when
  absent; SendMeetingInvitations SendOnlyToAll / SendToAllAndSaveCopy puts a copy (same
  UID and organizer, its own ItemId) into the calendar of every attendee that is a
  mailbox here (no meeting request message is delivered);
- GetItem: the whole stored item whatever the ItemShape, ItemId first;
- UpdateItem: SetItemField / AppendToItemField / DeleteItemField on FieldURI "prefix:Name"
  (the child element Name), IndexedFieldURI contacts:EmailAddress / PhoneNumber /
  ImAddress / PhysicalAddress:<Part> (the t:Entry Key=FieldIndex) and ExtendedFieldURI;
  no ChangeKey: ErrorChangeKeyRequiredForWriteOperations; ConflictResolution NeverOverwrite
  with a stale one: ErrorIrresolvableConflict (AutoResolve, AlwaysOverwrite: applied).
  An organizer's update sent to attendees is applied to their copies (by UID); new
  attendees get a copy, removed ones lose theirs;
- DeleteItem: removes; an organizer's cancellation removes the attendees' copies;
- SyncFolderItems: t:Create / t:Update / t:Delete (t:ItemId), oldest change first; an
  item without Body, Attachments and attendee lists (Microsoft: "SyncFolderItems is
  similar to the FindItem operation in that it cannot return properties like Body or
  Attachments": GetItem has them), at most MaxChangesReturned, from an opaque SyncState bound to the mailbox, the
  folder and this process (any other: ErrorInvalidSyncStateData);
- Get/Create/Update/DeleteUserConfiguration: a t:Dictionary (and XmlData, BinaryData)
  stored per mailbox, folder and name.
Calendar items need SendMeetingInvitations (CreateItem), SendMeetingInvitationsOrCancellations
(UpdateItem), SendMeetingCancellations (DeleteItem), tasks AffectedTaskOccurrences
(DeleteItem): without it, the per-item error Exchange documents for it. Bad XML, missing
required elements or attributes: the SOAP fault "The request failed schema validation.".
Caps: 10,000 items and 64 MiB per folder, 128 KiB per item, 250 items per request,
25,000 mailboxes.
scripts/smtp_ews_selftest.py exercises all of it against the running server.
"""

import argparse
import asyncio
import base64
import bisect
import collections
import copy
import email.policy
import email.utils
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import sys
import time
import traceback
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MAX_HTTP_BODY = 1 << 20


class Users:
    """The dovecot passwd-file (user:{PLAIN}password), re-read when it changes."""

    def __init__(self, path: Path):
        self.path = path
        self.mtime = None
        self.passwords = {}

    def _load(self):
        mtime = self.path.stat().st_mtime_ns
        if mtime == self.mtime:
            return
        passwords = {}
        for line in self.path.read_text().splitlines():
            user, _, rest = line.partition(":")
            password = rest.split(":", 1)[0]
            if password.startswith("{PLAIN}"):
                passwords[user] = password[len("{PLAIN}"):]
        self.passwords, self.mtime = passwords, mtime

    def check(self, login: str, password: str) -> bool:
        self._load()
        expected = self.passwords.get(local_part(login))
        return expected is not None and expected == password

    def exists(self, user: str) -> bool:
        self._load()
        return user in self.passwords


def local_part(address: str) -> str:
    return address.rsplit("@", 1)[0].strip().strip("<>").lower()


class Maildirs:
    """Delivery into <root>/<user>/Maildir/new, owned like the root (dovecot's mail uid)."""

    def __init__(self, root: Path):
        self.root = root
        self.counter = 0
        self.hostname = socket.gethostname().replace("/", "_").replace(":", "_")

    def _owner(self):
        st = self.root.stat()
        return st.st_uid, st.st_gid

    def _ensure(self, path: Path, uid: int, gid: int):
        if not path.is_dir():
            path.mkdir(mode=0o700)
            os.chown(path, uid, gid)

    def maildir(self, user: str) -> Path:
        return self.root / user / "Maildir"

    def deliver(self, user: str, data: bytes):
        uid, gid = self._owner()
        home = self.root / user
        md = home / "Maildir"
        for path in (home, md, md / "tmp", md / "new", md / "cur"):
            self._ensure(path, uid, gid)
        self.counter += 1
        now = time.time()
        name = f"{int(now)}.M{int(now * 1e6) % 1000000}P{os.getpid()}Q{self.counter}.{self.hostname}"
        tmp = md / "tmp" / name
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, 0o600)
        # Written in tmp/, then renamed: dovecot never sees half a message.
        os.rename(tmp, md / "new" / name)

    def items(self, user: str):
        """The user's messages, oldest first: (stable id, mtime, parsed headers). The id is
        the Maildir file's unique part (its name without the flags), so it stays the same
        when dovecot moves the file from new/ to cur/ or changes its flags."""
        md = self.maildir(user)
        found = []
        for sub in ("new", "cur"):
            try:
                names = os.listdir(md / sub)
            except FileNotFoundError:
                continue
            for name in names:
                path = md / sub / name
                try:
                    mtime = path.stat().st_mtime
                    with open(path, "rb") as f:
                        headers = BytesParser(policy=email.policy.default).parse(f, headersonly=True)
                except (FileNotFoundError, PermissionError):
                    continue
                base = name.split(":2,", 1)[0]
                item_id = base64.urlsafe_b64encode(f"{user}/{base}".encode()).decode()
                found.append((mtime, base, item_id, headers))
        found.sort(key=lambda f: (f[0], f[1]))
        return [(item_id, mtime, headers) for mtime, _, item_id, headers in found]

    def counts(self, user: str):
        md = self.maildir(user)
        total = unread = 0
        for sub in ("new", "cur"):
            try:
                names = os.listdir(md / sub)
            except FileNotFoundError:
                continue
            for name in names:
                total += 1
                flags = name.rsplit(":2,", 1)[1] if ":2," in name else ""
                if sub == "new" or "S" not in flags:
                    unread += 1
        return total, unread


class Handler:
    def __init__(self, users: Users, maildirs: Maildirs, outbox: Path, xoauth2: "XOAuth2" = None):
        self.users = users
        self.maildirs = maildirs
        self.outbox = outbox
        self.xoauth2 = xoauth2 or XOAuth2("")
        self.counter = 0

    # aiosmtpd offers every auth_<MECHANISM> of the handler (in EHLO too) and passes the
    # result through as it does the built-in PLAIN/LOGIN's.
    async def auth_XOAUTH2(self, server, args):
        return await self.xoauth2.authenticate(server, args)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if local_part(address).startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        if local_part(address).startswith("defer"):
            return f"451 4.7.1 <{address}>: Recipient address rejected: Greylisted, try again later"
        if local_part(address).startswith("hangup"):
            server.transport.close()
            return "421 4.3.2 Closing the connection"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        queue_id = self.store(envelope.mail_from, envelope.rcpt_tos,
                              getattr(session, 'mailsync_login', ''), envelope.original_content)
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def store(self, mail_from: str, rcpt_tos, login: str, data: bytes) -> str:
        """Writes an accepted message to the outbox and delivers it to the test users
        among its recipients; returns its queue id. (SMTP's DATA and EWS's CreateItem.)"""
        self.counter += 1
        queue_id = f"{int(time.time() * 1000)}-{os.getpid()}-{self.counter}"
        header = (
            f"X-Mailsync-Envelope-From: {mail_from}\r\n"
            f"X-Mailsync-Envelope-To: {', '.join(rcpt_tos)}\r\n"
            f"X-Mailsync-Auth: {login}\r\n"
        ).encode()
        tmp = self.outbox / f".{queue_id}.eml.tmp"
        tmp.write_bytes(header + data)
        tmp.rename(self.outbox / f"{queue_id}.eml")
        delivered = set()
        for rcpt in rcpt_tos:
            user = local_part(rcpt)
            if user in delivered or not self.users.exists(user):
                continue
            delivered.add(user)
            trace = f"Return-Path: <{mail_from}>\r\nDelivered-To: {rcpt}\r\n".encode()
            self.maildirs.deliver(user, trace + data)
        return queue_id


class MailSMTP(SMTP):
    """aiosmtpd's SMTP with room for a SASL XOAUTH2 initial response on the AUTH line (and in
    an AUTH continuation): RFC 4954 lets an AUTH command be 12,288 octets long. DATA lines keep
    RFC 5321's limit (aiosmtpd still answers a longer one with 500 Line too long)."""

    AUTH_LINE_LIMIT = 12288

    def __init__(self, *args, **kwargs):
        self.line_length_limit = self.AUTH_LINE_LIMIT  # the StreamReader's limit, set in __init__
        super().__init__(*args, **kwargs)
        del self.line_length_limit  # DATA: the class's 1001 again
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit,
                                                           AUTH=self.AUTH_LINE_LIMIT)


class XOAuth2:
    """Checks XOAUTH2 access tokens with the oauth mock's introspection (service=smtp)."""

    ERROR_CHALLENGE = base64.b64encode(
        json.dumps({"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"},
                   separators=(",", ":")).encode())
    REFUSED = ("535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
               "535 5.7.8  https://support.google.com/mail/?p=BadCredentials - mailsync test")

    def __init__(self, authority: str):
        self.url = f"{authority.rstrip('/')}/mock/introspect?service=smtp" if authority else ""

    def _introspect(self, token: str):
        """The token's introspection (dict), or None when it is not good for SMTP; raises
        OSError when the introspection cannot be reached."""
        req = urllib.request.Request(self.url, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                info = json.load(resp)
        except urllib.error.HTTPError as e:
            if e.code in (400, 401, 403):
                return None
            raise OSError(f"introspection: HTTP {e.code}") from e
        return info if info.get("active") is True else None

    @staticmethod
    def parse(blob: bytes):
        """(user, token) of an XOAUTH2 response, or None when it is not one."""
        try:
            text = base64.b64decode(blob, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user = token = None
        for field in text.split("\x01"):
            if field.startswith("user="):
                user = field[5:]
            elif field.startswith("auth="):
                scheme, _, value = field[5:].partition(" ")
                if scheme.lower() == "bearer" and value.strip():
                    token = value.strip()
        return (user, token) if user and token else None

    @staticmethod
    async def _read_line(server) -> bytes:
        """The client's answer to a 334 challenge (as aiosmtpd's own challenge_auth reads it)."""
        try:
            return (await server._reader.readline()).strip()
        except ValueError:  # longer than the reader's limit
            return b""

    async def authenticate(self, server, args) -> AuthResult:
        if len(args) > 1:
            blob = args[1].encode()
        else:
            await server.push("334 ")
            blob = await self._read_line(server)
            if blob == b"*":
                return AuthResult(success=False, handled=False, message="501 5.7.0 Auth aborted")
        parsed = self.parse(blob)
        if parsed is None:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Cannot Decode response")
        user, token = parsed
        if not self.url:
            return AuthResult(success=False, handled=False, message="454 4.7.0 Temporary authentication failure")
        try:
            info = await asyncio.get_running_loop().run_in_executor(None, self._introspect, token)
        except (OSError, ValueError) as e:
            print(f"smtp_ews: XOAUTH2 introspection failed: {e}", file=sys.stderr, flush=True)
            return AuthResult(success=False, handled=False, message="454 4.7.0 Temporary authentication failure")
        email = str((info or {}).get("email", ""))
        if info is None or email.lower() != user.lower():
            # Gmail's way: an error challenge the client answers with an empty line, then 535.
            await server.push(b"334 " + self.ERROR_CHALLENGE)
            await self._read_line(server)
            return AuthResult(success=False, handled=False, message=self.REFUSED)
        server.session.mailsync_login = email.lower()
        return AuthResult(success=True, auth_data=email.lower(), message="235 2.7.0 Accepted")


def authenticator(users: Users):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode(errors="replace")
            password = auth_data.password.decode(errors="replace")
            if users.check(login, password):
                session.mailsync_login = login
                return AuthResult(success=True)
        # handled=False: aiosmtpd answers "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)

    return authenticate


# ---- fake EWS ---------------------------------------------------------------------


def inbox_message(total: int, unread: int) -> str:
    return f"""        <m:GetFolderResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <m:Folders>
            <t:Folder>
              <t:FolderId Id="AAMkAGluYm94" ChangeKey="AQAAAA=="/>
              <t:DisplayName>Inbox</t:DisplayName>
              <t:TotalCount>{total}</t:TotalCount>
              <t:ChildFolderCount>0</t:ChildFolderCount>
              <t:UnreadCount>{unread}</t:UnreadCount>
            </t:Folder>
          </m:Folders>
        </m:GetFolderResponseMessage>
"""


NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "{" + NS_T + "}"
M = "{" + NS_M + "}"


def xml_text(value) -> str:
    """Escaped for XML, without the characters XML 1.0 cannot carry."""
    text = "".join(c for c in str(value) if c in "\t\n\r" or (" " <= c and c not in "\ufffe\uffff"))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def soap_response(operation: str, messages: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="{NS_SOAP}">
  <s:Header>
    <h:ServerVersionInfo MajorVersion="15" MinorVersion="20" MajorBuildNumber="1" MinorBuildNumber="0"
      xmlns:h="{NS_T}"/>
  </s:Header>
  <s:Body>
    <m:{operation}Response xmlns:m="{NS_M}" xmlns:t="{NS_T}">
      <m:ResponseMessages>
{messages}      </m:ResponseMessages>
    </m:{operation}Response>
  </s:Body>
</s:Envelope>
"""


def create_item_message(code: str = "NoError", text: str = "") -> str:
    if code == "NoError":
        return """        <m:CreateItemResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <m:Items />
        </m:CreateItemResponseMessage>
"""
    return f"""        <m:CreateItemResponseMessage ResponseClass="Error">
          <m:MessageText>{xml_text(text)}</m:MessageText>
          <m:ResponseCode>{code}</m:ResponseCode>
          <m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>
          <m:Items />
        </m:CreateItemResponseMessage>
"""


def header_address(headers, name: str) -> str:
    """The first address of a header (its display name when it has no address)."""
    try:
        header = headers[name]
        if header is None:
            return ""
        for a in getattr(header, "addresses", ()):
            return a.addr_spec or a.display_name
        return str(header)
    except Exception:  # a malformed header: what it says, as it is
        return str(headers.get(name, "") or "")


def find_item_message(items, offset: int, total: int, last: bool) -> str:
    out = []
    for item_id, mtime, headers in items:
        try:
            subject = str(headers["Subject"] or "")
            message_id = str(headers["Message-ID"] or "").strip()
            to = str(headers["To"] or "")
        except Exception:
            subject = message_id = to = ""
        sender = header_address(headers, "From")
        received = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
        out.append(f"""              <t:Message>
                <t:ItemId Id="{item_id}" ChangeKey="CQAAABYAAAA="/>
                <t:Subject>{xml_text(subject)}</t:Subject>
                <t:DateTimeReceived>{received}</t:DateTimeReceived>
                <t:DisplayTo>{xml_text(to)}</t:DisplayTo>
                <t:From><t:Mailbox><t:Name>{xml_text(sender)}</t:Name><t:EmailAddress>{xml_text(sender)}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox></t:From>
                <t:InternetMessageId>{xml_text(message_id)}</t:InternetMessageId>
              </t:Message>
""")
    return f"""        <m:FindItemResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <m:RootFolder IndexedPagingOffset="{offset + len(items)}" TotalItemsInView="{total}" IncludesLastItemInRange="{'true' if last else 'false'}">
            <t:Items>
{''.join(out)}            </t:Items>
          </m:RootFolder>
        </m:FindItemResponseMessage>
"""


def soap_fault(text: str, code: str = "") -> str:
    """A SOAP fault; with `code`, Exchange's faultcode and detail (ResponseCode) for it."""
    faultcode = f"a:{code}" if code else "s:Client"
    detail = (f"""
      <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:ResponseCode>
      <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{xml_text(text)}</e:Message></detail>"""
              if code else "")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Body>
    <s:Fault>
      <faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">{faultcode}</faultcode>
      <faultstring xml:lang="en-US">{xml_text(text)}</faultstring>{detail}
    </s:Fault>
  </s:Body>
</s:Envelope>
"""


def pox_settings(email_address: str, ews_url: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User>
      <DisplayName>{email_address}</DisplayName>
      <AutoDiscoverSMTPAddress>{email_address}</AutoDiscoverSMTPAddress>
    </User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>EXCH</Type>
        <Server>localhost</Server>
        <ASUrl>{ews_url}</ASUrl>
        <EwsUrl>{ews_url}</EwsUrl>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>
"""


def pox_redirect(url: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <Action>redirectUrl</Action>
      <RedirectUrl>{xml_text(url)}</RedirectUrl>
    </Account>
  </Response>
</Autodiscover>
"""


def pox_error(text: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response>
    <Error Time="{time.strftime('%H:%M:%S')}" Id="1">
      <ErrorCode>500</ErrorCode>
      <Message>{text}</Message>
      <DebugData />
    </Error>
  </Response>
</Autodiscover>
"""


# ---- fake EWS: calendar, contacts, tasks and user configurations (for ACT) ----------
#
# Shapes from Microsoft's EWS reference, MicrosoftDocs/office-developer-exchange-docs,
# docs/web-service-reference/: createitem-operation-{calendar-item,contact,task}.md,
# getitem-operation-calendar-item.md, updateitem-operation.md, deleteitem-operation.md,
# syncfolderitems-operation.md, getuserconfiguration-operation.md,
# createuserconfiguration-operation.md, updateuserconfiguration-operation.md,
# deleteuserconfiguration-operation.md, userconfigurationproperties.md, and
# responsecode.md for the error codes; the order of an item's elements is the sequence
# of ItemType, then CalendarItemType / ContactItemType / TaskType, in types.xsd.

PIM_FOLDERS = {"calendar": "CalendarItem", "contacts": "Contact", "tasks": "Task"}
PIM_TAGS = {T + kind: folder for folder, kind in PIM_FOLDERS.items()}
FOLDER_ELEMENTS = {"calendar": ("CalendarFolder", "Calendar"), "contacts": ("ContactsFolder", "Contacts"),
                   "tasks": ("TasksFolder", "Tasks")}
INBOX_FOLDER_ID = "AAMkAGluYm94"
MAX_FOLDER_ITEMS = 10_000
MAX_FOLDER_BYTES = 64 << 20
MAX_ITEM_BYTES = 128 << 10
MAX_BATCH = 250
MAX_MAILBOXES = 25_000  # the engine benchmark's 10,000 ACT mailboxes and the tests' beside them
MAX_CONFIGS = 1_000
MAX_DEPTH = 64
MAX_SYNC_BYTES = 8 << 20
# Sync states of an earlier run of this process are refused: its items are gone.
EPOCH = os.urandom(6).hex()
XSI = "http://www.w3.org/2001/XMLSchema-instance"

_ITEM_ORDER = """MimeContent ItemId ParentFolderId ItemClass Subject Sensitivity Body Attachments
DateTimeReceived Size Categories Importance InReplyTo IsSubmitted IsDraft IsFromMe IsResend IsUnmodified
InternetMessageHeaders DateTimeSent DateTimeCreated ResponseObjects ReminderDueBy ReminderIsSet
ReminderNextTime ReminderMinutesBeforeStart DisplayCc DisplayTo HasAttachments ExtendedProperty Culture
EffectiveRights LastModifiedName LastModifiedTime IsAssociated WebClientReadFormQueryString
WebClientEditFormQueryString ConversationId UniqueBody Flag StoreEntryId InstanceKey NormalizedBody
EntityExtractionResult PolicyTag ArchiveTag RetentionDate Preview""".split()
_KIND_ORDER = {
    "CalendarItem": """UID RecurrenceId DateTimeStamp Start End OriginalStart IsAllDayEvent
LegacyFreeBusyStatus Location When IsMeeting IsCancelled IsRecurring MeetingRequestWasSent
IsResponseRequested CalendarItemType MyResponseType Organizer RequiredAttendees OptionalAttendees Resources
InboundICalSequence ConflictingMeetingCount AdjacentMeetingCount ConflictingMeetings AdjacentMeetings
Duration TimeZone AppointmentReplyTime AppointmentSequenceNumber AppointmentState Recurrence
FirstOccurrence LastOccurrence ModifiedOccurrences DeletedOccurrences MeetingTimeZone StartTimeZone
EndTimeZone ConferenceType AllowNewTimeProposal IsOnlineMeeting MeetingWorkspaceUrl NetShowUrl
EnhancedLocation StartWallClock EndWallClock StartTimeZoneId EndTimeZoneId IntendedFreeBusyStatus
JoinOnlineMeetingUrl OnlineMeetingSettings IsOrganizer""".split(),
    "Contact": """FileAs FileAsMapping DisplayName GivenName Initials MiddleName Nickname CompleteName
CompanyName EmailAddresses PhysicalAddresses PhoneNumbers AssistantName Birthday BusinessHomePage Children
Companies ContactSource Department Generation ImAddresses JobTitle Manager Mileage OfficeLocation
PostalAddressIndex Profession SpouseName Surname WeddingAnniversary HasPicture PhoneticFullName
PhoneticFirstName PhoneticLastName Alias Notes Photo UserSMIMECertificate MSExchangeCertificate
DirectoryId ManagerMailbox DirectReports""".split(),
    "Task": """ActualWork AssignedTime BillingInformation ChangeCount Companies CompleteDate Contacts
DelegationState Delegator DueDate IsAssignmentEditable IsComplete IsRecurring IsTeamTask Mileage Owner
PercentComplete Recurrence StartDate Status StatusDescription TotalWork""".split(),
}
RANKS = {kind: {**{n: i for i, n in enumerate(_ITEM_ORDER)},
                **{n: len(_ITEM_ORDER) + i for i, n in enumerate(order)}}
         for kind, order in _KIND_ORDER.items()}
# IndexedFieldURI FieldURI="contacts:<X>[:<Part>]" FieldIndex="<Key>": t:<container>/t:Entry Key=...
INDEXED = {"EmailAddress": "EmailAddresses", "PhoneNumber": "PhoneNumbers", "ImAddress": "ImAddresses",
           "PhysicalAddress": "PhysicalAddresses"}
READ_ONLY = {"ItemId", "LastModifiedTime", "DateTimeCreated", "ParentFolderId"}
DICTIONARY_TYPES = {"DateTime", "Boolean", "Byte", "String", "Integer32", "UnsignedInteger32", "Integer64",
                    "UnsignedInteger64", "StringArray", "ByteArray"}
SEND_INVITATIONS = {"SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy"}
SEND_UPDATES = {"SendToNone", "SendOnlyToAll", "SendOnlyToChanged", "SendToAllAndSaveCopy",
                "SendToChangedAndSaveCopy"}
ERROR_TEXTS = {
    "ErrorItemNotFound": "The specified object was not found in the store.",
    "ErrorFolderNotFound": "The specified folder could not be found in the store.",
    "ErrorSavedItemFolderNotFound": "The specified folder could not be found in the store.",
    "ErrorSyncFolderNotFound": "The specified folder could not be found in the store.",
    "ErrorIrresolvableConflict":
        "The operation can't be performed because the item is out of date. Reload the item and try again.",
    "ErrorInvalidSyncStateData": "Synchronization state data is corrupt or otherwise invalid.",
    "ErrorItemSave": "An object with this name already exists.",
    "ErrorQuotaExceeded": "The mailbox quota has been exceeded.",
    "ErrorMessageSizeExceeded": "The item exceeds the maximum supported size.",
    "ErrorAccessDenied": "Access is denied. Check credentials and try again.",
    "ErrorSendMeetingInvitationsRequired": "The SendMeetingInvitations attribute is required for calendar items.",
    "ErrorSendMeetingInvitationsOrCancellationsRequired":
        "The SendMeetingInvitationsOrCancellations attribute is required for calendar items.",
    "ErrorSendMeetingCancellationsRequired": "The SendMeetingCancellations attribute is required for calendar items.",
    "ErrorAffectedTaskOccurrencesRequired": "The AffectedTaskOccurrences attribute is required for tasks.",
    "ErrorCannotCreateCalendarItemInNonCalendarFolder": "Calendar items can only be created in calendar folders.",
    "ErrorCannotCreateContactInNonContactFolder": "Contacts can only be created in contact folders.",
    "ErrorCannotCreateTaskInNonTaskFolder": "Tasks can only be created in task folders.",
    "ErrorInvalidItemForOperationCreateItem": "This item type isn't supported by this fake's CreateItem.",
    "ErrorInvalidPropertySet": "Set action is invalid for property.",
    "ErrorUpdatePropertyMismatch": "The property in the change doesn't match the property being changed.",
}
CREATE_ERRORS = {"calendar": "ErrorCannotCreateCalendarItemInNonCalendarFolder",
                 "contacts": "ErrorCannotCreateContactInNonContactFolder",
                 "tasks": "ErrorCannotCreateTaskInNonTaskFolder"}


class SchemaError(Exception):
    """The request does not match the EWS schema: the SOAP fault, not a response message."""


class EwsError(Exception):
    """An EWS ResponseCode for one response message (ResponseClass="Error")."""

    def __init__(self, code: str, text: str = ""):
        super().__init__(code)
        self.code = code
        self.text = text or ERROR_TEXTS.get(code, code)


def tag_name(e) -> str:
    return e.tag.rsplit("}", 1)[-1]


def depth_ok(root, limit: int = MAX_DEPTH) -> bool:
    stack = [(root, 1)]
    while stack:
        e, depth = stack.pop()
        if depth > limit:
            return False
        stack.extend((c, depth + 1) for c in e)
    return True


def to_xml(e, default_ns: str = "") -> str:
    """An element as XML text, with the envelope's t: and m: prefixes (declared there); an
    element of another namespace declares it as its default one."""
    ns, name = (e.tag[1:].split("}", 1) if e.tag.startswith("{") else ("", e.tag))
    decls = []
    if ns == NS_T or ns == NS_M:
        qname = ("t:" if ns == NS_T else "m:") + name
    else:
        qname = name
        if ns != default_ns:
            decls.append(f' xmlns="{xml_text(ns)}"')
            default_ns = ns
    attrs = []
    for key, value in e.attrib.items():
        if key.startswith("{"):
            ans, aname = key[1:].split("}", 1)
            if ans == NS_T or ans == NS_M:
                prefix = "t" if ans == NS_T else "m"
            else:
                prefix = "xsi" if ans == XSI else f"a{len(decls)}"
                decls.append(f' xmlns:{prefix}="{xml_text(ans)}"')
            attrs.append(f' {prefix}:{aname}="{xml_text(value)}"')
        else:
            attrs.append(f' {key}="{xml_text(value)}"')
    head = qname + "".join(decls) + "".join(attrs)
    children = "".join(to_xml(c, default_ns) for c in e)
    text = e.text or ""
    if len(e) and not text.strip():
        text = ""
    if not children and not text:
        return f"<{head}/>"
    return f"<{head}>{xml_text(text)}{children}</{qname}>"


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_item_id(mailbox: str) -> str:
    return base64.b64encode(b"\0\0\0\0" + hashlib.sha256(mailbox.encode()).digest()[:6]
                            + os.urandom(24)).decode()


def new_change_key(version: int) -> str:
    return base64.b64encode(b"\x01\0\0\0" + version.to_bytes(4, "big") + os.urandom(8)).decode()


def folder_id(mailbox: str, name: str) -> str:
    if name == "inbox":
        return INBOX_FOLDER_ID
    return base64.b64encode(b"\0\0\0\x01" + hashlib.sha256(f"{mailbox}/{name}".encode()).digest()[:26]).decode()


def rank(kind: str, e):
    if not e.tag.startswith(T):
        return None
    return RANKS[kind].get(tag_name(e))


def insert_prop(props, kind: str, elem):
    """Inserts a property where the schema's sequence puts it (unknown ones at the end)."""
    r = rank(kind, elem)
    if r is not None:
        for i, p in enumerate(props):
            pr = rank(kind, p)
            if pr is not None and pr > r:
                props.insert(i, elem)
                return
    props.append(elem)


def set_prop(props, kind: str, elem):
    """Replaces the property of that name (in place), or inserts it."""
    for i, p in enumerate(props):
        if p.tag == elem.tag:
            props[i] = elem
            props[:] = [q for j, q in enumerate(props) if j <= i or q.tag != elem.tag]
            return
    insert_prop(props, kind, elem)


def prop_text(props, *path) -> str:
    for p in props:
        if p.tag == T + path[0]:
            if len(path) == 1:
                return (p.text or "").strip()
            return (p.findtext("/".join(T + n for n in path[1:])) or "").strip()
    return ""


# What SyncFolderItems, like FindItem, does not return (GetItem does).
NOT_SYNCED = {"Body", "Attachments", "RequiredAttendees", "OptionalAttendees", "Resources"}


def sync_props(props):
    return [p for p in props if not (p.tag.startswith(T) and tag_name(p) in NOT_SYNCED)]


def attendee_addresses(props):
    found = []
    for p in props:
        if p.tag in (T + "RequiredAttendees", T + "OptionalAttendees"):
            for a in p.iterfind(f"{T}Attendee/{T}Mailbox/{T}EmailAddress"):
                address = (a.text or "").strip().lower()
                if address and address not in found:
                    found.append(address)
    return found


def extended_key(uri):
    """What identifies an extended property (its ExtendedFieldURI without PropertyType)."""
    if uri is None:
        return None
    key = []
    for name, value in uri.attrib.items():
        if name == "PropertyType":
            continue
        if name in ("PropertySetId", "DistinguishedPropertySetId"):
            value = value.lower()
        elif name in ("PropertyTag", "PropertyId"):
            try:
                value = str(int(value, 0))
            except ValueError:
                pass
        key.append((name, value))
    return tuple(sorted(key))


def parse_updates(updates):
    """The t:Updates of an ItemChange: [(action, path, item element or None)]."""
    if updates is None or len(updates) == 0:
        raise SchemaError()
    ops = []
    for u in updates:
        action = tag_name(u)
        if u.tag not in (T + "SetItemField", T + "AppendToItemField", T + "DeleteItemField") or len(u) == 0:
            raise SchemaError()
        path = u[0]
        if path.tag == T + "FieldURI":
            prefix, _, name = (path.get("FieldURI") or "").partition(":")
            if not prefix or not name or ":" in name:
                raise SchemaError()
            key = ("field", name)
        elif path.tag == T + "IndexedFieldURI":
            parts = (path.get("FieldURI") or "").split(":")
            index = path.get("FieldIndex") or ""
            if len(parts) not in (2, 3) or parts[0] != "contacts" or parts[1] not in INDEXED or not index \
                    or (len(parts) == 3) != (parts[1] == "PhysicalAddress"):
                raise SchemaError()
            key = ("indexed", INDEXED[parts[1]], index, parts[2] if len(parts) == 3 else None)
        elif path.tag == T + "ExtendedFieldURI":
            key = ("extended", extended_key(path))
        else:
            raise SchemaError()
        if action == "DeleteItemField":
            if len(u) != 1:
                raise SchemaError()
            ops.append((action, key, None))
        else:
            if len(u) != 2:
                raise SchemaError()
            ops.append((action, key, u[1]))
    return ops


def entry_of(container, key: str):
    if container is None:
        return None
    for e in container.findall(T + "Entry"):
        if e.get("Key") == key:
            return e
    return None


def apply_updates(props, kind: str, ops):
    """The item's properties after the updates (a new list; `props` is left as it is)."""
    props = [copy.deepcopy(p) for p in props]
    for action, key, value in ops:
        if key[0] == "field":
            name = key[1]
            if name in READ_ONLY:
                raise EwsError("ErrorInvalidPropertySet")
            if action == "DeleteItemField":
                props[:] = [p for p in props if p.tag != T + name]
                continue
            new = value.find(T + name)
            if new is None:
                raise EwsError("ErrorUpdatePropertyMismatch")
            current = next((p for p in props if p.tag == T + name), None)
            if action == "AppendToItemField" and current is not None:
                if len(new):
                    current.extend(copy.deepcopy(c) for c in new)
                else:
                    current.text = (current.text or "") + (new.text or "")
                continue
            set_prop(props, kind, copy.deepcopy(new))
        elif key[0] == "indexed":
            _, container_name, index, part = key
            container = next((p for p in props if p.tag == T + container_name), None)
            entry = entry_of(container, index)
            if action == "DeleteItemField":
                if entry is not None:
                    if part is None:
                        container.remove(entry)
                    else:
                        for c in entry.findall(T + part):
                            entry.remove(c)
                        if len(entry) == 0:
                            container.remove(entry)
                if container is not None and len(container) == 0:
                    props.remove(container)
                continue
            new = entry_of(value.find(T + container_name), index)
            if new is None or (part is not None and new.find(T + part) is None):
                raise EwsError("ErrorUpdatePropertyMismatch")
            if container is None:
                container = ET.Element(T + container_name)
                insert_prop(props, kind, container)
            if part is None:
                if entry is not None:
                    container.remove(entry)
                container.append(copy.deepcopy(new))
            else:
                if entry is None:
                    entry = ET.SubElement(container, T + "Entry", Key=index)
                for c in entry.findall(T + part):
                    entry.remove(c)
                entry.append(copy.deepcopy(new.find(T + part)))
        else:
            uri = key[1]
            same = [p for p in props
                    if p.tag == T + "ExtendedProperty" and extended_key(p.find(T + "ExtendedFieldURI")) == uri]
            if action == "DeleteItemField":
                props[:] = [p for p in props if all(p is not s for s in same)]
                continue
            new = next((e for e in value.findall(T + "ExtendedProperty")
                        if extended_key(e.find(T + "ExtendedFieldURI")) == uri), None)
            if new is None:
                raise EwsError("ErrorUpdatePropertyMismatch")
            if same:
                props[props.index(same[0])] = copy.deepcopy(new)
                props[:] = [p for p in props if all(p is not s for s in same[1:])]
            else:
                insert_prop(props, kind, copy.deepcopy(new))
    return props


class PimItem:
    def __init__(self, folder, props):
        self.folder = folder
        self.id = new_item_id(folder.mailbox)
        self.props = props       # its property elements, in order, ItemId excluded
        self.version = 0
        self.change_key = ""
        self.created = 0         # the folder's change counter when it was created,
        self.last = 0            # at its last change (its deletion included)
        self.deleted = False
        self.size = 0

    @property
    def kind(self) -> str:
        return PIM_FOLDERS[self.folder.name]

    def id_xml(self) -> str:
        return f'<t:ItemId Id="{self.id}" ChangeKey="{self.change_key}"/>'

    def xml(self, props=None) -> str:
        body = "".join(to_xml(p) for p in (self.props if props is None else props))
        return f"<t:{self.kind}>{self.id_xml()}{body}</t:{self.kind}>"


class PimFolder:
    def __init__(self, mailbox: str, name: str):
        self.mailbox = mailbox
        self.name = name
        self.items = {}      # the items, id -> PimItem, oldest first
        self.gone = {}       # the deleted ones, kept for SyncFolderItems
        self.counter = 0     # one tick per change
        self.log = []        # (tick, item id): every change, in order
        self.bytes = 0


class UserConfig:
    def __init__(self, mailbox: str):
        self.id = new_item_id(mailbox)
        self.change_key = new_change_key(1)
        self.version = 1
        self.parts = {}      # "Dictionary" / "XmlData" / "BinaryData" -> element


class PimStore:
    """Every mailbox's calendar, contacts and tasks, and user configurations, in memory."""

    def __init__(self):
        self.folders = {}    # (mailbox, folder name) -> PimFolder
        self.index = {}      # item id -> PimFolder
        self.configs = {}    # (mailbox, folder, name) -> UserConfig
        self.mailboxes = set()

    def folder(self, mailbox: str, name: str, create: bool = False):
        f = self.folders.get((mailbox, name))
        if f is None:
            if not create:
                return PimFolder(mailbox, name)  # empty, not kept
            if mailbox not in self.mailboxes and len(self.mailboxes) >= MAX_MAILBOXES:
                raise EwsError("ErrorQuotaExceeded")
            self.mailboxes.add(mailbox)
            f = self.folders[(mailbox, name)] = PimFolder(mailbox, name)
        return f

    def find(self, mailbox: str, item_id: str):
        f = self.index.get(item_id)
        if f is None or f.mailbox != mailbox:
            return None
        return f.items.get(item_id)

    def _tick(self, item, props):
        """Records a change of the item (its creation, an update): new ChangeKey and
        LastModifiedTime, next tick of its folder's counter."""
        f = item.folder
        props = list(props)
        modified = ET.Element(T + "LastModifiedTime")
        modified.text = utc_now()
        set_prop(props, item.kind, modified)
        size = len(item.xml(props))
        if size > MAX_ITEM_BYTES:
            raise EwsError("ErrorMessageSizeExceeded")
        if f.bytes - item.size + size > MAX_FOLDER_BYTES or len(f.log) >= 200 * MAX_FOLDER_ITEMS:
            raise EwsError("ErrorQuotaExceeded")
        f.bytes += size - item.size
        item.size = size
        item.props = props
        item.version += 1
        item.change_key = new_change_key(item.version)
        f.counter += 1
        f.log.append((f.counter, item.id))
        item.last = f.counter

    def add(self, mailbox: str, name: str, props):
        f = self.folder(mailbox, name, create=True)
        if len(f.items) >= MAX_FOLDER_ITEMS or len(f.items) + len(f.gone) >= 10 * MAX_FOLDER_ITEMS:
            raise EwsError("ErrorQuotaExceeded")
        item = PimItem(f, [])
        self._tick(item, props)
        item.created = item.last
        f.items[item.id] = item
        self.index[item.id] = f
        return item

    def change(self, item, props):
        self._tick(item, props)

    def remove(self, item):
        f = item.folder
        del f.items[item.id]
        f.bytes -= item.size
        item.deleted = True
        item.props = []
        f.counter += 1
        f.log.append((f.counter, item.id))
        item.last = f.counter
        f.gone[item.id] = item

    def by_uid(self, mailbox: str, uid: str):
        f = self.folders.get((mailbox, "calendar"))
        if f is None or not uid:
            return None
        return next((i for i in f.items.values() if prop_text(i.props, "UID") == uid), None)


def encode_sync_state(mailbox: str, folder: str, tick: int, seen) -> str:
    data = json.dumps({"e": EPOCH, "m": mailbox, "f": folder, "s": tick, "d": sorted(seen.items())},
                      separators=(",", ":")).encode()
    return base64.b64encode(b"\x03EWSsync" + zlib.compress(data)).decode()


def decode_sync_state(text: str, folder: PimFolder):
    """(tick, {item id: tick}) of a SyncState made for that folder; EwsError otherwise."""
    invalid = EwsError("ErrorInvalidSyncStateData")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        if not raw.startswith(b"\x03EWSsync"):
            raise invalid
        inflate = zlib.decompressobj()
        data = json.loads(inflate.decompress(raw[8:], 4 << 20))
        tick, seen = data["s"], dict(data["d"])
        if data["e"] != EPOCH or data["m"] != folder.mailbox or data["f"] != folder.name \
                or not isinstance(tick, int) or not 0 <= tick <= folder.counter \
                or not all(isinstance(k, str) and isinstance(v, int) and 0 < v <= folder.counter
                           for k, v in seen.items()):
            raise invalid
        return tick, seen
    except (ValueError, TypeError, KeyError, zlib.error):
        raise invalid


def sync_changes(folder: PimFolder, tick: int, seen, limit: int, ignore=frozenset()):
    """The changes since a sync state, oldest first, at most `limit`: ([(change, item)],
    next state's tick, next state's seen, includes last). `seen` maps the items whose
    changes the client already has up to some later tick (an item sent in full after
    the state's tick) to that tick. An item the client knows (created by the tick, or in
    `seen`) is an Update, or a Delete; one it does not know is a Create, or nothing when
    it is already deleted again."""
    start = bisect.bisect_right(folder.log, tick, key=lambda entry: entry[0])
    candidates, firsts = [], {}
    for t, item_id in folder.log[start:]:
        if item_id in firsts or t <= seen.get(item_id, 0):
            continue
        firsts[item_id] = t
        item = folder.items.get(item_id) or folder.gone.get(item_id)
        known = item.created <= tick or item_id in seen
        if item_id in ignore:
            change = None
        elif item.deleted:
            change = "Delete" if known else None
        else:
            change = "Update" if known else "Create"
        candidates.append((t, change, item))
    page, size, cut = [], 0, None
    for t, change, item in candidates:
        if change is None:
            continue
        if len(page) >= limit or (page and size >= MAX_SYNC_BYTES):
            cut = t - 1
            break
        page.append((change, item))
        size += item.size + 100
    new_tick = folder.counter if cut is None else cut
    new_seen = {k: v for k, v in seen.items() if v > new_tick}
    for t, change, item in candidates:
        if t > new_tick:
            break
        if item.last > new_tick:
            new_seen[item.id] = item.last
    return page, new_tick, new_seen, cut is None


def response_message(op: str, code: str = "NoError", body: str = "", text: str = "") -> str:
    if code == "NoError":
        return f"""        <m:{op}ResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>{body}
        </m:{op}ResponseMessage>
"""
    return f"""        <m:{op}ResponseMessage ResponseClass="Error">
          <m:MessageText>{xml_text(text or ERROR_TEXTS.get(code, code))}</m:MessageText>
          <m:ResponseCode>{code}</m:ResponseCode>
          <m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{body}
        </m:{op}ResponseMessage>
"""


def error_message(op: str, e: EwsError, body: str = "") -> str:
    return response_message(op, e.code, body, e.text)


def check_dictionary(dictionary):
    """A t:Dictionary of t:DictionaryEntry (t:DictionaryKey, t:DictionaryValue: t:Type, t:Value)."""
    keys = set()
    for entry in dictionary:
        if entry.tag != T + "DictionaryEntry":
            raise SchemaError()
        key = entry.find(T + "DictionaryKey")
        if key is None or (key.findtext(T + "Type") or "").strip() not in DICTIONARY_TYPES \
                or key.find(T + "Value") is None:
            raise SchemaError()
        value = entry.find(T + "DictionaryValue")
        if value is not None and value.get(f"{{{XSI}}}nil") != "true" \
                and (value.findtext(T + "Type") or "").strip() not in DICTIONARY_TYPES:
            raise SchemaError()
        ident = ((key.findtext(T + "Type") or "").strip(), key.findtext(T + "Value") or "")
        if ident in keys:
            raise SchemaError("The user configuration dictionary has the same key twice.")
        keys.add(ident)


# ---- fake EWS: Exchange Online's app-only bearer tokens ----------------------------

EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
EXCHANGE_AUDIENCES = {"https://outlook.office365.com", "https://outlook.office.com", EXCHANGE_APP_ID}
APP_ROLE = "full_access_as_app"
CLOCK_SKEW = 60


class TokenRejected(Exception):
    """A bearer token Exchange Online would refuse: its x-ms-diagnostics (code, reason, category)."""

    def __init__(self, code: int, reason: str, category: str):
        super().__init__(reason)
        self.code, self.reason, self.category = code, reason, category

    def diagnostics(self) -> str:
        reason = self.reason.replace('"', "'").replace("\r", " ").replace("\n", " ")
        return f'{self.code};reason="{reason}";error_category="{self.category}"'


def b64url(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BearerTokens:
    """Checks Entra ID's app-only access tokens for Exchange Online against the JWKS of the
    token's tenant at the authority (scripts/oauth_mock.mjs)."""

    REFETCH_AFTER = 1.0  # seconds between two fetches of one tenant's keys for an unknown kid

    def __init__(self, authority: str, tenants):
        self.authority = authority.rstrip("/")
        self.tenants = {t.lower() for t in tenants}
        self.keys = {}  # tid -> {kid: RSAPublicKey}
        self.fetched = {}  # tid -> time.monotonic() of the last fetch
        self.pending = {}  # tid -> the fetch under way

    def _fetch(self, tid: str):
        url = f"{self.authority}/{tid}/discovery/v2.0/keys"
        with urllib.request.urlopen(url, timeout=5) as resp:
            jwks = json.load(resp)
        keys = {}
        for k in jwks.get("keys", []):
            if k.get("kty") != "RSA" or not k.get("kid"):
                continue
            n = int.from_bytes(b64url(k["n"]), "big")
            e = int.from_bytes(b64url(k["e"]), "big")
            keys[k["kid"]] = rsa.RSAPublicNumbers(e, n).public_key()
        return keys

    async def key(self, tid: str, kid: str):
        # Requests arriving while a fetch is under way wait for that fetch (they must
        # not be refused for a key that is on its way).
        pending = self.pending.get(tid)
        if pending is not None:
            try:
                await asyncio.shield(pending)
            except Exception:  # the fetching request reports it
                pass
        keys = self.keys.get(tid, {})
        if kid not in keys and time.monotonic() - self.fetched.get(tid, -1e9) >= self.REFETCH_AFTER:
            self.fetched[tid] = time.monotonic()
            task = self.pending[tid] = asyncio.ensure_future(asyncio.to_thread(self._fetch, tid))
            try:
                keys = self.keys[tid] = await asyncio.shield(task)
            except (OSError, ValueError, KeyError) as e:
                print(f"smtp_ews: cannot fetch the keys of tenant {tid}: {e}", flush=True)
            finally:
                self.pending.pop(tid, None)
        return keys.get(kid)

    async def verify(self, token: str) -> dict:
        """The token's claims; TokenRejected when Exchange Online would refuse it."""
        try:
            head, body, sig = token.split(".")
            header = json.loads(b64url(head))
            claims = json.loads(b64url(body))
            signature = b64url(sig)
            if not isinstance(header, dict) or not isinstance(claims, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError):
            raise TokenRejected(2000000, "The token is not a well-formed JSON Web Token.", "invalid_token")
        if header.get("alg") != "RS256" or not header.get("kid"):
            raise TokenRejected(2000001, f"The token's signing algorithm '{header.get('alg')}' is not supported.",
                                "invalid_signature")
        tid = str(claims.get("tid", "")).lower()
        if tid not in self.tenants or claims.get("iss") != f"https://sts.windows.net/{tid}/":
            raise TokenRejected(2000002, f"The token's issuer '{claims.get('iss')}' is not trusted for "
                                "this organization.", "invalid_issuer")
        key = await self.key(tid, header["kid"])
        if key is None:
            raise TokenRejected(2000001, f"The token is signed with an unknown key '{header['kid']}'.",
                                "invalid_signature")
        try:
            key.verify(signature, f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise TokenRejected(2000001, "The token has an invalid signature.", "invalid_signature")
        aud = claims.get("aud")
        if not isinstance(aud, str) or aud.rstrip("/").lower() not in EXCHANGE_AUDIENCES:
            raise TokenRejected(2000003, f"The audience claim value is invalid '{aud}'.", "invalid_resource")
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, (int, float)) or not isinstance(nbf, (int, float)):
            raise TokenRejected(2000000, "The token has no valid lifetime.", "invalid_token")
        if now > exp + CLOCK_SKEW:
            raise TokenRejected(2000005, "The token has expired.", "invalid_lifetime")
        if now < nbf - CLOCK_SKEW:
            raise TokenRejected(2000005, "The token is not yet valid.", "invalid_lifetime")
        roles = claims.get("roles")
        if not isinstance(roles, list) or APP_ROLE not in roles:
            raise TokenRejected(2000008, "The token contains no permissions, or permissions can not be understood.",
                                "invalid_grant")
        return claims


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


class Ews:
    def __init__(self, users: Users, maildirs: Maildirs, handler: Handler, base_url: str, domain: str,
                 impersonators=(), tokens: BearerTokens = None):
        self.tokens = tokens
        self.users = users
        self.maildirs = maildirs
        self.handler = handler
        self.base_url = base_url
        self.domain = domain
        self.impersonators = set(impersonators)
        self.store = PimStore()

    async def serve(self, reader, writer):
        try:
            await asyncio.wait_for(self._serve(reader, writer), 30)
        except (asyncio.TimeoutError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader, writer):
        request_line = (await reader.readline()).decode("latin-1").strip()
        headers = {}
        while True:
            line = (await reader.readline()).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = request_line.split()
        if len(parts) != 3:
            return await self.respond(writer, 400, "text/plain", "bad request line\n")
        method, path, _ = parts
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_HTTP_BODY:
            return await self.respond(writer, 413, "text/plain", "too large\n")
        raw = await reader.readexactly(length)
        body = raw.decode("utf-8", errors="replace")
        if method != "POST":
            return await self.respond(writer, 405, "text/plain", "POST only\n")
        status = re.fullmatch(r"/status/(\d{3})", path)
        if status:
            code = int(status.group(1))
            return await self.respond(writer, code, "text/xml; charset=utf-8",
                                      soap_fault(f"Simulated HTTP {code}"))
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and path.lower() == "/ews/exchange.asmx":
            try:
                if self.tokens is None:
                    raise TokenRejected(2000002, "This server takes no OAuth tokens.", "invalid_issuer")
                claims = await self.tokens.verify(credentials.strip())
            except TokenRejected as e:
                return await self.respond(writer, 401, "text/html", "", extra=self.bearer_challenge(e))
            code, answer = self.ews(None, raw, body, headers.get("x-anchormailbox", ""), app=claims)
            return await self.respond(writer, code, "text/xml; charset=utf-8", answer)
        user = self.authenticated(authorization)
        if user is None:
            return await self.respond(writer, 401, "text/plain", "401 - Unauthorized: Access is denied due to invalid credentials.\n",
                                      extra='WWW-Authenticate: Basic realm="mailsync-test"\r\n')
        if path.lower() == "/ews/exchange.asmx":
            code, answer = self.ews(user, raw, body, headers.get("x-anchormailbox", ""))
            return await self.respond(writer, code, "text/xml; charset=utf-8", answer)
        if path.lower() == "/autodiscover/autodiscover.xml":
            m = re.search(r"<EMailAddress>([^<]*)</EMailAddress>", body)
            address = m.group(1).strip() if m else ""
            if local_part(address).startswith("redirect"):
                return await self.respond(writer, 200, "text/xml; charset=utf-8",
                                          pox_redirect("https://attacker.invalid/autodiscover/autodiscover.xml"))
            if not address or not self.users.exists(local_part(address)):
                return await self.respond(writer, 200, "text/xml; charset=utf-8",
                                          pox_error("The email address can't be found."))
            return await self.respond(writer, 200, "text/xml; charset=utf-8",
                                      pox_settings(address, self.base_url + "/EWS/Exchange.asmx"))
        return await self.respond(writer, 404, "text/plain", "not found\n")

    def bearer_challenge(self, e: TokenRejected) -> str:
        """Exchange Online's answer headers to a refused bearer token."""
        authority = self.tokens.authority if self.tokens else "https://login.microsoftonline.com"
        return (f'WWW-Authenticate: Bearer client_id="{EXCHANGE_APP_ID}", '
                'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
                'token_types="app_asserted_user_v1 service_asserted_app_v1", '
                f'authorization_uri="{authority}/common/oauth2/authorize", error="invalid_token"\r\n'
                f"x-ms-diagnostics: {e.diagnostics()}\r\n")

    def ews(self, user, raw: bytes, body: str, anchor: str = "", app=None):
        """(HTTP status, SOAP answer) of an EWS request: GetFolder, CreateItem, FindItem, and
        those of calendar, contacts, tasks and user configurations. `user` is the account
        signed in with Basic; `app` instead the claims of an app-only token, which acts
        only through ExchangeImpersonation."""
        invalid = (500, soap_fault("The request failed schema validation."))
        if re.search(rb"<!(DOCTYPE|ENTITY)", raw, re.IGNORECASE):
            return invalid
        try:
            envelope = ET.fromstring(raw)
        except ET.ParseError:
            return invalid
        if not depth_ok(envelope):
            return invalid
        mailbox = f"{user}@{self.domain}".lower()
        target = envelope.findtext(
            f"{{{NS_SOAP}}}Header/{T}ExchangeImpersonation/{T}ConnectingSID/{T}PrimarySmtpAddress")
        if app is not None and target is None:
            return 500, soap_fault("ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
                                   "ErrorInvalidExchangeImpersonationHeaderData")
        if target is not None:
            target = target.strip()
            if app is None and user not in self.impersonators:
                return 500, soap_fault("The account does not have permission to impersonate the requested user.",
                                       "ErrorImpersonateUserDenied")
            if anchor.strip().lower() != target.lower():
                return 500, soap_fault(f"X-AnchorMailbox must name the impersonated mailbox {target}.",
                                       "ErrorInvalidRequest")
            if not self.is_mailbox(target):
                return 500, soap_fault(f"The SMTP address has no mailbox associated with it: {target}.",
                                       "ErrorNonExistentMailbox")
            user = local_part(target)
            mailbox = target.strip("<>").lower()
        soap_body = envelope.find("{" + NS_SOAP + "}Body")
        if soap_body is None or len(soap_body) == 0:
            return invalid
        op = soap_body[0]
        name = op.tag.rsplit("}", 1)[-1]
        try:
            answer = self.pim(name, user, mailbox, op)
            if answer is not None:
                return answer
        except SchemaError as e:
            return 500, soap_fault(str(e) or "The request failed schema validation.")
        except Exception:  # a bug here must not take the server down: log it, answer a fault
            traceback.print_exc()
            return 500, soap_fault("An internal server error occurred. The operation failed.",
                                   "ErrorInternalServerError")
        if name == "CreateItem":
            return self.create_item(user, op)
        if name == "FindItem":
            return self.find_item(user, op)
        return invalid

    def create_item(self, user: str, op):
        """Sends each t:Message like the SMTP side would: the outbox, then the test users'
        Maildirs. Recipients "reject*@" refuse the message (ErrorInvalidRecipients),
        "defer*@" make the server busy (ErrorServerBusy)."""
        items = op.find(M + "Items")
        if op.get("MessageDisposition") not in ("SendOnly", "SendAndSaveCopy") or items is None:
            return 500, soap_fault("The request failed schema validation.")
        answers = []
        for msg in items.findall(T + "Message"):
            to = [(e.text or "").strip()
                  for e in msg.iterfind(f"{T}ToRecipients/{T}Mailbox/{T}EmailAddress")]
            to = [a for a in to if a]
            if not to or any(local_part(a).startswith("reject") for a in to):
                answers.append(create_item_message(
                    "ErrorInvalidRecipients",
                    "At least one recipient isn't valid., A message can't be sent because it contains no recipients."
                    if not to else f"At least one recipient isn't valid.: {', '.join(to)}"))
                continue
            if any(local_part(a).startswith("defer") for a in to):
                answers.append(create_item_message(
                    "ErrorServerBusy", "The server cannot service this request right now. Try again later."))
                continue
            sender = (msg.findtext(f"{T}From/{T}Mailbox/{T}EmailAddress") or "").strip() \
                or f"{user}@{self.domain}"
            message = EmailMessage(policy=email.policy.SMTP)
            message["From"] = sender
            message["To"] = ", ".join(to)
            message["Subject"] = msg.findtext(T + "Subject") or ""
            message["Date"] = email.utils.formatdate(usegmt=True)
            message["Message-ID"] = (msg.findtext(T + "InternetMessageId") or "").strip() \
                or email.utils.make_msgid(domain=self.domain)
            message["X-Mailsync-Via"] = "EWS CreateItem"
            message.set_content(msg.findtext(T + "Body") or "")
            self.handler.store(sender, to, user, bytes(message))
            answers.append(create_item_message())
        return 200, soap_response("CreateItem", "".join(answers))

    def find_item(self, user: str, op):
        """The inbox's messages, oldest first, a page at a time (IndexedPageItemView)."""
        folder = op.find(f"{M}ParentFolderIds/{T}DistinguishedFolderId")
        if folder is None or folder.get("Id") != "inbox":
            return 500, soap_fault("The request failed schema validation.")
        view = op.find(M + "IndexedPageItemView")
        try:
            offset = max(0, int(view.get("Offset", "0"))) if view is not None else 0
            limit = max(1, int(view.get("MaxEntriesReturned", "1000"))) if view is not None else 1000
        except ValueError:
            return 500, soap_fault("The request failed schema validation.")
        items = self.maildirs.items(user)
        page = items[offset:offset + limit]
        last = offset + len(page) >= len(items)
        return 200, soap_response("FindItem", find_item_message(page, offset, len(items), last))

    # ---- calendar, contacts, tasks and user configurations ----------------------------

    def is_mailbox(self, address: str) -> bool:
        """A mailbox of this fake: a test user's, or any address whose local part is "act-*"."""
        address = address.strip()
        user = local_part(address)
        return self.users.exists(user) or (user.startswith("act-") and "@" in address)

    def pim(self, name: str, user: str, mailbox: str, op):
        """(HTTP status, SOAP answer) of the operations on calendar, contacts and tasks, and
        of the user configurations; None for an operation they do not have."""
        if name == "GetFolder":
            return self.get_folder(user, mailbox, op)
        if name == "CreateItem" and self.is_pim_create(op):
            return self.create_pim_items(mailbox, op)
        if name == "GetItem":
            return self.get_items(mailbox, op)
        if name == "UpdateItem":
            return self.update_items(mailbox, op)
        if name == "DeleteItem":
            return self.delete_items(mailbox, op)
        if name == "SyncFolderItems":
            return self.sync_folder_items(mailbox, op)
        if name in ("GetUserConfiguration", "CreateUserConfiguration", "UpdateUserConfiguration",
                    "DeleteUserConfiguration"):
            return self.user_configuration(name, mailbox, op)
        return None

    def folder_name(self, ref, mailbox: str) -> str:
        """The folder a t:DistinguishedFolderId or t:FolderId names, as its distinguished name."""
        if ref.tag == T + "DistinguishedFolderId":
            name = ref.get("Id") or ""
            if not name:
                raise SchemaError()
            owner = ref.findtext(f"{T}Mailbox/{T}EmailAddress")
            if owner is not None and owner.strip().lower() != mailbox:
                raise EwsError("ErrorAccessDenied")
            return name
        if ref.tag == T + "FolderId":
            wanted = ref.get("Id") or ""
            if not wanted:
                raise SchemaError()
            for name in ("inbox", *PIM_FOLDERS):
                if folder_id(mailbox, name) == wanted:
                    return name
            raise EwsError("ErrorFolderNotFound")
        raise SchemaError()

    def folder_of(self, parent, mailbox: str) -> str:
        if parent is None or len(parent) != 1:
            raise SchemaError()
        return self.folder_name(parent[0], mailbox)

    def item_of(self, ref, mailbox: str):
        """The item an t:ItemId names in this mailbox; ErrorItemNotFound when there is none."""
        if ref.tag in (T + "OccurrenceItemId", T + "RecurringMasterItemId"):
            raise EwsError("ErrorItemNotFound")
        if ref.tag != T + "ItemId" or not ref.get("Id"):
            raise SchemaError()
        item = self.store.find(mailbox, ref.get("Id"))
        if item is None:
            raise EwsError("ErrorItemNotFound")
        return item

    @staticmethod
    def check_shape(shape):
        if shape is None or (shape.findtext(T + "BaseShape") or "").strip() not in ("IdOnly", "Default",
                                                                                   "AllProperties"):
            raise SchemaError()

    @staticmethod
    def check_batch(parent):
        if parent is None or len(parent) == 0:
            raise SchemaError()
        if len(parent) > MAX_BATCH:
            raise SchemaError(f"This fake EWS takes at most {MAX_BATCH} items a request.")

    def get_folder(self, user: str, mailbox: str, op):
        """The inbox's counts (from the Maildir), or a calendar / contacts / tasks folder."""
        ids = op.find(M + "FolderIds")
        if op.find(M + "FolderShape") is None:
            raise SchemaError()
        self.check_batch(ids)
        messages = []
        for ref in ids:
            try:
                name = self.folder_name(ref, mailbox)
                if name == "inbox":
                    messages.append(inbox_message(*self.maildirs.counts(user)))
                    continue
                if name not in PIM_FOLDERS:
                    raise EwsError("ErrorFolderNotFound")
            except EwsError as e:
                messages.append(error_message("GetFolder", e, "\n          <m:Folders />"))
                continue
            element, display = FOLDER_ELEMENTS[name]
            messages.append(response_message("GetFolder", body=f"""
          <m:Folders>
            <t:{element}>
              <t:FolderId Id="{folder_id(mailbox, name)}" ChangeKey="AQAAAA=="/>
              <t:DisplayName>{display}</t:DisplayName>
              <t:TotalCount>{len(self.store.folder(mailbox, name).items)}</t:TotalCount>
              <t:ChildFolderCount>0</t:ChildFolderCount>
            </t:{element}>
          </m:Folders>"""))
        return 200, soap_response("GetFolder", "".join(messages))

    @staticmethod
    def is_pim_create(op) -> bool:
        items = op.find(M + "Items")
        if items is not None and any(c.tag in PIM_TAGS for c in items):
            return True
        saved = op.find(f"{M}SavedItemFolderId/{T}DistinguishedFolderId")
        return saved is not None and saved.get("Id") in PIM_FOLDERS

    def create_pim_items(self, mailbox: str, op):
        items = op.find(M + "Items")
        self.check_batch(items)
        send = op.get("SendMeetingInvitations")
        if send is not None and send not in SEND_INVITATIONS:
            raise SchemaError()
        saved = op.find(M + "SavedItemFolderId")
        answers = []
        for element in items:
            try:
                try:
                    target = self.folder_of(saved, mailbox) if saved is not None else None
                except EwsError as e:
                    raise EwsError("ErrorSavedItemFolderNotFound") if e.code == "ErrorFolderNotFound" else e
                name = PIM_TAGS.get(element.tag)
                if name is None:
                    raise EwsError("ErrorInvalidItemForOperationCreateItem")
                if target is not None and target != name:
                    raise EwsError(CREATE_ERRORS[name])
                if name == "calendar" and send is None:
                    raise EwsError("ErrorSendMeetingInvitationsRequired")
                item = self.create_one(mailbox, name, element, send)
            except EwsError as e:
                answers.append(error_message("CreateItem", e, "\n          <m:Items />"))
                continue
            answers.append(response_message("CreateItem", body=f"""
          <m:Items>
            <t:{item.kind}>{item.id_xml()}</t:{item.kind}>
          </m:Items>"""))
        return 200, soap_response("CreateItem", "".join(answers))

    def create_one(self, mailbox: str, name: str, element, send):
        kind = PIM_FOLDERS[name]
        props = [copy.deepcopy(c) for c in element if not (c.tag.startswith(T) and tag_name(c) in READ_ONLY)]
        if name == "calendar":
            if not prop_text(props, "UID"):
                props = [p for p in props if p.tag != T + "UID"]
                uid = ET.Element(T + "UID")
                uid.text = "040000008200E00074C5B7101A82E00800000000" + os.urandom(16).hex().upper()
                insert_prop(props, kind, uid)
            # Exchange says what the item is: one meeting, or a recurring series' master.
            props = [p for p in props if p.tag != T + "CalendarItemType"]
            item_type = ET.Element(T + "CalendarItemType")
            item_type.text = "RecurringMaster" if any(p.tag == T + "Recurrence" for p in props) else "Single"
            insert_prop(props, kind, item_type)
            if not any(p.tag == T + "Organizer" for p in props):
                organizer = ET.Element(T + "Organizer")
                box = ET.SubElement(organizer, T + "Mailbox")
                ET.SubElement(box, T + "Name").text = mailbox
                ET.SubElement(box, T + "EmailAddress").text = mailbox
                ET.SubElement(box, T + "RoutingType").text = "SMTP"
                insert_prop(props, kind, organizer)
        item = self.store.add(mailbox, name, props)
        if name == "calendar" and send in ("SendOnlyToAll", "SendToAllAndSaveCopy"):
            for address in attendee_addresses(item.props):
                self.copy_to_attendee(item, address)
        return item

    def copy_to_attendee(self, item, address: str):
        """The meeting's copy in an attendee's calendar (when the attendee is a mailbox
        here and has none yet), as Exchange's calendar assistant makes it on delivery."""
        if address == item.folder.mailbox or not self.is_mailbox(address):
            return None
        found = self.store.by_uid(address, prop_text(item.props, "UID"))
        if found is not None:
            return found
        try:
            return self.store.add(address, "calendar", [copy.deepcopy(p) for p in item.props])
        except EwsError:  # the attendee's calendar is full: no copy, as a bounce would
            return None

    def get_items(self, mailbox: str, op):
        self.check_shape(op.find(M + "ItemShape"))
        ids = op.find(M + "ItemIds")
        self.check_batch(ids)
        answers = []
        for ref in ids:
            try:
                item = self.item_of(ref, mailbox)
            except EwsError as e:
                answers.append(error_message("GetItem", e, "\n          <m:Items />"))
                continue
            answers.append(response_message("GetItem", body=f"""
          <m:Items>
            {item.xml()}
          </m:Items>"""))
        return 200, soap_response("GetItem", "".join(answers))

    def update_items(self, mailbox: str, op):
        changes = op.find(M + "ItemChanges")
        self.check_batch(changes)
        conflict = op.get("ConflictResolution", "AutoResolve")
        send = op.get("SendMeetingInvitationsOrCancellations")
        disposition = op.get("MessageDisposition")
        if conflict not in ("NeverOverwrite", "AutoResolve", "AlwaysOverwrite") \
                or (send is not None and send not in SEND_UPDATES) \
                or (disposition is not None and disposition not in ("SaveOnly", "SendOnly", "SendAndSaveCopy")):
            raise SchemaError()
        parsed = []
        for change in changes:
            if change.tag != T + "ItemChange" or len(change) != 2:
                raise SchemaError()
            parsed.append((change[0], parse_updates(change.find(T + "Updates"))))
        answers = []
        for ref, ops in parsed:
            try:
                item = self.item_of(ref, mailbox)
                calendar = item.folder.name == "calendar"
                if calendar and send is None:
                    raise EwsError("ErrorSendMeetingInvitationsOrCancellationsRequired")
                change_key = ref.get("ChangeKey")
                if not change_key:
                    raise EwsError("ErrorChangeKeyRequiredForWriteOperations",
                                   "The ChangeKey of the item is required for this write operation.")
                if conflict == "NeverOverwrite" and change_key != item.change_key:
                    raise EwsError("ErrorIrresolvableConflict")
                before = item.props
                self.store.change(item, apply_updates(before, item.kind, ops))
                if calendar and send != "SendToNone" and prop_text(before, "Organizer", "Mailbox",
                                                                     "EmailAddress").lower() == mailbox:
                    self.update_attendees(item, before, ops)
            except EwsError as e:
                answers.append(error_message("UpdateItem", e, "\n          <m:Items />"))
                continue
            answers.append(response_message("UpdateItem", body=f"""
          <m:Items>
            <t:{item.kind}>{item.id_xml()}</t:{item.kind}>
          </m:Items>
          <m:ConflictResults>
            <t:Count>0</t:Count>
          </m:ConflictResults>"""))
        return 200, soap_response("UpdateItem", "".join(answers))

    def update_attendees(self, item, before, ops):
        """An organizer's update, sent: the same update on the attendees' copies; a copy for
        an attendee added, none any more for one removed (a cancellation)."""
        uid = prop_text(before, "UID")
        now = attendee_addresses(item.props)
        for address in now:
            if address == item.folder.mailbox or not self.is_mailbox(address):
                continue
            found = self.store.by_uid(address, uid)
            if found is None:
                self.copy_to_attendee(item, address)
                continue
            try:
                self.store.change(found, apply_updates(found.props, found.kind, ops))
            except EwsError:
                pass
        for address in attendee_addresses(before):
            if address not in now and address != item.folder.mailbox:
                found = self.store.by_uid(address, uid)
                if found is not None:
                    self.store.remove(found)

    def delete_items(self, mailbox: str, op):
        ids = op.find(M + "ItemIds")
        self.check_batch(ids)
        cancel = op.get("SendMeetingCancellations")
        occurrences = op.get("AffectedTaskOccurrences")
        if op.get("DeleteType") not in ("HardDelete", "SoftDelete", "MoveToDeletedItems") \
                or (cancel is not None and cancel not in SEND_INVITATIONS) \
                or (occurrences is not None and occurrences not in ("AllOccurrences", "SpecifiedOccurrenceOnly")):
            raise SchemaError()
        answers = []
        for ref in ids:
            try:
                item = self.item_of(ref, mailbox)
                if item.folder.name == "calendar" and cancel is None:
                    raise EwsError("ErrorSendMeetingCancellationsRequired")
                if item.folder.name == "tasks" and occurrences is None:
                    raise EwsError("ErrorAffectedTaskOccurrencesRequired")
                props = item.props
                self.store.remove(item)
                if item.folder.name == "calendar" and cancel != "SendToNone" \
                        and prop_text(props, "Organizer", "Mailbox", "EmailAddress").lower() == mailbox:
                    for address in attendee_addresses(props):
                        found = self.store.by_uid(address, prop_text(props, "UID")) if address != mailbox else None
                        if found is not None:
                            self.store.remove(found)
            except EwsError as e:
                answers.append(error_message("DeleteItem", e))
                continue
            answers.append(response_message("DeleteItem"))
        return 200, soap_response("DeleteItem", "".join(answers))

    def sync_folder_items(self, mailbox: str, op):
        self.check_shape(op.find(M + "ItemShape"))
        try:
            limit = int((op.findtext(M + "MaxChangesReturned") or "").strip())
        except ValueError:
            raise SchemaError()
        scope = op.findtext(M + "SyncScope")
        if not 1 <= limit <= 512 or (scope is not None and scope.strip() not in ("NormalItems",
                                                                                 "NormalAndAssociatedItems")):
            raise SchemaError()
        ignore = frozenset(e.get("Id") for e in op.iterfind(f"{M}Ignore/{T}ItemId"))
        state = (op.findtext(M + "SyncState") or "").strip()
        try:
            name = self.folder_of(op.find(M + "SyncFolderId"), mailbox)
            if name not in PIM_FOLDERS:
                raise EwsError("ErrorSyncFolderNotFound")
            folder = self.store.folder(mailbox, name)
            tick, seen = decode_sync_state(state, folder) if state else (0, {})
        except EwsError as e:
            return 200, soap_response("SyncFolderItems", error_message("SyncFolderItems", e, """
          <m:SyncState />
          <m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"""))
        page, tick, seen, last = sync_changes(folder, tick, seen, limit, ignore)
        changes = "".join(
            f"\n            <t:Delete>{item.id_xml()}</t:Delete>" if change == "Delete"
            else f"\n            <t:{change}>{item.xml(sync_props(item.props))}</t:{change}>"
            for change, item in page)
        return 200, soap_response("SyncFolderItems", response_message("SyncFolderItems", body=f"""
          <m:SyncState>{encode_sync_state(mailbox, name, tick, seen)}</m:SyncState>
          <m:IncludesLastItemInRange>{'true' if last else 'false'}</m:IncludesLastItemInRange>
          <m:Changes>{changes}
          </m:Changes>"""))

    def user_configuration(self, operation: str, mailbox: str, op):
        """A user configuration object: its t:Dictionary (t:XmlData, t:BinaryData too),
        per mailbox, folder and name."""
        verb = operation[:-len("UserConfiguration")]
        parts, wanted = {}, set()
        if verb in ("Get", "Delete"):
            named = op.find(M + "UserConfigurationName")
        else:
            config = op.find(M + "UserConfiguration")
            if config is None:
                raise SchemaError()
            named = config.find(T + "UserConfigurationName")
            for part in ("Dictionary", "XmlData", "BinaryData"):
                element = config.find(T + part)
                if element is not None:
                    parts[part] = copy.deepcopy(element)
            if "Dictionary" in parts:
                check_dictionary(parts["Dictionary"])
        if named is None or not named.get("Name") or len(named.get("Name")) > 256 or len(named) != 1:
            raise SchemaError()
        if verb == "Get":
            wanted = set((op.findtext(M + "UserConfigurationProperties") or "").split())
            if not wanted or wanted - {"Id", "Dictionary", "XmlData", "BinaryData", "All"}:
                raise SchemaError()
            if "All" in wanted:
                wanted = {"Id", "Dictionary", "XmlData", "BinaryData"}
        body = ""
        try:
            key = (mailbox, self.folder_of(named, mailbox), named.get("Name"))
            found = self.store.configs.get(key)
            if verb == "Create":
                if found is not None:
                    raise EwsError("ErrorItemSave")
                if sum(1 for k in self.store.configs if k[0] == mailbox) >= MAX_CONFIGS:
                    raise EwsError("ErrorQuotaExceeded")
            elif found is None:
                raise EwsError("ErrorItemNotFound")
            if sum(len(to_xml(p)) for p in parts.values()) > MAX_ITEM_BYTES:
                raise EwsError("ErrorMessageSizeExceeded")
            if verb == "Create":
                found = self.store.configs[key] = UserConfig(mailbox)
                found.parts = parts
            elif verb == "Update":
                found.parts.update(parts)
                found.version += 1
                found.change_key = new_change_key(found.version)
            elif verb == "Delete":
                del self.store.configs[key]
            else:
                inner = "".join(
                    [f'\n            <t:UserConfigurationName Name="{xml_text(key[2])}">{to_xml(named[0])}'
                     "</t:UserConfigurationName>"]
                    + ([f'\n            <t:ItemId Id="{found.id}" ChangeKey="{found.change_key}"/>']
                       if "Id" in wanted else [])
                    + [f"\n            {to_xml(found.parts[p])}" for p in ("Dictionary", "XmlData", "BinaryData")
                       if p in wanted and p in found.parts])
                body = f"\n          <m:UserConfiguration>{inner}\n          </m:UserConfiguration>"
        except EwsError as e:
            return 200, soap_response(operation, error_message(operation, e))
        return 200, soap_response(operation, response_message(operation, body=body))

    def authenticated(self, header: str):
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            login, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return local_part(login) if self.users.check(login, password) else None

    async def respond(self, writer, code, content_type, body, extra=""):
        data = body.encode()
        head = (
            f"HTTP/1.1 {code} {REASONS.get(code, 'Status')}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
            f"Date: {email.utils.formatdate(usegmt=True)}\r\n{extra}Connection: close\r\n\r\n"
        )
        writer.write(head.encode() + data)
        await writer.drain()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--domain", default="mailsync.test")
    p.add_argument("--submission-port", type=int, required=True)
    p.add_argument("--smtps-port", type=int, required=True)
    p.add_argument("--ews-port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--users", type=Path, required=True)
    p.add_argument("--maildir-root", type=Path, required=True)
    p.add_argument("--outbox", type=Path, required=True)
    p.add_argument("--pidfile", type=Path, required=True)
    p.add_argument("--impersonators", default="", help="accounts that may impersonate (comma-separated)")
    p.add_argument("--oauth-authority", default="", help="Entra ID's stand-in (scripts/oauth_mock.mjs)")
    p.add_argument("--oauth-tenants", default="", help="the tenants whose app-only tokens EWS takes (comma-separated)")
    args = p.parse_args()

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    users = Users(args.users)
    maildirs = Maildirs(args.maildir_root)
    args.outbox.mkdir(parents=True, exist_ok=True)
    handler = Handler(users, maildirs, args.outbox, XOAuth2(args.oauth_authority))
    auth = authenticator(users)
    loop = asyncio.get_running_loop()

    def submission():
        return MailSMTP(handler, hostname="localhost", ident="mailsync test ESMTP", tls_context=tls,
                    require_starttls=True, auth_required=True, authenticator=auth, loop=loop)

    def smtps():
        # Already encrypted: aiosmtpd only counts STARTTLS as TLS, so it must not ask again.
        return MailSMTP(handler, hostname="localhost", ident="mailsync test ESMTP", auth_required=True,
                    auth_require_tls=False, authenticator=auth, loop=loop)

    servers = [
        await loop.create_server(submission, args.host, args.submission_port, reuse_address=True),
        await loop.create_server(smtps, args.host, args.smtps_port, ssl=tls, reuse_address=True),
    ]
    ews = Ews(users, maildirs, handler, f"https://{args.host}:{args.ews_port}", args.domain,
              [u for u in args.impersonators.split(",") if u],
              BearerTokens(args.oauth_authority, [t for t in args.oauth_tenants.split(",") if t])
              if args.oauth_authority else None)
    servers.append(await asyncio.start_server(ews.serve, args.host, args.ews_port, ssl=tls,
                                              reuse_address=True, limit=64 * 1024))
    args.pidfile.write_text(f"{os.getpid()}\n")
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp_ews: submission {args.host}:{args.submission_port}, smtps {args.smtps_port}, "
          f"ews {args.ews_port}", flush=True)
    await stop.wait()
    for server in servers:
        server.close()
    try:
        args.pidfile.unlink()
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OSError as e:
        print(f"smtp_ews: {e}", file=sys.stderr)
        sys.exit(1)
