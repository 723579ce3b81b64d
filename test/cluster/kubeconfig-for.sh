#!/usr/bin/env bash
# Mint a client certificate of the running end-to-end cluster for USER (and
# optional groups), write $STATE/users/USER.kubeconfig and print its path.
# The e2e suite uses it to run the CLI as its own identity, so the API audit
# log can be filtered by user, and to test RBAC denials with a user that has
# only the permissions a test grants it.
#
#   kubeconfig-for.sh USER [GROUP ...]
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
need_root

user=${1:?usage: kubeconfig-for.sh USER [GROUP ...]}
shift
[[ "$user" =~ ^[a-z0-9][a-z0-9.:-]*$ ]] || die "user must be lowercase letters, digits, '.', ':' or '-'"
[ -f "$PKI/ca.key" ] || die "the cluster is not up ($PKI/ca.key missing)"
subj=""
for g in "$@"; do subj+="/O=$g"; done
subj+="/CN=$user"
dir=$STATE/users
mkdir -p "$dir"
chmod 700 "$dir"
openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$user.key" 2>/dev/null
openssl req -new -key "$dir/$user.key" -subj "$subj" -out "$dir/$user.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$dir/$user.ext"
openssl x509 -req -in "$dir/$user.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
  -days 30 -extfile "$dir/$user.ext" -out "$dir/$user.crt" 2>/dev/null
write_kubeconfig "$dir/$user.kubeconfig" "$user" "$user" "$dir/$user"
rm -f "$dir/$user.csr" "$dir/$user.ext"
printf '%s\n' "$dir/$user.kubeconfig"
