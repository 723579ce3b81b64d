# shellcheck shell=bash
# Debian package installation shared by the install-deps.sh scripts
# (test/infra, test/release, packages/probe/test); sourced, not run.

# apt_not_installed PACKAGE...: prints, one a line, the PACKAGEs dpkg does not
# list as installed.
apt_not_installed() {
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      printf '%s\n' "$p"
    fi
  done
}

# apt_ensure LABEL PACKAGE...: installs those of the PACKAGEs that dpkg does
# not list as installed (apt_install_missing), or says that all are present.
apt_ensure() {
  local label=$1 missing
  shift
  mapfile -t missing < <(apt_not_installed "$@")
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "$label: all present ($*)"
    return 0
  fi
  apt_install_missing "$label" "${missing[@]}"
}

# apt_install_missing LABEL PACKAGE...: installs the PACKAGEs a script found
# missing, saying so on its LABEL. None: says that all is present. Not root:
# says what is missing and fails. While it installs, a policy-rc.d (unless
# there is one) keeps package scripts from starting services on the machine;
# it sets, then clears, the EXIT trap to remove it on an interruption.
apt_install_missing() {
  local label=$1
  shift
  if [ "$#" -eq 0 ]; then
    echo "$label: all present"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "$label: missing $*; run as root" >&2
    return 1
  fi
  echo "$label: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "$@" || rc=$?
  if [ "$own_policy" -eq 1 ]; then
    rm -f "$policy"
    trap - EXIT
  fi
  [ "$rc" -ne 0 ] || echo "$label: done"
  return "$rc"
}
