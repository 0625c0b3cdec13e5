#!/usr/bin/env bash
# Story: Apache httpd serves HTTPS with a token key whose PIN is in the
# provider's configuration (pkcs11-module-token-pin; auto-activation), under
# the prefork and the event MPM: children forked again and again
# (MaxConnectionsPerChild) log in by themselves as www-data, a graceful
# restart in the middle of the load, a few hundred HTTPS requests from
# parallel clients with 0 failures, the served certificate carries the
# token's key and verifies against its CA (plain openssl s_client).
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

httpd_web_ec_leaf
write_provider_cnf "$HTTPD_ROOT/hsm.cnf" "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=$USER_PIN"
require

httpd_story "PIN from the provider's configuration" ec.pem cnf="$HTTPD_ROOT/hsm.cnf" \
    key="pkcs11:token=web;id=%01;type=private" cert="$HTTPD_ROOT/leaf.pem"
finish
