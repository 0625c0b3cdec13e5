#!/usr/bin/env bash
# Story: the operator decides what PKCS#1 v1.5 decryption may do
# (rsa-pkcs1-decryption in the provider's configuration). By default it
# runs over raw RSA on the token with implicit rejection, and a key for
# which the token does not offer raw RSA (CKA_ALLOWED_MECHANISMS without
# CKM_RSA_X_509) is refused with a reason, since the token's own v1.5
# decryption would tell bad paddings from good ones;
# implicit-rejection-or-token accepts the token's behaviour for such keys;
# refuse turns v1.5 decryption off while OAEP goes on working.
# shellcheck source=keys_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca rsa:2048 01 dec
expect_success p11 ca --login --pin "$USER_PIN" --keypairgen --key-type rsa:2048 --id 02 \
    --label noraw --allowed-mechanisms RSA-PKCS,RSA-PKCS-OAEP
require
save_token_pubkey ca 01 dec.pub.pem
save_token_pubkey ca 02 noraw.pub.pem
plain_openssl rand -out m100 100
for k in dec noraw; do
    plain_openssl pkeyutl -encrypt -pubin -inkey $k.pub.pem -in m100 -out $k.enc
    plain_openssl pkeyutl -encrypt -pubin -inkey $k.pub.pem -pkeyopt rsa_padding_mode:oaep \
        -in m100 -out $k.oaep.enc
done
write_provider_cnf default.cnf
write_provider_cnf token.cnf "rsa-pkcs1-decryption=implicit-rejection-or-token"
write_provider_cnf refuse.cnf "rsa-pkcs1-decryption=refuse"
write_provider_cnf bad.cnf "rsa-pkcs1-decryption=sometimes"

# By default: the key with raw RSA decrypts; the one without is refused.
expect_success cnf_openssl default.cnf pkeyutl -decrypt -inkey "$(key_uri ca dec)" -in dec.enc \
    -out dec.dec && check "default: the key with raw RSA decrypts" cmp -s m100 dec.dec
expect_failure_with --any-file "CKM_RSA_X_509" cnf_openssl default.cnf pkeyutl -decrypt \
    -inkey "$(key_uri ca noraw)" -in noraw.enc -out x.dec &&
    assert_output_contains "padding oracle" &&
    assert_output_contains "rsa-pkcs1-decryption = implicit-rejection-or-token"
check "default: nothing decrypted without raw RSA" test ! -s x.dec
expect_success cnf_openssl default.cnf pkeyutl -decrypt -inkey "$(key_uri ca noraw)" \
    -pkeyopt rsa_padding_mode:oaep -in noraw.oaep.enc -out noraw.oaep.dec &&
    check "default: OAEP still works with that key" cmp -s m100 noraw.oaep.dec

# implicit-rejection-or-token: the token's own v1.5 decryption for that key.
expect_success cnf_openssl token.cnf pkeyutl -decrypt -inkey "$(key_uri ca noraw)" \
    -in noraw.enc -out noraw.dec &&
    check "implicit-rejection-or-token: the key without raw RSA decrypts" cmp -s m100 noraw.dec

# refuse: no v1.5 decryption with any key; OAEP goes on.
for k in dec noraw; do
    rm -f x.dec
    expect_failure_with --any-file "rsa-pkcs1-decryption = refuse" cnf_openssl refuse.cnf \
        pkeyutl -decrypt -inkey "$(key_uri ca $k)" -in $k.enc -out x.dec
    check "refuse: nothing decrypted with $k" test ! -s x.dec
done
expect_success cnf_openssl refuse.cnf pkeyutl -decrypt -inkey "$(key_uri ca dec)" \
    -pkeyopt rsa_padding_mode:oaep -in dec.oaep.enc -out dec.oaep.dec &&
    check "refuse: OAEP still works" cmp -s m100 dec.oaep.dec

# A value the provider does not know keeps it from activating, as for its
# other options.
expect_success cnf_openssl bad.cnf list -providers &&
    assert_output_lacks "hsm" "rsa-pkcs1-decryption = sometimes: hsm is not activated"
finish
