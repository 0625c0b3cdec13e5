/*
 * pkcs11: URI parsing: what a URI selects, what is refused, and that no
 * error message or redacted form ever carries the PIN.
 */
#include "tests/unit/unit.h"

#include "cache/error.h"
#include "uri/uri.h"

#include <stdlib.h>
#include <string.h>

#define PIN "S3cr3tPin"

static CK_ATTRIBUTE *find_attr(CK_ATTRIBUTE *tmpl, size_t n, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < n; i++)
        if (tmpl[i].type == type)
            return &tmpl[i];
    return NULL;
}

static bool padded_equals(const unsigned char *field, size_t size, const char *want)
{
    size_t len = strlen(want);

    if (len > size || memcmp(field, want, len) != 0)
        return false;
    for (size_t i = len; i < size; i++)
        if (field[i] != ' ')
            return false;
    return true;
}

/* ---- hsm_uri_parse: what a valid URI selects ---- */

static void parse_every_part(void)
{
    static const unsigned char want_id[] = {0x01, 0xab, 0xff};
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:token=My%20Token;object=signing%20key;"
                                        "id=%01%ab%ff;type=private;serial=0123abcd"
                                        "?pin-value=" PIN "&module-path=/usr/lib/p11/mod.so");
    CK_TOKEN_INFO *ti;
    CK_ATTRIBUTE *a;

    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    CU_ASSERT_STRING_EQUAL(hsm_uri_pin_value(uri), PIN);
    CU_ASSERT_PTR_NULL(hsm_uri_pin_source(uri));
    CU_ASSERT_STRING_EQUAL(hsm_uri_module_path(uri), "/usr/lib/p11/mod.so");
    CU_ASSERT_TRUE(uri->has_class);
    CU_ASSERT_EQUAL(uri->klass, CKO_PRIVATE_KEY);
    CU_ASSERT_TRUE(uri->has_id);
    CU_ASSERT_TRUE(uri->has_label);

    ti = p11_kit_uri_get_token_info(uri->p11);
    CU_ASSERT_TRUE(padded_equals(ti->label, sizeof(ti->label), "My Token"));
    CU_ASSERT_TRUE(padded_equals(ti->serialNumber, sizeof(ti->serialNumber), "0123abcd"));

    a = p11_kit_uri_get_attribute(uri->p11, CKA_ID);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->ulValueLen, sizeof(want_id));
    CU_ASSERT_EQUAL(memcmp(a->pValue, want_id, sizeof(want_id)), 0);
    a = p11_kit_uri_get_attribute(uri->p11, CKA_LABEL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->ulValueLen, strlen("signing key"));
    CU_ASSERT_EQUAL(memcmp(a->pValue, "signing key", a->ulValueLen), 0);

    /* The copy kept for messages has everything but the PIN. */
    CU_ASSERT_PTR_NOT_NULL_FATAL(uri->redacted);
    UNIT_ASSERT_LACKS(uri->redacted, PIN);
    UNIT_ASSERT_LACKS(uri->redacted, "pin-value");
    UNIT_ASSERT_CONTAINS(uri->redacted, "module-path=/usr/lib/p11/mod.so");
    UNIT_ASSERT_CONTAINS(uri->redacted, "serial=0123abcd");
    hsm_uri_free(uri);
}

static void parse_pin_source(void)
{
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:token=t?pin-source=file:/run/hsm/pin");

    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    CU_ASSERT_STRING_EQUAL(hsm_uri_pin_source(uri), "file:/run/hsm/pin");
    CU_ASSERT_PTR_NULL(hsm_uri_pin_value(uri));
    CU_ASSERT_PTR_NULL(hsm_uri_module_path(uri));
    CU_ASSERT_FALSE(uri->has_class);
    CU_ASSERT_FALSE(uri->has_id);
    CU_ASSERT_FALSE(uri->has_label);
    CU_ASSERT_STRING_EQUAL(uri->redacted, "pkcs11:token=t?pin-source=file:/run/hsm/pin");
    hsm_uri_free(uri);
}

