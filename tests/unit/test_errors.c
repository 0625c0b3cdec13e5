/*
 * Error text: CKR_ names instead of numbers, the failing PKCS#11 function
 * named in the detail, and one string for every reason code.
 */
#include "tests/unit/unit.h"

#include "cache/error.h"

#include <openssl/err.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- hsm_ckr_name ---- */

static void known_codes_have_names(void)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } cases[] = {
        {CKR_OK, "CKR_OK"},
        {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
        {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
        {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
        {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
        {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
        {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
        {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
        {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
        {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
    };
    char buf[32];

    CU_ASSERT_EQUAL(CKR_PIN_INCORRECT, 0xa0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, 0, sizeof(buf));
        CU_ASSERT_STRING_EQUAL(hsm_ckr_name(cases[i].rv, buf), cases[i].name);
    }
}

static void unknown_codes_are_hex(void)
{
    static const CK_RV codes[] = {0x12345, CKR_VENDOR_DEFINED, CKR_VENDOR_DEFINED | 0x42, 0x4,
                                  0xfffffffful};
    char buf[32];

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *name = hsm_ckr_name(codes[i], buf);
        char *end = NULL;

        CU_ASSERT_FATAL(strncmp(name, "CKR_0x", 6) == 0);
        /* The number reads back as the code. */
        CU_ASSERT_EQUAL(strtoul(name + 6, &end, 16), codes[i]);
        CU_ASSERT_EQUAL(*end, '\0');
    }
    CU_ASSERT_STRING_EQUAL(hsm_ckr_name(0x12345, buf), "CKR_0x00012345");
    CU_ASSERT_STRING_EQUAL(hsm_ckr_name(CKR_VENDOR_DEFINED | 1, buf), "CKR_0x80000001");
}

/* ---- hsm_error and hsm_error_rv ---- */

static void rv_detail_names_function_and_ckr(void)
{
    hsm_error_rv(HSM_R_PIN_INCORRECT, "C_Login", CKR_PIN_INCORRECT, "login to token \"%s\"",
                 "alpha");
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_PIN_INCORRECT);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "C_Login");
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "CKR_PIN_INCORRECT");
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "login to token \"alpha\"");
    CU_ASSERT_STRING_EQUAL(hsm_error_last_detail(),
                           "login to token \"alpha\" (C_Login: CKR_PIN_INCORRECT)");

    hsm_error_rv(HSM_R_PKCS11, "C_SignFinal", CKR_VENDOR_DEFINED | 7, "signing");
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_PKCS11);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "C_SignFinal");
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "CKR_0x80000007");
}

static void long_detail_is_cut_not_overrun(void)
{
    static char longtext[2000];

    memset(longtext, 'q', sizeof(longtext) - 1);
    hsm_error(HSM_R_CONFIG, "%s", longtext);
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_CONFIG);
    CU_ASSERT(strlen(hsm_error_last_detail()) < 1024);
    CU_ASSERT(strlen(hsm_error_last_detail()) > 500);
    /* The function and CKR name survive a long head. */
    hsm_error_rv(HSM_R_PKCS11, "C_FindObjects", CKR_DEVICE_ERROR, "%s", longtext);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "(C_FindObjects: CKR_DEVICE_ERROR)");
}

static int sink_reason;
static char sink_detail[1024];
static int sink_calls;

static void record(int reason, const char *file, int line, const char *detail)
{
    (void)file;
    (void)line;
    sink_reason = reason;
    snprintf(sink_detail, sizeof(sink_detail), "%s", detail);
    sink_calls++;
}

static void sink_gets_every_error(void)
{
    hsm_error_set_sink(record);
    hsm_error(HSM_R_NO_TOKEN, "no token labelled %s", "beta");
    CU_ASSERT_EQUAL(sink_calls, 1);
    CU_ASSERT_EQUAL(sink_reason, HSM_R_NO_TOKEN);
    CU_ASSERT_STRING_EQUAL(sink_detail, "no token labelled beta");
    /* The last error is kept as well. */
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_NO_TOKEN);
    CU_ASSERT_STRING_EQUAL(hsm_error_last_detail(), "no token labelled beta");
    hsm_error_set_sink(NULL);
    hsm_error(HSM_R_LAST, "after");
    CU_ASSERT_EQUAL(sink_calls, 1);
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_LAST);
}

/* ---- errors raised inside a module's bracket ---- */

