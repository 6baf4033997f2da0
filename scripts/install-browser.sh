#!/usr/bin/env bash
# Install Debian's Chromium for the Playwright browser tests (tests/browser/).
# Playwright's Python package comes from pip (the test extra); it drives /usr/bin/chromium,
# so no browser download from Playwright's CDN is needed. Idempotent; needs root (or sudo).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
