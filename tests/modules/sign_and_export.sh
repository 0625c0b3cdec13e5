#!/usr/bin/env bash
# Story: a user names a key on their module's token and uses it with plain
# OpenSSL commands: the public key exported through the provider is the
# token's own; `req -x509` makes a root whose signature verifies
# (-check_ss_sig) under that key; `dgst -sign` signatures verify; RSA-PSS
# with a digest-length salt verifies, and with the maximum salt either
# verifies or, on a module that refuses it (tpm2-pkcs11), is refused with
# the module's CKR_ name and nothing is written.
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

for spec in $(key_ids); do
    type=${spec%%:*} id=${spec#*:}
    require_step drv_keygen "$type" "$id" "k$id"
done
plain_openssl dgst -sha256 -binary -out "$TMP/digest" "$DATA"
for spec in $(key_ids); do
    type=${spec%%:*} id=${spec#*:}
    uri=$(mod_uri "$id")
    save_token_pubkey "$TOKEN" "$id" "tok-$id.pem"
    expect_success cnf_openssl "$MOD_CNF" pkey -in "$uri" -pubout -out "exp-$id.pem" &&
        same_pubkey "$type: the exported public key is the token's" "exp-$id.pem" "tok-$id.pem"
    expect_success cnf_openssl "$MOD_CNF" req -new -x509 -key "$uri" -subj "/CN=$type root" \
        -days 1 -out "root-$id.pem" &&
        verify_root "root-$id.pem" "tok-$id.pem"
    expect_success cnf_openssl "$MOD_CNF" dgst -sha256 -sign "$uri" -out "sig-$id" "$DATA" &&
        verify_sig "$type: dgst signature verifies (plain OpenSSL)" "tok-$id.pem" "sig-$id" "$DATA"
    [ "$type" = rsa ] || continue
    expect_success cnf_openssl "$MOD_CNF" dgst -sha256 -sign "$uri" -sigopt rsa_padding_mode:pss \
        -sigopt rsa_pss_saltlen:digest -out "pss-$id" "$DATA" &&
        check "RSA-PSS (digest salt) verifies (plain OpenSSL)" plain_openssl dgst -sha256 \
            -verify "tok-$id.pem" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
            -signature "pss-$id" "$DATA"
    if cannot pss-max; then
        echo "expected refusal: ${WHY[pss-max]}"
        expect_failure_with --any-file "CKR_MECHANISM_PARAM_INVALID" \
            cnf_openssl "$MOD_CNF" pkeyutl -sign -inkey "$uri" -pkeyopt rsa_padding_mode:pss \
            -pkeyopt rsa_pss_saltlen:max -pkeyopt digest:sha256 -in "$TMP/digest" \
            -out "$TMP/pssmax-$id" &&
            assert_output_contains "$TOKEN" &&
            assert_output_contains "C_Sign" &&
            assert_output_contains "rsa_pss_saltlen:digest" &&
            assert_output_contains "$MOD_PATH"
    else
        expect_success cnf_openssl "$MOD_CNF" pkeyutl -sign -inkey "$uri" \
            -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:max -pkeyopt digest:sha256 \
            -in "$TMP/digest" -out "pssmax-$id" &&
            check "RSA-PSS (max salt) verifies (plain OpenSSL)" plain_openssl pkeyutl -verify \
                -pubin -inkey "tok-$id.pem" -pkeyopt rsa_padding_mode:pss \
                -pkeyopt rsa_pss_saltlen:max -pkeyopt digest:sha256 -in "$TMP/digest" \
                -sigfile "pssmax-$id"
    fi
done
finish
