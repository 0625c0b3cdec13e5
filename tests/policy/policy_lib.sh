# shellcheck shell=bash
# Shared set-up for the no-stale-cache policy scenarios; sourced, never run.
#
# Builds on tests/integration/lib.sh (token set-up, openssl through the
# provider, plain verification, assertions) and adds a long-lived process,
# key_holder, that loads keys through the provider and signs on request
# while the scenario changes the token from other processes (pkcs11-tool,
# softhsm2-util) or through the fault-injection shim's control file.
#
# Every signature the holder returns is verified at once, with plain
# OpenSSL, under the public key the holder was given for that key when it
# loaded it: "no signature is ever returned that fails to verify under the
# public key the caller was given" is checked on every `sign`, not only
# where a scenario expects success.
#
# Environment (set by tests/policy/meson.build), besides lib.sh's:
#   HSM_KEY_HOLDER   the key_holder binary
#   HSM_FAULT_SHIM   the fault-injection module hsm-fault-shim.so (optional:
#                    scenarios that need it fail when it is missing)

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

if [ -z "${HSM_KEY_HOLDER:-}" ] || [ ! -x "$HSM_KEY_HOLDER" ]; then
    fail "the key holder is not built (HSM_KEY_HOLDER=${HSM_KEY_HOLDER:-unset})"
    finish
fi

# The provider's reason strings (docs/errors.md): a failure is clear when
# it carries one of them.
HSM_REASONS=(
    "malformed pkcs11: URI"
    "pkcs11: URI has an attribute that is not understood"
    "PKCS#11 module not allowed by the configuration"
    "cannot load PKCS#11 module"
    "no token matches the URI"
    "several tokens match the URI"
    "no object matches the URI"
    "several objects match the URI"
    "token PIN required but none given"
    "wrong PIN"
    "token PIN is locked or on its final try"
    "cannot read the PIN source"
    "public key views of the key disagree"
    "token key failed the possession proof"
    "key changed on token since it was loaded"
    "token signed with a key that does not match its published public key"
    "token is no longer available"
    "PKCS#11 call failed"
    "the token's public key fails the public key check"
)
# shellcheck disable=SC2034 # used by the scenario scripts
R_NO_OBJECT="no object matches the URI"
# shellcheck disable=SC2034
R_NO_TOKEN="no token matches the URI"
# shellcheck disable=SC2034
R_VIEWS="public key views of the key disagree"
# shellcheck disable=SC2034
R_POSSESSION="token key failed the possession proof"
# shellcheck disable=SC2034
R_CHANGED="key changed on token since it was loaded"
# shellcheck disable=SC2034
R_BAD_SIG="token signed with a key that does not match its published public key"
# shellcheck disable=SC2034
R_GONE="token is no longer available"
# shellcheck disable=SC2034
R_PKCS11="PKCS#11 call failed"

# reasons_in FILE : the provider reasons FILE names, one a line, in table
# order (so two outputs can be compared as sets).
reasons_in() {
    local r
    for r in "${HSM_REASONS[@]}"; do
        grep -qF -- "$r" "$1" && printf '%s\n' "$r"
    done
}

# ------------------------------------------------------------ configuration

# policy_cnf FILE MODULE [KEY=VALUE...] : an openssl.cnf activating hsm with
# pkcs11-module-path MODULE (a path, or "" for the provider's default, the
# p11-kit proxy) and the given options, plus default.
policy_cnf() {
    local file=$1 module=$2
    shift 2
    if [ -n "$module" ]; then
        write_provider_cnf "$file" "pkcs11-module-path=$module" "$@"
    else
        write_provider_cnf "$file" "$@"
    fi
}

# The shim: a control file a test rewrites while processes run (the holder
# and the "new process" openssl runs see the same directives): need_shim,
# shim_control, shim_calls.
# shellcheck source=../shim/shim_lib.sh
. "$HSM_SOURCE_ROOT/tests/shim/shim_lib.sh"

# --------------------------------------------------------------- the holder

# shellcheck source=../integration/holder_lib.sh
HOLDER_BIN=$HSM_KEY_HOLDER
. "$(dirname "${BASH_SOURCE[0]}")/../integration/holder_lib.sh"
PUB_SEQ=0
declare -A HOLDER_PUB=()

# A new holder has been given no keys yet.
holder_on_start() {
    HOLDER_PUB=()
}

