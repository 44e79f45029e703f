#!/bin/bash
# The one place that runs certbot. provision.sh's tls step, the renewal timer, `make local` and
# the tests all run this script; its parameters come from the bundle's tls.env (rendered for the
# target: paths, ACME server, the name on the certificate), and the environment wins over them.
#
#   tls.sh obtain   a certificate for TLS_NAME, unless a valid one for the same name exists (so a
#                   re-provision, a reboot or a new instance requests nothing: rate limits)
#   tls.sh renew    renew if due (the timer, twice a day); TLS_FORCE=1 renews now
#   tls.sh deploy   certbot's deploy hook, run only after a new certificate was saved: NGINX's
#                   full config (checked with nginx -t first), then a reload
#
# On failure: exit 1, and one line on stderr with certbot's reason (provision.sh puts it into
# the deploy's failure). Every attempt writes TLS_STATUS_FILE, which NGINX serves to the doctor.
# A failed renewal changes nothing else: the current certificate keeps serving.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
set -a
# shellcheck source=/dev/null # rendered into the bundle beside this script
. "$HERE/tls.env"
set +a
TLS_NGINX_FULL="${TLS_NGINX_FULL:-$HERE/nginx.conf}"
# certbot (requests) trusts this CA for the ACME server's own HTTPS: a local Pebble's.
if [[ -n "${TLS_ACME_CA:-}" ]]; then export REQUESTS_CA_BUNDLE="$TLS_ACME_CA"; fi

log() { echo "$(date -Is) tls: $*"; }

# status RESULT [REASON]: the outcome of this attempt, as JSON (python: every value escaped).
# Only a report: failing to write it never fails the attempt.
status() {
  mkdir -p "$(dirname "$TLS_STATUS_FILE")"
  write_status "$@" 2>&1 || log "could not write ${TLS_STATUS_FILE}"
}

write_status() {
  "$TLS_PYTHON" - "$TLS_STATUS_FILE" "$1" "${2:-}" "$ACTION" "$TLS_CONFIG_DIR/live/$TLS_CERT_NAME/cert.pem" <<'PY'
import datetime, json, os, sys
from pathlib import Path

path, result, reason, action, cert = sys.argv[1:]
status = {"result": result, "action": action, "reason": reason,
          "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
try:
    from cryptography import x509
    loaded = x509.load_pem_x509_certificate(Path(cert).read_bytes())
    status["not_after"] = loaded.not_valid_after_utc.isoformat()
    status["serial"] = format(loaded.serial_number, "x")
except (OSError, ValueError, ImportError):
    pass
tmp = Path(path + ".tmp")
tmp.write_text(json.dumps(status) + "\n")
os.chmod(tmp, 0o644)
tmp.replace(path)
PY
}

# reason FILE: certbot's one-line reason in its output: what the CA said about the challenge,
# else the error (an unexpected one, or renew's "Failed to renew"), a connection error shortened
# to its cause, else its first line that says something.
reason() {
  local line
  line=$(grep -m1 -E '^\s+Detail: ' "$1" | sed -E 's/^\s+Detail: //') || true
  if [[ -z "$line" ]]; then
    line=$(grep -m1 -E '^Failed to renew certificate \S+ with error: ' "$1" |
      sed -E 's/^Failed to renew certificate \S+ with error: //') || true
  fi
  if [[ -z "$line" ]]; then
    line=$(grep -A1 -m1 '^An unexpected error occurred:' "$1" | tail -n +2) || true
  fi
  if [[ "$line" == *HTTPSConnectionPool*Max\ retries* ]]; then
    line="could not reach the ACME server ${TLS_SERVER}: $(grep -oE '\[Errno -?[0-9]+\] [^")]+' <<<"$line" | tail -1 || true)"
  fi
  if [[ -z "$line" ]]; then
    line=$(grep -v -E '^(Saving debug log|Ask for help|[- ]*$)' "$1" | head -1) || true
  fi
  printf '%s' "${line:0:400}"
}

