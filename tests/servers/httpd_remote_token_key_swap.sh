#!/usr/bin/env bash
# Story (issue 16): Apache httpd serves HTTPS with a P-256 and an RSA-2048
# key on a network HSM (SoftHSMv2 behind `p11-kit server`), under the event
# and the prefork MPM. Under load, the P-256 key is replaced on the token
# (deleted, and a new key made with the same id and label), its certificate
# left as it was. What must hold:
# - never signed with another key: every P-256 handshake after the swap
#   either fails or is verified with the OLD certificate's key (plain
#   `openssl s_client` against the CA, in a loop), the token made no
#   signature with the new key (the provider's debug log at level 2 lists
#   each one), and the provider refuses with its reason, naming both keys'
#   fingerprints;
# - the HSM is not stormed: per process, the replaced key is looked for
#   again, and the token logged in to, within what the retry policy allows
#   (below); counted in the provider's debug log (hsm[PID/TID] lines);
# - the master runs throughout, and the RSA key on the same token serves on;
# - `apache2 -k graceful` then loads the new key with the old certificate:
#   httpd refuses to start the new generation and ends (right for a key that
#   does not match its certificate), and the provider's log tells the
#   operator why: the URI now resolves to another key than at its last load
#   in this process, with both fingerprints (level 1).
#
# The bound: a key that is lost is looked for again after 50, 50, 100, 200,
# 400, 800 ms, then every 1000 ms (retry-interval-min-ms and -max-ms,
# cache/backoff.c), so at most 7 + ceil(T) searches in T seconds per
# process, and at most one login each; one more for the edges of the
# window: 8 + ceil(T).
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

LOAD_SECONDS=4
make_token remote
httpd_make_ca
httpd_two_keys remote
require
httpd_remote_token remote
# Level 2: every signature the token made is logged, so the log shows
# whether any was made with the key under id 01 after the swap.
httpd_debug_log 2
require
ec_uri="pkcs11:token=remote;id=%01;type=private"

for mpm in $HTTPD_MPMS; do
    echo "--- the P-256 key is replaced on the token under load, $mpm MPM"
    if [ "$mpm" != "${HTTPD_MPMS%% *}" ]; then
        # A fresh key and certificate: the last MPM's run replaced them.
        httpd_replace_key remote 01 web-ec EC:prime256v1 "$TMP/ec.pem"
        httpd_issue_cert "$(key_uri remote web-ec)" "$HTTPD_EC_CERT"
    fi
    old_fp=$(httpd_spki_sha256 "$TMP/ec.pem")
    httpd_config mpm="$mpm" cnf="$HTTPD_REMOTE_CNF" "${HTTPD_TWO_KEYS[@]}" \
        extra="LogLevel notice ssl:info"
    httpd_start || continue
    httpd_load 100 8 "${HTTPD_EC_AB[@]}"
    httpd_expect_no_failures "$mpm, before the swap: 100 P-256 handshakes"
    httpd_served_key_is "$mpm, before the swap, P-256" "$TMP/ec.pem" "${HTTPD_EC_TLS[@]}"

    httpd_replace_key remote 01 web-ec EC:prime256v1 "$TMP/ec-new.pem"
    new_fp=$(httpd_spki_sha256 "$TMP/ec-new.pem")
    check "$mpm: the new key is another key ($new_fp)" test "$new_fp" != "$old_fp"
    t_swap=$EPOCHREALTIME s_swap=$(httpd_stamp)
    httpd_master_alive_start
    httpd_verifier_start ec "$HTTPD_EC_CERT" "${HTTPD_EC_TLS[@]}"
    httpd_verifier_start rsa "$HTTPD_RSA_CERT" "${HTTPD_RSA_TLS[@]}"
    httpd_load 0 8 -t "$LOAD_SECONDS" "${HTTPD_EC_AB[@]}"
    httpd_verifiers_stop
    t_end=$EPOCHREALTIME s_end=$(httpd_stamp)
    httpd_master_alive_stop
    span=$(awk -v a="$t_swap" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
    echo "$mpm: ${span} s after the swap: ab made $HTTPD_LOAD_N P-256 requests, $HTTPD_LOAD_DONE served"

    check "$mpm, P-256: no completed handshake was signed by a key other than the old certificate's" \
        test "$(httpd_verified ec WRONG)" -eq 0
    echo "$mpm, P-256 after the swap: $(httpd_verified ec ok) handshakes verified with the old certificate, $(httpd_verified ec fail) refused"
    read -r max total procs < <(httpd_debug_per_process \
        'C_Sign -> CKR_OK \(pkcs11:[^ ]*id=%01;' "$s_swap" "$s_end")
    check "$mpm, P-256: the token made no signature with the key under id 01 after the swap ($total)" \
        test "$total" -eq 0
    check "$mpm, P-256: handshakes were refused after the swap" \
        test "$(httpd_verified ec fail)" -gt 0
    check "$mpm, P-256: the provider refused because the key changed, naming the old and the new key" \
        grep -q "key changed on token since it was loaded.*$old_fp.*$new_fp" "$HTTPD_ERROR_LOG"
    check "$mpm, RSA-2048: the other key on the token served on ($(httpd_verified rsa ok) verified, $(httpd_verified rsa fail) failed)" \
        test "$(httpd_verified rsa ok)" -gt 0 -a "$(httpd_verified rsa WRONG)" -eq 0

    bound=$(awk -v d="$span" 'BEGIN { c = int(d); if (c < d) c++; print 8 + c }')
    read -r max total procs < <(httpd_debug_per_process \
        'finding pkcs11:[^ ]*id=%01;[^ ]* .* again by its identity' "$s_swap" "$s_end")
    check "$mpm: at most $bound searches for the replaced key per process in ${span} s ($max; $total in $procs processes)" \
        test "$max" -le "$bound"
    read -r max total procs < <(httpd_debug_per_process 'C_Login' "$s_swap" "$s_end")
    check "$mpm: at most $bound C_Login per process in ${span} s ($max; $total in $procs processes)" \
        test "$max" -le "$bound"
    read -r max total procs < <(httpd_debug_per_process 'C_Initialize -> ' "$s_swap" "$s_end")
    check "$mpm: the module was not initialised again for a replaced key ($max per process; $total in $procs processes, children's first use included)" \
        test "$max" -le 2

    httpd_graceful_ends "$mpm: graceful restart with the old certificate and the new key"
    line="$ec_uri now resolves to another key than at its last load in this process: public key SHA-256 $new_fp, was SHA-256 $old_fp"
    check "$mpm: the provider's log says that $ec_uri now names another key (both fingerprints)" \
        grep -qF "$line" "$HTTPD_DEBUG_LOG"
    HTTPD_PID=""
done
p11kit_server_kill
finish
