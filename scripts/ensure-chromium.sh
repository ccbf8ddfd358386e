#!/usr/bin/env bash
# Browser tests drive Debian's chromium (never a downloaded browser build).
# Installs it when missing and we may (root); otherwise says why browser tests will skip.
set -eu
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is not installed and this user cannot install it: browser tests will skip" >&2
fi
