# shellcheck shell=sh
# What every ceremony step shares; sourced by the step scripts, never run.
#
# A step is:   begin_step N NAME "$@"  ...checks, commands...  end_step
#
#  - Everything it does goes to the transcript, CEREMONY_DIR/transcript.log,
#    one line per event with its UTC time, and to the terminal: each command
#    exactly as run (with the environment it was given), its output, its exit
#    status, and the SHA-256 of every file it reads or writes. No PIN is ever
#    printed, logged, or put on a command line.
#  - Outputs are created exclusively. A step first claims its output names
#    and refuses to start if one exists; it writes into a private directory
#    CEREMONY_DIR/.partial-N-PID, checks the results there, and only then
#    hard-links each file to its final name (ln, which never replaces a
#    file). A failed step leaves no file under an output's name.
#  - The first failure ends the step with exit status 1 and the message
#    "FAILED at step N (NAME): why". Nothing after it runs.
#
# The hsm provider is reached only through hsm_openssl, which gives OpenSSL
# the configuration written by step 1 (CEREMONY_DIR/openssl-hsm.cnf). Every
# check runs plain_openssl: OpenSSL with an empty configuration, that is the
# default provider alone, as anyone can rerun it without the HSM.

umask 022
LC_ALL=C
export LC_ALL

CEREMONY_HOME=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 1
OPENSSL=${CEREMONY_OPENSSL:-openssl}
PKCS11_TOOL=${CEREMONY_PKCS11_TOOL:-pkcs11-tool}
HSM_AUDIT=${CEREMONY_HSM_AUDIT:-hsm-audit}
# The provider's own name for a key reference (provider/key_reference_pem.c):
# a PKCS#8 block under this OID (with the key type as one more arc, .1 to .4)
# holds a token key's URI, never key material.
HSM_REFERENCE_OID=2.25.66901314653364937060485567949883125691

STEP_TAG="ceremony"
STEP_OK=0
FAIL_SAID=0
TRANSCRIPT=""
PARTIAL=""
LOCK=""
# What a failure from here on leaves behind, said when the step fails.
ON_FAILURE=""
FAIL_WHY=""
# The provider's audit log (openssl-hsm.cnf's audit-log), once known.
AUDIT_LOG=""
PUBLISHED=""
CMD_NO=0

# --------------------------------------------------------------- messages

utc() {
    date -u +%Y-%m-%dT%H:%M:%SZ
}

# say TEXT : one transcript line, also shown on the terminal.
say() {
    _line="$(utc) [$STEP_TAG] $*"
    printf '%s\n' "$_line"
    if [ -n "$TRANSCRIPT" ]; then printf '%s\n' "$_line" >>"$TRANSCRIPT"; fi
}

# say_file FILE : a file's lines, indented, in the transcript and on screen.
say_file() {
    [ -s "$1" ] || return 0
    sed 's/^/        | /' "$1"
    if [ -n "$TRANSCRIPT" ]; then sed 's/^/        | /' "$1" >>"$TRANSCRIPT"; fi
}

# die TEXT : ends the step as failed.
die() {
    _line="$(utc) [$STEP_TAG] FAILED at $STEP_TAG: $*"
    printf '%s\n' "$_line" >&2
    if [ -n "$TRANSCRIPT" ]; then printf '%s\n' "$_line" >>"$TRANSCRIPT"; fi
    FAIL_SAID=1
    FAIL_WHY=$*
    exit 1
}

# quote ARG... : the arguments as a shell would need them typed.
quote() {
    _out=""
    for _a in "$@"; do
        case $_a in
        '' | *[!A-Za-z0-9_./:=@%+,-]*)
            _a="'$(printf '%s' "$_a" | sed "s/'/'\\\\''/g")'"
            ;;
        esac
        _out="$_out${_out:+ }$_a"
    done
    printf '%s' "$_out"
}

# ---------------------------------------------------------------- the step

