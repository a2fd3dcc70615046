# The citytwin API image: the locked environment, no build tools at run time.

# The web map's MapLibre GL JS, from npm exactly as web/package-lock.json says (scripts/setup.sh
# does the same on a development machine); the folder is git-ignored, so it is built here.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund \
    && mkdir vendor \
    && cp node_modules/maplibre-gl/dist/maplibre-gl.js node_modules/maplibre-gl/dist/maplibre-gl.css \
          node_modules/maplibre-gl/LICENSE.txt vendor/

FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY citytwin ./citytwin
COPY --from=web /web/vendor ./citytwin/api/static/vendor
RUN uv sync --locked --no-dev --no-editable --extra s3

FROM python:3.11-slim
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY sensors ./sensors
COPY gis_data ./gis_data
ENV PATH="/app/.venv/bin:$PATH" \
    CITYTWIN_FEEDS_DIR=/app/sensors \
    CITYTWIN_GIS_DIR=/app/gis_data
# A named volume takes this folder's owner on first mount, so the API (nobody) can write layers.
RUN mkdir -p /var/lib/citytwin/layers && chown nobody /var/lib/citytwin/layers
EXPOSE 8000
USER nobody
CMD ["citytwin", "serve", "--host", "0.0.0.0", "--port", "8000"]
