#!/usr/bin/env bash
# What the probe's tests need from the machine, installed idempotently (called by .ci/run as root):
#   - PostgreSQL 15 server binaries (initdb, pg_ctl, postgres, pg_basebackup) for the real-database tests;
#   - promtool (Debian package prometheus) to test the shipped alert rules;
#   - util-linux (mount, losetup, runuser, setpriv), e2fsprogs (mkfs.ext4) and fuse2fs (a real FUSE
#     filesystem) for real filesystems.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../../../test/infra/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../test/infra/apt.sh"

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v losetup >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1 ||
  need+=(util-linux)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v fuse2fs >/dev/null 2>&1 || need+=(fuse2fs)
command -v df >/dev/null 2>&1 && command -v stat >/dev/null 2>&1 || need+=(coreutils)

# policy-rc.d (apt_install_missing) keeps package scripts from starting services (postgresql, prometheus).
apt_install_missing "probe test deps" "${need[@]}"
