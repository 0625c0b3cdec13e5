#!/usr/bin/env bash
# Story: a program written for OpenSSL 3.4 or later signs with
# EVP_PKEY_sign_message_init and friends, fetching the signature algorithm
# by name ("ECDSA-SHA2-256", "RSA-SHA2-256", "ED25519") from the provider
# that holds the token key: streamed (two updates, final), one-shot
# (EVP_PKEY_sign over the message), and verified with EVP_PKEY_verify_
# message_*; plain OpenSSL verifies every signature. Skipped (77) where
# the OpenSSL the provider is built for has no message signatures (3.0).
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

_run "$HSM_SIGN_MESSAGE" pkcs11:nothing - -
if [ "$LAST_RC" -eq 77 ]; then
    echo "SKIP: $(cat "$LAST_OUT")"
    FINISHED=1
    exit 77
fi

make_token msg
make_key msg EC:prime256v1 01 ec
make_key msg EC:secp384r1 02 p384
make_key msg rsa:2048 03 rsa
expect_success p11 msg --login --pin "$USER_PIN" --keypairgen --key-type EC:edwards25519 \
    --id 04 --label ed
require
write_provider_cnf msg.cnf "pkcs11-module-token-pin=file:$PIN_FILE"
for case in "ec ECDSA-SHA2-256 SHA256" "p384 ECDSA-SHA2-384 SHA384" "rsa RSA-SHA2-256 SHA256" \
    "rsa RSA-SHA2-512 SHA512" "ed ED25519 -"; do
    read -r label alg digest <<<"$case"
    expect_success cnf_program msg.cnf "$HSM_SIGN_MESSAGE" \
        "pkcs11:token=msg;object=$label;type=private" "$alg" "$digest" &&
        check "$alg with $label: every check of the program held" \
            bash -c '! grep -q "^FAIL" "$1"' _ "$LAST_OUT"
done
finish