/* Nothing the provider loads has a name to compare with (uri.c): a
 * module-name would only widen the match, so it is refused, saying what to
 * use instead. */
static void module_name_is_refused(void)
{
    static const char *const uris[] = {
        "pkcs11:token=t?module-name=softhsm2",
        "pkcs11:token=t;object=k;type=private?pin-source=file:/run/hsm/pin&module-name=softhsm2",
        "pkcs11:?module-name=p11-kit-proxy",
    };

    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        CU_ASSERT_PTR_NULL(hsm_uri_parse(uris[i]));
        CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_MODULE_NOT_ALLOWED);
        UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "module-name");
        UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "pkcs11-module-path");
    }
}

static void parse_every_type(void)
{
    static const struct {
        const char *text;
        CK_OBJECT_CLASS klass;
    } cases[] = {
        {"pkcs11:type=cert", CKO_CERTIFICATE},    {"pkcs11:type=public", CKO_PUBLIC_KEY},
        {"pkcs11:type=private", CKO_PRIVATE_KEY}, {"pkcs11:type=secret-key", CKO_SECRET_KEY},
        {"pkcs11:type=data", CKO_DATA},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hsm_uri *uri = hsm_uri_parse(cases[i].text);

        CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
        CU_ASSERT_TRUE(uri->has_class);
        CU_ASSERT_EQUAL(uri->klass, cases[i].klass);
        hsm_uri_free(uri);
    }
}

static void parse_bare_scheme(void)
{
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:");

    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    CU_ASSERT_FALSE(hsm_uri_names_object(uri));
    CU_ASSERT_STRING_EQUAL(uri->redacted, "pkcs11:");
    hsm_uri_free(uri);
}

/* ---- hsm_uri_parse: what is refused, and what the error says ---- */

static void expect_refused(const char *text, int reason, const char *named)
{
    struct hsm_uri *uri = hsm_uri_parse(text);

    CU_ASSERT_PTR_NULL(uri);
    hsm_uri_free(uri);
    CU_ASSERT_EQUAL(hsm_error_last_reason(), reason);
    if (named != NULL)
        UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), named);
}

static void refuse_bad_percent_encoding(void)
{
    expect_refused("pkcs11:token=%zz", HSM_R_URI_MALFORMED, "token=%zz");
    expect_refused("pkcs11:object=ab%4", HSM_R_URI_MALFORMED, "object=ab%4");
}

static void refuse_other_schemes_and_null(void)
{
    expect_refused("file:x", HSM_R_URI_MALFORMED, "pkcs11:");
    expect_refused("pkcs11", HSM_R_URI_MALFORMED, "pkcs11:");
    expect_refused("", HSM_R_URI_MALFORMED, "pkcs11:");
    expect_refused(NULL, HSM_R_URI_MALFORMED, "pkcs11:");
}

static void refuse_unknown_path_attribute(void)
{
    expect_refused("pkcs11:tokn=mytoken;object=k", HSM_R_URI_UNKNOWN_ATTRIBUTE, "\"tokn\"");
    expect_refused("pkcs11:token=t;objekt=k", HSM_R_URI_UNKNOWN_ATTRIBUTE, "\"objekt\"");
}

static void refuse_unknown_query_attribute(void)
{
    expect_refused("pkcs11:token=t?pin-sourc=/run/pin", HSM_R_URI_UNKNOWN_ATTRIBUTE,
                   "\"pin-sourc\"");
    expect_refused("pkcs11:token=t?module-pth=/x.so", HSM_R_URI_UNKNOWN_ATTRIBUTE,
                   "\"module-pth\"");
}

static void refuse_unknown_type_value(void)
{
    /* A value p11-kit cannot map must not silently match every class. */
    expect_refused("pkcs11:object=k;type=privat", HSM_R_URI_UNKNOWN_ATTRIBUTE, "type=privat");
}

