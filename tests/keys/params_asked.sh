#!/usr/bin/env bash
# Story: whatever OpenSSL release runs the provider, the parameters its
# commands ask of the provider's key management, signatures and store are
# answered. The provider's debug log at level 3 names each parameter it
# was asked for and did not answer, and each it was given and does not
# take (provider/param_trace.c); this runs req, x509 -req, ca (a
# certificate and a CRL), cms, pkeyutl -rawin, dgst, storeutl -text, pkey
# -text and s_server with RSA, P-256 and Ed25519 token keys, and allows only
# what OpenSSL's own default provider leaves unanswered for the same keys:
# mandatory-digest (RSA, EC) and default-digest (EdDSA).
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

make_token params
make_key params EC:prime256v1 01 ec
make_key params rsa:2048 02 rsa
expect_success p11 params --login --pin "$USER_PIN" --keypairgen --key-type EC:edwards25519 \
    --id 03 --label ed
require
write_provider_cnf params.cnf "pkcs11-module-token-pin=file:$PIN_FILE"
LOG="$TMP/trace.log"
traced() {
    HSM_DEBUG_LOG=$LOG HSM_DEBUG_LEVEL=3 cnf_openssl params.cnf "$@"
}
echo "data the commands sign" >data
mkdir -p ca/new
: >ca/index.txt
echo 01 >ca/serial
printf '%s\n' "[ca]" "default_ca = d" "[d]" "dir = $TMP/ca" 'database = $dir/index.txt' \
    'new_certs_dir = $dir/new' 'serial = $dir/serial' "default_md = sha256" "policy = p" \
    "default_days = 2" "default_crl_days = 1" "[p]" "commonName = supplied" >ca.cnf

for label in ec rsa ed; do
    uri="pkcs11:token=params;object=$label;type=private"
    digest=()
    [ "$label" = ed ] || digest=(-digest sha256)
    expect_success traced req -new -x509 -key "$uri" -subj "/CN=$label" -days 3 -out "$label.crt"
    expect_success traced req -new -key "$uri" -subj "/CN=leaf-$label" -out "$label.csr"
    expect_success traced x509 -req -in "$label.csr" -CA "$label.crt" -CAkey "$uri" \
        -set_serial 7 -days 2 -out "leaf-$label.crt"
    # (OpenSSL's CMS signs with EdDSA keys of no provider: software ones fail alike)
    [ "$label" = ed ] ||
        expect_success traced cms -sign -in data -signer "$label.crt" -inkey "$uri" -out "$label.cms"
    expect_success traced pkeyutl -sign -rawin "${digest[@]}" -in data -inkey "$uri" \
        -out "$label.pksig"
    [ "$label" = ed ] ||
        expect_success traced dgst -sha256 -sign "$uri" -out "$label.sig" data
    expect_success traced storeutl -noout -text "pkcs11:token=params;object=$label"
    expect_success traced pkey -in "$uri" -text -noout
done
expect_success traced ca -batch -config ca.cnf -cert ec.crt -keyfile \
    "pkcs11:token=params;object=ec;type=private" -in rsa.csr -out issued.crt
expect_success traced ca -batch -config ca.cnf -cert ec.crt -keyfile \
    "pkcs11:token=params;object=ec;type=private" -gencrl -out crl.pem
for label in ec rsa; do
    port=$(free_port)
    # shellcheck disable=SC2046
    env $(_preload_env) HSM_DEBUG_LOG="$LOG" HSM_DEBUG_LEVEL=3 OPENSSL_CONF="$TMP/params.cnf" \
        OPENSSL_MODULES="$HSM_PROVIDER_DIR" timeout -k 5 30 "$OPENSSL_BIN" s_server \
        -accept "127.0.0.1:$port" -key "pkcs11:token=params;object=$label;type=private" \
        -cert "$label.crt" -naccept 1 -www >"srv-$label.out" 2>&1 </dev/null &
    srv=$!
    s_server_accepting "srv-$label.out" "$srv"
    expect_success plain_openssl s_client -connect "127.0.0.1:$port" -tls1_3
    wait "$srv"
done

sed -n 's/^[^ ]* hsm\[[^]]*\] //p' "$LOG" | grep -E ': not (answered|taken): ' | sort -u >asked.txt
cat asked.txt
check "the trace ran (the log has the provider's calls)" test -s "$LOG"
check "nothing asked was left unanswered but what the default provider leaves too" \
    bash -c '! grep -vE "^keymgmt get_params: not answered: (mandatory-digest|default-digest)$" "$1"' \
    _ asked.txt
finish
