/* test_error.c - the class table: names, exit codes, lookups, and docs/exit-codes.md kept equal
 * to the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/error.h"

static void test_names_unique_and_roundtrip(void **state)
{
    (void)state;
    for (int i = 0; i < WSP_CLASS_COUNT; i++) {
        const char *n = wsp_class_name((wsp_class)i);
        assert_int_equal(wsp_class_from_name(n), i);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, wsp_class_name((wsp_class)j));
    }
    assert_int_equal(wsp_class_from_name("NOPE"), -1);
}

static void test_exit_codes_spec(void **state)
{
    (void)state;
    /* a few anchors from SPEC.md; the doc test below covers all of them */
    assert_int_equal(wsp_class_exit_code(WSP_CLASS_OK), 0);
    assert_int_equal(wsp_class_exit_code(WSP_CLASS_USAGE), 2);
    assert_int_equal(wsp_class_exit_code(WSP_CLASS_UPGRADE_AUTH), 44);
    assert_int_equal(wsp_class_exit_code(WSP_CLASS_WS_PONG_TIMEOUT), 85);
    assert_int_equal(wsp_class_exit_code(WSP_CLASS_WAIT_DEADLINE), 124);
    for (int i = 0; i < WSP_CLASS_COUNT; i++)
        for (int j = 0; j < i; j++)
            assert_int_not_equal(wsp_class_exit_code((wsp_class)i),
                                 wsp_class_exit_code((wsp_class)j));
}

static void test_err_set(void **state)
{
    (void)state;
    wsp_err e;
    wsp_err_clear(&e);
    assert_int_equal(wsp_err_set(&e, WSP_CLASS_TCP_REFUSED, "refused by %s", "127.0.0.1"), -1);
    assert_int_equal(e.cls, WSP_CLASS_TCP_REFUSED);
    assert_string_equal(e.msg, "refused by 127.0.0.1");
    assert_string_equal(e.hint, wsp_class_default_hint(WSP_CLASS_TCP_REFUSED));
    wsp_err_hint(&e, "try port %d", 8080);
    assert_string_equal(e.hint, "try port 8080");
    assert_int_equal(wsp_err_set(NULL, WSP_CLASS_INTERNAL, "x"), -1); /* NULL-safe */
}

/* Every row of docs/exit-codes.md's table is "| N | CLASS | when |", in code order, and there
 * is one per class: the doc cannot drift from the code. */
static void test_doc_matches_code(void **state)
{
    (void)state;
    FILE *f = fopen(WSP_TEST_DIR "/../../docs/exit-codes.md", "r");
    assert_non_null(f);
    char line[1024];
    int row = 0;
    while (fgets(line, sizeof line, f)) {
        int code;
        char name[64];
        if (sscanf(line, "| %d | %63[A-Z_0-9] |", &code, name) != 2)
            continue;
        assert_true(row < WSP_CLASS_COUNT);
        assert_string_equal(name, wsp_class_name((wsp_class)row));
        assert_int_equal(code, wsp_class_exit_code((wsp_class)row));
        char want[512];
        snprintf(want, sizeof want, "| %d | %s | %s |", code, name,
                 wsp_class_describe((wsp_class)row));
        assert_memory_equal(line, want, strlen(want));
        row++;
    }
    fclose(f);
    assert_int_equal(row, WSP_CLASS_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_unique_and_roundtrip),
        cmocka_unit_test(test_exit_codes_spec),
        cmocka_unit_test(test_err_set),
        cmocka_unit_test(test_doc_matches_code),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
