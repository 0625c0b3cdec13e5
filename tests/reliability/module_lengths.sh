#!/usr/bin/env bash
# Story: a broken or hostile module answers CKR_OK with a length or count
# past the buffer it was given (an attribute value, the handles of a
# search, the slot list, a signature). The provider never reads past what
# it allocated nor uses such an answer: each load or signature is refused
# with an error that names the module and the function, no signature file
# is left, no crash (the ASan build reads every buffer), and once the module
# answers properly the same commands succeed. The fault-injection shim's
# `overlong` directive makes SoftHSMv2 answer that way.
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"

# shellcheck source=../shim/shim_lib.sh
. "$HSM_SOURCE_ROOT/tests/shim/shim_lib.sh"
need_shim

make_token lying
make_key lying EC:prime256v1 01 ec
make_key lying rsa:2048 02 rsa
save_token_pubkey lying 01 ec.pem
save_token_pubkey lying 02 rsa.pem
require
write_provider_cnf shim.cnf "pkcs11-module-path=$HSM_FAULT_SHIM" "pkcs11-module-token-pin=$USER_PIN"

# (dgst opens its output file before it loads the key: the file must stay empty)
for fn in C_GetAttributeValue C_FindObjects C_GetSlotList; do
    echo "overlong $fn" >"$SHIM_CTL"
    for label in ec rsa; do
        expect_failure_with --any-file "answered $fn with" cnf_openssl shim.cnf dgst -sha256 \
            -sign "pkcs11:token=lying;object=$label;type=private" -out "$fn-$label.sig" "$DATA" &&
            assert_output_contains "$HSM_FAULT_SHIM" &&
            check "no signature from $label while $fn lies" test ! -s "$fn-$label.sig"
    done
done
# A signature whose length runs past the real one: never returned. Where
# the buffer given to the token is larger than the key's signature, the
# length stays inside it and verification refuses the garbage.
echo "overlong C_Sign" >"$SHIM_CTL"
for label in ec rsa; do
    expect_failure_with --any-file "" cnf_openssl shim.cnf dgst -sha256 \
        -sign "pkcs11:token=lying;object=$label;type=private" -out "C_Sign-$label.sig" "$DATA" &&
        assert_output_matches "answered C_Sign with|token key failed the possession proof" \
            "$label: the lying C_Sign is refused with the provider's reason" &&
        check "no signature from $label while C_Sign lies" test ! -s "C_Sign-$label.sig"
done

: >"$SHIM_CTL"
for label in ec rsa; do
    expect_success cnf_openssl shim.cnf dgst -sha256 \
        -sign "pkcs11:token=lying;object=$label;type=private" -out "$label.sig" "$DATA" &&
        verify_sig "with the module answering properly, $label signs again" "$label.pem" \
            "$label.sig" "$DATA"
done

finish
