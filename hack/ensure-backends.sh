#!/usr/bin/env bash
# Makes sure the backend server binaries the tests and `make dev` start are
# installed: installs the Debian packages when missing (as root), or fails with
# a message that names them.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1 || missing+=(postgresql)
id postgres >/dev/null 2>&1 || missing+=(postgresql)
{ [[ -x /usr/sbin/mariadbd ]] || command -v mariadbd >/dev/null 2>&1; } || missing+=(mariadb-server)
command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server)
id mysql >/dev/null 2>&1 || missing+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)

if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo ">> installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  exit 0
fi
echo "missing backend servers: install the Debian packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
exit 1
