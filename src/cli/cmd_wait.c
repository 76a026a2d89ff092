/* cmd_wait.c - `wsprobe wait URL`: the deployment gate. Probe (handshake and conversation) until
 * N consecutive successes or a deadline, with exponential backoff, jitter and a cap; fail fast
 * on classes that retrying cannot fix (SPEC.md, "retry in wait"); exit 124 at the deadline with
 * the last class and the number of attempts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "args.h"
#include "cli.h"
#include "util/clock.h"
#include "util/duration.h"
#include "probe/each.h"
#include "probeopts.h"
#include "util/rand.h"
#include "report/report.h"

static const char wait_usage[] =
    "usage: wsprobe wait URL [options]\n"
    "\n"
    "Probe URL until it answers SUCCESS-THRESHOLD times in a row (a full handshake, and the\n"
    "conversation given with --send/--expect-*), or until the deadline. Between failures the\n"
    "wait grows exponentially with jitter, up to a cap. Classes that retrying cannot fix end the\n"
    "wait at once with their exit code; at the deadline the exit code is 124 (WAIT_DEADLINE).\n"
    "\n"
    "Retried always: DNS_TEMPFAIL, TCP_TIMEOUT, HS_NO_RESPONSE, HS_TIMEOUT, WS_DROPPED,\n"
    "WS_MSG_TIMEOUT, WS_PONG_TIMEOUT, HTTP 429 (honouring Retry-After), 502, 503, 504, and\n"
    "close codes 1012 and 1013. Each attempt's own deadline is capped at the time left.\n"
    "\n";

/* What wait's own options set. */
typedef struct wait_opts {
    wsp_probeopts po;
    uint64_t deadline, interval, max_interval;
    double backoff, jitter;
    unsigned need;
    bool retry_refused, retry_nx;
} wait_opts;

enum {
    OPT_DEADLINE = WSP_PROBE_OPT_OWN,
    OPT_INTERVAL,
    OPT_MAX_INTERVAL,
    OPT_BACKOFF,
    OPT_JITTER,
    OPT_THRESHOLD,
    OPT_RETRY_REFUSED,
    OPT_RETRY_NXDOMAIN,
};

/* --deadline is the whole wait's; each attempt gets the probe's default, capped by what is
 * left. It shadows the probe's --deadline (util/opt.h). */
