# shellcheck shell=bash
# Shared set-up for the ceremony scenarios; sourced, never run.
#
# Builds on tests/integration/lib.sh (a SoftHSMv2 token in a temporary
# directory, openssl through the provider, plain verification, the
# "N passed, M failed" verdict) and drives the scripts of examples/ceremony/
# the way an operator would: with /bin/sh, parameters in the environment,
# stdin closed. Every result is checked again here with plain OpenSSL.
#
# Environment (set by tests/ceremony/meson.build), besides lib.sh's:
#   HSM_FAULT_SHIM   the fault-injection module hsm-fault-shim.so
#   HSM_AUDIT_TOOL   the built hsm-audit (the scripts' CEREMONY_HSM_AUDIT)

# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

CEREMONY_HOME="$HSM_SOURCE_ROOT/examples/ceremony"
# The ceremony's own CEREMONY_* parameters never leak in from the caller.
for _v in $(env | sed -n 's/^\(CEREMONY_[A-Z_]*\)=.*/\1/p'); do unset "$_v"; done
unset HSM_CEREMONY_PIN HSM_DEBUG_LOG HSM_DEBUG_LEVEL

# A sanitized provider (or shim) needs the sanitizer runtime in every
# process the scripts start that loads it: they run CEREMONY_OPENSSL and
# CEREMONY_PKCS11_TOOL, here wrappers that add it.
if [ -n "${HSM_TEST_PRELOAD:-}" ]; then
    mkdir -p "$TMP/bin"
    for _tool in "$OPENSSL_BIN" /usr/bin/pkcs11-tool; do
        printf '#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' "$HSM_TEST_PRELOAD" "$_tool" \
            >"$TMP/bin/${_tool##*/}"
        chmod 755 "$TMP/bin/${_tool##*/}"
    done
    export CEREMONY_OPENSSL="$TMP/bin/openssl" CEREMONY_PKCS11_TOOL="$TMP/bin/pkcs11-tool"
else
    export CEREMONY_OPENSSL="$OPENSSL_BIN"
fi

# The provider's audit log tool, built beside it (the scripts call it to
# check the log, add notes and find each signature's record).
export CEREMONY_HSM_AUDIT="$HSM_AUDIT_TOOL"

# A PIN no hex dump or base64 text will hold by chance, so that "the PIN
# appears nowhere" means something.
USER_PIN=Qz7wKv93xR
PIN_FILE="$TMP/token.pin"
printf '%s\n' "$USER_PIN" >"$PIN_FILE"
chmod 600 "$PIN_FILE"

# The shim, for the scenarios that use it (control file rewritten by
# shim_control, call log in SHIM_LOG, counted by shim_calls).
# shellcheck source=../shim/shim_lib.sh
. "$HSM_SOURCE_ROOT/tests/shim/shim_lib.sh"

# A CSR for the intermediate, made in software by plain OpenSSL (the
# intermediate CA's key is not the ceremony's business).
make_csr() {
    plain_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
        -keyout "$TMP/$1.key" -subj "${2:-/O=Ceremony Test/CN=Test Intermediate CA}" \
        -out "$TMP/$1.csr" >/dev/null 2>&1
}

# ceremony_env TOKEN [MODULE] : the parameters of a ceremony on TOKEN with
# the root key "root" (id 01), EC P-384, PIN from PIN_FILE.
ceremony_env() {
    export CEREMONY_MODULE="${2:-$SOFTHSM_MODULE}"
    export CEREMONY_TOKEN="$1"
    export CEREMONY_KEY_LABEL=root CEREMONY_KEY_ID=01 CEREMONY_KEY_TYPE=ec-p384
    export CEREMONY_PIN_FILE="$PIN_FILE"
    export CEREMONY_PROVIDER="$HSM_PROVIDER_DIR/hsm.so"
    export CEREMONY_ROOT_SUBJECT="/C=XX/O=Ceremony Test/CN=Test Root CA"
    export CEREMONY_ROOT_DAYS=3650 CEREMONY_DIGEST=sha384
    [ -e "$TMP/intermediate.csr" ] || make_csr intermediate
    export CEREMONY_CSR="$TMP/intermediate.csr"
    export CEREMONY_CRL_URL=http://pki.example.test/root.crl
    export CEREMONY_INTERMEDIATE_DAYS=1825 CEREMONY_PATHLEN=0
    export CEREMONY_INTERMEDIATE_KEY_USAGE=keyCertSign,cRLSign CEREMONY_CRL_DAYS=30
}

