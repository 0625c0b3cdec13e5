#!/usr/bin/env bash
# Story: a CA signs with RSA-PSS (`-sigopt rsa_padding_mode:pss`) and a key on
# the token: self-signed roots with salt lengths digest, max, auto and 32,
# `openssl dgst -sign` and `openssl pkeyutl -sign` signatures, MGF1 named
# explicitly with the signature's digest. Plain OpenSSL checks each one,
# with the salt length it must have. A salt that does not fit the key and an
# MGF1 digest other than the signature's (SoftHSMv2 refuses that) fail with
# a clear error; a key the token restricts to PSS (CKA_ALLOWED_MECHANISMS)
# is usable for PSS.
# shellcheck source=keys_lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca rsa:2048 01 rsa
require
save_token_pubkey ca 01 rsa.pub.pem
KEY=$(key_uri ca rsa)
PSS=(-sigopt rsa_padding_mode:pss)

# ------------------------------------------------ req -x509 with RSA-PSS
# saltlen : digest : Salt Length the certificate must name (2048-bit key:
# the largest salt with SHA-256 is 256 - 32 - 2 = 222 = 0xDE)
for c in digest:sha256:0x20 max:sha256:0xDE auto:sha256:0xDE 32:sha256:0x20 \
    digest:sha384:0x30; do
    IFS=: read -r salt md hex <<<"$c"
    root="root-$salt-$md.pem"
    expect_success hsm_openssl req -new -x509 -key "$KEY" -subj "/CN=PSS $salt" -days 30 \
        "-$md" "${PSS[@]}" -sigopt "rsa_pss_saltlen:$salt" -out "$root" || continue
    verify_root "$root" rsa.pub.pem
    expect_success plain_openssl x509 -in "$root" -noout -text &&
        assert_output_contains "Signature Algorithm: rsassaPss" &&
        assert_output_contains "Hash Algorithm: $md" &&
        assert_output_contains "Mask Algorithm: mgf1 with $md" &&
        assert_output_contains "Salt Length: $hex"
done
# MGF1 named explicitly, the signature's own digest.
expect_success hsm_openssl req -new -x509 -key "$KEY" -subj /CN=mgf1 -days 30 -sha512 \
    "${PSS[@]}" -sigopt rsa_mgf1_md:sha512 -sigopt rsa_pss_saltlen:digest -out root-mgf1.pem &&
    verify_root root-mgf1.pem rsa.pub.pem &&
    expect_success plain_openssl x509 -in root-mgf1.pem -noout -text &&
    assert_output_contains "Mask Algorithm: mgf1 with sha512"
# The check can fail: a damaged PSS root is refused.
if tamper_pem root-digest-sha256.pem bad-root.pem x509; then
    expect_failure_with "certificate signature failure" \
        plain_openssl verify -check_ss_sig -CAfile bad-root.pem bad-root.pem
else
    fail "could not make a damaged copy of root-digest-sha256.pem"
fi

# --------------------------------------------------------- dgst -sign
plain_openssl rand -out data 10000
# digest : salt asked for : salt plain OpenSSL must find
for c in sha256:digest:32 sha384:max:206 sha512:auto:190 sha256:20:20; do
    IFS=: read -r md salt want <<<"$c"
    sig="dgst-$md-$salt.sig"
    expect_success hsm_openssl dgst "-$md" -sign "$KEY" "${PSS[@]}" \
        -sigopt "rsa_pss_saltlen:$salt" -out "$sig" data || continue
    expect_success plain_openssl dgst "-$md" -verify rsa.pub.pem "${PSS[@]}" \
        -sigopt "rsa_pss_saltlen:$want" -signature "$sig" data &&
        assert_output_contains "Verified OK"
    expect_failure_with "Verification failure" \
        plain_openssl dgst "-$md" -verify rsa.pub.pem "${PSS[@]}" \
        -sigopt "rsa_pss_saltlen:$((want - 1))" -signature "$sig" data
done
expect_success hsm_openssl dgst -sha384 -sign "$KEY" "${PSS[@]}" -sigopt rsa_mgf1_md:sha384 \
    -out dgst-mgf1.sig data &&
    expect_success plain_openssl dgst -sha384 -verify rsa.pub.pem "${PSS[@]}" \
        -sigopt rsa_mgf1_md:sha384 -sigopt rsa_pss_saltlen:auto -signature dgst-mgf1.sig data
