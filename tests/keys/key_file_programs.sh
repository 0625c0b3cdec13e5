#!/usr/bin/env bash
# Story: programs with no provider option (curl, stunnel, and others that
# read keys from a file path only) use a token key through the key
# reference file that `openssl pkey -in 'pkcs11:...' -out key.pem` writes,
# with the provider activated by OPENSSL_CONF and the PIN in its
# configuration. curl authenticates to a server with a client certificate
# whose key is on the token; stunnel serves TLS with a server key on the
# token. Each handshake is verified by the other side with plain OpenSSL,
# so each signature the token made was checked.
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 client
make_key ca rsa:2048 02 service
require
write_provider_cnf hsm.cnf "pkcs11-module-token-pin=file:$PIN_FILE"
plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -subj /CN=Files-Test-Root -days 30 -out ca.pem 2>/dev/null

# issue LABEL CN EXT : a reference file for the token key LABEL and a
# certificate for it, from a CSR the token key signed through the file.
issue() {
    local label=$1 cn=$2
    shift 2
    expect_success cnf_openssl hsm.cnf pkey -in "pkcs11:token=ca;object=$label;type=private" \
        -out "$label.ref.pem" &&
        check "$label.ref.pem is a reference, not key material" \
            grep -q -- "-----BEGIN PRIVATE KEY-----" "$label.ref.pem" &&
        expect_success cnf_openssl hsm.cnf req -new -key "$label.ref.pem" -subj "/CN=$cn" \
            -out "$label.csr" &&
        expect_success plain_openssl x509 -req -in "$label.csr" -CA ca.pem -CAkey ca.key \
            -set_serial "$RANDOM" -days 10 "$@" -out "$label.pem"
}
printf '%s\n' "subjectAltName = IP:127.0.0.1" >server.ext
issue client client
issue service 127.0.0.1 -extfile server.ext
require

# curl and stunnel are not instrumented: with AddressSanitizer's runtime
# preloaded, curl deadlocks in glibc's setlocale before it loads anything,
# and without it the instrumented provider cannot run inside them. Their
# part runs in the plain build (and under valgrind through cnf_program).
if [ -n "${HSM_TEST_PRELOAD:-}" ]; then
    echo "note: curl and stunnel are not run in the sanitized build"
    finish
fi

# curl: a client certificate whose key is on the token.
plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout web.key \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 10 -out web.pem 2>/dev/null
port=$(free_port)
timeout -k 5 40 "$OPENSSL_BIN" s_server -accept "127.0.0.1:$port" -key web.key -cert web.pem \
    -Verify 1 -CAfile ca.pem -verify_return_error -naccept 1 -www >web.out 2>&1 </dev/null &
srv=$!
s_server_accepting web.out "$srv"
expect_success cnf_program hsm.cnf curl -sS --fail --cacert web.pem --cert client.pem \
    --key client.ref.pem -o page.html "https://127.0.0.1:$port/"
wait "$srv"
check "the server required and verified the client certificate (s_server exited 0)" test $? -eq 0
check "the server saw the token key's certificate" grep -q "CN *= *client" page.html

# stunnel: a TLS service whose key is on the token.
port=$(free_port)
printf '%s\n' "foreground = yes" "pid =" "[service]" "accept = 127.0.0.1:$port" \
    "cert = $TMP/service.pem" "key = $TMP/service.ref.pem" "exec = /bin/echo" \
    "execArgs = echo served-by-stunnel" >stunnel.conf
# shellcheck disable=SC2046
env $(_preload_env) OPENSSL_CONF="$TMP/hsm.cnf" OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
    timeout -k 5 60 stunnel4 "$TMP/stunnel.conf" >stunnel.log 2>&1 </dev/null &
st=$!
BACKGROUND_PIDS+=("$st")
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
for proto in tls1_2 tls1_3; do
    expect_success plain_openssl s_client -connect "127.0.0.1:$port" "-$proto" -CAfile ca.pem \
        -verify_return_error -verify_ip 127.0.0.1 -ign_eof &&
        assert_output_contains "served-by-stunnel"
done
kill "$st" 2>/dev/null
wait "$st" 2>/dev/null

finish