STEP_SCRIPTS=(x 1-prepare 2-generate 3-self-sign 4-check-root 5-sign-intermediate 6-issue-crl)

# step N DIR : one step of the ceremony, run with /bin/sh (the scripts are
# POSIX sh) and a time limit.
step() {
    timeout -k 10 "$CMD_TIMEOUT" /bin/sh "$CEREMONY_HOME/${STEP_SCRIPTS[$1]}.sh" "$2"
}

# steps DIR N... : several steps that must succeed, as assertions.
steps() {
    local dir=$1 n
    shift
    for n in "$@"; do
        expect_success step "$n" "$dir" || return 1
    done
}

# step_fails N DIR TEXT : the step fails cleanly, names itself, and says TEXT.
step_fails() {
    local n=$1 dir=$2 text=$3
    expect_failure_with --any-file "$text" step "$n" "$dir" || return 1
    assert_output_contains "FAILED at step $n (" 
}

# object_count TOKEN : the number of objects on the token, read by
# pkcs11-tool (logged in: private objects count).
object_count() {
    local -a sel
    mapfile -t sel < <(_token_args "$1")
    pkcs11-tool --module "$SOFTHSM_MODULE" "${sel[@]}" --login --pin "$USER_PIN" \
        --list-objects 2>/dev/null | grep -ci '^[a-z].* object'
}

# dir_state DIR : every file in DIR but the transcript and the audit log
# (both are appended to by every step, refused ones too), with its SHA-256:
# what "nothing was written" compares.
dir_state() {
    (cd "$1" 2>/dev/null && find . \( -path ./transcript.log -o -path ./audit.log \) -prune -o \
        -type f -print0 | sort -z | xargs -0r sha256sum)
}

# nothing_changed DESC DIR STATE-BEFORE TOKEN COUNT-BEFORE : no file in DIR
# was written or changed and the token holds as many objects as before;
# no partial output and no lock are left behind.
nothing_changed() {
    local desc=$1 dir=$2 before=$3 token=$4 count=$5 now
    if [ "$(dir_state "$dir")" = "$before" ]; then
        pass "$desc: no file in the ceremony directory was written or changed"
    else
        fail "$desc: the ceremony directory changed"
        diff <(printf '%s\n' "$before") <(dir_state "$dir") | head -10 | sed 's/^/  | /'
    fi
    check "$desc: no partial output or lock left" \
        test -z "$(find "$dir" -maxdepth 1 \( -name '.partial-*' -o -name .lock \))"
    now=$(object_count "$token")
    check "$desc: the token still holds $count objects (holds $now)" test "$now" = "$count"
}

# transcript_says DIR TEXT : the transcript has a line with TEXT.
transcript_says() {
    check "the transcript says \"$2\"" grep -qF -- "$2" "$1/transcript.log"
}

# spki_sha256_of_cert CERT : SHA-256 of a certificate's SubjectPublicKeyInfo.
spki_sha256_of_cert() {
    plain_openssl x509 -in "$1" -noout -pubkey | plain_openssl pkey -pubin -outform DER |
        sha256sum | cut -d' ' -f1
}

# spki_sha256 PEM : SHA-256 of a public key's SubjectPublicKeyInfo.
spki_sha256() {
    plain_openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1
}

# spy_logins LOG : the C_Login calls in a pkcs11-spy log.
spy_logins() {
    grep -cE '^[0-9]+: C_Login$' "$1" 2>/dev/null
}