_finish_step() {
    _rc=$?
    trap - EXIT HUP INT TERM
    if [ "$STEP_OK" != 1 ]; then
        [ "$_rc" -ne 0 ] || _rc=1
        if [ "$FAIL_SAID" != 1 ]; then
            _line="$(utc) [$STEP_TAG] FAILED at $STEP_TAG: stopped (exit status $_rc)"
            printf '%s\n' "$_line" >&2
            if [ -n "$TRANSCRIPT" ]; then printf '%s\n' "$_line" >>"$TRANSCRIPT"; fi
        fi
        if [ -n "$ON_FAILURE" ]; then
            _line="$(utc) [$STEP_TAG] $ON_FAILURE"
            printf '%s\n' "$_line" >&2
            if [ -n "$TRANSCRIPT" ]; then printf '%s\n' "$_line" >>"$TRANSCRIPT"; fi
        fi
        _audit_failure "$_rc"
        if [ -n "$TRANSCRIPT" ] && [ -z "$PUBLISHED" ]; then
            printf '%s\n' "$(utc) [$STEP_TAG] no output of this step was written" >>"$TRANSCRIPT"
        elif [ -n "$TRANSCRIPT" ]; then
            printf '%s\n' "$(utc) [$STEP_TAG] written before the failure:$PUBLISHED" >>"$TRANSCRIPT"
        fi
    fi
    [ -z "$PARTIAL" ] || rm -rf -- "$PARTIAL"
    [ -z "$LOCK" ] || rmdir -- "$LOCK" 2>/dev/null
    exit "$_rc"
}

# begin_step N NAME "$@" : the script's arguments are the ceremony
# directory (created by step 1 only).
begin_step() {
    _n=$1
    _name=$2
    shift 2
    STEP_TAG="step $_n ($_name)"
    if [ "$#" -ne 1 ] || [ -z "$1" ]; then
        printf 'usage: %s CEREMONY_DIR\n' "$0" >&2
        exit 2
    fi
    if [ "$_n" = 1 ] && [ ! -e "$1" ]; then
        mkdir -p -- "$1" || die "cannot create the ceremony directory $1"
    fi
    [ -d "$1" ] || die "$1 is not a ceremony directory (step 1 creates it)"
    CEREMONY_DIR=$(CDPATH='' cd -- "$1" && pwd) || die "cannot enter $1"
    case $CEREMONY_DIR in
    *[\$\#\"\'\\]* | *'
'*) die "the ceremony directory's path must not hold \$ # \" ' \\ or a newline" ;;
    esac
    HSM_CNF=$CEREMONY_DIR/openssl-hsm.cnf
    # One step at a time: a directory is made or not, atomically.
    if ! mkdir -- "$CEREMONY_DIR/.lock" 2>/dev/null; then
        die "another step is running in $CEREMONY_DIR (if none is, a step was killed: check the transcript, then remove $CEREMONY_DIR/.lock)"
    fi
    LOCK=$CEREMONY_DIR/.lock
    TRANSCRIPT=$CEREMONY_DIR/transcript.log
    trap _finish_step EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    PARTIAL=$CEREMONY_DIR/.partial-$_n-$$
    mkdir -m 700 -- "$PARTIAL" || die "cannot create $PARTIAL"
    say "begins: $(quote "$0" "$CEREMONY_DIR"), operator $(id -un) on $(uname -n)"
    _audit_begin
}

end_step() {
    audit_note "ceremony $CEREMONY_DIR: $STEP_TAG completed;${PUBLISHED:- no output}"
    say "completed"
    STEP_OK=1
}

# ------------------------------------------------------------- audit log

# The provider appends a chained record of every use of the token key to
# its audit log (audit-log in openssl-hsm.cnf); the steps add notes to the
# same chain with hsm-audit, and the transcript names the record (seq and
# hash) of every note and every signature.

# _audit_begin : from step 2 on (step 1 writes the configuration), the log's
# chain is checked before anything is added, and the step's beginning noted.
_audit_begin() {
    [ -f "$HSM_CNF" ] || return 0
    AUDIT_LOG=$(cnf_value audit-log)
    if [ -z "$AUDIT_LOG" ]; then
        say "openssl-hsm.cnf names no audit log: key uses are not recorded"
        return 0
    fi
    audit_check "$AUDIT_LOG"
    audit_note "ceremony $CEREMONY_DIR: $STEP_TAG begins, operator $(id -un) on $(uname -n)"
}

# audit_check LOG : hsm-audit verify; a broken chain stops the step.
audit_check() {
    run "$HSM_AUDIT" verify "$1"
    case $RC in
    0) ;;
    1) die "the audit log $1 is broken (see above); check it before going on" ;;
    *) die "cannot check the audit log $1 with $HSM_AUDIT (exit status $RC): install the provider's hsm-audit, or name it with CEREMONY_HSM_AUDIT" ;;
    esac
}

