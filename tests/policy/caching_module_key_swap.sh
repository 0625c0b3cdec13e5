#!/usr/bin/env bash
# Story (issue 18, the signing server's): the module keeps its own object
# list for the life of the process (tpm2-pkcs11 on a software TPM). A
# server holds a key; another process deletes it and makes a new key with
# the same id and label. Before the provider watched the module's store,
# the server went on signing with the deleted key and a reload in the
# server returned the deleted key; only a new process got the new key.
# Now: the server's next signature is refused ("key changed on token since
# it was loaded"), never made with the deleted key; a bystander key held by
# the same server still signs (the re-initialisation does not disturb it);
# a reload gives the new key, exactly as a new process and the token show
# it; and the module was initialised again for the change, not on every
# signature.
HSM_MODULE_DRIVER=tpm2
export HSM_MODULE_DRIVER
# shellcheck source=../modules/modules_lib.sh disable=SC2317
. "$(dirname "$0")/../modules/modules_lib.sh"

export HSM_DEBUG_LOG="$TMP/log/hsm-debug.log" HSM_DEBUG_LEVEL=1
require_step drv_keygen ec 01 k
require_step drv_keygen rsa 02 bystander
save_token_pubkey "$TOKEN" 01 old-k.pem
holder_start "$MOD_CNF" || finish
uri=$(mod_uri 01)
holder_load_ok "loads k" k "$uri"
holder_load_ok "loads the bystander" b "$(mod_uri 02)"
holder_sign_ok "signs with k" k "$DATA"
holder_repeat_ok "20 signatures with k before the change" k 20 "$DATA"

# Another process replaces k under the same id and label.
require_step drv_delete 01
require_step drv_keygen ec 01 k
save_token_pubkey "$TOKEN" 01 new-k.pem
check "the token's new k is a different key" \
    test "$(spki_sha256 old-k.pem)" != "$(spki_sha256 new-k.pem)"

holder_sign_fails_with "$R_CHANGED" "signing with the deleted k" k "$DATA"
holder_sign_fails_with "$R_CHANGED" "signing with the deleted k again" k "$DATA"
holder_sign_ok "the bystander still signs" b "$DATA"
holder_repeat_ok "20 signatures with the bystander after the change" b 20 "$DATA"
restart_equivalence "after the swap" k "$uri" "$TOKEN" 01
holder_pub_is "the holder's reload is the new k" k new-k.pem
holder_sign_ok "signs with the new k" k "$DATA" &&
    verify_sig "the signature verifies under the token's new k" new-k.pem "$LAST_SIG" "$DATA" &&
    check_not "... and not under the deleted k" \
        plain_openssl dgst -sha256 -verify old-k.pem -signature "$LAST_SIG" "$DATA"
holder_pid=$HOLDER_PID
holder_stop
# One at start and one for the change; the first operation with a held key
# after any re-initialisation meets its token record of the old generation,
# which counts as a sign of its own (cache/key_revalidate.c) and may add a
# second. More would mean re-initialising per signature (22 were made after
# the change).
inits=$(grep -c "hsm\[$holder_pid/[0-9]*\] C_Initialize -> CKR_OK" "$HSM_DEBUG_LOG")
check "the holder initialised the module at start and again for the one change only (saw $inits)" \
    test "$inits" -ge 2 -a "$inits" -le 3
policy_finish
