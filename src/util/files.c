/* files.c - see files.h. */
#include "util/files.h"

#include <errno.h>
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

char *wsp_file_read(const char *what, const char *path, size_t max, unsigned flags, size_t *len_out,
                    wsp_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return fail(-1, NULL, 0, flags, err, WSP_CLASS_USAGE, errno, what, path, "cannot open: ");
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail(fd, NULL, 0, flags, err, WSP_CLASS_USAGE, errno, what, path, "cannot read: ");
    if (S_ISDIR(st.st_mode))
        return fail(fd, NULL, 0, flags, err, WSP_CLASS_USAGE, 0, what, path, "is a directory");
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
        return fail(fd, NULL, 0, flags, err, WSP_CLASS_USAGE, 0, what, path, too_large(max));
    /* the open did not wait for a writer; the reads may */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        return fail(fd, NULL, 0, flags, err, WSP_CLASS_USAGE, errno, what, path, "cannot read: ");
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