static const wsp_opt own_opts[] = {
    {"wait:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"deadline", 0, WSP_OPT_DURATION, OPT_DEADLINE, "DUR", "give up after DUR (default 60s)", 0, 0,
     NULL, NULL, 0},
    {"interval", 0, WSP_OPT_DURATION, OPT_INTERVAL, "DUR",
     "first wait after a failure, and between successes (1s)", 0, 0, NULL, NULL, 0},
    {"max-interval", 0, WSP_OPT_DURATION, OPT_MAX_INTERVAL, "DUR",
     "the cap of the backoff (default 10s)", 0, 0, NULL, NULL, 0},
    {"backoff", 0, WSP_OPT_TEXT, OPT_BACKOFF, "FACTOR",
     "growth of the wait after each failure, 1 to 10 (default 2)", 0, 0, NULL, NULL, 0},
    {"jitter", 0, WSP_OPT_TEXT, OPT_JITTER, "FRACTION",
     "each wait is cut by a random part up to this, 0 to 1\n(default 0.3)", 0, 0, NULL, NULL, 0},
    {"success-threshold", 0, WSP_OPT_COUNT, OPT_THRESHOLD, "N",
     "consecutive successes needed (default 1)", 1, 1000, NULL, NULL, 0},
    {"retry-refused", 0, WSP_OPT_FLAG, OPT_RETRY_REFUSED, NULL,
     "retry TCP_REFUSED (normal while a rollout starts)", 0, 0, NULL, NULL, 0},
    {"retry-nxdomain", 0, WSP_OPT_FLAG, OPT_RETRY_NXDOMAIN, NULL,
     "retry DNS_NXDOMAIN (a DNS record still propagating)", 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

static uint64_t now_us(void)
{
    return wsp_clock_mono_ns() / 1000u;
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Retry-After in seconds (RFC 9110 10.2.3); an HTTP date is not used (the backoff applies). */
static uint64_t retry_after_us(const wsp_conn_record *r)
{
    const char *h = r->http_head;
    size_t len = r->http_head_len;
    for (size_t i = 0; h && i + 12 < len; i++) {
        if ((i == 0 || h[i - 1] == '\n') && strncasecmp(h + i, "retry-after:", 12) == 0) {
            size_t k = i + 12;
            while (k < len && (h[k] == ' ' || h[k] == '\t'))
                k++;
            uint64_t v = 0;
            size_t digits = 0;
            while (k < len && h[k] >= '0' && h[k] <= '9' && digits < 9) {
                v = v * 10 + (uint64_t)(h[k] - '0');
                k++;
                digits++;
            }
            return digits ? v * 1000000u : 0;
        }
    }
    return 0;
}

/* Whether retrying can fix this outcome (SPEC.md's table, "retry in wait"). */
static bool retryable(wsp_class cls, const wsp_conn_record *r, bool refused, bool nxdomain)
{
    switch (cls) {
    case WSP_CLASS_DNS_TEMPFAIL:
    case WSP_CLASS_TCP_TIMEOUT:
    case WSP_CLASS_HS_NO_RESPONSE:
    case WSP_CLASS_HS_TIMEOUT:
    case WSP_CLASS_WS_DROPPED:
    case WSP_CLASS_WS_MSG_TIMEOUT:
    case WSP_CLASS_WS_PONG_TIMEOUT:
        return true;
    case WSP_CLASS_TCP_REFUSED:
        return refused;
    case WSP_CLASS_DNS_NXDOMAIN:
        return nxdomain;
    case WSP_CLASS_UPGRADE_REJECTED:
        return r->http_status == 429;
    case WSP_CLASS_UPGRADE_SERVER_ERROR:
        return r->http_status == 502 || r->http_status == 503 || r->http_status == 504;
    case WSP_CLASS_PROXY_UNREACHABLE:
        return true;
    case WSP_CLASS_PROXY_TUNNEL_FAILED: {
        /* the proxy is up and cannot reach the endpoint yet (a rollout): 502, 503, 504 */
        int st = r->proxy ? r->proxy->status : 0;
        return st == 502 || st == 503 || st == 504;
    }
    case WSP_CLASS_WS_CLOSED:
        return r->close_code == 1012 || r->close_code == 1013;
    case WSP_CLASS_OK:
    case WSP_CLASS_USAGE:
    case WSP_CLASS_URL_INVALID:
    case WSP_CLASS_NET_UNREACHABLE:
    case WSP_CLASS_TLS_HANDSHAKE:
    case WSP_CLASS_TLS_TO_PLAINTEXT:
    case WSP_CLASS_CERT_UNTRUSTED:
    case WSP_CLASS_CERT_NAME_MISMATCH:
    case WSP_CLASS_CERT_EXPIRED:
    case WSP_CLASS_HS_MALFORMED:
    case WSP_CLASS_UPGRADE_IGNORED:
    case WSP_CLASS_UPGRADE_REDIRECT:
    case WSP_CLASS_UPGRADE_AUTH:
    case WSP_CLASS_UPGRADE_NOT_FOUND:
    case WSP_CLASS_HS_BAD_HEADERS:
    case WSP_CLASS_HS_BAD_ACCEPT:
    case WSP_CLASS_HS_NEGOTIATION:
    case WSP_CLASS_INTERNAL:
    case WSP_CLASS_WS_PROTOCOL:
    case WSP_CLASS_WS_EXPECT_MISMATCH:
    case WSP_CLASS_WAIT_DEADLINE:
    case WSP_CLASS_AUTH_NOT_ENFORCED:
    case WSP_CLASS_OUTPUT_FAILED:
    case WSP_CLASS_PROXY_AUTH:
    case WSP_CLASS_PROXY_PROTOCOL:
    case WSP_CLASS_APP_AUTH_REFUSED:
    case WSP_CLASS_APP_PROTOCOL:
    case WSP_CLASS_APP_ERROR:
        return false;
    }
    return false;
}

static uint64_t jittered(uint64_t d, double jitter)
{
    uint8_t b[4] = {0};
    wsp_rand_bytes(b, sizeof b);
    double u = (double)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) /
               4294967296.0;
    return (uint64_t)((double)d * (1.0 - jitter * u));
}

static int parse_num(const char *cmd, const char *opt, const char *arg, double lo, double hi,
                     double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= lo && v <= hi))
        return wsp_cli_usage_error(cmd, "--%s '%s': expected a number from %g to %g", opt, arg, lo,
                                   hi);
    *out = v;
    return 0;
}

