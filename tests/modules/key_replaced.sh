#!/usr/bin/env bash
# Story (the signing server's): a server holds a key; another process
# deletes it and makes a new key under the same id and label. The server
# never signs with the deleted key nor, silently, with the new one: its
# next signature is refused ("key changed on token since it was loaded");
# a reload in the server gives the new key, as a new process does, and
# signs with it. On tpm2-pkcs11, which keeps its object list for the life
# of the process, this holds only because the provider re-initialises the
# module when the token's objects changed (cache/module_caching.c).
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

for spec in $(key_ids); do
    require_step drv_keygen "${spec%%:*}" "${spec#*:}" "k${spec#*:}"
done
holder_start "$MOD_CNF" || finish
for spec in $(key_ids); do
    type=${spec%%:*} id=${spec#*:}
    uri=$(mod_uri "$id")
    save_token_pubkey "$TOKEN" "$id" "old-$id.pem"
    holder_load_ok "loads $type" "$type" "$uri"
    holder_pub_is "the holder was given the token's key" "$type" "old-$id.pem"
    holder_sign_ok "signs with $type before the change" "$type" "$DATA"

    require_step drv_delete "$id"
    require_step drv_keygen "$type" "$id" "k$id"
    save_token_pubkey "$TOKEN" "$id" "new-$id.pem"
    check "$type: the token's new key is a different key" \
        test "$(spki_sha256 "old-$id.pem")" != "$(spki_sha256 "new-$id.pem")"

    holder_sign_fails_with "$R_CHANGED" "signing with $type after the swap" "$type" "$DATA"
    restart_equivalence "after the swap of $type" "$type" "$uri" "$TOKEN" "$id"
    holder_pub_is "the holder's reload gives the new key" "$type" "new-$id.pem"
    holder_sign_ok "signs with the reloaded $type" "$type" "$DATA" &&
        verify_sig "$type: the signature verifies under the token's new key" "new-$id.pem" \
            "$LAST_SIG" "$DATA" &&
        check_not "$type: ... and not under the deleted key" \
            plain_openssl dgst -sha256 -verify "old-$id.pem" -signature "$LAST_SIG" "$DATA"
done
policy_finish
