#!/usr/bin/env bash
# Story (issue 15, item 2): a reference that cannot be loaded says why, in
# every provider arrangement. The token it names is absent: the provider's
# "no token matches the URI" reason, naming the URI and the tokens present,
# reaches the application's error queue (before, libcrypto dropped it and
# printed only "unsupported"). A reference whose key on the token is of
# another type than the one it declares says so.
# shellcheck source=keyref_lib.sh disable=SC2317
. "$(dirname "$0")/keyref_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 ec
require
present="pkcs11:token=ca;id=%01;object=ec;type=private"
absent="pkcs11:token=gone;id=%01;object=ec;type=private"
craft_reference "$absent" absent.ref "$REF_OID.2" &&
    craft_reference "$present" declared-rsa.ref "$REF_OID.1" ||
    fail "crafting the references"
require

for list in "${ARRANGEMENTS[@]}"; do
    echo "--- $list"
    expect_failure_with --any-file "no token matches the URI" \
        with_providers "$list" pkey -in absent.ref -passin "file:$PIN_FILE" -pubout -out x.pem &&
        assert_output_contains "pkcs11:token=gone" && assert_output_contains "'ca' (serial"
    expect_failure_with --any-file "key changed on token since it was loaded" \
        with_providers "$list" pkey -in declared-rsa.ref -passin "file:$PIN_FILE" -pubout \
        -out x.pem && assert_output_contains "names an RSA key"
done

finish
