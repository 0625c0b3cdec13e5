#!/usr/bin/env bash
# Story: a TLS server keeps its key on the token:
# `openssl s_server -key 'pkcs11:...' -cert server.pem` on 127.0.0.1. Plain
# `openssl s_client` (no provider) completes TLS 1.2 and TLS 1.3 handshakes
# and verifies the server against the issuing root (-verify_return_error):
# RSA with PKCS#1 v1.5 signatures in TLS 1.2 and RSA-PSS in 1.2 and 1.3,
# ECDSA P-256, Ed25519; and, in TLS 1.2, static RSA key exchange, where the
# token decrypts the premaster secret. Every server is bounded by a timeout
# and serves one connection. Every case runs with both provider orders:
# default before hsm (the shipped snippets), and hsm first, where an
# unqualified fetch would otherwise reach hsm (libssl's TLS groups, the
# server's ephemeral ECDHE key). Clients that offer only P-256 check that
# the NIST groups stay usable. A few run with the provider activated from
# openssl.cnf under another name than hsm.
# shellcheck source=keys_lib.sh disable=SC2317,SC2016 # functions are run through _run
. "$(dirname "$0")/keys_lib.sh"

make_token tls
make_key tls rsa:2048 01 server-rsa
make_key tls EC:prime256v1 02 server-ec
expect_success p11 tls --login --pin "$USER_PIN" --keypairgen --key-type EC:edwards25519 \
    --id 03 --label server-ed
require

# A software root issues a certificate for each token key, from a CSR the
# token key signed.
plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -subj /CN=TLS-Test-Root -days 30 -out ca.pem 2>/dev/null
printf '%s\n' "subjectAltName = IP:127.0.0.1, DNS:localhost" "basicConstraints = CA:FALSE" \
    "keyUsage = digitalSignature, keyEncipherment" "extendedKeyUsage = serverAuth" >server.ext
for k in 01:server-rsa 02:server-ec 03:server-ed; do
    id=${k%%:*} label=${k#*:}
    save_pubkey_by_id tls "$id" "$label.token.pub"
    expect_success hsm_openssl req -new -key "$(key_uri tls "$label")" -subj "/CN=localhost" \
        -out "$label.csr" &&
        expect_success plain_openssl x509 -req -in "$label.csr" -CA ca.pem -CAkey ca.key \
            -set_serial "$((0x$id + 100))" -days 10 -extfile server.ext -out "$label.pem" &&
        expect_success plain_openssl verify -CAfile ca.pem "$label.pem"
    plain_openssl x509 -in "$label.pem" -noout -pubkey >"$label.cert.pub" 2>/dev/null
    same_pubkey "$label.pem certifies the token's key" "$label.cert.pub" "$label.token.pub"
done
require

# sigtype_pattern NAME : what s_client prints as the server's signature type
# for NAME: OpenSSL 3.0 names the key type ("RSA-PSS"), 3.5 the TLS
# signature scheme ("rsa_pss_rsae_sha256"); either form is accepted.
sigtype_pattern() {
    case $1 in
    RSA) echo '(RSA|rsa_pkcs1_sha[0-9]+)' ;;
    RSA-PSS) echo '(RSA-PSS|rsa_pss_rsae_sha[0-9]+)' ;;
    ECDSA) echo '(ECDSA|ecdsa_secp256r1_sha256)' ;;
    *) echo "$1" ;;
    esac
}

# assert_ephemeral_group CURVE : the server's ephemeral (ECDHE) key was on
# CURVE; OpenSSL 3.0 calls it the server's temp key, 3.5 the peer's.
assert_ephemeral_group() {
    assert_output_matches "^(Server|Peer) Temp Key: ECDH, $1," "the ephemeral key is on $1"
}