# audit_note TEXT : a note in the audit log, chained after the provider's
# records; the transcript shows its seq and hash.
audit_note() {
    [ -n "$AUDIT_LOG" ] || return 0
    must "recording in the audit log" "$HSM_AUDIT" note "$AUDIT_LOG" "$*"
}

# audit_signature WHAT FILE : the audit log's record of the signature of
# FILE (a certificate or CRL) is named in the transcript by its seq and
# hash; a signature the log does not account for stops the step.
audit_signature() {
    [ -n "$AUDIT_LOG" ] || return 0
    run "$HSM_AUDIT" verify --cert "$2" "$AUDIT_LOG"
    _link=$(sed -n 's/.* is record \(seq [0-9]* hash [0-9a-f]*\), line .*/\1/p' "$OUT" | head -n 1)
    if [ "$RC" -ne 0 ] || [ -z "$_link" ]; then
        die "the audit log $AUDIT_LOG does not account for the signature of $1; it was not published"
    fi
    say "audit log record of the signature of $1: $_link"
}

# _audit_failure STATUS : a failed step says so in the audit log too (best
# effort: the log itself may be what failed).
_audit_failure() {
    [ -n "$AUDIT_LOG" ] && [ -n "$PARTIAL" ] || return 0
    if "$HSM_AUDIT" note "$AUDIT_LOG" \
        "ceremony $CEREMONY_DIR: $STEP_TAG FAILED: ${FAIL_WHY:-stopped (exit status $1)}" \
        >"$PARTIAL/audit-note.out" 2>&1; then
        _line="$(utc) [$STEP_TAG] audit log: $(cat "$PARTIAL/audit-note.out")"
        if [ -n "$TRANSCRIPT" ]; then printf '%s\n' "$_line" >>"$TRANSCRIPT"; fi
    fi
}

# ------------------------------------------------------------- parameters

# need NAME... : each parameter (environment variable) is set and not empty.
need() {
    for _v in "$@"; do
        eval "_val=\${$_v:-}"
        [ -n "$_val" ] || die "parameter $_v is not set"
    done
}

# param NAME VALUE : records a parameter's value in the transcript.
param() {
    say "parameter $1 = $(quote "$2")"
}

# param_env NAME : records the parameter NAME as the environment gives it.
param_env() {
    eval "_val=\${$1:-}"
    param "$1" "$_val"
}

# is_days N : a positive number of days.
is_days() {
    is_uint "$1" && [ "$1" -ge 1 ]
}

is_uint() {
    case $1 in '' | *[!0-9]*) return 1 ;; esac
    [ "${#1}" -le 6 ]
}

# safe_value NAME VALUE : VALUE can go into an OpenSSL configuration file or
# a URI verbatim ($ would expand, # would start a comment).
safe_value() {
    case $2 in
    *[\$\#\"\'\\\;,\ ]* | *'
'*) die "parameter $1 must not hold \$ # quotes \\ ; , spaces or newlines: $(quote "$2")" ;;
    esac
}

check_digest() {
    case $1 in
    sha256 | sha384 | sha512) ;;
    *) die "CEREMONY_DIGEST must be sha256, sha384 or sha512, not $(quote "$1")" ;;
    esac
}

