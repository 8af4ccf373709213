// A stand-in for Microsoft Entra ID (app-only tokens for Exchange Online, and per-mailbox
// sign-in with the authorization code flow) and for Google's OAuth 2.0 server ("Gmail
// OAuth"), for mailservers.sh, on plain HTTP on loopback.
//
//   node scripts/oauth_mock.mjs --host 127.0.0.1 --port 31480 --config apps.json \
//     --keys keys.json --pidfile oauth_mock.pid
//
// oauth2-mock-server (e2e/node_modules) keeps the RSA key and signs the tokens; its own
// HTTP service is not used, since it has neither tenant paths nor registered clients.
// This server speaks Entra ID's and Google's paths and words instead.
//
// ---- Entra ID: app-only (client credentials) ----
// POST /{tenant}/oauth2/v2.0/token, application/x-www-form-urlencoded
//   grant_type=client_credentials&client_id=..&client_secret=..&scope=https://outlook.office365.com/.default
//   (the secret may come as HTTP Basic instead, client_secret_basic)
//   200 {"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"<RS256 JWT>"}
//   The JWT is a v1.0 app-only token as Entra ID issues it for Exchange Online:
//   iss https://sts.windows.net/<tid>/, aud the resource asked for (https://outlook.office365.com),
//   appid, tid, roles (the app's application permissions on that resource, e.g.
//   ["full_access_as_app"]; no roles claim when it has none), oid/sub, idtyp "app", ver "1.0",
//   iat/nbf/exp. Errors: {"error", "error_description": "AADSTSnnn: ...\r\nTrace ID: ..
//   \r\nCorrelation ID: ..\r\nTimestamp: ..", "error_codes", "timestamp", "trace_id",
//   "correlation_id", "error_uri"} with Entra ID's status codes (see ERRORS below).
// POST /{tenant}/oauth2/token (v1: resource=..)   the same, with v1's response shape.
// GET  /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys   the JWKS
// GET  /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/.well-known/openid-configuration
//   (with authorization_endpoint; "common" and "organizations" answer with {tenantid} in the URIs)
//
// ---- Entra ID: delegated (authorization code flow with PKCE, refresh tokens) ----
// {tenant} is a tenant id or one of its domains, or "organizations"/"common" (then the
// signed-in user's tenant is used; the app must be registered in it).
// GET /{tenant}/oauth2/v2.0/authorize?client_id&response_type=code&redirect_uri&scope&state
//     &code_challenge&code_challenge_method=S256|plain&login_hint&prompt&response_mode&nonce
//   No UI: the user named by login_hint is signed in at once and consents (a test may edit
//   the URL). Never a redirect for: unknown app (HTTP 400 HTML page "AADSTS700016: ..."),
//   redirect_uri not registered (HTTP 400 HTML "AADSTS50011: The redirect URI '<uri>' specified
//   in the request does not match the redirect URIs configured for the application '<client
//   id>'. ..."; an app without any: AADSTS500113), unknown tenant (AADSTS90002), no client_id
//   or redirect_uri (AADSTS900144). Every other error goes back by 302 to redirect_uri with
//   error, error_description ("AADSTSnnn: text\r\nTrace ID: ..\r\nCorrelation ID: ..\r\n
//   Timestamp: .."), error_uri and state:
//     response_type missing: invalid_request 900144; not code: unsupported_response_type 700054
//     scope missing: invalid_request 900144; a permission the app does not have on the
//       resource: invalid_scope 65001; two resources: invalid_scope 28000; unknown resource:
//       invalid_resource 500011 (a bare name, e.g. "Mail.Read", means Microsoft Graph's)
//     code_challenge_method not S256/plain, or a challenge of the wrong size: invalid_request 501491
//     login_hint missing: login_required 50058; not a user of that tenant: login_required 50034
//     mock_consent=deny (a test hook): access_denied "AADSTS65004: User declined to consent to
//       access the app."
//   Success: 302 redirect_uri?code=<random>&state=<state>&session_state=<guid>
//   (response_mode=fragment puts them in the fragment, form_post answers an auto-posting form).
//   Redirect URIs match exactly, except that for http on a loopback host (127.0.0.1, localhost,
//   [::1]) the port is ignored, as Entra ID and Google do. A code lives 10 minutes, is used once
//   and is bound to the client, redirect_uri, scope, user, code_challenge and nonce.
// POST /{tenant}/oauth2/v2.0/token
//   grant_type=authorization_code: client_id, client_secret (post or basic; a certificate
//     app's client assertion works too), code, redirect_uri (equal to the authorize one:
//     else invalid_grant 500112), code_verifier (S256/plain against the challenge: missing or
//     wrong -> invalid_grant 501481 "The Code_Verifier does not match the code_challenge
//     supplied in the authorization request."). Used code: invalid_grant 54005; unknown or
//     expired: invalid_grant 70008; another client's: invalid_grant 70000; another tenant's:
//     invalid_grant 700005; wrong secret: 401 invalid_client 7000215; none: 7000218.
//   grant_type=refresh_token: client_id, client_secret, refresh_token, optional scope (a
//     subset of the app's delegated permissions on one resource). Unknown: invalid_grant
//     70008 "The provided authorization code or refresh token has expired due to inactivity..";
//     revoked: invalid_grant 50173 "The provided grant has expired due to it being revoked..".
//     Every refresh returns a NEW refresh token; the old one stays valid too, as Entra ID does.
//   200 {"token_type":"Bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All
//     https://outlook.office.com/SMTP.Send","expires_in":3599,"ext_expires_in":3599,
//     "access_token":"<RS256 JWT>","refresh_token":"<opaque>" (offline_access asked),
//     "id_token":"<JWT>" (openid asked)}.
//   The access token is a v1.0 delegated token: aud the resource (https://outlook.office.com),
//   iss https://sts.windows.net/<tid>/, tid, oid, sub, upn, unique_name, email (lowercase), name,
//   scp (the short names: "IMAP.AccessAsUser.All SMTP.Send"), appid, app_displayname, idtyp
//   "user", ver "1.0", iat/nbf/exp. The id_token: iss ${AUTHORITY}/<tid>/v2.0, aud the client id,
//   sub, oid, tid, preferred_username, name, email (when the "email" scope was asked), nonce
//   (when given), ver "2.0"; same key.
//
// ---- Google ("Gmail OAuth"), under /google ----
// GET  /google/.well-known/openid-configuration   discovery, issuer ${AUTHORITY}/google
// GET  /google/o/oauth2/v2/auth?client_id&redirect_uri&response_type=code&scope&state
//     &access_type=offline&prompt=consent&code_challenge&code_challenge_method&login_hint
//     &include_granted_scopes&nonce
//   Unknown client: HTTP 401 HTML "Error 401: invalid_client"; redirect_uri not registered:
//   HTTP 400 HTML "Error 400: redirect_uri_mismatch"; missing client_id/redirect_uri/
//   response_type/scope, response_type not code, bad access_type or code_challenge_method:
//   HTTP 400 HTML "Error 400: invalid_request"; an unknown scope: HTTP 400 HTML "Error 400:
//   invalid_scope". Otherwise the login_hint user signs in at once; unknown user (or one
//   without "google": true) and mock_consent=deny: 302 redirect_uri?error=access_denied&state=.
//   Success: 302 redirect_uri?state=..&code=4/0A<random>&scope=<granted>&authuser=0&prompt=consent
//   ("email"/"profile" are granted as .../auth/userinfo.email / .../auth/userinfo.profile).
// POST /google/token   client_id + client_secret (post or basic), then
//   grant_type=authorization_code (code, code_verifier, redirect_uri) or refresh_token
//   (refresh_token, optional scope). Errors in Google's words: no client_id 400 invalid_request
//   "Could not determine client ID from request."; unknown client 401 invalid_client "The OAuth
//   client was not found."; wrong secret 401 invalid_client "Unauthorized"; grant type 400
//   unsupported_grant_type "Invalid grant_type: x"; bad, used, expired or another client's code
//   400 invalid_grant "Bad Request"; PKCE 400 invalid_grant "Missing code verifier." / "Invalid
//   code verifier."; redirect_uri differing from the authorize one 400 redirect_uri_mismatch
//   "Bad Request"; unknown or revoked refresh token 400 invalid_grant "Token has been expired or
//   revoked."; another client's refresh token 400 unauthorized_client "Unauthorized".
//   200 {"access_token":"ya29.<random>","expires_in":3599,"refresh_token":"1//<random>" (only
//   authorization_code with access_type=offline),"scope":"https://mail.google.com/ openid
//   https://www.googleapis.com/auth/userinfo.email","token_type":"Bearer","id_token":"<JWT: iss
//   ${AUTHORITY}/google, aud = azp = client id, sub, at_hash, email + email_verified (with the
//   email scope, as Google does), name (profile scope), nonce>" (openid asked)}.
//   Refreshing does not return a new refresh token (Google does not rotate them).
// POST /google/revoke   form (or query) token=<refresh or access token> -> 200 {}; the refresh
//   token and every access token issued from it stop working. Unknown: 400 {"error":
//   "invalid_token","error_description":"Token expired or revoked"}.
// GET  /google/oauth2/v3/certs   the JWKS;  GET /google/oauth2/v3/userinfo (Bearer)
//
// Both providers' delegated access tokens are remembered in memory (token -> provider, email,
// scopes, client id, exp, the refresh token it came from); a restart forgets all of them.
//
// ---- test hooks (neither provider has them) ----
// GET /mock/introspect?service=imap|pop3|smtp, Authorization: Bearer <token> (or POST form
//   token=..&service=..; without ?service, dovecot's X-Dovecot-Auth-Service header names it)
//   200 {"active":true,"email","username","scope","client_id","exp","provider":"google"|"entra"}
//   for a live delegated token whose scopes allow the service (Google: https://mail.google.com/;
//   Entra: IMAP.AccessAsUser.All / POP.AccessAsUser.All / SMTP.Send on Exchange Online); else
//   HTTP 401 {"active":false,"error":"invalid_token"}. Without a service any live delegated
//   token is active. (dovecot's oauth2 passdb and smtp_ews.py's XOAUTH2 ask this.)
// POST /mock/expire {"email", "provider" (optional)} -> {"expired": N}: the user's access
//   tokens expire now (refresh tokens stay valid).
// POST /mock/revoke {"email", "provider" (optional)} -> {"revoked_refresh_tokens": N,
//   "revoked_access_tokens": M}: every refresh and access token of the user is revoked.
//   Both also take {"token": "<access or refresh token>"} instead: only that token (a refresh
//   token: the access tokens issued from it too), so that concurrent tests keep theirs.
// POST /mock/token  JSON {"tenant", "client_id", "resource", "expires_in", "not_before" (seconds
//   from now), "roles", "aud", "foreign_key": true (signed by a key that is not in the JWKS, with
//   the same kid)} -> {"access_token": ...}: an app-only token; not counted in /stats.
// GET  /stats   {"token_requests", "tokens_issued", "clients": {"<client id>": {"requests",
//   "issued"}}, "authorize_requests", "code_grants", "refresh_grants" (successful ones),
//   "introspections": {"imap", "pop3", "smtp", "any"}, "introspections_active": {..},
//   "providers": {"entra"|"google": {"authorize_requests", "code_grants", "refresh_grants",
//   "revocations"}}} (token requests at both providers' token endpoints).
//
// The registered tenants, apps, users and Google clients come from --config (written by
// mailservers.sh):
// {"tenants": [{"id", "name", "domains": [..]}],
//  "apps": [{"tenant", "client_id", "client_secret", "certificate" (a PEM file: the app's
//            certificate credential), "display_name", "object_id",
//            "roles": {"exchange": ["full_access_as_app"], "graph": [..]},
//            "redirect_uris": [..], "delegated": {"exchange": ["IMAP.AccessAsUser.All", ..]}}],
//  "users": [{"email", "tenant", "google": true, "name"}],
//  "google_clients": [{"client_id", "client_secret", "redirect_uris": [..]}]}
// An app with a certificate signs in with a client assertion (private_key_jwt): a JWT
// whose header names the certificate by its SHA-1 thumbprint (x5t), signed RS256 or PS256
// with its private key, with aud = the token endpoint, iss = sub = the client id, and a
// lifetime around now ("Microsoft identity platform certificate credentials").

