/* test_jsonptr.c - RFC 6901 JSON Pointer: the whole example table of section 5 (both its JSON
 * string form and its URI fragment form, the latter percent-decoded here as section 6 says),
 * the ~0/~1 escapes and their order, invalid escapes, array indices (leading zeros, "-", out of
 * range, numbers past 64 bits), and wsp_jsonptr_valid. Every pointer is an exact-size heap copy
 * so ASan reports a read past its NUL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "codec/jsonptr.h"

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test document: %s", e.text);
    return j;
}

static char *exact(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static json_t *get(json_t *root, const char *ptr)
{
    char *p = exact(ptr);
    json_t *r = wsp_jsonptr_get(root, p);
    free(p);
    return r;
}

static int valid(const char *ptr)
{
    char *p = exact(ptr);
    int r = wsp_jsonptr_valid(p);
    free(p);
    return r;
}

/* The pointer names exactly the value `want` (JSON text) in doc. */
static void expect(json_t *doc, const char *ptr, const char *want)
{
    json_t *got = get(doc, ptr);
    if (!got)
        fail_msg("'%s' names nothing, want %s", ptr, want);
    json_t *w = load(want);
    if (!json_equal(got, w)) {
        char *s = json_dumps(got, JSON_ENCODE_ANY);
        fail_msg("'%s' is %s, want %s", ptr, s ? s : "?", want);
    }
    json_decref(w);
}

static void expect_none(json_t *doc, const char *ptr)
{
    json_t *got = get(doc, ptr);
    if (got) {
        char *s = json_dumps(got, JSON_ENCODE_ANY);
        fail_msg("'%s' names %s, want nothing", ptr, s ? s : "?");
    }
}

/* ---- RFC 6901 section 5 ---- */

static const char rfc_doc[] = "{\n"
                              "  \"foo\": [\"bar\", \"baz\"],\n"
                              "  \"\": 0,\n"
                              "  \"a/b\": 1,\n"
                              "  \"c%d\": 2,\n"
                              "  \"e^f\": 3,\n"
                              "  \"g|h\": 4,\n"
                              "  \"i\\\\j\": 5,\n"
                              "  \"k\\\"l\": 6,\n"
                              "  \" \": 7,\n"
                              "  \"m~n\": 8\n"
                              "}";

/* The table in its JSON string representation; the pointers below are the C spelling of the
 * decoded strings ("/i\\j" in JSON is the pointer /i\j). */
static const struct {
    const char *ptr, *value;
} rfc_table[] = {
    {"/foo", "[\"bar\", \"baz\"]"},
    {"/foo/0", "\"bar\""},
    {"/", "0"},
    {"/a~1b", "1"},
    {"/c%d", "2"},
    {"/e^f", "3"},
    {"/g|h", "4"},
    {"/i\\j", "5"},
    {"/k\"l", "6"},
    {"/ ", "7"},
    {"/m~0n", "8"},
};

/* The same table in its URI fragment identifier representation (section 6). */
static const struct {
    const char *fragment, *value;
} rfc_fragments[] = {
    {"#/foo", "[\"bar\", \"baz\"]"},
    {"#/foo/0", "\"bar\""},
    {"#/", "0"},
    {"#/a~1b", "1"},
    {"#/c%25d", "2"},
    {"#/e%5Ef", "3"},
    {"#/g%7Ch", "4"},
    {"#/i%5Cj", "5"},
    {"#/k%22l", "6"},
    {"#/%20", "7"},
    {"#/m~0n", "8"},
};

static void test_rfc_string_table(void **state)
{
    (void)state;
    json_t *doc = load(rfc_doc);
    /* "" is the whole document, the very object */
    assert_ptr_equal(get(doc, ""), doc);
    for (size_t i = 0; i < sizeof rfc_table / sizeof rfc_table[0]; i++) {
        assert_true(valid(rfc_table[i].ptr));
        expect(doc, rfc_table[i].ptr, rfc_table[i].value);
    }
    /* a borrowed reference into the document, not a copy */
    assert_ptr_equal(get(doc, "/foo"), json_object_get(doc, "foo"));
    assert_ptr_equal(get(doc, "/foo/1"), json_array_get(json_object_get(doc, "foo"), 1));
    expect(doc, "/foo/1", "\"baz\"");
    json_decref(doc);
}

