#!/usr/bin/env bash
# Links stay true: every relative link in README.md and docs/*.md names a
# file that exists in the source tree (and, with #anchor, a heading of that
# page), and every command in the README's first code block is an
# executable script in scripts/ (check_links.py does the checking).
#
# First, on a copy of the documentation broken on purpose, the checker must
# fail and name each break: a link to a missing page, an anchor no heading
# has, a link out of the tree, a link whose text wraps onto the next line,
# a README command that is missing or not executable. Then the real tree
# must pass.
#
#   links_resolve.sh PYTHON3 SOURCE_ROOT
set -uo pipefail

python=$1 root=$2
checker="$(dirname "$0")/check_links.py"
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. A broken copy.
mkdir -p "$tmp/broken/scripts"
cp -r "$root/docs" "$tmp/broken/docs"
cp "$root/README.md" "$tmp/broken/README.md"
cp -p "$root/scripts/demo" "$tmp/broken/scripts/demo"
cp -p "$root/scripts/test" "$tmp/broken/scripts/test"
chmod a-x "$tmp/broken/scripts/test"
first_page=$(find "$tmp/broken/docs" -maxdepth 1 -name '*.md' | sort | head -n1)
printf '%s\n' '' 'See [nothing](no-such-page.md), [a section](#no-such-section),' \
    '[a page out of the tree](../../outside.md) and `[code](not-a-link.md)`, and [a link whose' \
    'text wraps](no-such-wrapped.md).' >>"$first_page"
# A first code block naming a script that is missing and one that is not
# executable, ahead of the README's own text.
{
    printf '%s\n' '# broken' '' '    ./scripts/demo' '    ./scripts/test' \
        '    ./scripts/missing   # not there' ''
    cat "$tmp/broken/README.md"
} >"$tmp/broken/README.new" && mv "$tmp/broken/README.new" "$tmp/broken/README.md"

if out=$("$python" "$checker" "$tmp/broken" 2>&1); then
    bad "the checker passed a broken tree:"
    echo "$out"
else
    ok
fi
page=docs/$(basename "$first_page")
for want in "$page:.*link no-such-page.md: docs/no-such-page.md does not exist" \
    "$page:.*link #no-such-section: $page has no heading whose anchor is #no-such-section" \
    "$page:.*link ../../outside.md: points outside the source tree" \
    "$page:.*link no-such-wrapped.md: docs/no-such-wrapped.md does not exist" \
    "README.md:5: command ./scripts/missing: scripts/missing does not exist" \
    "README.md:4: command ./scripts/test: scripts/test is not executable"; do
    if grep -qE -- "$want" <<<"$out"; then ok; else bad "the checker did not report: $want"; fi
done
if grep -q "not-a-link.md" <<<"$out"; then
    bad "a link inside a code span was checked as a link"
else
    ok
fi

# 2. The real tree.
if out=$("$python" "$checker" "$root" 2>&1); then
    ok
else
    bad "the documentation has broken links or commands:"
fi
echo "$out"

echo "links_resolve: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
