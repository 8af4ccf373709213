#!/usr/bin/env bash
# Real mail servers on loopback for the mail engine's tests (and benchmarks).
#
#   bash scripts/mailservers.sh start     install what is missing, start (or reuse), write the env file
#   bash scripts/mailservers.sh stop      stop the servers
#   bash scripts/mailservers.sh status    what runs, which ports answer
#   bash scripts/mailservers.sh users N   bulk users user00001..N (password pw-user00001...)
#   bash scripts/mailservers.sh env       print the env file
#
# Dovecot (Debian's package) runs as its own instance (own config, base_dir, state_dir,
# pid and log; never the system dovecot on 143/993) and serves IMAP, IMAPS, POP3 and
# POP3S on 127.0.0.1. A `local 127.0.0.2 {}` block gives the listeners bound to
# 127.0.0.2 only (IMAPS, and IMAP and POP3 with STARTTLS/STLS) a truly self-signed
# certificate. scripts/smtp_ews.py (aiosmtpd, in a
# venv) is the SMTP side (submission with STARTTLS + AUTH, and implicit TLS) and a fake
# EWS/Autodiscover endpoint over HTTPS. scripts/oauth_mock.mjs (Node, with oauth2-mock-server
# from e2e/node_modules) stands in for Microsoft Entra ID on plain HTTP: two tenants with
# registered apps whose app-only tokens the fake EWS takes, as Exchange Online does, and an app
# for per-mailbox sign-in (authorization code flow with PKCE, refresh tokens); and for Google's
# OAuth 2.0 server under /google ("Gmail OAuth"). The test users sign in at both. IMAP, POP3
# (dovecot's oauth2 passdb) and SMTP (smtp_ews.py) take SASL XOAUTH2 (dovecot OAUTHBEARER too)
# with those access tokens, checked by the mock's /mock/introspect: Google's need
# https://mail.google.com/, Entra ID's IMAP.AccessAsUser.All / POP.AccessAsUser.All / SMTP.Send
# on https://outlook.office.com, and user= must be the token's address (alice@mailsync.test).
# scripts/xoauth2_selftest.py runs both code flows and the three logins.
# Everything lives in target/mailservers/; what a test needs is written to
# target/mailservers/env as KEY=value lines.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIR="${MAILSERVERS_DIR:-$ROOT/target/mailservers}"
HOST=127.0.0.1
SELFSIGNED_HOST=127.0.0.2
DOMAIN=mailsync.test
AIOSMTPD_VERSION="1.4.6"
CRYPTOGRAPHY_VERSION="51.0.1"
VENV_REQUIREMENTS="aiosmtpd==$AIOSMTPD_VERSION cryptography==$CRYPTOGRAPHY_VERSION"

IMAP_PORT="${MAILSERVERS_IMAP_PORT:-31143}"
IMAPS_PORT="${MAILSERVERS_IMAPS_PORT:-31993}"
IMAPS_SELFSIGNED_PORT="${MAILSERVERS_IMAPS_SELFSIGNED_PORT:-31994}"
IMAP_SELFSIGNED_PORT="${MAILSERVERS_IMAP_SELFSIGNED_PORT:-31144}"
POP3_SELFSIGNED_PORT="${MAILSERVERS_POP3_SELFSIGNED_PORT:-31111}"
POP3_PORT="${MAILSERVERS_POP3_PORT:-31110}"
POP3S_PORT="${MAILSERVERS_POP3S_PORT:-31995}"
SMTP_PORT="${MAILSERVERS_SMTP_PORT:-31587}"
SMTPS_PORT="${MAILSERVERS_SMTPS_PORT:-31465}"
EWS_PORT="${MAILSERVERS_EWS_PORT:-31443}"
OAUTH_PORT="${MAILSERVERS_OAUTH_PORT:-31480}"

