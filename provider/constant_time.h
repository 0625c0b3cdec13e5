/*
 * Constant-time selections for code that handles a decrypted RSA block:
 * masks are all ones (true) or zero (false), computed without branches, so
 * neither timing nor memory access tells a good padding from a bad one.
 */
#ifndef HSM_PROVIDER_CONSTANT_TIME_H
#define HSM_PROVIDER_CONSTANT_TIME_H

#include <stddef.h>

/* The top bit of |a| spread to every bit. */
static inline size_t hsm_ct_msb(size_t a)
{
    return 0 - (a >> (sizeof(a) * 8 - 1));
}

static inline size_t hsm_ct_is_zero(size_t a)
{
    return hsm_ct_msb(~a & (a - 1));
}

static inline size_t hsm_ct_eq(size_t a, size_t b)
{
    return hsm_ct_is_zero(a ^ b);
}

/* a < b, for any values. */
static inline size_t hsm_ct_lt(size_t a, size_t b)
{
    return hsm_ct_msb(a ^ ((a ^ b) | ((a - b) ^ b)));
}

static inline size_t hsm_ct_ge(size_t a, size_t b)
{
    return ~hsm_ct_lt(a, b);
}

static inline size_t hsm_ct_select(size_t mask, size_t a, size_t b)
{
    return (mask & a) | (~mask & b);
}

static inline unsigned char hsm_ct_select_8(size_t mask, unsigned char a, unsigned char b)
{
    return (unsigned char)((mask & a) | (~mask & b));
}

/*
 * Tells the constant-time check (tests/unit/test_rsa_unpad.c, run under
 * valgrind) that |x| may be known: the length of what is returned, which
 * the caller sees anyway. Nothing in a normal build.
 */
#ifdef HSM_CT_CHECK
#include <valgrind/memcheck.h>
#define HSM_CT_PUBLIC(x) VALGRIND_MAKE_MEM_DEFINED(&(x), sizeof(x))
#else
#define HSM_CT_PUBLIC(x) ((void)0)
#endif

#endif
