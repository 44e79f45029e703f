#!/bin/bash
# Put /home on the workbench's own EBS volume, so users' files outlive the instance.
#
#   home-volume.sh mount    wait for the volume's device, give it a filesystem only if it is
#                           blank, copy the current /home onto it on first use, mount it by UUID
#                           through fstab (nofail), grow the filesystem to the volume's size.
#                           Idempotent.
#   home-volume.sh device   print the volume's device (exit 1 if it is not attached)
#
# provision.sh runs `mount` before it creates the workbench user, right after its identity step
# (identity.sh) has attached the volume to this instance. A device appears a few seconds after
# EC2 reports the attachment, so `mount` waits for it, up to DEVICE_WAIT_SECONDS, and fails if it
# never appears: /home is never left on the root volume where users would start working. After
# that the attachment stays through reboots and stop/start, and fstab mounts /home at boot.
#
# A filesystem is created only when blkid finds no signature at all on the device. Anything
# else (a filesystem with data, a partition table, swap) is never formatted.
#
# Inputs (environment): WORKBENCH_HOME_VOLUME_ID (vol-...), WORKBENCH_HOME_DEVICE (the
# attachment's device name, e.g. /dev/sdf). The paths below default to the real system, under
# WORKBENCH_SYSROOT when provision.sh runs in its test sandbox; tests point them at a temporary
# root so that they run these functions on a loop device.
set -euo pipefail

SYSROOT=${WORKBENCH_SYSROOT:-}
HOME_ROOT=${HOME_ROOT:-$SYSROOT/home}
FSTAB=${FSTAB:-$SYSROOT/etc/fstab}
BY_ID_DIR=${BY_ID_DIR:-$SYSROOT/dev/disk/by-id}
SYS_BLOCK=${SYS_BLOCK:-$SYSROOT/sys/block}
DEV_DIR=${DEV_DIR:-$SYSROOT/dev}
LOCK_FILE=${LOCK_FILE:-$SYSROOT/run/lock/workbench-home.lock}
# EC2 attaches a volume within seconds of the request; CloudFormation requests it once the
# instance runs, about when provisioning starts. Five minutes is ample.
DEVICE_WAIT_SECONDS=${DEVICE_WAIT_SECONDS:-300}
DEVICE_POLL_SECONDS=${DEVICE_POLL_SECONDS:-2}
VOLUME_ID=${WORKBENCH_HOME_VOLUME_ID:-}
ATTACH_DEVICE=${WORKBENCH_HOME_DEVICE:-}

LABEL=workbench-home
# Written on the volume once the original /home has been copied onto it: a volume with our label
# but no marker was formatted by a run that stopped before the copy finished.
MARKER=.workbench-home

log() {
  local stamp
  # date -Is's format (2026-01-01T00:00:00+00:00) from bash's own printf: no process per line.
  printf -v stamp '%(%Y-%m-%dT%H:%M:%S%z)T' -1
  stamp="${stamp:0:22}:${stamp:22}"
  echo "${stamp} [home] $*"
}
die() {
  echo "$(date -Is) [home] error: $*" >&2
  exit 1
}

# --- finding the device ---------------------------------------------------------------------

# Nitro instances expose EBS volumes as NVMe devices whose serial is the volume ID without its
# dash; udev links them as /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_<serial>.
nvme_serial() { echo "${VOLUME_ID//-/}"; }