static int take(void *ud, const wsp_opt *opt, const char *arg, const wsp_opt_value *v)
{
    wait_opts *w = ud;
    switch (opt->id) {
    case OPT_DEADLINE:
        w->deadline = v->u;
        return 0;
    case OPT_INTERVAL:
        w->interval = v->u;
        return 0;
    case OPT_MAX_INTERVAL:
        w->max_interval = v->u;
        return 0;
    case OPT_BACKOFF:
        return parse_num("wait", "backoff", arg, 1.0, 10.0, &w->backoff) ? -1 : 0;
    case OPT_JITTER:
        return parse_num("wait", "jitter", arg, 0.0, 1.0, &w->jitter) ? -1 : 0;
    case OPT_THRESHOLD:
        w->need = (unsigned)v->u;
        return 0;
    case OPT_RETRY_REFUSED:
        w->retry_refused = true;
        return 0;
    case OPT_RETRY_NXDOMAIN:
        w->retry_nx = true;
        return 0;
    default:
        return wsp_probeopts_apply(&w->po, opt, arg) == 1 ? 0 : -1;
    }
}

/* What the attempts came to. */
typedef struct wait_result {
    uint64_t t0;
    unsigned attempts, successes, consecutive;
    wsp_probe *last;
    wsp_probe_each *each; /* --each-address: the last attempt's probes (last is one of them) */
    wsp_err each_err;     /* --each-address: why the addresses could not be had */
    wsp_class last_cls;
    const char *reason; /* "ok", "fail_fast", "deadline" */
} wait_result;

static void release_last(wait_result *r)
{
    if (r->each) {
        wsp_probe_each_cleanup(r->each);
        free(r->each);
        r->each = NULL;
    } else {
        wsp_probe_free(r->last);
    }
    r->last = NULL;
}

/* One --each-address attempt: 0 with r->each judged (r->last the first failing address's
 * probe, or the first), -1 when resolving failed (r->each_err; r->last NULL), or 70. */
static int each_attempt(wait_opts *w, wait_result *r)
{
    r->each = calloc(1, sizeof *r->each);
    if (!r->each) {
        fprintf(stderr, "wsprobe: wait: out of memory\n");
        return 70;
    }
    wsp_err_clear(&r->each_err);
    if (wsp_probe_each_resolve(&w->po.s.cfg, r->each, &r->each_err) != 0) {
        free(r->each);
        r->each = NULL;
        return -1;
    }
    if (wsp_probe_each_run(&w->po.s.cfg, r->each) != 0) {
        fprintf(stderr, "wsprobe: wait: out of memory\n");
        return 70;
    }
    size_t k = r->each->first_failed < r->each->n ? r->each->first_failed : 0;
    r->last = r->each->probes[k];
    return 0;
}

/* Probe until enough successes in a row, a class retrying cannot fix, or the deadline. Returns
 * 0, or 70 when memory ran out. */
