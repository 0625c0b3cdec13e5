#!/usr/bin/env bash
# Every option of the provider's table and every reason it reports is
# described where users look: the man page (an item per option, with its
# default; an item per reason under DIAGNOSTICS), docs/configuration.md (a
# table row per option, with its default) and docs/errors.md (each reason).
# The list comes from the code (print_reference), so an option or reason
# added without its documentation fails here.
#
#   reference_documented.sh PRINT_REFERENCE SOURCE_ROOT
set -uo pipefail

print=$1 root=$2
man="$root/docs/man/provider-hsm.7" conf="$root/docs/configuration.md" errors="$root/docs/errors.md"
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

for f in "$man" "$conf" "$errors"; do
    [ -r "$f" ] || { echo "FAIL: $f is missing"; echo "reference_documented: 0 passed, 1 failed"; exit 1; }
done
if ! reference=$("$print"); then
    echo "FAIL: $print did not run"
    exit 1
fi

# man_item NAME : the text of the man page's ".It Cm NAME" item, macros
# dropped and lines joined.
man_item() {
    awk -v name="$1" '
        /^\.It / { inside = ($2 == "Cm" && $3 == name); if (inside) next }
        /^\.El/ { inside = 0 }
        inside { sub(/^\.[A-Z][a-z][a-z]? /, ""); printf "%s ", $0 }' "$man"
}

while IFS=$'\t' read -r kind name default; do
    case $kind in
    option)
        [ "$default" = - ] && default=none
        item=$(man_item "$name")
        if [ -z "$item" ]; then
            bad "man page: no item for option $name"
        elif ! grep -qE "Default: ${default//./\\.}( |\\.|,)" <<<"$item"; then
            bad "man page: option $name does not say 'Default: $default' ($item)"
        else
            ok
        fi
        if grep -qE "^\| \`$name\` \| \`?$default\`? \|" "$conf"; then
            ok
        else
            bad "docs/configuration.md: no row '| \`$name\` | $default |'"
        fi
        ;;
    reason)
        # name holds the reason's text here.
        if grep -qxF ".It $name" "$man"; then ok; else bad "man page: no DIAGNOSTICS item '$name'"; fi
        if grep -qF -- "$name" "$errors"; then ok; else bad "docs/errors.md: reason '$name' missing"; fi
        ;;
    esac
done <<<"$reference"

echo "reference_documented: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