import { createHash, createPublicKey, randomBytes, randomUUID, verify, X509Certificate, constants }
  from "node:crypto";
import { readFileSync, writeFileSync, renameSync, unlinkSync, existsSync, chmodSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
}
for (const required of ["port", "config", "keys"]) {
  if (!args[required]) {
    console.error(`oauth_mock: --${required} is required`);
    process.exit(2);
  }
}
const HOST = args.host ?? "127.0.0.1";
const PORT = Number(args.port);
const TOKEN_LIFETIME = Number(args["token-lifetime"] ?? 3599);
const AUTHORITY = `http://${HOST}:${PORT}`;

// oauth2-mock-server lives in e2e/node_modules (e2e/package.json pins it).
const e2e = new URL("../e2e/package.json", import.meta.url);
let mock;
try {
  mock = await import(pathToFileURL(createRequire(e2e).resolve("oauth2-mock-server")).href);
} catch (e) {
  console.error(`oauth_mock: cannot load oauth2-mock-server from e2e/node_modules (run npm ci in e2e/): ${e.message}`);
  process.exit(1);
}

// Microsoft's first-party resources, as every tenant has them: identifier URIs and app id.
const RESOURCES = {
  exchange: {
    appId: "00000002-0000-0ff1-ce00-000000000000",
    name: "Office 365 Exchange Online",
    uris: ["https://outlook.office365.com", "https://outlook.office.com", "https://ps.outlook.com"],
  },
  graph: {
    appId: "00000003-0000-0000-c000-000000000000",
    name: "Microsoft Graph",
    uris: ["https://graph.microsoft.com"],
  },
};

const config = JSON.parse(readFileSync(args.config, "utf8"));
const tenants = config.tenants ?? [];
const apps = config.apps ?? [];
// Each certificate credential: its public key and its SHA-1 thumbprint, base64url (x5t).
for (const app of apps) {
  if (!app.certificate) continue;
  const pem = readFileSync(app.certificate, "utf8");
  const cert = new X509Certificate(pem);
  app.cert = { key: createPublicKey(pem), x5t: createHash("sha1").update(cert.raw).digest("base64url") };
}

function findTenant(segment) {
  const s = segment.toLowerCase();
  return tenants.find((t) => t.id.toLowerCase() === s || (t.domains ?? []).some((d) => d.toLowerCase() === s));
}

// The signing key survives restarts (tokens a client cached stay valid); a second issuer
// holds a key outside the JWKS with the same kid, for tests of a forged signature.
const issuer = new mock.OAuth2Issuer();
issuer.url = AUTHORITY;
if (existsSync(args.keys)) {
  for (const jwk of JSON.parse(readFileSync(args.keys, "utf8"))) await issuer.keys.add(jwk);
} else {
  // Entra ID's kids look like base64url SHA-1 thumbprints (27 characters).
  await issuer.keys.generate("RS256", { kid: randomBytes(20).toString("base64url") });
  const tmp = `${args.keys}.tmp`;
  writeFileSync(tmp, JSON.stringify(issuer.keys.toJSON(true)), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, args.keys);
}
const signingKey = issuer.keys.toJSON(false)[0];
const foreign = new mock.OAuth2Issuer();
foreign.url = AUTHORITY;
await foreign.keys.generate("RS256", { kid: signingKey.kid });

const stats = {
  token_requests: 0, tokens_issued: 0, clients: {},
  authorize_requests: 0, code_grants: 0, refresh_grants: 0,
  introspections: { imap: 0, pop3: 0, smtp: 0, any: 0 },
  introspections_active: { imap: 0, pop3: 0, smtp: 0, any: 0 },
  providers: {
    entra: { authorize_requests: 0, code_grants: 0, refresh_grants: 0, revocations: 0 },
    google: { authorize_requests: 0, code_grants: 0, refresh_grants: 0, revocations: 0 },
  },
};
function countClient(clientId, issued) {
  if (!clientId) return;
  const c = (stats.clients[clientId] ??= { requests: 0, issued: 0 });
  if (issued) c.issued += 1;
  else c.requests += 1;
}

