#!/usr/bin/env bash
# Story: a server holds a key; the token is re-initialised (every object
# gone) under the same label and a new key is made under the old id and
# label. The server's next signature is refused with a provider reason;
# a reload gives the new key, as a new process does. openCryptoki refuses
# C_InitToken while sessions are open (CKR_SESSION_EXISTS): there the test
# shows the refusal and the server signing on.
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

for spec in $(key_ids); do
    require_step drv_keygen "${spec%%:*}" "${spec#*:}" "k${spec#*:}"
done
holder_start "$MOD_CNF" || finish
for spec in $(key_ids); do
    type=${spec%%:*} id=${spec#*:}
    holder_load_ok "loads $type" "$type" "$(mod_uri "$id")"
    holder_sign_ok "signs with $type" "$type" "$DATA"
    save_token_pubkey "$TOKEN" "$id" "old-$id.pem"
done
if cannot reinit-with-sessions; then
    # The story cannot happen on this module: it refuses to re-initialise
    # a token while a process holds sessions on it.
    echo "cannot show: ${WHY[reinit-with-sessions]}"
    # The driver's failure is the refusal expected here: not counted.
    failed_before=$FAILED
    drv_reinit_token >/dev/null
    FAILED=$failed_before
    check "the module refused to re-initialise the token under the holder" \
        grep -q CKR_SESSION_EXISTS "$TMP/log/ock-init.out"
    for spec in $(key_ids); do
        holder_sign_ok "still signs with ${spec%%:*}" "${spec%%:*}" "$DATA"
    done
    policy_finish
fi
require_step drv_reinit_token
for spec in $(key_ids); do
    require_step drv_keygen "${spec%%:*}" "${spec#*:}" "k${spec#*:}"
done
for spec in $(key_ids); do
    type=${spec%%:*} id=${spec#*:}
    save_token_pubkey "$TOKEN" "$id" "new-$id.pem"
    holder_sign_fails_clearly "signing with $type after the re-initialisation" "$type" "$DATA"
    restart_equivalence "token re-initialised, $type" "$type" "$(mod_uri "$id")" "$TOKEN" "$id"
    holder_pub_is "the reload is the new key" "$type" "new-$id.pem"
    holder_sign_ok "signs with the new $type" "$type" "$DATA"
done
policy_finish
