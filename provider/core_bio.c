#include "provider/core_bio.h"

static OSSL_FUNC_BIO_read_ex_fn *bio_read;
static OSSL_FUNC_BIO_write_ex_fn *bio_write;

void hsm_core_bio_set(OSSL_FUNC_BIO_read_ex_fn *rd, OSSL_FUNC_BIO_write_ex_fn *wr)
{
    bio_read = rd;
    bio_write = wr;
}

bool hsm_core_bio_write_all(OSSL_CORE_BIO *out, const void *data, size_t len)
{
    size_t done = 0;

    return bio_write != NULL && (len == 0 || (bio_write(out, data, len, &done) && done == len));
}

bool hsm_core_bio_read_all(OSSL_CORE_BIO *in, unsigned char *buf, size_t size, size_t *len)
{
    size_t got;

    *len = 0;
    if (bio_read == NULL)
        return false;
    while (*len < size && bio_read(in, buf + *len, size - *len, &got) && got > 0)
        *len += got;
    return true;
}
