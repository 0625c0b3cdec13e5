#!/usr/bin/env bash
# Story: certificates come and go under a key's CKA_ID. A certificate for a
# DIFFERENT key written under the key's id (a stale or mistaken import) makes
# every fresh load fail with "public key views of the key disagree", naming
# both views, in a long-lived process and in a new one alike, and no
# certificate can be issued with the key; once it is deleted, loads work
# again and equal the token. A certificate for the SAME key (issued through
# the provider with `openssl req -x509`) is accepted. Signatures by a key
# loaded before the change either verify or are refused clearly.
# For P-256 and RSA-2048.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 k
make_key ca rsa:2048 02 r
require
policy_cnf softhsm.cnf "$SOFTHSM_MODULE"
holder_start softhsm.cnf || finish

# A certificate for a key that is not on the token, made by plain OpenSSL.
plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout stranger.key -subj /CN=stranger -days 30 -outform DER -out stranger.der 2>/dev/null
check "a stranger's certificate was made" test -s stranger.der
require

for spec in "01 k P-256" "02 r RSA-2048"; do
    read -r id label kind <<<"$spec"
    uri="pkcs11:token=ca;id=%$id;object=$label;type=private?pin-value=$USER_PIN"
    save_token_pubkey ca "$id" "$label.pem"
    holder_load_ok "loads $label ($kind) with no certificate" "$label" "$uri"
    holder_sign_ok "signs with $label" "$label" "$DATA"

    # 1. A certificate for a different key appears under the key's id.
    require_step p11 ca --write-object stranger.der --type cert --id "$id" --label "$label"
    restart_equivalence "$label with a stranger's certificate under its id" "$label-fresh" "$uri" \
        ca "$id" "$R_VIEWS"
    holder_load_fails_with "$R_VIEWS" "fresh load of $label with a stranger's certificate" \
        "$label-fresh" "$uri" &&
        {
            check "the error names the certificate view" grep -qF "certificate (handle" <<<"$HOLDER_REPLY"
            check "the error names the key's own view" \
                grep -qE "the (private key's own|public key object)[^;]* \(SHA-256 [0-9a-f]{64}\) and the certificate" \
                <<<"$HOLDER_REPLY"
            check "the error gives the stranger's fingerprint" \
                grep -qF "$(plain_openssl x509 -inform DER -in stranger.der -pubkey -noout |
                    plain_openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)" <<<"$HOLDER_REPLY"
        }
    expect_failure_with "$R_VIEWS" cnf_openssl softhsm.cnf req -new -x509 -key "$uri" \
        -subj /CN=Root -days 30 -out "root-$label-stranger.pem"
    # The key loaded before the certificate appeared: its private key is
    # untouched, so it may sign (validly, checked) or refuse clearly.
    holder_sign_valid_or_clear "the key $label loaded before the certificate" "$label" "$DATA"

    # 2. The stranger's certificate is deleted: loads work again.
    require_step p11 ca --delete-object --type cert --id "$id"
    restart_equivalence "$label after the certificate was deleted" "$label-fresh" "$uri" ca "$id"
    holder_pub_is "the reload is still the token's $label" "$label-fresh" "$label.pem"
    holder_sign_ok "signs with the reloaded $label" "$label-fresh" "$DATA"

    # 3. A certificate for the same key, issued through the provider.
    expect_success cnf_openssl softhsm.cnf req -new -x509 -key "$uri" -subj "/CN=$label" \
        -days 30 -out "own-$label.pem" &&
        verify_root "own-$label.pem" "$label.pem"
    plain_openssl x509 -in "own-$label.pem" -outform DER -out "own-$label.der" 2>/dev/null
    require_step p11 ca --write-object "own-$label.der" --type cert --id "$id" --label "$label"
    restart_equivalence "$label with its own certificate under its id" "$label-fresh" "$uri" \
        ca "$id"
    holder_sign_ok "signs with $label loaded beside its own certificate" "$label-fresh" "$DATA"
    holder_sign_ok "the key loaded before still signs" "$label" "$DATA"
    # The certificate itself is read back through the provider, unchanged.
    expect_success cnf_openssl softhsm.cnf x509 \
        -in "pkcs11:token=ca;id=%$id;type=cert?pin-value=$USER_PIN" -out "own-$label.back.pem" &&
        check "the certificate read through the provider is the one written" \
            cmp -s <(plain_openssl x509 -in "own-$label.back.pem" -outform DER) "own-$label.der"
done

# A stranger's certificate under an unrelated id leaves the keys alone.
require_step p11 ca --write-object stranger.der --type cert --id 09 --label stranger
restart_equivalence "k beside an unrelated certificate" k-fresh \
    "pkcs11:token=ca;id=%01;object=k;type=private?pin-value=$USER_PIN" ca 01

policy_finish
