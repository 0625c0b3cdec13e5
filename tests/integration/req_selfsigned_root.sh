#!/usr/bin/env bash
# Story: a CA operator makes a self-signed root with `openssl req -new -x509`
# and a key that never leaves the token. For EC P-256, P-384 and RSA-2048 and
# each of SHA-256/384/512, the root must verify with plain OpenSSL (its own
# signature checked: -check_ss_sig) and carry the token's public key.
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

make_token ca
make_key ca EC:prime256v1 01 p256
make_key ca EC:secp384r1 02 p384
make_key ca rsa:2048 03 rsa2048
require

for key in p256:01:ecdsa-with-SHA rsa2048:03:WithRSAEncryption p384:02:ecdsa-with-SHA; do
    IFS=: read -r label id alg <<<"$key"
    save_token_pubkey ca "$id" "$label.pub.pem"
    for md in sha256 sha384 sha512; do
        root="root-$label-$md.pem"
        expect_success hsm_openssl req -new -x509 -key "$(key_uri ca "$label")" \
            -subj /CN=Root -days 30 "-$md" -out "$root" || continue
        verify_root "$root" "$label.pub.pem"
        case "$alg" in
        ecdsa*) want="Signature Algorithm: $alg${md#sha}" ;;
        *) want="Signature Algorithm: $md$alg" ;;
        esac
        expect_success plain_openssl x509 -in "$root" -noout -text &&
            assert_output_contains "$want"
    done
    # The check above can fail: a root whose signature was damaged is refused.
    if tamper_pem "root-$label-sha256.pem" "bad-$label.pem" x509; then
        expect_failure_with "certificate signature failure" \
            plain_openssl verify -check_ss_sig -CAfile "bad-$label.pem" "bad-$label.pem"
    else
        fail "could not make a damaged copy of root-$label-sha256.pem"
    fi
done

# The URI form of the design document: by id instead of label.
expect_success hsm_openssl req -new -x509 \
    -key "pkcs11:token=ca;id=%01;type=private?pin-value=$USER_PIN" \
    -subj /CN=Root -days 30 -out root-by-id.pem &&
    verify_root root-by-id.pem p256.pub.pem

finish