# pct_encode TEXT : TEXT as a pkcs11: URI attribute value (RFC 7512):
# unreserved characters as they are, every other byte as %XX.
pct_encode() {
    printf '%s' "$1" | od -An -v -tx1 | tr -s ' ' '\n' | sed '/^$/d' | awk '
        BEGIN { for (i = 0; i < 256; i++) code[sprintf("%02x", i)] = i }
        {
            c = code[$1]
            if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ||
                c == 45 || c == 46 || c == 95 || c == 126)
                printf "%c", c
            else
                printf "%%%s", toupper($1)
        }'
}

# ------------------------------------------------------------------ files

# rel PATH : PATH relative to the ceremony directory, for messages.
rel() {
    case $1 in
    "$CEREMONY_DIR"/*) printf '%s' "${1#"$CEREMONY_DIR"/}" ;;
    *) printf '%s' "$1" ;;
    esac
}

sha256_of() {
    env OPENSSL_CONF=/dev/null "$OPENSSL" dgst -sha256 -r "$1" | sed 's/ .*//'
}

# record FILE WHAT : its SHA-256 into the transcript.
record() {
    [ -f "$1" ] || die "$(rel "$1") is missing"
    say "sha256 $(sha256_of "$1")  $(rel "$1")  ($2)"
}

# requires NAME... : files an earlier step made.
requires() {
    for _f in "$@"; do
        [ -f "$CEREMONY_DIR/$_f" ] || die "$_f is missing: run the step that makes it first"
    done
}

# claim NAME... : the step's outputs; none may exist yet.
claim() {
    for _f in "$@"; do
        if [ -e "$CEREMONY_DIR/$_f" ] || [ -h "$CEREMONY_DIR/$_f" ]; then
            die "$_f already exists; outputs are never overwritten (use a new ceremony directory, or move the file away after checking why it is there)"
        fi
    done
    say "outputs of this step: $*"
}

# publish NAME... : moves checked files from the private directory to their
# final names. ln refuses to replace an existing file, so a file another
# process created meanwhile is never overwritten.
publish() {
    for _f in "$@"; do
        [ -s "$PARTIAL/$_f" ] || die "$_f was not produced"
        if ! ln -- "$PARTIAL/$_f" "$CEREMONY_DIR/$_f" 2>"$PARTIAL/ln.err"; then
            say_file "$PARTIAL/ln.err"
            die "cannot create $_f (did it appear meanwhile?)"
        fi
        rm -f -- "$PARTIAL/$_f"
        PUBLISHED="$PUBLISHED $_f"
        say "wrote $_f sha256 $(sha256_of "$CEREMONY_DIR/$_f")"
    done
}

# ----------------------------------------------------------- commands

# run CMD ARG... : runs a command, stdin closed, its output kept in the
# transcript. Returns the command's exit status (in RC as well).
# The output of the last command is in $OUT.
run() {
    CMD_NO=$((CMD_NO + 1))
    OUT=$PARTIAL/cmd-$CMD_NO.out
    say "run: $(quote "$@")"
    "$@" >"$OUT" 2>&1 </dev/null
    RC=$?
    say_file "$OUT"
    [ "$RC" -eq 0 ] || say "exit status $RC"
    return "$RC"
}

# must DESC CMD ARG... : run, and a failure ends the step naming DESC.
must() {
    _desc=$1
    shift
    run "$@" || die "$_desc failed (exit status $RC)"
}

# hsm_openssl DESC SUBCOMMAND ... : OpenSSL with the ceremony's configuration,
# which activates the hsm provider. env puts the configuration on the
# command line the transcript shows.
hsm_openssl() {
    _desc=$1
    shift
    must "$_desc" env "OPENSSL_CONF=$HSM_CNF" "$OPENSSL" "$@"
}

# plain_openssl DESC SUBCOMMAND ... : OpenSSL with no configuration, so with
# its default provider only; the hsm provider cannot be reached.
plain_openssl() {
    _desc=$1
    shift
    must "$_desc" env OPENSSL_CONF=/dev/null "$OPENSSL" "$@"
}

