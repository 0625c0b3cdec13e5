#!/bin/sh
# Installs what building and testing hsm needs on Debian 12 or 13, and
# nothing when it is all there already.
set -eu

# The benchmark's peer, pkcs11-provider (bookworm-backports on Debian 12).
sh "$(dirname "$0")/install-peer.sh"

# Add packages here. Names must exist on both releases; a versioned name
# goes in versioned_packages below, derived from what the release offers.
packages="meson ninja-build pkg-config gcc libc6-dev libssl-dev openssl \
libp11-kit-dev p11-kit p11-kit-modules softhsm2 opensc libcunit1-dev \
clang llvm valgrind gdb util-linux apache2 apache2-utils curl stunnel4 mandoc man-db \
build-essential dpkg-dev debhelper lintian debootstrap gnuplot-nox \
libnss3 libnss3-tools opencryptoki swtpm swtpm-tools tpm2-abrmd tpm2-tools dbus iproute2 \
python3 python3-bcrypt python3-cryptography python3-pyasn1 python3-pyasn1-modules \
python3-tpm2-pytss python3-yaml libyaml-0-2 libsqlite3-0 libtss2-tcti-tabrmd0 jq"

# Packages whose names carry a version that differs between releases.
# Prints the names it knows; fails when one cannot be known yet (before
# clang is installed, or before the package lists of a fresh machine are
# there).
versioned_packages() {
    status=0
    # The sanitizer and libFuzzer runtimes of the clang that `clang` runs
    # (14 on Debian 12, 19 on Debian 13).
    if v=$(clang -dumpversion 2>/dev/null); then
        echo "libclang-rt-${v%%.*}-dev"
    else
        status=1
    fi
    # The kernel's sign-file (linux-kbuild-6.1 on Debian 12, 6.12 on 13):
    # the one installed, else the newest the archive offers.
    newest_of linux-kbuild- || status=1
    return $status
}

# newest_of PREFIX : the installed package PREFIX<version> with the highest
# version, else the archive's (Debian 13 names the kernel's packages
# linux-kbuild-6.12.116+deb13 and so on).
newest_of() {
    re="^$1[0-9][0-9.]*(\\+deb[0-9.]+)?\$"
    p=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$1*" 2>/dev/null |
        awk -v re="$re" '$1 == "ii" && $2 ~ re { print $2 }' | sort -V | tail -n 1)
    [ -n "$p" ] || p=$(apt-cache pkgnames "$1" 2>/dev/null | grep -E "$re" | sort -V | tail -n 1)
    [ -n "$p" ] && echo "$p"
}

# tpm2-pkcs11 is never installed: its package registers it with p11-kit for
# every program on the machine. Its .debs are unpacked here instead, for
# the module matrix (tests/modules) to name it by path.
TPM2_PKCS11_DIR=/opt/hsm-tests/tpm2-pkcs11
tpm2_pkcs11_unpacked() { # (Debian 13 puts the library in a pkcs11/ directory)
    ls "$TPM2_PKCS11_DIR"/usr/lib/*/libtpm2_pkcs11.so.1.* >/dev/null 2>&1 ||
        ls "$TPM2_PKCS11_DIR"/usr/lib/*/pkcs11/libtpm2_pkcs11.so.1.* >/dev/null 2>&1
}

missing_of() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            printf ' %s' "$p"
    done
}

unknown=0
versioned=$(versioned_packages) || unknown=1
# shellcheck disable=SC2086 # lists of names
missing=$(missing_of $packages $versioned)
[ -z "$missing" ] && [ "$unknown" -eq 0 ] && tpm2_pkcs11_unpacked && exit 0

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
apt_install() {
    echo "installing:$*"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@" \
        >/dev/null
}

$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing
# Versioned names not known before (clang just installed, package lists
# just fetched) are known now.
versioned=$(versioned_packages) || {
    echo "install-deps: the archive offers no libclang-rt-N-dev or linux-kbuild-N" \
        "(found:$versioned)" >&2
    exit 1
}
# shellcheck disable=SC2086
missing=$(missing_of $versioned)
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing
if ! tpm2_pkcs11_unpacked; then
    echo "unpacking tpm2-pkcs11 into $TPM2_PKCS11_DIR"
    debs=$(mktemp -d)
    (cd "$debs" && $SUDO chmod 777 . &&
        apt-get download -q libtpm2-pkcs11-1 libtpm2-pkcs11-tools python3-tpm2-pkcs11-tools >/dev/null)
    $SUDO mkdir -p "$TPM2_PKCS11_DIR"
    for deb in "$debs"/*.deb; do $SUDO dpkg-deb -x "$deb" "$TPM2_PKCS11_DIR"; done
    rm -rf "$debs"
fi
