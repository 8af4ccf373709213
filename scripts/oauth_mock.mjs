// A stand-in for Microsoft Entra ID's token endpoint, for mailservers.sh: app-only
// (client credentials) tokens for Exchange Online, on plain HTTP on loopback.
//
//   node scripts/oauth_mock.mjs --host 127.0.0.1 --port 31480 --config apps.json \
//     --keys keys.json --pidfile oauth_mock.pid
//
// oauth2-mock-server (e2e/node_modules) keeps the RSA key and signs the tokens; its own
// HTTP service is not used, since it has neither tenant paths nor registered clients.
// This server speaks Entra ID's paths and words instead:
//
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
//   "correlation_id", "error_uri"} with Entra ID's status codes (see tokenError below).
// POST /{tenant}/oauth2/token (v1: resource=..)   the same, with v1's response shape.
// GET  /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys   the JWKS
// GET  /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/.well-known/openid-configuration
// GET  /stats   {"token_requests": N, "tokens_issued": M, "clients": {"<client id>": {"requests", "issued"}}}
// POST /mock/token   (not Entra ID: for tests) JSON {"tenant", "client_id", "resource",
//   "expires_in", "not_before" (seconds from now), "roles", "aud", "foreign_key": true (signed by
//   a key that is not in the JWKS, with the same kid)} -> {"access_token": ...}; not counted in /stats.
//
// The registered tenants and apps come from --config (written by mailservers.sh):
// {"tenants": [{"id", "name", "domains": [..]}],
//  "apps": [{"tenant", "client_id", "client_secret", "certificate" (a PEM file: the app's
//            certificate credential), "display_name", "object_id",
//            "roles": {"exchange": ["full_access_as_app"], "graph": [..]}}]}
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

const stats = { token_requests: 0, tokens_issued: 0, clients: {} };
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
  const base = `${AUTHORITY}/${tenant.id}`;
  return {
    token_endpoint: v2 ? `${base}/oauth2/v2.0/token` : `${base}/oauth2/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: v2 ? `${base}/discovery/v2.0/keys` : `${base}/discovery/keys`,
    response_types_supported: ["code", "id_token", "code id_token", "token id_token", "token"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    issuer: v2 ? `${base}/v2.0` : `https://sts.windows.net/${tenant.id}/`,
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
  if (req.method === "GET" && (m = /^\/([^/]+)\/(v2\.0\/)?\.well-known\/openid-configuration$/i.exec(path))) {
    const tenant = findTenant(decodeURIComponent(m[1]));
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
