/*
 * The DER reader and writer (cache/der.h): every element read stays inside
 * the element that encloses it; truncated headers, indefinite, over-long
 * and non-minimal lengths are refused with the reader left where it was;
 * what the writer produces is what OpenSSL's own ASN.1 writer produces, and
 * reads back.
 */
#include "tests/unit/unit.h"

#include "cache/der.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading ---- */

/* |bytes| of |len| must be refused as one element of tag 0x04, leaving the
 * reader unchanged. */
static void refused(const unsigned char *bytes, size_t len)
{
    struct hsm_der d = hsm_der_reader(bytes, len), c = {0};
    unsigned char tag = 0;

    CU_ASSERT_FALSE(hsm_der_read(&d, 0x04, &c));
    CU_ASSERT_FALSE(hsm_der_read_any(&d, &tag, &c));
    CU_ASSERT_PTR_EQUAL(d.p, bytes);
    CU_ASSERT_EQUAL(hsm_der_left(&d), len);
}

static void short_and_long_forms(void)
{
    unsigned char buf[4 + 0x10000];
    struct hsm_der d, c;
    unsigned char tag;

    memset(buf, 0x5a, sizeof(buf));
    buf[0] = 0x04, buf[1] = 0x7f;
    d = hsm_der_reader(buf, 2 + 0x7f);
    CU_ASSERT_TRUE(hsm_der_read(&d, 0x04, &c));
    CU_ASSERT_PTR_EQUAL(c.p, buf + 2);
    CU_ASSERT_EQUAL(hsm_der_left(&c), 0x7f);
    CU_ASSERT_EQUAL(hsm_der_left(&d), 0);

    buf[1] = 0x81, buf[2] = 0x80;
    d = hsm_der_reader(buf, 3 + 0x80);
    CU_ASSERT_TRUE(hsm_der_read_any(&d, &tag, &c));
    CU_ASSERT_EQUAL(tag, 0x04);
    CU_ASSERT_EQUAL(hsm_der_left(&c), 0x80);

    buf[1] = 0x82, buf[2] = 0x01, buf[3] = 0x00;
    d = hsm_der_reader(buf, 4 + 0x100 + 7); /* bytes after it stay unread */
    CU_ASSERT_TRUE(hsm_der_read(&d, 0x04, &c));
    CU_ASSERT_EQUAL(hsm_der_left(&c), 0x100);
    CU_ASSERT_EQUAL(hsm_der_left(&d), 7);

    /* An empty element. */
    buf[0] = 0x05, buf[1] = 0x00;
    d = hsm_der_reader(buf, 2);
    CU_ASSERT_TRUE(hsm_der_read(&d, 0x05, &c));
    CU_ASSERT_EQUAL(hsm_der_left(&c), 0);
}

static void truncated(void)
{
    static const unsigned char no_length[] = {0x04};
    static const unsigned char cut_length[] = {0x04, 0x82, 0x01};
    static const unsigned char cut_contents[] = {0x04, 0x05, 1, 2, 3, 4};
    static const unsigned char cut_long_contents[] = {0x04, 0x81, 0x80, 1, 2};

    refused(no_length, 0);
    refused(no_length, sizeof(no_length));
    refused(cut_length, sizeof(cut_length));
    refused(cut_contents, sizeof(cut_contents));
    refused(cut_long_contents, sizeof(cut_long_contents));
}

