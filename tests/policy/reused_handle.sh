#!/usr/bin/env bash
# Story: tokens reuse object handle numbers (SoftHSMv2 after C_Initialize,
# many cards always), so a handle a server remembers can silently name
# another object. With the fault shim's reuse-handles, a server loads key A;
# another process deletes A and makes a different key C; the server's module
# then hands C the number A had. The server's next signature with A must not
# be made with C: it is refused with a clear error, and no signature is ever
# returned that fails to verify under A. If A comes back (the same key
# imported again), A signs again. Also with the new key under A's own id,
# with verify-after-sign on and off, and once A's signatures are verified
# with its P-256 table.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

make_token ca
require
# Key A is made in software and imported, so that it can be imported again.
plain_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out A.key.pem 2>/dev/null
plain_openssl pkey -in A.key.pem -outform DER -out A.der
plain_openssl pkey -in A.key.pem -pubout -out A.pem
plain_openssl pkey -in A.key.pem -pubout -outform DER -out A.pub.der

# import_A ID : writes key A (private and public key objects) under ID.
import_A() {
    require_step p11 ca --write-object A.der --type privkey --id "$1" --label a --usage-sign
    require_step p11 ca --write-object A.pub.der --type pubkey --id "$1" --label a
}

# first_handle_check : the result of the first use of the remembered handle
# since the shim log was emptied: the provider's attribute check of it, or,
# when the signature is verified afterwards anyway, its C_SignInit.
first_handle_check() {
    awk '$1 == "C_GetAttributeValue" || $1 == "C_SignInit" { print $2; exit }' "$HSM_SHIM_LOG"
}

policy_cnf shim.cnf "$HSM_FAULT_SHIM"
policy_cnf shim-nover.cnf "$HSM_FAULT_SHIM" verify-signatures=no
uri_a="pkcs11:token=ca;id=%01;object=a;type=private?pin-value=$USER_PIN"
# The shim gives the lowest freed number to the next object the module
# meets. A load by id meets every object with that id at once (the public
# key too, in the token's order); a load by label and class meets the
# private key first. The server loads by label, so that each private key is
# numbered before its public key and a replacement takes exactly A's number.
uri_a_label="pkcs11:token=ca;object=a;type=private?pin-value=$USER_PIN"
shim_control reuse-handles

# 1. A is replaced by C under a different id; C takes A's number. The
# server has signed long enough with A for its signatures to be verified
# with A's P-256 table (cache/p256_verify.c), so that verifier must refuse
# C's signature.
import_A 01
holder_start shim.cnf HSM_DEBUG_LOG="$TMP/holder1-debug.log" HSM_DEBUG_LEVEL=1 || finish
holder_load_ok "loads A" A "$uri_a_label"
holder_pub_is "the server was given A" A A.pem
holder_repeat_ok "A signs 100 times in a row" A 100 "$DATA"
check "within its first 100 signatures, A's are verified with A's P-256 table" \
    grep -q "P-256 verification table in use after" "$TMP/holder1-debug.log"
holder_sign_ok "signs with A" A "$DATA"
require_step delete_key ca 01
require_step make_key ca EC:prime256v1 02 c
save_token_pubkey ca 02 C.pem
# The server's module meets C (a load by another name), and numbers it.
holder_load_ok "loads C (the shim gives it A's freed number)" C \
    "pkcs11:token=ca;object=c;type=private?pin-value=$USER_PIN"
: >"$HSM_SHIM_LOG"
holder_sign_fails_clearly "signing with A after C took its handle number" A "$DATA"
check "the remembered handle of A named a live object (C): it was reused" \
    test "$(first_handle_check)" = CKR_OK
check "... and the refusal is not a signature by C" grep -qF "$R_CHANGED" <<<"$HOLDER_REPLY"
restart_equivalence "A deleted, C under id 02" A-fresh "$uri_a" ca 01 "$R_NO_OBJECT"
holder_sign_ok "C signs under its own name" C "$DATA" &&
    verify_sig "... under C's token key" C.pem "$LAST_SIG" "$DATA"

