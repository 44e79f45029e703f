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
# after OPTION ARGS...: the value that follows OPTION in ARGS.
after() { local want="$1" prev="" a; shift; for a in "$@"; do [[ "$prev" == "$want" ]] && { printf '%s' "$a"; return 0; }; prev="$a"; done; return 1; }
# How many times this run called COMMAND so far (this call included).
calls_of() { tr '\036' '\n' <"$STUB_CALLS" | grep -c "^$1"$'\x1f' || true; }

# --- EC2, as identity.sh sees it -------------------------------------------------------------
# $E/volume: "STATE HOLDER ATTACHMENT-STATE ZONE" (tab-separated, None for null, as the CLI's text
# output); $E/address: the instance the Elastic IP is associated with; $E/instances/ID: "STATE
# STACK-TAG". Attaching the volume here makes udev's link appear; detaching it removes the link.
E="$S/ec2"
ec2_fail() { echo "An error occurred ($1) when calling the $2 operation: $3" >&2; exit 254; }
ec2_call() {
  local op="" a volume_state holder attach zone id
  # `aws ec2 --region R OPERATION ...`
  for a in "$@"; do case "$a" in --region|us-east-1) ;; *) op="$a"; break ;; esac; done
  IFS=$'\t' read -r volume_state holder attach zone <"$E/volume"
  case "$op" in
    describe-volumes) printf '%s\t%s\t%s\t%s\n' "$volume_state" "$holder" "$attach" "$zone" ;;
    describe-instances)
      id=$(after --instance-ids "$@")
      [[ -f "$E/instances/$id" ]] || ec2_fail InvalidInstanceID.NotFound DescribeInstances "$id"
      cat "$E/instances/$id" ;;
    describe-addresses) cat "$E/address" ;;
    stop-instances|start-instances)
      id=$(after --instance-ids "$@")
      [[ -n "${STUB_FAIL_EC2:-}" && "$op" == "$STUB_FAIL_EC2" ]] && ec2_fail UnauthorizedOperation "$op" "$id"
      read -r _ tag <"$E/instances/$id"
      if [[ "$op" == stop-instances ]]; then printf 'stopped\t%s\n' "$tag" >"$E/instances/$id"
      else printf 'running\t%s\n' "$tag" >"$E/instances/$id"; fi ;;
    wait)
      # `wait WAITER --ids ID`: the stub's EC2 changes at once, so a waiter checks once.
      case "${*: -3:1}" in
        instance-stopped) read -r a _ <"$E/instances/$(last "$@")"; [[ "$a" == stopped ]] ;;
        volume-available) [[ "$volume_state" == available ]] ;;
        volume-in-use) [[ "$volume_state" == in-use ]] ;;
        *) echo "aws stub: unexpected wait $*" >&2; exit 1 ;;
      esac || { echo "Waiter failed: Max attempts exceeded (stub)" >&2; exit 255; } ;;
    detach-volume)
      id=$(after --instance-id "$@")
      [[ "$holder" == "$id" ]] || ec2_fail IncorrectState DetachVolume "not attached to $id"
      printf 'available\tNone\tNone\t%s\n' "$zone" >"$E/volume"
      if [[ "$id" == "$(cat "$E/me")" ]]; then rm -f "$STUB_ATTACH_LINK"; fi ;;
    attach-volume)
      id=$(after --instance-id "$@")
      [[ -n "${STUB_FAIL_EC2:-}" && "$op" == "$STUB_FAIL_EC2" ]] && ec2_fail UnauthorizedOperation "$op" "$id"
      [[ "$volume_state" == available ]] || ec2_fail VolumeInUse AttachVolume "$(after --volume-id "$@") is attached to $holder"
      printf 'in-use\t%s\tattached\t%s\n' "$id" "$zone" >"$E/volume"
      if [[ "$id" == "$(cat "$E/me")" ]]; then ln -sfn "$STUB_ATTACH_TARGET" "$STUB_ATTACH_LINK"; fi ;;
    associate-address) after --instance-id "$@" >"$E/address"; echo >>"$E/address" ;;
    *) echo "aws stub: unexpected ec2 $*" >&2; exit 1 ;;
  esac
}

