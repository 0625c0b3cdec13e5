#!/usr/bin/env bash
# The Debian package, as a user gets it: debian/ builds a binary package
# with dpkg-buildpackage from a copy of the source tree; lintian reports no
# error or warning; the package holds the provider in OpenSSL's modules
# directory, the snippets, the ceremony scripts and the man page, with
# dependencies computed from the binary. Installed with apt into a clean
# root of this machine's Debian release (debootstrap minbase, cached), the
# demo runs against the installed provider: no OPENSSL_MODULES, no
# -provider-path, no build tree in the root.
#
#   package_installs.sh SOURCE_ROOT
#
# Environment: HSM_PACKAGE_ROOT_CACHE (default /var/cache/hsm-package-root),
# HSM_DEBIAN_MIRROR (default: the host's first Debian mirror), HSM_KEEP_TMP=1.
set -uo pipefail

src=$(cd "$1" && pwd)
passed=0 failed=0
pass() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
    echo "package_installs: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit
}
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: building a clean root needs root"
    exit 77
fi
for tool in dpkg-buildpackage lintian debootstrap dh; do
    command -v "$tool" >/dev/null || { fail "$tool is not installed (scripts/install-deps.sh)"; finish; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hsm-package.XXXXXX")
root="$work/root"
mounted=""
cleanup() {
    for m in $mounted; do umount "$m" 2>/dev/null || umount -l "$m"; done
    if [ "${HSM_KEEP_TMP:-0}" = 1 ]; then echo "kept $work"; else rm -rf --one-file-system "$work"; fi
}
trap cleanup EXIT

# 1. Build from a copy of the tree (tracked and untracked files, no build
# directories): the package build never writes into the source tree.
mkdir "$work/hsm"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files -co --exclude-standard | while IFS= read -r f; do
        if [ -e "$src/$f" ]; then printf '%s\n' "$f"; fi
    done | tar -C "$src" -cf - -T - | tar -C "$work/hsm" -xf -
else
    tar -C "$src" --exclude='./build*' -cf - . | tar -C "$work/hsm" -xf -
fi
start=$(date +%s)
if (cd "$work/hsm" && timeout 900 dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1; then
    pass "dpkg-buildpackage -b -us -uc built the package ($(($(date +%s) - start)) s)"
else
    fail "dpkg-buildpackage failed:"
    tail -n 30 "$work/build.log" | sed 's/^/  | /'
    finish
fi
deb=$(ls "$work"/openssl-provider-hsm_*.deb 2>/dev/null | head -1)
changes=$(ls "$work"/hsm_*.changes 2>/dev/null | head -1)
[ -n "$deb" ] && pass "the binary package is $(basename "$deb")" || { fail "no openssl-provider-hsm .deb"; finish; }

# 2. lintian: nothing at warning level or above.
lintian --fail-on error,warning "$changes" >"$work/lintian.log" 2>&1
lint_status=$?
if [ "$lint_status" -eq 0 ] && ! grep -qE '^[EW]: ' "$work/lintian.log"; then
    pass "lintian reports no error and no warning"
else
    fail "lintian (status $lint_status):"
    grep -E '^[EW]: ' "$work/lintian.log" | head -20 | sed 's/^/  | /'
fi

# 3. What it holds, and what it depends on.
modulesdir=$(pkg-config --variable=modulesdir libcrypto)
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/contents"
for f in "$modulesdir/hsm.so" /usr/share/man/man7/provider-hsm.7.gz \
    /usr/share/hsm/openssl.cnf.d/hsm.cnf /usr/share/hsm/openssl.cnf.d/hsm-manual-activation.cnf \
    /usr/share/hsm/ceremony/run-ceremony.sh /usr/share/doc/openssl-provider-hsm/examples/demo.sh; do
    if grep -qxF "$f" "$work/contents"; then pass "the package holds $f"; else fail "the package lacks $f"; fi
done
# The README's links into docs/ resolve where the package puts both.
doc=/usr/share/doc/openssl-provider-hsm
missing=""
for link in $(grep -oE '\]\(docs/[^)#]+' "$src/README.md" | sed 's/^](//' | sort -u); do
    # (the man page's source, linked too, is compressed like any other file)
    grep -qxE "$doc/$link(\.gz)?" "$work/contents" || missing="$missing $link"
done
links=$(grep -c '](docs/' "$src/README.md")
if grep -qxF "$doc/README.md" "$work/contents" && [ "$links" -gt 0 ] && [ -z "$missing" ]; then
    pass "the package holds the README and every docs page its $links links name (the .md pages uncompressed)"
else
    fail "the package lacks the README or pages it links to:${missing:- README.md}"
fi
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libssl3 libp11-kit0 libc6; do
    if grep -qE "(^|, )$lib(t64)? " <<<"$depends"; then
        pass "Depends names $lib (from the binary: $depends)"
    else
        fail "Depends lacks $lib: $depends"
    fi
done
[ "$(dpkg-deb -f "$deb" Recommends)" = p11-kit-modules ] && pass "Recommends: p11-kit-modules" ||
    fail "Recommends is '$(dpkg-deb -f "$deb" Recommends)'"

# 4. A clean root of this release, made once and kept as a tarball.
. /etc/os-release
cache=${HSM_PACKAGE_ROOT_CACHE:-/var/cache/hsm-package-root}
mirror=${HSM_DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null)}
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$cache"
tarball="$cache/$VERSION_CODENAME-minbase.tar"
(
    flock 9
    if [ ! -s "$tarball" ]; then
        echo "making a clean $VERSION_CODENAME root with debootstrap (once; kept in $tarball)"
        rm -rf "$cache/new" && mkdir "$cache/new" &&
            timeout 1200 debootstrap --variant=minbase "$VERSION_CODENAME" "$cache/new" "$mirror" \
                >"$cache/debootstrap.log" 2>&1 &&
            tar -C "$cache/new" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        status=$?
        rm -rf --one-file-system "$cache/new"
        exit "$status"
    fi
) 9>"$cache/lock" || { fail "debootstrap $VERSION_CODENAME failed (see $cache/debootstrap.log)"; finish; }
mkdir "$root" && tar -C "$root" -xf "$tarball" || { fail "cannot unpack $tarball"; finish; }
pass "a clean $VERSION_CODENAME root (debootstrap minbase) in $root"
# Its own device nodes, not the host's /dev.
for n in "null c 1 3" "zero c 1 5" "random c 1 8" "urandom c 1 9" "tty c 5 0"; do
    set -- $n
    rm -f "$root/dev/$1" && mknod -m 666 "$root/dev/$1" "$2" "$3" "$4"
done
mount -t proc proc "$root/proc" && mounted="$root/proc $mounted"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
cp "$deb" "$root/tmp/"
in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# 5. apt installs it with what it depends on; the demo's own tools beside it.
if in_root sh -c "apt-get -q update && apt-get -y -q install /tmp/$(basename "$deb") softhsm2 opensc openssl" \
    >"$work/apt.log" 2>&1; then
    pass "apt-get installed the package into the clean root"
else
    fail "apt-get install failed:"
    tail -n 20 "$work/apt.log" | sed 's/^/  | /'
    finish
fi
in_root dpkg-query -W -f='${Status}' p11-kit-modules 2>/dev/null | grep -q "install ok installed" &&
    pass "its Recommends (p11-kit-modules) came with it" || fail "p11-kit-modules was not installed"
[ ! -e "$root$src" ] && pass "no source or build tree in the root" || fail "$src exists in the root"

# 6. The installed provider, found by OpenSSL alone.
if in_root openssl list -providers -provider hsm -verbose >"$work/list.out" 2>&1 &&
    grep -q "build info: hsm " "$work/list.out"; then
    pass "openssl list -providers -provider hsm finds the installed provider"
else
    fail "openssl list -providers -provider hsm:"
    sed 's/^/  | /' "$work/list.out"
fi
if timeout 120 chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    sh /usr/share/doc/openssl-provider-hsm/examples/demo.sh >"$work/demo.out" 2>&1 &&
    grep -q "the certificate's public key is the token's public key" "$work/demo.out"; then
    pass "the demo ran against the installed provider: a root certificate signed on the token, verified by plain OpenSSL"
else
    fail "the demo failed in the clean root:"
    tail -n 20 "$work/demo.out" | sed 's/^/  | /'
fi
if in_root sh -c 'gzip -dc /usr/share/man/man7/provider-hsm.7.gz | head -c 4096' | grep -q "provider-hsm"; then
    pass "the man page is installed"
else
    fail "the man page is not readable in the root"
fi
finish