# quiet_openssl ARGS : plain OpenSSL for values a check compares; not logged.
quiet_openssl() {
    env OPENSSL_CONF=/dev/null "$OPENSSL" "$@" 2>/dev/null
}

# --------------------------------------------------------------- the token

# The values step 1 pinned in openssl-hsm.cnf.
cnf_value() {
    sed -n "s/^$1 = //p" "$HSM_CNF" | head -n 1
}

load_ceremony_config() {
    requires openssl-hsm.cnf token.txt key.uri
    MODULE=$(cnf_value pkcs11-module-path)
    PIN_SOURCE=$(cnf_value pkcs11-module-token-pin)
    TOKEN_LABEL=$(sed -n 's/^token label: //p' "$CEREMONY_DIR/token.txt" | head -n 1)
    TOKEN_SERIAL=$(sed -n 's/^token serial: //p' "$CEREMONY_DIR/token.txt" | head -n 1)
    KEY_LABEL=$(sed -n 's/^key label: //p' "$CEREMONY_DIR/token.txt" | head -n 1)
    if [ -z "$MODULE" ] || [ -z "$PIN_SOURCE" ] || [ -z "$TOKEN_LABEL" ] ||
        [ -z "$TOKEN_SERIAL" ] || [ -z "$KEY_LABEL" ]; then
        die "openssl-hsm.cnf or token.txt is incomplete"
    fi
}

# token_slots : "SLOT<TAB>SERIAL<TAB>LABEL" for every token the module shows
# (pkcs11-tool -L, which needs no login).
token_slots() {
    awk '
        /^Slot [0-9]+ / { slot = $3; gsub(/[():]/, "", slot); label = ""; serial = ""; next }
        /^  token label *: / { label = $0; sub(/^  token label *: /, "", label) }
        /^  serial num *: / {
            serial = $0; sub(/^  serial num *: /, "", serial)
            print slot "\t" serial "\t" label
        }' "$1"
}

# find_token : the one slot whose token has label TOKEN_LABEL (and serial
# TOKEN_SERIAL when set). Sets SLOT and TOKEN_SERIAL; leaves the token's
# description in $PARTIAL/token-info.txt.
find_token() {
    must "listing the module's tokens" "$PKCS11_TOOL" --module "$MODULE" --list-token-slots
    cp "$OUT" "$PARTIAL/slots.txt"
    token_slots "$PARTIAL/slots.txt" | awk -F '\t' -v l="$TOKEN_LABEL" -v s="${TOKEN_SERIAL:-}" \
        '$3 == l && (s == "" || $2 == s)' >"$PARTIAL/matches.txt"
    _count=$(wc -l <"$PARTIAL/matches.txt" | tr -d ' ')
    case $_count in
    0) die "no token labelled '$TOKEN_LABEL'${TOKEN_SERIAL:+ with serial $TOKEN_SERIAL} in $MODULE" ;;
    1) ;;
    *) die "several tokens match the label '$TOKEN_LABEL' (serials: $(cut -f2 "$PARTIAL/matches.txt" | paste -sd ' ' -)); set CEREMONY_TOKEN_SERIAL" ;;
    esac
    SLOT=$(cut -f1 "$PARTIAL/matches.txt")
    TOKEN_SERIAL=$(cut -f2 "$PARTIAL/matches.txt")
    awk -v slot="$SLOT" '
        /^Slot [0-9]+ / { mine = index($0, "(" slot ")") > 0 }
        mine' "$PARTIAL/slots.txt" >"$PARTIAL/token-info.txt"
}

# token_guard : refuses to log in when the token reports its user PIN
# locked or on its final try (a wrong PIN then would lock it). pkcs11-tool
# does not check this itself; the provider does.
token_guard() {
    _flags=$(sed -n 's/^  token flags *: //p' "$PARTIAL/token-info.txt")
    case $_flags in
    *"user PIN locked"* | *"final user PIN try"*)
        die "token '$TOKEN_LABEL' reports its user PIN locked or on its final try ($_flags); no PIN was sent. Unlock it with the SO PIN first (pkcs11-tool --init-pin --login --login-type so)"
        ;;
    *"user PIN count low"*)
        say "warning: token '$TOKEN_LABEL' reports failed PIN tries (user PIN count low)"
        ;;
    esac
}