/* Section 6: a fragment is percent-decoded (RFC 3986) into the pointer; the module takes
 * pointers, so the '#' form itself is not one. */
static char *fragment_to_pointer(const char *f)
{
    assert_int_equal(f[0], '#');
    char *out = malloc(strlen(f));
    assert_non_null(out);
    size_t o = 0;
    for (const char *p = f + 1; *p; p++) {
        unsigned v;
        if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            p += 2;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

static void test_rfc_fragment_table(void **state)
{
    (void)state;
    json_t *doc = load(rfc_doc);
    char *whole = fragment_to_pointer("#");
    assert_ptr_equal(get(doc, whole), doc);
    free(whole);
    for (size_t i = 0; i < sizeof rfc_fragments / sizeof rfc_fragments[0]; i++) {
        char *ptr = fragment_to_pointer(rfc_fragments[i].fragment);
        assert_string_equal(ptr, rfc_table[i].ptr); /* the two tables say the same */
        expect(doc, ptr, rfc_fragments[i].value);
        free(ptr);
        /* undecoded, a fragment is not a pointer */
        assert_false(valid(rfc_fragments[i].fragment));
        assert_null(get(doc, rfc_fragments[i].fragment));
    }
    assert_false(valid("#"));
    json_decref(doc);
}

/* ---- escapes ---- */

static void test_escapes(void **state)
{
    (void)state;
    json_t *doc = load("{\"~1\": 10, \"/\": 11, \"~\": 12, \"~0\": 13, \"a~b/c\": 14,"
                       " \"//\": 15, \"~~\": 16, \"a/b\": {\"c~d\": 17}, \"1\": 18}");
    /* section 4: ~1 is decoded before ~0, so ~01 is "~1", never "/" */
    expect(doc, "/~01", "10");
    expect(doc, "/~1", "11");
    expect(doc, "/~0", "12");
    expect(doc, "/~00", "13");
    expect(doc, "/a~0b~1c", "14");
    expect(doc, "/~1~1", "15");
    expect(doc, "/~0~0", "16");
    expect(doc, "/a~1b/c~0d", "17");
    /* an escape is not its literal: "/a/b" walks two levels, "~1" is not the key "1" */
    expect_none(doc, "/a/b");
    expect(doc, "/1", "18");
    expect_none(doc, "/~1/");
    json_decref(doc);
}

static const char *const invalid[] = {
    "/~2",   "/~",   "/a~",    "/~a", "/~/",     "/a~/b", "/~~", "/~-1", "/~10~",  "/~ ", "/x/~9",
    "/~1~2", "/~0~", "/a/b~c", "foo", "foo/bar", "#/foo", " /",  "~0",   "\\/foo", "0",   "-",
};

static void test_invalid_pointers(void **state)
{
    (void)state;
    /* a document where a lax decoder would find something for each */
    json_t *doc = load("{\"~2\": 1, \"~\": 2, \"a~\": 3, \"~a\": 4, \"\": {\"\": 5}, \"foo\": 6,"
                       " \"~~\": 7, \"a\": {\"b~c\": 8}, \"~ \": 9, \"x\": {\"~9\": 10}}");
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        if (valid(invalid[i]))
            fail_msg("'%s' is valid", invalid[i]);
        expect_none(doc, invalid[i]);
    }
    assert_false(wsp_jsonptr_valid(NULL));
    assert_null(wsp_jsonptr_get(doc, NULL));
    assert_null(wsp_jsonptr_get(NULL, ""));
    assert_null(wsp_jsonptr_get(NULL, "/foo"));
    json_decref(doc);
}

static void test_valid_pointers(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "",   "/",  "//", "/foo",      "/foo/0", "/~0",      "/~1",    "/~01",    "/~0~1", "/a~1b",
        "/-", "/ ", "/%", "/\xc3\xa9", "/a/b/c", "/0/00/-1", "/~1~0/", "/foo//0", "/\t",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!valid(ok[i]))
            fail_msg("'%s' is invalid", ok[i]);
}

/* ---- arrays ---- */