HS_NO=0
SERVER_PROVIDERS=()
SERVER_ENV=()
ORDER=""
# handshake LABEL PROTO WANT-SIGTYPE [S_CLIENT-ARGS...] : one s_server with
# the token key (providers in SERVER_PROVIDERS' order, or as SERVER_ENV's
# OPENSSL_CONF activates them) serving one connection, one plain s_client
# checking it.
handshake() {
    local label=$1 proto=$2 want=$3 port srv_rc
    shift 3
    HS_NO=$((HS_NO + 1))
    local name="hs$HS_NO-$ORDER-$label-$proto"
    for _ in 1 2 3; do
        port=$(free_port) || { fail "$name: no free port"; return 1; }
        # shellcheck disable=SC2046
        env $(_preload_env) "${SERVER_ENV[@]}" timeout -k 5 40 "$OPENSSL_BIN" s_server \
            -provider-path "$HSM_PROVIDER_DIR" "${SERVER_PROVIDERS[@]}" -accept "127.0.0.1:$port" \
            -key "$(key_uri tls "$label")" -cert "$label.pem" -naccept 1 -www \
            >"$name.srv.out" 2>"$name.srv.err" </dev/null &
        local srv=$!
        s_server_accepting "$name.srv.out" "$srv" && break
        wait "$srv"
        grep -qi "in use" "$name.srv.err" || break
    done
    if ! grep -q '^ACCEPT' "$name.srv.out"; then
        fail "$name: s_server did not start"
        sed 's/^/  | /' "$name.srv.err"
        kill "$srv" 2>/dev/null
        wait "$srv" 2>/dev/null
        return 1
    fi
    expect_success plain_openssl s_client -connect "127.0.0.1:$port" "-$proto" \
        -verify_return_error -CAfile ca.pem -verify_ip 127.0.0.1 -verify_hostname localhost "$@"
    local client_rc=$LAST_RC
    wait "$srv"
    srv_rc=$?
    [ "$client_rc" -eq 0 ] || { sed 's/^/  | server: /' "$name.srv.err" | head -5; return 1; }
    assert_output_contains "Verify return code: 0 (ok)"
    case "$proto" in
    tls1_2) assert_output_matches "^ *Protocol *: TLSv1\.2$" "$name: TLS 1.2 was negotiated" ;;
    tls1_3) assert_output_contains "New, TLSv1.3," ;;
    esac
    [ -z "$want" ] || assert_output_matches "^Peer signature type: $(sigtype_pattern "$want")$" \
        "$name: the server signed with $want"
    check "$name: s_server served one connection and exited cleanly (status $srv_rc)" \
        test "$srv_rc" -eq 0
    check "$name: no sanitizer report from s_server" \
        bash -c '! grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$1"' _ "$name.srv.err"
}

for ORDER in default-first hsm-first; do
    case $ORDER in
    default-first) SERVER_PROVIDERS=(-provider default -provider hsm) ;;
    hsm-first) SERVER_PROVIDERS=(-provider hsm -provider default) ;;
    esac
    handshake server-rsa tls1_2 RSA -sigalgs "RSA+SHA256:RSA+SHA384:RSA+SHA512"
    handshake server-rsa tls1_2 RSA-PSS
    handshake server-rsa tls1_3 RSA-PSS
    handshake server-ec tls1_2 ECDSA
    handshake server-ec tls1_3 ECDSA
    handshake server-ed tls1_2 Ed25519
    handshake server-ed tls1_3 Ed25519
    # The server's ephemeral key on a NIST curve is a software key made by
    # the default provider, and the group is known to libssl in both orders.
    handshake server-ec tls1_2 ECDSA -groups P-256 && assert_ephemeral_group prime256v1
    handshake server-rsa tls1_3 RSA-PSS -groups P-384 && assert_ephemeral_group secp384r1
    # Static RSA key exchange: no server signature; the token decrypts the
    # client's premaster secret (OpenSSL's TLS variant of PKCS#1 v1.5).
    handshake server-rsa tls1_2 "" -cipher AES128-SHA256 &&
        assert_output_contains "Cipher is AES128-SHA256"
done

# Activated from openssl.cnf under another name, before default: the
# algorithms still say provider=hsm, and the provider's own software work
# (the certificate's public key it imports to compare with the token key)
# must not come back to it.
printf '%s\n' "openssl_conf = openssl_init" "[openssl_init]" "providers = provider_sect" \
    "[provider_sect]" "tokens = tokens_sect" "default = default_sect" \
    "[default_sect]" "activate = 1" \
    "[tokens_sect]" "module = $HSM_PROVIDER_DIR/hsm.so" "activate = 1" >renamed.cnf
ORDER=renamed-in-cnf
SERVER_PROVIDERS=()
SERVER_ENV=("OPENSSL_CONF=$TMP/renamed.cnf")
handshake server-ec tls1_2 ECDSA
handshake server-ec tls1_3 ECDSA
handshake server-rsa tls1_3 RSA-PSS
handshake server-ed tls1_3 Ed25519

finish