static int attempts(wait_opts *w, const wsp_cli_out *out, wait_result *r)
{
    const uint64_t probe_deadline =
        w->po.s.cfg.conn.deadline_us ? w->po.s.cfg.conn.deadline_us : WSP_PROBE_DEFAULT_DEADLINE_US;
    const uint64_t probe_timeout = w->po.s.cfg.conn.timeout_us;
    const bool progress = !w->po.quiet && wsp_cli_human(out) && isatty(STDERR_FILENO) == 1;
    const uint64_t end = r->t0 + w->deadline;
    const unsigned need = w->need;
    uint64_t delay = w->interval;
    for (;;) {
        uint64_t t = now_us();
        if (t + 1000 >= end)
            break;
        uint64_t left = end - t;
        w->po.s.cfg.conn.deadline_us = probe_deadline < left ? probe_deadline : left;
        w->po.s.cfg.conn.timeout_us = probe_timeout < left ? probe_timeout : left;
        if (w->po.s.cfg.has_health) {
            w->po.s.cfg.health_conn.deadline_us = w->po.s.cfg.conn.deadline_us;
            w->po.s.cfg.health_conn.timeout_us = w->po.s.cfg.conn.timeout_us;
        }
        release_last(r);
        const wsp_err *v;
        if (w->po.each_address) {
            /* every address must hold; resolved again at each attempt (a deploy moves them) */
            int erc = each_attempt(w, r);
            if (erc > 0)
                return erc;
            v = erc == 0 ? &r->each->verdict : &r->each_err;
        } else {
            r->last = wsp_probe_run(&w->po.s.cfg);
            if (!r->last) {
                fprintf(stderr, "wsprobe: wait: out of memory\n");
                return 70;
            }
            v = wsp_probe_verdict(r->last);
        }
        r->attempts++;
        static const wsp_conn_record none;
        const wsp_conn_record *rec = r->last ? wsp_probe_record(r->last) : &none;
        r->last_cls = v->cls;
        if (progress)
            wsp_cli_say(stderr, "\r\033[Kwait: attempt %u, %s, %u/%u in a row, %.1fs of %.1fs",
                        r->attempts, wsp_class_name(v->cls),
                        v->cls == WSP_CLASS_OK ? r->consecutive + 1 : 0, need,
                        (double)(now_us() - r->t0) / 1e6, (double)w->deadline / 1e6);
        uint64_t pause;
        if (v->cls == WSP_CLASS_OK) {
            r->successes++;
            if (++r->consecutive >= need) {
                r->reason = "ok";
                break;
            }
            delay = w->interval;
            pause = w->interval;
        } else {
            r->consecutive = 0;
            if (!retryable(v->cls, rec, w->retry_refused, w->retry_nx)) {
                r->reason = "fail_fast";
                break;
            }
            pause = jittered(delay, w->jitter);
            uint64_t ra = retry_after_us(rec);
            if (ra > pause)
                pause = ra;
            double next = (double)delay * w->backoff;
            delay = next > (double)w->max_interval ? w->max_interval : (uint64_t)next;
        }
        t = now_us();
        if (t >= end)
            break;
        sleep_us(pause < end - t ? pause : end - t);
    }
    if (progress)
        fputs("\r\033[K", stderr);
    return 0;
}

