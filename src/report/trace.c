/* trace.c - see trace.h. */
#include "report/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "codec/utf8.h"
#include "codec/ws.h"
#include "report/report.h"
#include "util/excerpt.h"
#include "util/redact.h"

#define TRACE_EXCERPT 64

static struct {
    pthread_mutex_t lock;
    FILE *f;
    char path[512];
    int write_errno; /* the first failed write's errno, 0 when none */
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *opcode_name(unsigned op)
{
    switch (op) {
    case WSP_WS_OP_CONT:
        return "continuation";
    case WSP_WS_OP_TEXT:
        return "text";
    case WSP_WS_OP_BINARY:
        return "binary";
    case WSP_WS_OP_CLOSE:
        return "close";
    case WSP_WS_OP_PING:
        return "ping";
    case WSP_WS_OP_PONG:
        return "pong";
    default:
        return "reserved";
    }
}

/* Write one line (the object is consumed), redacted as every report is. */
static void emit(json_t *o, uint64_t conn, uint64_t t_ns, bool outgoing)
{
    if (!o)
        return;
    json_object_set_new(o, "conn", json_integer((json_int_t)conn));
    json_object_set_new(o, "ms", json_real((double)(t_ns / 1000) / 1000.0));
    json_object_set_new(o, "dir", json_string(outgoing ? "out" : "in"));
    wsp_redact_json(o);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(o);
    pthread_mutex_lock(&T.lock);
    if (T.f && line) {
        if (fputs(line, T.f) == EOF || fputc('\n', T.f) == EOF) {
            if (!T.write_errno)
                T.write_errno = errno ? errno : EIO;
        }
    } else if (T.f && !T.write_errno) {
        T.write_errno = ENOMEM;
    }
    pthread_mutex_unlock(&T.lock);
    free(line);
}

static void on_head(void *ud, uint64_t conn, uint64_t t_ns, bool outgoing, const char *data,
                    size_t len)
{
    (void)ud;
    size_t cap = len * 2 + 64;
    char *red = malloc(cap);
    if (!red)
        return;
    wsp_report_redact_head(data, len, red, cap);
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string("http"));
    json_t *h = json_string(red);
    if (!h) { /* not UTF-8: the head escaped, as excerpts are */
        size_t ecap = strlen(red) * 4 + 8;
        char *ex = malloc(ecap);
        if (ex) {
            wsp_excerpt(ex, ecap, red, strlen(red));
            h = json_string(ex);
            free(ex);
        }
    }
    json_object_set_new(o, "head", h ? h : json_null());
    free(red);
    emit(o, conn, t_ns, outgoing);
}

static void on_event(void *ud, uint64_t conn, uint64_t t_ns, const wsp_conn_trace_event *ev)
{
    (void)ud;
    json_t *o = json_object();
    static const char *const kinds[] = {"frame", "message", "raw"};
    json_object_set_new(o, "kind", json_string(kinds[ev->kind]));
    if (ev->kind != WSP_TRACE_RAW) {
        json_object_set_new(o, "opcode", json_string(opcode_name(ev->opcode)));
        if (ev->kind == WSP_TRACE_FRAME) {
            json_object_set_new(o, "fin", json_boolean(ev->fin));
            json_object_set_new(o, "rsv1", json_boolean(ev->rsv1));
            json_object_set_new(o, "masked", json_boolean(ev->masked));
        } else {
            json_object_set_new(o, "frames", json_integer(ev->frames));
            json_object_set_new(o, "compressed", json_boolean(ev->compressed));
            if (ev->opcode == WSP_WS_OP_CLOSE)
                json_object_set_new(o, "close_code",
                                    ev->close_code >= 0 ? json_integer(ev->close_code)
                                                        : json_null());
        }
    }
    json_object_set_new(o, "length", json_integer((json_int_t)ev->length));
    if (ev->data) {
        size_t n = ev->data_len < TRACE_EXCERPT ? ev->data_len : TRACE_EXCERPT;
        /* text when it is UTF-8 (a cut multi-byte character at the end is allowed) */
        size_t valid = n;
        while (valid > 0 && valid > n - 4 && !wsp_utf8_valid(ev->data, valid))
            valid--;
        bool text = ev->opcode != WSP_WS_OP_BINARY && ev->kind != WSP_TRACE_RAW && !ev->rsv1 &&
                    wsp_utf8_valid(ev->data, valid) && memchr(ev->data, 0, n) == NULL;
        if (text) {
            json_object_set_new(o, "text", json_stringn((const char *)ev->data, valid));
        } else {
            static const char digits[] = "0123456789abcdef";
            char hex[2 * TRACE_EXCERPT + 1];
            const uint8_t *b = ev->data;
            for (size_t i = 0; i < n; i++) {
                hex[2 * i] = digits[b[i] >> 4];
                hex[2 * i + 1] = digits[b[i] & 15];
            }
            hex[2 * n] = '\0';
            json_object_set_new(o, "hex", json_string(hex));
        }
        json_object_set_new(o, "truncated", json_boolean(ev->data_len > n));
    }
    emit(o, conn, t_ns, ev->outgoing);
}

static const wsp_conn_tracer hooks = {.head = on_head, .event = on_event};

int wsp_trace_open(const char *path, wsp_err *err)
{
    if (T.f)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--trace is given once per command");
    /* no O_TRUNC on what is not a regular file (a FIFO, /dev/stderr): opened to append */
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        return wsp_err_set(err, WSP_CLASS_USAGE, "--trace %.300s: %s", path, eb);
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) {
        close(fd);
        return wsp_err_set(err, WSP_CLASS_USAGE, "--trace %.300s: cannot truncate", path);
    }
    T.f = fdopen(fd, "w");
    if (!T.f) {
        close(fd);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    snprintf(T.path, sizeof T.path, "%s", path);
    T.write_errno = 0;
    return 0;
}

const wsp_conn_tracer *wsp_trace_hooks(void)
{
    return T.f ? &hooks : NULL;
}

int wsp_trace_close(wsp_err *err)
{
    pthread_mutex_lock(&T.lock);
    FILE *f = T.f;
    T.f = NULL;
    pthread_mutex_unlock(&T.lock);
    if (!f)
        return 0;
    int e = T.write_errno;
    if (fflush(f) != 0 && !e)
        e = errno ? errno : EIO;
    if (fclose(f) != 0 && !e)
        e = errno ? errno : EIO;
    if (!e)
        return 0;
    char eb[128];
    strerror_r(e, eb, sizeof eb);
    return wsp_err_set(err, WSP_CLASS_OUTPUT_FAILED,
                       "--trace %.300s: cannot write the trace (it is incomplete): %s", T.path, eb);
}