# Xen instances keep the attachment's name, with /dev/sdX renamed to /dev/xvdX.
xen_name() {
  local base=${1##*/}
  [[ "$base" == sd* ]] && echo "${1%/*}/xvd${base#sd}"
  return 0
}

resolve_device() {
  local serial path disk candidate xen candidates
  if [[ -n "$VOLUME_ID" ]]; then
    serial=$(nvme_serial)
    path="$BY_ID_DIR/nvme-Amazon_Elastic_Block_Store_${serial}"
    if [[ -e "$path" ]]; then
      readlink -f "$path"
      return 0
    fi
    # Without the udev link, the controller's serial in sysfs says the same.
    for disk in "$SYS_BLOCK"/nvme*n*; do
      [[ -r "$disk/device/serial" ]] || continue
      if [[ "$(tr -d '[:space:]' <"$disk/device/serial")" == "$serial" ]]; then
        readlink -f "$DEV_DIR/${disk##*/}"
        return 0
      fi
    done
  fi
  if [[ -n "$ATTACH_DEVICE" ]]; then
    candidates=("$ATTACH_DEVICE")
    xen=$(xen_name "$ATTACH_DEVICE")
    [[ -n "$xen" ]] && candidates+=("$xen")
    for candidate in "${candidates[@]}"; do
      if [[ -b "$candidate" ]]; then
        readlink -f "$candidate"
        return 0
      fi
    done
  fi
  return 1
}

# --- what is on the device --------------------------------------------------------------------

# blkid -p reads the device itself (no cache). Exit 2 means it found no signature of any kind.
is_blank() {
  local rc=0
  blkid -p "$1" >/dev/null 2>&1 || rc=$?
  case "$rc" in
    0) return 1 ;;
    2) return 0 ;;
    *) die "blkid could not read $1 (exit $rc); not touching it" ;;
  esac
}

probe() { blkid -p -o value -s "$2" "$1" 2>/dev/null || true; }

format_blank() {
  local dev="$1"
  # Re-checked right before mkfs, and mkfs reads no answer from stdin: it never overwrites.
  is_blank "$dev" || die "$dev is not blank; refusing to format it"
  log "$dev is blank: creating an ext4 filesystem labelled $LABEL"
  mkfs.ext4 -q -L "$LABEL" "$dev" </dev/null
}

check_usable() {
  local dev="$1" usage
  [[ -b "$dev" ]] || die "$dev is not a block device"
  usage=$(probe "$dev" USAGE)
  if [[ "$usage" != filesystem ]]; then
    die "$dev holds $(blkid -p -o export "$dev" 2>/dev/null | grep -E '^(PTTYPE|TYPE)=' \
      | tr '\n' ' ')but no filesystem to mount; refusing to format or mount it"
  fi
}

check_not_in_use() {
  local dev="$1" target
  while read -r target; do
    [[ -z "$target" || "$target" == "$HOME_ROOT" ]] && continue
    die "$dev (or a partition of it) is mounted at $target; refusing to use it for $HOME_ROOT"
  done < <(lsblk -nro MOUNTPOINT "$dev" 2>/dev/null)
}

mounted_source() { findmnt -n -o SOURCE --mountpoint "$HOME_ROOT" 2>/dev/null || true; }

# --- putting /home on it -----------------------------------------------------------------------

# Mounts this script makes for a moment; unmounted on the way out, also after a failure.
STAGE=""
VIEW=""
cleanup() {
  local dir
  for dir in "$STAGE" "$VIEW"; do
    [[ -n "$dir" ]] || continue
    if mountpoint -q "$dir"; then umount "$dir" || umount -l "$dir" || true; fi
    rmdir "$dir" 2>/dev/null || true
  done
}
trap cleanup EXIT

with_volume_at() {
  # Run "$@" with the volume mounted on a private staging directory, $STAGE.
  local dev="$1"
  shift
  STAGE=$(mktemp -d "${TMPDIR:-/tmp}/workbench-home.XXXXXX")
  mount "$dev" "$STAGE"
  "$@"
  sync
  umount "$STAGE"
  rmdir "$STAGE"
  STAGE=""
}

copy_home() {
  local entry name
  if [[ "$(probe "$DEVICE" LABEL)" == "$LABEL" && ! -e "$STAGE/$MARKER" ]]; then
    # First use: move everything, preserving owners, modes, links, ACLs and xattrs.
    log "first use: copying $HOME_ROOT onto the volume"
    cp -a "$HOME_ROOT/." "$STAGE/"
    date -Is >"$STAGE/$MARKER"
    return 0
  fi
  # The volume already holds someone's /home (a re-run, a replacement instance, a restored
  # snapshot): its files win. Only home directories it lacks are added, e.g. for a user that
  # this instance created and the volume has never seen.
  for entry in "$HOME_ROOT"/* "$HOME_ROOT"/.[!.]* "$HOME_ROOT"/..?*; do
    [[ -e "$entry" || -L "$entry" ]] || continue
    name=${entry##*/}
    [[ "$name" == lost+found || "$name" == "$MARKER" ]] && continue
    if [[ ! -e "$STAGE/$name" && ! -L "$STAGE/$name" ]]; then
      log "adding $name, which the volume lacks"
      cp -a "$entry" "$STAGE/"
    fi
  done
}

