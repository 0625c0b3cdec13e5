#!/usr/bin/env bash
# Story: with p11-kit's proxy as the PKCS#11 module (the default), SoftHSMv2
# runs inside the proxy and calls libcrypto from inside C_Login and C_Sign.
# A provider that registers digests (or ciphers, or an RNG) is re-entered
# from there; the pkcs11 provider on this machine deadlocks in C_Login this
# way. `openssl req -x509` with a key that needs a login must finish well
# within a bounded time and exit 0 (no crash at exit either).
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

CMD_TIMEOUT=60

make_token ca
make_key ca EC:prime256v1 01 p256
make_key ca rsa:2048 02 rsa2048
require
save_token_pubkey ca 01 p256.pub.pem
save_token_pubkey ca 02 rsa2048.pub.pem

# The provider offers nothing a token's own crypto could fetch by accident.
for kind in digest-algorithms cipher-algorithms mac-algorithms kdf-algorithms \
    random-generators; do
    expect_success hsm_openssl list "-$kind" &&
        assert_output_lacks '@ hsm' "the provider registers no $kind"
done

# roots_with LABEL RUN... : req -x509 with both keys (PIN in the URI, and PIN
# through the passphrase callback), each within the timeout, each verified.
roots_with() {
    local tag=$1 key start
    shift
    for key in p256 rsa2048; do
        start=$SECONDS
        expect_success "$@" req -new -x509 -key "$(key_uri ca "$key")" \
            -subj /CN=Root -days 30 -out "$tag-$key.pem" &&
            verify_root "$tag-$key.pem" "$key.pub.pem"
        check "$tag $key: req -x509 took $((SECONDS - start))s (< $CMD_TIMEOUT)" \
            test $((SECONDS - start)) -lt "$CMD_TIMEOUT"
        expect_success "$@" req -new -x509 -passin "pass:$USER_PIN" \
            -key "pkcs11:token=ca;object=$key;type=private" \
            -subj /CN=Root -days 30 -out "$tag-$key-passin.pem" &&
            verify_root "$tag-$key-passin.pem" "$key.pub.pem"
    done
    expect_success "$@" dgst -sha256 -sign "$(key_uri ca p256)" -out "$tag.sig" "$TMP/p256.pub.pem" &&
        expect_success plain_openssl dgst -sha256 -verify p256.pub.pem -signature "$tag.sig" \
            "$TMP/p256.pub.pem"
}

# The default module: no pkcs11-module-path at all. The premise first: it
# is p11-kit's proxy that the provider searched.
expect_failure_with "no token matches the URI" hsm_openssl req -new -x509 \
    -key "pkcs11:token=nosuch;object=p256;type=private?pin-value=$USER_PIN" \
    -subj /CN=Root -days 30 -out premise.pem &&
    assert_output_contains "p11-kit-proxy"
roots_with default hsm_openssl

# The proxy named explicitly in the provider configuration.
write_provider_cnf proxy.cnf "pkcs11-module-path=$P11KIT_PROXY"
cnf_proxy() { cnf_openssl "$TMP/proxy.cnf" "$@"; }
roots_with proxy cnf_proxy

# The C example through the proxy (EVP_DigestSign).
expect_success example_sign "$(key_uri ca rsa2048)" p256.pub.pem example.sig sha256 &&
    expect_success plain_openssl dgst -sha256 -verify rsa2048.pub.pem -signature example.sig \
        p256.pub.pem

finish