function guidFrom(...parts) {
  const h = createHash("sha256").update(parts.join("/")).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function timestamp() {
  return new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// ---- tokens -------------------------------------------------------------------------

async function appToken({ tenant, app, aud, roles, expiresIn, notBefore = 0, foreignKey = false }) {
  const now = Math.floor(Date.now() / 1000);
  const tid = tenant.id;
  const oid = app?.object_id ?? guidFrom("sp", tid, app?.client_id ?? "");
  const transform = (header, payload) => {
    header.x5t = header.kid;
    for (const k of Object.keys(payload)) delete payload[k];
    Object.assign(payload, {
      aud,
      iss: `https://sts.windows.net/${tid}/`,
      iat: now,
      nbf: now + notBefore,
      exp: now + expiresIn,
      aio: randomBytes(24).toString("base64"),
      app_displayname: app?.display_name ?? "mailsync",
      appid: app?.client_id ?? "",
      appidacr: "1",
      idp: `https://sts.windows.net/${tid}/`,
      idtyp: "app",
      oid,
      rh: `0.${randomBytes(12).toString("base64url")}.`,
      sub: oid,
      tid,
      uti: randomBytes(16).toString("base64url"),
      ver: "1.0",
    });
    if (roles && roles.length) payload.roles = roles;
  };
  const signer = foreignKey ? foreign : issuer;
  return signer.buildToken({ kid: signingKey.kid, scopesOrTransform: transform, expiresIn });
}

// ---- Entra ID's errors --------------------------------------------------------------

const ERRORS = {
  // code: [HTTP status, OAuth error]
  50059: [400, "invalid_request"],
  70003: [400, "unsupported_grant_type"],
  90002: [400, "invalid_request"],
  90014: [400, "invalid_request"],
  900144: [400, "invalid_request"],
  900561: [400, "invalid_request"],
  700016: [400, "unauthorized_client"],
  7000215: [401, "invalid_client"],
  7000216: [401, "invalid_client"],
  50027: [400, "invalid_request"],
  700021: [400, "invalid_client"],
  700024: [400, "invalid_client"],
  700027: [401, "invalid_client"],
  700212: [400, "invalid_client"],
  1002012: [400, "invalid_scope"],
  28000: [400, "invalid_scope"],
  500011: [400, "invalid_resource"],
  // delegated grants
  7000218: [401, "invalid_client"],
  9002331: [400, "invalid_request"],
  54005: [400, "invalid_grant"],
  70000: [400, "invalid_grant"],
  70008: [400, "invalid_grant"],
  50173: [400, "invalid_grant"],
  65001: [400, "invalid_grant"],
  500112: [400, "invalid_grant"],
  501481: [400, "invalid_grant"],
  700005: [400, "invalid_grant"],
};

function tokenError(res, req, code, text) {
  const [status, error] = ERRORS[code];
  const traceId = randomUUID();
  const correlationId = req.headers["client-request-id"] || randomUUID();
  const ts = timestamp();
  send(res, status, {
    error,
    error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${ts}`,
    error_codes: [code],
    timestamp: ts,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${AUTHORITY}/error?code=${code}`,
  });
}

function send(res, status, body, extra = {}) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": data.length,
    "Cache-Control": "no-store, no-cache",
    Pragma: "no-cache",
    "x-ms-request-id": randomUUID(),
    ...extra,
  });
  res.end(data);
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error("too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

// The client's id and secret: client_secret_post, or client_secret_basic (RFC 6749 2.3.1:
// each form-urlencoded, then base64 of "id:secret").
function clientCredentials(req, form) {
  const auth = req.headers.authorization ?? "";
  const m = /^Basic\s+(\S+)$/i.exec(auth);
  if (m) {
    const decoded = Buffer.from(m[1], "base64").toString("utf8");
    const i = decoded.indexOf(":");
    if (i >= 0) {
      const dec = (s) => decodeURIComponent(s.replace(/\+/g, " "));
      try {
        return { clientId: dec(decoded.slice(0, i)), secret: dec(decoded.slice(i + 1)) };
      } catch {
        return { clientId: decoded.slice(0, i), secret: decoded.slice(i + 1) };
      }
    }
  }
  return { clientId: form.get("client_id"), secret: form.get("client_secret") };
}

// Why Entra ID refuses a client assertion, as [AADSTS code, text], or null when it is good.
function assertionRefused(app, form, jwt, endpoint) {
  if (form.get("client_assertion_type") !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
    return [50027, "Invalid JWT token. The client_assertion_type must be " +
      "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'."];
  }
  const parts = jwt.split(".");
  let header, claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return [50027, "JWT token is invalid or malformed."];
  }
  if (parts.length !== 3 || !["RS256", "PS256"].includes(header.alg)) {
    return [50027, "JWT token is invalid or malformed."];
  }
  if (!app.cert || header.x5t !== app.cert.x5t) {
    return [700027, "The certificate with identifier used to sign the client assertion is not registered on " +
      `application. [Reason - The key was not found., Thumbprint of key used by client: '${header.x5t ?? ""}']`];
  }
  const padding = header.alg === "PS256" ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
  const good = verify("sha256", Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: app.cert.key, padding, saltLength: 32 }, Buffer.from(parts[2], "base64url"));
  if (!good) return [700027, "Client assertion failed signature validation."];
  if (claims.iss !== app.client_id || claims.sub !== app.client_id) {
    return [700021, "Client assertion application identifier doesn't match 'client_id' parameter."];
  }
  if (claims.aud !== endpoint) {
    return [700212, `The audience '${claims.aud}' of the client assertion is not the token endpoint '${endpoint}'.`];
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== "number" || claims.exp < now - 300 || (claims.nbf ?? 0) > now + 300) {
    return [700024, "Client assertion is not within its valid time range."];
  }
  return null;
}

function resourceOf(uri) {
  const u = uri.replace(/\/+$/, "");
  for (const [key, r] of Object.entries(RESOURCES)) {
    if (r.appId === u.toLowerCase() || r.uris.includes(u.toLowerCase())) return [key, r];
  }
  return [null, null];
}

async function token(req, res, tenantSegment, v1) {
  stats.token_requests += 1;
  const tenant = findTenant(tenantSegment);
  const common = ["common", "organizations", "consumers"].includes(tenantSegment.toLowerCase());
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  const raw = await readBody(req);
  const form = new URLSearchParams(type.startsWith("application/x-www-form-urlencoded") ? raw : "");
  const { clientId, secret } = clientCredentials(req, form);
  countClient(clientId, false);
  // Delegated grants (authorization code, refresh token) also take "organizations"/"common":
  // the user's tenant is the one of the code or refresh token.
  const grantType = form.get("grant_type");
  const anyTenant = ["common", "organizations"].includes(tenantSegment.toLowerCase());
  if (!v1 && (grantType === "authorization_code" || grantType === "refresh_token") && (tenant || anyTenant)) {
    return entraDelegatedToken(req, res, form, tenant, grantType);
  }
  if (common) {
    return tokenError(res, req, 50059,
      "No tenant-identifying information found in either the request or implied by any provided credentials.");
  }
  if (!tenant) {
    return tokenError(res, req, 90002,
      `Tenant '${tenantSegment}' not found. Check to make sure you have the correct tenant ID and are signing ` +
      "into the correct cloud. Check with your subscription administrator, this may happen if there are no " +
      "active subscriptions for the tenant.");
  }
  const grant = form.get("grant_type");
  if (!grant) {
    return tokenError(res, req, 900144, "The request body must contain the following parameter: 'grant_type'.");
  }
  if (grant !== "client_credentials") {
    return tokenError(res, req, 70003, `The app requested an unsupported grant type '${grant}'.`);
  }
  if (!clientId) {
    return tokenError(res, req, 900144, "The request body must contain the following parameter: 'client_id'.");
  }
  const app = apps.find((a) => a.tenant.toLowerCase() === tenant.id.toLowerCase() &&
    a.client_id.toLowerCase() === clientId.toLowerCase());
  if (!app) {
    return tokenError(res, req, 700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant.name ?? tenant.id}'. ` +
      "This can happen if the application has not been installed by the administrator of the tenant or " +
      "consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.");
  }
  const assertion = form.get("client_assertion");
  if (!secret && !assertion) {
    return tokenError(res, req, 7000216,
      "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
  }
  if (assertion) {
    const refused = assertionRefused(app, form, assertion, `${AUTHORITY}${new URL(req.url, AUTHORITY).pathname}`);
    if (refused) return tokenError(res, req, refused[0], refused[1]);
  } else if (!app.client_secret || secret !== app.client_secret) {
    return tokenError(res, req, 7000215,
      "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, " +
      `not the client secret ID, for a secret added to app '${app.client_id}'.`);
  }
  let resourceUri;
  if (v1) {
    resourceUri = form.get("resource");
    if (!resourceUri) {
      return tokenError(res, req, 900144, "The request body must contain the following parameter: 'resource'.");
    }
  } else {
    const scope = (form.get("scope") ?? "").trim();
    if (!scope) {
      return tokenError(res, req, 90014, "The required field 'scope' is missing from the credential. " +
        "Ensure that you have all the necessary parameters for the login request.");
    }
    const scopes = scope.split(/\s+/);
    for (const s of scopes) {
      if (!s.endsWith("/.default")) {
        return tokenError(res, req, 1002012, `The provided value for scope ${s} is not valid. Client credential ` +
          "flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).");
      }
    }
    const distinct = new Set(scopes.map((s) => s.slice(0, -"/.default".length)));
    if (distinct.size > 1) {
      return tokenError(res, req, 28000, "Provided value for the input parameter scope is not valid because it " +
        "contains more than one resource. Scope " + scope + " is not valid.");
    }
    resourceUri = [...distinct][0];
  }
  const [key, resource] = resourceOf(resourceUri);
  if (!resource) {
    return tokenError(res, req, 500011, `The resource principal named ${resourceUri} was not found in the tenant ` +
      `named ${tenant.name ?? tenant.id}. This can happen if the application has not been installed by the ` +
      "administrator of the tenant or consented to by any user in the tenant. You might have sent your " +
      "authentication request to the wrong tenant.");
  }
  const aud = resourceUri.replace(/\/+$/, "");
  const accessToken = await appToken({
    tenant, app, aud, roles: (app.roles ?? {})[key] ?? [], expiresIn: TOKEN_LIFETIME,
  });
  stats.tokens_issued += 1;
  countClient(app.client_id, true);
  if (v1) {
    const now = Math.floor(Date.now() / 1000);
    return send(res, 200, {
      token_type: "Bearer", expires_in: String(TOKEN_LIFETIME), ext_expires_in: String(TOKEN_LIFETIME),
      expires_on: String(now + TOKEN_LIFETIME), not_before: String(now), resource: resourceUri,
      access_token: accessToken,
    });
  }
  return send(res, 200, {
    token_type: "Bearer", expires_in: TOKEN_LIFETIME, ext_expires_in: TOKEN_LIFETIME, access_token: accessToken,
  });
}