# holder_load NAME URI : loads; on success the public key the holder was
# given is written to HOLDER_PUB[NAME] (the key every later signature by
# NAME must verify under). Returns 1 on failure, the answer in HOLDER_REPLY.
holder_load() {
    local name=$1 uri=$2 pub reply
    holder_send "load $name $uri" || return 1
    case "$HOLDER_REPLY" in ok*) ;; *) return 1 ;; esac
    reply=$HOLDER_REPLY
    PUB_SEQ=$((PUB_SEQ + 1))
    pub="$HOLDER_DIR/$name.given.$PUB_SEQ.pem"
    holder_send "pub $name $pub" || return 1
    case "$HOLDER_REPLY" in
    ok*) HOLDER_PUB[$name]=$pub ;;
    *) return 1 ;;
    esac
    HOLDER_REPLY=$reply
}

# holder_load_ok DESC NAME URI
holder_load_ok() {
    if holder_load "$2" "$3"; then
        pass "holder: $1"
    else
        fail "holder: $1"
        _show_reply
        return 1
    fi
}

# holder_load_fails_with TEXT DESC NAME URI : the load fails and names TEXT.
holder_load_fails_with() {
    local text=$1 desc=$2
    if holder_load "$3" "$4"; then
        fail "holder: $desc: the load succeeded (expected \"$text\")"
        _show_reply
        return 1
    fi
    case "$HOLDER_REPLY" in
    err*"$text"*) pass "holder: $desc fails with \"$text\"" ;;
    *)
        fail "holder: $desc: expected \"$text\""
        _show_reply
        return 1
        ;;
    esac
}

# holder_pub_is DESC NAME PEM : the key the holder was given is PEM's.
holder_pub_is() {
    if [ -z "${HOLDER_PUB[$2]:-}" ]; then
        fail "$1: the holder was given no key $2"
        return 1
    fi
    same_pubkey "$1" "${HOLDER_PUB[$2]}" "$3"
}

# _holder_sign NAME IN OUT [MD] : one signature; when the holder returns one
# it is verified at once under the key the caller was given (the policy's
# invariant); when it refuses, no signature file may be left behind.
# Sets SIGN_OK (1 when a signature came back) and returns 1 only when the
# invariant was broken.
_holder_sign() {
    local name=$1 in=$2 out=$3 md=${4:-SHA256} pub
    SIGN_OK=0
    rm -f -- "$out"
    holder_send "sign $name $in $out $md" || return 0
    case "$HOLDER_REPLY" in
    ok*)
        SIGN_OK=1
        pub=${HOLDER_PUB[$name]:-}
        if [ -n "$pub" ] && plain_openssl dgst "-${md,,}" -verify "$pub" \
            -signature "$out" "$in" >/dev/null 2>&1; then
            pass "the signature $name returned verifies (plain OpenSSL) under the key the caller was given"
        else
            fail "POLICY VIOLATION: the holder returned a signature by $name that does not verify under the key it was given"
            _show_reply
            return 1
        fi
        ;;
    *)
        if [ -e "$out" ]; then
            fail "a refused signature by $name left $(_describe "$out") behind"
            return 1
        fi
        ;;
    esac
    return 0
}

SIG_SEQ=0
_next_sig() {
    SIG_SEQ=$((SIG_SEQ + 1))
    LAST_SIG="$HOLDER_DIR/sig.$SIG_SEQ"
}

# holder_sign_ok DESC NAME IN [MD] : signs, and the signature verifies.
# LAST_SIG names the signature file.
holder_sign_ok() {
    local desc=$1
    _next_sig
    _holder_sign "$2" "$3" "$LAST_SIG" "${4:-SHA256}"
    if [ "$SIGN_OK" = 1 ]; then
        pass "holder: $desc"
    else
        fail "holder: $desc: refused"
        _show_reply
        return 1
    fi
}

# holder_repeat_ok DESC NAME COUNT IN : COUNT signatures in a row, none
# refused (a long-running signer; the signatures are not kept).
holder_repeat_ok() {
    if holder_send "repeat $2 $3 $4" && [ "$HOLDER_REPLY" = "ok repeat $3" ]; then
        pass "holder: $1"
    else
        fail "holder: $1"
        _show_reply
        return 1
    fi
}

# holder_sign_fails_with TEXT DESC NAME IN [MD] : the signature is refused,
# with TEXT, and no signature file is written.
holder_sign_fails_with() {
    local text=$1 desc=$2
    _next_sig
    _holder_sign "$3" "$4" "$LAST_SIG" "${5:-SHA256}"
    if [ "$SIGN_OK" = 1 ]; then
        fail "holder: $desc: a signature was returned (expected \"$text\")"
        _show_reply
        return 1
    fi
    case "$HOLDER_REPLY" in
    err*"$text"*) pass "holder: $desc is refused with \"$text\" and writes no signature" ;;
    *)
        fail "holder: $desc: expected \"$text\""
        _show_reply
        return 1
        ;;
    esac
}

