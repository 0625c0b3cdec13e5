#!/usr/bin/env bash
# Story: a key a server has loaded is deleted from the token by another
# process and nothing replaces it. The server's next signature is refused
# with a clear error and writes nothing; a fresh load fails with "no object
# matches the URI" in the server and in a new process alike. Deleting only
# the private key (the public key object stays) is the same. When a key is
# later made under the old id, the server's old name still refuses (it is a
# different key) and a fresh load gives the new key, as a new process does.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 k
make_key ca rsa:2048 02 r
make_key ca EC:prime256v1 03 bystander
require
policy_cnf softhsm.cnf "$SOFTHSM_MODULE"
holder_start softhsm.cnf || finish

uri_k="pkcs11:token=ca;id=%01;object=k;type=private?pin-value=$USER_PIN"
uri_r="pkcs11:token=ca;id=%02;object=r;type=private?pin-value=$USER_PIN"
uri_b="pkcs11:token=ca;id=%03;type=private?pin-value=$USER_PIN"

holder_load_ok "loads k (P-256)" k "$uri_k"
holder_load_ok "loads r (RSA-2048)" r "$uri_r"
holder_load_ok "loads a bystander key" b "$uri_b"
holder_sign_ok "signs with k before the deletion" k "$DATA"
holder_sign_ok "signs with r before the deletion" r "$DATA"

# 1. The whole key pair k is deleted by another process.
require_step delete_key ca 01
no_key_on_token ca 01
holder_sign_fails_clearly "signing with the deleted k" k "$DATA"
holder_sign_fails_clearly "signing with the deleted k again" k "$DATA"
restart_equivalence "k deleted" k "$uri_k" ca 01 "$R_NO_OBJECT"
restart_equivalence "k deleted, URI by label only" k \
    "pkcs11:token=ca;object=k;type=private?pin-value=$USER_PIN" ca 01 "$R_NO_OBJECT"
restart_equivalence "k deleted, URI by id only" k \
    "pkcs11:token=ca;id=%01;type=private?pin-value=$USER_PIN" ca 01 "$R_NO_OBJECT"
# The other keys on the token are not disturbed.
holder_sign_ok "the bystander key still signs" b "$DATA"

# 2. Only r's private key is deleted; its public key object stays.
require_step p11 ca --delete-object --type privkey --id 02
holder_sign_fails_clearly "signing with r whose private key was deleted" r "$DATA"
holder_load_fails_with "$R_NO_OBJECT" "fresh load of r (public key object only)" r2 "$uri_r"
expect_failure_with --any-file "$R_NO_OBJECT" \
    cnf_openssl softhsm.cnf pkey -in "$uri_r" -pubout -out r-new-process.pem
expect_failure_with "$R_NO_OBJECT" cnf_openssl softhsm.cnf req -new -x509 -key "$uri_r" \
    -subj /CN=Root -days 1 -out r-root.pem

# 3. A new key is made under k's old id and label: the old name still
# refuses (never a silent switch), a fresh load gives the new key.
require_step make_key ca EC:prime256v1 01 k
save_token_pubkey ca 01 k-new.pem
holder_sign_fails_with "$R_CHANGED" "signing with the old k after a new k appeared" k "$DATA"
restart_equivalence "a new k made under the old id" k "$uri_k" ca 01
holder_pub_is "the holder's reload is the new k" k k-new.pem
holder_sign_ok "signs with the new k" k "$DATA" &&
    verify_sig "the signature verifies under the token's new k" k-new.pem "$LAST_SIG" "$DATA"

policy_finish