function jwks(tenant) {
  return {
    keys: issuer.keys.toJSON(false).map((k) => ({
      kty: k.kty, use: "sig", kid: k.kid, x5t: k.kid, n: k.n, e: k.e,
      issuer: `${AUTHORITY}/${tenant.id}/v2.0`,
    })),
  };
}

function openidConfiguration(tenant, v2) {
  const base = `${AUTHORITY}/${tenant.segment ?? tenant.id}`;
  return {
    token_endpoint: v2 ? `${base}/oauth2/v2.0/token` : `${base}/oauth2/token`,
    authorization_endpoint: v2 ? `${base}/oauth2/v2.0/authorize` : `${base}/oauth2/authorize`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: v2 ? `${base}/discovery/v2.0/keys` : `${base}/discovery/keys`,
    response_types_supported: ["code", "id_token", "code id_token", "token id_token", "token"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    issuer: v2 ? `${AUTHORITY}/${tenant.id}/v2.0` : `https://sts.windows.net/${tenant.id}/`,
    response_modes_supported: ["query", "fragment", "form_post"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    claims_supported: ["sub", "iss", "aud", "exp", "iat", "nonce", "preferred_username", "name", "tid", "ver",
      "oid", "email"],
    tenant_region_scope: "EU",
  };
}

async function mockToken(req, res) {
  let body;
  try {
    body = JSON.parse((await readBody(req)) || "{}");
  } catch {
    return send(res, 400, { error: "invalid_request", error_description: "a JSON body" });
  }
  const tenant = findTenant(body.tenant ?? tenants[0]?.id ?? "");
  if (!tenant) return send(res, 400, { error: "invalid_request", error_description: "unknown tenant" });
  const app = apps.find((a) => a.tenant === tenant.id && (!body.client_id || a.client_id === body.client_id)) ??
    { client_id: body.client_id ?? guidFrom("app", tenant.id), display_name: "mock" };
  const resourceUri = body.resource ?? "https://outlook.office365.com";
  const [key] = resourceOf(resourceUri);
  const accessToken = await appToken({
    tenant, app, aud: body.aud ?? resourceUri,
    roles: body.roles ?? (app.roles ?? {})[key] ?? [],
    expiresIn: Number(body.expires_in ?? TOKEN_LIFETIME),
    notBefore: Number(body.not_before ?? 0),
    foreignKey: Boolean(body.foreign_key),
  });
  return send(res, 200, { access_token: accessToken });
}

// ---- delegated sign-in: users, codes, refresh and access tokens ---------------------

const users = (config.users ?? []).map((u) => ({ ...u, email: String(u.email).toLowerCase() }));
const googleClients = config.google_clients ?? [];
const CODE_LIFETIME = 600;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function findUser(hint) {
  const e = String(hint ?? "").trim().toLowerCase();
  return e ? users.find((u) => u.email === e) : undefined;
}

function now() {
  return Math.floor(Date.now() / 1000);
}

function random(bytes) {
  return randomBytes(bytes).toString("base64url");
}

// Exact, except that for http on a loopback host the port does not count (Entra ID and
// Google both let a native app pick any port on a loopback redirect URI).
function redirectMatches(registered, given) {
  if (registered === given) return true;
  let r, g;
  try {
    r = new URL(registered);
    g = new URL(given);
  } catch {
    return false;
  }
  if (r.protocol !== "http:" || g.protocol !== "http:" || !LOOPBACK.has(r.hostname)) return false;
  const rest = (u) => `${u.username}:${u.password}@${u.hostname}${u.pathname}${u.search}${u.hash}`;
  return rest(r) === rest(g);
}

function pkceMatches(grant, verifier) {
  if (grant.method === "S256") return createHash("sha256").update(verifier).digest("base64url") === grant.challenge;
  return verifier === grant.challenge;
}

// PKCE (RFC 7636): a challenge is 43..128 characters of [A-Za-z0-9-._~]; S256's is 43.
function challengeProblem(challenge, method) {
  if (challenge == null || challenge === "") return null;
  if (!["S256", "plain"].includes(method)) return "method";
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(challenge) || (method === "S256" && challenge.length !== 43)) return "size";
  return null;
}

const codes = new Map(); // code -> grant
const refreshTokens = new Map(); // refresh token -> grant + {revoked, issued}
const accessTokens = new Map(); // access token -> {provider, email, scopes, scope, client_id, exp, refresh, ...}

// Forget what can no longer be used, now and then (tests may sign in many times).
function prune() {
  if (codes.size + accessTokens.size < 20000) return;
  const t = now();
  for (const [k, v] of codes) if (v.used || v.expires < t) codes.delete(k);
  for (const [k, v] of accessTokens) if (v.revoked || v.exp < t - 3600) accessTokens.delete(k);
}

function remember(token, record) {
  prune();
  accessTokens.set(token, record);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function sendHtml(res, status, title, body, extra = {}) {
  const data = Buffer.from(`<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}` +
    `</title></head>\n<body>\n${body}\n</body></html>\n`);
  res.writeHead(status, {
    "Content-Type": "text/html; charset=utf-8", "Content-Length": data.length, "Cache-Control": "no-store, no-cache",
    ...extra,
  });
  res.end(data);
}

// Back to the client: 302 with the parameters in the query (or fragment), or a form that
// posts them (response_mode=form_post).
function redirectBack(res, target, params, mode = "query") {
  const u = new URL(target);
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== null);
  if (mode === "form_post") {
    const inputs = pairs.map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}"/>`);
    return sendHtml(res, 200, "Working...", `<form method="POST" name="hiddenform" action="${escapeHtml(target)}">` +
      `${inputs.join("")}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" ` +
      `value="Submit"/></noscript></form><script>document.forms[0].submit()</script>`);
  }
  if (mode === "fragment") u.hash = new URLSearchParams(pairs).toString();
  else for (const [k, v] of pairs) u.searchParams.append(k, v);
  res.writeHead(302, { Location: u.toString(), "Content-Length": 0, "Cache-Control": "no-store, no-cache" });
  res.end();
}

async function readForm(req) {
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  const raw = await readBody(req);
  return new URLSearchParams(type.startsWith("application/x-www-form-urlencoded") ? raw : "");
}

async function signed(transform, expiresIn) {
  return issuer.buildToken({ kid: signingKey.kid, scopesOrTransform: transform, expiresIn });
}

// ---- Entra ID: delegated ------------------------------------------------------------

const OIDC_SCOPES = ["openid", "profile", "email", "offline_access"];
// Which delegated permission on Exchange Online each mail service asks for.
const ENTRA_SERVICE_SCOPE = { imap: "IMAP.AccessAsUser.All", pop3: "POP.AccessAsUser.All", smtp: "SMTP.Send" };

function entraText(code, text, req) {
  return `AADSTS${code}: ${text}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${
    req.headers["client-request-id"] || randomUUID()}\r\nTimestamp: ${timestamp()}`;
}

function entraPage(res, req, status, code, text) {
  const requestId = randomUUID();
  return sendHtml(res, status, "Sign in to your account",
    `<div id="login-error"><h1>Sign in</h1><p>Sorry, but we\u2019re having trouble signing you in.</p>\n` +
    `<p id="error-text">AADSTS${code}: ${escapeHtml(text)}</p>\n` +
    `<p>Request Id: ${requestId}<br/>Correlation Id: ${req.headers["client-request-id"] || randomUUID()}<br/>` +
    `Timestamp: ${timestamp()}</p></div>`, { "x-ms-request-id": requestId });
}

function appNotFound(clientId, tenant) {
  return `Application with identifier '${clientId}' was not found in the directory '${tenant?.name ?? tenant?.id ?? ""}'. ` +
    "This can happen if the application has not been installed by the administrator of the tenant or " +
    "consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.";
}

