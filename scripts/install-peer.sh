#!/bin/sh
# Installs pkcs11-provider, the provider the benchmark (tests/bench) measures
# beside hsm, and nothing when it is there already. Debian 13 has it in its
# main archive; Debian 12 only in bookworm-backports, which a fresh machine's
# apt sources do not list: an entry for it is added, with the URIs and
# Signed-By of the machine's own bookworm entry, only when no source names
# bookworm-backports yet. Called by scripts/install-deps.sh.
set -eu

PACKAGE=pkcs11-provider
BACKPORTS_SOURCES=/etc/apt/sources.list.d/hsm-bookworm-backports.sources

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

installed "$PACKAGE" && exit 0

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

# The release's codename (bookworm, trixie, ...).
# shellcheck disable=SC1091 # the running system's file
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

# Prints "URIS<TAB>SIGNED-BY" of the deb822 entry (in *.sources) whose
# Suites list the plain release, e.g. "bookworm", with deb packages.
release_entry_822() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk -v suite="$1" '
            function flush() {
                if (deb && has_suite && uris != "") { print uris "\t" signed; found = 1; exit }
                deb = 0; has_suite = 0; uris = ""; signed = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
            tolower($1) == "uris:" { uris = $2 }
            tolower($1) == "signed-by:" { signed = $2 }
            END { if (!found) flush() }
        ' "$f" | head -n 1
    done | head -n 1
}

# The same from a one-line entry: "deb [signed-by=KEYRING] URI SUITE ...".
release_entry_list() {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk -v suite="$1" '
            $1 != "deb" { next }
            {
                signed = ""; i = 2
                if ($2 ~ /^\[/) {
                    for (; i <= NF; i++) {
                        if ($i ~ /signed-by=/) { s = $i; sub(/.*signed-by=/, "", s); sub(/\]$/, "", s); signed = s }
                        if ($i ~ /\]$/) { i++; break }
                    }
                }
                if ($(i + 1) == suite) { print $i "\t" signed; exit }
            }'
}

# True when some apt source already names SUITE.
source_lists() {
    grep -Eqs "(^|[[:space:]])$1([[:space:]]|\$)" /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}

add_backports_source() {
    entry=$(release_entry_822 bookworm)
    [ -n "$entry" ] || entry=$(release_entry_list bookworm)
    if [ -z "$entry" ]; then
        echo "install-peer: no apt source for bookworm to copy for bookworm-backports;" \
            "add one (see ../shared/field-recipes.md) and run this again" >&2
        exit 1
    fi
    uris=$(printf '%s' "$entry" | cut -f1)
    signed=$(printf '%s' "$entry" | cut -f2)
    echo "install-peer: adding $BACKPORTS_SOURCES ($uris bookworm-backports)"
    {
        echo "Types: deb"
        echo "URIs: $uris"
        echo "Suites: bookworm-backports"
        echo "Components: main"
        [ -z "$signed" ] || echo "Signed-By: $signed"
    } | $SUDO tee "$BACKPORTS_SOURCES" >/dev/null
}

install_from() { # SUITE-OR-EMPTY
    echo "installing: $PACKAGE${1:+ (from $1)}"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
        ${1:+-t "$1"} "$PACKAGE" >/dev/null
}

case "$codename" in
bookworm)
    source_lists bookworm-backports || add_backports_source
    $SUDO apt-get update -q >/dev/null
    install_from bookworm-backports
    ;;
*)
    # Debian 13 and later: the main archive.
    $SUDO apt-get update -q >/dev/null
    install_from ""
    ;;
esac
