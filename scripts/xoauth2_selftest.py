"""Self-test of per-mailbox OAuth 2.0 on the test mail servers: `bash scripts/mailservers.sh
start`, then `python3 scripts/xoauth2_selftest.py [-v]` (-v prints the IMAP, POP3 and SMTP
conversations). Stdlib only; it stops at the first failed check (exit status 1).

It runs the authorization code flow with PKCE (S256) at both stand-ins of
scripts/oauth_mock.mjs, as mailsync's "Gmail OAuth" and "OAuth with Microsoft Entra ID"
mailbox sign-in does it: Google's (/google/o/oauth2/v2/auth, /google/token, /google/revoke)
and Entra ID's (/{tenant}/oauth2/v2.0/authorize and /token, with the delegated app); the mock
signs the login_hint user in at once, so the redirect back to the client carries the code.
It checks the token responses, the JWTs (claims, RS256 against the JWKS), refresh (Entra ID
rotates refresh tokens, Google does not), revocation and the errors of both, in their words.
Then it signs in with those access tokens by SASL XOAUTH2 (and OAUTHBEARER) on dovecot's IMAP
(STARTTLS on the plain port, and IMAPS) and POP3 (STLS, and POP3S), and on smtp_ews.py's
SMTP (submission with STARTTLS, and implicit TLS), trusting target/mailservers/ca.pem:
alice's token as alice reaches alice's INBOX (the same messages as a LOGIN alice alice-pw);
alice's token as bob, an Entra ID token without the service's permission, an expired and a
revoked token are refused (dovecot: "+ <base64 {"status":"401","schemes":"bearer","scope":
"mail"}>", then NO/-ERR after the client's empty line; SMTP: Gmail's 334 + 535 5.7.8).
Password logins still work and never reach the token introspection. It only expires and
revokes its own tokens (the mock's hooks take one token), except for svc's.
"""

import base64
import hashlib
import html
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = Path(os.environ.get("MAILSERVERS_DIR", ROOT / "target" / "mailservers")) / "env"
env = {}
for line in ENV_FILE.read_text().splitlines():
    if "=" in line and not line.startswith("#"):
        k, _, v = line.partition("=")
        env[k] = v
for key in ("MAIL_GOOGLE_AUTHORITY", "MAIL_OAUTH_DELEGATED_CLIENT_ID", "MAIL_OAUTH_INTROSPECT_URL"):
    if key not in env:
        sys.exit(f"{ENV_FILE} has no {key}: run `bash scripts/mailservers.sh start` again")

VERBOSE = "-v" in sys.argv[1:]
HOST, DOMAIN = env["MAIL_HOST"], env["MAIL_DOMAIN"]
AUTHORITY = env["MAIL_OAUTH_AUTHORITY"]
GOOGLE = env["MAIL_GOOGLE_AUTHORITY"]
TENANT = env["MAIL_OAUTH_TENANT"]
ENTRA_ID, ENTRA_SECRET = env["MAIL_OAUTH_DELEGATED_CLIENT_ID"], env["MAIL_OAUTH_DELEGATED_CLIENT_SECRET"]
GOOGLE_ID, GOOGLE_SECRET = env["MAIL_GOOGLE_CLIENT_ID"], env["MAIL_GOOGLE_CLIENT_SECRET"]
REDIRECT = "http://127.0.0.1:49152/_grid/cmds/dlg_gmailoauth.aspx"
OUTLOOK = "https://outlook.office.com"
MAIL_SCOPES = (f"{OUTLOOK}/IMAP.AccessAsUser.All {OUTLOOK}/POP.AccessAsUser.All {OUTLOOK}/SMTP.Send "
               "offline_access openid email")
ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
TLS = ssl.create_default_context(cafile=env["MAIL_CA"])
DOVECOT_REFUSAL = {"status": "401", "schemes": "bearer", "scope": "mail"}
GMAIL_REFUSAL = {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}
SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


