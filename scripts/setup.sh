#!/usr/bin/env bash
# One-time, re-runnable set-up: PostgreSQL + PostGIS and GDAL's tools from Debian's packages,
# and the Python environment exactly as uv.lock says.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
TOOLS=.citytwin/tools
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=""

apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_postgis() {
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 &&
    ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1
}

if ! have_postgis; then
  echo "setup: installing PostgreSQL + PostGIS from Debian's packages"
  apt_install postgresql-common
  # Keep Debian from creating and starting its own cluster: citytwin runs a project-local one.
  $SUDO sed -i 's/^#\?create_main_cluster.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
  apt_install postgresql
  major=$(ls /usr/lib/postgresql | sort -n | tail -1)
  apt_install "postgresql-${major}-postgis-3"
fi

# GDAL's ogrinfo/ogr2ogr are real OGC API clients that the tests drive.
if ! command -v ogrinfo >/dev/null 2>&1; then
  echo "setup: installing GDAL command-line tools from Debian's packages"
  apt_install gdal-bin
fi

if [ ! -x "$TOOLS/bin/uv" ]; then
  echo "setup: installing uv ${UV_VERSION} into ${TOOLS}"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "uv==${UV_VERSION}"
fi

# --locked: the environment is exactly uv.lock; a pyproject change without a new lock is an error.
"$TOOLS/bin/uv" sync --locked --quiet
