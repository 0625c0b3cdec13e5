/*
 * Shared by every unit test program: one registry, CUnit's verbose basic
 * runner, and an exit status that fails on any failed assertion or suite
 * set-up (CUnit counts the latter apart, so a broken fixture would
 * otherwise pass silently).
 */
#ifndef HSM_TESTS_UNIT_UNIT_H
#define HSM_TESTS_UNIT_UNIT_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#define UNIT_TEST(fn)                                                                              \
    {                                                                                              \
#fn, fn                                                                                    \
    }

/* CU_ASSERT that |hay| contains (or lacks) |needle|, naming both on failure. */
#define UNIT_ASSERT_CONTAINS(hay, needle)                                                          \
    CU_assertImplementation(strstr((hay), (needle)) != NULL, __LINE__,                             \
                            unit_msg("expected \"%s\" in \"%s\"", (needle), (hay)), __FILE__, "",  \
                            CU_FALSE)
#define UNIT_ASSERT_LACKS(hay, needle)                                                             \
    CU_assertImplementation(strstr((hay), (needle)) == NULL, __LINE__,                             \
                            unit_msg("did not expect \"%s\" in \"%s\"", (needle), (hay)),          \
                            __FILE__, "", CU_FALSE)

/* CUnit copies the condition text of a failure, so one buffer will do. */
static inline const char *unit_msg(const char *fmt, const char *a, const char *b)
{
    static char buf[768];

    snprintf(buf, sizeof(buf), fmt, a, b);
    return buf;
}

static inline int unit_run(CU_SuiteInfo *suites)
{
    unsigned failures, suites_failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (CU_register_suites(suites) != CUE_SUCCESS) {
        fprintf(stderr, "cannot register suites: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    suites_failed = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failures != 0 || suites_failed != 0;
}

#endif
