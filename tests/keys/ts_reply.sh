#!/usr/bin/env bash
# Story: a time-stamping authority whose key is on the token. `openssl ts
# -reply` reads its key only from a file, so it is given the key reference
# that `openssl pkey -in pkcs11:...` writes, with the PIN from -passin. RSA
# (PKCS#1 v1.5 and PSS) and EC TSA keys; every reply is verified by plain
# OpenSSL against the query and the TSA certificate.
# shellcheck source=keys_lib.sh
. "$(dirname "$0")/keys_lib.sh"

make_token tsa
make_key tsa rsa:2048 01 rsa
make_key tsa EC:prime256v1 02 ec
require
printf 'a document to time-stamp\n' >data
plain_openssl ts -query -data data -sha256 -cert -out query.tsq
echo 01 >serial
cat >ts.cnf <<CNF
[tsa]
default_tsa = tsa_config
[tsa_config]
serial = $TMP/serial
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384
ess_cert_id_alg = sha256
CNF

for k in rsa ec; do
    self_signed_root "$(key_uri tsa $k)" $k.crt \
        -addext "extendedKeyUsage=critical,timeStamping"
    expect_success hsm_openssl pkey -in "pkcs11:token=tsa;object=$k;type=private" \
        -passin "file:$PIN_FILE" -out $k.ref.pem
    expect_success hsm_openssl ts -reply -config ts.cnf -queryfile query.tsq -signer $k.crt \
        -inkey $k.ref.pem -passin "file:$PIN_FILE" -out $k.tsr &&
        expect_success plain_openssl ts -verify -in $k.tsr -queryfile query.tsq -CAfile $k.crt \
            -untrusted $k.crt
done
finish
