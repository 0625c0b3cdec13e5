/*
 * Symbolic names for the control file and the call log: tests write
 * `CKR_DEVICE_REMOVED`, not 0x32, and grep the log for `C_Login CKR_OK`.
 * The CKR_ list is every return value the p11-kit 0.24 header defines.
 */
#include "shim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct name_value {
    const char *name;
    unsigned long value;
};

#define SHIM_FN_NAME(name) #name,
static const char *const fn_names[SHIM_FN_COUNT] = {SHIM_FUNCTIONS(SHIM_FN_NAME)};
#undef SHIM_FN_NAME

#define NV(x)                                                                                      \
    {                                                                                              \
#x, x                                                                                      \
    }
static const struct name_value ckr_names[] = {
    NV(CKR_OK),
    NV(CKR_CANCEL),
    NV(CKR_HOST_MEMORY),
    NV(CKR_SLOT_ID_INVALID),
    NV(CKR_GENERAL_ERROR),
    NV(CKR_FUNCTION_FAILED),
    NV(CKR_ARGUMENTS_BAD),
    NV(CKR_NO_EVENT),
    NV(CKR_NEED_TO_CREATE_THREADS),
    NV(CKR_CANT_LOCK),
    NV(CKR_ATTRIBUTE_READ_ONLY),
    NV(CKR_ATTRIBUTE_SENSITIVE),
    NV(CKR_ATTRIBUTE_TYPE_INVALID),
    NV(CKR_ATTRIBUTE_VALUE_INVALID),
    NV(CKR_ACTION_PROHIBITED),
    NV(CKR_DATA_INVALID),
    NV(CKR_DATA_LEN_RANGE),
    NV(CKR_DEVICE_ERROR),
    NV(CKR_DEVICE_MEMORY),
    NV(CKR_DEVICE_REMOVED),
    NV(CKR_ENCRYPTED_DATA_INVALID),
    NV(CKR_ENCRYPTED_DATA_LEN_RANGE),
    NV(CKR_FUNCTION_CANCELED),
    NV(CKR_FUNCTION_NOT_PARALLEL),
    NV(CKR_FUNCTION_NOT_SUPPORTED),
    NV(CKR_KEY_HANDLE_INVALID),
    NV(CKR_KEY_SIZE_RANGE),
    NV(CKR_KEY_TYPE_INCONSISTENT),
    NV(CKR_KEY_NOT_NEEDED),
    NV(CKR_KEY_CHANGED),
    NV(CKR_KEY_NEEDED),
    NV(CKR_KEY_INDIGESTIBLE),
    NV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    NV(CKR_KEY_NOT_WRAPPABLE),
    NV(CKR_KEY_UNEXTRACTABLE),
    NV(CKR_MECHANISM_INVALID),
    NV(CKR_MECHANISM_PARAM_INVALID),
    NV(CKR_OBJECT_HANDLE_INVALID),
    NV(CKR_OPERATION_ACTIVE),
    NV(CKR_OPERATION_NOT_INITIALIZED),
    NV(CKR_PIN_INCORRECT),
    NV(CKR_PIN_INVALID),
    NV(CKR_PIN_LEN_RANGE),
    NV(CKR_PIN_EXPIRED),
    NV(CKR_PIN_LOCKED),
    NV(CKR_SESSION_CLOSED),
    NV(CKR_SESSION_COUNT),
    NV(CKR_SESSION_HANDLE_INVALID),
    NV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    NV(CKR_SESSION_READ_ONLY),
    NV(CKR_SESSION_EXISTS),
    NV(CKR_SESSION_READ_ONLY_EXISTS),
    NV(CKR_SESSION_READ_WRITE_SO_EXISTS),
    NV(CKR_SIGNATURE_INVALID),
    NV(CKR_SIGNATURE_LEN_RANGE),
    NV(CKR_TEMPLATE_INCOMPLETE),
    NV(CKR_TEMPLATE_INCONSISTENT),
    NV(CKR_TOKEN_NOT_PRESENT),
    NV(CKR_TOKEN_NOT_RECOGNIZED),
    NV(CKR_TOKEN_WRITE_PROTECTED),
    NV(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
    NV(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    NV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    NV(CKR_USER_ALREADY_LOGGED_IN),
    NV(CKR_USER_NOT_LOGGED_IN),
    NV(CKR_USER_PIN_NOT_INITIALIZED),
    NV(CKR_USER_TYPE_INVALID),
    NV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    NV(CKR_USER_TOO_MANY_TYPES),
    NV(CKR_WRAPPED_KEY_INVALID),
    NV(CKR_WRAPPED_KEY_LEN_RANGE),
    NV(CKR_WRAPPING_KEY_HANDLE_INVALID),
    NV(CKR_WRAPPING_KEY_SIZE_RANGE),
    NV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    NV(CKR_RANDOM_SEED_NOT_SUPPORTED),
    NV(CKR_RANDOM_NO_RNG),
    NV(CKR_DOMAIN_PARAMS_INVALID),
    NV(CKR_CURVE_NOT_SUPPORTED),
    NV(CKR_BUFFER_TOO_SMALL),
    NV(CKR_SAVED_STATE_INVALID),
    NV(CKR_INFORMATION_SENSITIVE),
    NV(CKR_STATE_UNSAVEABLE),
    NV(CKR_CRYPTOKI_NOT_INITIALIZED),
    NV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    NV(CKR_MUTEX_BAD),
    NV(CKR_MUTEX_NOT_LOCKED),
    NV(CKR_NEW_PIN_MODE),
    NV(CKR_NEXT_OTP),
    NV(CKR_EXCEEDED_MAX_ITERATIONS),
    NV(CKR_FIPS_SELF_TEST_FAILED),
    NV(CKR_LIBRARY_LOAD_FAILED),
    NV(CKR_PIN_TOO_WEAK),
    NV(CKR_PUBLIC_KEY_INVALID),
    NV(CKR_FUNCTION_REJECTED),
    NV(CKR_VENDOR_DEFINED),
};

/* Only the flags of CK_TOKEN_INFO: `token-flags` edits nothing else. */
static const struct name_value ckf_names[] = {
    NV(CKF_RNG),
    NV(CKF_WRITE_PROTECTED),
    NV(CKF_LOGIN_REQUIRED),
    NV(CKF_USER_PIN_INITIALIZED),
    NV(CKF_RESTORE_KEY_NOT_NEEDED),
    NV(CKF_CLOCK_ON_TOKEN),
    NV(CKF_PROTECTED_AUTHENTICATION_PATH),
    NV(CKF_DUAL_CRYPTO_OPERATIONS),
    NV(CKF_TOKEN_INITIALIZED),
    NV(CKF_SECONDARY_AUTHENTICATION),
    NV(CKF_USER_PIN_COUNT_LOW),
    NV(CKF_USER_PIN_FINAL_TRY),
    NV(CKF_USER_PIN_LOCKED),
    NV(CKF_USER_PIN_TO_BE_CHANGED),
    NV(CKF_SO_PIN_COUNT_LOW),
    NV(CKF_SO_PIN_FINAL_TRY),
    NV(CKF_SO_PIN_LOCKED),
    NV(CKF_SO_PIN_TO_BE_CHANGED),
};
#undef NV

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *shim_fn_name(enum shim_fn fn)
{
    return (unsigned)fn < SHIM_FN_COUNT ? fn_names[fn] : "C_?";
}

int shim_fn_lookup(const char *name)
{
    for (int i = 0; i < SHIM_FN_COUNT; i++)
        if (strcmp(fn_names[i], name) == 0)
            return i;
    return -1;
}

const char *shim_ckr_name(CK_RV rv)
{
    for (size_t i = 0; i < COUNT(ckr_names); i++)
        if (ckr_names[i].value == rv)
            return ckr_names[i].name;
    return NULL;
}

/* Numbers are accepted too (0x32, 50) so that vendor codes can be injected. */
static bool parse_number(const char *s, unsigned long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_named(const struct name_value *t, size_t n, const char *s, unsigned long *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, s) == 0) {
            *out = t[i].value;
            return true;
        }
    return parse_number(s, out);
}

bool shim_parse_ckr(const char *s, CK_RV *out)
{
    return parse_named(ckr_names, COUNT(ckr_names), s, out);
}

bool shim_parse_ckf(const char *s, CK_FLAGS *out)
{
    return parse_named(ckf_names, COUNT(ckf_names), s, out);
}
