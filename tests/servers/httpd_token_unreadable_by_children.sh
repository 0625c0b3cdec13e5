#!/usr/bin/env bash
# Story (issue 15, item 7): the token's directory can be read by root only.
# Apache httpd's master (root) loads the key and starts; its children run as
# www-data and initialise the module again there, where the token is not in
# the slot list. Every handshake fails, and the reason the provider gives in
# the server's error log must send the operator the right way: the process
# (named, with its user) may lack permission to the token or its PIN
# source, not "insert the token". Once the operator gives the children's
# user access and restarts httpd gracefully, its new children serve, and the
# served key verifies against the CA (plain openssl s_client). Under the
# prefork and the event MPM.
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

httpd_web_ec_leaf
write_provider_cnf "$HTTPD_ROOT/hsm.cnf" "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=$USER_PIN"
require
HTTPD_GRANT_TOKEN_ACCESS=0
httpd_debug_log 1
# SoftHSMv2's configuration stays readable: only the token is out of reach.
chmod 0644 "$SOFTHSM2_CONF"

for mpm in $HTTPD_MPMS; do
    echo "--- a token only root can read, $mpm MPM"
    chown -R root: "$TMP/tokens"
    chmod 0700 "$TMP/tokens"
    check "the children's user cannot list the token directory" \
        test -z "$(runuser -u "$HTTPD_USER" -- ls "$TMP/tokens" 2>/dev/null)"
    httpd_config mpm="$mpm" cnf="$HTTPD_ROOT/hsm.cnf" key="pkcs11:token=web;id=%01;type=private" \
        cert="$HTTPD_ROOT/leaf.pem" extra="LogLevel notice ssl:info"
    httpd_start || continue
    httpd_load 20 4
    check "$mpm: every request failed while the children cannot read the token ($HTTPD_LOAD_DONE served)" \
        test "$HTTPD_LOAD_DONE" -eq 0
    reason="in this process \(pid [0-9]+, user $HTTPD_USER\), a child of the one that loaded the key as another user, .*: this user may lack permission to the token \(its files or device\) or to its PIN source"
    check "$mpm: the error log names the child, its user, and a lack of permission to the token" \
        grep -qE "$reason" "$HTTPD_ERROR_LOG"
    check "$mpm: and does not tell the operator to insert the token" \
        test "$(grep -c 'insert the token' "$HTTPD_ERROR_LOG")" -eq 0
    grep -oE "token 'web' \(serial [0-9a-f]+\) [^;]*" "$HTTPD_ERROR_LOG" | sort | uniq -c |
        sed 's/^/  | /'

    echo "the operator gives $HTTPD_USER access to the token and restarts httpd gracefully"
    httpd_grant_token_access
    httpd_graceful
    httpd_load 100 8
    httpd_expect_no_failures "$mpm: once the children's user can read the token"
    httpd_served_key_is "$mpm, once the token is readable" ec.pem
    httpd_stop
done
finish
