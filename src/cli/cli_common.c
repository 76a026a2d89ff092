/* cli_common.c - helpers shared by the commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int wsp_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "wsprobe: %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

bool wsp_cli_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && nc[0])
        return false;
    return isatty(fileno(f)) == 1;
}

char *wsp_cli_read_file(const char *path, size_t max, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr || len > max) {
        free(buf);
        errno = rerr ? EIO : EFBIG;
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

char *wsp_cli_text_or_file(const char *cmd, const char *opt, const char *arg, size_t *len_out)
{
    if (arg[0] == '@') {
        size_t len = 0;
        char *s = wsp_cli_read_file(arg + 1, 16u << 20, &len);
        if (!s) {
            char eb[128];
            strerror_r(errno, eb, sizeof eb);
            wsp_cli_usage_error(cmd, "%s: cannot read %s: %s", opt, arg + 1, eb);
            return NULL;
        }
        if (len_out)
            *len_out = len;
        return s;
    }
    char *s = strdup(arg);
    if (s && len_out)
        *len_out = strlen(s);
    return s;
}
