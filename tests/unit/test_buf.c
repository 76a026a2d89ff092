/* test_buf.c - the one growable buffer (util/buf.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"

static void test_grows_and_terminates(void **state)
{
    (void)state;
    wsp_buf b = WSP_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(wsp_buf_put(&b, "ab", 2), 0);
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.p[2000], '\0');
    assert_int_equal(wsp_buf_printf(&b, "-%d-%s", 42, "x"), 0);
    assert_string_equal(b.p + 2000, "-42-x");
    assert_int_equal(wsp_buf_put(&b, NULL, 0), 0);
    size_t n = 0;
    char *s = wsp_buf_take(&b, &n);
    assert_non_null(s);
    assert_int_equal(n, 2005);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    free(s);
    /* an empty buffer is an empty string, not NULL */
    s = wsp_buf_take(&b, &n);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    free(s);
}

static void test_cap_fails_and_stays_failed(void **state)
{
    (void)state;
    wsp_buf b = WSP_BUF_INIT;
    b.max = 8;
    assert_int_equal(wsp_buf_puts(&b, "12345678"), 0);
    assert_int_equal(wsp_buf_puts(&b, "9"), -1);
    assert_true(b.failed);
    assert_int_equal(wsp_buf_puts(&b, ""), -1); /* failed once, failed for good */
    assert_null(wsp_buf_take(&b, NULL));
    assert_null(b.p);
    assert_int_equal(b.max, 8);
}

static void test_clear_keeps_memory(void **state)
{
    (void)state;
    wsp_buf b = WSP_BUF_INIT;
    wsp_buf_puts(&b, "hello");
    char *p = b.p;
    wsp_buf_clear(&b);
    assert_ptr_equal(b.p, p);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    wsp_buf_free(&b);
    assert_null(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_terminates),
        cmocka_unit_test(test_cap_fails_and_stays_failed),
        cmocka_unit_test(test_clear_keeps_memory),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
