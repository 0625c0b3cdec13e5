#!/usr/bin/env bash
# Story: a server holds keys loaded from its module's token; another process
# deletes one. The server's next signature is refused with a provider
# reason and writes nothing; a fresh load in the server fails exactly as in
# a new process ("no object matches the URI"); a bystander key still signs.
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

for spec in $(key_ids); do
    require_step drv_keygen "${spec%%:*}" "${spec#*:}" "k${spec#*:}"
done
require_step drv_keygen rsa 03 bystander
holder_start "$MOD_CNF" || finish
holder_load_ok "loads the bystander" b "$(mod_uri 03)"
for spec in $(key_ids); do
    type=${spec%%:*} id=${spec#*:}
    holder_load_ok "loads $type" "$type" "$(mod_uri "$id")"
    holder_sign_ok "signs with $type" "$type" "$DATA"
    require_step drv_delete "$id"
    holder_sign_fails_clearly "signing with the deleted $type" "$type" "$DATA"
    restart_equivalence "$type deleted" "$type" "$(mod_uri "$id")" "$TOKEN" "$id" "$R_NO_OBJECT"
    holder_sign_ok "the bystander still signs" b "$DATA"
done
policy_finish
