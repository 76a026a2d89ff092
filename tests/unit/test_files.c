/* test_files.c - the one whole-file reader (util/files.h): sizes, caps, pipes, FIFOs without a
 * writer, directories, @FILE. */
#include <errno.h>
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

/* Only regular files: a device that never ends and a FIFO without a writer are refused at
 * once, with what they are (a FIFO used to hang the open). */
static void test_unbounded_sources(void **state)
{
    (void)state;
    size_t n = 0;
    wsp_err e;
    assert_null(wsp_file_read("--k", "/dev/zero", 100000, 0, &n, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_non_null(strstr(e.msg, "--k /dev/zero: is a device"));
    char p[128];
    snprintf(p, sizeof p, "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    alarm(10); /* a hang is a failure, not a stuck test */
    char *s = wsp_file_read(NULL, p, 64, 0, &n, &e);
    alarm(0);
    assert_null(s);
    assert_non_null(strstr(e.msg, "is a FIFO"));
    assert_int_equal(wsp_file_check("--cacert", p, &e), -1);
    assert_int_equal(wsp_file_check("--cacert", "-", &e), -1);
}

/* Symbolic links are followed to a regular file (secret mounts are links); a loop is an error
 * that names the path. */
static void test_links(void **state)
{
    (void)state;
    char target[128], link1[128], loop[128];
    snprintf(target, sizeof target, "%s/real", dir);
    snprintf(link1, sizeof link1, "%s/link", dir);
    snprintf(loop, sizeof loop, "%s/loop", dir);
    write_file(target, "k3y", 3);
    assert_int_equal(symlink(target, link1), 0);
    assert_int_equal(symlink(loop, loop), 0);
    size_t n = 0;
    wsp_err e;
    char *s = wsp_file_read("--k", link1, 64, 0, &n, &e);
    assert_non_null(s);
    assert_string_equal(s, "k3y");
    free(s);
    assert_null(wsp_file_read("--k", loop, 64, 0, &n, &e));
    assert_int_equal(e.sys_errno, ELOOP);
    assert_non_null(strstr(e.msg, "cannot open"));
    assert_int_equal(wsp_file_check("--cert", link1, &e), 0);
}

/* Writing: a regular file is replaced whole, through a link to its target (the link stays); a
 * device is written in place and stays a device; a FIFO without a reader fails at once. */
static void test_write(void **state)
{
    (void)state;
    char p[128], lnk[128], fifo[128];
    snprintf(p, sizeof p, "%s/out.json", dir);
    snprintf(lnk, sizeof lnk, "%s/out-link", dir);
    snprintf(fifo, sizeof fifo, "%s/out-fifo", dir);
    wsp_err e;
    assert_int_equal(wsp_file_write("--port-file", p, "{}", 2, &e), 0);
    assert_int_equal(symlink(p, lnk), 0);
    assert_int_equal(wsp_file_write("--port-file", lnk, "{\"a\":1}", 7, &e), 0);
    struct stat st;
    assert_int_equal(lstat(lnk, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    size_t n = 0;
    char *s = wsp_file_read(NULL, p, 64, 0, &n, &e);
    assert_string_equal(s, "{\"a\":1}");
    free(s);
    assert_int_equal(wsp_file_write("--port-file", "/dev/null", "{}", 2, &e), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(wsp_file_write("--port-file", "/dev/full", "{}", 2, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_OUTPUT_FAILED);
    assert_int_equal(e.sys_errno, ENOSPC);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(10);
    assert_int_equal(wsp_file_write("--port-file", fifo, "{}", 2, &e), -1);
    alarm(0);
    assert_int_equal(e.sys_errno, ENXIO);
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(wsp_file_write("--port-file", dir, "{}", 2, &e), -1);
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
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
