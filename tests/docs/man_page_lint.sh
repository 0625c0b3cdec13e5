#!/usr/bin/env bash
# The man pages are well-formed mdoc: mandoc's linter reports nothing at
# warning level or above, and man(1) renders each without a warning.
#
#   man_page_lint.sh SOURCE_ROOT
set -uo pipefail

pages=("$1/docs/man/provider-hsm.7" "$1/docs/man/hsm-audit.1")
failed=0
if ! command -v mandoc >/dev/null; then
    echo "FAIL: mandoc is not installed (scripts/install-deps.sh installs it)"
    exit 1
fi
for page in "${pages[@]}"; do
    if ! out=$(mandoc -T lint -W warning "$page" 2>&1) || [ -n "$out" ]; then
        echo "FAIL: mandoc -T lint -W warning $page:"
        echo "$out"
        failed=1
    fi
    if command -v man >/dev/null; then
        if ! out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || [ -n "$out" ]; then
            echo "FAIL: man --warnings -l $page:"
            echo "$out"
            failed=1
        fi
    fi
done
[ "$failed" -eq 0 ] && echo "man_page_lint: ${pages[*]} are clean"
exit "$failed"
