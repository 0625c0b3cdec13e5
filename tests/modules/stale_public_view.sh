#!/usr/bin/env bash
# Story: a stale public view: another process leaves a public key object
# of another key under the key's id (a middleware or a careless tool).
# Loading the key fails in a server and in a new process alike: "public
# key views of the key disagree", or, where the module shows only the
# planted view (NSS softoken keeps one public key object per id), "token
# key failed the possession proof"; nothing signs with a key whose views
# disagree. A module that does not let a test create such an object
# (tpm2-pkcs11 imports no public keys) cannot show the story: the test says
# so and checks that the module refused.
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

spec=$(key_ids)
spec=${spec%% *}
type=${spec%%:*} id=${spec#*:}
require_step drv_keygen "$type" "$id" "k$id"
require_step drv_keygen "$type" 09 other
save_token_pubkey "$TOKEN" 09 other.pem
holder_start "$MOD_CNF" || finish
holder_load_ok "loads $type before the stale view appears" "$type" "$(mod_uri "$id")"
if cannot create-pubkey; then
    echo "cannot show: ${WHY[create-pubkey]}"
    _run p11tool putpub "$id" "k$id" other.pem
    check "the module refuses to create a public key object" test "$LAST_RC" -ne 0
    policy_finish
fi
require_step expect_success p11tool putpub "$id" "k$id" other.pem
restart_equivalence "a stale public view under $type's id" "$type" "$(mod_uri "$id")" \
    "$TOKEN" "$id"
case "$HOLDER_REPLY" in
*"$R_VIEWS"* | *"$R_POSSESSION"*) pass "the holder's load names the disagreement" ;;
*) fail "the holder's load does not name the disagreement" && _show_reply ;;
esac
policy_finish