// A v2.0 scope parameter for delegated access: OpenID Connect scopes plus permissions on at
// most one resource. {resourceUri, key, perms (the app's spelling), oidc} or {error: [oauth
// error, AADSTS code, text]}.
function entraScopes(text, app) {
  const items = String(text ?? "").trim().split(/\s+/).filter(Boolean);
  if (!items.length) {
    return { error: ["invalid_request", 900144, "The request body must contain the following parameter: 'scope'."] };
  }
  const oidc = [];
  const byResource = new Map();
  for (const item of items) {
    if (OIDC_SCOPES.includes(item.toLowerCase())) {
      if (!oidc.includes(item.toLowerCase())) oidc.push(item.toLowerCase());
      continue;
    }
    const i = item.lastIndexOf("/");
    // A bare permission name is Microsoft Graph's.
    const uri = i > 0 ? item.slice(0, i).replace(/\/+$/, "") : "https://graph.microsoft.com";
    const name = i > 0 ? item.slice(i + 1) : item;
    const [key] = resourceOf(uri);
    if (!key) {
      return { error: ["invalid_resource", 500011, `The resource principal named ${uri} was not found in the ` +
        `tenant named ${tenants.find((t) => t.id === app.tenant)?.name ?? app.tenant}. This can happen if the ` +
        "application has not been installed by the administrator of the tenant or consented to by any user in " +
        "the tenant. You might have sent your authentication request to the wrong tenant."] };
    }
    const id = `${key} ${uri.toLowerCase()}`;
    if (!byResource.has(id)) byResource.set(id, { resourceUri: uri, key, names: [] });
    byResource.get(id).names.push(name);
  }
  if (byResource.size > 1) {
    return { error: ["invalid_scope", 28000, "Provided value for the input parameter scope is not valid because " +
      `it contains more than one resource. Scope ${items.join(" ")} is not valid.`] };
  }
  if (!byResource.size) return { resourceUri: null, key: null, perms: [], oidc };
  const { resourceUri, key, names } = [...byResource.values()][0];
  const allowed = (app.delegated ?? {})[key] ?? [];
  const perms = [];
  for (const name of names) {
    const found = name === ".default" ? allowed : allowed.filter((p) => p.toLowerCase() === name.toLowerCase());
    if (!found.length) {
      return { error: ["invalid_scope", 65001, `The user or administrator has not consented to use the application ` +
        `with ID '${app.client_id}' named '${app.display_name ?? app.client_id}'. Send an interactive ` +
        `authorization request for this user and resource. (scope ${resourceUri}/${name})`] };
    }
    for (const p of found) if (!perms.includes(p)) perms.push(p);
  }
  return { resourceUri, key, perms, oidc };
}

function entraScopeText(grant) {
  if (grant.resourceUri) return grant.perms.map((p) => `${grant.resourceUri}/${p}`).join(" ");
  return grant.oidc.filter((s) => s !== "offline_access").join(" ");
}

function entraOid(user) {
  return guidFrom("user", user.tenant, user.email);
}

async function entraAuthorize(req, res, segment, url) {
  stats.authorize_requests += 1;
  stats.providers.entra.authorize_requests += 1;
  const q = url.searchParams;
  const s = segment.toLowerCase();
  const anyTenant = s === "common" || s === "organizations";
  const tenant = anyTenant ? null : findTenant(segment);
  if (req.method !== "GET") {
    return entraPage(res, req, 400, 900561, `The endpoint only accepts GET requests. Received a ${req.method} request.`);
  }
  if (s === "consumers") {
    return entraPage(res, req, 400, 9002331, "Application is configured for use by Microsoft Entra users only. " +
      "Please do not use the /consumers endpoint to serve this request.");
  }
  if (!anyTenant && !tenant) {
    return entraPage(res, req, 400, 90002, `Tenant '${segment}' not found. Check to make sure you have the correct ` +
      "tenant ID and are signing into the correct cloud.");
  }
  const clientId = q.get("client_id");
  if (!clientId) {
    return entraPage(res, req, 400, 900144, "The request body must contain the following parameter: 'client_id'.");
  }
  const app = apps.find((a) => a.client_id.toLowerCase() === clientId.toLowerCase() &&
    (anyTenant || a.tenant.toLowerCase() === tenant.id.toLowerCase()));
  if (!app) return entraPage(res, req, 400, 700016, appNotFound(clientId, tenant));
  const redirectUri = q.get("redirect_uri");
  if (!(app.redirect_uris ?? []).length) {
    return entraPage(res, req, 400, 500113, "No reply address is registered for the application.");
  }
  if (!redirectUri) {
    return entraPage(res, req, 400, 900144, "The request body must contain the following parameter: 'redirect_uri'.");
  }
  if (!app.redirect_uris.some((r) => redirectMatches(r, redirectUri))) {
    return entraPage(res, req, 400, 50011, `The redirect URI '${redirectUri}' specified in the request does not match ` +
      `the redirect URIs configured for the application '${app.client_id}'. Make sure the redirect URI sent in the ` +
      "request matches one added to your application in the Azure portal. Navigate to " +
      "https://aka.ms/redirectUriMismatchError to learn more about how to fix this.");
  }
  const mode = ["fragment", "form_post"].includes(q.get("response_mode")) ? q.get("response_mode") : "query";
  const state = q.get("state");
  const fail = (error, code, text) => redirectBack(res, redirectUri, {
    error, error_description: entraText(code, text, req), error_uri: `${AUTHORITY}/error?code=${code}`, state,
  }, mode);
  const responseType = q.get("response_type");
  if (!responseType) {
    return fail("invalid_request", 900144, "The request body must contain the following parameter: 'response_type'.");
  }
  if (responseType !== "code") {
    return fail("unsupported_response_type", 700054, `response_type '${responseType}' is not enabled for the application.`);
  }
  const scopes = entraScopes(q.get("scope"), app);
  if (scopes.error) return fail(...scopes.error);
  const challenge = q.get("code_challenge");
  const method = challenge ? q.get("code_challenge_method") || "plain" : null;
  const problem = challengeProblem(challenge, method);
  if (problem === "method") {
    return fail("invalid_request", 501491, `Invalid code_challenge_method '${method}'. Supported: S256, plain.`);
  }
  if (problem === "size") return fail("invalid_request", 501491, "Invalid size of Code_Challenge parameter.");
  const hint = q.get("login_hint");
  if (!hint) {
    return fail("login_required", 50058, "A silent sign-in request was sent but no user is signed in. The cookies " +
      "used to represent the user's session were not sent in the request to Azure AD. This can happen if the user " +
      "is using Internet Explorer or Edge, and the web app sending the silent sign-in request is in different IE " +
      "security zone than the Azure AD endpoint (login.microsoftonline.com).");
  }
  const user = findUser(hint);
  const directory = tenant ?? tenants.find((t) => t.id === (user?.tenant ?? app.tenant));
  if (!user || !user.tenant || (tenant && user.tenant.toLowerCase() !== tenant.id.toLowerCase())) {
    return fail("login_required", 50034, `The user account ${hint} does not exist in the '${directory?.id ?? segment}' ` +
      "directory. To sign into this application, the account must be added to the directory.");
  }
  if (user.tenant.toLowerCase() !== app.tenant.toLowerCase()) {
    return fail("unauthorized_client", 700016, appNotFound(app.client_id, directory));
  }
  if (q.get("mock_consent") === "deny") {
    return fail("access_denied", 65004, "User declined to consent to access the app.");
  }
  const code = `0.A${random(24)}.${random(96)}`;
  codes.set(code, {
    provider: "entra", clientId: app.client_id, tenantId: user.tenant, email: user.email, redirectUri,
    resourceUri: scopes.resourceUri, key: scopes.key, perms: scopes.perms, oidc: scopes.oidc,
    challenge: challenge || null, method, nonce: q.get("nonce"), expires: now() + CODE_LIFETIME, used: false,
  });
  prune();
  return redirectBack(res, redirectUri, { code, state, session_state: randomUUID() }, mode);
}

async function entraAccessToken(app, user, grant) {
  const t = now();
  const tid = user.tenant;
  const oid = entraOid(user);
  const aud = grant.resourceUri ?? RESOURCES.graph.appId;
  const scp = grant.resourceUri ? grant.perms.join(" ") : grant.oidc.filter((s) => s !== "offline_access").join(" ");
  const [given, ...family] = String(user.name ?? user.email).split(" ");
  return signed((header, payload) => {
    header.x5t = header.kid;
    for (const k of Object.keys(payload)) delete payload[k];
    Object.assign(payload, {
      aud,
      iss: `https://sts.windows.net/${tid}/`,
      iat: t,
      nbf: t,
      exp: t + TOKEN_LIFETIME,
      acr: "1",
      aio: randomBytes(24).toString("base64"),
      amr: ["pwd"],
      app_displayname: app.display_name ?? "mailsync",
      appid: app.client_id,
      appidacr: "1",
      email: user.email,
      family_name: family.join(" ") || undefined,
      given_name: given,
      idtyp: "user",
      ipaddr: "127.0.0.1",
      name: user.name ?? user.email,
      oid,
      puid: createHash("sha256").update(oid).digest("hex").slice(0, 16).toUpperCase(),
      rh: `0.${random(12)}.`,
      scp,
      sid: randomUUID(),
      sub: createHash("sha256").update(`${oid}/${app.client_id}`).digest("base64url").slice(0, 43),
      tid,
      unique_name: user.email,
      upn: user.email,
      uti: random(16),
      ver: "1.0",
    });
    if (payload.family_name === undefined) delete payload.family_name;
  }, TOKEN_LIFETIME);
}