ensure_fstab() {
  local uuid="$1" type="$2" line tmp
  line="UUID=$uuid $HOME_ROOT $type defaults,nofail 0 2"
  touch "$FSTAB"
  # Exactly one line for HOME_ROOT, and it is ours: a re-run changes nothing.
  if [[ "$(awk -v m="$HOME_ROOT" '$1 !~ /^#/ && $2 == m' "$FSTAB")" == "$line" ]]; then
    return 0
  fi
  [[ -e "$FSTAB.pre-workbench" ]] || cp -p "$FSTAB" "$FSTAB.pre-workbench"
  tmp=$(mktemp "$FSTAB.XXXXXX")
  awk -v m="$HOME_ROOT" '$1 ~ /^#/ || $2 != m' "$FSTAB" >"$tmp"
  echo "$line" >>"$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$FSTAB"
  log "$FSTAB: $line"
  if [[ "$FSTAB" == /etc/fstab && -d /run/systemd/system ]]; then
    systemctl daemon-reload # systemd generates its mount units from fstab
  fi
}

# The original /home stays on the root volume underneath the new mount. A non-recursive bind
# mount of the filesystem that holds it shows it again (without the mounts on top), so the
# copies that now live on the volume can be removed from the root volume.
clear_beneath() {
  local parent rel hidden
  parent=$(findmnt -n -o TARGET --target "$(dirname "$HOME_ROOT")")
  rel=${HOME_ROOT#"$parent"}
  rel=${rel#/}
  [[ -n "$rel" ]] || die "cannot locate $HOME_ROOT below $parent"
  VIEW=$(mktemp -d "${TMPDIR:-/tmp}/workbench-root.XXXXXX")
  mount --bind "$parent" "$VIEW"
  mount --make-private "$VIEW"
  hidden="$VIEW/$rel"
  if [[ -d "$hidden" ]] && ! mountpoint -q "$hidden"; then
    find "$hidden" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
    log "removed the original $HOME_ROOT from beneath the mount"
  fi
  umount "$VIEW"
  rmdir "$VIEW"
  VIEW=""
}

# Bytes the device offers beyond the ext filesystem on it (0 when the filesystem fills it).
spare_bytes() {
  local dev="$1" blocks size
  blocks=$(dumpe2fs -h "$dev" 2>/dev/null | awk -F: '/^Block count:/ {gsub(/ /, "", $2); print $2}')
  size=$(dumpe2fs -h "$dev" 2>/dev/null | awk -F: '/^Block size:/ {gsub(/ /, "", $2); print $2}')
  echo $(($(blockdev --getsize64 "$dev") - blocks * size))
}

# EBS volumes only grow: after `home_volume_gb` grew, or a restore into a volume larger than its
# snapshot, the filesystem follows. Not worth failing over: the data is there either way.
grow() {
  local dev="$1" type="$2" mounted="$3" out
  case "$type" in
    ext2 | ext3 | ext4) ;;
    *)
      log "not growing a $type filesystem"
      return 0
      ;;
  esac
  (($(spare_bytes "$dev") >= 1024 * 1024)) || return 0
  if [[ "$mounted" == no ]]; then
    # Offline, resize2fs wants a freshly checked filesystem; -p fixes only what is safe.
    out=$(e2fsck -f -p "$dev" 2>&1) || [[ $? -eq 1 ]] || {
      log "warning: e2fsck $dev needs a person ($out); not growing it"
      return 0
    }
  fi
  if out=$(resize2fs "$dev" 2>&1); then
    log "grew the filesystem on $dev to the volume's size"
  else
    log "warning: could not grow the filesystem on $dev: $(tr '\n' ' ' <<<"$out")"
  fi
}