# --- one EBS volume, emulated ---------------------------------------------------------------
# Unmounted, its files sit in $S/volume; mounted, in the mount point, whose own files are set
# aside in $S/under/<target>. $S/mounts lists "SOURCE TARGET" (SOURCE bind:DIR for bind mounts);
# $S/volume.fs holds what blkid would find (absent: a blank volume).
key() { printf '%s' "${1//\//_}"; }
move_all() { mkdir -p "$2"; find "$1" -mindepth 1 -maxdepth 1 -exec mv -t "$2" {} + 2>/dev/null || true; }
volume_mounts() { awk '$1 !~ /^bind:/' "$S/mounts" 2>/dev/null || true; }
fs() { grep "^$1=" "$S/volume.fs" 2>/dev/null | cut -d= -f2-; }
mount_volume() {
  local dev="$1" target="$2"
  [[ "$(readlink -f "$dev")" == "$(cat "$S/device")" ]] || { echo "mount: $dev: no such volume (stub)" >&2; exit 32; }
  [[ -f "$S/volume.fs" ]] || { echo "mount: $target: wrong fs type, bad superblock on $dev" >&2; exit 32; }
  move_all "$target" "$S/under/$(key "$target")"
  move_all "$S/volume" "$target"
  echo "$(cat "$S/device") $target" >>"$S/mounts"
}
# bind_view SRC VIEW in|out: show (or take back) what each volume mount under SRC hides.
bind_view() {
  local src="${1%/}" view="$2" way="$3" source target
  while read -r source target; do
    [[ "$target" == "$src"/* ]] || continue
    if [[ "$way" == in ]]; then move_all "$S/under/$(key "$target")" "$view${target#"$src"}"
    else move_all "$view${target#"$src"}" "$S/under/$(key "$target")"; fi
  done < <(volume_mounts)
}
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
      start|restart|reload-or-restart) for u in "${@:2}"; do touch "$S/active/$u"; done ;;
      stop) for u in "${@:2}"; do rm -f "$S/active/$u"; done ;;
      daemon-reload) ;;
      *) echo "systemctl stub: unexpected $*" >&2; exit 1 ;;
    esac ;;
  nginx)
    [[ -n "${STUB_FAIL_NGINX:-}" ]] && { echo "nginx: [emerg] unknown directive (stub)" >&2; exit 1; }
    exit 0 ;;
  useradd)
    user=$(last "$@")
    if has --system "$@"; then uid=$((999 - $(grep -c ':9[0-9][0-9]:' "$R/etc/passwd" || true)))
    elif has --uid "$@"; then uid=$(after --uid "$@")
    else uid=$((1000 + $(grep -c ':1[0-9][0-9][0-9]:' "$R/etc/passwd" || true))); fi
    echo "$user:x:$uid:$uid::/home/$user:/bin/bash" >>"$R/etc/passwd"
    # Its own group (Ubuntu's USERGROUPS_ENAB), and a home owned by it: 0755, older Ubuntus'
    # HOME_MODE, which provision.sh must tighten.
    echo "$user:x:$uid:" >>"$R/etc/group"
    # An existing home is left as it is (useradd: "home directory already exists").
    if has --create-home "$@" && [[ ! -d "$R/home/$user" ]]; then
      mkdir -p "$R/home/$user" && chmod 0755 "$R/home/$user" && chown "$uid:$uid" "$R/home/$user"
    fi ;;
  groupadd)
    group=$(last "$@")
    gid=$((999 - $(grep -c ':9[0-9][0-9]:' "$R/etc/group" || true)))
    echo "$group:x:$gid:" >>"$R/etc/group" ;;
  gpasswd)
    # gpasswd --add|--delete USER GROUP: edit the group's member list.
    user="$2" group="$3"
    line=$(grep "^$group:" "$R/etc/group") || { echo "gpasswd: group '$group' does not exist" >&2; exit 3; }
    members=$(echo "$line" | cut -d: -f4 | tr ',' '\n' | grep -vx "$user" | grep . || true)
    if [[ "$1" == --add ]]; then members=$(printf '%s\n%s' "$members" "$user" | grep .); fi
    new="$(echo "$line" | cut -d: -f1-3):$(echo "$members" | grep . | tr '\n' ',' | sed 's/,$//')"
    awk -v g="$group" -v l="$new" -F: '$1 == g {print l; next} {print}' "$R/etc/group" >"$R/etc/group.new"
    mv "$R/etc/group.new" "$R/etc/group" ;;
  usermod)
    user=$(last "$@")
    grep -q "^$user:" "$R/etc/passwd" || { echo "usermod: user '$user' does not exist" >&2; exit 6; }
    mkdir -p "$S/expired"
    if has --lock "$@"; then sed -i "s/^$user:/$user:!/" "$R/etc/shadow" 2>/dev/null || true; fi
    case "$(after --expiredate "$@")" in
      "") rm -f "$S/expired/$user" ;;
      *) touch "$S/expired/$user" ;;
    esac ;;
  pkill) ;;
  setfacl)
    # The default ACL it sets, as getfacl would print it back.
    after -m "$@" | tr ',' '\n' >"$S/acl.$(key "$(last "$@")")" ;;
  getfacl)
    cat "$S/acl.$(key "$(last "$@")")" 2>/dev/null || true ;;
  getent)
    case "$1" in
      # By name, or by uid (a number).
      passwd) grep -E "^$2:|^[^:]*:[^:]*:$2:" "$R/etc/passwd" || exit 2 ;;
      group) grep "^$2:" "$R/etc/group" || exit 2 ;;
      *) echo "getent stub: unexpected $*" >&2; exit 1 ;;
    esac ;;
  id)
    line=$(grep "^$(last "$@"):" "$R/etc/passwd") || { echo "id: no such user" >&2; exit 1; }
    if [[ "$1" == -g ]]; then echo "$line" | cut -d: -f4; else echo "$line" | cut -d: -f3; fi ;;
  passwd)
    user=$(last "$@")
    if grep -q "^$user:" "$R/etc/shadow" 2>/dev/null; then echo "$user P 2026-01-01 0 99999 7 -1"
    else echo "$user L 2026-01-01 0 99999 7 -1"; fi ;;
  chpasswd)
    # Like the real one, keep only a hash: of what arrived on stdin.
    line=$(cat)
    digest=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
    touch "$R/etc/shadow"
    grep -v "^${line%%:*}:" "$R/etc/shadow" >"$R/etc/shadow.new" || true
    echo "${line%%:*}:$digest" >>"$R/etc/shadow.new"
    mv "$R/etc/shadow.new" "$R/etc/shadow" ;;
  fallocate) touch "$(last "$@")" ;;
  swapon)
    if [[ "${1:-}" == --show* ]]; then cat "$S/swap" 2>/dev/null || true
    else echo "${1#"$R"}" >"$S/swap"; fi ;;
  aws)
    if [[ "$1 $2" == "secretsmanager get-secret-value" ]]; then
      [[ -n "${STUB_FAIL_SECRET:-}" ]] && { echo "An error occurred (AccessDeniedException)" >&2; exit 254; }
      # Each secret its own value: STUB_SECRET, then a digest of the secret's name.
      printf '%s-%s\n' "$STUB_SECRET" "$(after --secret-id "$@" | sha256sum | cut -c1-8)"
    elif [[ "$1" == ec2 ]]; then
      ec2_call "${@:2}"
    fi ;;
  curl)
    url=$(last "$@")
    if [[ "$url" == http://169.254.169.254/* ]]; then
      # IMDSv2: a token first (PUT), then each read with it.
      case "${url#http://169.254.169.254/latest/}" in
        api/token) has PUT "$@" && echo stub-token ;;
        meta-data/*)
          has "X-aws-ec2-metadata-token: stub-token" "$@" || { echo "curl: (22) 401" >&2; exit 22; }
          case "${url#*/meta-data/}" in
            instance-id) cat "$E/me" ;;
            placement/region) echo us-east-1 ;;
            placement/availability-zone) cat "$E/zone" ;;
            public-ipv4)
              if [[ "$(cat "$E/address")" == "$(cat "$E/me")" ]]; then echo "${WORKBENCH_PUBLIC_IP:-}"
              else cat "$E/auto-ip"; fi ;;
            *) echo "curl: (22) 404" >&2; exit 22 ;;
          esac ;;
      esac
    elif has PUT "$@"; then
      # A signal: record method, URL, headers and body (stdin); STUB_FAIL_PUTS=N fails the first N.
      body=$(cat)
      method=$(after -X "$@")
      headers=(); prev=""
      for arg in "$@"; do [[ "$prev" == -H ]] && headers+=("$arg"); prev="$arg"; done
      delivered=1
      if (( $(tr -cd '\036' <"$STUB_PUTS" | wc -c) < ${STUB_FAIL_PUTS:-0} )); then delivered=0; fi
      { printf '%s\x1f' "$delivered" "$method" "$(last "$@")" "$body" "${headers[@]}"; printf '\x1e'; } >>"$STUB_PUTS"
      ((delivered)) || { echo "curl: (22) The requested URL returned error: 503" >&2; exit 22; }
    elif has -w "$@"; then
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
    # python3 -c: the real one (it only computes); python3 -m venv DIR: a virtualenv of stubs.
    [[ "${1:-}" == -c ]] && exec "$STUB_PYTHON3" "$@"
    dir=$(last "$@")
    mkdir -p "$dir/bin"
    for tool in python pip uvicorn jupyterhub jupyterhub-singleuser certbot; do ln -sf "$STUB_BIN/stub" "$dir/bin/$tool"; done ;;
  python)
    # The training script writes the model next to the app.
    [[ "${1:-}" == *.py ]] && echo "trained (stub)" >"$PWD/model.stub" ;;
  certbot)
    # certonly: a certificate in --config-dir unless one is there ("not yet due"), then the
    # deploy hook, as certbot runs it. STUB_FAIL_CERTBOT=DETAIL: the CA's answer to a failed
    # challenge, in certbot's words.
    if [[ -n "${STUB_FAIL_CERTBOT:-}" ]]; then
      printf 'Certbot failed to authenticate some domains (authenticator: webroot). The Certificate Authority reported these problems:\n  Identifier: stub\n  Type:   connection\n  Detail: %s\n\nSome challenges have failed.\n' "$STUB_FAIL_CERTBOT"
      exit 1
    fi
    live="$(after --config-dir "$@")/live/$(after --cert-name "$@" || echo workbench)"
    if [[ "$1" == certonly && -f "$live/fullchain.pem" ]]; then
      echo "Certificate not yet due for renewal; no action taken."
    elif [[ "$1" == certonly ]] || has --force-renewal "$@"; then
      mkdir -p "$live"
      for f in cert chain fullchain privkey; do echo "stub $f $(calls_of certbot)" >"$live/$f.pem"; done
      echo "Successfully received certificate."
      bash -c "$(after --deploy-hook "$@")"
    fi ;;
  node)
    [[ "${1:-}" == --version ]] && echo "v$STUB_NODE_VERSION" ;;
  npm)
    mkdir -p node_modules/.bin && ln -sf "$STUB_BIN/stub" node_modules/.bin/configurable-http-proxy ;;
  sleep)
    # STUB_ATTACH_AFTER=N: the volume is attached (udev links it) during the Nth sleep.
    if [[ -n "${STUB_ATTACH_AFTER:-}" ]] && (( $(calls_of sleep) == STUB_ATTACH_AFTER )); then
      ln -s "$STUB_ATTACH_TARGET" "$STUB_ATTACH_LINK"
    fi ;;
  blkid)
    [[ -f "$S/volume.fs" ]] || exit 2 # no signature of any kind
    if has value "$@"; then fs "$(after -s "$@")"
    elif has export "$@"; then cat "$S/volume.fs"
    else printf '%s: %s\n' "$(last "$@")" "$(tr '\n' ' ' <"$S/volume.fs")"; fi ;;
  mkfs.ext4)
    printf 'UUID=%s\nTYPE=ext4\nUSAGE=filesystem\nLABEL=%s\n' \
      5e1f0c2a-7b3d-4c8e-9a61-2f4d8b0c3e57 "$(after -L "$@")" >"$S/volume.fs"
    mkdir -p "$S/volume/lost+found" ;;
  mount)
    case "$1" in
      --make-private) ;;
      --bind) bind_view "$2" "$3" in; echo "bind:$2 $3" >>"$S/mounts" ;;
      --fstab)
        spec=$(awk -v t="$3" '$1 !~ /^#/ && $2 == t {print $1}' "$2")
        [[ -n "$spec" && "$spec" == "UUID=$(fs UUID)" ]] || { echo "mount: $3: can't find in $2" >&2; exit 32; }
        mount_volume "$(cat "$S/device")" "$3" ;;
      -*) echo "mount stub: unexpected $*" >&2; exit 1 ;;
      *) mount_volume "$1" "$2" ;;
    esac ;;
  umount)
    target=$(last "$@")
    source=$(awk -v t="$target" '$2 == t {print $1}' "$S/mounts" 2>/dev/null)
    [[ -n "$source" ]] || { echo "umount: $target: not mounted." >&2; exit 32; }
    awk -v t="$target" '$2 != t' "$S/mounts" >"$S/mounts.new" && mv "$S/mounts.new" "$S/mounts"
    if [[ "$source" == bind:* ]]; then
      bind_view "${source#bind:}" "$target" out
      find "$target" -mindepth 1 -delete
    else
      move_all "$target" "$S/volume"
      move_all "$S/under/$(key "$target")" "$target"
    fi ;;
  mountpoint)
    awk -v t="$(last "$@")" '$2 == t {found = 1} END {exit !found}' "$S/mounts" 2>/dev/null ;;
  findmnt)
    if has --mountpoint "$@"; then
      volume_mounts | awk -v t="$(after --mountpoint "$@")" '$2 == t {print $1; found = 1} END {exit !found}'
    elif has --target "$@"; then
      path=$(after --target "$@") best=/
      while read -r source target; do
        if [[ "$path" == "$target" || "$path" == "$target"/* ]] && ((${#target} > ${#best})); then best=$target; fi
      done < <(volume_mounts)
      echo "$best"
    else echo "findmnt stub: unexpected $*" >&2; exit 1; fi ;;
  lsblk)
    volume_mounts | awk -v d="$(readlink -f "$(last "$@")")" '$1 == d {print $2}' ;;
  dumpe2fs)
    # A filesystem that fills the volume: nothing to grow.
    printf 'Block count:              16384\nBlock size:               4096\n' ;;
  blockdev) echo 67108864 ;;
  *) ;;
esac
