/* files.c - see files.h. */
#include "util/files.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static void drop(char *buf, size_t len, unsigned flags)
{
    if (buf && (flags & WSP_FILE_SECRET))
        OPENSSL_cleanse(buf, len);
    free(buf);
}

static char *fail(int fd, char *buf, size_t len, unsigned flags, wsp_err *err, wsp_class cls,
                  int sys, const char *what, const char *path, const char *why)
{
    if (fd >= 0)
        close(fd);
    drop(buf, len, flags);
    char eb[128] = "";
    if (sys)
        strerror_r(sys, eb, sizeof eb);
    wsp_err_set(err, cls, "%s%s%.200s: %s%s", what ? what : "", what ? " " : "", path, why, eb);
    if (err)
        err->sys_errno = sys;
    errno = sys ? sys : EINVAL;
    return NULL;
}

static const char *too_large(size_t max)
{
    static _Thread_local char why[64];
    snprintf(why, sizeof why, "larger than %zu bytes", max);
    return why;
}

static bool stdin_taken;

int wsp_file_open(const char *what, const char *path, struct stat *st, wsp_err *err)
{
    struct stat local;
    if (!st)
        st = &local;
    if (strcmp(path, "-") == 0) {
        if (stdin_taken) {
            fail(-1, NULL, 0, 0, err, WSP_CLASS_USAGE, 0, what, path,
                 "standard input was already read for another option");
            return -1;
        }
        stdin_taken = true;
        if (fstat(STDIN_FILENO, st) != 0) {
            fail(-1, NULL, 0, 0, err, WSP_CLASS_USAGE, errno, what, path, "cannot read: ");
            return -1;
        }
        return STDIN_FILENO;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        fail(-1, NULL, 0, 0, err, WSP_CLASS_USAGE, errno, what, path, "cannot open: ");
        return -1;
    }
    if (fstat(fd, st) != 0) {
        fail(fd, NULL, 0, 0, err, WSP_CLASS_USAGE, errno, what, path, "cannot read: ");
        return -1;
    }
    const char *why = S_ISREG(st->st_mode)    ? NULL
                      : S_ISDIR(st->st_mode)  ? "is a directory"
                      : S_ISFIFO(st->st_mode) ? "is a FIFO or pipe, not a regular file (give - "
                                                "to read standard input)"
                      : S_ISSOCK(st->st_mode) ? "is a socket, not a regular file"
                                              : "is a device, not a regular file";
    if (why) {
        fail(fd, NULL, 0, 0, err, WSP_CLASS_USAGE, 0, what, path, why);
        return -1;
    }
    /* the open did not wait for a writer; the reads may */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        fail(fd, NULL, 0, 0, err, WSP_CLASS_USAGE, errno, what, path, "cannot read: ");
        return -1;
    }
    return fd;
}

int wsp_file_check(const char *what, const char *path, wsp_err *err)
{
    if (strcmp(path, "-") == 0) {
        fail(-1, NULL, 0, 0, err, WSP_CLASS_USAGE, 0, what, path,
             "standard input is not accepted here: give a file");
        return -1;
    }
    int fd = wsp_file_open(what, path, NULL, err);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

char *wsp_file_read(const char *what, const char *path, size_t max, unsigned flags, size_t *len_out,
                    wsp_err *err)
{
    struct stat st;
    int fd = wsp_file_open(what, path, &st, err);
    if (fd < 0)
        return NULL;
    if (fd == STDIN_FILENO)
        fd = dup(STDIN_FILENO); /* closed below like any other */
    if (fd < 0)
        return fail(-1, NULL, 0, flags, err, WSP_CLASS_USAGE, errno, what, path, "cannot read: ");
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
        return fail(fd, NULL, 0, flags, err, WSP_CLASS_USAGE, 0, what, path, too_large(max));
    size_t cap = (S_ISREG(st.st_mode) ? (size_t)st.st_size : 4095) + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return fail(fd, NULL, 0, flags, err, WSP_CLASS_INTERNAL, 0, what, path, "out of memory");
    for (;;) {
        if (len + 1 >= cap) {
            /* Full: room for max + 1 bytes of data means more than max were read (a pipe, or
             * a file that grew since fstat). */
            if (cap >= max + 2)
                return fail(fd, buf, len, flags, err, WSP_CLASS_USAGE, 0, what, path,
                            too_large(max));
            size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            char *nb = malloc(ncap);
            if (!nb)
                return fail(fd, buf, len, flags, err, WSP_CLASS_INTERNAL, 0, what, path,
                            "out of memory");
            memcpy(nb, buf, len);
            drop(buf, len, flags);
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(fd, buf, len, flags, err, WSP_CLASS_USAGE, errno, what, path,
                        "cannot read: ");
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

char *wsp_file_text_or_at(const char *what, const char *arg, size_t max, size_t *len_out,
                          wsp_err *err)
{
    if (arg[0] == '@')
        return wsp_file_read(what, arg + 1, max, 0, len_out, err);
    char *s = strdup(arg);
    if (!s) {
        wsp_err_set(err, WSP_CLASS_INTERNAL, "%s: out of memory", what ? what : "text");
        return NULL;
    }
    if (len_out)
        *len_out = strlen(s);
    return s;
}

/* Write all of it; -1 with errno on a failed write. */
static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_failed(wsp_err *err, const char *what, const char *path, int sys)
{
    char eb[128] = "";
    strerror_r(sys, eb, sizeof eb);
    wsp_err_set(err, WSP_CLASS_OUTPUT_FAILED, "%s%s%.200s: cannot write: %s", what ? what : "",
                what ? " " : "", path, eb);
    if (err)
        err->sys_errno = sys;
    return -1;
}

int wsp_file_write(const char *what, const char *path, const void *data, size_t len, wsp_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            return write_failed(err, what, path, EISDIR);
        /* A device or FIFO: in place, never replaced (as root, renaming over /dev/null would
         * break the host). A FIFO without a reader fails at once (ENXIO), it does not hang. */
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            return write_failed(err, what, path, errno);
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 || write_all(fd, data, len) != 0) {
            int e = errno;
            close(fd);
            return write_failed(err, what, path, e);
        }
        if (close(fd) != 0)
            return write_failed(err, what, path, errno);
        return 0;
    }
    /* A regular file (through its links) or a new one: a temporary file beside the target,
     * renamed over it. */
    char target[4096];
    char *real = realpath(path, NULL);
    int n = snprintf(target, sizeof target, "%s", real ? real : path);
    free(real);
    char tmp[4200];
    int m = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", target, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof target || m < 0 || (size_t)m >= sizeof tmp)
        return write_failed(err, what, path, ENAMETOOLONG);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return write_failed(err, what, path, errno);
    int e = 0;
    if (write_all(fd, data, len) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, target) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return write_failed(err, what, path, e);
    }
    return 0;
}