/* Every refusal that carries a pin-value: the detail names the culprit and
 * never the PIN. */
static void refusal_never_shows_the_pin(void)
{
    static const struct {
        const char *text;
        const char *named;
    } cases[] = {
        {"pkcs11:tokn=t?pin-value=" PIN, "tokn"},
        {"pkcs11:token=%zz?pin-value=" PIN, "token=%zz"},
        {"pkcs11:token=t?module-pth=/x.so&pin-value=" PIN, "module-pth"},
        {"pkcs11:token=t?pin-value=" PIN "&module-pth=/x.so", "module-pth"},
        {"pkcs11:object=k;type=privat?pin-value=" PIN, "type=privat"},
        {"pkcs11:token=t?pin-value=" PIN "%zz", "pkcs11:token=t"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hsm_uri *uri = hsm_uri_parse(cases[i].text);

        CU_ASSERT_PTR_NULL(uri);
        hsm_uri_free(uri);
        UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), cases[i].named);
        UNIT_ASSERT_LACKS(hsm_error_last_detail(), PIN);
    }
}

/* A typo in the name "pin-value" must be named, and what follows it is
 * still the user's PIN: it must not reach the message either. */
static void misspelt_pin_value_never_shows_the_pin(void)
{
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:token=t?pin-valu=" PIN);

    CU_ASSERT_PTR_NULL(uri);
    hsm_uri_free(uri);
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_URI_UNKNOWN_ATTRIBUTE);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "pin-valu");
    UNIT_ASSERT_LACKS(hsm_error_last_detail(), PIN);
}

/* pin-value belongs in the query; written in the path it is refused, and the
 * refusal must not quote it. */
static void pin_value_in_path_never_shows_the_pin(void)
{
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:token=t;pin-value=" PIN);

    CU_ASSERT_PTR_NULL(uri);
    hsm_uri_free(uri);
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_URI_UNKNOWN_ATTRIBUTE);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "pin-value");
    UNIT_ASSERT_LACKS(hsm_error_last_detail(), PIN);
}

/* ---- hsm_uri_find_unknown_attribute ---- */

static void every_rfc7512_name_is_known(void)
{
    static const char *const path[] = {
        "token",
        "manufacturer",
        "serial",
        "model",
        "library-manufacturer",
        "library-description",
        "library-version",
        "object",
        "type",
        "id",
        "slot-description",
        "slot-manufacturer",
        "slot-id",
    };
    static const char *const query[] = {"pin-value", "pin-source", "module-name", "module-path"};
    char text[1024], buf[64];

    for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
        snprintf(text, sizeof(text), "pkcs11:%s=x", path[i]);
        CU_ASSERT_FALSE(hsm_uri_find_unknown_attribute(text, buf, sizeof(buf)));
    }
    for (size_t i = 0; i < sizeof(query) / sizeof(query[0]); i++) {
        snprintf(text, sizeof(text), "pkcs11:token=t?%s=x", query[i]);
        CU_ASSERT_FALSE(hsm_uri_find_unknown_attribute(text, buf, sizeof(buf)));
    }
    CU_ASSERT_FALSE(hsm_uri_find_unknown_attribute(
        "pkcs11:token=a;manufacturer=b;serial=c;model=d;library-manufacturer=e;"
        "library-description=f;library-version=1.2;object=g;type=cert;id=%01;"
        "slot-description=h;slot-manufacturer=i;slot-id=3"
        "?pin-value=1&pin-source=/p&module-name=m&module-path=/m.so",
        buf, sizeof(buf)));
    CU_ASSERT_FALSE(hsm_uri_find_unknown_attribute("pkcs11:", buf, sizeof(buf)));
    CU_ASSERT_FALSE(hsm_uri_find_unknown_attribute("pkcs11:token=t?", buf, sizeof(buf)));
}

