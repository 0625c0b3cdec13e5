#!/usr/bin/env bash
# Story: EdDSA keys on the token. An Ed25519 key made by pkcs11-tool, and
# Ed25519 and Ed448 keys generated through the provider (pkcs11-tool cannot
# make Ed448) with default listed first and with hsm listed first (SoftHSMv2
# then makes the key with libcrypto inside its own call, which must reach
# the default provider), sign self-signed roots and CSRs with `openssl req`
# and raw messages with `openssl pkeyutl -sign -rawin`, in both provider
# orders. Plain OpenSSL verifies each against the public key read from the
# token by pkcs11-tool, and refuses a signature checked against other data.
# shellcheck source=keys_lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/keys_lib.sh"

make_token ca
expect_success p11 ca --login --pin "$USER_PIN" --keypairgen --key-type EC:edwards25519 \
    --id 01 --label ed-tool
expect_success genkey ed25519-gen.pem "$(gen_uri ca ed25519-gen %02)" ED25519
expect_success genkey ed448-gen.pem "$(gen_uri ca ed448-gen %03)" ED448
GENKEY_ORDER=hsm-first expect_success genkey ed25519-hf.pem "$(gen_uri ca ed25519-hf %04)" ED25519
GENKEY_ORDER=hsm-first expect_success genkey ed448-hf.pem "$(gen_uri ca ed448-hf %05)" ED448
require
save_pubkey_by_id ca 01 ed-tool.pub.pem
save_pubkey_by_id ca 02 ed25519-gen.pub.pem
save_pubkey_by_id ca 03 ed448-gen.pub.pem
save_pubkey_by_id ca 04 ed25519-hf.pub.pem
save_pubkey_by_id ca 05 ed448-hf.pub.pem

plain_openssl rand -out data 3000
plain_openssl rand -out other 3000

# label : algorithm name as plain OpenSSL prints it : signature bytes
for k in ed-tool:ED25519:64 ed25519-gen:ED25519:64 ed448-gen:ED448:114 ed25519-hf:ED25519:64 \
    ed448-hf:ED448:114; do
    IFS=: read -r label alg size <<<"$k"
    pub="$label.pub.pem"
    expect_success plain_openssl pkey -pubin -in "$pub" -noout -text &&
        assert_output_contains "$alg Public-Key"

    # req -x509 by URI, and for generated keys also by their reference PEM
    root="root-$label.pem"
    expect_success hsm_openssl req -new -x509 -key "$(key_uri ca "$label")" \
        -subj "/CN=$label" -days 30 -out "$root" && verify_root "$root" "$pub" &&
        expect_success plain_openssl x509 -in "$root" -noout -text &&
        assert_output_contains "Signature Algorithm: $alg"
    if [ -e "$label.pem" ]; then
        self_signed_root "$label.pem" "root-ref-$label.pem" &&
            verify_root "root-ref-$label.pem" "$pub"
    fi
    # a CSR, its self-signature checked by plain OpenSSL
    expect_success hsm_openssl req -new -key "$(key_uri ca "$label")" -subj "/CN=$label csr" \
        -out "$label.csr" &&
        expect_success plain_openssl req -in "$label.csr" -noout -verify

    # raw message signatures
    sig="$label.sig"
    expect_success hsm_openssl pkeyutl -sign -rawin -inkey "$(key_uri ca "$label")" \
        -in data -out "$sig" || continue
    check "$sig is $size bytes" test "$(stat -c %s "$sig")" -eq "$size"
    expect_success plain_openssl pkeyutl -verify -rawin -pubin -inkey "$pub" -in data \
        -sigfile "$sig" && assert_output_contains "Signature Verified Successfully"
    expect_failure_with "Signature Verification Failure" \
        plain_openssl pkeyutl -verify -rawin -pubin -inkey "$pub" -in other -sigfile "$sig"
    # EdDSA is deterministic: the same message signs to the same bytes, in
    # either provider order
    expect_success hsm_openssl pkeyutl -sign -rawin -inkey "$(key_uri ca "$label")" \
        -in data -out "$sig.again" &&
        check "$label: signing again gives the same signature" cmp -s "$sig" "$sig.again"
    expect_success dflt_openssl pkeyutl -sign -rawin -inkey "$(key_uri ca "$label")" \
        -in data -out "$sig.dflt" &&
        check "$label: default listed first, the same signature" cmp -s "$sig" "$sig.dflt"
done

# A damaged EdDSA root is refused by the same check.
if tamper_pem root-ed448-gen.pem bad-root.pem x509; then
    expect_failure_with "certificate signature failure" \
        plain_openssl verify -check_ss_sig -CAfile bad-root.pem bad-root.pem
else
    fail "could not make a damaged copy of root-ed448-gen.pem"
fi

finish