/* The provider's sink: the error into OpenSSL's queue. */
static void to_queue(int reason, const char *file, int line, const char *detail)
{
    ERR_new();
    ERR_set_debug(file, line, "hsm");
    ERR_set_error(ERR_LIB_USER, reason, "%s", detail);
}

static int drained;

static int drain_line(const char *str, size_t len, void *u)
{
    (void)str;
    (void)len;
    (void)u;
    drained++;
    return 1;
}

/* What openCryptoki 3.23 does at the end of each C_* function: every
 * queued error to its trace, the caller's included. */
static void module_drains_the_queue(void)
{
    ERR_print_errors_cb(drain_line, NULL);
}

static bool queue_holds_only(int reason, const char *detail)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
    bool ok = e != 0 && ERR_GET_LIB(e) == ERR_LIB_USER && ERR_GET_REASON(e) == reason &&
              (flags & ERR_TXT_STRING) && data != NULL && strcmp(data, detail) == 0;

    ok = ok && ERR_peek_error() == 0;
    ERR_clear_error();
    return ok;
}

static void survives_a_module_that_drains_the_queue(void)
{
    hsm_error_set_sink(to_queue);
    ERR_clear_error();
    drained = 0;
    hsm_error_mark_push();
    ERR_raise_data(ERR_LIB_EVP, ERR_R_INTERNAL_ERROR, "the token's own libcrypto noise");
    hsm_error(HSM_R_KEY_CHANGED, "key 02 is gone");
    module_drains_the_queue(); /* a later call into the module, same bracket */
    ERR_raise_data(ERR_LIB_EVP, ERR_R_INTERNAL_ERROR, "more noise");
    hsm_error_mark_pop();
    CU_ASSERT_EQUAL(drained, 1); /* ours, the noise was dropped */
    CU_ASSERT(queue_holds_only(HSM_R_KEY_CHANGED, "key 02 is gone"));
    hsm_error_set_sink(NULL);
}

static void module_noise_goes_ours_stays_once(void)
{
    hsm_error_set_sink(to_queue);
    ERR_clear_error();
    hsm_error_mark_push();
    ERR_raise_data(ERR_LIB_EVP, ERR_R_INTERNAL_ERROR, "the token's own libcrypto noise");
    hsm_error(HSM_R_NO_OBJECT, "no key 02");
    ERR_raise_data(ERR_LIB_EVP, ERR_R_INTERNAL_ERROR, "more noise");
    hsm_error_mark_pop();
    CU_ASSERT(queue_holds_only(HSM_R_NO_OBJECT, "no key 02"));
    hsm_error_set_sink(NULL);
}

static void discarded_inside_is_not_raised_again(void)
{
    hsm_error_set_sink(to_queue);
    ERR_clear_error();
    hsm_error_mark_push();
    hsm_error_set_mark();
    hsm_error(HSM_R_NO_TOKEN, "first pass: no token");
    hsm_error_pop_to_mark(); /* the second pass found it */
    module_drains_the_queue();
    hsm_error_mark_pop();
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    ERR_clear_error();
    hsm_error_set_sink(NULL);
}

/* ---- the reason table ---- */

static void every_reason_has_one_string(void)
{
    int seen[HSM_R_LAST + 1] = {0};
    size_t n = 0;

    for (; hsm_reason_strings[n].ptr != NULL; n++) {
        unsigned int id = hsm_reason_strings[n].id;

        CU_ASSERT_FATAL(id >= HSM_R_INTERNAL && id <= HSM_R_LAST);
        CU_ASSERT(strlen(hsm_reason_strings[n].ptr) > 0);
        seen[id]++;
    }
    CU_ASSERT_EQUAL(hsm_reason_strings[n].id, 0);
    for (int r = HSM_R_INTERNAL; r <= HSM_R_LAST; r++)
        CU_ASSERT_EQUAL(seen[r], 1);
}

static CU_TestInfo ckr_tests[] = {
    UNIT_TEST(known_codes_have_names),
    UNIT_TEST(unknown_codes_are_hex),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo error_tests[] = {
    UNIT_TEST(rv_detail_names_function_and_ckr),
    UNIT_TEST(long_detail_is_cut_not_overrun),
    UNIT_TEST(sink_gets_every_error),
    UNIT_TEST(survives_a_module_that_drains_the_queue),
    UNIT_TEST(module_noise_goes_ours_stays_once),
    UNIT_TEST(discarded_inside_is_not_raised_again),
    UNIT_TEST(every_reason_has_one_string),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"ckr_name", NULL, NULL, NULL, NULL, ckr_tests},
        {"error_detail", NULL, NULL, NULL, NULL, error_tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
