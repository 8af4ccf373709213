"""Self-test of the fake EWS's calendar, contacts, tasks and user configurations
(scripts/smtp_ews.py), against the running servers: `bash scripts/mailservers.sh start`,
then `python3 scripts/smtp_ews_selftest.py`. Stdlib only; it speaks EWS SOAP over HTTPS
as a client would, as the impersonator (svc) on two fresh act-<random> mailboxes, and
stops at the first failed assertion (exit status 1). It leaves the test users' own
calendars as it found them. It also gets app-only tokens from Entra ID's stand-in
(scripts/oauth_mock.mjs) for each test tenant's app, as Dynamics 365 does for Exchange
Online, checks them (claims, RS256 signature against the tenant's JWKS, done here with
plain integers) and the token endpoint's errors, and calls EWS with them: good tokens act
through impersonation, tampered, expired, foreign-signed, wrong-audience and permissionless
ones get 401. And SMTP AUTH XOAUTH2 on both SMTP ports with per-mailbox tokens from the
authorization code flow (PKCE) at Google's and Entra ID's stand-ins: accepted and delivered
to bob's Maildir (and taken out again); refused in Gmail's words (334 error challenge, 535 5.7.8) for another
user's, a scope-less, an unknown, an expired and a revoked token; 501 for garbage.
"""

import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import smtplib
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
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


# The bearer token every EWS request of this process sends instead of svc's Basic
# credentials, while set (by `as_app`).
BEARER = None


@contextlib.contextmanager
def as_app(token):
    global BEARER
    BEARER, before = token, BEARER
    try:
        yield
    finally:
        BEARER = before


