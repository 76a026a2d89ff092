/* cli_common.c - helpers shared by the commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/redact.h"
#include "util/buf.h"
#include "util/files.h"
#include "args.h"
#include "report/html.h"
#include "report/report.h"

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

int wsp_cli_json_write(const char *cmd, json_t *report, const char *path)
{
    if (wsp_report_json_write(report, cmd, path) == 0)
        return 0;
    char eb[128];
    strerror_r(errno, eb, sizeof eb);
    fprintf(stderr, "wsprobe: %s: OUTPUT_FAILED: cannot write the JSON report%s%s: %s\n", cmd,
            path ? " to " : "", path ? path : "", eb);
    return -1;
}

int wsp_cli_report(const char *cmd, json_t *report, const wsp_cli_out *out)
{
    int rc = 0;
    if (out->html_file) {
        /* the same document (redacting it here is what writing the JSON does too) */
        json_t *e = wsp_report_envelope(json_incref(report), cmd);
        wsp_err err;
        wsp_err_clear(&err);
        if (e)
            wsp_redact_json(e);
        if (!e || wsp_html_write_file(out->html_file, e, &err) != 0) {
            fprintf(stderr, "wsprobe: %s: OUTPUT_FAILED: cannot write the HTML report: %s\n", cmd,
                    e ? err.msg : "out of memory");
            rc = -1;
        }
        json_decref(e);
    }
    if (out->json) {
        if (wsp_cli_json_write(cmd, report, out->json_file) != 0)
            rc = -1;
    } else {
        json_decref(report);
    }
    return rc;
}

bool wsp_cli_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && nc[0])
        return false;
    return isatty(fileno(f)) == 1;
}

char *wsp_cli_text_or_file(const char *cmd, const char *opt, const char *arg, size_t *len_out)
{
    wsp_err e;
    char *s = wsp_file_text_or_at(opt, arg, 16u << 20, len_out, &e);
    if (!s)
        wsp_cli_usage_error(cmd, "%s", e.msg);
    return s;
}

bool wsp_cli_secret_option(const char *name, size_t len)
{
    static const char *const names[] = {"--jwt-secret", "--secret", "--token", "--password",
                                        "--jwt-key"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && strncmp(name, names[i], len) == 0)
            return true;
    return false;
}

void wsp_cli_say(FILE *f, const char *fmt, ...)
{
    wsp_buf b = WSP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    wsp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    size_t n = 0;
    char *text = wsp_buf_take(&b, &n);
    char *clean = text ? wsp_redact(text, n, &n) : NULL;
    if (clean)
        fwrite(clean, 1, n, f);
    free(clean);
    free(text);
}
