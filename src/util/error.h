/* error.h - failure classes, exit codes and the error record every fallible call fills.
 *
 * The class names are a stable contract (JSON, JUnit, docs/exit-codes.md); the numbers are the
 * probe's exit codes. Append only: never renumber or rename a class.
 */
#ifndef WSP_ERROR_H
#define WSP_ERROR_H

#include <stdarg.h>

typedef enum wsp_class {
    WSP_CLASS_OK,
    WSP_CLASS_USAGE,
    WSP_CLASS_URL_INVALID,
    WSP_CLASS_DNS_NXDOMAIN,
    WSP_CLASS_DNS_TEMPFAIL,
    WSP_CLASS_TCP_REFUSED,
    WSP_CLASS_TCP_TIMEOUT,
    WSP_CLASS_NET_UNREACHABLE,
    WSP_CLASS_TLS_HANDSHAKE,
    WSP_CLASS_TLS_TO_PLAINTEXT,
    WSP_CLASS_CERT_UNTRUSTED,
    WSP_CLASS_CERT_NAME_MISMATCH,
    WSP_CLASS_CERT_EXPIRED,
    WSP_CLASS_HS_NO_RESPONSE,
    WSP_CLASS_HS_MALFORMED,
    WSP_CLASS_UPGRADE_IGNORED,
    WSP_CLASS_UPGRADE_REDIRECT,
    WSP_CLASS_UPGRADE_AUTH,
    WSP_CLASS_UPGRADE_NOT_FOUND,
    WSP_CLASS_UPGRADE_REJECTED,
    WSP_CLASS_UPGRADE_SERVER_ERROR,
    WSP_CLASS_HS_BAD_HEADERS,
    WSP_CLASS_HS_BAD_ACCEPT,
    WSP_CLASS_HS_NEGOTIATION,
    WSP_CLASS_HS_TIMEOUT,
    WSP_CLASS_INTERNAL,
    WSP_CLASS_WS_CLOSED,
    WSP_CLASS_WS_DROPPED,
    WSP_CLASS_WS_PROTOCOL,
    WSP_CLASS_WS_MSG_TIMEOUT,
    WSP_CLASS_WS_EXPECT_MISMATCH,
    WSP_CLASS_WS_PONG_TIMEOUT,
    WSP_CLASS_WAIT_DEADLINE,
    WSP_CLASS_AUTH_NOT_ENFORCED,
    WSP_CLASS_OUTPUT_FAILED,
    WSP_CLASS_PROXY_UNREACHABLE,
    WSP_CLASS_PROXY_AUTH,
    WSP_CLASS_PROXY_TUNNEL_FAILED,
    WSP_CLASS_PROXY_PROTOCOL,
    /* the protocols on top (--protocol socketio|graphql) */
    WSP_CLASS_APP_AUTH_REFUSED,
    WSP_CLASS_APP_PROTOCOL,
    WSP_CLASS_APP_ERROR,
} wsp_class;

/* Number of classes, for tables and loops in tests. */
#define WSP_CLASS_COUNT ((int)WSP_CLASS_APP_ERROR + 1)

/* Stable upper-case name ("TCP_REFUSED"). Never NULL. */
const char *wsp_class_name(wsp_class cls);
/* Process exit code for the class (SPEC.md table). */
int wsp_class_exit_code(wsp_class cls);
/* One sentence on when the class applies (docs, --help). Never NULL. */
const char *wsp_class_describe(wsp_class cls);
/* The default actionable hint for the class. Never NULL. */
const char *wsp_class_default_hint(wsp_class cls);
/* Look a class up by its name; returns -1 when unknown. */
int wsp_class_from_name(const char *name);

/* The error record. Fallible calls take an optional `wsp_err *` (NULL is allowed) and fill it
 * on failure: the class, errno or an OpenSSL error code where one exists, a message saying what
 * was seen, and a hint saying what to do. Caller-owned storage; no cleanup needed. */
typedef struct wsp_err {
    wsp_class cls;
    int sys_errno;         /* 0 or the errno / libuv error behind the failure */
    unsigned long tls_err; /* 0 or the OpenSSL error code */
    char msg[512];
    char hint[512];
} wsp_err;

/* Reset to OK with empty strings. `err` may be NULL. */
void wsp_err_clear(wsp_err *err);
/* Set class and a printf-style message; the hint becomes the class default. NULL-safe.
 * Always returns -1 so callers can write `return wsp_err_set(...)`. */
int wsp_err_set(wsp_err *err, wsp_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int wsp_err_vset(wsp_err *err, wsp_class cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Replace the hint with a specific one. NULL-safe. */
void wsp_err_hint(wsp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
