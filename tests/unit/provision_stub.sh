#!/bin/bash
# A recording stub: dispatches on the name it was called by.
set -u
name="${0##*/}"
case "$0" in
  "$STUB_BIN"/*) who="$name" ;;
  *) who="${0#"$WORKBENCH_SYSROOT"}" ;;
esac
{ printf '%s\x1f' "$who" "$@"; printf '\x1e'; } >>"$STUB_CALLS"
R="$WORKBENCH_SYSROOT"
S="$STUB_STATE"
has() { local a; for a in "${@:2}"; do [[ "$a" == "$1" ]] && return 0; done; return 1; }
last() { printf '%s' "${!#}"; }
case "$name" in
  apt-get)
    [[ -n "${STUB_FAIL_APT:-}" ]] && { echo "E: Unable to locate package (stub)" >&2; exit 100; }
    if has install "$@"; then
      for arg in "$@"; do
        case "$arg" in
          -*|install) ;;
          */rstudio-server-*.deb) echo 2026.07.1+147 >"$S/packages/rstudio-server" ;;
          */shiny-server-*.deb) echo 1.5.23.1030 >"$S/packages/shiny-server" ;;
          *=*) echo "${arg#*=}" >"$S/packages/${arg%%=*}" ;;
          *) echo 1.0-stub >"$S/packages/$arg"
             if [[ "$arg" == nginx ]]; then
               mkdir -p "$R/etc/nginx"; echo "# the distribution's nginx.conf" >"$R/etc/nginx/nginx.conf"
             fi ;;
        esac
      done
    fi ;;
  dpkg-query)
    pkg=$(last "$@")
    [[ -f "$S/packages/$pkg" ]] || { echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; }
    printf 'installed %s\n' "$(cat "$S/packages/$pkg")" ;;
  systemctl)
    unit=$(last "$@")
    case "$1" in
      is-enabled) [[ -f "$S/enabled/$unit" ]] ;;
      is-active) [[ -f "$S/active/$unit" ]] ;;
      enable) touch "$S/enabled/$unit" ;;
      start|restart|reload-or-restart) touch "$S/active/$unit" ;;
      daemon-reload) ;;
      *) echo "systemctl stub: unexpected $*" >&2; exit 1 ;;
    esac ;;
  nginx)
    [[ -n "${STUB_FAIL_NGINX:-}" ]] && { echo "nginx: [emerg] unknown directive (stub)" >&2; exit 1; }
    exit 0 ;;
  useradd)
    user=$(last "$@")
    if has --system "$@"; then uid=$((999 - $(grep -c ':9[0-9][0-9]:' "$R/etc/passwd" || true)))
    else uid=$((1000 + $(grep -c ':1[0-9][0-9][0-9]:' "$R/etc/passwd" || true))); fi
    echo "$user:x:$uid:$uid::/home/$user:/bin/bash" >>"$R/etc/passwd" ;;
  getent)
    grep "^$2:" "$R/etc/passwd" || exit 2 ;;
  id)
    line=$(grep "^$(last "$@"):" "$R/etc/passwd") || { echo "id: no such user" >&2; exit 1; }
    echo "$line" | cut -d: -f3 ;;
  passwd)
    user=$(last "$@")
    if grep -q "^$user:" "$R/etc/shadow" 2>/dev/null; then echo "$user P 2026-01-01 0 99999 7 -1"
    else echo "$user L 2026-01-01 0 99999 7 -1"; fi ;;
  chpasswd)
    # Like the real one, keep only a hash: of what arrived on stdin.
    line=$(cat)
    digest=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
    echo "${line%%:*}:$digest" >>"$R/etc/shadow" ;;
  fallocate) touch "$(last "$@")" ;;
  swapon)
    if [[ "${1:-}" == --show* ]]; then cat "$S/swap" 2>/dev/null || true
    else echo "${1#"$R"}" >"$S/swap"; fi ;;
  aws)
    if [[ "$1 $2" == "secretsmanager get-secret-value" ]]; then
      [[ -n "${STUB_FAIL_SECRET:-}" ]] && { echo "An error occurred (AccessDeniedException)" >&2; exit 254; }
      printf '%s\n' "$STUB_SECRET"
    fi ;;
  curl)
    if has -w "$@"; then
      url=$(last "$@")
      code=$(awk -v u="$url" '$1 == u {print $2}' "$S/http" 2>/dev/null)
      printf '%s' "${code:-200}"
    else
      out=""; prev=""
      for arg in "$@"; do [[ "$prev" == -o ]] && out="$arg"; prev="$arg"; done
      url=$(last "$@")
      [[ -f "$STUB_DOWNLOADS/${url##*/}" ]] || { echo "curl: (22) 404 (stub)" >&2; exit 22; }
      cp "$STUB_DOWNLOADS/${url##*/}" "$out"
    fi ;;
  python3)
    # python3 -m venv DIR: a virtualenv whose tools are stubs too.
    dir=$(last "$@")
    mkdir -p "$dir/bin"
    for tool in python pip uvicorn jupyterhub jupyterhub-singleuser; do ln -sf "$STUB_BIN/stub" "$dir/bin/$tool"; done ;;
  python)
    # The training script writes the model next to the app.
    [[ "${1:-}" == *.py ]] && echo "trained (stub)" >"$PWD/model.stub" ;;
  node)
    [[ "${1:-}" == --version ]] && echo "v$STUB_NODE_VERSION" ;;
  npm)
    mkdir -p node_modules/.bin && ln -sf "$STUB_BIN/stub" node_modules/.bin/configurable-http-proxy ;;
  *) ;;
esac
