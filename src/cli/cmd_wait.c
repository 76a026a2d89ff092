/* cmd_wait.c - `wsprobe wait URL`: the deployment gate. Probe (handshake and conversation) until
 * N consecutive successes or a deadline, with exponential backoff, jitter and a cap; fail fast
 * on classes that retrying cannot fix (SPEC.md, "retry in wait"); exit 124 at the deadline with
 * the last class and the number of attempts. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "util/clock.h"
#include "util/duration.h"
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
    "wait:\n"
    "      --deadline DUR           give up after DUR (default 60s)\n"
    "      --interval DUR           first wait after a failure, and between successes (1s)\n"
    "      --max-interval DUR       the cap of the backoff (default 10s)\n"
    "      --backoff FACTOR         growth of the wait after each failure (default 2)\n"
    "      --jitter FRACTION        each wait is cut by a random part up to this (default 0.3)\n"
    "      --success-threshold N    consecutive successes needed (default 1)\n"
    "      --retry-refused          retry TCP_REFUSED (normal while a rollout starts)\n"
    "      --retry-nxdomain         retry DNS_NXDOMAIN (a DNS record still propagating)\n"
    "Retried always: DNS_TEMPFAIL, TCP_TIMEOUT, HS_NO_RESPONSE, HS_TIMEOUT, WS_DROPPED,\n"
    "WS_MSG_TIMEOUT, WS_PONG_TIMEOUT, HTTP 429 (honouring Retry-After), 502, 503, 504, and\n"
    "close codes 1012 and 1013. Each attempt's own deadline is capped at the time left.\n"
    "\n";

enum {
    OPT_INTERVAL = WSP_PROBEOPTS_OWN,
    OPT_MAX_INTERVAL,
    OPT_BACKOFF,
    OPT_JITTER,
    OPT_THRESHOLD,
    OPT_RETRY_REFUSED,
    OPT_RETRY_NXDOMAIN,
};

static const struct option own_opts[] = {
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"max-interval", required_argument, NULL, OPT_MAX_INTERVAL},
    {"backoff", required_argument, NULL, OPT_BACKOFF},
    {"jitter", required_argument, NULL, OPT_JITTER},
    {"success-threshold", required_argument, NULL, OPT_THRESHOLD},
    {"retry-refused", no_argument, NULL, OPT_RETRY_REFUSED},
    {"retry-nxdomain", no_argument, NULL, OPT_RETRY_NXDOMAIN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
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

static int parse_dur(const char *cmd, const char *opt, const char *arg, uint64_t *out)
{
    if (wsp_duration_parse(arg, out) != 0 || *out == 0)
        return wsp_cli_usage_error(cmd, "--%s '%s': expected a duration like 500ms, 2s, 1m", opt,
                                   arg);
    return 0;
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

int wsp_cmd_wait(int argc, char **argv)
{
    static const char cmd[] = "wait";
    wsp_probeopts o;
    wsp_probeopts_init(&o, cmd);
    struct option *table = wsp_probeopts_merge(own_opts);
    uint64_t deadline = 60ull * 1000000u, interval = 1000000u, max_interval = 10ull * 1000000u;
    double backoff = 2.0, jitter = 0.3, thr = 1;
    bool retry_refused = false, retry_nx = false;
    int rc = 2;
    if (!table)
        goto out;
    optind = 1;
    opterr = 0;
    int ch, li;
    wsp_cli_require_full_options("wait", argc, argv, table);
    while ((li = -1, ch = getopt_long(argc, argv, ":" WSP_PROBEOPTS_SHORT "h", table, &li)) != -1) {
        const char *name = li >= 0 ? table[li].name : NULL;
        if (ch == ':') {
            rc = wsp_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
            goto out;
        }
        /* --deadline is the wait's; each attempt gets the probe default capped by what is left */
        if (name && strcmp(name, "deadline") == 0) {
            if (parse_dur(cmd, "deadline", optarg, &deadline) != 0)
                goto out;
            continue;
        }
        switch (ch) {
        case 'h':
            fputs(wait_usage, stdout);
            static const char *const omit[] = {"deadline", "connections", NULL};
            wsp_probeopts_help_print(stdout, omit);
            rc = 0;
            goto out;
        case OPT_INTERVAL:
            if (parse_dur(cmd, "interval", optarg, &interval) != 0)
                goto out;
            continue;
        case OPT_MAX_INTERVAL:
            if (parse_dur(cmd, "max-interval", optarg, &max_interval) != 0)
                goto out;
            continue;
        case OPT_BACKOFF:
            if (parse_num(cmd, "backoff", optarg, 1.0, 10.0, &backoff) != 0)
                goto out;
            continue;
        case OPT_JITTER:
            if (parse_num(cmd, "jitter", optarg, 0.0, 1.0, &jitter) != 0)
                goto out;
            continue;
        case OPT_THRESHOLD:
            if (parse_num(cmd, "success-threshold", optarg, 1, 1000, &thr) != 0 ||
                thr != (double)(int)thr) {
                rc = wsp_cli_usage_error(cmd, "--success-threshold '%s': expected 1 to 1000",
                                         optarg);
                goto out;
            }
            continue;
        case OPT_RETRY_REFUSED:
            retry_refused = true;
            continue;
        case OPT_RETRY_NXDOMAIN:
            retry_nx = true;
            continue;
        default:
            break;
        }
        int t = ch == '?' ? 0 : wsp_probeopts_take(&o, ch, optarg, name);
        if (t < 0)
            goto out;
        if (t == 0) {
            rc = wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe wait --help)",
                                     argv[optind - 1]);
            goto out;
        }
    }
    if (optind != argc - 1) {
        rc = wsp_cli_usage_error(cmd, optind >= argc ? "give one URL, like ws://host:port/path"
                                                     : "give exactly one URL");
        goto out;
    }
    if (o.connections > 1) {
        rc = wsp_cli_usage_error(cmd, "--connections is not for wait (use --success-threshold)");
        goto out;
    }
    if (max_interval < interval)
        max_interval = interval;
    const char *url = argv[optind];
    if ((rc = wsp_probeopts_finish(&o, url)) != 0)
        goto out;

    const uint64_t probe_deadline =
        o.s.cfg.conn.deadline_us ? o.s.cfg.conn.deadline_us : WSP_PROBE_DEFAULT_DEADLINE_US;
    const uint64_t probe_timeout = o.s.cfg.conn.timeout_us;
    const bool progress = !o.quiet && !o.json && isatty(STDERR_FILENO) == 1;
    const uint64_t t0 = now_us(), end = t0 + deadline;
    unsigned attempts = 0, successes = 0, consecutive = 0;
    unsigned need = (unsigned)thr;
    uint64_t delay = interval;
    wsp_probe *last = NULL;
    wsp_class last_cls = WSP_CLASS_OK;
    const char *reason = "deadline";
    for (;;) {
        uint64_t t = now_us();
        if (t + 1000 >= end)
            break;
        uint64_t left = end - t;
        o.s.cfg.conn.deadline_us = probe_deadline < left ? probe_deadline : left;
        o.s.cfg.conn.timeout_us = probe_timeout < left ? probe_timeout : left;
        if (o.s.cfg.has_health) {
            o.s.cfg.health_conn.deadline_us = o.s.cfg.conn.deadline_us;
            o.s.cfg.health_conn.timeout_us = o.s.cfg.conn.timeout_us;
        }
        wsp_probe_free(last);
        last = wsp_probe_run(&o.s.cfg);
        if (!last) {
            fprintf(stderr, "wsprobe: wait: out of memory\n");
            rc = 70;
            goto out;
        }
        attempts++;
        const wsp_err *v = wsp_probe_verdict(last);
        const wsp_conn_record *rec = wsp_probe_record(last);
        last_cls = v->cls;
        if (progress)
            wsp_cli_say(stderr, "\r\033[Kwait: attempt %u, %s, %u/%u in a row, %.1fs of %.1fs",
                        attempts, wsp_class_name(v->cls),
                        v->cls == WSP_CLASS_OK ? consecutive + 1 : 0, need,
                        (double)(now_us() - t0) / 1e6, (double)deadline / 1e6);
        uint64_t pause;
        if (v->cls == WSP_CLASS_OK) {
            successes++;
            if (++consecutive >= need) {
                reason = "ok";
                break;
            }
            delay = interval;
            pause = interval;
        } else {
            consecutive = 0;
            if (!retryable(v->cls, rec, retry_refused, retry_nx)) {
                reason = "fail_fast";
                break;
            }
            pause = jittered(delay, jitter);
            uint64_t ra = retry_after_us(rec);
            if (ra > pause)
                pause = ra;
            double next = (double)delay * backoff;
            delay = next > (double)max_interval ? max_interval : (uint64_t)next;
        }
        t = now_us();
        if (t >= end)
            break;
        sleep_us(pause < end - t ? pause : end - t);
    }
    if (progress)
        fputs("\r\033[K", stderr);

    double elapsed = (double)(now_us() - t0) / 1e3;
    wsp_class cls = strcmp(reason, "ok") == 0          ? WSP_CLASS_OK
                    : strcmp(reason, "fail_fast") == 0 ? last_cls
                                                       : WSP_CLASS_WAIT_DEADLINE;
    rc = wsp_class_exit_code(cls);
    const wsp_err *lv = last ? wsp_probe_verdict(last) : NULL;
    const char *hint = cls == WSP_CLASS_WAIT_DEADLINE
                           ? (lv && lv->hint[0] ? lv->hint : wsp_class_default_hint(cls))
                       : lv && lv->hint[0] ? lv->hint
                                           : "";
    if (o.json) {
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
        wsp_probeopts_print_json("wait", j);
    } else if (cls == WSP_CLASS_OK) {
        if (!o.quiet)
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
    wsp_probe_free(last);
out:
    free(table);
    wsp_probeopts_cleanup(&o);
    fflush(stdout);
    return rc;
}
