/* test_redact.c - the one redactor (util/redact.h): one registry, one JWT rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "util/redact.h"

#define JWT "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnX2-x"

/* wsp_redact over an exact-size heap copy (ASan catches a read past the end). */
static char *red(const char *s)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    size_t out_len = 0;
    char *r = wsp_redact(copy, n, &out_len);
    assert_non_null(r);
    assert_int_equal(out_len, strlen(r));
    free(copy);
    return r;
}

static void expect(const char *in, const char *want)
{
    char *r = red(in);
    if (strcmp(r, want) != 0)
        fail_msg("redact(\"%s\")\n got  \"%s\"\n want \"%s\"", in, r, want);
    free(r);
}

static void test_jwt_rule(void **state)
{
    (void)state;
    wsp_redact_clear();
    expect("a " JWT " b", "a eyJ\xe2\x80\xa6[redacted] b");
    /* a token cut inside its header by a capped excerpt has no dot: still a token */
    expect("x eyJhbGciOiJIUzI1", "x eyJ\xe2\x80\xa6[redacted]");
    /* "eyJ" and fewer than 10 more characters is ordinary text */
    expect("eyJonly", "eyJonly");
    expect("eyJ123456789", "eyJ123456789");
    expect("eyJ1234567890", "eyJ\xe2\x80\xa6[redacted]");
    /* at most two dots belong to the token */
    expect(JWT ".next", "eyJ\xe2\x80\xa6[redacted].next");
    expect("", "");
}

static void test_registry(void **state)
{
    (void)state;
    wsp_redact_clear();
    const char secret[] = "tok-abc-123456";
    wsp_redact_register(secret, strlen(secret));
    expect("a tok-abc-123456 b", "a [redacted] b");
    /* a prefix of 12 bytes or more is the secret cut short */
    expect("tok-abc-1234|", "[redacted]|");
    expect("tok-abc-123|", "tok-abc-123|");
    /* four bytes are enough to be a secret; three are not */
    wsp_redact_register("abcd", 4);
    wsp_redact_register("xyz", 3);
    expect("abcd xyz", "[redacted] xyz");
    /* registered twice is kept once; clear forgets them all */
    wsp_redact_register(secret, strlen(secret));
    wsp_redact_clear();
    expect("a tok-abc-123456 abcd", "a tok-abc-123456 abcd");
}

static void test_buf_and_json(void **state)
{
    (void)state;
    wsp_redact_clear();
    wsp_redact_register("s3cr3t-value", 12);
    char buf[24];
    strcpy(buf, "k=s3cr3t-value;");
    wsp_redact_buf(buf, sizeof buf);
    assert_string_equal(buf, "k=[redacted];");
    /* the result is cut to the buffer, never past it */
    char small[8];
    strcpy(small, "s3cr3t");
    wsp_redact_register("s3cr3t", 6);
    wsp_redact_buf(small, sizeof small);
    assert_string_equal(small, "[redact");
    json_t *j = json_pack("{s:s,s:[s,{s:s}],s:i}", "msg", "tok s3cr3t-value", "list", JWT, "k",
                          "x s3cr3t-value", "n", 3);
    json_object_set_new(j, "s3cr3t-value", json_true()); /* keys too */
    wsp_redact_json(j);
    char *dump = json_dumps(j, JSON_SORT_KEYS);
    assert_null(strstr(dump, "s3cr3t"));
    assert_null(strstr(dump, "eyJhbGci"));
    assert_non_null(strstr(dump, "\"n\": 3"));
    free(dump);
    json_decref(j);
    wsp_redact_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_rule),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_buf_and_json),
    };
    return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
