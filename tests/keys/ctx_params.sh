#!/usr/bin/env bash
# Story: an application sets and reads back an RSA signing, RSA decryption
# or ECDH context's parameters on a token key in whatever form OpenSSL's
# own provider takes (integers or names, the EVP_PKEY_CTX helpers of
# OpenSSL 3.0 that send names), and gets the same answers the default
# provider gives for a software key; what the token cannot do (a KDF) is
# refused with a reason. The C program does the asking (ctx_params.c).
# shellcheck source=keys_lib.sh
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca rsa:2048 01 rsa
make_key ca EC:prime256v1 02 ec
require
save_token_pubkey ca 01 rsa.pub.pem

if [ -z "${HSM_CTX_PARAMS:-}" ] || [ ! -x "$HSM_CTX_PARAMS" ]; then
    fail "ctx_params is not built (HSM_CTX_PARAMS=${HSM_CTX_PARAMS:-unset})"
    finish
fi
# shellcheck disable=SC2046
expect_success env $(_preload_env) OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
    timeout -k 10 "$CMD_TIMEOUT" "$HSM_CTX_PARAMS" "$(key_uri ca rsa)" rsa.pub.pem \
    "$(key_uri ca ec)"
sed 's/^/  | /' "$LAST_OUT"
finish
