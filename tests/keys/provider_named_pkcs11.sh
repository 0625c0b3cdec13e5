#!/usr/bin/env bash
# Story: programs that load a provider named `pkcs11` (the kernel's
# sign-file calls OSSL_PROVIDER_try_load(NULL, "pkcs11") and then opens its
# key by URI) use hsm configured under that name in openssl.cnf
# (`pkcs11 = pkcs11_sect`, `module = .../hsm.so`). The algorithms carry
# `provider=hsm` whatever the configured name, so software work stays off
# the provider and `-propquery '?provider=hsm'` still selects it. The common
# commands (req, dgst, genpkey, s_server) work under that name with
# prefer-other-providers on (in either order) and off (default first), and
# sign-file signs a module whose CMS signature plain OpenSSL verifies.
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 signer
make_key ca rsa:2048 02 rsa
require
save_pubkey_by_id ca 01 signer.pub
save_pubkey_by_id ca 02 rsa.pub

# pkcs11_cnf FILE ORDER PREFER : hsm activated as "pkcs11", with default.
pkcs11_cnf() {
    local file=$1 order=$2 prefer=$3 first second
    case $order in
    pkcs11-first) first=pkcs11 second=default ;;
    *) first=default second=pkcs11 ;;
    esac
    printf '%s\n' "openssl_conf = openssl_init" "[openssl_init]" "providers = provider_sect" \
        "[provider_sect]" "$first = ${first}_sect" "$second = ${second}_sect" \
        "[default_sect]" "activate = 1" \
        "[pkcs11_sect]" "module = $HSM_PROVIDER_DIR/hsm.so" \
        "pkcs11-module-token-pin = file:$PIN_FILE" "prefer-other-providers = $prefer" \
        "activate = 1" >"$file"
}

plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -subj /CN=Named-Test-Root -days 30 -out ca.pem 2>/dev/null
printf '%s\n' "subjectAltName = IP:127.0.0.1" "extendedKeyUsage = serverAuth" >server.ext
echo "data to sign" >data

# serve CNF LABEL PROTO : one s_server with the token key, one plain
# s_client that verifies the server against ca.pem.
serve() {
    local cnf=$1 label=$2 proto=$3 port srv
    port=$(free_port) || { fail "no free port"; return 1; }
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_CONF="$cnf" timeout -k 5 40 "$OPENSSL_BIN" s_server \
        -accept "127.0.0.1:$port" -key "pkcs11:token=ca;object=$label;type=private" \
        -cert "$label.crt" -naccept 1 -www >"srv-$cnf-$label-$proto.out" 2>&1 </dev/null &
    srv=$!
    s_server_accepting "srv-$cnf-$label-$proto.out" "$srv"
    expect_success plain_openssl s_client -connect "127.0.0.1:$port" "-$proto" \
        -verify_return_error -CAfile ca.pem -verify_ip 127.0.0.1
    wait "$srv"
    check "$cnf: s_server with $label over $proto exited cleanly" test $? -eq 0
}

n=0
for setting in pkcs11-first:yes default-first:yes default-first:no; do
    order=${setting%:*} prefer=${setting#*:}
    cnf="named-$order-$prefer.cnf"
    n=$((n + 1))
    pkcs11_cnf "$cnf" "$order" "$prefer"
    for label in signer rsa; do
        expect_success cnf_openssl "$cnf" req -new -x509 \
            -key "pkcs11:token=ca;object=$label;type=private" -subj "/CN=$label-$n" -days 10 \
            -out "root-$label-$n.pem" && verify_root "root-$label-$n.pem" "$label.pub"
        expect_success cnf_openssl "$cnf" dgst -sha256 \
            -sign "pkcs11:token=ca;object=$label;type=private" -out "data-$label-$n.sig" data &&
            expect_success plain_openssl dgst -sha256 -verify "$label.pub" \
                -signature "data-$label-$n.sig" data
        expect_success cnf_openssl "$cnf" req -new -key "pkcs11:token=ca;object=$label;type=private" \
            -subj /CN=127.0.0.1 -out "$label.csr" &&
            expect_success plain_openssl x509 -req -in "$label.csr" -CA ca.pem -CAkey ca.key \
                -set_serial "$RANDOM" -days 10 -extfile server.ext -out "$label.crt"
        serve "$cnf" "$label" tls1_3
        serve "$cnf" "$label" tls1_2
    done
    # Key generation on the token through the provider under its new name.
    expect_success cnf_openssl "$cnf" genpkey -propquery '?provider=hsm' -algorithm EC \
        -pkeyopt group:P-256 -pkeyopt "pkcs11_uri:pkcs11:token=ca;object=gen-$n" -out "gen-$n.pem" &&
        expect_success cnf_openssl "$cnf" pkey -in "gen-$n.pem" -pubout -out "gen-$n.pub" &&
        expect_success cnf_openssl "$cnf" dgst -sha256 -sign "gen-$n.pem" -out "gen-$n.sig" data &&
        expect_success plain_openssl dgst -sha256 -verify "gen-$n.pub" -signature "gen-$n.sig" data
    # A software key is still made in software.
    expect_success cnf_openssl "$cnf" genpkey -algorithm EC -pkeyopt group:P-256 -out "sw-$n.key" &&
        expect_success plain_openssl pkey -in "sw-$n.key" -noout
done

# The kernel's sign-file: loads "pkcs11" by name, opens the key by URI.
SIGN_FILE=$(ls /usr/lib/linux-kbuild-*/scripts/sign-file 2>/dev/null | head -n1)
if [ -z "$SIGN_FILE" ]; then
    fail "sign-file is not installed (linux-kbuild)"
else
    pkcs11_cnf sign-file.cnf default-first yes
    expect_success cnf_openssl sign-file.cnf req -new -x509 \
        -key 'pkcs11:token=ca;object=signer;type=private' -subj /CN=module-signing -days 10 \
        -out modsign.pem
    head -c 4096 /dev/urandom >module.ko
    cp module.ko module-attached.ko
    expect_success cnf_program sign-file.cnf "$SIGN_FILE" -d sha256 \
        'pkcs11:token=ca;object=signer;type=private' modsign.pem module.ko
    expect_success plain_openssl cms -verify -binary -inform DER -in module.ko.p7s \
        -content module.ko -certfile modsign.pem -nointern -noverify -out /dev/null
    expect_success cnf_program sign-file.cnf "$SIGN_FILE" sha256 \
        'pkcs11:token=ca;object=signer;type=private' modsign.pem module-attached.ko
    check "sign-file appended its signature and marker to the module" \
        grep -qa '~Module signature appended~' module-attached.ko
    tamper module.ko.p7s module.ko.bad.p7s
    expect_failure_with --any-file "" plain_openssl cms -verify -binary -inform DER \
        -in module.ko.bad.p7s -content module.ko -certfile modsign.pem -nointern -noverify \
        -out bad.content
fi

finish
