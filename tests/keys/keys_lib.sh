# shellcheck shell=bash
# Shared set-up for the key support scenarios; sourced, never run.
#
# Builds on tests/integration/lib.sh (temporary SoftHSMv2 token, openssl
# through the provider, plain verification, assertions) and adds: openssl
# with the default provider listed first, key generation through the
# provider, reading objects and their attributes back with pkcs11-tool (never
# through the provider), and public keys of every kind read from the token.
#
# Environment (set by tests/keys/meson.build), besides lib.sh's:
#   HSM_KEYGEN_FROM_C   keygen_from_c (EVP_PKEY_keygen from C)
#   HSM_SIGN_ONLY_KEY   p11_sign_only_key (an RSA key with CKA_DECRYPT false)

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

# A PIN file only its owner can read, for URIs that must not carry the PIN
# (the URI of a generated key ends up in its reference PEM).
PIN_FILE="$TMP/user.pin"
printf '%s' "$USER_PIN" >"$PIN_FILE"
chmod 600 "$PIN_FILE"

# dflt_openssl SUBCOMMAND ARGS... : like hsm_openssl, with default listed
# before hsm (the order of the shipped snippets). Every story runs in both
# orders somewhere: with hsm first, SoftHSMv2's own libcrypto calls (EdDSA
# key generation inside C_GenerateKeyPair) and libssl's unqualified
# fetches must still find the default provider's algorithms.
dflt_openssl() {
    local sub=$1
    shift
    # shellcheck disable=SC2046
    env $(_preload_env) timeout -k 10 "$CMD_TIMEOUT" "$OPENSSL_BIN" "$sub" \
        -provider-path "$HSM_PROVIDER_DIR" -provider default -provider hsm "$@"
}

# gen_uri TOKEN LABEL [ID] : where a key is generated; PIN from PIN_FILE.
gen_uri() {
    local uri="pkcs11:token=$1;object=$2"
    [ -z "${3:-}" ] || uri="$uri;id=$3"
    printf '%s?pin-source=file:%s' "$uri" "$PIN_FILE"
}

# genkey OUT.pem URI ALGORITHM [PKEYOPT...] : `openssl genpkey` on the token,
# default listed first; with GENKEY_ORDER=hsm-first, hsm listed first.
genkey() {
    local out=$1 uri=$2 alg=$3 o run=dflt_openssl
    local -a opts=()
    shift 3
    for o in "$@"; do
        opts+=(-pkeyopt "$o")
    done
    [ "${GENKEY_ORDER:-default-first}" = default-first ] || run=hsm_openssl
    "$run" genpkey -propquery '?provider=hsm' -algorithm "$alg" "${opts[@]}" \
        -pkeyopt "pkcs11_uri:$uri" -out "$out"
}

# p11 TOKEN ARGS... : pkcs11-tool on the token labelled TOKEN.
p11() {
    local token=$1
    shift
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$token" "$@"
}

# object_block TOKEN "Private Key"|"Public Key"|"Certificate" LABEL [--login --pin PIN]
# : the lines pkcs11-tool --list-objects prints for that object.
object_block() {
    local token=$1 class=$2 label=$3
    shift 3
    p11 "$token" --list-objects "$@" 2>/dev/null | awk -v c="$class Object;" -v l="$label" '
        function flush() { if (hit) printf "%s", buf; buf = ""; hit = 0 }
        /^[A-Za-z]/ { flush(); mine = index($0, c) == 1 }
        { buf = buf $0 "\n" }
        mine && $1 == "label:" { v = $0; sub(/^ *label: */, "", v); if (v == l) hit = 1 }
        END { flush() }'
}

# object_id TOKEN CLASS LABEL [--login --pin PIN] : its CKA_ID in lower-case hex.
object_id() {
    object_block "$@" | awk '$1 == "ID:" { print tolower($2); exit }'
}

# count_objects TOKEN : every object on the token, private ones included.
count_objects() {
    p11 "$1" --login --pin "$USER_PIN" --list-objects 2>/dev/null | grep -c ' Object;'
}

# uri_in_reference REF.pem : the pkcs11: URI a key reference PEM holds
# (PKCS#8 whose private key OCTET STRING wraps a UTF8String), read with
# plain OpenSSL.
uri_in_reference() {
    local off
    off=$(plain_openssl asn1parse -in "$1" 2>/dev/null |
        awk '/OCTET STRING/ { sub(/:.*/, "", $1); print $1; exit }')
    [ -n "$off" ] || return 1
    plain_openssl asn1parse -in "$1" -strparse "$off" 2>/dev/null |
        sed -n 's/.*UTF8STRING *://p'
}

