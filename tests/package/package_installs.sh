#!/usr/bin/env bash
# The Debian packages, as a user gets them: debian/ builds the binary
# packages with dpkg-buildpackage from a copy of the source tree; lintian
# reports no error or warning; openssl-provider-hsm holds the provider in
# OpenSSL's modules directory, the snippets, the ceremony scripts and the
# man page, with dependencies computed from the binary, and hsm-audit the
# audit log's verifier (a program in /usr/bin, so not in the Multi-Arch:
# same provider package) and its man page. Installed with apt into a clean
# root of this machine's Debian release (debootstrap minbase, cached), the
# demo runs against the installed provider: no OPENSSL_MODULES, no
# -provider-path, no build tree in the root. Run again with the shipped
# snippet and audit-log set, it leaves a log that the installed hsm-audit
# verifies.
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
audit_deb=$(ls "$work"/hsm-audit_*.deb 2>/dev/null | head -1)
[ -n "$audit_deb" ] && pass "the binary package is $(basename "$audit_deb")" ||
    { fail "no hsm-audit .deb"; finish; }

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
dpkg-deb -c "$audit_deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/audit-contents"
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
for f in /usr/bin/hsm-audit /usr/share/man/man1/hsm-audit.1.gz; do
    if grep -qxF "$f" "$work/audit-contents"; then pass "hsm-audit holds $f"; else fail "hsm-audit lacks $f"; fi
done
grep -qE "(^|, )libssl3(t64)? " <<<"$(dpkg-deb -f "$audit_deb" Depends)" &&
    pass "hsm-audit Depends names libssl3 ($(dpkg-deb -f "$audit_deb" Depends))" ||
    fail "hsm-audit Depends lacks libssl3: $(dpkg-deb -f "$audit_deb" Depends)"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libssl3 libp11-kit0 libc6; do
    if grep -qE "(^|, )$lib(t64)? " <<<"$depends"; then
        pass "Depends names $lib (from the binary: $depends)"
    else
        fail "Depends lacks $lib: $depends"
    fi
done
[ "$(dpkg-deb -f "$deb" Recommends)" = "hsm-audit, p11-kit-modules" ] &&
    pass "Recommends: hsm-audit (the ceremony checks its log with it), p11-kit-modules" ||
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
cp "$deb" "$audit_deb" "$root/tmp/"
in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# 5. apt installs it with what it depends on; the demo's own tools beside it.
if in_root sh -c "apt-get -q update && apt-get -y -q install /tmp/$(basename "$deb") /tmp/$(basename "$audit_deb") softhsm2 opensc openssl" \
    >"$work/apt.log" 2>&1; then
    pass "apt-get installed the packages into the clean root"
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
for page in man7/provider-hsm.7 man1/hsm-audit.1; do
    name=$(basename "$page")
    if in_root sh -c "gzip -dc /usr/share/man/$page.gz | head -c 4096" | grep -q "${name%.*}"; then
        pass "the man page $name is installed"
    else
        fail "the man page $name is not readable in the root"
    fi
done

# 7. The audit log: the demo again, with the shipped snippet and audit-log
# set (its commented line), then the installed hsm-audit on the log.
in_root hsm-audit >/dev/null 2>&1
status=$?
[ "$status" -eq 2 ] && pass "hsm-audit without arguments exits with its usage status 2" ||
    fail "hsm-audit without arguments exited with $status"
log=/var/log/hsm/audit.log
if sed "s|^# audit-log = .*|audit-log = $log|" "$root/usr/share/hsm/openssl.cnf.d/hsm.cnf" \
    >"$root/root/audit.cnf" && grep -qxF "audit-log = $log" "$root/root/audit.cnf" &&
    mkdir -p "$root/var/log/hsm"; then
    pass "the shipped hsm.cnf with its audit-log line set"
else
    fail "the shipped hsm.cnf has no '# audit-log = ...' line to set"
fi
if timeout 120 chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    OPENSSL_CONF=/root/audit.cnf sh /usr/share/doc/openssl-provider-hsm/examples/demo.sh \
    >"$work/demo-audit.out" 2>&1 && [ -s "$root$log" ]; then
    pass "the demo ran with the audit log on"
else
    fail "the demo with the audit log on failed, or left no log:"
    tail -n 20 "$work/demo-audit.out" | sed 's/^/  | /'
fi
# The load's possession proof and the certificate's signature.
if in_root hsm-audit verify "$log" >"$work/verify.out" 2>&1 &&
    grep -q "the chain holds: a header and 2 records" "$work/verify.out"; then
    pass "hsm-audit verify: $(cat "$work/verify.out")"
else
    fail "hsm-audit verify:"
    sed 's/^/  | /' "$work/verify.out"
fi
if in_root hsm-audit show "$log" --op sign >"$work/show.out" 2>&1 &&
    grep -q "operation sign: ok" "$work/show.out" &&
    grep -qE "^ +program +/usr/bin/openssl$" "$work/show.out" &&
    grep -qE "^ +cmdline +openssl req " "$work/show.out"; then
    pass "hsm-audit show: the signature was made by /usr/bin/openssl req"
else
    fail "hsm-audit show --op sign:"
    sed 's/^/  | /' "$work/show.out"
fi
finish
