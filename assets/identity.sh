#!/bin/bash
# The instance's identity: users' /home volume and the Elastic IP, taken over at boot.
#
#   identity.sh take       attach the /home volume and associate the address with this instance.
#                          If the volume is attached to another instance of the same stack (the
#                          one this instance replaces), stop that instance, wait, detach the
#                          volume, attach it here (and wait until it is in use), then take the
#                          address. Idempotent: with both in place it makes no AWS call at all.
#   identity.sh handback [UNIT...]
#                          undo a takeover of this run after a failed provisioning: stop UNITs
#                          (the services that use /home), unmount /home, detach the volume,
#                          attach it and the address to the old instance again and start it if
#                          this script stopped it. CloudFormation's rollback then deletes this
#                          instance, and the old workbench serves as before.
#   identity.sh settle     the provisioning succeeded: the takeover is final (no handback).
#
# Why here and not in the template: CloudFormation replaces an instance by creating the new one,
# and its volume attachment, before it deletes the old ones, and EC2 refuses to attach a volume
# another instance holds (VolumeInUse). provision.sh runs this as its `identity` step, before
# `home` mounts the volume and before anyone can log in.
#
# Inputs (environment, from /etc/workbench/env): WORKBENCH_STACK, WORKBENCH_HOME_VOLUME_ID,
# WORKBENCH_HOME_DEVICE, WORKBENCH_ADDRESS_ID, WORKBENCH_PUBLIC_IP. The instance's ID, zone and
# region come from the instance metadata service (IMDSv2, WORKBENCH_IMDS to point elsewhere).
# State lives in STATE_DIR, which provision.sh passes (its own, from assets/layout.j2; under
# WORKBENCH_SYSROOT in its test sandbox); what a `take` changed is appended, one line each, to
# IDENTITY_CHANGES when it is set.
set -euo pipefail

