#!/usr/bin/env bash
# Story: an operator turns verify-after-sign off (verify-signatures = no) for
# speed. The normal path still signs validly (P-256 and RSA-2048, in a
# long-lived process and in new ones); a key swapped under the same id is
# still refused by revalidation; and the stale-cache story (a middleware
# view of old key A while the token signs with B) still fails at load, by
# the possession proof, in the long-lived process and a new one, and
# `openssl req -x509` writes no certificate. A key loaded before the cache
# went stale must not hand out a signature that does not verify either.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 k
make_key ca rsa:2048 02 r
require
save_token_pubkey ca 01 k.pem
save_token_pubkey ca 02 r.pem
policy_cnf nover.cnf "$SOFTHSM_MODULE" verify-signatures=no

uri_k="pkcs11:token=ca;id=%01;object=k;type=private?pin-value=$USER_PIN"
uri_r="pkcs11:token=ca;id=%02;object=r;type=private?pin-value=$USER_PIN"

# 1. Sanity: valid signatures with verification off.
holder_start nover.cnf || finish
holder_load_ok "loads k with verify-signatures = no" k "$uri_k"
holder_load_ok "loads r with verify-signatures = no" r "$uri_r"
holder_pub_is "k is the token's k" k k.pem
holder_pub_is "r is the token's r" r r.pem
for md in SHA256 SHA384 SHA512; do
    holder_sign_ok "k signs ($md)" k "$DATA" "$md"
    holder_sign_ok "r signs ($md)" r "$DATA" "$md"
done
expect_success cnf_openssl nover.cnf dgst -sha256 -sign "$uri_k" -out k.sig "$DATA" &&
    verify_sig "a new process's k signature verifies" k.pem k.sig "$DATA"
expect_success cnf_openssl nover.cnf req -new -x509 -key "$uri_r" -subj /CN=Root -days 30 \
    -out root-r.pem && verify_root root-r.pem r.pem

# RSA signatures are verified even here: checking one costs less than the
# attribute read that would confirm the handle, and names the key more
# surely (docs/design.md, "Where each signature's check comes from").
LOG=$TMP/rsa-debug.log
HSM_DEBUG_LOG=$LOG HSM_DEBUG_LEVEL=2 expect_success cnf_openssl nover.cnf dgst -sha256 \
    -sign "$uri_r" -out r.sig "$DATA" && verify_sig "the RSA signature verifies" r.pem r.sig "$DATA"
check "the RSA signature was checked by verification" \
    grep -q "C_Sign -> CKR_OK (.*id=%02.*checked by verification)" "$LOG"
check_not "... and no attribute read confirmed its handle" grep -q "handle check" "$LOG"

# 2. Revalidation does not depend on verify-after-sign: a swapped key is
# refused, and a reload gives the new key.
require_step delete_key ca 01
require_step make_key ca EC:prime256v1 01 k
save_token_pubkey ca 01 k2.pem
holder_sign_fails_with "$R_CHANGED" "k after the swap, verification off" k "$DATA"
restart_equivalence "k swapped, verification off" k "$uri_k" ca 01
holder_pub_is "the reload is the new k" k k2.pem
holder_sign_ok "the new k signs" k "$DATA"
require_step delete_key ca 02
require_step make_key ca rsa:2048 02 r
save_token_pubkey ca 02 r2.pem
holder_sign_fails_with "$R_CHANGED" "r after the swap, verification off" r "$DATA"
restart_equivalence "r swapped, verification off" r "$uri_r" ca 02
holder_pub_is "the reload is the new r" r r2.pem
holder_sign_ok "the new r signs" r "$DATA"
holder_stop

# 3. The stale cache, through the shim, verification off.
need_shim
SNAP="$TMP/cache.snap"
policy_cnf shim-nover.cnf "$HSM_FAULT_SHIM" verify-signatures=no
uri="pkcs11:token=ca;id=%01;object=k;type=private?pin-value=$USER_PIN"
shim_control "snapshot-save $SNAP"
expect_success cnf_openssl shim-nover.cnf pkey -in "$uri" -pubout -out A.pem &&
    same_pubkey "through the shim the key is the token's k (A)" A.pem k2.pem
check "the stale view was recorded" test -s "$SNAP"
shim_control
holder_start shim-nover.cnf || finish
holder_load_ok "a server loads A (verification off)" A "$uri"
holder_sign_ok "the server signs with A" A "$DATA"

require_step expect_success softhsm2-util --init-token --slot "$TOKEN_SLOT" --label ca \
    --so-pin "$SO_PIN" --pin "$USER_PIN"
require_step make_key ca EC:prime256v1 01 k
save_token_pubkey ca 01 B.pem
shim_control "snapshot-serve $SNAP"

expect_failure_with "$R_POSSESSION" cnf_openssl shim-nover.cnf req -new -x509 -key "$uri" \
    -subj /CN=Root -days 3650 -out root-stale.pem
expect_failure_with --any-file "$R_POSSESSION" cnf_openssl shim-nover.cnf dgst -sha256 \
    -sign "$uri" -out stale.sig "$DATA"
restart_equivalence "stale cache, verification off" A-fresh "$uri" ca 01 "$R_POSSESSION"
# The key loaded before the cache went stale: the token now signs with B
# under A's name. Whatever the provider does, the signature it returns (if
# any) must verify under A, the key the server was given.
holder_sign_fails_clearly "the server signing with A under the stale cache, verification off" \
    A "$DATA"

shim_control
expect_success cnf_openssl shim-nover.cnf req -new -x509 -key "$uri" -subj /CN=Root \
    -days 3650 -out root-B.pem && verify_root root-B.pem B.pem

policy_finish