static void typo_in_path_is_named(void)
{
    char buf[64];

    CU_ASSERT_TRUE_FATAL(hsm_uri_find_unknown_attribute("pkcs11:tokn=x", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "tokn");
    CU_ASSERT_TRUE_FATAL(
        hsm_uri_find_unknown_attribute("pkcs11:token=x;object=k;lable=y", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "lable");
    /* A name without a value is still a name. */
    CU_ASSERT_TRUE_FATAL(hsm_uri_find_unknown_attribute("pkcs11:token=x;tokn", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "tokn");
}

static void typo_in_query_is_named(void)
{
    char buf[64];

    CU_ASSERT_TRUE_FATAL(
        hsm_uri_find_unknown_attribute("pkcs11:token=t?pin-valu=1234", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "pin-valu");
    CU_ASSERT_TRUE_FATAL(hsm_uri_find_unknown_attribute(
        "pkcs11:token=t?module-name=m&pin-valu=1234", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "pin-valu");
}

static void names_are_checked_where_they_stand(void)
{
    char buf[64];

    /* Query names are not path names, and the other way round. */
    CU_ASSERT_TRUE_FATAL(
        hsm_uri_find_unknown_attribute("pkcs11:module-path=/m.so", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "module-path");
    CU_ASSERT_TRUE_FATAL(hsm_uri_find_unknown_attribute("pkcs11:?token=t", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "token");
    /* Names are exact: no prefixes, no case folding. */
    CU_ASSERT_TRUE_FATAL(hsm_uri_find_unknown_attribute("pkcs11:tok=t", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "tok");
    CU_ASSERT_TRUE_FATAL(hsm_uri_find_unknown_attribute("pkcs11:tokens=t", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "tokens");
}

static void long_unknown_name_is_truncated(void)
{
    char buf[5];

    memset(buf, 'X', sizeof(buf));
    CU_ASSERT_TRUE_FATAL(
        hsm_uri_find_unknown_attribute("pkcs11:averyverylongname=1", buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, "aver");
}

/* ---- hsm_uri_redact ---- */

static void expect_redacted(const char *text, const char *want)
{
    char *got = hsm_uri_redact(text);

    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "\n  redact(%s) = %s, want %s\n", text, got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
}

static void redact_pin_value_anywhere_in_query(void)
{
    expect_redacted("pkcs11:token=t?pin-value=1234", "pkcs11:token=t");
    expect_redacted("pkcs11:token=t?pin-value=1234&module-path=/m.so",
                    "pkcs11:token=t?module-path=/m.so");
    expect_redacted("pkcs11:token=t?module-path=/m.so&pin-value=1234",
                    "pkcs11:token=t?module-path=/m.so");
    expect_redacted("pkcs11:token=t?module-name=m&pin-value=1234&pin-source=/p",
                    "pkcs11:token=t?module-name=m&pin-source=/p");
    expect_redacted("pkcs11:token=t?pin-value=1&module-name=m&pin-value=2",
                    "pkcs11:token=t?module-name=m");
    expect_redacted("pkcs11:token=t?pin-value=1&pin-value=2", "pkcs11:token=t");
    expect_redacted("pkcs11:token=t?pin-value", "pkcs11:token=t");
    expect_redacted("pkcs11:token=t?pin-value=", "pkcs11:token=t");
    expect_redacted("pkcs11:?pin-value=1234", "pkcs11:");
}

static void redact_keeps_everything_else(void)
{
    expect_redacted("pkcs11:token=t;object=k", "pkcs11:token=t;object=k");
    expect_redacted("pkcs11:token=t?pin-source=file:/run/pin&module-name=m",
                    "pkcs11:token=t?pin-source=file:/run/pin&module-name=m");
    expect_redacted("pkcs11:", "pkcs11:");
    /* Names that only begin like pin-value are not pin-value. */
    expect_redacted("pkcs11:token=t?pin-valueX=1", "pkcs11:token=t?pin-valueX=1");
}

static void parse_keeps_the_redacted_form(void)
{
    struct hsm_uri *uri =
        hsm_uri_parse("pkcs11:token=t?module-path=/m.so&pin-value=" PIN "&pin-source=/p");

    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    CU_ASSERT_STRING_EQUAL(uri->redacted, "pkcs11:token=t?module-path=/m.so&pin-source=/p");
    CU_ASSERT_STRING_EQUAL(hsm_uri_pin_value(uri), PIN);
    hsm_uri_free(uri);
}

/* ---- hsm_uri_object_template and hsm_uri_names_object ---- */

static void template_from_uri(void)
{
    static const unsigned char want_id[] = {0x0a, 0x0b};
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:token=t;object=lbl;id=%0a%0b;type=private");
    CK_ATTRIBUTE tmpl[3], *a;
    size_t n;

    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    n = hsm_uri_object_template(uri, NULL, tmpl);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    a = find_attr(tmpl, n, CKA_CLASS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->ulValueLen, sizeof(CK_OBJECT_CLASS));
    CU_ASSERT_EQUAL(*(CK_OBJECT_CLASS *)a->pValue, CKO_PRIVATE_KEY);
    a = find_attr(tmpl, n, CKA_ID);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->ulValueLen, sizeof(want_id));
    CU_ASSERT_EQUAL(memcmp(a->pValue, want_id, sizeof(want_id)), 0);
    a = find_attr(tmpl, n, CKA_LABEL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->ulValueLen, 3);
    CU_ASSERT_EQUAL(memcmp(a->pValue, "lbl", 3), 0);
    hsm_uri_free(uri);
}

static void forced_class_overrides(void)
{
    static const CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:object=lbl;type=private");
    CK_ATTRIBUTE tmpl[3];
    size_t n, classes = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    n = hsm_uri_object_template(uri, &pub, tmpl);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (tmpl[i].type != CKA_CLASS)
            continue;
        classes++;
        CU_ASSERT_EQUAL(tmpl[i].ulValueLen, sizeof(CK_OBJECT_CLASS));
        CU_ASSERT_EQUAL(*(CK_OBJECT_CLASS *)tmpl[i].pValue, CKO_PUBLIC_KEY);
    }
    CU_ASSERT_EQUAL(classes, 1);
    CU_ASSERT_PTR_NOT_NULL(find_attr(tmpl, n, CKA_LABEL));
    hsm_uri_free(uri);

    /* Forced on a URI without a type: the class is added. */
    uri = hsm_uri_parse("pkcs11:token=t;id=%01");
    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    n = hsm_uri_object_template(uri, &pub, tmpl);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_PTR_NOT_NULL(find_attr(tmpl, n, CKA_CLASS));
    CU_ASSERT_PTR_NOT_NULL(find_attr(tmpl, n, CKA_ID));
    hsm_uri_free(uri);
}

static void template_has_only_what_the_uri_says(void)
{
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:token=t;serial=1234;manufacturer=m");
    CK_ATTRIBUTE tmpl[3];

    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    CU_ASSERT_EQUAL(hsm_uri_object_template(uri, NULL, tmpl), 0);
    hsm_uri_free(uri);

    uri = hsm_uri_parse("pkcs11:id=%ff");
    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    CU_ASSERT_EQUAL_FATAL(hsm_uri_object_template(uri, NULL, tmpl), 1);
    CU_ASSERT_EQUAL(tmpl[0].type, CKA_ID);
    hsm_uri_free(uri);
}

static void names_object(void)
{
    static const struct {
        const char *text;
        bool names;
    } cases[] = {
        {"pkcs11:token=t", false},
        {"pkcs11:token=t;serial=1;model=m;manufacturer=x", false},
        {"pkcs11:token=t?pin-value=1&module-path=/m.so", false},
        {"pkcs11:object=k", true},
        {"pkcs11:id=%01", true},
        {"pkcs11:type=cert", true},
        {"pkcs11:token=t;object=k;id=%01;type=private", true},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hsm_uri *uri = hsm_uri_parse(cases[i].text);

        CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
        CU_ASSERT_EQUAL(hsm_uri_names_object(uri), cases[i].names);
        hsm_uri_free(uri);
    }
}

static CU_TestInfo parse_tests[] = {
    UNIT_TEST(parse_every_part),
    UNIT_TEST(parse_pin_source),
    UNIT_TEST(module_name_is_refused),
    UNIT_TEST(parse_every_type),
    UNIT_TEST(parse_bare_scheme),
    UNIT_TEST(parse_keeps_the_redacted_form),
    CU_TEST_INFO_NULL,
};

/* A CKA_ID is binary: %00 is one of its bytes (random ids hold them). */
static void binary_id_may_hold_nul(void)
{
    struct hsm_uri *uri = hsm_uri_parse("pkcs11:token=t;id=%00%01%00;type=private");

    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    CK_ATTRIBUTE *id = p11_kit_uri_get_attribute(uri->p11, CKA_ID);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_EQUAL(id->ulValueLen, 3);
    CU_ASSERT(memcmp(id->pValue, "\0\1\0", 3) == 0);
    hsm_uri_free(uri);
}

/* Text attributes with NUL, and any attribute twice, are refused by name. */
static void refuse_nul_text_and_repeats(void)
{
    CU_ASSERT_PTR_NULL(hsm_uri_parse("pkcs11:token=%00;id=%01"));
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_URI_MALFORMED);
    CU_ASSERT(strstr(hsm_error_last_detail(), "\"token\"") != NULL);
    CU_ASSERT_PTR_NULL(hsm_uri_parse("pkcs11:token=a;object=k;token=b"));
    CU_ASSERT(strstr(hsm_error_last_detail(), "more than once") != NULL);
    CU_ASSERT_PTR_NULL(hsm_uri_parse("pkcs11:token=a?pin-value=1&pin-value=2"));
    CU_ASSERT(strstr(hsm_error_last_detail(), "\"pin-value\"") != NULL);
}

static CU_TestInfo refusal_tests[] = {
    UNIT_TEST(binary_id_may_hold_nul),
    UNIT_TEST(refuse_nul_text_and_repeats),
    UNIT_TEST(refuse_bad_percent_encoding),
    UNIT_TEST(refuse_other_schemes_and_null),
    UNIT_TEST(refuse_unknown_path_attribute),
    UNIT_TEST(refuse_unknown_query_attribute),
    UNIT_TEST(refuse_unknown_type_value),
    UNIT_TEST(refusal_never_shows_the_pin),
    UNIT_TEST(misspelt_pin_value_never_shows_the_pin),
    UNIT_TEST(pin_value_in_path_never_shows_the_pin),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo unknown_tests[] = {
    UNIT_TEST(every_rfc7512_name_is_known),    UNIT_TEST(typo_in_path_is_named),
    UNIT_TEST(typo_in_query_is_named),         UNIT_TEST(names_are_checked_where_they_stand),
    UNIT_TEST(long_unknown_name_is_truncated), CU_TEST_INFO_NULL,
};

static CU_TestInfo redact_tests[] = {
    UNIT_TEST(redact_pin_value_anywhere_in_query),
    UNIT_TEST(redact_keeps_everything_else),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo template_tests[] = {
    UNIT_TEST(template_from_uri),
    UNIT_TEST(forced_class_overrides),
    UNIT_TEST(template_has_only_what_the_uri_says),
    UNIT_TEST(names_object),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"uri_parse", NULL, NULL, NULL, NULL, parse_tests},
        {"uri_refusals", NULL, NULL, NULL, NULL, refusal_tests},
        {"uri_unknown_attribute", NULL, NULL, NULL, NULL, unknown_tests},
        {"uri_redact", NULL, NULL, NULL, NULL, redact_tests},
        {"uri_object_template", NULL, NULL, NULL, NULL, template_tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
