#!/usr/bin/env bash
# Story: Apache httpd serves HTTPS with a token key and the operator gives
# the token PIN the documented way for a program to do it: no PIN in the URI
# or the configuration, `SSLPassPhraseDialog exec:/path/to/program`. mod_ssl
# forks the program from inside the passphrase callback the provider calls
# during the key's load. Under the prefork and the event MPM the server must
# start within seconds, its children (forked again and again:
# MaxConnectionsPerChild) must log in again by themselves as www-data, and a
# graceful restart (the key loaded again, the program run again) must keep
# serving: a few hundred HTTPS requests from parallel clients, each a full
# handshake signed on the token, 0 failures; the served certificate carries
# the token's key and verifies against its CA (plain openssl s_client).
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

httpd_web_ec_leaf
printf '%s\n' "$USER_PIN" >"$HTTPD_ROOT/pin"
chmod 0600 "$HTTPD_ROOT/pin"
httpd_pin_helper "$HTTPD_ROOT/pin"
# The provider has no PIN: only the helper knows it.
write_provider_cnf "$HTTPD_ROOT/hsm.cnf" "pkcs11-module-path=$SOFTHSM_MODULE"
require

httpd_story "PIN from SSLPassPhraseDialog exec:" ec.pem cnf="$HTTPD_ROOT/hsm.cnf" \
    key="pkcs11:token=web;id=%01;type=private" cert="$HTTPD_ROOT/leaf.pem" \
    dialog="exec:$HTTPD_PIN_HELPER"
check "the PIN came from the exec: helper (it ran $(httpd_pin_asks) time(s))" \
    test "$(httpd_pin_asks)" -ge 2
finish