async function entraIdToken(app, user, nonce, withEmail) {
  const t = now();
  const oid = entraOid(user);
  return signed((header, payload) => {
    for (const k of Object.keys(payload)) delete payload[k];
    Object.assign(payload, {
      aud: app.client_id,
      iss: `${AUTHORITY}/${user.tenant}/v2.0`,
      iat: t,
      nbf: t,
      exp: t + TOKEN_LIFETIME,
      name: user.name ?? user.email,
      oid,
      preferred_username: user.email,
      rh: `0.${random(12)}.`,
      sub: createHash("sha256").update(`${oid}/${app.client_id}/id`).digest("base64url").slice(0, 43),
      tid: user.tenant,
      uti: random(16),
      ver: "2.0",
    });
    // As Entra ID does for a member account: the email claim only for the "email" scope.
    if (withEmail) payload.email = user.email;
    if (nonce) payload.nonce = nonce;
  }, TOKEN_LIFETIME);
}

async function entraDelegatedToken(req, res, form, tenant, grantType) {
  const { clientId, secret } = clientCredentials(req, form);
  if (!clientId) {
    return tokenError(res, req, 900144, "The request body must contain the following parameter: 'client_id'.");
  }
  const app = apps.find((a) => a.client_id.toLowerCase() === clientId.toLowerCase() &&
    (!tenant || a.tenant.toLowerCase() === tenant.id.toLowerCase()));
  if (!app) return tokenError(res, req, 700016, appNotFound(clientId, tenant ?? { id: "organizations" }));
  const assertion = form.get("client_assertion");
  if (assertion) {
    const refused = assertionRefused(app, form, assertion, `${AUTHORITY}${new URL(req.url, AUTHORITY).pathname}`);
    if (refused) return tokenError(res, req, refused[0], refused[1]);
  } else if (!secret) {
    return tokenError(res, req, 7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
  } else if (!app.client_secret || secret !== app.client_secret) {
    return tokenError(res, req, 7000215,
      "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, " +
      `not the client secret ID, for a secret added to app '${app.client_id}'.`);
  }
  let grant;
  let parent = null;
  if (grantType === "authorization_code") {
    const code = form.get("code");
    if (!code) return tokenError(res, req, 900144, "The request body must contain the following parameter: 'code'.");
    const g = codes.get(code);
    if (g && g.provider === "entra" && g.used) {
      return tokenError(res, req, 54005, "OAuth2 Authorization code was already redeemed, please retry with a new " +
        "valid code or use an existing refresh token.");
    }
    if (!g || g.provider !== "entra" || g.expires < now()) {
      return tokenError(res, req, 70008, "The provided authorization code or refresh token has expired due to " +
        "inactivity. Send a new interactive authorization request for this user and resource.");
    }
    if (g.clientId !== app.client_id) {
      return tokenError(res, req, 70000, "Provided grant is invalid or malformed. The authorization code was issued " +
        "to another application.");
    }
    if (tenant && g.tenantId.toLowerCase() !== tenant.id.toLowerCase()) {
      return tokenError(res, req, 700005, "Provided Authorization Code is intended to use against other tenant, " +
        "thus rejected.");
    }
    const redirectUri = form.get("redirect_uri");
    if (!redirectUri) {
      return tokenError(res, req, 900144, "The request body must contain the following parameter: 'redirect_uri'.");
    }
    if (redirectUri !== g.redirectUri) {
      return tokenError(res, req, 500112, `The reply address '${redirectUri}' does not match the reply address ` +
        `'${g.redirectUri}' provided when requesting Authorization code.`);
    }
    if (g.challenge) {
      const verifier = form.get("code_verifier");
      if (!verifier || !pkceMatches(g, verifier)) {
        return tokenError(res, req, 501481,
          "The Code_Verifier does not match the code_challenge supplied in the authorization request.");
      }
    }
    g.used = true;
    grant = g;
  } else {
    const token = form.get("refresh_token");
    if (!token) {
      return tokenError(res, req, 900144, "The request body must contain the following parameter: 'refresh_token'.");
    }
    const r = refreshTokens.get(token);
    if (!r || r.provider !== "entra") {
      return tokenError(res, req, 70008, "The provided authorization code or refresh token has expired due to " +
        "inactivity. Send a new interactive authorization request for this user and resource.");
    }
    if (r.revoked) {
      return tokenError(res, req, 50173, "The provided grant has expired due to it being revoked, a fresh auth token " +
        "is needed. The user might have changed or reset their password. The grant was issued on " +
        `'${new Date(r.issued * 1000).toISOString()}' and the TokensValidFrom date (before which tokens are not ` +
        `valid) for this user is '${new Date(r.revoked * 1000).toISOString()}'.`);
    }
    if (r.clientId !== app.client_id) {
      return tokenError(res, req, 70000, "Provided grant is invalid or malformed. The refresh token was issued to " +
        "another application.");
    }
    if (tenant && r.tenantId.toLowerCase() !== tenant.id.toLowerCase()) {
      return tokenError(res, req, 700005, "Provided refresh token is intended to use against other tenant, thus " +
        "rejected.");
    }
    grant = r;
    const scope = form.get("scope");
    if (scope && scope.trim()) {
      const scopes = entraScopes(scope, app);
      if (scopes.error) return tokenError(res, req, scopes.error[1], scopes.error[2]);
      grant = { ...r, ...scopes, oidc: [...new Set([...scopes.oidc, ...(r.oidc.includes("offline_access") ? ["offline_access"] : [])])] };
    }
    parent = token;
  }
  const user = findUser(grant.email);
  const body = { token_type: "Bearer", scope: entraScopeText(grant), expires_in: TOKEN_LIFETIME,
    ext_expires_in: TOKEN_LIFETIME };
  body.access_token = await entraAccessToken(app, user, grant);
  let refresh = null;
  if (grant.oidc.includes("offline_access")) {
    refresh = `0.A${random(24)}.${random(240)}`;
    refreshTokens.set(refresh, {
      provider: "entra", clientId: app.client_id, tenantId: grant.tenantId, email: grant.email,
      resourceUri: grant.resourceUri, key: grant.key, perms: grant.perms, oidc: grant.oidc, nonce: null,
      issued: now(), revoked: 0, parent,
    });
    body.refresh_token = refresh;
  }
  if (grant.oidc.includes("openid")) {
    body.id_token = await entraIdToken(app, user, grant.nonce, grant.oidc.includes("email"));
  }
  remember(body.access_token, {
    provider: "entra", email: grant.email, client_id: app.client_id, scopes: grant.perms,
    aud: grant.resourceUri, scope: body.scope, scp: grant.perms.join(" "), exp: now() + TOKEN_LIFETIME,
    refresh: refresh ?? parent, revoked: false,
  });
  stats.tokens_issued += 1;
  countClient(app.client_id, true);
  const kind = grantType === "authorization_code" ? "code_grants" : "refresh_grants";
  stats[kind] += 1;
  stats.providers.entra[kind] += 1;
  return send(res, 200, body);
}

// ---- Google -----------------------------------------------------------------------------

const GOOGLE = `${AUTHORITY}/google`;
const GOOGLE_MAIL_SCOPE = "https://mail.google.com/";
const GOOGLE_SCOPES = {
  openid: "openid",
  email: "https://www.googleapis.com/auth/userinfo.email",
  profile: "https://www.googleapis.com/auth/userinfo.profile",
  "https://www.googleapis.com/auth/userinfo.email": "https://www.googleapis.com/auth/userinfo.email",
  "https://www.googleapis.com/auth/userinfo.profile": "https://www.googleapis.com/auth/userinfo.profile",
  [GOOGLE_MAIL_SCOPE]: GOOGLE_MAIL_SCOPE,
  "https://www.googleapis.com/auth/gmail.readonly": "https://www.googleapis.com/auth/gmail.readonly",
  "https://www.googleapis.com/auth/gmail.send": "https://www.googleapis.com/auth/gmail.send",
  "https://www.googleapis.com/auth/gmail.modify": "https://www.googleapis.com/auth/gmail.modify",
};

function googleSend(res, status, body, extra = {}) {
  const data = Buffer.from(JSON.stringify(body, null, 2));
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8", "Content-Length": data.length,
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", Pragma: "no-cache", ...extra,
  });
  res.end(data);
}

function googlePage(res, status, error, details, request = "") {
  return sendHtml(res, status, `Error ${status} (OAuth2 Error)`,
    `<h1>${status === 401 ? "Access blocked: Authorization Error" : "Access blocked: This app\u2019s request is invalid"}` +
    `</h1>\n<p id="errorCode">Error ${status}: ${escapeHtml(error)}</p>\n<p>${escapeHtml(details)}</p>\n` +
    (request ? `<p>Request details: ${escapeHtml(request)}</p>\n` : ""));
}

function googleSub(email) {
  return `1${BigInt(`0x${createHash("sha256").update(`google/${email}`).digest("hex").slice(0, 16)}`)
    .toString().padStart(20, "0").slice(0, 20)}`;
}