# wait_for_device: print the device once it is attached; fail after DEVICE_WAIT_SECONDS.
# Counted in polls, not read from the clock, so the bound holds however long each look takes.
wait_for_device() {
  local polls waited=0 what
  what="volume ${VOLUME_ID:-?} (attachment ${ATTACH_DEVICE:-?})"
  [[ -n "$VOLUME_ID" || -n "$ATTACH_DEVICE" ]] ||
    die "neither WORKBENCH_HOME_VOLUME_ID nor WORKBENCH_HOME_DEVICE is set (see /etc/workbench/env)"
  [[ "$DEVICE_WAIT_SECONDS" =~ ^[0-9]+$ && "$DEVICE_POLL_SECONDS" =~ ^[1-9][0-9]*$ ]] ||
    die "DEVICE_WAIT_SECONDS and DEVICE_POLL_SECONDS must be whole seconds, got" \
      "'$DEVICE_WAIT_SECONDS' and '$DEVICE_POLL_SECONDS'"
  polls=$(((DEVICE_WAIT_SECONDS + DEVICE_POLL_SECONDS - 1) / DEVICE_POLL_SECONDS))
  until resolve_device; do
    if ((waited == 0)); then
      log "waiting up to ${DEVICE_WAIT_SECONDS} s for $what to be attached" >&2
    fi
    if ((polls == 0)); then
      die "$what did not appear within ${DEVICE_WAIT_SECONDS} s; not putting $HOME_ROOT on" \
        "the root volume. See the identity step in provision.log for the attachment"
    fi
    sleep "$DEVICE_POLL_SECONDS"
    polls=$((polls - 1))
    waited=$((waited + DEVICE_POLL_SECONDS))
  done
  if ((waited)); then log "$what appeared after about ${waited} s" >&2; fi
}

cmd_mount() {
  local source uuid type
  [[ -d "$HOME_ROOT" ]] || die "HOME_ROOT $HOME_ROOT is not a directory"
  HOME_ROOT=$(realpath -e "$HOME_ROOT")
  [[ "$HOME_ROOT" != / && "$HOME_ROOT" != *[[:space:]]* ]] ||
    die "HOME_ROOT must be a directory other than / without spaces, got '$HOME_ROOT'"
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  flock 9 # a run by hand while provisioning runs waits its turn

  DEVICE=$(wait_for_device)
  log "volume ${VOLUME_ID:-?} is $DEVICE"
  [[ -b "$DEVICE" ]] || die "$DEVICE is not a block device"
  check_not_in_use "$DEVICE"
  if is_blank "$DEVICE"; then
    format_blank "$DEVICE"
  fi
  check_usable "$DEVICE"
  uuid=$(probe "$DEVICE" UUID)
  type=$(probe "$DEVICE" TYPE)
  [[ -n "$uuid" ]] || die "$DEVICE has a $type filesystem without a UUID; cannot mount it by UUID"

  source=$(mounted_source)
  if [[ -n "$source" ]]; then
    if [[ "$(readlink -f "$source")" != "$DEVICE" ]]; then
      die "$HOME_ROOT is already a mount of $source, not of $DEVICE; leaving it alone"
    fi
    log "$HOME_ROOT is already on $DEVICE (UUID $uuid)"
    ensure_fstab "$uuid" "$type"
    grow "$DEVICE" "$type" yes
  else
    grow "$DEVICE" "$type" no
    with_volume_at "$DEVICE" copy_home
    ensure_fstab "$uuid" "$type"
    mount --fstab "$FSTAB" "$HOME_ROOT"
    log "mounted $DEVICE (UUID $uuid) at $HOME_ROOT"
    clear_beneath
  fi
}

cmd_device() {
  resolve_device || {
    echo "volume ${VOLUME_ID:-$ATTACH_DEVICE} is not attached" >&2
    return 1
  }
}

case "${1:-}" in
  mount) cmd_mount ;;
  device) cmd_device ;;
  *)
    echo "usage: $0 mount|device" >&2
    exit 2
    ;;
esac
