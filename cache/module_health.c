#include "cache/module_health.h"

#define BAD_ANSWERS_IN_A_ROW 3
#define BAD_ANSWERS_WINDOW_NS (5ull * 1000000000u)

static bool is_failure_of_the_instance(CK_RV rv)
{
    return rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_MEMORY ||
           rv == CKR_FUNCTION_FAILED;
}

bool hsm_module_health_needs_reinit(struct hsm_module_health *h, enum hsm_module_sign sign,
                                    CK_RV rv, uint64_t now_ns)
{
    if (sign != HSM_SIGN_ANSWER || rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
        hsm_module_health_ok(h);
        return true;
    }
    if (!is_failure_of_the_instance(rv))
        return false;
    if (h->bad_answers == 0 || now_ns - h->first_bad_ns > BAD_ANSWERS_WINDOW_NS) {
        h->bad_answers = 0;
        h->first_bad_ns = now_ns;
    }
    if (++h->bad_answers < BAD_ANSWERS_IN_A_ROW)
        return false;
    hsm_module_health_ok(h);
    return true;
}

void hsm_module_health_ok(struct hsm_module_health *h)
{
    h->bad_answers = 0;
    h->first_bad_ns = 0;
}
