#!/usr/bin/env bash
# Install the Debian packages that the tests run for real, if any is missing.
# Usage: scripts/system-packages.sh [command=package ...] [command=package@suite:min-version ...]
# `package@suite:min-version`: a package this release has too old, taken from that Debian suite
# (its .deb only: the machine's sources stay as they are) unless min-version is installed.
set -euo pipefail
missing=()
newer=()
for pair in "$@"; do
  cmd="${pair%%=*}"
  spec="${pair#*=}"
  if [[ "$spec" == *@* ]]; then
    pkg="${spec%%@*}"
    min="${spec##*:}"
    have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
    if [[ -z "$have" ]] || ! dpkg --compare-versions "$have" ge "$min"; then newer+=("$spec"); fi
    continue
  fi
  command -v "$cmd" >/dev/null 2>&1 || [[ -x "/usr/sbin/$cmd" ]] || missing+=("$spec")
done
((${#missing[@]} + ${#newer[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "error: missing Debian packages (${missing[*]} ${newer[*]}); install them as root" >&2
    exit 1
  fi
else
  SUDO=""
fi
if ((${#missing[@]})); then
  echo ">> installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for spec in "${newer[@]}"; do
  pkg="${spec%%@*}"
  suite="${spec#*@}"
  suite="${suite%%:*}"
  echo ">> installing Debian package ${pkg} from ${suite} (this release's is too old)"
  apt_dir=$(mktemp -d)
  chmod 0755 "$apt_dir"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${suite} main" >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o Dir::Etc::SourceParts=/dev/null -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
  $SUDO apt-get -qq "${apt_opts[@]}" update
  (cd "$apt_dir" && $SUDO apt-get -qq "${apt_opts[@]}" download "$pkg")
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$apt_dir"/"$pkg"_*.deb >/dev/null
  $SUDO rm -rf "$apt_dir"
done
