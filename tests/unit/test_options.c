/*
 * The options table (provider/options.c) and the configuration built from
 * it (provider/config.c): every row complete, the defaults the table names
 * are the ones the configuration gets, and a value an option does not take
 * is refused with the option's name.
 */
#include "tests/unit/unit.h"

#include "cache/error.h"
#include "provider/options.h"
#include "provider/provider.h"

static const char *unset[HSM_OPT_COUNT];

static void every_row_is_complete_and_names_are_unique(void)
{
    for (int i = 0; i < HSM_OPT_COUNT; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(hsm_options[i].name);
        CU_ASSERT(hsm_options[i].values != NULL && hsm_options[i].values[0] != '\0');
        CU_ASSERT(hsm_options[i].meaning != NULL && strlen(hsm_options[i].meaning) > 20);
        for (int j = 0; j < i; j++)
            CU_ASSERT(strcmp(hsm_options[i].name, hsm_options[j].name) != 0);
    }
}

static void unset_options_get_the_table_defaults(void)
{
    struct hsm_config cfg;

    CU_ASSERT_FATAL(hsm_config_from_options(&cfg, unset));
    CU_ASSERT_PTR_NULL(cfg.module_path);
    CU_ASSERT_PTR_NULL(cfg.module_init_args);
    CU_ASSERT_PTR_NULL(cfg.token_pin);
    CU_ASSERT_STRING_EQUAL(hsm_options[HSM_OPT_VERIFY_SIGNATURES].default_value, "yes");
    CU_ASSERT(cfg.verify_signatures);
    CU_ASSERT_STRING_EQUAL(hsm_options[HSM_OPT_CHECK_POSSESSION].default_value, "yes");
    CU_ASSERT(cfg.check_possession);
    CU_ASSERT_STRING_EQUAL(hsm_options[HSM_OPT_PIN_FILE_ALLOW_SHARED].default_value, "no");
    CU_ASSERT(!cfg.pin_file_allow_shared);
    CU_ASSERT(cfg.prefer_other_providers);
    CU_ASSERT_EQUAL(cfg.pkcs1_decryption, HSM_PKCS1_DECRYPTION_IMPLICIT);
    CU_ASSERT_PTR_NULL(cfg.audit);
    CU_ASSERT_STRING_EQUAL(hsm_options[HSM_OPT_AUDIT_LOG_ON_FAILURE].default_value, "fail");
    hsm_config_clear(&cfg);
}

static void set_options_are_taken(void)
{
    const char *v[HSM_OPT_COUNT] = {NULL};
    struct hsm_config cfg;

    v[HSM_OPT_MODULE_PATH] = "/x/module.so";
    v[HSM_OPT_MODULE_INIT_ARGS] = "configdir='sql:/x'";
    v[HSM_OPT_VERIFY_SIGNATURES] = "off";
    v[HSM_OPT_CHECK_POSSESSION] = "No";
    v[HSM_OPT_PIN_FILE_ALLOW_SHARED] = "1";
    v[HSM_OPT_PREFER_OTHER_PROVIDERS] = "false";
    v[HSM_OPT_RSA_PKCS1_DECRYPTION] = "refuse";
    v[HSM_OPT_RETRY_INTERVAL_MIN_MS] = "10";
    v[HSM_OPT_RETRY_INTERVAL_MAX_MS] = "10";
    CU_ASSERT_FATAL(hsm_config_from_options(&cfg, v));
    CU_ASSERT_STRING_EQUAL(cfg.module_path, "/x/module.so");
    CU_ASSERT_STRING_EQUAL(cfg.module_init_args, "configdir='sql:/x'");
    CU_ASSERT(!cfg.verify_signatures);
    CU_ASSERT(!cfg.check_possession);
    CU_ASSERT(cfg.pin_file_allow_shared);
    CU_ASSERT(!cfg.prefer_other_providers);
    CU_ASSERT_EQUAL(cfg.pkcs1_decryption, HSM_PKCS1_DECRYPTION_REFUSE);
    hsm_config_clear(&cfg);
    CU_ASSERT_PTR_NULL(cfg.module_path);
}