# holder_sign_fails_clearly DESC NAME IN [MD] : the signature is refused
# with one of the provider's reasons, and no signature file is written.
# REFUSAL names the reason.
holder_sign_fails_clearly() {
    local desc=$1 r
    REFUSAL=""
    _next_sig
    _holder_sign "$2" "$3" "$LAST_SIG" "${4:-SHA256}"
    if [ "$SIGN_OK" = 1 ]; then
        fail "holder: $desc: a signature was returned"
        _show_reply
        return 1
    fi
    for r in "${HSM_REASONS[@]}"; do
        case "$HOLDER_REPLY" in
        err*"$r"*)
            REFUSAL=$r
            pass "holder: $desc is refused with \"$r\" and writes no signature"
            return 0
            ;;
        esac
    done
    fail "holder: $desc: refused without a provider reason"
    _show_reply
    return 1
}

# holder_sign_valid_or_clear DESC NAME IN : either a signature that verifies
# (checked by _holder_sign) or a refusal that carries a provider reason.
# Sets SIGN_OK.
holder_sign_valid_or_clear() {
    local desc=$1 r
    REFUSAL=""
    _next_sig
    _holder_sign "$2" "$3" "$LAST_SIG" "${4:-SHA256}" || return 1
    if [ "$SIGN_OK" = 1 ]; then
        pass "holder: $desc: signed, and the signature verifies"
        return 0
    fi
    for r in "${HSM_REASONS[@]}"; do
        case "$HOLDER_REPLY" in
        err*"$r"*)
            # shellcheck disable=SC2034 # read by the scenario scripts
            REFUSAL=$r
            pass "holder: $desc: refused with \"$r\""
            return 0
            ;;
        esac
    done
    fail "holder: $desc: refused without a provider reason"
    _show_reply
    return 1
}

# check_not DESC CMD... : an assertion that must NOT hold (a command that
# must fail: a signature that must not verify under some key).
check_not() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        fail "$what"
    else
        pass "$what"
    fi
}

# verify_sig DESC PUB SIG IN [MD] : plain OpenSSL verifies SIG under PUB.
verify_sig() {
    local md=${5:-sha256}
    check "$1" plain_openssl dgst "-$md" -verify "$2" -signature "$3" "$4"
}

# ------------------------------------------------------------ the token side

# p11 TOKEN ARGS... : pkcs11-tool on the real SoftHSMv2 module, logged in,
# as a second process that changes the token under the holder.
p11() {
    local token=$1
    local -a sel
    shift
    mapfile -t sel < <(_token_args "$token")
    expect_success pkcs11-tool --module "$SOFTHSM_MODULE" "${sel[@]}" --login \
        --pin "$USER_PIN" "$@"
}

# delete_key TOKEN ID : deletes the key pair with that id (private and
# public key objects).
delete_key() {
    p11 "$1" --delete-object --type privkey --id "$2"
    p11 "$1" --delete-object --type pubkey --id "$2"
}

# key_ids_on_token TOKEN : the ids of the key objects on the token (read
# directly, by pkcs11-tool), one a line ("privkey 01", "pubkey 01").
key_ids_on_token() {
    local -a sel
    mapfile -t sel < <(_token_args "$1")
    pkcs11-tool --module "$SOFTHSM_MODULE" "${sel[@]}" --login --pin "$USER_PIN" \
        --list-objects 2>/dev/null | awk '
        /^Private Key Object/ { kind = "privkey"; next }
        /^Public Key Object/ { kind = "pubkey"; next }
        /^Certificate Object/ { kind = "cert"; next }
        /^[A-Za-z]/ { kind = "" }
        $1 == "ID:" && kind != "" { print kind, tolower($2) }'
}

# no_key_on_token TOKEN ID : the token (read directly) has no key with ID.
no_key_on_token() {
    if key_ids_on_token "$1" | grep -qE "^(privkey|pubkey) $2\$"; then
        fail "token $1 still has a key with id $2"
    else
        pass "token $1 has no key with id $2 (pkcs11-tool)"
    fi
}

# spki_sha256 PEM : the SHA-256 of the DER SubjectPublicKeyInfo, the form in
# which the provider prints fingerprints.
spki_sha256() {
    plain_openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1
}

