#!/usr/bin/env bash
# Bundles the dashboard's third-party browser assets into the package, so the dashboard
# works with no internet and no CDN. Third-party code is never committed: it is installed
# from npm at the versions pinned in web/package-lock.json and copied into the git-ignored
# src/chargegrid/web/static/vendor/.
set -euo pipefail
cd "$(dirname "$0")/.."

WEB=web
VENDOR=src/chargegrid/web/static/vendor

if ! command -v npm >/dev/null 2>&1; then
  echo "build-assets: npm is not installed; the dashboard will show a 'run scripts/build-assets.sh' page" >&2
  # Under CI a missing asset is a failure, not a degraded dashboard.
  case "${CI:-}" in 1|true|yes) exit 1 ;; esac
  exit 0
fi

# npm ci installs exactly the lockfile; --ignore-scripts because we only copy files.
npm ci --prefix "$WEB" --no-audit --no-fund --ignore-scripts --loglevel=error

mkdir -p "$VENDOR"
UPLOT="$WEB/node_modules/uplot"
cp "$UPLOT/dist/uPlot.esm.js" "$VENDOR/uPlot.esm.js"
cp "$UPLOT/dist/uPlot.min.css" "$VENDOR/uPlot.min.css"
cp "$UPLOT/LICENSE" "$VENDOR/uPlot.LICENSE"
echo "build-assets: uPlot $(node -p "require('./$UPLOT/package.json').version") -> $VENDOR" >&2

# Swagger UI for /api/v1/docs (api/docs_page.py): the API's interactive docs from the
# server itself, not a CDN (blank without internet otherwise).
SWAGGER="$WEB/node_modules/swagger-ui-dist"
mkdir -p "$VENDOR/swagger-ui"
for f in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE; do
  cp "$SWAGGER/$f" "$VENDOR/swagger-ui/$f"
done
echo "build-assets: swagger-ui-dist $(node -p "require('./$SWAGGER/package.json').version") -> $VENDOR/swagger-ui" >&2
