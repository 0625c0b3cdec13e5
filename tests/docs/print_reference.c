/*
 * Prints what the documentation must describe, one item a line, from the
 * code that defines it: each configuration option ("option<TAB>NAME<TAB>
 * DEFAULT", "-" for none) and each reason the provider reports ("reason
 * <TAB>TEXT"). tests/docs/reference_documented.sh compares it with the
 * man page and docs/.
 */
#include "cache/error.h"
#include "provider/options.h"

#include <stdio.h>

int main(void)
{
    for (int i = 0; i < HSM_OPT_COUNT; i++)
        printf("option\t%s\t%s\n", hsm_options[i].name,
               hsm_options[i].default_value != NULL ? hsm_options[i].default_value : "-");
    for (const OSSL_ITEM *r = hsm_reason_strings; r->ptr != NULL; r++)
        printf("reason\t%s\n", (const char *)r->ptr);
    return ferror(stdout) ? 1 : 0;
}