# 2. A comes back (the same key, imported again): A signs again.
import_A 01
holder_sign_ok "A signs again once the same key is back under its id" A "$DATA" &&
    verify_sig "... under A" A.pem "$LAST_SIG" "$DATA"
restart_equivalence "A back under id 01" A-fresh "$uri_a" ca 01
holder_pub_is "the reload is A" A-fresh A.pem

# 3. A is replaced by D under A's own id; D takes A's number.
require_step delete_key ca 01
require_step make_key ca EC:prime256v1 01 a
save_token_pubkey ca 01 D.pem
holder_load_ok "loads D under A's id (it gets A's freed number)" D "$uri_a_label"
holder_pub_is "the fresh load is D" D D.pem
: >"$HSM_SHIM_LOG"
holder_sign_fails_clearly "signing with A after D, same id, took its handle number" A "$DATA"
check "the remembered handle of A named a live object (D): it was reused" \
    test "$(first_handle_check)" = CKR_OK
REUSED_SAME_ID_REFUSAL=$REFUSAL
restart_equivalence "D under A's id" A-fresh "$uri_a" ca 01
holder_pub_is "the reload is D" A-fresh D.pem
holder_stop

# 4. The same with verify-after-sign off: only revalidation stands between
# the server and a signature by D under A's name.
require_step delete_key ca 01
import_A 01
holder_start shim-nover.cnf || finish
holder_load_ok "verification off: loads A" A "$uri_a_label"
holder_sign_ok "verification off: signs with A" A "$DATA"
require_step delete_key ca 01
require_step make_key ca EC:prime256v1 01 a
save_token_pubkey ca 01 E.pem
holder_load_ok "verification off: loads E under A's id (it gets A's freed number)" E \
    "$uri_a_label"
: >"$HSM_SHIM_LOG"
holder_sign_fails_clearly "verification off: signing with A after E, same id, took its number" \
    A "$DATA"
check "the remembered handle of A named a live object (E): it was reused" \
    test "$(first_handle_check)" = CKR_OK
if [ "$SIGN_OK" = 1 ] && plain_openssl dgst -sha256 -verify E.pem -signature "$LAST_SIG" \
    "$DATA" >/dev/null 2>&1; then
    echo "  the signature returned under A's name was made by E (verifies under E.pem)"
fi
restart_equivalence "verification off: E under A's id" A-fresh "$uri_a" ca 01

# 5. A (now E's key) loses its number to a key of another type (RSA key
# F). A is verified after each signature, so its handle is not checked
# first: the token refuses the ECDSA signature with an RSA key (SoftHSMv2
# accepts C_SignInit and fails C_Sign with CKR_GENERAL_ERROR), and that
# refusal must send the provider looking for A again, not be reported as
# the token's failure.
holder_start shim.cnf || finish
holder_load_ok "loads A again" A "$uri_a_label"
holder_pub_is "... which is E now" A E.pem
require_step delete_key ca 01
require_step make_key ca rsa:2048 04 f
holder_load_ok "loads F, an RSA key (it gets A's freed number)" F \
    "pkcs11:token=ca;object=f;type=private?pin-value=$USER_PIN"
: >"$HSM_SHIM_LOG"
holder_sign_fails_with "$R_CHANGED" "signing with A after RSA key F took its number" A "$DATA"
check "the remembered handle of A named F: the token refused the signature itself" \
    awk '($1 == "C_SignInit" || $1 == "C_Sign") && $2 != "CKR_OK" { bad = 1 } END { exit !bad }' \
    "$HSM_SHIM_LOG"
holder_stop

echo "--- same-id reuse with verification on was refused with: ${REUSED_SAME_ID_REFUSAL:-nothing}"
policy_finish
