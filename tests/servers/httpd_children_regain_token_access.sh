#!/usr/bin/env bash
# Story (issues 15 item 7, 16): the token's directory can be read by root
# only, so Apache httpd's children (www-data) cannot reach the token its
# master (root) loaded the key from, and every handshake fails. The operator
# gives www-data access. Without a restart of httpd, the same children must
# serve again within about a second (the provider tries a failing module
# again at least once every retry-interval-max-ms, 1 s), as children
# started afresh would: a module instance is never stuck with what it saw
# before (restart equivalence). Under the prefork and the event MPM, no
# child recycled (MaxConnectionsPerChild 0); the served key verifies against
# the CA (plain openssl s_client).
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

httpd_web_ec_leaf
write_provider_cnf "$HTTPD_ROOT/hsm.cnf" "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=$USER_PIN"
require
HTTPD_GRANT_TOKEN_ACCESS=0
chmod 0644 "$SOFTHSM2_CONF"

for mpm in $HTTPD_MPMS; do
    echo "--- a token only root can read, then readable by www-data, $mpm MPM"
    chown -R root: "$TMP/tokens"
    chmod 0700 "$TMP/tokens"
    httpd_config mpm="$mpm" cnf="$HTTPD_ROOT/hsm.cnf" key="pkcs11:token=web;id=%01;type=private" \
        cert="$HTTPD_ROOT/leaf.pem"
    httpd_start || continue
    httpd_load 20 4
    check "$mpm: every request failed while the children cannot read the token ($HTTPD_LOAD_DONE served)" \
        test "$HTTPD_LOAD_DONE" -eq 0
    children=$(pgrep -P "$HTTPD_PID" | tr '\n' ' ')

    httpd_grant_token_access
    t_grant=$EPOCHREALTIME
    httpd_verifier_start ec "$HTTPD_ROOT/leaf.pem"
    sleep 3
    httpd_verifiers_stop
    first=$(httpd_first_ok ec "$t_grant")
    took=$(awk -v a="$t_grant" -v b="${first:-0}" 'BEGIN { printf "%.2f", (b > 0 ? b - a : 99) }')
    check "$mpm: served again ${took} s after www-data was given the token (at most 2 s)" \
        awk -v t="$took" 'BEGIN { exit !(t <= 2) }'
    httpd_load 100 8
    httpd_expect_no_failures "$mpm: 100 requests once www-data can read the token, no restart"
    old_served=$(awk '$3 == 200 { print $1 }' "$HTTPD_ACCESS_LOG" | sort -u |
        grep -cxF -f <(tr ' ' '\n' <<<"$children"))
    check "$mpm: the children that could not reach the token serve again ($old_served of: $children)" \
        test "$old_served" -ge 2
    httpd_served_key_is "$mpm, once the token is readable" ec.pem
    httpd_stop
done
finish