static void test_array_indices(void **state)
{
    (void)state;
    json_t *doc = load("{\"a\": [10, 20, 30], \"e\": [], \"n\": [[1, [2]]],"
                       " \"o\": {\"0\": \"zero\", \"01\": \"oh-one\", \"-\": \"dash\","
                       " \"-1\": \"minus\", \"18446744073709551616\": \"big\"}}");
    expect(doc, "/a/0", "10");
    expect(doc, "/a/1", "20");
    expect(doc, "/a/2", "30");
    expect(doc, "/n/0/1/0", "2");
    /* out of range, and "-" (the element after the last: nothing to get) */
    expect_none(doc, "/a/3");
    expect_none(doc, "/a/-");
    expect_none(doc, "/e/0");
    expect_none(doc, "/e/-");
    /* section 4: "0" or digits without a leading zero */
    expect_none(doc, "/a/01");
    expect_none(doc, "/a/00");
    expect_none(doc, "/a/000");
    expect_none(doc, "/a/-1");
    expect_none(doc, "/a/-0");
    expect_none(doc, "/a/+1");
    expect_none(doc, "/a/1a");
    expect_none(doc, "/a/a1");
    expect_none(doc, "/a/ 1");
    expect_none(doc, "/a/1 ");
    expect_none(doc, "/a/1.0");
    expect_none(doc, "/a/0x1");
    expect_none(doc, "/a/1e0");
    expect_none(doc, "/a/");
    expect_none(doc, "/a/~01");
    /* huge numbers must not wrap onto a real index */
    expect_none(doc, "/a/4294967296");           /* 2^32 */
    expect_none(doc, "/a/4294967297");           /* 2^32 + 1 */
    expect_none(doc, "/a/9223372036854775808");  /* 2^63 */
    expect_none(doc, "/a/18446744073709551616"); /* 2^64 */
    expect_none(doc, "/a/18446744073709551617"); /* 2^64 + 1 */
    expect_none(doc, "/a/36893488147419103232"); /* 2^65 */
    expect_none(doc, "/a/99999999999999999999999999999999999999");
    expect_none(doc, "/a/999999999999999999");
    /* on an object the same tokens are plain keys */
    expect(doc, "/o/0", "\"zero\"");
    expect(doc, "/o/01", "\"oh-one\"");
    expect(doc, "/o/-", "\"dash\"");
    expect(doc, "/o/-1", "\"minus\"");
    expect(doc, "/o/18446744073709551616", "\"big\"");
    expect_none(doc, "/o/1");
    json_decref(doc);
}

/* ---- walking ---- */

static void test_walk(void **state)
{
    (void)state;
    json_t *doc = load("{\"foo\": \"bar\", \"n\": null, \"t\": true, \"x\": {\"y\": {\"z\": [0]}},"
                       " \"\": {\"\": {\"\": \"deep\"}}, \"Foo\": 1}");
    expect(doc, "/n", "null");
    expect(doc, "/t", "true");
    expect(doc, "/x/y/z/0", "0");
    expect(doc, "/x/y", "{\"z\": [0]}");
    expect(doc, "//", "{\"\": \"deep\"}");
    expect(doc, "///", "\"deep\"");
    expect(doc, "/Foo", "1");
    expect_none(doc, "/FOO"); /* keys are case-sensitive */
    expect_none(doc, "/nope");
    expect_none(doc, "/foo/0"); /* into a string */
    expect_none(doc, "/foo/");  /* into a string */
    expect_none(doc, "/n/0");   /* into null */
    expect_none(doc, "/t/x");   /* into true */
    expect_none(doc, "/x/y/z/0/0");
    expect_none(doc, "/x/y/q");
    expect_none(doc, "////");
    expect_none(doc, "/x/");
    json_decref(doc);
    /* a scalar root: the whole of it, and nothing below */
    json_t *five = json_integer(5);
    assert_ptr_equal(get(five, ""), five);
    expect_none(five, "/");
    expect_none(five, "/0");
    json_decref(five);
    json_t *arr = load("[\"a\", {\"b\": 2}]");
    expect(arr, "/0", "\"a\"");
    expect(arr, "/1/b", "2");
    expect_none(arr, "/b");
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_string_table),
        cmocka_unit_test(test_rfc_fragment_table),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_invalid_pointers),
        cmocka_unit_test(test_valid_pointers),
        cmocka_unit_test(test_array_indices),
        cmocka_unit_test(test_walk),
    };
    return cmocka_run_group_tests_name("jsonptr", tests, NULL, NULL);
}