# check_pin_file PATH : the checks the provider makes, made before any
# command runs, so that a bad file stops the step with nothing sent.
check_pin_file() {
    case $1 in
    /*) ;;
    *) die "the PIN file must be named by an absolute path: $1" ;;
    esac
    [ -f "$1" ] || die "the PIN file $1 is missing or not a regular file"
    [ -r "$1" ] || die "the PIN file $1 cannot be read"
    [ -s "$1" ] || die "the PIN file $1 is empty"
    # ls -l's mode string: positions 5-10 are group and others.
    # shellcheck disable=SC2012 # one named file; its mode, not its name
    _mode=$(ls -ln -- "$1" | cut -c1-10)
    case $_mode in
    ????------) ;;
    *) die "the PIN file $1 can be used by other users (mode $_mode); run chmod 600 on it" ;;
    esac
    [ -n "$(tr -d '\r\n' <"$1")" ] || die "the PIN file $1 holds no PIN"
}

# get_pin : makes the PIN available to the commands of this step without
# putting it on a command line. With a PIN file (auto-activation) the
# provider reads the file itself; the PIN goes into HSM_CEREMONY_PIN only for
# pkcs11-tool (--pin env:HSM_CEREMONY_PIN). Without one, the configuration
# says env:HSM_CEREMONY_PIN: an exported HSM_CEREMONY_PIN is used if the
# operator set it, otherwise the PIN is asked for on the terminal, once.
get_pin() {
    case $PIN_SOURCE in
    file:*)
        check_pin_file "${PIN_SOURCE#file:}"
        PIN_FOR_TOOL=$(tr -d '\r\n' <"${PIN_SOURCE#file:}")
        say "PIN: read by the provider from ${PIN_SOURCE#file:} (auto-activation)"
        ;;
    env:HSM_CEREMONY_PIN)
        if [ -n "${HSM_CEREMONY_PIN:-}" ]; then
            say "PIN: taken from the environment variable HSM_CEREMONY_PIN"
        else
            if ! (: </dev/tty) 2>/dev/null; then
                die "no PIN: run on a terminal, export HSM_CEREMONY_PIN, or prepare with CEREMONY_PIN_FILE"
            fi
            printf "PIN for token '%s' (serial %s): " "$TOKEN_LABEL" "$TOKEN_SERIAL" >/dev/tty
            stty -echo </dev/tty
            IFS= read -r HSM_CEREMONY_PIN </dev/tty
            _read_rc=$?
            stty echo </dev/tty
            printf '\n' >/dev/tty
            if [ "$_read_rc" -ne 0 ] || [ -z "$HSM_CEREMONY_PIN" ]; then die "no PIN was typed"; fi
            say "PIN: typed by the operator"
        fi
        export HSM_CEREMONY_PIN
        PIN_FOR_TOOL=""
        ;;
    *) die "openssl-hsm.cnf names an unknown PIN source" ;;
    esac
}

# p11tool_login DESC ARGS... : pkcs11-tool logged in to the ceremony's token;
# the PIN reaches it through its environment, never its command line.
p11tool_login() {
    _desc=$1
    shift
    if [ -n "${PIN_FOR_TOOL:-}" ]; then
        HSM_CEREMONY_PIN=$PIN_FOR_TOOL
        export HSM_CEREMONY_PIN
    fi
    run "$PKCS11_TOOL" --module "$MODULE" --slot "$SLOT" --login --pin env:HSM_CEREMONY_PIN "$@"
    _p11rc=$RC
    if [ -n "${PIN_FOR_TOOL:-}" ]; then unset HSM_CEREMONY_PIN; fi
    if grep -q -e CKR_PIN_INCORRECT -e CKR_PIN_LEN_RANGE -e CKR_PIN_INVALID "$OUT"; then
        die "the token refused the PIN; it is not tried again (tokens lock after a few tries): correct the PIN source"
    fi
    grep -q 'CKR_PIN_LOCKED' "$OUT" && die "the token's user PIN is locked: unlock it with the SO PIN"
    [ "$_p11rc" -eq 0 ] || die "$_desc failed (exit status $_p11rc)"
}

# key_reference_uri FILE : the token key URI held by a key reference file
# (the PEM that openssl genpkey wrote through the provider); fails for
# anything else, such as a key in software.
key_reference_uri() {
    quiet_openssl asn1parse -in "$1" >"$PARTIAL/ref.asn1" || return 1
    grep -qE ":$HSM_REFERENCE_OID(\.[1-4])?\$" "$PARTIAL/ref.asn1" || return 1
    _off=$(sed -n 's/^ *\([0-9]*\):d=1 .*OCTET STRING.*/\1/p' "$PARTIAL/ref.asn1" | head -n 1)
    [ -n "$_off" ] || return 1
    quiet_openssl asn1parse -in "$1" -strparse "$_off" | sed -n 's/.*UTF8STRING *://p'
}