expect_failure_with "Verification failure" \
    plain_openssl dgst -sha384 -verify rsa.pub.pem -signature dgst-mgf1.sig data

# ----------------------------------------------------- pkeyutl -sign
plain_openssl dgst -sha256 -binary -out data.sha256 data
for salt in digest 0 max; do
    sig="pkeyutl-$salt.sig"
    expect_success hsm_openssl pkeyutl -sign -inkey "$KEY" -pkeyopt rsa_padding_mode:pss \
        -pkeyopt digest:sha256 -pkeyopt "rsa_pss_saltlen:$salt" -in data.sha256 -out "$sig" ||
        continue
    check "$sig is 256 bytes" test "$(stat -c %s "$sig")" -eq 256
    expect_success plain_openssl pkeyutl -verify -pubin -inkey rsa.pub.pem \
        -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 -pkeyopt "rsa_pss_saltlen:$salt" \
        -in data.sha256 -sigfile "$sig" && assert_output_contains "Signature Verified Successfully"
    expect_success plain_openssl dgst -sha256 -verify rsa.pub.pem "${PSS[@]}" \
        -sigopt "rsa_pss_saltlen:$salt" -signature "$sig" data
done

# ------------------------------------------------------------- errors
expect_failure_with --any-file "PSS salt length 223 is too long" \
    hsm_openssl dgst -sha256 -sign "$KEY" "${PSS[@]}" -sigopt rsa_pss_saltlen:223 -out x.sig data
expect_failure_with "is too long for a 2048-bit key" \
    hsm_openssl req -new -x509 -key "$KEY" -subj /CN=x -days 1 -sha512 "${PSS[@]}" \
    -sigopt rsa_pss_saltlen:200 -out x.pem
expect_failure_with --any-file "PSS salt length 300 is too long" \
    hsm_openssl pkeyutl -sign -inkey "$KEY" -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 \
    -pkeyopt rsa_pss_saltlen:300 -in data.sha256 -out x.sig
expect_failure_with --any-file "CKM_RSA_PKCS_PSS" \
    hsm_openssl dgst -sha256 -sign "$KEY" "${PSS[@]}" -sigopt rsa_mgf1_md:sha512 -out x.sig data &&
    assert_output_contains "the token does not offer this mechanism"
expect_failure_with "CKM_RSA_PKCS_PSS" \
    hsm_openssl req -new -x509 -key "$KEY" -subj /CN=x -days 1 -sha384 "${PSS[@]}" \
    -sigopt rsa_mgf1_md:sha256 -out x.pem

# -------------------------------------------------- PSS-restricted key
# The token allows this key RSA-PSS only. Loading it must not need a
# PKCS#1 v1.5 signature, and PSS signatures must work.
expect_success p11 ca --login --pin "$USER_PIN" --keypairgen --key-type rsa:2048 --id 02 \
    --label pss-only --allowed-mechanisms RSA-PKCS-PSS,SHA256-RSA-PKCS-PSS &&
    save_token_pubkey ca 02 pss-only.pub.pem
expect_success hsm_openssl req -new -x509 -key "$(key_uri ca pss-only)" -subj /CN=pss-only \
    -days 30 "${PSS[@]}" -sigopt rsa_pss_saltlen:digest -out root-pss-only.pem &&
    verify_root root-pss-only.pem pss-only.pub.pem
# ... PSS is its default, and a PKCS#1 v1.5 signature asked for is refused
# before the token is asked, naming the restriction.
expect_success hsm_openssl req -new -x509 -key "$(key_uri ca pss-only)" -subj /CN=pss-default \
    -days 30 -out root-pss-only-default.pem &&
    verify_root root-pss-only-default.pem pss-only.pub.pem &&
    expect_success plain_openssl x509 -in root-pss-only-default.pem -noout -text &&
    assert_output_contains "Signature Algorithm: rsassaPss"
expect_failure_with "restricted to RSA-PSS" \
    hsm_openssl req -new -x509 -key "$(key_uri ca pss-only)" -subj /CN=pss-only -days 30 \
    -sigopt rsa_padding_mode:pkcs1 -out root-pss-only-pkcs1.pem

finish
