#!/bin/sh
# Installs the Debian packages weft needs to build, test and run its tool,
# when some are missing. As root it runs apt-get; otherwise it prints the one
# line to run. Usage: scripts/deps.sh [extra-package...]
set -eu
pkgs="build-essential cmake pkg-config clang clang-format libcurl4-openssl-dev libxml2-dev
libmicrohttpd-dev libsqlite3-dev libhiredis-dev redis-server zlib1g-dev $*"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "weft: missing packages:$missing" >&2
    echo "weft: run: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "weft: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