function googleConfiguration() {
  return {
    issuer: GOOGLE,
    authorization_endpoint: `${GOOGLE}/o/oauth2/v2/auth`,
    device_authorization_endpoint: `${GOOGLE}/device/code`,
    token_endpoint: `${GOOGLE}/token`,
    userinfo_endpoint: `${GOOGLE}/oauth2/v3/userinfo`,
    revocation_endpoint: `${GOOGLE}/revoke`,
    jwks_uri: `${GOOGLE}/oauth2/v3/certs`,
    response_types_supported: ["code", "token", "id_token", "code token", "code id_token", "token id_token",
      "code token id_token", "none"],
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    scopes_supported: ["openid", "email", "profile"],
    token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
    claims_supported: ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name",
      "picture", "sub"],
    code_challenge_methods_supported: ["plain", "S256"],
    grant_types_supported: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code",
      "urn:ietf:params:oauth:grant-type:jwt-bearer"],
  };
}

function googleClient(id) {
  return id ? googleClients.find((c) => c.client_id === id) : undefined;
}

async function googleAuthorize(req, res, url) {
  stats.authorize_requests += 1;
  stats.providers.google.authorize_requests += 1;
  const q = url.searchParams;
  const clientId = q.get("client_id");
  if (!clientId) return googlePage(res, 400, "invalid_request", "Missing required parameter: client_id");
  const client = googleClient(clientId);
  if (!client) return googlePage(res, 401, "invalid_client", "The OAuth client was not found.");
  const redirectUri = q.get("redirect_uri");
  if (!redirectUri) return googlePage(res, 400, "invalid_request", "Missing required parameter: redirect_uri");
  if (!(client.redirect_uris ?? []).some((r) => redirectMatches(r, redirectUri))) {
    return googlePage(res, 400, "redirect_uri_mismatch", "You can\u2019t sign in to this app because it doesn\u2019t " +
      "comply with Google\u2019s OAuth 2.0 policy. If you\u2019re the app developer, register the redirect URI in the " +
      "Google Cloud Console.", `redirect_uri=${redirectUri}`);
  }
  const responseType = q.get("response_type");
  if (!responseType) return googlePage(res, 400, "invalid_request", "Required parameter is missing: response_type");
  if (responseType !== "code") {
    return googlePage(res, 400, "invalid_request", `Invalid response_type: ${responseType}`);
  }
  const requested = String(q.get("scope") ?? "").trim().split(/\s+/).filter(Boolean);
  if (!requested.length) return googlePage(res, 400, "invalid_request", "Missing required parameter: scope");
  const unknown = requested.filter((s) => !GOOGLE_SCOPES[s]);
  if (unknown.length) {
    return googlePage(res, 400, "invalid_scope", `Some requested scopes were invalid. {invalid=[${unknown.join(", ")}]}`);
  }
  const scopes = [...new Set(requested.map((s) => GOOGLE_SCOPES[s]))];
  const accessType = q.get("access_type") ?? "online";
  if (!["online", "offline"].includes(accessType)) {
    return googlePage(res, 400, "invalid_request", `Invalid access_type: ${accessType}`);
  }
  const challenge = q.get("code_challenge");
  const method = challenge ? q.get("code_challenge_method") || "plain" : null;
  const problem = challengeProblem(challenge, method);
  if (problem === "method") return googlePage(res, 400, "invalid_request", "Invalid code_challenge_method");
  if (problem === "size") return googlePage(res, 400, "invalid_request", "Invalid code_challenge");
  const state = q.get("state");
  const user = findUser(q.get("login_hint"));
  if (!user || !user.google || q.get("mock_consent") === "deny") {
    return redirectBack(res, redirectUri, { error: "access_denied", state });
  }
  const code = `4/0A${random(64)}`;
  codes.set(code, {
    provider: "google", clientId: client.client_id, email: user.email, redirectUri, scopes, accessType,
    challenge: challenge || null, method, nonce: q.get("nonce"), expires: now() + CODE_LIFETIME, used: false,
  });
  prune();
  return redirectBack(res, redirectUri, {
    state, code, scope: scopes.join(" "), authuser: "0", prompt: q.get("prompt") === "consent" ? "consent" : "none",
  });
}

async function googleIdToken(client, user, scopes, nonce, accessToken) {
  const t = now();
  const atHash = createHash("sha256").update(accessToken).digest().subarray(0, 16).toString("base64url");
  return signed((header, payload) => {
    for (const k of Object.keys(payload)) delete payload[k];
    Object.assign(payload, {
      iss: GOOGLE,
      azp: client.client_id,
      aud: client.client_id,
      sub: googleSub(user.email),
      at_hash: atHash,
      iat: t,
      exp: t + TOKEN_LIFETIME,
    });
    if (scopes.includes(GOOGLE_SCOPES.email)) Object.assign(payload, { email: user.email, email_verified: true });
    if (scopes.includes(GOOGLE_SCOPES.profile)) payload.name = user.name ?? user.email;
    if (nonce) payload.nonce = nonce;
  }, TOKEN_LIFETIME);
}

async function googleToken(req, res) {
  stats.token_requests += 1;
  const form = await readForm(req);
  const { clientId, secret } = clientCredentials(req, form);
  countClient(clientId, false);
  const err = (status, error, description) => googleSend(res, status, { error, error_description: description });
  if (!clientId) return err(400, "invalid_request", "Could not determine client ID from request.");
  const client = googleClient(clientId);
  if (!client) return err(401, "invalid_client", "The OAuth client was not found.");
  if (secret !== client.client_secret) return err(401, "invalid_client", "Unauthorized");
  const grantType = form.get("grant_type");
  if (grantType !== "authorization_code" && grantType !== "refresh_token") {
    return err(400, "unsupported_grant_type", `Invalid grant_type: ${grantType ?? ""}`);
  }
  let grant;
  let parent = null;
  if (grantType === "authorization_code") {
    const code = form.get("code");
    if (!code) return err(400, "invalid_request", "Missing required parameter: code");
    const g = codes.get(code);
    if (!g || g.provider !== "google" || g.used || g.expires < now() || g.clientId !== client.client_id) {
      return err(400, "invalid_grant", "Bad Request");
    }
    const redirectUri = form.get("redirect_uri");
    if (!redirectUri) return err(400, "invalid_request", "Missing parameter: redirect_uri");
    if (redirectUri !== g.redirectUri) return err(400, "redirect_uri_mismatch", "Bad Request");
    if (g.challenge) {
      const verifier = form.get("code_verifier");
      if (!verifier) return err(400, "invalid_grant", "Missing code verifier.");
      if (!pkceMatches(g, verifier)) return err(400, "invalid_grant", "Invalid code verifier.");
    }
    g.used = true;
    grant = g;
  } else {
    const token = form.get("refresh_token");
    if (!token) return err(400, "invalid_request", "Missing required parameter: refresh_token");
    const r = refreshTokens.get(token);
    if (!r || r.provider !== "google" || r.revoked) return err(400, "invalid_grant", "Token has been expired or revoked.");
    if (r.clientId !== client.client_id) return err(400, "unauthorized_client", "Unauthorized");
    grant = r;
    const scope = form.get("scope");
    if (scope && scope.trim()) {
      const asked = scope.trim().split(/\s+/).map((s) => GOOGLE_SCOPES[s] ?? s);
      if (asked.some((s) => !r.scopes.includes(s))) return err(400, "invalid_scope", "Bad Request");
      grant = { ...r, scopes: [...new Set(asked)] };
    }
    parent = token;
  }
  const user = findUser(grant.email);
  const accessToken = `ya29.a0${random(150)}`;
  const body = { access_token: accessToken, expires_in: TOKEN_LIFETIME };
  let refresh = null;
  if (grantType === "authorization_code" && grant.accessType === "offline") {
    refresh = `1//0${random(72)}`;
    refreshTokens.set(refresh, {
      provider: "google", clientId: client.client_id, email: grant.email, scopes: grant.scopes,
      issued: now(), revoked: 0,
    });
    body.refresh_token = refresh;
  }
  body.scope = grant.scopes.join(" ");
  body.token_type = "Bearer";
  if (grant.scopes.includes("openid")) {
    body.id_token = await googleIdToken(client, user, grant.scopes, grantType === "authorization_code" ? grant.nonce : null,
      accessToken);
  }
  remember(accessToken, {
    provider: "google", email: grant.email, client_id: client.client_id, scopes: grant.scopes, scope: body.scope,
    exp: now() + TOKEN_LIFETIME, refresh: refresh ?? parent, revoked: false,
  });
  stats.tokens_issued += 1;
  countClient(client.client_id, true);
  const kind = grantType === "authorization_code" ? "code_grants" : "refresh_grants";
  stats[kind] += 1;
  stats.providers.google[kind] += 1;
  return googleSend(res, 200, body);
}

// Revokes a refresh token and every access token issued from it.
function revokeRefresh(token) {
  const r = refreshTokens.get(token);
  if (!r) return 0;
  if (!r.revoked) r.revoked = now();
  for (const a of accessTokens.values()) if (a.refresh === token) a.revoked = true;
  return 1;
}

