/*
 * The audit log's line format: one flat JSON object per line whose values
 * are strings, non-negative integers or arrays of strings, written with no
 * white space. The writer and the strict reader live together so that what
 * one writes the other accepts, byte for byte.
 */
#ifndef HSM_CACHE_AUDIT_JSON_H
#define HSM_CACHE_AUDIT_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Members written one after the other ("a":1,"b":"x"); |failed| once an
 * allocation failed, after which nothing more is added. */
struct hsm_json {
    char *buf;
    size_t len, cap;
    bool failed;
};

void hsm_json_free(struct hsm_json *j);
void hsm_json_raw(struct hsm_json *j, const char *text, size_t len);
/* "name":"value", escaped; bytes that are not UTF-8 become U+FFFD. */
void hsm_json_string(struct hsm_json *j, const char *name, const char *value);
void hsm_json_string_n(struct hsm_json *j, const char *name, const char *value, size_t len);
void hsm_json_uint(struct hsm_json *j, const char *name, unsigned long long value);
void hsm_json_strings(struct hsm_json *j, const char *name, char *const *values, size_t n);
/* "name":"<lowercase hex of the bytes>" */
void hsm_json_hex(struct hsm_json *j, const char *name, const unsigned char *bytes, size_t n);

enum hsm_json_kind { HSM_JSON_STRING, HSM_JSON_UINT, HSM_JSON_STRINGS };

struct hsm_json_member {
    char *name;
    enum hsm_json_kind kind;
    char *text;           /* STRING: decoded value */
    unsigned long long u; /* UINT */
    char **items;         /* STRINGS: decoded values */
    size_t n_items;
};

struct hsm_json_object {
    struct hsm_json_member *m;
    size_t n;
};

/*
 * Parses one line (without its newline) strictly: no white space, no
 * duplicate names, valid UTF-8, no NUL, integers without sign or leading
 * zeros. On failure |why| says what is wrong and where.
 */
bool hsm_json_parse(const char *line, size_t len, struct hsm_json_object *out, char *why,
                    size_t whylen);
void hsm_json_object_clear(struct hsm_json_object *o);

const struct hsm_json_member *hsm_json_find(const struct hsm_json_object *o, const char *name);
/* The string value of |name|, or NULL when absent or not a string. */
const char *hsm_json_get(const struct hsm_json_object *o, const char *name);
bool hsm_json_get_uint(const struct hsm_json_object *o, const char *name, unsigned long long *out);

#endif
