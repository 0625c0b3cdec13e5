#!/usr/bin/env bash
# Story (issue 4, the operator's): an operator re-initialised a token,
# generated a new EC key, and got a root certificate from `openssl req` whose
# signature did not verify, because a middleware cache (OpenSC's file cache)
# kept serving the old key's id, public key object and attributes, all
# consistent with each other, while the card signed with its new key.
#
# The fault-injection shim plays that cache: snapshot-save records the token
# while it holds key A; the token is re-initialised and gets key B (under the
# same id, then under a new one); snapshot-serve then shows A while the token
# signs with B. Through the provider:
#   - `openssl req -new -x509` fails with "token key failed the possession
#     proof" and writes no certificate;
#   - with check-possession = no it fails with "token signed with a key that
#     does not match its published public key" and writes no certificate;
#   - a server that loaded A before the change refuses to sign;
#   - with the cache cleared (no shim directive) the root is made, verifies
#     with plain `openssl verify -check_ss_sig`, and carries key B.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

SNAP="$TMP/opensc-cache.snap"

make_token ca
require
policy_cnf shim.cnf "$HSM_FAULT_SHIM"
policy_cnf shim-nocheck.cnf "$HSM_FAULT_SHIM" check-possession=no

# reinit_ca : the operator re-initialises token ca in place (same label).
reinit_ca() {
    require_step expect_success softhsm2-util --init-token --slot "$TOKEN_SLOT" --label ca \
        --so-pin "$SO_PIN" --pin "$USER_PIN"
}

# round ID-OF-B URI : one re-initialisation with key B under ID-OF-B.
round() {
    local idb=$1 uri=$2 tag="B-$1"
    echo "--- key A under id 01, then the token re-initialised with key B under id $idb"
    shim_control
    require_step make_key ca EC:prime256v1 01 root
    save_token_pubkey ca 01 A.pem

    # The cache is filled while the token holds A.
    shim_control "snapshot-save $SNAP"
    expect_success cnf_openssl shim.cnf pkey -in "$uri" -pubout -out A.through-shim.pem &&
        same_pubkey "before the change the provider shows A" A.through-shim.pem A.pem
    check "the stale view was recorded" test -s "$SNAP"
    shim_control

    # A long-lived CA server loads A and signs, before the change.
    holder_start shim.cnf || return
    holder_load_ok "the CA server loads A" A "$uri"
    holder_pub_is "the CA server was given A" A A.pem
    holder_sign_ok "the CA server signs with A" A "$DATA"

    reinit_ca
    require_step make_key ca EC:prime256v1 "$idb" root
    save_token_pubkey ca "$idb" "$tag.pem"
    check_not "B is not A" cmp -s <(spki_sha256 A.pem) <(spki_sha256 "$tag.pem")

    # The cache serves the old view; the card signs with B.
    shim_control "snapshot-serve $SNAP"
    expect_success cnf_openssl shim-nocheck.cnf pkey -in "$uri" -pubout -out stale.pem &&
        same_pubkey "the stale cache still shows A (the emulation works)" stale.pem A.pem
    expect_failure_with "$R_POSSESSION" cnf_openssl shim.cnf req -new -x509 -key "$uri" \
        -subj /CN=Root -days 3650 -out "root-stale-$tag.pem"
    expect_failure_with "$R_BAD_SIG" cnf_openssl shim-nocheck.cnf req -new -x509 -key "$uri" \
        -subj /CN=Root -days 3650 -out "root-stale-nocheck-$tag.pem"
    # The CSR path too: no request signed by the wrong key.
    expect_failure_with "$R_POSSESSION" cnf_openssl shim.cnf req -new -key "$uri" \
        -subj /CN=Sub -out "csr-stale-$tag.pem"
    holder_sign_fails_clearly "the CA server signing with A under the stale cache" A "$DATA"
    restart_equivalence "stale cache, B under id $idb" A "$uri" ca 01 "$R_POSSESSION"

    # The cache is cleared: the token's real view.
    shim_control
    expect_success cnf_openssl shim.cnf req -new -x509 -key "pkcs11:token=ca;id=%$idb;type=private?pin-value=$USER_PIN" \
        -subj /CN=Root -days 3650 -out "root-$tag.pem" &&
        verify_root "root-$tag.pem" "$tag.pem"
    holder_sign_fails_clearly "the CA server signing with A after the cache was cleared" A "$DATA"
    if [ "$idb" = 01 ]; then
        check "... because the key changed" grep -qF "$R_CHANGED" <<<"$HOLDER_REPLY"
        restart_equivalence "cache cleared" A "$uri" ca 01
        holder_pub_is "the CA server's reload is B" A "$tag.pem"
        holder_sign_ok "the CA server signs with B" A "$DATA" &&
            verify_sig "... under B" "$tag.pem" "$LAST_SIG" "$DATA"
    else
        restart_equivalence "cache cleared, A's id is gone" A "$uri" ca 01 "$R_NO_OBJECT"
    fi
    holder_stop
    reinit_ca
}

round 01 "pkcs11:token=ca;id=%01;object=root;type=private?pin-value=$USER_PIN"
round 02 "pkcs11:token=ca;id=%01;object=root;type=private?pin-value=$USER_PIN"
# The operator's likely URI: by label only.
round 01 "pkcs11:token=ca;object=root;type=private?pin-value=$USER_PIN"

policy_finish