# id_of_uri URI : the id= attribute as lower-case hex without '%'.
id_of_uri() {
    printf '%s' "$1" | sed -n 's/.*[;:]id=\([^;?]*\).*/\1/p' | tr -d '%' | tr 'A-F' 'a-f'
}

# _eddsa_spki TOKEN IDHEX DER : an Ed25519/Ed448 SubjectPublicKeyInfo (RFC
# 8410) assembled from the public key object's CKA_EC_POINT as pkcs11-tool
# lists it (OpenSC 0.23 cannot read Ed448 public keys).
_eddsa_spki() {
    local token=$1 id=$2 der=$3 point raw
    point=$(p11 "$token" --list-objects --type pubkey 2>/dev/null | awk -v id="$id" '
        /^[A-Za-z]/ { p = "" }
        $1 == "EC_POINT:" { p = $2 }
        $1 == "ID:" && tolower($2) == id && p != "" { print p; exit }')
    case "$point" in
    0420*) raw=${point#0420}; [ ${#raw} -eq 64 ] && _hex_to_file "302a300506032b6570032100$raw" "$der" ;;
    0439*) raw=${point#0439}; [ ${#raw} -eq 114 ] && _hex_to_file "3043300506032b6571033a00$raw" "$der" ;;
    *) return 1 ;;
    esac
}

# save_pubkey_by_id TOKEN IDHEX FILE : the token's public key object with
# that CKA_ID as a PEM, read with pkcs11-tool and plain OpenSSL (never
# through the provider), as an assertion. Any key type.
save_pubkey_by_id() {
    local token=$1 id=$2 file=$3 raw="$TMP/pub-$2.raw"
    rm -f "$raw" "$file"
    # pkcs11-tool's own reading first; for what OpenSC 0.23 cannot read
    # (P-384, Ed448), the SPKI assembled from the listed attributes.
    { p11 "$token" --read-object --type pubkey --id "$id" -o "$raw" >/dev/null 2>&1 &&
        plain_openssl pkey -pubin -in "$raw" -out "$file" 2>/dev/null; } ||
        { _ec_spki_from_attributes --token-label "$token" "$id" "$raw" 2>/dev/null &&
            plain_openssl pkey -pubin -inform DER -in "$raw" -out "$file" 2>/dev/null; } ||
        { _eddsa_spki "$token" "$id" "$raw" 2>/dev/null &&
            plain_openssl pkey -pubin -inform DER -in "$raw" -out "$file" 2>/dev/null; }
    if [ -s "$file" ]; then
        pass "public key id $id read from token $token"
    else
        fail "public key id $id read from token $token"
    fi
}

# make_sign_only_key TOKEN IDHEX LABEL : an RSA-2048 pair whose private key
# has CKA_DECRYPT false.
make_sign_only_key() {
    if [ -z "${HSM_SIGN_ONLY_KEY:-}" ] || [ ! -x "$HSM_SIGN_ONLY_KEY" ]; then
        fail "p11_sign_only_key is not built (HSM_SIGN_ONLY_KEY=${HSM_SIGN_ONLY_KEY:-unset})"
        return 1
    fi
    expect_success "$HSM_SIGN_ONLY_KEY" "$SOFTHSM_MODULE" "$1" "$USER_PIN" "$2" "$3"
}

# keygen_from_c ARGS... : the C program, with the provider found through
# OPENSSL_MODULES.
keygen_from_c() {
    if [ -z "${HSM_KEYGEN_FROM_C:-}" ] || [ ! -x "$HSM_KEYGEN_FROM_C" ]; then
        echo "HSM_KEYGEN_FROM_C (tests/keys/keygen_from_c) is not built" >&2
        return 1
    fi
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        timeout -k 10 "$CMD_TIMEOUT" "$HSM_KEYGEN_FROM_C" "$@"
}

# self_signed_root KEY OUT.pem [REQ-ARGS...] : `openssl req -new -x509`
# through the provider, with the PIN from PIN_FILE for key references.
self_signed_root() {
    local key=$1 out=$2
    shift 2
    expect_success hsm_openssl req -new -x509 -key "$key" -passin "file:$PIN_FILE" \
        -subj "/CN=Root $out" -days 30 "$@" -out "$out"
}

# s_server_accepting OUT PID : waits (10 s at most) until the `openssl
# s_server` with pid PID writes ACCEPT to OUT, or ends; status 0 once it
# accepts.
s_server_accepting() {
    local out=$1 pid=$2
    for _ in $(seq 100); do
        grep -q '^ACCEPT' "$out" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^ACCEPT' "$out" 2>/dev/null
}

# free_port : a TCP port on 127.0.0.1 nobody listens on right now, below
# Linux's ephemeral range (32768-60999), where another test's client
# connection could hold it.
free_port() {
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}
