#!/usr/bin/env bash
# What the probe's tests need from the machine, installed idempotently (called by .ci/run as root):
#   - PostgreSQL 15 server binaries (initdb, pg_ctl, postgres, pg_basebackup) for the real-database tests;
#   - promtool (Debian package prometheus) to test the shipped alert rules;
#   - util-linux (mount, losetup, runuser, setpriv), e2fsprogs (mkfs.ext4) and fuse2fs (a real FUSE
#     filesystem) for real filesystems.
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v losetup >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1 ||
  need+=(util-linux)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v fuse2fs >/dev/null 2>&1 || need+=(fuse2fs)
command -v df >/dev/null 2>&1 && command -v stat >/dev/null 2>&1 || need+=(coreutils)

if [ "${#need[@]}" -eq 0 ]; then
  echo "probe test deps: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "probe test deps: missing ${need[*]}; run this script as root" >&2
  exit 1
fi

echo "probe test deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps package scripts from starting services (postgresql, prometheus) on the machine.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "probe test deps: done"
