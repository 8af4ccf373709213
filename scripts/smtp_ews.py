"""Test SMTP server (aiosmtpd) and a fake EWS/Autodiscover endpoint, for mailservers.sh.

SMTP: a submission port (STARTTLS required before anything else, then AUTH PLAIN/LOGIN
against the dovecot passwd-file; 535 on bad credentials) and an implicit-TLS port.
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
ErrorImpersonateUserDenied, and an unknown mailbox ErrorNonExistentMailbox.
"""

import argparse
import asyncio
import base64
import email.policy
import email.utils
import os
import re
import signal
import socket
import ssl
import sys
import time
import xml.etree.ElementTree as ET
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

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
    def __init__(self, users: Users, maildirs: Maildirs, outbox: Path):
        self.users = users
        self.maildirs = maildirs
        self.outbox = outbox
        self.counter = 0

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


def soap_inbox(total: int, unread: int) -> str:
    return soap_response("GetFolder", f"""        <m:GetFolderResponseMessage ResponseClass="Success">
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
""")


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


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


class Ews:
    def __init__(self, users: Users, maildirs: Maildirs, handler: Handler, base_url: str, domain: str,
                 impersonators=()):
        self.users = users
        self.maildirs = maildirs
        self.handler = handler
        self.base_url = base_url
        self.domain = domain
        self.impersonators = set(impersonators)

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
        user = self.authenticated(headers.get("authorization", ""))
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

    def ews(self, user: str, raw: bytes, body: str, anchor: str = ""):
        """(HTTP status, SOAP answer) of an EWS request: GetFolder, CreateItem, FindItem."""
        invalid = (500, soap_fault("The request failed schema validation."))
        try:
            envelope = ET.fromstring(raw)
        except ET.ParseError:
            return invalid
        target = envelope.findtext(
            f"{{{NS_SOAP}}}Header/{T}ExchangeImpersonation/{T}ConnectingSID/{T}PrimarySmtpAddress")
        if target is not None:
            target = target.strip()
            if user not in self.impersonators:
                return 500, soap_fault("The account does not have permission to impersonate the requested user.",
                                       "ErrorImpersonateUserDenied")
            if anchor.strip().lower() != target.lower():
                return 500, soap_fault(f"X-AnchorMailbox must name the impersonated mailbox {target}.",
                                       "ErrorInvalidRequest")
            if not self.users.exists(local_part(target)):
                return 500, soap_fault(f"The SMTP address has no mailbox associated with it: {target}.",
                                       "ErrorNonExistentMailbox")
            user = local_part(target)
        soap_body = envelope.find("{" + NS_SOAP + "}Body")
        if soap_body is None or len(soap_body) == 0:
            return invalid
        op = soap_body[0]
        name = op.tag.rsplit("}", 1)[-1]
        if name == "GetFolder" and 'Id="inbox"' in body:
            total, unread = self.maildirs.counts(user)
            return 200, soap_inbox(total, unread)
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
    args = p.parse_args()

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    users = Users(args.users)
    maildirs = Maildirs(args.maildir_root)
    args.outbox.mkdir(parents=True, exist_ok=True)
    handler = Handler(users, maildirs, args.outbox)
    auth = authenticator(users)
    loop = asyncio.get_running_loop()

    def submission():
        return SMTP(handler, hostname="localhost", ident="mailsync test ESMTP", tls_context=tls,
                    require_starttls=True, auth_required=True, authenticator=auth, loop=loop)

    def smtps():
        # Already encrypted: aiosmtpd only counts STARTTLS as TLS, so it must not ask again.
        return SMTP(handler, hostname="localhost", ident="mailsync test ESMTP", auth_required=True,
                    auth_require_tls=False, authenticator=auth, loop=loop)

    servers = [
        await loop.create_server(submission, args.host, args.submission_port, reuse_address=True),
        await loop.create_server(smtps, args.host, args.smtps_port, ssl=tls, reuse_address=True),
    ]
    ews = Ews(users, maildirs, handler, f"https://{args.host}:{args.ews_port}", args.domain,
              [u for u in args.impersonators.split(",") if u])
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
