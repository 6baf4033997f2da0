#!/usr/bin/env bash
# Install what pip needs to build Meta's vpdq (PyPI 0.2.5 is an sdist: C++ over FFmpeg),
# which the test extra holds to check hashes.hash_video against it. hashbank itself needs
# none of this (PyAV's wheel carries FFmpeg). Also strace: tests/hashes/test_no_disk_writes.py
# watches FFmpeg's own file calls with it. Idempotent; needs root (or sudo).
set -euo pipefail
PACKAGES="strace cmake pkg-config ffmpeg libavcodec-dev libavformat-dev libavdevice-dev libavutil-dev
libswscale-dev libswresample-dev libavfilter-dev python3-dev g++"
missing=0
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing=1
done
[ "$missing" -eq 1 ] || exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null
