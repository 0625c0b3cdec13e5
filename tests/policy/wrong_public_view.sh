#!/usr/bin/env bash
# Story: a token (or the middleware in front of it) reports a public key
# that is not the key that signs: the fault-injection shim's wrong-pubkey
# alters the public key attributes of one CKA_ID (a valid point or modulus,
# just the wrong one). Where some views of the key are altered and others
# are not, a load fails with "public key views of the key disagree", naming
# the two views and their fingerprints; where every view is altered
# consistently, only a signature can tell and the load fails with "token key
# failed the possession proof" (or, with check-possession = no, signing
# fails with "token signed with a key that does not match its published
# public key"). A long-lived process and a new one fail alike, no
# certificate is written, and without the directive all loads equal the
# token again. For P-256 and RSA-2048.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

make_token ca
make_key ca EC:prime256v1 01 k
make_key ca rsa:2048 02 r
require
save_token_pubkey ca 01 k.pem
save_token_pubkey ca 02 r.pem
policy_cnf shim.cnf "$HSM_FAULT_SHIM"
policy_cnf shim-nocheck.cnf "$HSM_FAULT_SHIM" check-possession=no
uri_k="pkcs11:token=ca;id=%01;object=k;type=private?pin-value=$USER_PIN"
uri_r="pkcs11:token=ca;id=%02;object=r;type=private?pin-value=$USER_PIN"

# Each key gets its own certificate, issued through the provider (no
# directive yet), so that there is a view the shim can leave alone.
for kl in k:01 r:02; do
    label=${kl%:*} id=${kl#*:}
    uri="pkcs11:token=ca;id=%$id;object=$label;type=private?pin-value=$USER_PIN"
    expect_success cnf_openssl shim.cnf req -new -x509 -key "$uri" -subj "/CN=$label" -days 30 \
        -outform DER -out "$label.crt.der"
    require_step p11 ca --write-object "$label.crt.der" --type cert --id "$id" --label "$label"
done

holder_start shim.cnf || finish
holder_load_ok "loads k before any fault" k "$uri_k"
holder_load_ok "loads r before any fault" r "$uri_r"

# two_views DESC : the holder's last answer names two views with their
# fingerprints, and says they are different keys.
two_views() {
    check "$1: the error names two views and their fingerprints" \
        grep -qE "the [^;]+ \(SHA-256 [0-9a-f]{64}\) and the [^;]+ \(SHA-256 [0-9a-f]{64}\) are different keys" \
        <<<"$HOLDER_REPLY"
}

# 1. Views that disagree.
for case in "k 01 CKA_EC_POINT public key object" "r 02 CKA_VALUE certificate" \
    "r 02 CKA_MODULUS certificate" "k 01 CKA_PUBLIC_KEY_INFO,CKA_EC_POINT certificate"; do
    read -r label id attrs named <<<"$case"
    attrs=${attrs//,/ }
    uri="pkcs11:token=ca;id=%$id;object=$label;type=private?pin-value=$USER_PIN"
    shim_control "wrong-pubkey $id $attrs"
    holder_load_fails_with "$R_VIEWS" "wrong $attrs for $label" "$label-fresh" "$uri" &&
        {
            two_views "wrong $attrs for $label"
            check "wrong $attrs for $label: the $named is one of them" \
                grep -qF "$named" <<<"$HOLDER_REPLY"
        }
    restart_equivalence "wrong $attrs for $label" "$label-fresh" "$uri" ca "$id" "$R_VIEWS"
    expect_failure_with "$R_VIEWS" cnf_openssl shim.cnf req -new -x509 -key "$uri" \
        -subj /CN=Root -days 30 -out "root-$label-views.pem"
    # The key loaded before the fault: its private key is unchanged.
    holder_sign_valid_or_clear "$label loaded before wrong $attrs" "$label" "$DATA"
done

# 2. Every view wrong, consistently (the default: all public attributes and
# the certificate): a view comparison cannot tell, a signature can.
for kl in k:01 r:02; do
    label=${kl%:*} id=${kl#*:}
    uri="pkcs11:token=ca;id=%$id;object=$label;type=private?pin-value=$USER_PIN"
    shim_control "wrong-pubkey $id"
    expect_success cnf_openssl shim-nocheck.cnf pkey -in "$uri" -pubout -out "$label.wrong.pem" &&
        check_not "every view of $label shows a wrong key (the emulation works)" \
            cmp -s <(spki_sha256 "$label.wrong.pem") <(spki_sha256 "$label.pem")
    holder_load_fails_with "$R_POSSESSION" "$label with every view wrong" "$label-fresh" "$uri"
    restart_equivalence "$label with every view wrong" "$label-fresh" "$uri" ca "$id" "$R_POSSESSION"
    expect_failure_with "$R_POSSESSION" cnf_openssl shim.cnf req -new -x509 -key "$uri" \
        -subj /CN=Root -days 30 -out "root-$label-wrong.pem"
    expect_failure_with "$R_BAD_SIG" cnf_openssl shim-nocheck.cnf req -new -x509 -key "$uri" \
        -subj /CN=Root -days 30 -out "root-$label-wrong-nocheck.pem"
    holder_sign_valid_or_clear "$label loaded before every view went wrong" "$label" "$DATA"
done

# 3. A server with check-possession = no loads the wrong view; its
# signatures are refused, never returned invalid.
holder_start shim-nocheck.cnf || finish
shim_control "wrong-pubkey 01" "wrong-pubkey 02"
holder_load_ok "with check-possession = no, k loads with every view wrong" k "$uri_k"
holder_load_ok "with check-possession = no, r loads with every view wrong" r "$uri_r"
holder_sign_fails_with "$R_BAD_SIG" "k signing under a wrong published key" k "$DATA"
holder_sign_fails_with "$R_BAD_SIG" "r signing under a wrong published key" r "$DATA"

# 4. The directive goes: every load equals the token again.
shim_control
holder_start shim.cnf || finish
restart_equivalence "k without the fault" k "$uri_k" ca 01
holder_pub_is "k is the token's k" k k.pem
holder_sign_ok "k signs" k "$DATA"
restart_equivalence "r without the fault" r "$uri_r" ca 02
holder_pub_is "r is the token's r" r r.pem
holder_sign_ok "r signs" r "$DATA"

policy_finish
