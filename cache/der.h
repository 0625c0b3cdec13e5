/*
 * The project's one DER reader and writer: just what SubjectPublicKeyInfo,
 * certificates, CKA_EC_POINT and key reference files need. Single-byte
 * tags, definite lengths in their minimal form (X.690 10.1), and no read
 * ever reaches past the element that encloses it. Pure functions: no
 * token, no OpenSSL.
 */
#ifndef HSM_CACHE_DER_H
#define HSM_CACHE_DER_H

#include <stdbool.h>
#include <stddef.h>

/* A window on DER bytes; every read stays inside it. */
struct hsm_der {
    const unsigned char *p;   /* the next byte to read */
    const unsigned char *end; /* the end of the enclosing element */
};

/* A reader over |len| bytes at |p|. */
struct hsm_der hsm_der_reader(const unsigned char *p, size_t len);

/*
 * Reads the next element if its tag is |tag|: |*content| (may be NULL)
 * becomes a reader over its contents and |d| moves past it. False, with
 * |d| unchanged, when the tag differs, the header is malformed (a
 * multi-byte tag, an indefinite or non-minimal length, more than four
 * length bytes) or the length reaches past |d|'s end.
 */
bool hsm_der_read(struct hsm_der *d, unsigned char tag, struct hsm_der *content);

/* The same for whatever tag comes next, which is put in |*tag|. */
bool hsm_der_read_any(struct hsm_der *d, unsigned char *tag, struct hsm_der *content);

/* Reads one element with tag |tag| and gives the whole of it, header
 * included: for handing a SubjectPublicKeyInfo inside a certificate on. */
bool hsm_der_read_element(struct hsm_der *d, unsigned char tag, const unsigned char **start,
                          size_t *len);

/* Whether the next element has tag |tag| (nothing is read). */
bool hsm_der_peek(const struct hsm_der *d, unsigned char tag);

/* Bytes left in the window; a content reader's length is this. */
size_t hsm_der_left(const struct hsm_der *d);

/* A growing buffer of DER; the first failure (no memory, a length too
 * large) sticks and makes hsm_der_out_take fail. */
struct hsm_der_out {
    unsigned char *p;
    size_t len;
    bool failed;
};

/* Appends bytes as they are. */
void hsm_der_put_raw(struct hsm_der_out *o, const void *bytes, size_t len);

/* Appends a tag and the minimal definite form of |len|. */
void hsm_der_put_header(struct hsm_der_out *o, unsigned char tag, size_t len);

/* Appends a whole element: header, then |len| bytes of contents. */
void hsm_der_put(struct hsm_der_out *o, unsigned char tag, const void *contents, size_t len);

/* Appends an element whose contents are |inner|'s bytes, and frees |inner|
 * (a failure in it becomes |o|'s). */
void hsm_der_put_out(struct hsm_der_out *o, unsigned char tag, struct hsm_der_out *inner);

/* Appends a non-negative INTEGER from an unsigned big-endian value:
 * leading zero bytes dropped, one added where the top bit is set; an empty
 * value is 0. */
void hsm_der_put_uint(struct hsm_der_out *o, const unsigned char *be, size_t len);

/* Hands the bytes over (free() them), or frees them and returns false
 * after any failure. */
bool hsm_der_out_take(struct hsm_der_out *o, unsigned char **der, size_t *len);

void hsm_der_out_free(struct hsm_der_out *o);

/* Bytes a header takes for contents of |len| bytes. */
size_t hsm_der_header_size(size_t len);

#endif