/* The outcome: the JSON report and the human lines; returns the exit code. */
static int report(const wait_opts *w, const wsp_cli_out *out, const char *url, const wait_result *r)
{
    const char *cmd = "wait";
    const char *reason = r->reason;
    const wsp_probe *last = r->last;
    const wsp_class last_cls = r->last_cls;
    const unsigned attempts = r->attempts, successes = r->successes, consecutive = r->consecutive;
    const unsigned need = w->need;
    const uint64_t deadline = w->deadline;
    double elapsed = (double)(now_us() - r->t0) / 1e3;
    wsp_class cls = strcmp(reason, "ok") == 0          ? WSP_CLASS_OK
                    : strcmp(reason, "fail_fast") == 0 ? last_cls
                                                       : WSP_CLASS_WAIT_DEADLINE;
    int rc = wsp_class_exit_code(cls);
    const wsp_err *lv = r->each                             ? &r->each->verdict
                        : last                              ? wsp_probe_verdict(last)
                        : r->attempts && w->po.each_address ? &r->each_err
                                                            : NULL;
    const char *hint = cls == WSP_CLASS_WAIT_DEADLINE
                           ? (lv && lv->hint[0] ? lv->hint : wsp_class_default_hint(cls))
                       : lv && lv->hint[0] ? lv->hint
                                           : "";
    bool lost = false; /* the JSON report could not be written */
    if (out->json) {
        char red[WSP_URL_TARGET_MAX + 512];
        wsp_report_redact_url(url, red, sizeof red);
        json_t *j = json_pack("{s:s,s:b,s:s,s:i,s:s,s:I,s:I,s:I,s:I,s:f,s:f,s:s,s:s,s:s}", "url",
                              red, "ok", cls == WSP_CLASS_OK, "class", wsp_class_name(cls),
                              "exit_code", rc, "reason", reason, "attempts", (json_int_t)attempts,
                              "successes", (json_int_t)successes, "consecutive_successes",
                              (json_int_t)consecutive, "success_threshold", (json_int_t)need,
                              "elapsed_ms", elapsed, "deadline_ms", (double)deadline / 1e3,
                              "last_class", attempts ? wsp_class_name(last_cls) : "none",
                              "last_message", lv ? lv->msg : "", "hint", hint);
        if (j && last)
            json_object_set_new(j, "last", wsp_report_probe_json(last, url));
        if (j && cls != WSP_CLASS_OK) {
            char m[700];
            if (cls == WSP_CLASS_WAIT_DEADLINE)
                snprintf(m, sizeof m,
                         "no %u consecutive successes within %.1fs (%u attempts); "
                         "last: %s",
                         need, (double)deadline / 1e6, attempts,
                         attempts ? wsp_class_name(last_cls) : "none");
            else
                snprintf(m, sizeof m, "%s cannot be fixed by retrying: %.500s", wsp_class_name(cls),
                         lv ? lv->msg : "");
            json_object_set_new(j, "message", json_string(m));
        }
        if (wsp_cli_json_write(cmd, j, out->json_file) != 0)
            lost = true;
    }
    if (!wsp_cli_human(out)) {
        ;
    } else if (cls == WSP_CLASS_OK) {
        if (!w->po.quiet)
            wsp_cli_say(stdout,
                        "wsprobe: wait: %s is up: %u consecutive success%s after %u attempt%s in "
                        "%.1fs\n",
                        url, consecutive, consecutive == 1 ? "" : "es", attempts,
                        attempts == 1 ? "" : "s", elapsed / 1e3);
    } else if (cls == WSP_CLASS_WAIT_DEADLINE) {
        wsp_cli_say(stderr,
                    "wsprobe: wait: WAIT_DEADLINE: no %u consecutive successes within %.1fs "
                    "(%u attempts); last: %s: %s\n  hint: %s\n",
                    need, (double)deadline / 1e6, attempts,
                    attempts ? wsp_class_name(last_cls) : "none", lv ? lv->msg : "", hint);
    } else {
        wsp_cli_say(
            stderr,
            "wsprobe: wait: %s after %u attempt%s; retrying cannot fix it: %s\n  hint: %s\n",
            wsp_class_name(cls), attempts, attempts == 1 ? "" : "s", lv ? lv->msg : "", hint);
    }
    return lost ? wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED) : rc; /* lost evidence wins */
}

int wsp_cmd_wait(int argc, char **argv)
{
    static const char cmd[] = "wait";
    wait_opts w = {.deadline = 60ull * 1000000u,
                   .interval = 1000000u,
                   .max_interval = 10ull * 1000000u,
                   .backoff = 2.0,
                   .jitter = 0.3,
                   .need = 1};
    wsp_probeopts_init(&w.po, cmd);
    const wsp_opt *tables[12] = {own_opts};
    const wsp_opt *const *shared = wsp_probeopts_tables();
    for (size_t i = 0; shared[i] && i < 10; i++)
        tables[i + 1] = shared[i];
    static const char *const omit[] = {"connections", NULL};
    const wsp_cli_spec spec = {
        .cmd = cmd, .usage = wait_usage, .tables = tables, .omit = omit, .flags = WSP_CLI_JSON};
    wsp_cli_out out;
    int rc = wsp_cli_parse(&spec, argc, argv, take, &w, &out);
    if (rc != 0) {
        rc = rc == 1 ? 0 : 2;
        goto out;
    }
    if (w.max_interval < w.interval)
        w.max_interval = w.interval;
    if ((rc = wsp_probeopts_finish_cli(&w.po, &out)) != 0)
        goto out;
    if (w.po.each_address && w.po.s.cfg.url.host_is_ip && !w.po.s.cfg.conn.num_pinned) {
        rc = wsp_cli_usage_error(cmd,
                                 "--each-address: '%s' is an address, not a name: there is "
                                 "one backend to probe",
                                 w.po.s.cfg.url.host);
        goto out;
    }
    const char *url = w.po.url;

    wait_result r = {.t0 = now_us(), .last_cls = WSP_CLASS_OK, .reason = "deadline"};
    rc = attempts(&w, &out, &r);
    if (rc == 0)
        rc = report(&w, &out, url, &r);
    release_last(&r);
out:
    wsp_probeopts_cleanup(&w.po);
    fflush(stdout);
    return rc;
}