static void over_long_and_indefinite(void)
{
    /* BER's indefinite length, five length bytes, and a length that
     * cannot fit in what is there. */
    static const unsigned char indefinite[] = {0x04, 0x80, 1, 2, 0, 0};
    static const unsigned char five_bytes[] = {0x04, 0x85, 0x01, 0, 0, 0, 0, 1};
    static const unsigned char four_gib[] = {0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    static const unsigned char all_ones[] = {0x04, 0xff, 1, 2, 3};

    refused(indefinite, sizeof(indefinite));
    refused(five_bytes, sizeof(five_bytes));
    refused(four_gib, sizeof(four_gib));
    refused(all_ones, sizeof(all_ones));
}

static void non_minimal_lengths(void)
{
    unsigned char buf[4 + 0x100];

    memset(buf, 0x33, sizeof(buf));
    /* 5 in the long form, 0x7f in the long form, 0x80 with a leading
     * zero byte, 0x100 with three length bytes. */
    buf[0] = 0x04, buf[1] = 0x81, buf[2] = 0x05;
    refused(buf, 3 + 5);
    buf[2] = 0x7f;
    refused(buf, 3 + 0x7f);
    buf[1] = 0x82, buf[2] = 0x00, buf[3] = 0x80;
    refused(buf, 4 + 0x80);
    buf[1] = 0x83, buf[2] = 0x00, buf[3] = 0x01;
    refused(buf, sizeof(buf));
}

static void multi_byte_tags(void)
{
    static const unsigned char high_tag[] = {0x1f, 0x81, 0x01, 0x01, 0x00};
    struct hsm_der d = hsm_der_reader(high_tag, sizeof(high_tag));
    unsigned char tag;

    CU_ASSERT_FALSE(hsm_der_read_any(&d, &tag, NULL));
    CU_ASSERT_FALSE(hsm_der_read(&d, 0x1f, NULL));
    CU_ASSERT_EQUAL(hsm_der_left(&d), sizeof(high_tag));
}

/*
 * SEQUENCE (3 bytes) { OCTET STRING claiming 5 } followed by more bytes:
 * the whole buffer holds 5, the SEQUENCE does not. Reading inside the
 * SEQUENCE's own reader must refuse it.
 */
static void length_past_the_enclosing_element(void)
{
    static const unsigned char buf[] = {0x30, 0x03, 0x04, 0x05, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    struct hsm_der d = hsm_der_reader(buf, sizeof(buf)), seq, os;

    CU_ASSERT_TRUE_FATAL(hsm_der_read(&d, 0x30, &seq));
    CU_ASSERT_EQUAL(hsm_der_left(&seq), 3);
    CU_ASSERT_FALSE(hsm_der_read(&seq, 0x04, &os));
    CU_ASSERT_EQUAL(hsm_der_left(&seq), 3);
    /* Read over the whole buffer instead, it would fit: the window is
     * what decides. */
    d = hsm_der_reader(buf + 2, sizeof(buf) - 2);
    CU_ASSERT_TRUE(hsm_der_read(&d, 0x04, &os));
}

static void wrong_tag_leaves_the_reader(void)
{
    static const unsigned char buf[] = {0x02, 0x01, 0x05, 0x04, 0x00};
    struct hsm_der d = hsm_der_reader(buf, sizeof(buf)), c;
    const unsigned char *start;
    size_t len;

    CU_ASSERT_FALSE(hsm_der_read(&d, 0x04, &c));
    CU_ASSERT_TRUE(hsm_der_peek(&d, 0x02));
    CU_ASSERT_FALSE(hsm_der_peek(&d, 0x04));
    CU_ASSERT_TRUE(hsm_der_read_element(&d, 0x02, &start, &len));
    CU_ASSERT_PTR_EQUAL(start, buf);
    CU_ASSERT_EQUAL(len, 3);
    CU_ASSERT_TRUE(hsm_der_peek(&d, 0x04));
    CU_ASSERT_TRUE(hsm_der_read(&d, 0x04, NULL));
    CU_ASSERT_EQUAL(hsm_der_left(&d), 0);
    CU_ASSERT_FALSE(hsm_der_peek(&d, 0x04));
}

/* ---- writing ---- */

/* OpenSSL's header for |len| bytes of an OCTET STRING. */
static size_t openssl_header(size_t len, unsigned char *out)
{
    unsigned char *p = out;

    ASN1_put_object(&p, 0, (long)len, V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL);
    return (size_t)(p - out);
}

static void headers_match_openssl(void)
{
    static const size_t lens[] = {0,      1,       0x7f,     0x80,      0xff,      0x100,
                                  0xffff, 0x10000, 0xffffff, 0x1000000, 0x7fffffff};

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct hsm_der_out o = {0};
        unsigned char want[16];
        size_t wantlen = openssl_header(lens[i], want);

        hsm_der_put_header(&o, 0x04, lens[i]);
        CU_ASSERT_FALSE(o.failed);
        CU_ASSERT_EQUAL(o.len, wantlen);
        CU_ASSERT_EQUAL(hsm_der_header_size(lens[i]), wantlen);
        CU_ASSERT(o.len == wantlen && memcmp(o.p, want, wantlen) == 0);
        hsm_der_out_free(&o);
    }
}

static void lengths_the_reader_refuses_are_not_written(void)
{
    struct hsm_der_out o = {0};
    unsigned char *der = NULL;
    size_t len = 0;

    hsm_der_put_header(&o, 0x1f, 1); /* a multi-byte tag */
    CU_ASSERT_TRUE(o.failed);
    CU_ASSERT_FALSE(hsm_der_out_take(&o, &der, &len));
    CU_ASSERT_PTR_NULL(der);
#if SIZE_MAX > 0xffffffffu
    hsm_der_put_header(&o, 0x04, (size_t)0x100000000);
    CU_ASSERT_TRUE(o.failed);
    hsm_der_out_free(&o);
#endif
}

/* hsm_der_put_uint equals i2d_ASN1_INTEGER of the same value. */
static void check_uint(const unsigned char *be, size_t len)
{
    BIGNUM *bn = BN_bin2bn(be, (int)len, NULL);
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    unsigned char *want = NULL;
    int wantlen = i2d_ASN1_INTEGER(ai, &want);
    struct hsm_der_out o = {0};

    CU_ASSERT_FATAL(wantlen > 0);
    hsm_der_put_uint(&o, be, len);
    CU_ASSERT_EQUAL(o.len, (size_t)wantlen);
    CU_ASSERT(o.len == (size_t)wantlen && memcmp(o.p, want, o.len) == 0);
    hsm_der_out_free(&o);
    OPENSSL_free(want);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
}

static void unsigned_integers_match_openssl(void)
{
    static const unsigned char zero[] = {0x00, 0x00}, small[] = {0x7f}, top[] = {0x80};
    static const unsigned char padded[] = {0x00, 0x00, 0x81, 0x02};
    unsigned char big[300];

    check_uint(zero, 0);
    check_uint(zero, sizeof(zero));
    check_uint(small, sizeof(small));
    check_uint(top, sizeof(top));
    check_uint(padded, sizeof(padded));
    memset(big, 0xc1, sizeof(big));
    check_uint(big, sizeof(big)); /* 301 bytes of content: a 0x82 length */
}

static void nested_writes_read_back(void)
{
    static const unsigned char value[] = "a value";
    struct hsm_der_out inner = {0}, outer = {0};
    struct hsm_der d, seq, os;
    unsigned char *der = NULL, big[200];
    size_t len = 0;

    memset(big, 0x11, sizeof(big));
    hsm_der_put(&inner, 0x04, value, sizeof(value));
    hsm_der_put(&inner, 0x04, big, sizeof(big));
    hsm_der_put_out(&outer, 0x30, &inner);
    CU_ASSERT_PTR_NULL(inner.p);
    CU_ASSERT_TRUE_FATAL(hsm_der_out_take(&outer, &der, &len));
    CU_ASSERT_PTR_NULL(outer.p);
    d = hsm_der_reader(der, len);
    CU_ASSERT_TRUE_FATAL(hsm_der_read(&d, 0x30, &seq));
    CU_ASSERT_EQUAL(hsm_der_left(&d), 0);
    CU_ASSERT_TRUE_FATAL(hsm_der_read(&seq, 0x04, &os));
    CU_ASSERT(hsm_der_left(&os) == sizeof(value) && memcmp(os.p, value, sizeof(value)) == 0);
    CU_ASSERT_TRUE_FATAL(hsm_der_read(&seq, 0x04, &os));
    CU_ASSERT(hsm_der_left(&os) == sizeof(big) && memcmp(os.p, big, sizeof(big)) == 0);
    CU_ASSERT_EQUAL(hsm_der_left(&seq), 0);
    free(der);
}

static void a_failed_inner_fails_the_whole(void)
{
    struct hsm_der_out inner = {0}, outer = {0};
    unsigned char *der = NULL;
    size_t len = 0;

    hsm_der_put_raw(&inner, "x", 1);
    inner.failed = true;
    hsm_der_put_out(&outer, 0x30, &inner);
    CU_ASSERT_TRUE(outer.failed);
    CU_ASSERT_FALSE(hsm_der_out_take(&outer, &der, &len));
    CU_ASSERT_PTR_NULL(der);
}

static CU_TestInfo read_tests[] = {
    UNIT_TEST(short_and_long_forms),
    UNIT_TEST(truncated),
    UNIT_TEST(over_long_and_indefinite),
    UNIT_TEST(non_minimal_lengths),
    UNIT_TEST(multi_byte_tags),
    UNIT_TEST(length_past_the_enclosing_element),
    UNIT_TEST(wrong_tag_leaves_the_reader),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo write_tests[] = {
    UNIT_TEST(headers_match_openssl),
    UNIT_TEST(lengths_the_reader_refuses_are_not_written),
    UNIT_TEST(unsigned_integers_match_openssl),
    UNIT_TEST(nested_writes_read_back),
    UNIT_TEST(a_failed_inner_fails_the_whole),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"der_read", NULL, NULL, NULL, NULL, read_tests},
        {"der_write", NULL, NULL, NULL, NULL, write_tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
