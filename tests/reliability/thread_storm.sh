#!/usr/bin/env bash
# Story: a multi-threaded server signs from many threads at once. Eight
# threads share one loaded RSA-2048 key and one P-256 key, eight more load
# their own (and reload them every 200 signatures, so loads race with
# signatures): 10,000 signatures in all (2,000 RSA, 8,000 EC by default;
# HSM_STORM_RSA / HSM_STORM_EC change that, tsan.sh uses fewer). Each one
# is verified inside the program with the default provider alone against
# the public key pkcs11-tool read from the token. No error is allowed.
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"

storm=$(rel_bin thread_storm)
make_token storm
make_key storm rsa:2048 01 rsa
make_key storm EC:prime256v1 02 ec
save_token_pubkey storm 01 rsa.pem
save_token_pubkey storm 02 ec.pem
require
write_provider_cnf storm.cnf "pkcs11-module-path=$SOFTHSM_MODULE"

rsa_sigs=${HSM_STORM_RSA:-2000}
ec_sigs=${HSM_STORM_EC:-8000}
rsa_uri="pkcs11:token=storm;id=%01;type=private?pin-value=$USER_PIN"
ec_uri="pkcs11:token=storm;id=%02;type=private?pin-value=$USER_PIN"
expect_success cnf_run storm.cnf "$storm" "$rsa_uri" rsa.pem "$ec_uri" ec.pem \
    "$rsa_sigs" "$ec_sigs"
cat "$LAST_OUT"
head -c 4000 "$LAST_ERR"
assert_output_contains "$((rsa_sigs + ec_sigs)) verified, 0 errors"
if grep -q 'WARNING: ThreadSanitizer' "$LAST_ERR"; then
    fail "ThreadSanitizer reports a data race or lock-order problem"
fi
finish
