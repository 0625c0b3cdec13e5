#!/usr/bin/env bash
# Story (issue 15, item 7): Apache httpd takes both its key and its
# certificate from the token: SSLCertificateKeyFile "pkcs11:...;type=private"
# and SSLCertificateFile "pkcs11:...;type=cert", the provider activated by
# the openssl.cnf the server reads (OPENSSL_CONF) with the PIN in its
# configuration (pkcs11-module-token-pin). Under the prefork and the event
# MPM: children forked again and again (MaxConnectionsPerChild) log in by
# themselves as www-data, a graceful restart in the middle of the load
# (both loaded again), a few hundred HTTPS requests from parallel clients
# with 0 failures; the served certificate is the one on the token, carries
# the token's key and verifies against its CA (plain openssl s_client).
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

httpd_web_ec_leaf
httpd_cert_to_token web 01 web-ec "$HTTPD_ROOT/leaf.pem"
# The file is gone: the certificate the server sends can only be the token's.
mv "$HTTPD_ROOT/leaf.pem" "$HTTPD_ROOT/leaf-on-token.pem"
HTTPD_EXPECT_CERT="$HTTPD_ROOT/leaf-on-token.pem"
write_provider_cnf "$HTTPD_ROOT/hsm.cnf" "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=$USER_PIN"
require

httpd_story "key and certificate on the token" ec.pem cnf="$HTTPD_ROOT/hsm.cnf" \
    key="pkcs11:token=web;id=%01;type=private" cert="pkcs11:token=web;id=%01;type=cert"
finish
