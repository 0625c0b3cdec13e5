#!/usr/bin/env bash
# Story: a PSS CA (certificate's SubjectPublicKeyInfo tagged rsassaPss) whose
# key is on the token as an ordinary RSA key is, to OpenSSL, an RSA-PSS key
# that signs with PSS by default: `openssl x509 -req -CAkey pkcs11:...` with
# no -sigopt issues a leaf signed with RSA-PSS that plain OpenSSL verifies
# against the CA certificate (before, the CA key and certificate "do not
# match": different key types), in both provider orders; and `openssl
# s_server` with that key and certificate serves TLS 1.2 and TLS 1.3, where
# a plain `openssl s_client` that accepts only RSA-PSS signatures verifies
# the server.
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

make_token ca
require
plain_openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out ca-pss.key \
    2>/dev/null
expect_success plain_openssl req -new -x509 -key ca-pss.key -subj /CN=localhost -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext subjectAltName=IP:127.0.0.1 -out ca.pem
# Onto the token as a plain RSA key (the PKCS#1 key inside the RSA-PSS
# PKCS#8), with its public key and certificate under the same id.
off=$(plain_openssl asn1parse -in ca-pss.key | awk '/OCTET STRING/ { sub(/:.*/, "", $1); print $1; exit }')
plain_openssl asn1parse -in ca-pss.key -strparse "$off" -noout -out ca-rsa.der &&
    plain_openssl pkey -inform DER -in ca-rsa.der -out ca-rsa.pem &&
    plain_openssl pkey -in ca-rsa.pem -pubout -out ca-rsa.pub.pem &&
    plain_openssl x509 -in ca.pem -outform DER -out ca.der
for o in "ca-rsa.pem privkey --usage-sign" "ca-rsa.pub.pem pubkey" "ca.der cert"; do
    read -r file type more <<<"$o"
    # shellcheck disable=SC2086
    p11 ca --login --pin "$USER_PIN" --write-object "$file" --type "$type" --id 01 --label ca \
        $more >/dev/null
done
CA_KEY="pkcs11:token=ca;id=%01;type=private?pin-value=$USER_PIN"

# A leaf, PSS by default, in both provider orders.
plain_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
    -subj /CN=leaf -out leaf.csr 2>/dev/null
for run in hsm_openssl dflt_openssl; do
    expect_success "$run" x509 -req -in leaf.csr -CA ca.pem -CAkey "$CA_KEY" -set_serial 7 \
        -days 10 -out "leaf-$run.pem" &&
        expect_success plain_openssl verify -CAfile ca.pem "leaf-$run.pem" &&
        expect_success plain_openssl x509 -in "leaf-$run.pem" -noout -text &&
        assert_output_contains "Signature Algorithm: rsassaPss"
done

# A TLS server with the token key and the PSS certificate.
for proto in tls1_2 tls1_3; do
    # A port another process took between the choice and the bind ends the
    # server at once: another port then.
    for _try in 1 2 3; do
        port=$(free_port) || { fail "no free port"; continue 2; }
        # shellcheck disable=SC2046
        env $(_preload_env) timeout -k 5 40 "$OPENSSL_BIN" s_server \
            -provider-path "$HSM_PROVIDER_DIR" -provider default -provider hsm \
            -accept "127.0.0.1:$port" -key "$CA_KEY" -cert ca.pem -naccept 1 -www \
            >"srv-$proto.out" 2>"srv-$proto.err" </dev/null &
        srv=$!
        s_server_accepting "srv-$proto.out" "$srv" && break
        wait "$srv"
    done
    # The client accepts only RSA-PSS signatures (with a PSS key: the
    # certificate's): the handshake completes only if the server signed so.
    # (s_client names the scheme differently on OpenSSL 3.0 and 3.5.)
    expect_success plain_openssl s_client -connect "127.0.0.1:$port" "-$proto" \
        -sigalgs rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512 \
        -verify_return_error -CAfile ca.pem -verify_ip 127.0.0.1 &&
        assert_output_contains "Verify return code: 0 (ok)"
    wait "$srv"
    check "$proto: s_server served one connection and exited cleanly" test $? -eq 0
done

finish