async function googleRevoke(req, res, url) {
  const form = await readForm(req);
  const token = form.get("token") ?? url.searchParams.get("token");
  const invalid = () => googleSend(res, 400, { error: "invalid_token", error_description: "Token expired or revoked" });
  if (!token) return invalid();
  const r = refreshTokens.get(token);
  const a = accessTokens.get(token);
  if (r && r.provider === "google" && !r.revoked) {
    revokeRefresh(token);
  } else if (a && a.provider === "google" && !a.revoked && a.exp > now()) {
    a.revoked = true;
    if (a.refresh) revokeRefresh(a.refresh);
  } else {
    return invalid();
  }
  stats.providers.google.revocations += 1;
  return googleSend(res, 200, {});
}

function bearerOf(req) {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m ? m[1] : null;
}

function liveToken(token) {
  const a = token ? accessTokens.get(token) : undefined;
  return a && !a.revoked && a.exp > now() ? a : null;
}

async function google(req, res, url, path) {
  if (req.method === "GET" && path === "/.well-known/openid-configuration") {
    return googleSend(res, 200, googleConfiguration(), { "Cache-Control": "public, max-age=3600" });
  }
  if (req.method === "GET" && path === "/oauth2/v3/certs") {
    return googleSend(res, 200, {
      keys: issuer.keys.toJSON(false).map((k) => ({ kty: k.kty, alg: "RS256", use: "sig", kid: k.kid, n: k.n, e: k.e })),
    }, { "Cache-Control": "public, max-age=21600" });
  }
  if (path === "/o/oauth2/v2/auth" || path === "/o/oauth2/auth") {
    if (req.method !== "GET") return googlePage(res, 405, "invalid_request", `Method ${req.method} not allowed`);
    return googleAuthorize(req, res, url);
  }
  if (path === "/token" || path === "/o/oauth2/token") {
    if (req.method !== "POST") return googleSend(res, 405, { error: "invalid_request", error_description: "POST only" });
    return googleToken(req, res);
  }
  if (path === "/revoke" || path === "/o/oauth2/revoke") {
    if (req.method !== "POST" && req.method !== "GET") return googleSend(res, 405, { error: "invalid_request" });
    return googleRevoke(req, res, url);
  }
  if (req.method === "GET" && path === "/oauth2/v3/userinfo") {
    const a = liveToken(bearerOf(req));
    if (!a || a.provider !== "google") {
      return googleSend(res, 401, { error: "invalid_request", error_description: "Invalid Credentials" },
        { "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
    }
    const user = findUser(a.email);
    const info = { sub: googleSub(a.email), email: a.email, email_verified: true };
    if (a.scopes.includes(GOOGLE_SCOPES.profile)) info.name = user?.name ?? a.email;
    return googleSend(res, 200, info);
  }
  return googleSend(res, 404, { error: "not_found", error_description: `No endpoint ${req.method} /google${path}` });
}

// ---- test hooks -----------------------------------------------------------------------------

function allows(a, service) {
  if (!service) return true;
  if (a.provider === "google") return a.scopes.includes(GOOGLE_MAIL_SCOPE);
  const [key] = a.aud ? resourceOf(a.aud) : [null];
  return key === "exchange" && a.scopes.includes(ENTRA_SERVICE_SCOPE[service]);
}

async function introspect(req, res, url) {
  let token = bearerOf(req);
  let service = url.searchParams.get("service");
  if (req.method === "POST") {
    const form = await readForm(req);
    token ??= form.get("token");
    service ??= form.get("service");
  }
  service = (service ?? req.headers["x-dovecot-auth-service"] ?? "").toLowerCase() || null;
  if (service === "submission") service = "smtp";
  if (service && !ENTRA_SERVICE_SCOPE[service]) {
    return send(res, 400, { active: false, error: "invalid_request", error_description: `unknown service '${service}'` });
  }
  const counter = service ?? "any";
  stats.introspections[counter] += 1;
  const a = liveToken(token);
  if (!a || !allows(a, service)) {
    return send(res, 401, { active: false, error: "invalid_token" },
      { "WWW-Authenticate": 'Bearer error="invalid_token"' });
  }
  stats.introspections_active[counter] += 1;
  return send(res, 200, {
    active: true, email: a.email, username: a.email, scope: a.scope, client_id: a.client_id, exp: a.exp,
    provider: a.provider, ...(a.provider === "entra" ? { scp: a.scp } : {}),
  });
}

async function mockHook(req, res, url, path) {
  if (path === "/mock/introspect" && (req.method === "GET" || req.method === "POST")) return introspect(req, res, url);
  if (req.method === "POST" && (path === "/mock/expire" || path === "/mock/revoke")) {
    let body;
    try {
      body = JSON.parse((await readBody(req)) || "{}");
    } catch {
      return send(res, 400, { error: "invalid_request", error_description: "a JSON body" });
    }
    const email = String(body.email ?? "").toLowerCase();
    const one = body.token ? String(body.token) : null;
    if (!email && !one) return send(res, 400, { error: "invalid_request", error_description: "email or token is required" });
    // One token (an access token, or a refresh token and the access tokens issued from it),
    // or everything of a user (at one provider, when given).
    const mine = one
      ? (r, key) => key === one || (refreshTokens.has(one) && r.refresh === one)
      : (r) => r.email === email && (!body.provider || r.provider === body.provider);
    const t = now();
    if (path === "/mock/expire") {
      let expired = 0;
      for (const [k, a] of accessTokens) {
        if (mine(a, k) && !a.revoked && a.exp > t) {
          a.exp = t - 1;
          expired += 1;
        }
      }
      return send(res, 200, { expired });
    }
    let refresh = 0;
    let access = 0;
    for (const [k, r] of refreshTokens) {
      if ((one ? k === one : mine(r)) && !r.revoked) {
        r.revoked = t;
        refresh += 1;
      }
    }
    for (const [k, a] of accessTokens) {
      if (!mine(a, k)) continue;
      if (!a.revoked && a.exp > t) access += 1;
      a.revoked = true;
    }
    return send(res, 200, { revoked_refresh_tokens: refresh, revoked_access_tokens: access });
  }
  return send(res, 404, { error: "not_found", error_description: `No endpoint ${req.method} ${path}` });
}

async function handle(req, res) {
  const url = new URL(req.url, AUTHORITY);
  const path = url.pathname;
  let m;
  if ((m = /^\/([^/]+)\/oauth2\/(v2\.0\/)?token\/?$/i.exec(path))) {
    if (req.method !== "POST") {
      return tokenError(res, req, 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${req.method} request.`);
    }
    return token(req, res, decodeURIComponent(m[1]), !m[2]);
  }
  if (req.method === "GET" && (m = /^\/([^/]+)\/discovery\/(v2\.0\/)?keys\/?$/i.exec(path))) {
    const tenant = findTenant(decodeURIComponent(m[1])) ??
      (["common", "organizations"].includes(m[1].toLowerCase()) ? { id: "{tenantid}" } : null);
    if (!tenant) {
      return tokenError(res, req, 90002, `Tenant '${m[1]}' not found.`);
    }
    return send(res, 200, jwks(tenant), { "Cache-Control": "max-age=86400, private" });
  }
  if (path === "/google" || path.startsWith("/google/")) return google(req, res, url, path.slice("/google".length));
  if (path.startsWith("/mock/") && path !== "/mock/token") return mockHook(req, res, url, path);
  if ((m = /^\/([^/]+)\/oauth2\/v2\.0\/authorize\/?$/i.exec(path))) {
    return entraAuthorize(req, res, decodeURIComponent(m[1]), url);
  }
  if (req.method === "GET" && (m = /^\/([^/]+)\/(v2\.0\/)?\.well-known\/openid-configuration$/i.exec(path))) {
    const segment = decodeURIComponent(m[1]);
    const tenant = findTenant(segment) ??
      (["common", "organizations"].includes(segment.toLowerCase()) ? { id: "{tenantid}", segment } : null);
    if (!tenant) return tokenError(res, req, 90002, `Tenant '${m[1]}' not found.`);
    return send(res, 200, openidConfiguration(tenant, Boolean(m[2])));
  }
  if (req.method === "GET" && path === "/stats") return send(res, 200, stats);
  if (req.method === "POST" && path === "/mock/token") return mockToken(req, res);
  return send(res, 404, { error: "not_found", error_description: `No endpoint ${req.method} ${path}` });
}

const server = createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error(`oauth_mock: ${req.method} ${req.url}: ${e.stack ?? e}`);
    if (!res.headersSent) send(res, 500, { error: "server_error", error_description: String(e.message ?? e) });
    else res.destroy();
  });
});
server.on("error", (e) => {
  console.error(`oauth_mock: ${e.message}`);
  process.exit(1);
});
server.listen(PORT, HOST, () => {
  if (args.pidfile) writeFileSync(args.pidfile, `${process.pid}\n`);
  console.log(`oauth_mock: ${AUTHORITY}, tenants ${tenants.map((t) => t.id).join(", ")}, ` +
    `${apps.length} apps, kid ${signingKey.kid}`);
});

function stop() {
  server.close();
  server.closeAllConnections?.();
  if (args.pidfile) {
    try {
      unlinkSync(args.pidfile);
    } catch {
      // already gone
    }
  }
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