def exchange(body: str, as_user=None, login=SVC, password=SVC_PW, anchor=None, raw=None, bearer=None,
             path="/EWS/Exchange.asmx"):
    """(HTTP status, headers, body bytes) of one EWS request."""
    header = '<t:RequestServerVersion Version="Exchange2013"/>'
    if as_user:
        header += (f"<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{as_user}"
                   "</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>")
    data = raw if raw is not None else (
        f'<?xml version="1.0" encoding="utf-8"?>\n<soap:Envelope xmlns:soap="{NS_SOAP}" xmlns:t="{NS_T}" '
        f'xmlns:m="{NS_M}"><soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>'
    ).encode()
    bearer = bearer or (BEARER if login == SVC else None)
    headers = {"Content-Type": "text/xml; charset=utf-8",
               "Authorization": f"Bearer {bearer}" if bearer else
               "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}
    if as_user or anchor:
        headers["X-AnchorMailbox"] = anchor if anchor is not None else as_user
    conn = http.client.HTTPSConnection(HOST, PORT, context=TLS, timeout=30)
    try:
        conn.request("POST", path, data, headers)
        resp = conn.getresponse()
        text = resp.read()
    finally:
        conn.close()
    return resp.status, resp.headers, text


def post(body: str, as_user=None, **kw):
    """(HTTP status, parsed envelope) of one EWS request."""
    status, _, text = exchange(body, as_user, **kw)
    return status, ET.fromstring(text)


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


# ---- app-only OAuth: Entra ID's stand-in and Exchange Online's bearer tokens -----------

AUTHORITY = env["MAIL_OAUTH_AUTHORITY"]
SCOPE = "https://outlook.office365.com/.default"
APP = (env["MAIL_OAUTH_TENANT"], env["MAIL_OAUTH_CLIENT_ID"], env["MAIL_OAUTH_CLIENT_SECRET"])
OTHER_APP = (env["MAIL_OAUTH_OTHER_TENANT"], env["MAIL_OAUTH_OTHER_CLIENT_ID"], env["MAIL_OAUTH_OTHER_CLIENT_SECRET"])
NOROLE_APP = (env["MAIL_OAUTH_TENANT"], env["MAIL_OAUTH_NOROLE_CLIENT_ID"], env["MAIL_OAUTH_NOROLE_CLIENT_SECRET"])
# DER DigestInfo of a SHA-256 hash (RFC 8017 9.2): what RS256 signs.
SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def http_json(method: str, url: str, data: bytes = None, headers=None):
    """(HTTP status, JSON body) of a request to the oauth mock."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def token_request(tenant, client_id, secret, scope=SCOPE, grant="client_credentials", basic=False, drop=()):
    """(status, JSON) of Entra ID's v2.0 client credentials request, as the product sends it."""
    form = {"grant_type": grant, "client_id": client_id, "client_secret": secret, "scope": scope}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        del form["client_id"], form["client_secret"]
        pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    for k in drop:
        form.pop(k, None)
    return http_json("POST", f"{AUTHORITY}/{tenant}/oauth2/v2.0/token", urllib.parse.urlencode(form).encode(), headers)


def get_token(app, **kw) -> str:
    status, answer = token_request(*app, **kw)
    check(status == 200, f"token for {app[1]}: HTTP {status} {answer}")
    check(answer.get("token_type") == "Bearer" and isinstance(answer.get("expires_in"), int)
          and answer["expires_in"] > 300 and answer.get("access_token"), f"token response shape: {answer}")
    return answer["access_token"]


def mock_token(**claims) -> str:
    status, answer = http_json("POST", f"{AUTHORITY}/mock/token", json.dumps(claims).encode(),
                               {"Content-Type": "application/json"})
    check(status == 200, f"/mock/token: {status} {answer}")
    return answer["access_token"]


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt(token: str):
    head, body, _ = token.split(".")
    return json.loads(b64url(head)), json.loads(b64url(body))


def rs256_valid(token: str, jwk) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256, verified with Python's integers."""
    head, body, sig = token.split(".")
    n = int.from_bytes(b64url(jwk["n"]), "big")
    e = int.from_bytes(b64url(jwk["e"]), "big")
    k = (n.bit_length() + 7) // 8
    digest = SHA256_INFO + hashlib.sha256(f"{head}.{body}".encode()).digest()
    expected = b"\x00\x01" + b"\xff" * (k - 3 - len(digest)) + b"\x00" + digest
    return pow(int.from_bytes(b64url(sig), "big"), e, n).to_bytes(k, "big") == expected


def entra_error(answer, status, want_status, error, code, what):
    check(status == want_status and answer.get("error") == error and answer.get("error_codes") == [code]
          and answer.get("error_description", "").startswith(f"AADSTS{code}: ")
          and "Trace ID: " in answer["error_description"] and answer.get("correlation_id"),
          f"{what}: expected {want_status} {error} AADSTS{code}, got {status} {answer}")


def refused(token: str, diagnostic: str, what: str, as_user=None):
    """EWS answers a bad bearer token with Exchange Online's 401."""
    status, headers, _ = exchange(INBOX, as_user or A, bearer=token)
    challenge = headers.get("WWW-Authenticate", "")
    check(status == 401 and challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
          and 'client_id="00000002-0000-0ff1-ce00-000000000000"' in challenge,
          f"{what}: expected 401 Bearer error=invalid_token, got {status} {challenge!r}")
    check((headers.get("x-ms-diagnostics") or "").startswith(diagnostic + ";"),
          f"{what}: x-ms-diagnostics {headers.get('x-ms-diagnostics')!r}")


INBOX = ("<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
         '<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>')


def oauth():
    print(f"Entra ID stand-in at {AUTHORITY}, tenants {APP[0]} and {OTHER_APP[0]}")
    _, before = http_json("GET", f"{AUTHORITY}/stats")

    # -- tokens: shape, claims, signature ----------------------------------------------------
    tokens = {}
    for app in (APP, OTHER_APP):
        tenant, client_id, _ = app
        token = tokens[tenant] = get_token(app)
        header, claims = jwt(token)
        now = time.time()
        check(header.get("alg") == "RS256" and header.get("typ") == "JWT" and header.get("kid"), f"JWT header {header}")
        check(claims.get("aud") == "https://outlook.office365.com" and claims.get("tid") == tenant
              and claims.get("appid") == client_id and claims.get("roles") == ["full_access_as_app"]
              and claims.get("iss") == f"https://sts.windows.net/{tenant}/" and claims.get("ver") == "1.0"
              and claims.get("idtyp") == "app" and claims.get("oid") and claims.get("sub") == claims.get("oid"),
              f"claims of {client_id}: {claims}")
        check(claims["nbf"] <= now + 5 and claims["iat"] <= now + 5 and 3000 < claims["exp"] - now <= 3600,
              f"lifetime: {claims}")
        status, keys = http_json("GET", f"{AUTHORITY}/{tenant}/discovery/v2.0/keys")
        check(status == 200, f"JWKS of {tenant}: {status}")
        jwk = [k for k in keys["keys"] if k["kid"] == header["kid"]]
        check(len(jwk) == 1 and jwk[0]["kty"] == "RSA" and jwk[0]["use"] == "sig", f"kid in the JWKS: {keys}")
        check(rs256_valid(token, jwk[0]), "RS256 signature verifies against the tenant's JWKS")
        check(not rs256_valid(token[:-6] + ("AAAAAA" if token[-6:] != "AAAAAA" else "BBBBBB"), jwk[0]),
              "and a changed one does not")
    check(rs256_valid(get_token(APP, basic=True), jwk[0]), "client_secret_basic works too")
    status, conf = http_json("GET", f"{AUTHORITY}/{APP[0]}/v2.0/.well-known/openid-configuration")
    check(status == 200 and conf["token_endpoint"] == f"{AUTHORITY}/{APP[0]}/oauth2/v2.0/token"
          and conf["jwks_uri"] == f"{AUTHORITY}/{APP[0]}/discovery/v2.0/keys", f"openid-configuration {conf}")
    print("ok: client credentials tokens for both tenants' apps (claims, RS256 against the JWKS, secret post/basic)")

    # -- the token endpoint's errors, in Entra ID's words -----------------------------------
    tenant, client_id, secret = APP
    status, answer = token_request(tenant, client_id, secret + "x")
    entra_error(answer, status, 401, "invalid_client", 7000215, "wrong secret")
    status, answer = token_request(tenant, client_id, "")
    entra_error(answer, status, 401, "invalid_client", 7000216, "no secret")
    status, answer = token_request(tenant, "0f0f0f0f-0000-4000-8000-000000000000", secret)
    entra_error(answer, status, 400, "unauthorized_client", 700016, "unknown client")
    status, answer = token_request(tenant, OTHER_APP[1], OTHER_APP[2])
    entra_error(answer, status, 400, "unauthorized_client", 700016, "the other tenant's app at this tenant")
    status, answer = token_request("0e0e0e0e-0000-4000-8000-000000000000", client_id, secret)
    entra_error(answer, status, 400, "invalid_request", 90002, "unknown tenant")
    check("Tenant '0e0e0e0e-0000-4000-8000-000000000000' not found" in answer["error_description"], "90002 text")
    status, answer = token_request(tenant, client_id, secret, grant="password")
    entra_error(answer, status, 400, "unsupported_grant_type", 70003, "password grant")
    status, answer = token_request(tenant, client_id, secret, drop=("grant_type",))
    entra_error(answer, status, 400, "invalid_request", 900144, "no grant_type")
    status, answer = token_request(tenant, client_id, secret, drop=("scope",))
    entra_error(answer, status, 400, "invalid_request", 90014, "no scope")
    status, answer = token_request(tenant, client_id, secret, scope="https://outlook.office365.com/EWS.AccessAsUser.All")
    entra_error(answer, status, 400, "invalid_scope", 1002012, "delegated scope in client credentials")
    status, answer = token_request(tenant, client_id, secret, scope="https://nowhere.example/.default")
    entra_error(answer, status, 400, "invalid_resource", 500011, "unknown resource")
    status, answer = http_json("GET", f"{AUTHORITY}/{tenant}/oauth2/v2.0/token")
    entra_error(answer, status, 400, "invalid_request", 900561, "GET on the token endpoint")
    print("ok: token errors (7000215 wrong secret, 7000216, 700016 unknown/cross-tenant app, 90002, 70003, "
          "900144, 90014, 1002012, 500011, 900561)")

    # -- EWS with app-only tokens: impersonation only ------------------------------------------
    c = f"act-{RUN}-carol@{DOMAIN}"
    d = f"act-{RUN}-dave@{DOMAIN}"
    with as_app(tokens[APP[0]]):
        check(total(c, "inbox") == 0 and total(c, "contacts") == 0, "app token: GetFolder inbox/contacts")
        state, _, _ = sync(c, "contacts")
        item_id, _ = created(c, "contacts", contact("Oli", "Auth", "oli@example.com"))
        state, last, changes = sync(c, "contacts", state)
        check(last and [(k, i) for k, i, _ in changes] == [("Create", item_id)], f"app token: sync {changes}")
        alice = f"alice@{DOMAIN}"
        counts = call("GetFolder", INBOX, alice)[0].findtext(f".//{T}TotalCount")
        check(counts == call("GetFolder", INBOX, login="alice", password=env["MAIL_PASSWORD_ALICE"])[0]
              .findtext(f".//{T}TotalCount"), "alice's inbox: the same through the app as signed in")
        _, code = fault(INBOX)
        check(code == "ErrorInvalidExchangeImpersonationHeaderData", f"app token without ExchangeImpersonation: {code}")
        faultstring, _ = fault(INBOX)
        check(faultstring == "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
              f"its text: {faultstring!r}")
        _, code = fault(INBOX, c, anchor="")
        check(code == "ErrorInvalidRequest", f"app token without X-AnchorMailbox: {code}")
        _, code = fault(INBOX, OUTSIDER)
        check(code == "ErrorNonExistentMailbox", f"app token, unknown mailbox: {code}")
    with as_app(tokens[OTHER_APP[0]]):
        item_id, _ = created(d, "contacts", contact("Tia", "Tenant"))
        check(total(d, "contacts") == 1, "the other tenant's app: CreateItem, GetFolder")
        _, _, changes = sync(d, "contacts")
        check([i for _, i, _ in changes] == [item_id], "the other tenant's app: SyncFolderItems")
    with as_app(get_token(APP, scope="00000002-0000-0ff1-ce00-000000000000/.default")):
        check(total(c, "contacts") == 1, "a token for Exchange's app id (aud 00000002-...) works too")
    with as_app(mock_token(expires_in=-30)):
        check(total(c, "contacts") == 1, "expired 30 s ago: inside the 60 s of clock skew")
    status, _, _ = exchange("<m:GetFolder/>", path="/autodiscover/autodiscover.xml", bearer=tokens[APP[0]])
    check(status == 401, f"Autodiscover takes Basic only: {status}")
    print("ok: EWS with both tenants' app tokens: GetFolder, CreateItem, SyncFolderItems through impersonation; "
          "no ExchangeImpersonation -> ErrorInvalidExchangeImpersonationHeaderData")

    # -- EWS refuses bad tokens with 401 ---------------------------------------------------
    token = tokens[APP[0]]
    head, body, sig = token.split(".")
    raw = bytearray(b64url(sig))
    raw[len(raw) // 2] ^= 0x01
    tampered = f"{head}.{body}." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    refused(tampered, "2000001", "signature with one byte changed")
    claims = jwt(token)[1]
    claims["roles"] = ["full_access_as_app", "more"]
    forged = head + "." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + "." + sig
    refused(forged, "2000001", "claims changed under the signature")
    refused(mock_token(foreign_key=True), "2000001", "signed by a key outside the JWKS, same kid")
    refused(mock_token(expires_in=-120), "2000005", "expired two minutes ago")
    refused(mock_token(not_before=600), "2000005", "not valid for ten minutes")
    refused(get_token(APP, scope="https://graph.microsoft.com/.default"), "2000003", "a Microsoft Graph token")
    refused(mock_token(aud="api://someone-else"), "2000003", "another audience")
    refused(get_token(NOROLE_APP), "2000008", "an app without full_access_as_app")
    refused("not-a-jwt", "2000000", "garbage")
    print("ok: EWS 401 Bearer error=\"invalid_token\" for tampered, forged, foreign-key, expired, not-yet-valid, "
          "wrong-audience, permissionless and malformed tokens")

    # -- /stats ------------------------------------------------------------------------------
    _, after = http_json("GET", f"{AUTHORITY}/stats")
    issued = after["clients"][APP[1]]["issued"] - before["clients"].get(APP[1], {}).get("issued", 0)
    check(issued >= 4, f"/stats: tokens issued to the app {issued}")
    check(after["token_requests"] - before["token_requests"] >= 16
          and after["tokens_issued"] - before["tokens_issued"] >= 6, f"/stats {before} -> {after}")
    _, again = http_json("GET", f"{AUTHORITY}/stats")
    check(again["token_requests"] == after["token_requests"], "/stats itself and EWS calls are no token requests")
    print("ok: /stats counts token requests and tokens issued, per client")


# ---- SMTP AUTH XOAUTH2 with per-mailbox OAuth tokens (Google's and Entra ID's stand-ins) ----

SMTP_PORTS = (int(env.get("MAIL_SMTP_PORT", 0)), int(env.get("MAIL_SMTPS_PORT", 0)))
GMAIL_REFUSAL = {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}
PKCE_VERIFIER = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
PKCE_CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(PKCE_VERIFIER.encode()).digest()).decode().rstrip("=")
REDIRECT = "http://127.0.0.1:8765/_grid/cmds/dlg_gmailoauth.aspx"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def signed_in(authorize_url: str, params: dict) -> dict:
    """Runs an authorize request (the mock signs login_hint in at once) and returns the
    parameters of the redirect back to the client."""
    url = authorize_url + "?" + urllib.parse.urlencode(params)
    try:
        urllib.request.build_opener(_NoRedirect).open(url, timeout=10)
        check(False, f"authorize did not redirect: {url}")
    except urllib.error.HTTPError as e:
        check(e.code == 302, f"authorize: HTTP {e.code} {e.read()[:300]!r}")
        location = e.headers["Location"]
    check(location.startswith(REDIRECT + "?"), f"redirected to {location}")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def form_post(url: str, form: dict):
    return http_json("POST", url, urllib.parse.urlencode(form).encode(),
                     {"Content-Type": "application/x-www-form-urlencoded"})


def google_tokens(user: str) -> dict:
    back = signed_in(f"{env['MAIL_GOOGLE_AUTHORITY']}/o/oauth2/v2/auth", {
        "client_id": env["MAIL_GOOGLE_CLIENT_ID"], "redirect_uri": REDIRECT, "response_type": "code",
        "scope": "https://mail.google.com/ openid email", "state": "s1", "access_type": "offline", "prompt": "consent",
        "code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256", "login_hint": user})
    check(back.get("state") == "s1" and back.get("code", "").startswith("4/0A"), f"Google's redirect {back}")
    status, answer = form_post(f"{env['MAIL_GOOGLE_AUTHORITY']}/token", {
        "client_id": env["MAIL_GOOGLE_CLIENT_ID"], "client_secret": env["MAIL_GOOGLE_CLIENT_SECRET"],
        "code": back["code"], "code_verifier": PKCE_VERIFIER, "redirect_uri": REDIRECT,
        "grant_type": "authorization_code"})
    check(status == 200 and answer.get("access_token", "").startswith("ya29.")
          and answer.get("refresh_token", "").startswith("1//"), f"Google's token response {status} {answer}")
    return answer


def entra_tokens(user: str, scope: str) -> dict:
    tenant, client_id = env["MAIL_OAUTH_TENANT"], env["MAIL_OAUTH_DELEGATED_CLIENT_ID"]
    back = signed_in(f"{AUTHORITY}/{tenant}/oauth2/v2.0/authorize", {
        "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": scope, "state": "s2",
        "code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256", "login_hint": user})
    check(back.get("state") == "s2" and back.get("code"), f"Entra's redirect {back}")
    status, answer = form_post(f"{AUTHORITY}/{tenant}/oauth2/v2.0/token", {
        "client_id": client_id, "client_secret": env["MAIL_OAUTH_DELEGATED_CLIENT_SECRET"], "code": back["code"],
        "code_verifier": PKCE_VERIFIER, "redirect_uri": REDIRECT, "grant_type": "authorization_code", "scope": scope})
    check(status == 200 and answer.get("access_token"), f"Entra's token response {status} {answer}")
    return answer


def xoauth2_blob(user: str, token: str) -> str:
    return base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def smtp_session(port: int):
    """An SMTP session ready for AUTH: implicit TLS on the smtps port, STARTTLS on submission."""
    if port == SMTP_PORTS[1]:
        s = smtplib.SMTP_SSL(HOST, port, context=TLS, timeout=30)
        s.ehlo("selftest")
    else:
        s = smtplib.SMTP(HOST, port, timeout=30)
        s.ehlo("selftest")
        check("auth" not in s.esmtp_features, "submission: no AUTH before STARTTLS")
        s.starttls(context=TLS)
        s.ehlo("selftest")
    check("XOAUTH2" in s.esmtp_features.get("auth", "").split(), f"EHLO AUTH: {s.esmtp_features.get('auth')}")
    return s


def smtp_line(s, line: str):
    s.send(line + "\r\n")
    return s.getreply()


def xoauth2_login(s, user: str, token: str, initial=True):
    """(code, text) of AUTH XOAUTH2; a refusal's 334 error challenge is answered with an empty
    line, as Gmail expects, and checked."""
    blob = xoauth2_blob(user, token)
    if initial:
        code, text = smtp_line(s, f"AUTH XOAUTH2 {blob}")
    else:
        code, text = smtp_line(s, "AUTH XOAUTH2")
        check(code == 334 and text == b"", f"AUTH XOAUTH2 without initial response: {code} {text!r}")
        code, text = smtp_line(s, blob)
    if code == 334:
        check(json.loads(base64.b64decode(text)) == GMAIL_REFUSAL, f"error challenge {text!r}")
        code, text = smtp_line(s, "")
    return code, text


def delivered(user: str, subject: str) -> bool:
    """Whether the message is in the user's Maildir; it is taken out again (the test users'
    mailboxes stay as they were)."""
    md = Path(env["MAIL_MAILDIR_ROOT"]) / user / "Maildir"
    for sub in ("new", "cur"):
        for f in (md / sub).glob("*"):
            try:
                if f"Subject: {subject}".encode() in f.read_bytes():
                    f.unlink()
                    return True
            except FileNotFoundError:
                continue
    return False


def outbox_auth(subject: str) -> str:
    for f in sorted(Path(env["MAIL_OUTBOX"]).glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:200]:
        data = f.read_bytes()
        if f"Subject: {subject}".encode() in data:
            m = re.search(rb"^X-Mailsync-Auth: (.*?)\r?$", data, re.M)
            return m.group(1).decode() if m else ""
    return ""


def smtp_xoauth2():
    if "MAIL_GOOGLE_AUTHORITY" not in env:
        print("SKIPPED: SMTP XOAUTH2 (target/mailservers/env has no MAIL_GOOGLE_AUTHORITY: an older "
              "mailservers.sh start; run it again)")
        return
    alice, bob = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
    google = google_tokens(alice)
    entra = entra_tokens(alice, "offline_access https://outlook.office.com/SMTP.Send")
    entra_imap_only = entra_tokens(alice, "https://outlook.office.com/IMAP.AccessAsUser.All")

    # -- accepted: both ports, both providers, with and without an initial response ---------
    for port, token, initial, what in ((SMTP_PORTS[1], google["access_token"], True, "Google, smtps"),
                                       (SMTP_PORTS[0], google["access_token"], False, "Google, submission"),
                                       (SMTP_PORTS[1], entra["access_token"], False, "Entra ID, smtps"),
                                       (SMTP_PORTS[0], entra["access_token"], True, "Entra ID, submission")):
        s = smtp_session(port)
        code, text = xoauth2_login(s, alice.upper() if port == SMTP_PORTS[0] else alice, token, initial)
        check(code == 235 and text == b"2.7.0 Accepted", f"{what}: {code} {text!r}")
        subject = f"xoauth2 {RUN} {what}"
        s.sendmail(alice, [bob], f"From: {alice}\r\nTo: {bob}\r\nSubject: {subject}\r\n\r\nHello.\r\n".encode())
        s.quit()
        check(delivered("bob", subject), f"{what}: delivered to bob's Maildir")
        check(outbox_auth(subject) == alice, f"{what}: X-Mailsync-Auth {outbox_auth(subject)!r}")
    print("ok: SMTP AUTH XOAUTH2 with Google's and Entra ID's tokens on both ports (initial response or "
          "after 334): 235 2.7.0 Accepted, delivered, X-Mailsync-Auth is the address")

    # -- refused: 334 <Gmail's error JSON>, empty line, 535 5.7.8 ------------------------------
    for token, user, what in ((google["access_token"], bob, "alice's token as bob"),
                              (entra_imap_only["access_token"], alice, "Entra token without SMTP.Send"),
                              ("ya29.not-a-token", alice, "unknown token")):
        s = smtp_session(SMTP_PORTS[1])
        code, text = xoauth2_login(s, user, token)
        check(code == 535 and text.startswith(b"5.7.8 Username and Password not accepted."),
              f"{what}: {code} {text!r}")
        code, _ = smtp_line(s, f"MAIL FROM:<{alice}>")
        check(code == 530, f"{what}: MAIL FROM after the refusal: {code}")
        s.quit()
    s = smtp_session(SMTP_PORTS[1])
    for garbage in ("!!!not-base64", base64.b64encode(b"user=alice\x01\x01").decode()):
        code, text = smtp_line(s, f"AUTH XOAUTH2 {garbage}")
        check(code == 501 and text.startswith(b"5.5.2"), f"garbage {garbage!r}: {code} {text!r}")
    code, text = smtp_line(s, "AUTH PLAIN " + base64.b64encode(f"\0alice\0{env['MAIL_PASSWORD_ALICE']}".encode()).decode())
    check(code == 235, f"AUTH PLAIN still works after them: {code} {text!r}")
    s.quit()
    print("ok: SMTP XOAUTH2 refusals in Gmail's words (334 error challenge, then 535 5.7.8) for another user's, "
          "a scope-less and an unknown token; 501 5.5.2 for garbage")

    # -- expiry, refresh, revocation ---------------------------------------------------------
    status, answer = http_json("POST", f"{AUTHORITY}/mock/expire", json.dumps({"token": google["access_token"]})
                               .encode(), {"Content-Type": "application/json"})
    check(status == 200 and answer.get("expired") == 1, f"/mock/expire {status} {answer}")
    s = smtp_session(SMTP_PORTS[1])
    code, _ = xoauth2_login(s, alice, google["access_token"])
    check(code == 535, f"expired token: {code}")
    s.quit()
    status, fresh = form_post(f"{env['MAIL_GOOGLE_AUTHORITY']}/token", {
        "client_id": env["MAIL_GOOGLE_CLIENT_ID"], "client_secret": env["MAIL_GOOGLE_CLIENT_SECRET"],
        "refresh_token": google["refresh_token"], "grant_type": "refresh_token"})
    check(status == 200 and fresh.get("access_token") and "refresh_token" not in fresh, f"refresh {status} {fresh}")
    s = smtp_session(SMTP_PORTS[0])
    code, _ = xoauth2_login(s, alice, fresh["access_token"])
    check(code == 235, f"refreshed token: {code}")
    s.quit()
    status, answer = form_post(f"{env['MAIL_GOOGLE_AUTHORITY']}/revoke", {"token": google["refresh_token"]})
    check(status == 200, f"revoke: {status} {answer}")
    s = smtp_session(SMTP_PORTS[1])
    code, text = xoauth2_login(s, alice, fresh["access_token"])
    check(code == 535, f"token of a revoked refresh token: {code} {text!r}")
    s.quit()
    status, answer = form_post(f"{env['MAIL_GOOGLE_AUTHORITY']}/token", {
        "client_id": env["MAIL_GOOGLE_CLIENT_ID"], "client_secret": env["MAIL_GOOGLE_CLIENT_SECRET"],
        "refresh_token": google["refresh_token"], "grant_type": "refresh_token"})
    check(status == 400 and answer == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
          f"refresh after revoke: {status} {answer}")
    print("ok: SMTP XOAUTH2 with an expired token 535, refreshed 235, after revocation 535 (and no refresh)")


def main():
    print(f"fake EWS at https://{HOST}:{PORT}, mailboxes {A} and {B}")
    oauth()
    smtp_xoauth2()

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
    check(changes[0][2].findtext(T + "JobTitle") == "Clerk", "sync: the item's properties")
    _, _, changes = sync(A, "calendar")
    check(changes and all(c[2].find(T + "Body") is None and c[2].find(T + "RequiredAttendees") is None
                          for c in changes), "sync: no Body, no attendees (as FindItem; GetItem has them)")
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