certbot_run() {
  local out
  out=$(mktemp)
  mkdir -p "$TLS_CONFIG_DIR" "$TLS_WORK_DIR" "$TLS_LOGS_DIR" "$TLS_WEBROOT"
  # Certificates, keys and the ACME account key: root's only.
  chmod 0700 "$TLS_CONFIG_DIR"
  if "$TLS_CERTBOT" "$@" --non-interactive --config-dir "$TLS_CONFIG_DIR" \
    --work-dir "$TLS_WORK_DIR" --logs-dir "$TLS_LOGS_DIR" \
    --deploy-hook "$(printf '%q' "$HERE/tls.sh") deploy" >"$out" 2>&1; then
    cat "$out"
    rm -f "$out"
    status ok
    return 0
  fi
  cat "$out"
  local why
  why=$(reason "$out")
  rm -f "$out"
  log "certbot ${ACTION} failed: ${why}"
  status failed "$why"
  echo "certbot ${ACTION} failed: ${why}" >&2
  return 1
}

obtain() {
  local args=(certonly --webroot --webroot-path "$TLS_WEBROOT" --cert-name "$TLS_CERT_NAME"
    --server "$TLS_SERVER" --agree-tos --keep-until-expiring)
  if [[ -z "$TLS_NAME" ]]; then
    ACTION=obtain status failed "no name for the certificate"
    echo "no name for the certificate: TLS_NAME is empty (https=ip: WORKBENCH_PUBLIC_IP from /etc/workbench/env)" >&2
    return 1
  fi
  if [[ "$TLS_KIND" == ip ]]; then
    # Let's Encrypt issues IP certificates only under its short-lived profile (about 6 days).
    args+=(--ip-address "$TLS_NAME" --preferred-profile shortlived)
  else
    args+=(--domain "$TLS_NAME")
  fi
  if [[ -n "$TLS_EMAIL" ]]; then
    args+=(--email "$TLS_EMAIL" --no-eff-email)
  else
    args+=(--register-unsafely-without-email)
  fi
  # The ACME server changed (acme_server: staging -> production, say): a valid certificate from
  # the old one is no reason to keep it. Only then is a new one forced.
  local conf="$TLS_CONFIG_DIR/renewal/$TLS_CERT_NAME.conf"
  if [[ -f "$conf" ]] && ! grep -qxF "server = $TLS_SERVER" "$conf"; then
    log "the certificate comes from another ACME server than ${TLS_SERVER}: replacing it"
    args+=(--force-renewal --break-my-certs)
  fi
  log "certificate for ${TLS_NAME} (${TLS_KIND}) from ${TLS_SERVER}"
  certbot_run "${args[@]}"
}

renew() {
  # The configured server: a changed acme_server applies to renewals too. The timer's
  # RandomizedDelaySec spreads the load already: no second random sleep (up to 8 minutes) of
  # certbot's own.
  local args=(renew --server "$TLS_SERVER" --no-random-sleep-on-renew)
  if [[ -n "${TLS_FORCE:-}" ]]; then args+=(--force-renewal); fi
  certbot_run "${args[@]}"
}

# The deploy hook: NGINX serves the new certificate. Before the first one NGINX runs the
# pre-certificate config; from now on the full one. Checked before it is installed, and the
# running config checked again before every reload: a bad config never replaces a good one.
deploy() {
  local nginx_args
  read -r -a nginx_args <<<"$TLS_NGINX_ARGS"
  if ! cmp -s "$TLS_NGINX_FULL" "$TLS_NGINX_CONF"; then
    "$TLS_NGINX" -t -q -c "$TLS_NGINX_FULL" "${nginx_args[@]}"
    install -m 0644 "$TLS_NGINX_FULL" "$TLS_NGINX_CONF"
    log "installed ${TLS_NGINX_CONF}: NGINX serves HTTPS"
  fi
  "$TLS_NGINX" -t -q -c "$TLS_NGINX_CONF" "${nginx_args[@]}"
  "$TLS_NGINX" -c "$TLS_NGINX_CONF" "${nginx_args[@]}" -s reload
  log "reloaded NGINX with the certificate for ${RENEWED_DOMAINS:-${TLS_NAME}}"
}

ACTION="${1:-}"
case "$ACTION" in
  obtain) obtain ;;
  renew) renew ;;
  deploy) deploy ;;
  *)
    echo "usage: tls.sh obtain|renew|deploy" >&2
    exit 2
    ;;
esac
