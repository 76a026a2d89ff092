/* test_files.c - the one whole-file reader (util/files.h): sizes, caps, pipes, FIFOs without a
 * writer, directories, @FILE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/files.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/wsp-files-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_reads_whole_file(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/a", dir);
    write_file(p, "hello\0world", 11);
    size_t n = 0;
    wsp_err e;
    char *s = wsp_file_read("--x", p, 64, 0, &n, &e);
    assert_non_null(s);
    assert_int_equal(n, 11);
    assert_memory_equal(s, "hello\0world", 12); /* NUL-terminated too */
    free(s);
    /* exactly at the cap is fine, one byte over is not */
    s = wsp_file_read("--x", p, 11, 0, &n, &e);
    assert_non_null(s);
    free(s);
    assert_null(wsp_file_read("--x", p, 10, WSP_FILE_SECRET, &n, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_non_null(strstr(e.msg, "--x "));
    assert_non_null(strstr(e.msg, "larger than 10 bytes"));
}

static void test_empty_and_missing(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/empty", dir);
    write_file(p, "", 0);
    size_t n = 7;
    wsp_err e;
    char *s = wsp_file_read(NULL, p, 64, 0, &n, &e);
    assert_non_null(s);
    assert_int_equal(n, 0);
    assert_string_equal(s, "");
    free(s);
    snprintf(p, sizeof p, "%s/none", dir);
    assert_null(wsp_file_read(NULL, p, 64, 0, &n, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_int_not_equal(e.sys_errno, 0);
    assert_null(wsp_file_read(NULL, dir, 64, 0, &n, &e));
    assert_non_null(strstr(e.msg, "directory"));
}

/* A device that never ends is held to the cap; a FIFO with no writer does not hang the open
 * and reads as empty. */
static void test_unbounded_sources(void **state)
{
    (void)state;
    size_t n = 0;
    wsp_err e;
    assert_null(wsp_file_read("--k", "/dev/zero", 100000, 0, &n, &e));
    assert_non_null(strstr(e.msg, "larger than"));
    char p[128];
    snprintf(p, sizeof p, "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    alarm(10); /* a hang is a failure, not a stuck test */
    char *s = wsp_file_read(NULL, p, 64, 0, &n, &e);
    alarm(0);
    assert_non_null(s);
    assert_int_equal(n, 0);
    free(s);
}

static void test_text_or_at(void **state)
{
    (void)state;
    char p[128], arg[140];
    snprintf(p, sizeof p, "%s/body", dir);
    write_file(p, "{\"a\":1}", 7);
    snprintf(arg, sizeof arg, "@%s", p);
    size_t n = 0;
    wsp_err e;
    char *s = wsp_file_text_or_at("--send", arg, 64, &n, &e);
    assert_non_null(s);
    assert_int_equal(n, 7);
    assert_string_equal(s, "{\"a\":1}");
    free(s);
    s = wsp_file_text_or_at("--send", "plain", 64, &n, &e);
    assert_string_equal(s, "plain");
    assert_int_equal(n, 5);
    free(s);
    assert_null(wsp_file_text_or_at("--send", "@/nonexistent/x", 64, &n, &e));
    assert_non_null(strstr(e.msg, "--send /nonexistent/x: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_whole_file),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_unbounded_sources),
        cmocka_unit_test(test_text_or_at),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
