#!/usr/bin/env bash
# Story (issue 15, item 7): Apache httpd with a token key whose URI names
# its PIN file: SSLCertificateKeyFile "pkcs11:...;type=private?pin-source=
# file:/path", no PIN in the provider's configuration. The PIN file is
# root's, mode 0600, which the children (www-data) cannot read: the master
# (root) reads it when it loads the key, at start and at each graceful
# restart; a child that must log in again uses the PIN the loaded key keeps
# (the provider never reads the file there). Under the prefork and the
# event MPM: children forked again and again (MaxConnectionsPerChild) log
# in, a graceful restart in the middle of a few hundred HTTPS requests from
# parallel clients, 0 failures, the served certificate carries the token's
# key and verifies against its CA (plain openssl s_client).
# A PIN file that others can read is refused: httpd does not start, and the
# provider's reason is in its debug log (mod_ssl does not print the reason
# of a key it could not load).
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

httpd_web_ec_leaf
pin="$HTTPD_ROOT/token.pin"
printf '%s\n' "$USER_PIN" >"$pin"
chmod 0600 "$pin"
check "the PIN file is root's, mode 0600" test "$(stat -c '%U %a' "$pin")" = "root 600"
check "the children's user cannot read it" \
    test -z "$(runuser -u "$HTTPD_USER" -- cat "$pin" 2>/dev/null)"
# No PIN in the configuration: only the URI's pin-source has it.
write_provider_cnf "$HTTPD_ROOT/hsm.cnf" "pkcs11-module-path=$SOFTHSM_MODULE"
httpd_debug_log 1
require

key="pkcs11:token=web;id=%01;type=private?pin-source=file:$pin"
httpd_story "PIN from the URI's pin-source" ec.pem cnf="$HTTPD_ROOT/hsm.cnf" \
    key="$key" cert="$HTTPD_ROOT/leaf.pem"
check "no process failed to read the PIN file" \
    test "$(grep -c 'cannot read the PIN source\|PIN file' "$HTTPD_DEBUG_LOG")" -eq 0

echo "--- a PIN file others can read"
chmod 0644 "$pin"
httpd_config mpm=prefork cnf="$HTTPD_ROOT/hsm.cnf" key="$key" cert="$HTTPD_ROOT/leaf.pem"
httpd_start_refused "a PIN file others can read"
check "the provider's reason names the PIN file and what to do" \
    grep -q "PIN file $pin can be read by other users (mode 644); run chmod 600 on it" \
    "$HTTPD_DEBUG_LOG"
finish
