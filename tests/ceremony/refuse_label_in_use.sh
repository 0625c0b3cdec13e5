#!/usr/bin/env bash
# Story (issue 6, step 1 and 2): the label or the id chosen for the root key
# is already used on the token. Step 1 (prepare) sees it in the token's
# object list and refuses; if another key appears under that label or id
# after step 1, the provider refuses at step 2 ("an object with this label
# or id already exists on the token") and generates nothing. Each time no
# output is written and the token holds as many objects as before.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"

make_token ca
make_key ca EC:secp384r1 07 root
require
ceremony_env ca

echo "--- step 1: the label is in use"
D="$TMP/label"
count=$(object_count ca)
check "the token starts with 2 objects" test "$count" = 2
step_fails 1 "$D" "the label 'root' is already in use on the token"
nothing_changed "label in use" "$D" "" ca "$count"
transcript_says "$D" "FAILED at step 1 (prepare): the label 'root' is already in use"

echo "--- step 1: the id is in use"
D="$TMP/id"
CEREMONY_KEY_LABEL=root-2 CEREMONY_KEY_ID=07 step_fails 1 "$D" "the id 07 is already in use on the token"
nothing_changed "id in use" "$D" "" ca "$count"

echo "--- step 2: a key took the label after step 1; the provider refuses"
D="$TMP/late-label"
export CEREMONY_KEY_LABEL=late CEREMONY_KEY_ID=0a
steps "$D" 1
make_key ca EC:prime256v1 0c late
count=$(object_count ca)
before=$(dir_state "$D")
step_fails 2 "$D" "an object with this label or id already exists on the token"
assert_output_contains "already holds an object labelled 'late'; nothing was generated"
nothing_changed "label taken after step 1" "$D" "$before" ca "$count"
transcript_says "$D" "[step 2 (generate)] no output of this step was written"

echo "--- step 2: a key took the id after step 1; the provider refuses"
D="$TMP/late-id"
export CEREMONY_KEY_LABEL=later CEREMONY_KEY_ID=0b
steps "$D" 1
make_key ca EC:prime256v1 0b other
count=$(object_count ca)
before=$(dir_state "$D")
step_fails 2 "$D" "an object with this label or id already exists on the token"
assert_output_contains "already holds an object with id"
nothing_changed "id taken after step 1" "$D" "$before" ca "$count"

echo "--- the same, straight through openssl genpkey"
# genpkey opens its output before the key is made, and leaves it empty on
# failure: why the ceremony writes into a private directory first.
write_provider_cnf gen.cnf "pkcs11-module-path=$SOFTHSM_MODULE" "pkcs11-module-token-pin=file:$PIN_FILE"
expect_failure_with --any-file \
    "an object with this label or id already exists on the token" cnf_openssl gen.cnf genpkey \
    -propquery provider=hsm -algorithm EC -pkeyopt group:P-384 \
    -pkeyopt pkcs11_uri:'pkcs11:token=ca;object=root' -out root.key.pem
check "... and the token still holds $count objects" test "$(object_count ca)" = "$count"
check "... and root.key.pem holds no key reference" test ! -s root.key.pem

finish
