#!/bin/sh
# Installs what building and testing hsm needs on Debian 12, and nothing
# when it is all there already.
set -eu

packages="meson ninja-build pkg-config gcc libc6-dev libssl-dev openssl \
libp11-kit-dev p11-kit p11-kit-modules softhsm2 opensc libcunit1-dev \
libclang-rt-14-dev clang valgrind gdb util-linux apache2 apache2-utils mandoc man-db \
dpkg-dev debhelper lintian debootstrap \
libnss3 libnss3-tools opencryptoki swtpm swtpm-tools tpm2-abrmd tpm2-tools dbus iproute2 \
python3 python3-bcrypt python3-cryptography python3-pyasn1 python3-pyasn1-modules \
python3-tpm2-pytss python3-yaml libyaml-0-2 libsqlite3-0 libtss2-tcti-tabrmd0"

# tpm2-pkcs11 is never installed: its package registers it with p11-kit for
# every program on the machine. Its .debs are unpacked here instead, for
# the module matrix (tests/modules) to name it by path.
TPM2_PKCS11_DIR=/opt/hsm-tests/tpm2-pkcs11
tpm2_pkcs11_unpacked() {
    ls "$TPM2_PKCS11_DIR"/usr/lib/*/libtpm2_pkcs11.so.1.* >/dev/null 2>&1
}

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && tpm2_pkcs11_unpacked && exit 0

echo "installing:${missing:- (tpm2-pkcs11 unpacked only)}"
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
[ -z "$missing" ] ||
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
if ! tpm2_pkcs11_unpacked; then
    debs=$(mktemp -d)
    (cd "$debs" && $SUDO chmod 777 . &&
        apt-get download -q libtpm2-pkcs11-1 libtpm2-pkcs11-tools python3-tpm2-pkcs11-tools >/dev/null)
    $SUDO mkdir -p "$TPM2_PKCS11_DIR"
    for deb in "$debs"/*.deb; do $SUDO dpkg-deb -x "$deb" "$TPM2_PKCS11_DIR"; done
    rm -rf "$debs"
fi