# Entra ID's stand-in: two tenants (one Exchange organization serves both), an app with
# full_access_as_app on Exchange Online in each, and one without any permission.
OAUTH_TENANT=5f1c2a8e-7b3d-4c6e-9a10-3e8d4b2c6f01
OAUTH_CLIENT_ID=2b7e4f1a-9c3d-4e5f-8a6b-1d2c3e4f5a01
OAUTH_CLIENT_SECRET='mLs8Q~test.Secret_one-0123456789abcdefABCD'
OAUTH_OTHER_TENANT=8a4d6c2e-1f3b-4d5a-b7c9-0e2f4a6c8d02
OAUTH_OTHER_CLIENT_ID=6c9a2e4d-3b1f-4a7c-9e5d-2f4b6d8a0c02
OAUTH_OTHER_CLIENT_SECRET='oTh8Q~test.Secret_two-9876543210ZYXWvutsr'
OAUTH_NOROLE_CLIENT_ID=9e1b3d5f-7a2c-4e6b-8d0f-4a6c8e0b2d03
OAUTH_NOROLE_CLIENT_SECRET='nOr8Q~test.Secret_three-13579bdfhjlnprtvx'
# An app whose credential is a certificate (client assertions signed with its key).
OAUTH_CERT_CLIENT_ID=4d8f2a6c-5e1b-4c3d-9f7a-6b8d0f2e4a04
# An app for per-mailbox sign-in (authorization code flow): delegated IMAP, POP and SMTP
# permissions on Exchange Online, and mailsync's redirect URIs (the port is free on loopback).
OAUTH_DELEGATED_CLIENT_ID=7a3c5e9b-2d4f-4b6a-8c1e-3f5a7b9d1e05
OAUTH_DELEGATED_CLIENT_SECRET='dLg8Q~test.Secret_four-24680acegikmoqsuw'
OAUTH_REDIRECT_URIS='"http://127.0.0.1/_grid/cmds/dlg_gmailoauth.aspx", "http://localhost/_grid/cmds/dlg_gmailoauth.aspx"'
# Google's stand-in: one OAuth client (a "web application" with the same redirect URIs).
GOOGLE_CLIENT_ID=123456789012-mailsynctest.apps.googleusercontent.com
GOOGLE_CLIENT_SECRET='GOCSPX-mailsync_test_secret_0123'

# svc is a service account: the fake EWS lets it impersonate the others.
TEST_USERS=(alice bob carol svc)
IMPERSONATORS=svc

# Unix socket paths are limited to 108 bytes; a deep checkout would overflow them.
BASE_DIR="$DIR/run"
if [ "${#BASE_DIR}" -gt 70 ]; then
  BASE_DIR="/tmp/mailsync-dovecot-$(printf '%s' "$DIR" | sha256sum | cut -c1-12)"
fi
DOVECOT_CONF="$DIR/dovecot.conf"
DOVECOT_PID="$BASE_DIR/master.pid"
SMTP_PID="$DIR/smtp_ews.pid"
SMTP_STAMP="$DIR/smtp_ews.stamp"
OAUTH_PID="$DIR/oauth_mock.pid"
OAUTH_STAMP="$DIR/oauth_mock.stamp"
OAUTH_CONFIG="$DIR/oauth/apps.json"
OAUTH_KEYS="$DIR/oauth/keys.json"
VENV="$DIR/venv"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The uid/gid that owns the mailboxes. As root, Debian's standing `mail` user, since
# dovecot refuses to run mail processes as root.
if [ "$(id -u)" -eq 0 ]; then
  MAIL_OWNER=mail
  LOGIN_USER=dovenull
  INTERNAL_USER=dovecot
else
  MAIL_OWNER="$(id -un)"
  LOGIN_USER="$MAIL_OWNER"
  INTERNAL_USER="$MAIL_OWNER"
fi

# dovecot's mail and auth processes must reach the passwd-file and the maildirs. In a
# checkout they cannot traverse (say under /root), those two live in /var/tmp instead.
reachable_by_dovecot() {
  [ "$(id -u)" -eq 0 ] || return 0
  local p="$1" u
  while [ ! -e "$p" ]; do p="$(dirname "$p")"; done
  for u in "$MAIL_OWNER" "$INTERNAL_USER"; do
    id "$u" >/dev/null 2>&1 || return 0 # not installed yet: decided again after the install
    runuser -u "$u" -- test -x "$p" || return 1
  done
}
choose_maildata() {
  MAILDATA="$DIR"
  if ! reachable_by_dovecot "$DIR"; then
    MAILDATA="/var/tmp/mailsync-mailservers-$(printf '%s' "$DIR" | sha256sum | cut -c1-12)"
  fi
}
choose_maildata

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