/* Each option given a value it does not take: refused, named in the reason. */
static void wrong_values_are_refused_by_name(void)
{
    static const struct {
        enum hsm_option_id id;
        const char *value;
    } wrong[] = {
        {HSM_OPT_VERIFY_SIGNATURES, "maybe"},
        {HSM_OPT_CHECK_POSSESSION, ""},
        {HSM_OPT_PIN_FILE_ALLOW_SHARED, "yes please"},
        {HSM_OPT_PREFER_OTHER_PROVIDERS, "2"},
        {HSM_OPT_RSA_PKCS1_DECRYPTION, "implicit"},
        {HSM_OPT_RETRY_INTERVAL_MIN_MS, "0"},
        {HSM_OPT_RETRY_INTERVAL_MIN_MS, "-5"},
        {HSM_OPT_RETRY_INTERVAL_MAX_MS, "3600001"},
        {HSM_OPT_RETRY_INTERVAL_MAX_MS, "10ms"},
        /* min above the default max */
        {HSM_OPT_RETRY_INTERVAL_MIN_MS, "5000"},
        /* a server may change its working directory */
        {HSM_OPT_AUDIT_LOG, "audit.log"},
    };
    struct hsm_config cfg;

    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        const char *v[HSM_OPT_COUNT] = {NULL};

        v[wrong[i].id] = wrong[i].value;
        CU_ASSERT(!hsm_config_from_options(&cfg, v));
        UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), hsm_options[wrong[i].id].name);
        UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), wrong[i].value);
    }
}

/* The audit options: taken with audit-log; alone, or with a value they do
 * not take, refused by name. */
static void audit_options_need_the_log(void)
{
    const char *v[HSM_OPT_COUNT] = {NULL};
    struct hsm_config cfg;

    v[HSM_OPT_AUDIT_LOG] = "/var/log/hsm/audit.log";
    v[HSM_OPT_AUDIT_LOG_KEYS] = "pkcs11:token=ca;object=root, pkcs11:token=ca;object=issuing";
    v[HSM_OPT_AUDIT_LOG_ON_FAILURE] = "continue";
    CU_ASSERT_FATAL(hsm_config_from_options(&cfg, v));
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg.audit);
    CU_ASSERT_STRING_EQUAL(hsm_audit_log_path(cfg.audit), "/var/log/hsm/audit.log");
    hsm_config_clear(&cfg);
    CU_ASSERT_PTR_NULL(cfg.audit);

    v[HSM_OPT_AUDIT_LOG_ON_FAILURE] = "maybe";
    CU_ASSERT(!hsm_config_from_options(&cfg, v));
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "audit-log-on-failure");
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "maybe");
    v[HSM_OPT_AUDIT_LOG_ON_FAILURE] = NULL;
    v[HSM_OPT_AUDIT_LOG_KEYS] = "pkcs11:token=ca;object=root?pin-value=1234";
    CU_ASSERT(!hsm_config_from_options(&cfg, v));
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "audit-log-keys");
    CU_ASSERT_PTR_NULL(strstr(hsm_error_last_detail(), "1234"));

    for (int id = HSM_OPT_AUDIT_LOG_KEYS; id <= HSM_OPT_AUDIT_LOG_ON_FAILURE; id++) {
        const char *alone[HSM_OPT_COUNT] = {NULL};

        alone[id] = id == HSM_OPT_AUDIT_LOG_KEYS ? "pkcs11:token=ca" : "fail";
        CU_ASSERT(!hsm_config_from_options(&cfg, alone));
        UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), hsm_options[id].name);
        UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "audit-log is not");
    }
}

int main(void)
{
    CU_TestInfo tests[] = {
        UNIT_TEST(every_row_is_complete_and_names_are_unique),
        UNIT_TEST(unset_options_get_the_table_defaults),
        UNIT_TEST(set_options_are_taken),
        UNIT_TEST(wrong_values_are_refused_by_name),
        UNIT_TEST(audit_options_need_the_log),
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {
        {"options", NULL, NULL, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