# root_key : ROOT_KEY, the root key's URI, read from the reference step 2
# wrote. Commands name the key by this URI rather than by root-key.pem: both
# load the key afresh from the token, but OpenSSL 3.0 drops the provider's
# reason when a key file fails to load ("unsupported"), and the operator
# must see why (a replaced or stale key, a wrong PIN).
root_key() {
    ROOT_KEY=$(key_reference_uri "$CEREMONY_DIR/root-key.pem") || ROOT_KEY=""
    [ -n "$ROOT_KEY" ] || die "root-key.pem is not a reference to a token key"
    say "the root key: $ROOT_KEY"
}

# ------------------------------------------------------------ public keys

# spki_fingerprint PEM : SHA-256 of the DER SubjectPublicKeyInfo (public key
# in PEM), the fingerprint the witnesses write down at step 2.
spki_fingerprint() {
    quiet_openssl pkey -pubin -in "$1" -outform DER | env OPENSSL_CONF=/dev/null "$OPENSSL" \
        dgst -sha256 -r | sed 's/ .*//'
}

# cert_spki_fingerprint CERT : the same, for a certificate's public key.
cert_spki_fingerprint() {
    quiet_openssl x509 -in "$1" -noout -pubkey >"$PARTIAL/fp.pub.pem" || return 1
    spki_fingerprint "$PARTIAL/fp.pub.pem"
}

# spaced HEX : the fingerprint in groups of four, to be read aloud.
spaced() {
    printf '%s\n' "$1" | sed 's/..../& /g; s/ $//'
}

# ski_expected CERT : RFC 5280 4.2.1.2 method (1), the SHA-1 of the
# subjectPublicKey BIT STRING (without its unused-bits byte), as OpenSSL
# prints a key identifier (XX:XX:...).
ski_expected() {
    quiet_openssl x509 -in "$1" -noout -pubkey >"$PARTIAL/ski.pub.pem" || return 1
    quiet_openssl pkey -pubin -in "$PARTIAL/ski.pub.pem" -outform DER -out "$PARTIAL/ski.der" ||
        return 1
    quiet_openssl asn1parse -inform DER -in "$PARTIAL/ski.der" |
        sed -n 's/^ *\([0-9]*\):d=1 *hl= *\([0-9]*\) *l= *\([0-9]*\) *prim: BIT STRING.*/\1 \2 \3/p' |
        head -n 1 >"$PARTIAL/ski.pos"
    read -r _o _h _l <"$PARTIAL/ski.pos" || return 1
    dd if="$PARTIAL/ski.der" bs=1 skip=$((_o + _h + 1)) count=$((_l - 1)) 2>/dev/null |
        env OPENSSL_CONF=/dev/null "$OPENSSL" dgst -sha1 -r | sed 's/ .*//' |
        tr 'a-f' 'A-F' | sed 's/../&:/g; s/:$//'
}

