#!/usr/bin/env bash
# Story: an application derives an ECDH secret with a P-256 token key into
# a buffer shorter than the secret (16 and 31 bytes) and gets what OpenSSL's
# default provider gives: the secret's leading bytes. The C program
# (ecdh_short_buffer.c) compares with the peer's side computed in software.
# shellcheck source=keys_lib.sh
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 ecdh
require
save_token_pubkey ca 01 ecdh.pub.pem
plain_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out peer.key 2>/dev/null
plain_openssl pkey -in peer.key -pubout -out peer.pub

if [ -z "${HSM_ECDH_SHORT_BUFFER:-}" ] || [ ! -x "$HSM_ECDH_SHORT_BUFFER" ]; then
    fail "ecdh_short_buffer is not built (HSM_ECDH_SHORT_BUFFER=${HSM_ECDH_SHORT_BUFFER:-unset})"
    finish
fi
# shellcheck disable=SC2046
expect_success env $(_preload_env) OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
    timeout -k 10 "$CMD_TIMEOUT" "$HSM_ECDH_SHORT_BUFFER" "$(key_uri ca ecdh)" ecdh.pub.pem peer.key peer.pub
sed 's/^/  | /' "$LAST_OUT"
finish