SYSROOT=${WORKBENCH_SYSROOT:-}
STATE_DIR=${STATE_DIR:?identity.sh: STATE_DIR is not set (provision.sh passes its own)}
TAKEOVER="$STATE_DIR/takeover"
HANDED_BACK="$STATE_DIR/handed-back"
HOME_ROOT=${HOME_ROOT:-$SYSROOT/home}
IMDS=${WORKBENCH_IMDS:-http://169.254.169.254}
STACK=${WORKBENCH_STACK:-}
VOLUME_ID=${WORKBENCH_HOME_VOLUME_ID:-}
DEVICE=${WORKBENCH_HOME_DEVICE:-}
ADDRESS_ID=${WORKBENCH_ADDRESS_ID:-}
PUBLIC_IP=${WORKBENCH_PUBLIC_IP:-}
STACK_TAG=aws:cloudformation:stack-name
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() {
  local stamp
  # date -Is's format (2026-01-01T00:00:00+00:00) from bash's own printf: no process per line.
  printf -v stamp '%(%Y-%m-%dT%H:%M:%S%z)T' -1
  stamp="${stamp:0:22}:${stamp:22}"
  echo "${stamp} [identity] $*"
}
die() {
  echo "$(date -Is) [identity] error: $*" >&2
  exit 1
}
changed() { if [[ -n "${IDENTITY_CHANGES:-}" ]]; then echo "$*" >>"$IDENTITY_CHANGES"; fi; }

# --- the instance metadata service (IMDSv2: a session token first) ------------------------------
# Called in the main shell before any `$(metadata ...)`, which runs in a subshell.
TOKEN=""
metadata_token() {
  TOKEN=$(curl -fsS --max-time 5 --retry 3 -H "X-aws-ec2-metadata-token-ttl-seconds: 300" \
    -X PUT "$IMDS/latest/api/token")
}
metadata() {
  curl -fsS --max-time 5 --retry 3 -H "X-aws-ec2-metadata-token: $TOKEN" \
    "$IMDS/latest/meta-data/$1"
}

ec2() { aws ec2 --region "$REGION" "$@"; }
# field VALUE: "None" (the CLI's text for null) as empty.
field() { if [[ "$1" == None ]]; then echo ""; else echo "$1"; fi; }

require_inputs() {
  [[ -n "$STACK" && -n "$VOLUME_ID" && -n "$DEVICE" && -n "$ADDRESS_ID" ]] ||
    die "WORKBENCH_STACK, WORKBENCH_HOME_VOLUME_ID, WORKBENCH_HOME_DEVICE and" \
      "WORKBENCH_ADDRESS_ID must be set (see /etc/workbench/env)"
}

identify() {
  [[ -n "$TOKEN" ]] || metadata_token
  ME=$(metadata instance-id)
  REGION=$(metadata placement/region)
  ZONE=$(metadata placement/availability-zone)
}

# volume: "STATE ATTACHED-TO ATTACHMENT-STATE ZONE" of the /home volume.
volume() {
  ec2 describe-volumes --volume-ids "$VOLUME_ID" --output text --query \
    'Volumes[0].[State, Attachments[0].InstanceId, Attachments[0].State, AvailabilityZone]'
}

# instance ID: "STATE STACK" of an instance (STACK: its aws:cloudformation:stack-name tag).
instance() {
  ec2 describe-instances --instance-ids "$1" --output text --query \
    "Reservations[0].Instances[0].[State.Name, Tags[?Key=='${STACK_TAG}']|[0].Value]"
}

record() { echo "$1=$2" >>"$TAKEOVER"; }
recorded() { grep "^$1=" "$TAKEOVER" 2>/dev/null | tail -n 1 | cut -d= -f2- || true; }

# --- take ---------------------------------------------------------------------------------------

# The volume's device shows on this machine only when it is attached here, and the metadata's
# public address is the Elastic IP only when it is associated here: nothing to ask EC2.
in_place() {
  [[ -n "$PUBLIC_IP" ]] || return 1
  bash "$HERE/home-volume.sh" device >/dev/null 2>&1 || return 1
  metadata_token
  [[ "$(metadata public-ipv4 2>/dev/null || true)" == "$PUBLIC_IP" ]]
}

# free_volume_from OLD STATE: stop OLD (if it runs), wait, detach the volume from it. Each fact
# is recorded before the call it concerns, so a handback after any failure knows what to undo.
free_volume_from() {
  local old="$1" old_state="$2"
  case "$old_state" in
    shutting-down | terminated) ;;
    *) record old_instance "$old" ;;
  esac
  case "$old_state" in
    pending | running)
      record old_was running
      log "the volume is attached to ${old}, the instance this one replaces: stopping it"
      ec2 stop-instances --instance-ids "$old" >/dev/null
      ec2 wait instance-stopped --instance-ids "$old"
      log "${old} stopped"
      changed "stopped ${old}"
      ;;
    stopping)
      record old_was running
      ec2 wait instance-stopped --instance-ids "$old"
      ;;
    stopped) record old_was stopped ;;
    *) ;; # shutting-down, terminated: EC2 frees the volume itself
  esac
  if [[ "$old_state" != shutting-down && "$old_state" != terminated ]]; then
    ec2 detach-volume --volume-id "$VOLUME_ID" --instance-id "$old" >/dev/null
    changed "detached ${VOLUME_ID} from ${old}"
  fi
  ec2 wait volume-available --volume-ids "$VOLUME_ID"
}

take_volume() {
  local line state holder attachment zone old_state old_stack
  line=$(volume)
  read -r state holder attachment zone <<<"$line"
  holder=$(field "$holder")
  [[ "$zone" == "$ZONE" ]] ||
    die "the /home volume ${VOLUME_ID} is in ${zone}, this instance in ${ZONE}: EBS volumes" \
      "attach only within their zone (restore /home from a snapshot in the new zone)"
  if [[ "$holder" == "$ME" ]]; then
    log "${VOLUME_ID} is attached here (${attachment})"
  else
    if [[ -n "$holder" ]]; then
      line=$(instance "$holder")
      read -r old_state old_stack <<<"$line"
      [[ "$(field "$old_stack")" == "$STACK" ]] ||
        die "${VOLUME_ID} is attached to ${holder}, which is not an instance of stack" \
          "${STACK}; not taking it"
      free_volume_from "$holder" "$old_state"
    elif [[ "$state" != available ]]; then
      ec2 wait volume-available --volume-ids "$VOLUME_ID"
    fi
    record volume attached
    ec2 attach-volume --volume-id "$VOLUME_ID" --instance-id "$ME" --device "$DEVICE" >/dev/null
    ec2 wait volume-in-use --volume-ids "$VOLUME_ID"
    log "attached ${VOLUME_ID} here as ${DEVICE}"
    changed "attached ${VOLUME_ID}"
  fi
}

