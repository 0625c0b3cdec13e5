#!/usr/bin/env bash
# Story: the provider is loaded each of the three ways the issue promises,
# and each signs with a token key: (1) on the command line (-provider-path
# or OPENSSL_MODULES, -provider hsm -provider default); (2) from an
# openssl.cnf that .includes the shipped openssl.cnf.d/hsm.cnf; (3) from a C
# program with OSSL_PROVIDER_load(NULL, "hsm") (examples/sign_with_uri).
# `openssl list -providers` shows its name, version and status.
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

make_token ca
make_key ca EC:prime256v1 01 p256
make_key ca rsa:2048 02 rsa2048
require
save_token_pubkey ca 01 p256.pub.pem
save_token_pubkey ca 02 rsa2048.pub.pem
plain_openssl rand -out data 4096

# hsm_block FILE : the lines `openssl list -providers` prints for hsm.
hsm_block() {
    awk '/^  [^ ]/ { inside = ($1 == "hsm") } inside' "$1"
}

# check_listing DESC : the last command listed hsm, active, with a version.
check_listing() {
    hsm_block "$LAST_OUT" >"$TMP/block"
    check "$1: hsm is listed" test -s "$TMP/block"
    check "$1: hsm names itself hsm" grep -qiE '^ +name: .*hsm' "$TMP/block"
    check "$1: hsm has a version" grep -qE '^ +version: +[0-9]+\.[0-9]+' "$TMP/block"
    if [ -n "${HSM_VERSION:-}" ]; then
        check "$1: hsm version is $HSM_VERSION" grep -qE "^ +version: +$HSM_VERSION\$" "$TMP/block"
    fi
    check "$1: hsm status is active" grep -qE '^ +status: +active$' "$TMP/block"
}

# 1. Command line.
expect_success hsm_openssl list -providers && check_listing "openssl list -providers -provider hsm"
expect_success hsm_openssl dgst -sha256 -sign "$(key_uri ca p256)" -out cli.sig data &&
    expect_success plain_openssl dgst -sha256 -verify p256.pub.pem -signature cli.sig data
expect_success modules_openssl dgst -sha256 -sign "$(key_uri ca rsa2048)" -out modules.sig data &&
    expect_success plain_openssl dgst -sha256 -verify rsa2048.pub.pem -signature modules.sig data

# 2. Configuration: the shipped snippet, included; no -provider flags.
snippet="$HSM_SOURCE_ROOT/openssl.cnf.d/hsm.cnf"
check "the snippet $snippet is shipped" test -f "$snippet"
write_snippet_cnf snippet.cnf
expect_success cnf_openssl snippet.cnf list -providers &&
    check_listing "openssl.cnf with .include hsm.cnf"
expect_success cnf_openssl snippet.cnf dgst -sha256 -sign "$(key_uri ca p256)" -out cnf.sig data &&
    expect_success plain_openssl dgst -sha256 -verify p256.pub.pem -signature cnf.sig data
expect_success cnf_openssl snippet.cnf req -new -x509 -key "$(key_uri ca rsa2048)" \
    -subj /CN=Root -days 30 -out cnf-root.pem && verify_root cnf-root.pem rsa2048.pub.pem

# 3. The C example, EVP_DigestSign through OSSL_STORE_open_ex.
for c in p256:sha256 p256:sha384 rsa2048:sha256 rsa2048:sha512; do
    key=${c%%:*} md=${c#*:}
    expect_success example_sign "$(key_uri ca "$key")" data "example-$key-$md.sig" "$md" &&
        expect_success plain_openssl dgst "-$md" -verify "$key.pub.pem" \
            -signature "example-$key-$md.sig" data &&
        assert_output_contains "Verified OK"
done
# default digest: SHA-256
expect_success example_sign "$(key_uri ca p256)" data example-default.sig &&
    expect_success plain_openssl dgst -sha256 -verify p256.pub.pem \
        -signature example-default.sig data
# A failure is reported with OpenSSL's error queue, no signature written.
expect_failure_with --no-file example-none.sig "no object matches the URI" \
    example_sign "$(key_uri ca nosuchkey)" data example-none.sig

finish
