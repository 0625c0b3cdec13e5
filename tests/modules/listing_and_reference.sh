#!/usr/bin/env bash
# Story: a user lists what the token holds, picks a key by the name the
# listing printed, and keeps a key reference file for programs that take
# a path. Each private key's listed URI opens exactly that key (its public
# key is the token's); `pkey -in URI -out ref.pem` writes a reference, and
# `req -x509 -key ref.pem` signs on the token with the key it names.
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

for spec in $(key_ids); do
    type=${spec%%:*} id=${spec#*:}
    require_step drv_keygen "$type" "$id" "k$id"
    save_token_pubkey "$TOKEN" "$id" "tok-$id.pem"
done
printf '%s' "$USER_PIN" >"$TMP/pin"
chmod 600 "$TMP/pin"
mod_cnf pin.cnf "pkcs11-module-token-pin=file:$TMP/pin"

expect_success cnf_openssl "$MOD_CNF" storeutl \
    "pkcs11:token=$TOKEN_URI;type=private?pin-value=$USER_PIN"
listing=$LAST_OUT
for spec in $(key_ids); do
    type=${spec%%:*} id=${spec#*:}
    name=$(sed -n "s/^[0-9]*: Name: \(pkcs11:.*;id=%$id;.*type=private\)\$/\1/p" "$listing")
    if [ -z "$name" ]; then
        fail "$type: the listing names no private key with id $id"
        continue
    fi
    pass "$type: listed as $name"
    expect_success cnf_openssl pin.cnf pkey -in "$name" -pubout -out "listed-$id.pem" &&
        same_pubkey "$type: the listed URI opens the token's key $id" "listed-$id.pem" "tok-$id.pem"
    expect_success cnf_openssl "$MOD_CNF" pkey -in "$(mod_uri "$id")" -out "ref-$id.pem" &&
        check "$type: the reference file holds no key material (a URI)" \
            grep -q "BEGIN PRIVATE KEY" "ref-$id.pem"
    expect_success cnf_openssl pin.cnf req -new -x509 -key "ref-$id.pem" -subj "/CN=$type ref" \
        -days 1 -out "root-$id.pem" &&
        verify_root "root-$id.pem" "tok-$id.pem"
done
finish
