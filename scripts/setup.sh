#!/usr/bin/env bash
# One-time, re-runnable set-up: PostgreSQL + PostGIS from Debian's packages and the locked Python env.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
TOOLS=.citytwin/tools

have_postgis() {
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 &&
    ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1
}

if ! have_postgis; then
  echo "setup: installing PostgreSQL + PostGIS from Debian's packages"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
  # Keep Debian from creating and starting its own cluster: citytwin runs a project-local one.
  $SUDO sed -i 's/^#\?create_main_cluster.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  major=$(ls /usr/lib/postgresql | sort -n | tail -1)
  $SUDO apt-get install -y -qq --no-install-recommends "postgresql-${major}-postgis-3" >/dev/null
fi

if [ ! -x "$TOOLS/bin/uv" ]; then
  echo "setup: installing uv ${UV_VERSION} into ${TOOLS}"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "uv==${UV_VERSION}"
fi

# --locked: the environment is exactly uv.lock; a pyproject change without a new lock is an error.
"$TOOLS/bin/uv" sync --locked --quiet