install_packages() {
  local missing=()
  for pkg in dovecot-imapd dovecot-pop3d openssl; do
    installed "$pkg" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    info "dovecot-imapd dovecot-pop3d openssl already installed"
  else
    info "installing ${missing[*]}"
    # The package may try to start the system dovecot; this script never uses it.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" ||
      { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; }
  fi
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.mailsync-requirements" 2>/dev/null)" = "$VENV_REQUIREMENTS" ] &&
    "$VENV/bin/python" -c 'import aiosmtpd, cryptography' 2>/dev/null; then
    info "$VENV_REQUIREMENTS already in $VENV"
  else
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
      info "installing $VENV_REQUIREMENTS into $VENV"
    else
      info "creating $VENV with $VENV_REQUIREMENTS"
      rm -rf "$VENV"
      if ! python3 -m venv "$VENV" 2>/dev/null; then
        installed python3-venv || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
        /usr/bin/python3 -m venv "$VENV"
      fi
    fi
    # shellcheck disable=SC2086 # the pinned requirements, one word each
    "$VENV/bin/pip" install -q --disable-pip-version-check $VENV_REQUIREMENTS
    echo "$VENV_REQUIREMENTS" >"$VENV/.mailsync-requirements"
  fi
  # Entra ID's stand-in runs on Node with e2e/'s oauth2-mock-server (setup.sh installs it).
  command -v node >/dev/null || die "node not found; install Node.js 20+ with npm (scripts/setup.sh needs it too)"
  local mock="$ROOT/e2e/node_modules/oauth2-mock-server/package.json"
  if [ -f "$mock" ]; then
    info "oauth2-mock-server $(node -p 'require(process.argv[1]).version' "$mock") already in e2e/node_modules"
  else
    info "e2e/node_modules lacks oauth2-mock-server: npm ci in e2e/ (as scripts/setup.sh does)"
    e2e_npm_ci
  fi
}