# ext_value FILE EXTENSION : the lines printed under an extension by
# `openssl x509 -text` (or crl -text), joined with "; ", after "critical, "
# when it is critical; empty when absent.
ext_value() {
    awk -v name="$2" '
        found && substr($0, 1, 16) == "                " { v = $0; sub(/^ +/, "", v); val = val (val == "" ? "" : "; ") v; next }
        found { exit }
        index($0, "            " name ":") == 1 || index($0, "        " name ":") == 1 {
            found = 1; crit = ($0 ~ /: critical$/) ? "critical, " : ""; next }
        END { if (found) print crit val }' "$1"
}

# epoch "Mon DD HH:MM:SS YYYY GMT" : seconds since 1970 (OpenSSL's dates).
epoch() {
    printf '%s\n' "$1" | awk '
        BEGIN { split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", mn, " ")
                for (i = 1; i <= 12; i++) mon[mn[i]] = i }
        {
            m = mon[$1]; d = $2; split($3, t, ":"); y = $4
            if (m <= 2) { y--; m += 12 }
            days = 365 * y + int(y / 4) - int(y / 100) + int(y / 400) + \
                int((153 * (m - 3) + 2) / 5) + d - 1 - 719468
            printf "%.0f\n", days * 86400 + t[1] * 3600 + t[2] * 60 + t[3]
        }'
}

# ------------------------------------------------------------ the CA files

# ca_database : the openssl ca database of the root: ca/index.txt (issued
# certificates), ca/newcerts/, ca/crlnumber; and the profiles ca.cnf and
# intermediate.cnf. The first step that needs them makes them from the
# shipped files in its private directory and publishes them with its own
# outputs (ca_database_publish), so a failed step leaves none behind; later
# steps use the copies in the ceremony directory, which record what was
# used. Sets CA_CNF, INT_CNF and CEREMONY_CA_DIR.
ca_database() {
    NEW_CA_FILES=""
    for _c in ca.cnf intermediate.cnf; do
        if [ -e "$CEREMONY_DIR/$_c" ]; then
            _path=$CEREMONY_DIR/$_c
        else
            cp -- "$CEREMONY_HOME/$_c" "$PARTIAL/$_c" || die "cannot copy $_c"
            _path=$PARTIAL/$_c
            NEW_CA_FILES="$NEW_CA_FILES $_c"
        fi
        record "$_path" "configuration used"
        # shellcheck disable=SC2034 # used by the step scripts
        case $_c in ca.cnf) CA_CNF=$_path ;; *) INT_CNF=$_path ;; esac
    done
    if [ -d "$CEREMONY_DIR/ca" ]; then
        CEREMONY_CA_DIR=$CEREMONY_DIR/ca
        NEW_CA_DB=0
    else
        CEREMONY_CA_DIR=$PARTIAL/ca
        mkdir "$CEREMONY_CA_DIR" "$CEREMONY_CA_DIR/newcerts" || die "cannot make the CA database"
        : >"$CEREMONY_CA_DIR/index.txt" || die "cannot make the CA database"
        printf '01\n' >"$CEREMONY_CA_DIR/crlnumber" || die "cannot make the CA database"
        NEW_CA_DB=1
        say "a new CA database: index.txt empty, first CRL number 01 (ca/ once the step succeeds)"
    fi
    export CEREMONY_CA_DIR
    record "$CEREMONY_CA_DIR/index.txt" "CA database before this step"
}

ca_database_publish() {
    # shellcheck disable=SC2086 # a list of plain file names
    [ -z "$NEW_CA_FILES" ] || publish $NEW_CA_FILES
    if [ "$NEW_CA_DB" = 1 ]; then
        [ ! -e "$CEREMONY_DIR/ca" ] || die "ca/ appeared meanwhile; the new database was not moved there"
        mv -- "$CEREMONY_CA_DIR" "$CEREMONY_DIR/ca" || die "cannot move the CA database into place"
        CEREMONY_CA_DIR=$CEREMONY_DIR/ca
        PUBLISHED="$PUBLISHED ca/"
        say "wrote ca/ (the CA database)"
    fi
    record "$CEREMONY_CA_DIR/index.txt" "CA database after this step"
}
