#!/usr/bin/env bash
# One-time, re-runnable set-up: PostgreSQL + PostGIS and GDAL's tools from Debian's packages,
# the Python environment exactly as uv.lock says, and the web map's MapLibre GL JS from npm
# (web/package-lock.json) copied into the package. `--browser` also installs Debian's Chromium,
# which the browser tests drive; `--bench` installs wrk for the tile throughput benchmark.
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

# Mosquitto is the MQTT broker the stream tests start on a free port (`citytwin listen`).
# Debian's service is not started: the tests run their own broker with a temporary config.
if [ ! -x /usr/sbin/mosquitto ]; then
  echo "setup: installing Mosquitto from Debian's packages"
  apt_install mosquitto mosquitto-clients
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
fi

if [ ! -x "$TOOLS/bin/uv" ]; then
  echo "setup: installing uv ${UV_VERSION} into ${TOOLS}"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "uv==${UV_VERSION}"
fi

# --locked: the environment is exactly uv.lock; a pyproject change without a new lock is an error.
"$TOOLS/bin/uv" sync --locked --quiet

if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing Node.js and npm from Debian's packages"
  apt_install nodejs npm
fi
VENDOR=citytwin/api/static/vendor
if [ ! -f "$VENDOR/maplibre-gl.js" ] || [ web/package-lock.json -nt "$VENDOR/maplibre-gl.js" ]; then
  echo "setup: bundling MapLibre GL JS from npm into ${VENDOR}"
  npm ci --prefix web --no-audit --no-fund --silent
  mkdir -p "$VENDOR"
  cp web/node_modules/maplibre-gl/dist/maplibre-gl.js web/node_modules/maplibre-gl/dist/maplibre-gl.css \
    web/node_modules/maplibre-gl/LICENSE.txt "$VENDOR/"
fi

for flag in "$@"; do
  case "$flag" in
    --browser) WANT_BROWSER=1 ;;
    --bench) WANT_BENCH=1 ;;
  esac
done
if [ -n "${WANT_BENCH:-}" ] && ! command -v wrk >/dev/null 2>&1; then
  echo "setup: installing wrk from Debian's packages (tile throughput benchmark)"
  apt_install wrk
fi
if [ -n "${WANT_BROWSER:-}" ] && ! [ -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium from Debian's packages (browser tests)"
  apt_install chromium
fi
