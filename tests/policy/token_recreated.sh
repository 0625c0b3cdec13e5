#!/usr/bin/env bash
# Story: an operator deletes a SoftHSMv2 token and creates it again with the
# same label (softhsm2-util), with a new key under the same id and label,
# while a server has the old key loaded. SoftHSMv2 fixes its slot list at
# C_Initialize, so the server's module never sees the new token by itself.
# The server's next signature is refused with an explicit error (never made
# with the old key, never silently with the new one); loading the URI again
# finds the new token and key (the provider initialises the module again, as
# a restarted process would) and equals a new process and the token.
# The same for a token re-initialised in place (softhsm2-util --init-token
# on its slot), and for both through p11-kit's proxy, the default module.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"

# recreate LABEL : deletes the token LABEL and creates it again.
recreate() {
    require_step expect_success softhsm2-util --delete-token --token "$1"
    require_step make_token "$1"
}

# reinit_in_place LABEL : softhsm2-util --init-token on the token's slot.
reinit_in_place() {
    local slot
    slot=$(softhsm2-util --show-slots 2>/dev/null | awk -v l="$1" '
        /^Slot [0-9]+ *$/ { cur = $2 }
        $1 == "Label:" && $2 == l { print cur; exit }')
    check "token $1 is in slot $slot" test -n "$slot"
    require_step expect_success softhsm2-util --init-token --slot "$slot" --label "$1" \
        --so-pin "$SO_PIN" --pin "$USER_PIN"
    TOKEN_SLOT=$slot
    TOKEN_SERIAL=$(softhsm2-util --show-slots 2>/dev/null | awk -v s="$slot" '
        /^Slot [0-9]+ *$/ { cur = $2 }
        cur == s && $1 == "Serial" { print $3; exit }')
}

# story MODULE-DESC CNF CHANGE : one round: keys made, loaded, signed; the
# token changed by CHANGE (recreate or reinit_in_place); checks.
story() {
    local desc=$1 cnf=$2 change=$3 old_serial uri_k uri_r want
    echo "--- $desc: $change"
    require_step make_key ca EC:prime256v1 01 k
    require_step make_key ca rsa:2048 02 r
    old_serial=$TOKEN_SERIAL
    save_token_pubkey ca 01 k.old.pem
    save_token_pubkey ca 02 r.old.pem
    uri_k="pkcs11:token=ca;id=%01;object=k;type=private?pin-value=$USER_PIN"
    uri_r="pkcs11:token=ca;id=%02;object=r;type=private?pin-value=$USER_PIN"
    holder_start "$cnf" || return
    holder_load_ok "$desc: loads k" k "$uri_k"
    holder_load_ok "$desc: loads r" r "$uri_r"
    holder_sign_ok "$desc: signs with k" k "$DATA"
    holder_sign_ok "$desc: signs with r" r "$DATA"

    "$change" ca
    require_step make_key ca EC:prime256v1 01 k
    require_step make_key ca rsa:2048 02 r
    save_token_pubkey ca 01 k.new.pem
    save_token_pubkey ca 02 r.new.pem
    echo "token ca: serial $old_serial -> $TOKEN_SERIAL"

    # A token with a new serial is not the token the key was loaded from;
    # one re-initialised in place is, but holds a different key.
    want=$R_CHANGED
    [ "$TOKEN_SERIAL" = "$old_serial" ] || want=$R_GONE
    holder_sign_fails_with "$want" "$desc, $change: signing with the old k" k "$DATA"
    holder_sign_fails_with "$want" "$desc, $change: signing with the old r" r "$DATA"
    holder_sign_fails_with "$want" "$desc, $change: signing with the old k again" k "$DATA"
    restart_equivalence "$desc, $change: k" k "$uri_k" ca 01
    holder_pub_is "$desc, $change: the reload is the new k" k k.new.pem
    restart_equivalence "$desc, $change: r" r "$uri_r" ca 02
    holder_pub_is "$desc, $change: the reload is the new r" r r.new.pem
    holder_sign_ok "$desc, $change: signs with the new k" k "$DATA" &&
        verify_sig "$desc, $change: ... under the token's new k" k.new.pem "$LAST_SIG" "$DATA" &&
        check_not "$desc, $change: ... and not under the old k" plain_openssl dgst -sha256 \
            -verify k.old.pem -signature "$LAST_SIG" "$DATA"
    holder_sign_ok "$desc, $change: signs with the new r" r "$DATA" &&
        verify_sig "$desc, $change: ... under the token's new r" r.new.pem "$LAST_SIG" "$DATA"
    # A certificate issued now by a new process carries the new key.
    expect_success cnf_openssl "$cnf" req -new -x509 -key "$uri_k" -subj /CN=Root -days 30 \
        -out "root-$SEQ.pem" && verify_root "root-$SEQ.pem" k.new.pem
    SEQ=$((SEQ + 1))
    holder_stop
    # Next round starts from an empty token again.
    "$change" ca
}
SEQ=1

make_token ca
require
policy_cnf softhsm.cnf "$SOFTHSM_MODULE"
policy_cnf proxy.cnf ""

story "SoftHSMv2 module" softhsm.cnf recreate
story "SoftHSMv2 module" softhsm.cnf reinit_in_place
if [ -e "$P11KIT_PROXY" ] && [ -e /usr/share/p11-kit/modules/softhsm2.module ]; then
    story "p11-kit proxy" proxy.cnf recreate
    story "p11-kit proxy" proxy.cnf reinit_in_place
else
    echo "p11-kit proxy or its SoftHSMv2 registration missing: proxy rounds skipped"
fi

policy_finish
