#!/usr/bin/env bash
# Story: a CA server has a token key loaded and signs with it. Another
# process deletes the key pair and makes a new one under the same CKA_ID and
# label (pkcs11-tool). The server's next signature is refused with "key
# changed on token since it was loaded" and writes nothing (never a
# signature by the new key under the old key's name, never one by the
# deleted key); loading the URI again gives the new key, exactly as a new
# process and the token itself show it, and it then signs validly.
# For P-256 and RSA-2048.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 k
make_key ca rsa:2048 02 r
require
policy_cnf softhsm.cnf "$SOFTHSM_MODULE"
holder_start softhsm.cnf || finish

for spec in "EC:prime256v1 01 k" "rsa:2048 02 r"; do
    read -r type id label <<<"$spec"
    uri="pkcs11:token=ca;id=%$id;object=$label;type=private?pin-value=$USER_PIN"
    save_token_pubkey ca "$id" "old-$label.pem"
    holder_load_ok "loads $label ($type)" "$label" "$uri"
    holder_pub_is "the holder was given the token's key $label" "$label" "old-$label.pem"
    holder_sign_ok "signs with $label before the change" "$label" "$DATA"
    # The same key loaded a second time, by id only: both names must notice.
    holder_load_ok "loads $label again by id only" "$label-byid" \
        "pkcs11:token=ca;id=%$id;type=private?pin-value=$USER_PIN"

    # Another process replaces the key pair under the same id and label.
    require_step delete_key ca "$id"
    require_step make_key ca "$type" "$id" "$label"
    save_token_pubkey ca "$id" "new-$label.pem"
    check "the token's new $label is a different key" \
        test "$(spki_sha256 "old-$label.pem")" != "$(spki_sha256 "new-$label.pem")"

    holder_sign_fails_with "$R_CHANGED" "signing with $label after the swap" "$label" "$DATA" &&
        {
            check "the refusal names the loaded key's fingerprint" \
                grep -qF "$(spki_sha256 "old-$label.pem")" <<<"$HOLDER_REPLY"
            check "the refusal names the token's new key's fingerprint" \
                grep -qF "$(spki_sha256 "new-$label.pem")" <<<"$HOLDER_REPLY"
        }
    # Refused again: the key is not silently switched on a second attempt.
    holder_sign_fails_with "$R_CHANGED" "signing with $label a second time" "$label" "$DATA"
    holder_sign_fails_with "$R_CHANGED" "signing with $label (loaded by id) after the swap" \
        "$label-byid" "$DATA"

    restart_equivalence "after the swap of $label" "$label" "$uri" ca "$id"
    holder_pub_is "the holder's reload gives the new $label" "$label" "new-$label.pem"
    holder_sign_ok "signs with the reloaded $label" "$label" "$DATA" &&
        verify_sig "the signature verifies under the token's new $label" "new-$label.pem" \
            "$LAST_SIG" "$DATA" &&
        check_not "the signature does not verify under the old $label" \
            plain_openssl dgst -sha256 -verify "old-$label.pem" -signature "$LAST_SIG" "$DATA"
    # The old handle of the by-id name still refuses; a reload recovers it.
    holder_sign_fails_with "$R_CHANGED" "the stale by-id name still refuses" "$label-byid" "$DATA"
done

policy_finish