# require_step CMD... : a set-up step inside a scenario that must work for
# the rest to mean anything.
require_step() {
    local before=$FAILED
    "$@"
    if [ "$FAILED" -ne "$before" ]; then
        echo "FAIL: $SCENARIO cannot go on: set-up failed"
        policy_finish
    fi
}

# ---------------------------------------------------- restart equivalence

# restart_equivalence DESC NAME URI TOKEN ID [REASON]
# After a change to the token: a fresh load by URI in the long-lived holder
# gives what a fresh load in a new process (openssl pkey -pubout through the
# provider, same configuration) gives, and what the token holds (its public
# key read by pkcs11-tool); or the holder and the new process both fail
# with the same provider reason (REASON, when given, and the token then has
# no key with ID).
restart_equivalence() {
    local desc=$1 name=$2 uri=$3 token=$4 id=$5 want=${6:-} tag holder_ok=0 new_ok=0
    tag="$HOLDER_DIR/equiv.$RANDOM"
    holder_load "$name" "$uri" && holder_ok=1
    printf '%s\n' "$HOLDER_REPLY" >"$tag.holder"
    # shellcheck disable=SC2046
    _run cnf_openssl "$HOLDER_CNF" pkey -in "$uri" -pubout -out "$tag.new.pem"
    [ "$LAST_RC" -eq 0 ] && [ -s "$tag.new.pem" ] && new_ok=1
    if _sanitizer_report; then
        fail "$desc: new process: sanitizer report"
        _show_last
    fi
    if [ "$holder_ok" = 1 ] && [ "$new_ok" = 1 ]; then
        pass "$desc: the holder and a new process both load the key"
        same_pubkey "$desc: the holder's fresh load equals a new process's" \
            "${HOLDER_PUB[$name]}" "$tag.new.pem"
        if token_pubkey "$token" "$id" >"$tag.token.pem" 2>/dev/null && [ -s "$tag.token.pem" ]; then
            same_pubkey "$desc: ... and the token's public key (pkcs11-tool)" \
                "${HOLDER_PUB[$name]}" "$tag.token.pem"
        else
            fail "$desc: the token has no public key $id to compare with"
        fi
        if [ -n "$want" ]; then
            fail "$desc: expected both loads to fail with \"$want\""
        fi
    elif [ "$holder_ok" = 0 ] && [ "$new_ok" = 0 ]; then
        cat "$LAST_OUT" "$LAST_ERR" >"$tag.new.out"
        reasons_in "$tag.holder" >"$tag.holder.reasons"
        reasons_in "$tag.new.out" >"$tag.new.reasons"
        if [ -s "$tag.holder.reasons" ] && cmp -s "$tag.holder.reasons" "$tag.new.reasons"; then
            pass "$desc: the holder and a new process both fail with \"$(paste -sd '+' "$tag.holder.reasons")\""
        else
            fail "$desc: the holder and a new process fail differently"
            _show_reply
            _show_last
        fi
        if [ -n "$want" ]; then
            if grep -qF -- "$want" "$tag.holder" && grep -qF -- "$want" "$tag.new.out"; then
                pass "$desc: both name \"$want\""
            else
                fail "$desc: expected \"$want\" in both"
                _show_reply
                _show_last
            fi
        fi
        if [ "$LAST_RC" -ge 124 ]; then
            fail "$desc: the new process $(_status_text)"
        fi
    else
        fail "$desc: RESTART EQUIVALENCE BROKEN: holder $([ "$holder_ok" = 1 ] && echo loads || echo fails), new process $([ "$new_ok" = 1 ] && echo loads || echo fails)"
        _show_reply
        _show_last
    fi
}

# Stop the holder before lib.sh removes the temporary directory.
_policy_on_exit() {
    local rc=$?
    if [ -n "$HOLDER_PID" ]; then
        kill -KILL "$HOLDER_PID" 2>/dev/null
        wait "$HOLDER_PID" 2>/dev/null
        HOLDER_PID=""
    fi
    if [ "$FINISHED" != 1 ] && [ -n "$HOLDER_DIR" ] && [ -e "$HOLDER_DIR/transcript" ]; then
        echo "  --- holder transcript:"
        tail -n 20 "$HOLDER_DIR/transcript" | sed 's/^/  | /'
    fi
    (exit "$rc")
    _on_exit
}
trap _policy_on_exit EXIT

# policy_finish : stops the holder (checking a clean exit) and prints the
# verdict line.
policy_finish() {
    holder_stop
    finish
}

# A data file to sign.
plain_openssl rand -out "$TMP/data" 3000 2>/dev/null
# shellcheck disable=SC2034
DATA="$TMP/data"