take_address() {
  local holder
  holder=$(field "$(ec2 describe-addresses --allocation-ids "$ADDRESS_ID" --output text \
    --query 'Addresses[0].InstanceId')")
  if [[ "$holder" == "$ME" ]]; then
    log "${PUBLIC_IP:-the address} (${ADDRESS_ID}) is associated here"
    return 0
  fi
  record address_from "${holder:-none}"
  ec2 associate-address --allocation-id "$ADDRESS_ID" --instance-id "$ME" \
    --allow-reassociation >/dev/null
  log "associated ${PUBLIC_IP:-the address} (${ADDRESS_ID}) here${holder:+, from ${holder}}"
  changed "associated ${ADDRESS_ID}"
}

cmd_take() {
  require_inputs
  mkdir -p "$STATE_DIR"
  # A record is this run's: an earlier run's takeover is final (settled) or was handed back.
  rm -f "$TAKEOVER"
  if [[ -e "$HANDED_BACK" ]]; then
    die "this instance handed /home and the address back after a failed provisioning" \
      "($(cat "$HANDED_BACK")); not taking them over again. Remove ${HANDED_BACK#"$SYSROOT"}" \
      "to force it"
  fi
  if in_place; then
    log "the /home volume and ${PUBLIC_IP} are this instance's"
    return 0
  fi
  identify
  log "this is ${ME} in ${ZONE}; stack ${STACK}"
  take_volume
  take_address
}

# --- handback -------------------------------------------------------------------------------------

release_home() {
  local unit
  for unit in "$@"; do
    if systemctl is-active --quiet "$unit"; then
      log "stopping ${unit}, which uses ${HOME_ROOT#"$SYSROOT"}"
      systemctl stop "$unit" || true
    fi
  done
  if mountpoint -q "$HOME_ROOT"; then
    sync
    if ! umount "$HOME_ROOT"; then
      log "${HOME_ROOT#"$SYSROOT"} is busy: ending the processes that hold it"
      fuser -km "$HOME_ROOT" || true
      umount "$HOME_ROOT"
    fi
    log "unmounted ${HOME_ROOT#"$SYSROOT"}"
  fi
}

cmd_handback() {
  local old old_was address_from line state holder
  if [[ ! -s "$TAKEOVER" ]]; then
    log "nothing was taken over in this run: nothing to hand back"
    return 0
  fi
  require_inputs
  old=$(recorded old_instance)
  old_was=$(recorded old_was)
  address_from=$(recorded address_from)
  if [[ -z "$old" ]]; then
    # A first deploy (the rollback deletes this instance, which frees the volume), or an attach
    # that failed on a running workbench: there is no one to hand back to, and /home stays.
    log "no other instance took part: nothing to hand back"
    rm -f "$TAKEOVER"
    return 0
  fi
  identify
  log "provisioning failed after the takeover: handing /home and the address back to ${old}"
  release_home "$@"
  line=$(volume)
  read -r state holder _ <<<"$line"
  holder=$(field "$holder")
  if [[ "$holder" == "$ME" ]]; then
    ec2 detach-volume --volume-id "$VOLUME_ID" --instance-id "$ME" >/dev/null
    ec2 wait volume-available --volume-ids "$VOLUME_ID"
    log "detached ${VOLUME_ID}"
    state=available
  elif [[ "$state" != available ]]; then
    log "${VOLUME_ID} is ${state}${holder:+ on ${holder}}; leaving it"
  fi
  if [[ "$state" == available ]]; then
    # A stopped instance accepts the volume, so it boots with /home in place, whatever its own
    # provisioning (an instance of an older version of this stack) knows.
    ec2 attach-volume --volume-id "$VOLUME_ID" --instance-id "$old" --device "$DEVICE" >/dev/null
    ec2 wait volume-in-use --volume-ids "$VOLUME_ID"
    log "attached ${VOLUME_ID} to ${old} again"
  fi
  if [[ "$address_from" == "$old" ]]; then
    ec2 associate-address --allocation-id "$ADDRESS_ID" --instance-id "$old" \
      --allow-reassociation >/dev/null
    log "associated ${ADDRESS_ID} with ${old} again"
  fi
  if [[ "$old_was" == running ]]; then
    ec2 start-instances --instance-ids "$old" >/dev/null
    log "started ${old}: the old workbench serves again once it has booted"
  fi
  date -Is >"$HANDED_BACK"
  rm -f "$TAKEOVER"
}

cmd_settle() { rm -f "$TAKEOVER"; }

case "${1:-}" in
  take) cmd_take ;;
  handback) cmd_handback "${@:2}" ;;
  settle) cmd_settle ;;
  *)
    echo "usage: $0 take | handback [UNIT...] | settle" >&2
    exit 2
    ;;
esac
