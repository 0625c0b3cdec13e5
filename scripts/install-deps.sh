#!/bin/sh
# Installs what building and testing hsm needs on Debian 12, and nothing
# when it is all there already.
set -eu

packages="meson ninja-build pkg-config gcc libc6-dev libssl-dev openssl \
libp11-kit-dev p11-kit p11-kit-modules softhsm2 opensc libcunit1-dev \
libclang-rt-14-dev clang valgrind gdb util-linux apache2 apache2-utils"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