make_certs() {
  if [ -s "$DIR/ca.pem" ] && [ -s "$DIR/server.pem" ] && [ -s "$DIR/selfsigned.pem" ]; then
    info "certificates already in $DIR"
    return
  fi
  info "generating the test CA, a CA-signed and a self-signed certificate"
  local tmp
  tmp="$(mktemp -d)"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 3650 -subj "/CN=mailsync test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=localhost" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" >"$tmp/server.ext"
  openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
    -out "$tmp/server.pem" -days 3650 -extfile "$tmp/server.ext" 2>/dev/null
  # Self-signed end-entity (not a CA), so a verifier can only say "unknown issuer".
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/selfsigned.key" -out "$tmp/selfsigned.pem" -days 3650 -subj "/CN=localhost" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.2" 2>/dev/null
  chmod 600 "$tmp"/*.key
  mv "$tmp"/ca.pem "$tmp"/ca.key "$tmp"/server.pem "$tmp"/server.key \
    "$tmp"/selfsigned.pem "$tmp"/selfsigned.key "$DIR/"
  rm -rf "$tmp"
}

# passwd-file: the three test users, then `users N`'s bulk users.
write_users() {
  local bulk="$1" tmp="$MAILDATA/users.tmp"
  {
    for u in "${TEST_USERS[@]}"; do printf '%s:{PLAIN}%s-pw\n' "$u" "$u"; done
    if [ "$bulk" -gt 0 ]; then
      awk -v n="$bulk" 'BEGIN { for (i = 1; i <= n; i++) printf "user%05d:{PLAIN}pw-user%05d\n", i, i }'
    fi
  } >"$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$MAILDATA/users"
  echo "$bulk" >"$DIR/bulk-users"
}

bulk_users() { cat "$DIR/bulk-users" 2>/dev/null || echo 0; }

seed_alice() {
  local md="$MAILDATA/mail/alice/Maildir"
  # Seed once: only when neither new/ nor cur/ holds a message (the directories
  # themselves exist from prepare_dirs, so test for files, not for output of ls).
  [ -n "$(find "$md/new" "$md/cur" -type f -print -quit 2>/dev/null)" ] && return
  info "seeding alice's INBOX"
  mkdir -p "$md/cur" "$md/new" "$md/tmp"
  local now i
  now="$(date +%s)"
  for i in 1 2 3; do
    {
      printf 'Return-Path: <sender%s@%s>\n' "$i" "$DOMAIN"
      printf 'Message-ID: <seed-%s@%s>\n' "$i" "$DOMAIN"
      printf 'Date: %s\n' "$(date -u -R -d "@$((now - 3600 * (4 - i)))")"
      printf 'From: Sender %s <sender%s@%s>\n' "$i" "$i" "$DOMAIN"
      printf 'To: Alice <alice@%s>\n' "$DOMAIN"
      case "$i" in
        1) printf 'Subject: Welcome to the test mailbox\n' ;;
        # A folded, RFC 2047-encoded subject: "Grüße aus der Testumgebung".
        2) printf 'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n =?UTF-8?B?IGF1cyBkZXIgVGVzdHVtZ2VidW5n?=\n' ;;
        3) printf 'Subject: Quarterly report\n' ;;
      esac
      printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n'
      printf 'Seed message %s.\n.A line that starts with a dot.\n' "$i"
    } >"$md/new/$((now + i)).M${i}P$$.mailsync"
  done
}

oauth2_introspection_url() { echo "http://$HOST:$OAUTH_PORT/mock/introspect?service=$1"; }

# dovecot's oauth2 passdb settings, one file per protocol (read by the auth process, so
# beside the passwd-file). username_attribute: the introspection's "email" must equal the
# login name (username_format %Lu): alice@mailsync.test, whose mail is alice's (%n).
write_oauth2_passdb_conf() {
  local proto
  for proto in imap pop3; do
    cat >"$MAILDATA/dovecot-oauth2-$proto.conf.ext.tmp" <<EOF
# Written by scripts/mailservers.sh start; edits are overwritten.
introspection_mode = auth
introspection_url = $(oauth2_introspection_url "$proto")
username_attribute = email
active_attribute = active
active_value = true
send_auth_headers = yes
timeout_msecs = 10000
EOF
    chmod 644 "$MAILDATA/dovecot-oauth2-$proto.conf.ext.tmp"
    mv "$MAILDATA/dovecot-oauth2-$proto.conf.ext.tmp" "$MAILDATA/dovecot-oauth2-$proto.conf.ext"
  done
}

write_dovecot_conf() {
  local uid gid
  uid="$(id -u "$MAIL_OWNER")"
  gid="$(id -g "$MAIL_OWNER")"
  write_oauth2_passdb_conf
  cat >"$DOVECOT_CONF.new" <<EOF
# Written by scripts/mailservers.sh start; edits are overwritten.
instance_name = mailsync-test
base_dir = $BASE_DIR
state_dir = $DIR/state
log_path = $DIR/dovecot.log
protocols = imap pop3
listen = $HOST
default_login_user = $LOGIN_USER
default_internal_user = $INTERNAL_USER
first_valid_uid = $uid
first_valid_gid = $gid

ssl = yes
ssl_cert = <$DIR/server.pem
ssl_key = <$DIR/server.key
ssl_min_protocol = TLSv1.2
local $SELFSIGNED_HOST {
  ssl_cert = <$DIR/selfsigned.pem
  ssl_key = <$DIR/selfsigned.key
}

# The plain ports must accept LOGIN/USER+PASS before STARTTLS/STLS.
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $MAILDATA/users
}
# OAuth 2.0 access tokens (XOAUTH2, OAUTHBEARER) are checked by the oauth mock's introspection:
# $(oauth2_introspection_url imap)
# $(oauth2_introspection_url pop3)
# One passdb per protocol (its URL names the service, whose scope the token must have); only
# for those mechanisms, so a PLAIN password never goes there. Protocol passdbs come before the
# global one: a refused token must not go on to be compared with the passwd-file's passwords.
protocol imap {
  passdb {
    driver = oauth2
    mechanisms = xoauth2 oauthbearer
    args = $MAILDATA/dovecot-oauth2-imap.conf.ext
    result_failure = return-fail
    result_internalfail = return-fail
  }
}
protocol pop3 {
  passdb {
    driver = oauth2
    mechanisms = xoauth2 oauthbearer
    args = $MAILDATA/dovecot-oauth2-pop3.conf.ext
    result_failure = return-fail
    result_internalfail = return-fail
  }
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$MAILDATA/mail/%n
}
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv

# Tests and benchmarks open many sessions per user from one address.
protocol imap {
  mail_max_userip_connections = 1000
}
protocol pop3 {
  mail_max_userip_connections = 1000
}

service imap-login {
  inet_listener imap {
    address = $HOST
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $HOST
    port = $IMAPS_PORT
    ssl = yes
  }
  inet_listener imaps_selfsigned {
    address = $SELFSIGNED_HOST
    port = $IMAPS_SELFSIGNED_PORT
    ssl = yes
  }
  inet_listener imap_selfsigned {
    address = $SELFSIGNED_HOST
    port = $IMAP_SELFSIGNED_PORT
  }
  # High-performance mode: a few login processes each serve many connections.
  service_count = 0
  process_min_avail = 2
  client_limit = 1000
}
service pop3-login {
  inet_listener pop3 {
    address = $HOST
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = $HOST
    port = $POP3S_PORT
    ssl = yes
  }
  inet_listener pop3_selfsigned {
    address = $SELFSIGNED_HOST
    port = $POP3_SELFSIGNED_PORT
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 1000
}
# No auth penalty: every test connects from 127.0.0.1, and the wrong-password tests
# would otherwise delay everyone's next login by up to 15 s (dovecot's documented way
# to turn it off).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap {
  process_limit = 1024
}
service pop3 {
  process_limit = 1024
}
EOF
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {
  local file="$1" pid i
  alive "$file" || { rm -f "$file"; return 0; }
  pid="$(cat "$file")"
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

start_dovecot() {
  write_dovecot_conf
  if alive "$DOVECOT_PID" && cmp -s "$DOVECOT_CONF.new" "$DOVECOT_CONF"; then
    rm -f "$DOVECOT_CONF.new"
    info "dovecot already running (pid $(cat "$DOVECOT_PID")), reused"
    return
  fi
  stop_pid "$DOVECOT_PID"
  mv "$DOVECOT_CONF.new" "$DOVECOT_CONF"
  mkdir -p "$DIR/state"
  info "starting dovecot ($DOVECOT_CONF)"
  # Its daemon keeps inherited descriptors: a caller's pipe would never see EOF.
  dovecot -c "$DOVECOT_CONF" </dev/null >>"$DIR/dovecot.log" 2>&1 ||
    die "dovecot did not start; see $DIR/dovecot.log"
}

smtp_args() {
  printf '%s\n' --host "$HOST" --domain "$DOMAIN" \
    --submission-port "$SMTP_PORT" --smtps-port "$SMTPS_PORT" --ews-port "$EWS_PORT" \
    --cert "$DIR/server.pem" --key "$DIR/server.key" --users "$MAILDATA/users" \
    --maildir-root "$MAILDATA/mail" --outbox "$DIR/outbox" --pidfile "$SMTP_PID" \
    --impersonators "$IMPERSONATORS" \
    --oauth-authority "http://$HOST:$OAUTH_PORT" --oauth-tenants "$OAUTH_TENANT,$OAUTH_OTHER_TENANT"
}

start_smtp() {
  local stamp
  stamp="$({ smtp_args; cat "$ROOT/scripts/smtp_ews.py"; } | sha256sum | cut -d' ' -f1)"
  if alive "$SMTP_PID" && [ "$(cat "$SMTP_STAMP" 2>/dev/null)" = "$stamp" ]; then
    info "smtp_ews.py already running (pid $(cat "$SMTP_PID")), reused"
    return
  fi
  stop_pid "$SMTP_PID"
  info "starting scripts/smtp_ews.py"
  local args=()
  mapfile -t args < <(smtp_args)
  nohup "$VENV/bin/python" "$ROOT/scripts/smtp_ews.py" "${args[@]}" >>"$DIR/smtp_ews.log" 2>&1 </dev/null &
  echo "$stamp" >"$SMTP_STAMP"
}

# The registered tenants, apps and users of Entra ID's stand-in, and Google's client.
write_oauth_config() {
  mkdir -p "$DIR/oauth"
  # The certificate app's credential: Entra ID holds the certificate, mailsync the
  # certificate and its private key (one PEM file).
  if [ ! -f "$DIR/oauth/app-credential.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mailsync test app" \
      -keyout "$DIR/oauth/app-key.pem" -out "$DIR/oauth/app-cert.pem" 2>/dev/null ||
      die "openssl could not make the certificate app's certificate"
    (umask 077 && cat "$DIR/oauth/app-cert.pem" "$DIR/oauth/app-key.pem" >"$DIR/oauth/app-credential.pem")
    rm -f "$DIR/oauth/app-key.pem"
  fi
  local users="" u sep=""
  for u in "${TEST_USERS[@]}"; do
    users+="$sep    {\"email\": \"$u@$DOMAIN\", \"tenant\": \"$OAUTH_TENANT\", \"google\": true, \"name\": \"${u^}\"}"
    sep=$',\n'
  done
  cat >"$OAUTH_CONFIG.tmp" <<EOF
{
  "tenants": [
    {"id": "$OAUTH_TENANT", "name": "mailsync test", "domains": ["mailsynctest.onmicrosoft.com", "$DOMAIN"]},
    {"id": "$OAUTH_OTHER_TENANT", "name": "mailsync other", "domains": ["mailsyncother.onmicrosoft.com"]}
  ],
  "apps": [
    {"tenant": "$OAUTH_TENANT", "client_id": "$OAUTH_CLIENT_ID", "client_secret": "$OAUTH_CLIENT_SECRET",
     "display_name": "mailsync", "roles": {"exchange": ["full_access_as_app"]}},
    {"tenant": "$OAUTH_OTHER_TENANT", "client_id": "$OAUTH_OTHER_CLIENT_ID",
     "client_secret": "$OAUTH_OTHER_CLIENT_SECRET", "display_name": "mailsync (other tenant)",
     "roles": {"exchange": ["full_access_as_app"]}},
    {"tenant": "$OAUTH_TENANT", "client_id": "$OAUTH_NOROLE_CLIENT_ID", "client_secret": "$OAUTH_NOROLE_CLIENT_SECRET",
     "display_name": "mailsync (no permissions)", "roles": {}},
    {"tenant": "$OAUTH_TENANT", "client_id": "$OAUTH_CERT_CLIENT_ID", "certificate": "$DIR/oauth/app-cert.pem",
     "display_name": "mailsync (certificate)", "roles": {"exchange": ["full_access_as_app"]}},
    {"tenant": "$OAUTH_TENANT", "client_id": "$OAUTH_DELEGATED_CLIENT_ID",
     "client_secret": "$OAUTH_DELEGATED_CLIENT_SECRET", "display_name": "mailsync (mailbox sign-in)", "roles": {},
     "redirect_uris": [$OAUTH_REDIRECT_URIS],
     "delegated": {"exchange": ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send"]}}
  ],
  "users": [
$users
  ],
  "google_clients": [
    {"client_id": "$GOOGLE_CLIENT_ID", "client_secret": "$GOOGLE_CLIENT_SECRET",
     "redirect_uris": [$OAUTH_REDIRECT_URIS]}
  ]
}
EOF
  mv "$OAUTH_CONFIG.tmp" "$OAUTH_CONFIG"
}

oauth_args() {
  printf '%s\n' --host "$HOST" --port "$OAUTH_PORT" --config "$OAUTH_CONFIG" --keys "$OAUTH_KEYS" \
    --pidfile "$OAUTH_PID"
}

start_oauth() {
  write_oauth_config
  local stamp
  stamp="$({ oauth_args; cat "$OAUTH_CONFIG" "$ROOT/scripts/oauth_mock.mjs"; } | sha256sum | cut -d' ' -f1)"
  if alive "$OAUTH_PID" && [ "$(cat "$OAUTH_STAMP" 2>/dev/null)" = "$stamp" ]; then
    info "oauth_mock.mjs already running (pid $(cat "$OAUTH_PID")), reused"
    return
  fi
  stop_pid "$OAUTH_PID"
  info "starting scripts/oauth_mock.mjs"
  local args=()
  mapfile -t args < <(oauth_args)
  nohup node "$ROOT/scripts/oauth_mock.mjs" "${args[@]}" >>"$DIR/oauth_mock.log" 2>&1 </dev/null &
  echo "$stamp" >"$OAUTH_STAMP"
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

wait_ports() {
  local deadline=$((SECONDS + 30)) hp
  for hp in "$HOST:$IMAP_PORT" "$HOST:$IMAPS_PORT" "$SELFSIGNED_HOST:$IMAPS_SELFSIGNED_PORT" \
    "$SELFSIGNED_HOST:$IMAP_SELFSIGNED_PORT" "$SELFSIGNED_HOST:$POP3_SELFSIGNED_PORT" \
    "$HOST:$POP3_PORT" "$HOST:$POP3S_PORT" "$HOST:$SMTP_PORT" "$HOST:$SMTPS_PORT" "$HOST:$EWS_PORT" "$HOST:$OAUTH_PORT"; do
    until port_open "${hp%:*}" "${hp##*:}"; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        tail -n 20 "$DIR/dovecot.log" "$DIR/smtp_ews.log" "$DIR/oauth_mock.log" 2>/dev/null >&2 || true
        die "nothing answers on $hp after 30 s (logs above)"
      fi
      sleep 0.2
    done
  done
}

write_env() {
  {
    echo "# Written by scripts/mailservers.sh; the mail servers for the tests."
    echo "MAIL_HOST=$HOST"
    echo "MAIL_DOMAIN=$DOMAIN"
    echo "MAIL_IMAP_PORT=$IMAP_PORT"
    echo "MAIL_IMAPS_PORT=$IMAPS_PORT"
    echo "MAIL_SELFSIGNED_HOST=$SELFSIGNED_HOST"
    echo "MAIL_IMAPS_SELFSIGNED_PORT=$IMAPS_SELFSIGNED_PORT"
    echo "MAIL_IMAP_SELFSIGNED_PORT=$IMAP_SELFSIGNED_PORT"
    echo "MAIL_POP3_SELFSIGNED_PORT=$POP3_SELFSIGNED_PORT"
    echo "MAIL_POP3_PORT=$POP3_PORT"
    echo "MAIL_POP3S_PORT=$POP3S_PORT"
    echo "MAIL_SMTP_PORT=$SMTP_PORT"
    echo "MAIL_SMTPS_PORT=$SMTPS_PORT"
    echo "MAIL_EWS_PORT=$EWS_PORT"
    echo "MAIL_EWS_URL=https://$HOST:$EWS_PORT/EWS/Exchange.asmx"
    echo "MAIL_AUTODISCOVER_URL=https://$HOST:$EWS_PORT/autodiscover/autodiscover.xml"
    echo "MAIL_OAUTH_AUTHORITY=http://$HOST:$OAUTH_PORT"
    echo "MAIL_OAUTH_PORT=$OAUTH_PORT"
    echo "MAIL_OAUTH_SCOPE=https://outlook.office365.com/.default"
    echo "MAIL_OAUTH_TENANT=$OAUTH_TENANT"
    echo "MAIL_OAUTH_CLIENT_ID=$OAUTH_CLIENT_ID"
    echo "MAIL_OAUTH_CLIENT_SECRET=$OAUTH_CLIENT_SECRET"
    echo "MAIL_OAUTH_OTHER_TENANT=$OAUTH_OTHER_TENANT"
    echo "MAIL_OAUTH_OTHER_CLIENT_ID=$OAUTH_OTHER_CLIENT_ID"
    echo "MAIL_OAUTH_OTHER_CLIENT_SECRET=$OAUTH_OTHER_CLIENT_SECRET"
    echo "MAIL_OAUTH_NOROLE_CLIENT_ID=$OAUTH_NOROLE_CLIENT_ID"
    echo "MAIL_OAUTH_NOROLE_CLIENT_SECRET=$OAUTH_NOROLE_CLIENT_SECRET"
    echo "MAIL_OAUTH_CERT_CLIENT_ID=$OAUTH_CERT_CLIENT_ID"
    echo "MAIL_OAUTH_CERT_CREDENTIAL=$DIR/oauth/app-credential.pem"
    echo "MAIL_OAUTH_DELEGATED_CLIENT_ID=$OAUTH_DELEGATED_CLIENT_ID"
    echo "MAIL_OAUTH_DELEGATED_CLIENT_SECRET=$OAUTH_DELEGATED_CLIENT_SECRET"
    echo "MAIL_OAUTH_INTROSPECT_URL=http://$HOST:$OAUTH_PORT/mock/introspect"
    echo "MAIL_GOOGLE_AUTHORITY=http://$HOST:$OAUTH_PORT/google"
    echo "MAIL_GOOGLE_CLIENT_ID=$GOOGLE_CLIENT_ID"
    echo "MAIL_GOOGLE_CLIENT_SECRET=$GOOGLE_CLIENT_SECRET"
    echo "MAIL_CA=$DIR/ca.pem"
    echo "MAIL_SELFSIGNED_CERT=$DIR/selfsigned.pem"
    echo "MAIL_OUTBOX=$DIR/outbox"
    echo "MAIL_MAILDIR_ROOT=$MAILDATA/mail"
    echo "MAIL_USERS_FILE=$MAILDATA/users"
    echo "MAIL_REJECT_RCPT=reject@$DOMAIN"
    echo "MAIL_DEFER_RCPT=defer@$DOMAIN"
    echo "MAIL_HANGUP_RCPT=hangup@$DOMAIN"
    echo "MAIL_TEST_USERS=$(IFS=,; echo "${TEST_USERS[*]}")"
    echo "MAIL_IMPERSONATOR=$IMPERSONATORS"
    for u in "${TEST_USERS[@]}"; do
      echo "MAIL_USER_${u^^}=$u"
      echo "MAIL_PASSWORD_${u^^}=$u-pw"
    done
    echo "MAIL_BULK_USERS=$(bulk_users)"
    echo "MAIL_BULK_USER_FORMAT=user%05d"
    echo "MAIL_BULK_PASSWORD_FORMAT=pw-user%05d"
  } >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
}

prepare_dirs() {
  mkdir -p "$DIR" "$DIR/outbox" "$MAILDATA/mail"
  local u missing=0
  for u in "${TEST_USERS[@]}"; do
    grep -q "^$u:" "$MAILDATA/users" 2>/dev/null || missing=1
    # Every test user has a Maildir from the start (tests deliver into it directly).
    mkdir -p "$MAILDATA/mail/$u/Maildir/cur" "$MAILDATA/mail/$u/Maildir/new" "$MAILDATA/mail/$u/Maildir/tmp"
  done
  if [ "$missing" = 1 ]; then write_users "$(bulk_users)"; fi
}

cmd_start() {
  section "mailservers: install"
  install_packages
  section "mailservers: start"
  choose_maildata
  prepare_dirs
  make_certs
  seed_alice
  chown -R "$MAIL_OWNER:" "$MAILDATA/mail"
  chmod 755 "$DIR" "$MAILDATA" "$MAILDATA/mail"
  start_dovecot
  start_oauth
  start_smtp
  wait_ports
  write_env
  info "all ports answer; $DIR/env:"
  sed 's/^/    /' "$DIR/env"
}

cmd_stop() {
  if alive "$DOVECOT_PID"; then
    info "stopping dovecot (pid $(cat "$DOVECOT_PID"))"
  fi
  stop_pid "$DOVECOT_PID"
  if alive "$SMTP_PID"; then
    info "stopping smtp_ews.py (pid $(cat "$SMTP_PID"))"
  fi
  stop_pid "$SMTP_PID"
  rm -f "$SMTP_STAMP"
  if alive "$OAUTH_PID"; then
    info "stopping oauth_mock.mjs (pid $(cat "$OAUTH_PID"))"
  fi
  stop_pid "$OAUTH_PID"
  rm -f "$OAUTH_STAMP"
}

cmd_status() {
  local rc=0
  if alive "$DOVECOT_PID"; then echo "dovecot: running (pid $(cat "$DOVECOT_PID"), $DOVECOT_CONF)"; else echo "dovecot: stopped"; rc=1; fi
  if alive "$SMTP_PID"; then echo "smtp_ews.py: running (pid $(cat "$SMTP_PID"))"; else echo "smtp_ews.py: stopped"; rc=1; fi
  if alive "$OAUTH_PID"; then echo "oauth_mock.mjs: running (pid $(cat "$OAUTH_PID"))"; else echo "oauth_mock.mjs: stopped"; rc=1; fi
  local name hp
  for name in "imap $HOST:$IMAP_PORT" "imaps $HOST:$IMAPS_PORT" \
    "imaps-selfsigned $SELFSIGNED_HOST:$IMAPS_SELFSIGNED_PORT" \
    "imap-selfsigned $SELFSIGNED_HOST:$IMAP_SELFSIGNED_PORT" \
    "pop3-selfsigned $SELFSIGNED_HOST:$POP3_SELFSIGNED_PORT" "pop3 $HOST:$POP3_PORT" \
    "pop3s $HOST:$POP3S_PORT" "smtp-submission $HOST:$SMTP_PORT" "smtps $HOST:$SMTPS_PORT" \
    "ews-https $HOST:$EWS_PORT" "oauth-http $HOST:$OAUTH_PORT"; do
    hp="${name#* }"
    if port_open "${hp%:*}" "${hp##*:}"; then echo "  ${name% *} $hp: open"; else echo "  ${name% *} $hp: closed"; rc=1; fi
  done
  echo "bulk users: $(bulk_users)"
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop && cmd_start ;;
  status) cmd_status ;;
  users)
    n="${2:-}"
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -le 99999 ] || die "usage: $0 users N (0..99999)"
    prepare_dirs
    write_users "$n"
    [ -f "$DIR/env" ] && write_env
    info "$MAILDATA/users: ${#TEST_USERS[@]} test users + $n bulk users (user00001 / pw-user00001 ...)"
    ;;
  env) cat "$DIR/env" ;;
  *)
    echo "usage: $0 start|stop|restart|status|users N|env" >&2
    exit 2
    ;;
esac