# ---- HTTP ----------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(method, url, data=None, headers=None):
    """(status, headers, body bytes), redirects not followed."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=15) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(url, headers=None):
    status, _, body = http("GET", url, headers=headers)
    return status, json.loads(body or b"null")


def post_form(url, form, headers=None):
    status, _, body = http("POST", url, urllib.parse.urlencode(form).encode(),
                           {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    return status, json.loads(body or b"null")


def post_json(url, obj):
    status, _, body = http("POST", url, json.dumps(obj).encode(), {"Content-Type": "application/json"})
    return status, json.loads(body or b"null")


def pkce():
    verifier = base64.urlsafe_b64encode(os.urandom(48)).decode().rstrip("=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize(url, params):
    """(status, redirect parameters or None, page text) of an authorize request."""
    status, headers, body = http("GET", url + "?" + urllib.parse.urlencode(params))
    if status == 302:
        location = headers["Location"]
        base = params.get("redirect_uri", "")
        check(location.split("?")[0] == base.split("?")[0], f"redirected to {location}, not {base}")
        return status, dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query)), ""
    return status, None, html.unescape(body.decode())


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt(token):
    head, body, _ = token.split(".")
    return json.loads(b64url(head)), json.loads(b64url(body))


def rs256_valid(token, jwks):
    head, body, sig = token.split(".")
    kid = json.loads(b64url(head))["kid"]
    for jwk in jwks["keys"]:
        if jwk["kid"] != kid:
            continue
        n, e = int.from_bytes(b64url(jwk["n"]), "big"), int.from_bytes(b64url(jwk["e"]), "big")
        k = (n.bit_length() + 7) // 8
        digest = SHA256_INFO + hashlib.sha256(f"{head}.{body}".encode()).digest()
        expected = b"\x00\x01" + b"\xff" * (k - 3 - len(digest)) + b"\x00" + digest
        return pow(int.from_bytes(b64url(sig), "big"), e, n).to_bytes(k, "big") == expected
    return False


# ---- the two providers' flows -----------------------------------------------------------------


def entra_authorize(user, scope=MAIL_SCOPES, segment=TENANT, challenge=None, **extra):
    params = {"client_id": ENTRA_ID, "response_type": "code", "redirect_uri": REDIRECT, "scope": scope,
              "state": "st-" + os.urandom(4).hex(), "response_mode": "query", "login_hint": user,
              "nonce": "n-" + os.urandom(4).hex(), "prompt": "select_account"}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    params = {k: v for k, v in params.items() if v is not None}
    return params, authorize(f"{AUTHORITY}/{segment}/oauth2/v2.0/authorize", params)


def entra_token(form, segment=TENANT):
    base = {"client_id": ENTRA_ID, "client_secret": ENTRA_SECRET}
    base.update(form)
    return post_form(f"{AUTHORITY}/{segment}/oauth2/v2.0/token", {k: v for k, v in base.items() if v is not None})


def entra_flow(user, scope=MAIL_SCOPES, segment=TENANT):
    verifier, challenge = pkce()
    params, (status, back, page) = entra_authorize(user, scope, segment, challenge)
    check(status == 302 and back and back.get("code") and back.get("state") == params["state"]
          and back.get("session_state"), f"Entra authorize: {status} {back} {page[:300]}")
    status, answer = entra_token({"grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT,
                                  "code_verifier": verifier, "scope": scope}, segment)
    check(status == 200, f"Entra code grant: {status} {answer}")
    answer["_nonce"] = params["nonce"]
    return answer


def google_authorize(user, scope="https://mail.google.com/ openid email", challenge=None, **extra):
    params = {"client_id": GOOGLE_ID, "redirect_uri": REDIRECT, "response_type": "code", "scope": scope,
              "state": "gs-" + os.urandom(4).hex(), "access_type": "offline", "prompt": "consent",
              "login_hint": user, "include_granted_scopes": "true", "nonce": "gn-" + os.urandom(4).hex()}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    params = {k: v for k, v in params.items() if v is not None}
    return params, authorize(f"{GOOGLE}/o/oauth2/v2/auth", params)


def google_token(form, basic=False):
    base = {"client_id": GOOGLE_ID, "client_secret": GOOGLE_SECRET}
    base.update(form)
    headers = {}
    if basic:
        pair = f"{urllib.parse.quote_plus(base.pop('client_id'))}:{urllib.parse.quote_plus(base.pop('client_secret'))}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return post_form(f"{GOOGLE}/token", {k: v for k, v in base.items() if v is not None}, headers)


def google_flow(user, scope="https://mail.google.com/ openid email", access_type="offline"):
    verifier, challenge = pkce()
    params, (status, back, page) = google_authorize(user, scope, challenge, access_type=access_type)
    check(status == 302 and back and back.get("code", "").startswith("4/0A") and back.get("state") == params["state"],
          f"Google authorize: {status} {back} {page[:300]}")
    status, answer = google_token({"grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT,
                                   "code_verifier": verifier})
    check(status == 200, f"Google code grant: {status} {answer}")
    answer["_nonce"] = params["nonce"]
    answer["_granted"] = back.get("scope")
    return answer


# ---- line protocols, with a transcript -------------------------------------------------------


class Wire:
    def __init__(self, port, implicit_tls=False):
        self.sock = socket.create_connection((HOST, port), timeout=30)
        if implicit_tls:
            self.sock = TLS.wrap_socket(self.sock, server_hostname=HOST)
        self.file = self.sock.makefile("rb")
        self.log = []

    def starttls(self):
        self.sock = TLS.wrap_socket(self.sock, server_hostname=HOST)
        self.file = self.sock.makefile("rb")
        self.log.append(("--", "TLS"))

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        self.log.append(("C", line))

    def read(self):
        line = self.file.readline().decode().rstrip("\r\n")
        self.log.append(("S", line))
        return line

    def until(self, prefix):
        """Lines up to and including the one starting with prefix."""
        lines = []
        while True:
            line = self.read()
            lines.append(line)
            if line.startswith(prefix) or not line:
                return lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def show(self, title):
        if not VERBOSE:
            return
        print(f"  --- {title}")
        for who, line in self.log:
            if len(line) > 110:
                line = line[:100] + f"... ({len(line)} chars)"
            print(f"  {who}: {line}")


def xoauth2(user, token):
    return base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def oauthbearer(user, token, port):
    return base64.b64encode(f"n,a={user},\x01host={HOST}\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def imap_session(tls_mode):
    """A session before login: "starttls" (plain port) or "implicit" (IMAPS)."""
    if tls_mode == "implicit":
        w = Wire(int(env["MAIL_IMAPS_PORT"]), implicit_tls=True)
        check(w.read().startswith("* OK"), "IMAPS greeting")
    else:
        w = Wire(int(env["MAIL_IMAP_PORT"]))
        greeting = w.read()
        check("AUTH=XOAUTH2" in greeting and "AUTH=OAUTHBEARER" in greeting, f"IMAP greeting: {greeting}")
        w.send("s STARTTLS")
        check(w.until("s ")[-1].startswith("s OK"), "IMAP STARTTLS")
        w.starttls()
    return w


def imap_auth(w, mech, blob, initial=True):
    """The tagged answer to AUTHENTICATE, and the challenge seen on a refusal (decoded)."""
    challenge = None
    if initial:
        w.send(f"a AUTHENTICATE {mech} {blob}")
    else:
        w.send(f"a AUTHENTICATE {mech}")
        check(w.read() == "+ ", "IMAP: empty continuation before the response")
        w.send(blob)
    line = w.read()
    if line.startswith("+ "):
        challenge = json.loads(base64.b64decode(line[2:]))
        w.send("")
        line = w.read()
    while line.startswith("* "):
        line = w.read()
    return line, challenge


def imap_mailbox(w):
    """(EXISTS of INBOX, sequence numbers of the seeded messages)."""
    w.send("b SELECT INBOX")
    lines = w.until("b ")
    check(lines[-1].startswith("b OK"), f"SELECT INBOX: {lines[-1]}")
    exists = next(int(m.group(1)) for m in (re.match(r"\* (\d+) EXISTS", ln) for ln in lines) if m)
    seeds = []
    for i in (1, 2, 3):
        w.send(f"c{i} SEARCH HEADER MESSAGE-ID seed-{i}@{DOMAIN}")
        lines = w.until(f"c{i} ")
        seeds += [int(n) for ln in lines if ln.startswith("* SEARCH") for n in ln.split()[2:]]
    w.send("z LOGOUT")
    w.until("z ")
    return exists, seeds


def imap_login(mech, user, token, tls_mode="starttls", initial=True, title=None):
    w = imap_session(tls_mode)
    blob = xoauth2(user, token) if mech == "XOAUTH2" else oauthbearer(user, token, 0)
    line, challenge = imap_auth(w, mech, blob, initial)
    result = (line, challenge, imap_mailbox(w) if line.startswith("a OK") else None)
    w.close()
    w.show(title or f"IMAP {mech} {user} ({tls_mode})")
    return result


def pop3_session(tls_mode):
    if tls_mode == "implicit":
        w = Wire(int(env["MAIL_POP3S_PORT"]), implicit_tls=True)
        check(w.read().startswith("+OK"), "POP3S greeting")
    else:
        w = Wire(int(env["MAIL_POP3_PORT"]))
        check(w.read().startswith("+OK"), "POP3 greeting")
        w.send("STLS")
        check(w.read().startswith("+OK"), "POP3 STLS")
        w.starttls()
    return w


def pop3_login(user, token, tls_mode="starttls", initial=True, title=None):
    w = pop3_session(tls_mode)
    w.send("CAPA")
    capa = w.until(".")
    check(any(ln.startswith("SASL") and "XOAUTH2" in ln.split() for ln in capa), f"POP3 CAPA: {capa}")
    blob, challenge = xoauth2(user, token), None
    if initial:
        w.send(f"AUTH XOAUTH2 {blob}")
    else:
        w.send("AUTH XOAUTH2")
        check(w.read() == "+ ", "POP3: empty continuation")
        w.send(blob)
    line = w.read()
    if line.startswith("+ "):
        challenge = json.loads(base64.b64decode(line[2:]))
        w.send("")
        line = w.read()
    stat = None
    if line.startswith("+OK"):
        w.send("STAT")
        stat = w.read()
    w.send("QUIT")
    w.read()
    w.close()
    w.show(title or f"POP3 XOAUTH2 {user} ({tls_mode})")
    return line, challenge, stat


def smtp_reply(w):
    lines = [w.read()]
    while len(lines[-1]) > 3 and lines[-1][3] == "-":
        lines.append(w.read())
    return int(lines[-1][:3]), lines


def smtp_login(user, token, port_kind="submission", initial=True, send_to=None, title=None):
    implicit = port_kind == "smtps"
    w = Wire(int(env["MAIL_SMTPS_PORT" if implicit else "MAIL_SMTP_PORT"]), implicit_tls=implicit)
    check(smtp_reply(w)[0] == 220, "SMTP greeting")
    w.send("EHLO selftest")
    code, lines = smtp_reply(w)
    if not implicit:
        w.send("STARTTLS")
        check(smtp_reply(w)[0] == 220, "STARTTLS")
        w.starttls()
        w.send("EHLO selftest")
        code, lines = smtp_reply(w)
    check(any(ln[4:].startswith("AUTH ") and "XOAUTH2" in ln.split() for ln in lines), f"EHLO: {lines}")
    blob, challenge = xoauth2(user, token), None
    if initial:
        w.send(f"AUTH XOAUTH2 {blob}")
    else:
        w.send("AUTH XOAUTH2")
        check(smtp_reply(w) == (334, ["334 "]), "SMTP: empty 334 before the response")
        w.send(blob)
    code, lines = smtp_reply(w)
    if code == 334:
        challenge = json.loads(base64.b64decode(lines[0][4:]))
        w.send("")
        code, lines = smtp_reply(w)
    subject = None
    if code == 235 and send_to:
        subject = f"xoauth2 selftest {os.urandom(4).hex()}"
        for cmd, want in ((f"MAIL FROM:<{user.lower()}>", 250), (f"RCPT TO:<{send_to}>", 250), ("DATA", 354)):
            w.send(cmd)
            check(smtp_reply(w)[0] == want, f"SMTP {cmd}")
        w.sock.sendall(f"From: <{user}>\r\nTo: <{send_to}>\r\nSubject: {subject}\r\n\r\nHello.\r\n.\r\n".encode())
        w.log.append(("C", "<message>"))
        check(smtp_reply(w)[0] == 250, "SMTP end of DATA")
    w.send("QUIT")
    smtp_reply(w)
    w.close()
    w.show(title or f"SMTP XOAUTH2 {user} ({port_kind})")
    return code, lines, challenge, subject


def stats():
    return get_json(f"{AUTHORITY}/stats")[1]


# ---- the test -----------------------------------------------------------------------------------


def providers():
    """Both code flows, their tokens and their errors. Returns the tokens for the logins."""
    status, conf = get_json(f"{GOOGLE}/.well-known/openid-configuration")
    check(status == 200 and conf["issuer"] == GOOGLE and conf["authorization_endpoint"] == f"{GOOGLE}/o/oauth2/v2/auth"
          and conf["token_endpoint"] == f"{GOOGLE}/token" and conf["revocation_endpoint"] == f"{GOOGLE}/revoke"
          and conf["jwks_uri"] == f"{GOOGLE}/oauth2/v3/certs" and "S256" in conf["code_challenge_methods_supported"]
          and conf["userinfo_endpoint"], f"Google discovery {conf}")
    status, conf = get_json(f"{AUTHORITY}/{TENANT}/v2.0/.well-known/openid-configuration")
    check(status == 200 and conf["authorization_endpoint"] == f"{AUTHORITY}/{TENANT}/oauth2/v2.0/authorize"
          and conf["token_endpoint"] == f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token", f"Entra discovery {conf}")
    status, conf = get_json(f"{AUTHORITY}/organizations/v2.0/.well-known/openid-configuration")
    check(status == 200 and conf["authorization_endpoint"] == f"{AUTHORITY}/organizations/oauth2/v2.0/authorize",
          f"organizations discovery {conf}")
    google_jwks = get_json(f"{GOOGLE}/oauth2/v3/certs")[1]
    entra_jwks = get_json(f"{AUTHORITY}/{TENANT}/discovery/v2.0/keys")[1]
    print("ok: discovery documents (Google's, Entra ID's with authorization_endpoint, organizations)")

    # -- Google -------------------------------------------------------------------------------
    g = google_flow(ALICE)
    check(g["token_type"] == "Bearer" and g["access_token"].startswith("ya29.") and g["refresh_token"].startswith("1//")
          and 3000 < g["expires_in"] <= 3600
          and g["scope"] == "https://mail.google.com/ openid https://www.googleapis.com/auth/userinfo.email"
          and g["_granted"] == g["scope"], f"Google token response {g}")
    _, claims = jwt(g["id_token"])
    check(claims["iss"] == GOOGLE and claims["aud"] == GOOGLE_ID and claims["azp"] == GOOGLE_ID
          and claims["email"] == ALICE and claims["email_verified"] is True and claims["sub"].isdigit()
          and claims["nonce"] == g["_nonce"] and rs256_valid(g["id_token"], google_jwks), f"Google id_token {claims}")
    status, info = get_json(f"{GOOGLE}/oauth2/v3/userinfo", {"Authorization": f"Bearer {g['access_token']}"})
    check(status == 200 and info["email"] == ALICE and info["sub"] == claims["sub"], f"userinfo {status} {info}")
    status, fresh = google_token({"grant_type": "refresh_token", "refresh_token": g["refresh_token"]}, basic=True)
    check(status == 200 and fresh["access_token"] != g["access_token"] and "refresh_token" not in fresh
          and fresh["scope"] == g["scope"] and fresh.get("id_token"), f"Google refresh {status} {fresh}")
    online = google_flow(ALICE, scope="https://mail.google.com/", access_type="online")
    check("refresh_token" not in online and "id_token" not in online, f"access_type=online: {online}")
    print("ok: Google code flow with PKCE: ya29./1// tokens, scope, id_token (iss, aud, email, nonce, RS256), "
          "userinfo; refresh (basic auth) gives no new refresh token; access_type=online gives none at all")

    verifier, challenge = pkce()
    status, back, page = google_authorize(ALICE, client_id="999-unknown.apps.googleusercontent.com")[1]
    check(status == 401 and "Error 401: invalid_client" in page, f"unknown client: {status} {page[:200]}")
    status, back, page = google_authorize(ALICE, redirect_uri="http://127.0.0.1:49152/elsewhere")[1]
    check(status == 400 and "Error 400: redirect_uri_mismatch" in page, f"redirect mismatch: {status}")
    status, back, page = google_authorize(ALICE, redirect_uri="https://127.0.0.1/_grid/cmds/dlg_gmailoauth.aspx")[1]
    check(status == 400 and "redirect_uri_mismatch" in page, f"https on loopback is another URI: {status}")
    status, back, page = google_authorize(ALICE, scope="https://mail.google.com/ https://nowhere.example/x")[1]
    check(status == 400 and "Error 400: invalid_scope" in page, f"invalid scope: {status}")
    params, (status, back, page) = google_authorize(f"nobody@{DOMAIN}")
    check(status == 302 and back == {"error": "access_denied", "state": params["state"]}, f"unknown user: {back}")
    params, (status, back, page) = google_authorize(ALICE, mock_consent="deny")
    check(status == 302 and back == {"error": "access_denied", "state": params["state"]}, f"deny: {back}")
    params, (status, back, _) = google_authorize(ALICE, challenge=challenge,
                                                 redirect_uri="http://localhost:1234/_grid/cmds/dlg_gmailoauth.aspx")
    check(status == 302 and back.get("code"), f"localhost with a port: {status} {back}")
    code, redirect = back["code"], params["redirect_uri"]
    for form, want, what in (
            ({"client_secret": "wrong"}, (401, "invalid_client", "Unauthorized"), "wrong secret"),
            ({"client_id": "999-unknown.apps.googleusercontent.com"},
             (401, "invalid_client", "The OAuth client was not found."), "unknown client"),
            ({"code_verifier": None}, (400, "invalid_grant", "Missing code verifier."), "no verifier"),
            ({"code_verifier": verifier + "x"}, (400, "invalid_grant", "Invalid code verifier."), "wrong verifier"),
            ({"redirect_uri": REDIRECT}, (400, "redirect_uri_mismatch", "Bad Request"), "another redirect_uri"),
            ({"grant_type": "password"}, (400, "unsupported_grant_type", "Invalid grant_type: password"), "grant"),
            ({}, (200, None, None), "the right one"),
            ({}, (400, "invalid_grant", "Bad Request"), "the code again")):
        status, answer = google_token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                                       "code_verifier": verifier, **form})
        check((status, answer.get("error"), answer.get("error_description")) == want,
              f"Google token, {what}: {status} {answer}")
    status, answer = google_token({"grant_type": "refresh_token", "refresh_token": "1//0unknown"})
    check((status, answer) == (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
          f"unknown refresh token: {status} {answer}")
    print("ok: Google's errors: 401 invalid_client page, redirect_uri_mismatch and invalid_scope pages, access_denied "
          "redirects; token endpoint invalid_client, PKCE (Missing/Invalid code verifier.), redirect_uri_mismatch, "
          "unsupported_grant_type, a used code and an unknown refresh token invalid_grant")

    # -- Entra ID -------------------------------------------------------------------------------
    e = entra_flow(ALICE)
    check(e["token_type"] == "Bearer" and 3000 < e["expires_in"] <= 3600 and e["ext_expires_in"] == e["expires_in"]
          and e["scope"] == f"{OUTLOOK}/IMAP.AccessAsUser.All {OUTLOOK}/POP.AccessAsUser.All {OUTLOOK}/SMTP.Send"
          and e.get("refresh_token") and e.get("id_token"), f"Entra token response {e}")
    header, claims = jwt(e["access_token"])
    check(claims["aud"] == OUTLOOK and claims["iss"] == f"https://sts.windows.net/{TENANT}/" and claims["tid"] == TENANT
          and claims["upn"] == ALICE and claims["unique_name"] == ALICE and claims["email"] == ALICE
          and claims["scp"] == "IMAP.AccessAsUser.All POP.AccessAsUser.All SMTP.Send" and claims["appid"] == ENTRA_ID
          and claims["idtyp"] == "user" and claims["ver"] == "1.0" and claims["oid"]
          and claims["iat"] <= time.time() + 5 < claims["exp"] and rs256_valid(e["access_token"], entra_jwks),
          f"Entra access token {claims}")
    _, idc = jwt(e["id_token"])
    check(idc["iss"] == f"{AUTHORITY}/{TENANT}/v2.0" and idc["aud"] == ENTRA_ID and idc["preferred_username"] == ALICE
          and idc["email"] == ALICE and idc["oid"] == claims["oid"] and idc["tid"] == TENANT and idc["ver"] == "2.0"
          and idc["nonce"] == e["_nonce"] and idc["name"] == "Alice" and rs256_valid(e["id_token"], entra_jwks),
          f"Entra id_token {idc}")
    status, r1 = entra_token({"grant_type": "refresh_token", "refresh_token": e["refresh_token"]})
    check(status == 200 and r1["refresh_token"] != e["refresh_token"] and r1["scope"] == e["scope"], f"refresh {r1}")
    status, r2 = entra_token({"grant_type": "refresh_token", "refresh_token": e["refresh_token"],
                              "scope": f"{OUTLOOK}/SMTP.Send offline_access"})
    check(status == 200 and r2["scope"] == f"{OUTLOOK}/SMTP.Send" and jwt(r2["access_token"])[1]["scp"] == "SMTP.Send"
          and r2["refresh_token"] not in (e["refresh_token"], r1["refresh_token"]),
          f"the old refresh token still works, with a narrower scope: {status} {r2}")
    org = entra_flow(BOB, scope=f"{OUTLOOK}/IMAP.AccessAsUser.All offline_access", segment="organizations")
    check(jwt(org["access_token"])[1]["tid"] == TENANT and jwt(org["access_token"])[1]["upn"] == BOB
          and "id_token" not in org, f"organizations: {org}")
    by_domain = entra_flow(ALICE, scope=f"{OUTLOOK}/POP.AccessAsUser.All", segment=DOMAIN)
    check("refresh_token" not in by_domain, f"no offline_access, no refresh token: {by_domain}")
    print("ok: Entra ID code flow with PKCE: delegated v1.0 access token (aud outlook.office.com, scp, upn, email), "
          "id_token (nonce), RS256 against the JWKS; refresh rotates the refresh token and the old one stays good; "
          "/organizations and a tenant domain work; no offline_access, no refresh token")

    def aadsts(text, code):
        return f"AADSTS{code}:" in text

    status, back, page = entra_authorize(ALICE, client_id="0f0f0f0f-0000-4000-8000-000000000000")[1]
    check(status == 400 and back is None and aadsts(page, 700016), f"unknown app: {status} {page[:200]}")
    bad = "http://127.0.0.1:49152/somewhere/else"
    status, back, page = entra_authorize(ALICE, redirect_uri=bad)[1]
    check(status == 400 and back is None and f"AADSTS50011: The redirect URI '{bad}' specified in the request does not "
          f"match the redirect URIs configured for the application '{ENTRA_ID}'." in page, f"redirect: {page[:300]}")
    status, back, page = entra_authorize(ALICE, client_id=env["MAIL_OAUTH_CLIENT_ID"])[1]
    check(status == 400 and aadsts(page, 500113), f"an app without redirect URIs: {status}")
    for extra, want, code, what in (
            ({"response_type": "token"}, "unsupported_response_type", 700054, "response_type=token"),
            ({"login_hint": None}, "login_required", 50058, "no login_hint"),
            ({"login_hint": f"nobody@{DOMAIN}"}, "login_required", 50034, "unknown user"),
            ({"scope": f"{OUTLOOK}/EWS.AccessAsUser.All"}, "invalid_scope", 65001, "a permission the app lacks"),
            ({"scope": f"{OUTLOOK}/SMTP.Send https://graph.microsoft.com/Mail.Read"}, "invalid_scope", 28000,
             "two resources"),
            ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request", 501491, "challenge size"),
            ({"mock_consent": "deny"}, "access_denied", 65004, "consent denied")):
        params, (status, back, page) = entra_authorize(ALICE, **extra)
        check(status == 302 and back.get("error") == want and back.get("state") == params["state"]
              and back.get("error_description", "").startswith(f"AADSTS{code}: "), f"{what}: {status} {back} {page[:200]}")
    check(back["error_description"].startswith("AADSTS65004: User declined to consent to access the app."),
          "65004's words")

    verifier, challenge = pkce()
    params, (_, back, _) = entra_authorize(ALICE, challenge=challenge)
    code = back["code"]
    for form, status_error_code, what in (
            ({"client_secret": "wrong"}, (401, "invalid_client", 7000215), "wrong secret"),
            ({"client_secret": None}, (401, "invalid_client", 7000218), "no secret"),
            ({"code_verifier": verifier[:-1]}, (400, "invalid_grant", 501481), "wrong verifier"),
            ({"code_verifier": None}, (400, "invalid_grant", 501481), "no verifier"),
            ({"redirect_uri": "http://127.0.0.1:1/_grid/cmds/dlg_gmailoauth.aspx"}, (400, "invalid_grant", 500112),
             "another redirect_uri"),
            ({}, (200, None, None), "the right one"),
            ({}, (400, "invalid_grant", 54005), "the code again"),
            ({"code": "0.Anot-a-code"}, (400, "invalid_grant", 70008), "an unknown code")):
        status, answer = entra_token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                      "code_verifier": verifier, **form})
        got = (status, answer.get("error"), (answer.get("error_codes") or [None])[0])
        check(got == status_error_code, f"Entra token, {what}: {status} {answer}")
    check(answer["error_description"].startswith("AADSTS70008: The provided authorization code or refresh token has "
                                                 "expired due to inactivity."), "70008's words")
    status, answer = entra_token({"grant_type": "refresh_token", "refresh_token": "0.Aunknown"})
    check(status == 400 and answer["error"] == "invalid_grant" and answer["error_codes"] == [70008], f"{answer}")
    print("ok: Entra ID's errors: 400 pages for an unknown app (700016), an unregistered redirect URI (50011), none "
          "registered (500113); redirects with unsupported_response_type, login_required 50058/50034, invalid_scope "
          "65001/28000, 501491, access_denied 65004; token: 7000215, 7000218, 501481, 500112, 54005, 70008")

    # -- the hooks: introspection, one token's expiry and revocation --------------------------------
    for token, service, active in ((g["access_token"], "imap", True), (g["access_token"], "smtp", True),
                                   (e["access_token"], "pop3", True), (r2["access_token"], "imap", False),
                                   (r2["access_token"], "smtp", True), (org["access_token"], "pop3", False),
                                   ("nope", None, False)):
        url = env["MAIL_OAUTH_INTROSPECT_URL"] + (f"?service={service}" if service else "")
        status, info = get_json(url, {"Authorization": f"Bearer {token}"})
        check((status == 200 and info["active"] is True) == active and (status == 401) != active,
              f"introspect {service}: {status} {info}")
        if active:
            check(info["email"] == info["username"] == ALICE and info["provider"] in ("google", "entra")
                  and info["exp"] > time.time() and info["client_id"] in (GOOGLE_ID, ENTRA_ID), f"introspection {info}")
    status, info = post_form(env["MAIL_OAUTH_INTROSPECT_URL"], {"token": g["access_token"], "service": "pop3"})
    check(status == 200 and info["provider"] == "google", f"introspect by POST: {status} {info}")
    svc = entra_flow(f"svc@{DOMAIN}")
    status, answer = post_json(f"{AUTHORITY}/mock/expire", {"email": f"svc@{DOMAIN}"})
    check(status == 200 and answer["expired"] >= 1, f"/mock/expire by email: {answer}")
    status, answer = post_json(f"{AUTHORITY}/mock/revoke", {"email": f"svc@{DOMAIN}", "provider": "entra"})
    check(status == 200 and answer["revoked_refresh_tokens"] >= 1, f"/mock/revoke by email: {answer}")
    status, answer = entra_token({"grant_type": "refresh_token", "refresh_token": svc["refresh_token"]})
    check(status == 400 and answer["error_codes"] == [50173]
          and answer["error_description"].startswith("AADSTS50173: The provided grant has expired due to it being "
                                                     "revoked"), f"revoked refresh token: {answer}")
    print("ok: /mock/introspect per service (Google's mail scope; Entra ID's IMAP/POP/SMTP permissions), GET and "
          "POST; /mock/expire and /mock/revoke by email; a revoked Entra refresh token: invalid_grant 50173")
    return g, fresh, e, r1, r2, org


def logins(g, fresh, e, r1, r2, org):
    before = stats()

    # -- IMAP ------------------------------------------------------------------------------------
    w = imap_session("starttls")
    w.send(f"a LOGIN alice {env['MAIL_PASSWORD_ALICE']}")
    check(w.until("a ")[-1].startswith("a OK"), "IMAP LOGIN alice alice-pw")
    plain = imap_mailbox(w)
    w.close()
    check(plain[0] >= 1, f"alice's INBOX by password: {plain}")
    for token, tls_mode, initial, what in ((g["access_token"], "starttls", True, "Google token, STARTTLS"),
                                           (fresh["access_token"], "implicit", False, "refreshed Google token, IMAPS"),
                                           (e["access_token"], "implicit", True, "Entra ID token, IMAPS"),
                                           (r1["access_token"], "starttls", False, "Entra ID refreshed token")):
        line, challenge, box = imap_login("XOAUTH2", ALICE, token, tls_mode, initial, f"IMAP XOAUTH2: {what}")
        check(line.startswith("a OK") and challenge is None and box == plain, f"IMAP {what}: {line} {box} vs {plain}")
    line, challenge, box = imap_login("OAUTHBEARER", ALICE, g["access_token"], title="IMAP OAUTHBEARER")
    check(line.startswith("a OK") and box == plain, f"IMAP OAUTHBEARER: {line}")
    print(f"ok: IMAP AUTHENTICATE XOAUTH2 (and OAUTHBEARER) as {ALICE}, Google's and Entra ID's tokens, STARTTLS and "
          f"IMAPS, with and without SASL-IR: alice's INBOX ({plain[0]} messages, seeded ones at {plain[1]}), the "
          "same as LOGIN alice alice-pw")

    refusals = []
    expired = google_flow(ALICE)
    check(post_json(f"{AUTHORITY}/mock/expire", {"token": expired["access_token"]})[1]["expired"] == 1, "expire one")
    revoked = google_flow(ALICE)
    status, answer = post_form(f"{GOOGLE}/revoke", {"token": revoked["refresh_token"]})
    check((status, answer) == (200, {}), f"Google revoke: {status} {answer}")
    status, answer = post_form(f"{GOOGLE}/revoke", {"token": revoked["refresh_token"]})
    check((status, answer) == (400, {"error": "invalid_token", "error_description": "Token expired or revoked"}),
          f"revoke again: {status} {answer}")
    for mech, user, token, what in (("XOAUTH2", BOB, g["access_token"], "alice's token as bob"),
                                    ("XOAUTH2", ALICE, org["access_token"], "bob's token as alice"),
                                    ("XOAUTH2", "alice", g["access_token"], "alice's token as 'alice'"),
                                    ("XOAUTH2", ALICE, r2["access_token"], "Entra token without IMAP.AccessAsUser.All"),
                                    ("XOAUTH2", ALICE, expired["access_token"], "expired token"),
                                    ("XOAUTH2", ALICE, revoked["access_token"], "revoked token"),
                                    ("OAUTHBEARER", BOB, g["access_token"], "OAUTHBEARER, alice's token as bob")):
        line, challenge, _ = imap_login(mech, user, token, title=f"IMAP {mech} refused: {what}")
        want = DOVECOT_REFUSAL if mech == "XOAUTH2" else {"status": "invalid_token"}
        check(line == "a NO [AUTHENTICATIONFAILED] Authentication failed." and challenge == want,
              f"IMAP {what}: {line} {challenge}")
        refusals.append(what)
    print(f"ok: IMAP refuses {', '.join(refusals)}: + <base64 {json.dumps(DOVECOT_REFUSAL)}>, empty line, "
          "a NO [AUTHENTICATIONFAILED] Authentication failed.")

    # -- POP3 ------------------------------------------------------------------------------------
    w = pop3_session("starttls")
    w.send("USER alice")
    w.read()
    w.send(f"PASS {env['MAIL_PASSWORD_ALICE']}")
    check(w.read().startswith("+OK"), "POP3 USER/PASS alice")
    w.send("STAT")
    plain_stat = w.read()
    w.send("QUIT")
    w.close()
    for token, tls_mode, initial, what in ((g["access_token"], "starttls", True, "Google token, STLS"),
                                           (e["access_token"], "implicit", False, "Entra ID token, POP3S")):
        line, challenge, stat = pop3_login(ALICE, token, tls_mode, initial, f"POP3 XOAUTH2: {what}")
        check(line.startswith("+OK") and stat == plain_stat, f"POP3 {what}: {line} {stat} vs {plain_stat}")
    for user, token, what in ((ALICE, org["access_token"], "bob's IMAP-only token as alice"),
                              (BOB, org["access_token"], "Entra token without POP.AccessAsUser.All"),
                              (ALICE, revoked["access_token"], "revoked token")):
        line, challenge, _ = pop3_login(user, token, title=f"POP3 XOAUTH2 refused: {what}")
        check(line == "-ERR [AUTH] Authentication failed." and challenge == DOVECOT_REFUSAL, f"POP3 {what}: {line}")
    print(f"ok: POP3 AUTH XOAUTH2 (STLS and POP3S, with and without initial response): {plain_stat}, as USER/PASS; "
          "refused: + <base64 json>, empty line, -ERR [AUTH] Authentication failed.")

    # -- SMTP ------------------------------------------------------------------------------------
    for token, port_kind, initial, what in ((g["access_token"], "submission", True, "Google token, submission"),
                                            (e["access_token"], "smtps", False, "Entra ID token, smtps")):
        code, lines, challenge, subject = smtp_login(ALICE, token, port_kind, initial, send_to=BOB,
                                                     title=f"SMTP XOAUTH2: {what}")
        check(code == 235 and lines == ["235 2.7.0 Accepted"], f"SMTP {what}: {lines}")
        md = Path(env["MAIL_MAILDIR_ROOT"]) / "bob" / "Maildir" / "new"
        found = [f for f in md.glob("*") if f"Subject: {subject}".encode() in f.read_bytes()]
        check(len(found) == 1, f"SMTP {what}: delivered to bob")
        found[0].unlink()  # bob's mailbox stays as it was
    for user, token, what in ((BOB, g["access_token"], "alice's token as bob"),
                              (ALICE, revoked["access_token"], "revoked token"),
                              (ALICE, org["access_token"], "Entra token without SMTP.Send")):
        code, lines, challenge, _ = smtp_login(user, token, "smtps", title=f"SMTP XOAUTH2 refused: {what}")
        check(code == 535 and lines[0].startswith("535-5.7.8 Username and Password not accepted.")
              and challenge == GMAIL_REFUSAL, f"SMTP {what}: {lines} {challenge}")
    print("ok: SMTP AUTH XOAUTH2 (submission + STARTTLS, smtps): 235 2.7.0 Accepted, delivered to bob; refused: "
          f"334 <base64 {json.dumps(GMAIL_REFUSAL)}>, empty line, 535-5.7.8 ...")

    after = stats()
    for service in ("imap", "pop3", "smtp"):
        check(after["introspections"][service] > before["introspections"][service], f"introspections {service}")
    # Password logins never reach the introspection.
    mid = stats()["introspections"]
    w = imap_session("implicit")
    w.send("a LOGIN alice wrong-password")
    check(w.until("a ")[-1].startswith("a NO"), "a wrong password is refused")
    w.close()
    check(stats()["introspections"] == mid, "a password login is not introspected")
    print(f"ok: /stats: authorize {after['authorize_requests']}, code grants {after['code_grants']}, refresh grants "
          f"{after['refresh_grants']}, introspections {after['introspections']}; password logins are not introspected")


def main():
    print(f"OAuth stand-ins at {AUTHORITY} (Entra ID) and {GOOGLE} (Google); mail on {HOST}")
    tokens = providers()
    logins(*tokens)
    print(f"{checks} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED after {checks} checks: {e}", file=sys.stderr)
        print(f"{checks - 1} passed, 1 failed")
        sys.exit(1)
