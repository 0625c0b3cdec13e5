#!/usr/bin/env bash
# Story (issue 16): an operator replaces the key under a running Apache
# httpd, whose key and certificate are both on the token (the same CKA_ID),
# the way the documentation says (docs/deploy-httpd.md), and then forgets
# the certificate once. Under the prefork and the event MPM:
# 1. the key and its certificate deleted, a new key made with the same id
#    and label, and its certificate written beside it on the token, then
#    `apache2 -k graceful`: httpd keeps running and serves the new key with
#    the new certificate (plain openssl s_client verifies it against the
#    CA), 0 failures; the provider's debug log names the change of key under
#    the URI, with both fingerprints;
# 2. the key replaced again, the certificate left as it was, then
#    `apache2 -k graceful`: the new generation cannot load the key (the
#    provider refuses a key whose certificate on the token is another key:
#    the public views disagree, both fingerprints named in its debug log;
#    mod_ssl does not print a failed key load's reason) and httpd ends;
#    it never served the new key with the old certificate.
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

make_token web
make_key web EC:prime256v1 01 web-ec
save_token_pubkey web 01 key1.pem
require
httpd_make_ca
write_provider_cnf "$HTTPD_ROOT/hsm.cnf" "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=$USER_PIN"
httpd_debug_log 1
require
uri="pkcs11:token=web;id=%01;type=private"
n=1

for mpm in $HTTPD_MPMS; do
    echo "--- the key is replaced under a running server, $mpm MPM"
    # The key in place now, with its certificate beside it on the token
    # (the last pass left its key with no certificate).
    httpd_issue_cert "$(key_uri web web-ec)" "$HTTPD_ROOT/cert$n.pem"
    httpd_cert_to_token web 01 web-ec "$HTTPD_ROOT/cert$n.pem"
    httpd_config mpm="$mpm" cnf="$HTTPD_ROOT/hsm.cnf" key="$uri" \
        cert="pkcs11:token=web;id=%01;type=cert"
    httpd_start || continue
    HTTPD_EXPECT_CERT="$HTTPD_ROOT/cert$n.pem"
    httpd_served_key_is "$mpm, the key in place" "key$n.pem"

    echo "1. the operator replaces the key and its certificate on the token, then restarts gracefully"
    old_fp=$(httpd_spki_sha256 "key$n.pem")
    n=$((n + 1))
    # The old certificate goes with the old key: until the new one is
    # written, the new key is refused (its views would disagree).
    expect_success _httpd_p11 web --delete-object --type cert --id 01
    httpd_replace_key web 01 web-ec EC:prime256v1 "key$n.pem"
    new_fp=$(httpd_spki_sha256 "key$n.pem")
    httpd_issue_cert "$(key_uri web web-ec)" "$HTTPD_ROOT/cert$n.pem"
    httpd_cert_to_token web 01 web-ec "$HTTPD_ROOT/cert$n.pem"
    # SoftHSMv2 writes each new object as a file of its creator's (root):
    # the children's user must be able to read them too.
    httpd_grant_token_access
    httpd_graceful || continue
    HTTPD_EXPECT_CERT="$HTTPD_ROOT/cert$n.pem"
    httpd_served_key_is "$mpm, after the graceful restart: the new key" "key$n.pem"
    httpd_load 100 8
    httpd_expect_no_failures "$mpm, the new key and certificate"
    check "$mpm: the provider's log names the change of key under $uri" \
        grep -qF "$uri now resolves to another key than at its last load in this process: public key SHA-256 $new_fp, was SHA-256 $old_fp" \
        "$HTTPD_DEBUG_LOG"

    echo "2. the operator replaces the key again but forgets the certificate"
    cert_fp=$new_fp
    n=$((n + 1))
    httpd_replace_key web 01 web-ec EC:prime256v1 "key$n.pem"
    new_fp=$(httpd_spki_sha256 "key$n.pem")
    httpd_grant_token_access
    httpd_graceful_ends "$mpm, a new key beside the old certificate"
    check "$mpm: the provider refused the key: its certificate on the token is another key (both named)" \
        grep -qE "(SHA-256 $new_fp.*certificate \(handle [0-9]+\) \(SHA-256 $cert_fp|certificate \(handle [0-9]+\) \(SHA-256 $cert_fp.*SHA-256 $new_fp).* are different keys" \
        "$HTTPD_DEBUG_LOG"
    check "$mpm: the new key was never served with the old certificate" \
        test "$(grep -c "public key SHA-256 $new_fp, was" "$HTTPD_DEBUG_LOG")" -eq 0
    HTTPD_PID=""
    # The next pass starts from this key, without the stale certificate.
    expect_success _httpd_p11 web --delete-object --type cert --id 01
done
finish
