/* cmd_probe.c - `wsprobe probe URL`: one connection through every phase. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "dns.h"
#include "duration.h"
#include "jsonptr.h"
#include "probe.h"
#include "report.h"
#include "template.h"
#include "tls.h"

static const char probe_usage[] =
    "usage: wsprobe probe URL [options]\n"
    "\n"
    "Connect to a ws:// or wss:// URL through every phase (resolve, connect, TLS, upgrade,\n"
    "send/expect, close), time each, and exit with the failure class's code (docs/exit-codes.md).\n"
    "\n"
    "connection:\n"
    "  -H, --header 'Name: value'   extra request header (repeatable)\n"
    "      --origin ORIGIN          send an Origin header\n"
    "      --subprotocol LIST       offer subprotocols (comma-separated)\n"
    "      --timeout DUR            limit for each phase (default 10s; 250ms, 2s, 1m)\n"
    "      --deadline DUR           limit for the whole probe (default 30s)\n"
    "      --resolve HOST:PORT:ADDR use ADDR for HOST:PORT instead of DNS (repeatable)\n"
    "      --dns-server ADDR[:PORT] ask this resolver\n"
    "  -4, -6                       IPv4 or IPv6 only\n"
    "      --max-message SIZE       largest message accepted from the server (default 16M)\n"
    "TLS:\n"
    "      --cacert PEM             trust these CAs instead of the system store\n"
    "      --cert PEM --key PEM     client certificate (mutual TLS)\n"
    "      --insecure               do not fail on certificate errors (still reported)\n"
    "      --tls-min 1.2|1.3        lowest TLS version to accept\n"
    "      --min-cert-days N        fail (CERT_EXPIRED) when fewer days are left\n"
    "conversation (steps run in the order given):\n"
    "      --send TEXT|@FILE        send a text message\n"
    "      --expect-text TEXT       the next message must equal TEXT\n"
    "      --expect-regex RE        the next message must match RE (POSIX extended)\n"
    "      --expect-json PTR=VALUE  a message whose JSON at PTR (RFC 6901) equals VALUE;\n"
    "                               unrelated messages are skipped until the timeout\n"
    "      --ping                   send a ping and expect its pong\n"
    "      --pong-timeout DUR       limit for --ping (default: --timeout)\n"
    "      --health URL             also GET this http(s) URL; it must answer 2xx\n"
    "      --expect-auth-required   pass when the endpoint refuses this client (401/403, or\n"
    "                               close 1008/4001-4003 before any reply); fail with\n"
    "                               AUTH_NOT_ENFORCED when it serves it\n"
    "      --connections N          run N complete probes at once; a verdict each and a\n"
    "                               summary (exit: the most common failure class)\n"
    "output:\n"
    "      --json                   one JSON object on stdout\n"
    "  -v, --verbose                request and response headers on stderr (credentials redacted)\n"
    "  -q, --quiet                  print nothing but a failure\n"
    "  -h, --help\n";

enum {
    OPT_ORIGIN = 256,
    OPT_SUBPROTOCOL,
    OPT_TIMEOUT,
    OPT_DEADLINE,
    OPT_RESOLVE,
    OPT_DNS_SERVER,
    OPT_CACERT,
    OPT_CERT,
    OPT_KEY,
    OPT_INSECURE,
    OPT_TLS_MIN,
    OPT_MIN_CERT_DAYS,
    OPT_SEND,
    OPT_EXPECT_TEXT,
    OPT_EXPECT_REGEX,
    OPT_EXPECT_JSON,
    OPT_PING,
    OPT_PONG_TIMEOUT,
    OPT_HEALTH,
    OPT_JSON,
    OPT_MAX_MESSAGE,
    OPT_CONNECTIONS,
    OPT_EXPECT_AUTH_REQUIRED,
};

static const struct option probe_opts[] = {
    {"header", required_argument, NULL, 'H'},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"subprotocol", required_argument, NULL, OPT_SUBPROTOCOL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"resolve", required_argument, NULL, OPT_RESOLVE},
    {"dns-server", required_argument, NULL, OPT_DNS_SERVER},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"tls-min", required_argument, NULL, OPT_TLS_MIN},
    {"min-cert-days", required_argument, NULL, OPT_MIN_CERT_DAYS},
    {"send", required_argument, NULL, OPT_SEND},
    {"expect-text", required_argument, NULL, OPT_EXPECT_TEXT},
    {"expect-regex", required_argument, NULL, OPT_EXPECT_REGEX},
    {"expect-json", required_argument, NULL, OPT_EXPECT_JSON},
    {"ping", no_argument, NULL, OPT_PING},
    {"pong-timeout", required_argument, NULL, OPT_PONG_TIMEOUT},
    {"health", required_argument, NULL, OPT_HEALTH},
    {"json", no_argument, NULL, OPT_JSON},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"expect-auth-required", no_argument, NULL, OPT_EXPECT_AUTH_REQUIRED},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define MAX_CONNECTIONS 10000

typedef struct pinned {
    char host[256];
    unsigned port;
    struct sockaddr_storage addrs[WSP_CONN_MAX_PINNED];
    int num;
} pinned;

/* --resolve HOST:PORT:ADDR[,ADDR...] ; ADDR may be [v6] or a bare v6 */
static int parse_resolve(const char *arg, pinned *out)
{
    const char *c1 = strchr(arg, ':');
    if (!c1 || c1 == arg || (size_t)(c1 - arg) >= sizeof out->host)
        return -1;
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2)
        return -1;
    memcpy(out->host, arg, (size_t)(c1 - arg));
    out->host[c1 - arg] = '\0';
    char portbuf[8];
    if (c2 - c1 - 1 <= 0 || c2 - c1 - 1 >= (long)sizeof portbuf)
        return -1;
    memcpy(portbuf, c1 + 1, (size_t)(c2 - c1 - 1));
    portbuf[c2 - c1 - 1] = '\0';
    char *end;
    unsigned long port = strtoul(portbuf, &end, 10);
    if (*end || port == 0 || port > 65535)
        return -1;
    out->port = (unsigned)port;
    out->num = 0;
    const char *s = c2 + 1;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        char a[64];
        if (n == 0 || n >= sizeof a || out->num >= WSP_CONN_MAX_PINNED)
            return -1;
        memcpy(a, s, n);
        a[n] = '\0';
        char *addr = a;
        if (addr[0] == '[' && addr[n - 1] == ']') {
            addr[n - 1] = '\0';
            addr++;
        }
        struct sockaddr_storage *ss = &out->addrs[out->num];
        memset(ss, 0, sizeof *ss);
        if (uv_ip4_addr(addr, (int)port, (struct sockaddr_in *)ss) != 0 &&
            uv_ip6_addr(addr, (int)port, (struct sockaddr_in6 *)ss) != 0)
            return -1;
        out->num++;
        s += n + (comma ? 1 : 0);
    }
    return out->num > 0 ? 0 : -1;
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    if (*end || v == 0 || v > (1ull << 40) / mul)
        return -1;
    *out = v * mul;
    return 0;
}

/* -v: heads on stderr with credentials redacted */
static void trace(void *ud, bool outgoing, const char *data, size_t len)
{
    (void)ud;
    char *buf = malloc(len * 2 + 64);
    if (!buf)
        return;
    wsp_report_redact_head(data, len, buf, len * 2 + 64);
    const char *mark = outgoing ? "> " : "< ";
    const char *p = buf;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n)
            fprintf(stderr, "%s%.*s\n", mark, (int)n, p);
        p += nl ? (size_t)(nl - p) + 1 : strlen(p);
    }
    free(buf);
}

static void print_json(json_t *o)
{
    if (!o)
        return;
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(o);
}

/* --connections N: N complete probes at once on one loop. */
static int run_many(const wsp_probe_config *cfg, size_t n, const char *url, bool json, bool quiet)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return 70;
    wsp_probe **ps = calloc(n, sizeof *ps);
    int rc = 70;
    size_t made = 0;
    if (!ps)
        goto done;
    for (; made < n; made++) {
        ps[made] = wsp_probe_new(&loop, cfg, NULL, NULL);
        if (!ps[made])
            goto done;
    }
    for (size_t i = 0; i < n; i++)
        wsp_probe_start(ps[i]);
    uv_run(&loop, UV_RUN_DEFAULT);
    wsp_class cls = wsp_report_many_class(ps, n);
    if (json)
        print_json(wsp_report_many_json(ps, n, url));
    else if (!quiet || cls != WSP_CLASS_OK)
        wsp_report_many_human(quiet ? stderr : stdout, ps, n, url, wsp_cli_color(stdout));
    rc = wsp_class_exit_code(cls);
done:
    if (rc == 70)
        fprintf(stderr, "wsprobe: probe: out of memory for %zu connections\n", n);
    for (size_t i = 0; i < made; i++)
        wsp_probe_free(ps[i]);
    free(ps);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

static void print_early_failure(bool json, const char *url, const wsp_err *e)
{
    if (json)
        print_json(wsp_report_error_json(url, e));
    fprintf(stderr, "wsprobe: probe: %s\n  hint: %s\n", e->msg, e->hint);
}

int wsp_cmd_probe(int argc, char **argv)
{
    wsp_probe_config cfg;
    wsp_probe_config_init(&cfg);
    wsp_tls_config tcfg = {0};
    bool json = false, verbose = false, quiet = false;
    const char *health = NULL;
    size_t connections = 1;
    pinned pins[8];
    int npins = 0;
    int rc = 2;
    SSL_CTX *ctx = NULL;
    wsp_err e;
    wsp_err_clear(&e);
    static const char cmd[] = "probe";

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":H:46vqh", probe_opts, NULL)) != -1) {
        wsp_step step;
        memset(&step, 0, sizeof step);
        uint64_t us;
        switch (ch) {
        case 'H':
            if (!strchr(optarg, ':') || strpbrk(optarg, "\r\n")) {
                rc =
                    wsp_cli_usage_error(cmd, "-H '%s': expected 'Name: value' on one line", optarg);
                goto out;
            }
            if (cfg.conn.num_headers >= WSP_CONN_MAX_HEADERS) {
                rc = wsp_cli_usage_error(cmd, "too many -H headers (at most %d)",
                                         WSP_CONN_MAX_HEADERS);
                goto out;
            }
            cfg.conn.headers[cfg.conn.num_headers++] = optarg;
            break;
        case '4':
            cfg.conn.family = AF_INET;
            break;
        case '6':
            cfg.conn.family = AF_INET6;
            break;
        case 'v':
            verbose = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(probe_usage, stdout);
            rc = 0;
            goto out;
        case OPT_ORIGIN:
            cfg.conn.origin = optarg;
            break;
        case OPT_SUBPROTOCOL:
            cfg.conn.subprotocols = optarg;
            break;
        case OPT_TIMEOUT:
        case OPT_DEADLINE:
        case OPT_PONG_TIMEOUT:
            if (wsp_duration_parse(optarg, &us) != 0 || us == 0) {
                rc = wsp_cli_usage_error(cmd, "--%s '%s': expected a duration like 500ms, 2s, 1m",
                                         ch == OPT_TIMEOUT    ? "timeout"
                                         : ch == OPT_DEADLINE ? "deadline"
                                                              : "pong-timeout",
                                         optarg);
                goto out;
            }
            if (ch == OPT_TIMEOUT)
                cfg.conn.timeout_us = us;
            else if (ch == OPT_DEADLINE)
                cfg.conn.deadline_us = us;
            else
                cfg.pong_timeout_us = us;
            break;
        case OPT_RESOLVE:
            if (npins >= 8 || parse_resolve(optarg, &pins[npins]) != 0) {
                rc = wsp_cli_usage_error(cmd, "--resolve '%s': expected HOST:PORT:ADDR[,ADDR]",
                                         optarg);
                goto out;
            }
            npins++;
            break;
        case OPT_DNS_SERVER:
            if (wsp_dns_servers_valid(optarg) != 0) {
                rc = wsp_cli_usage_error(cmd, "--dns-server '%s': expected ADDR[:PORT]", optarg);
                goto out;
            }
            cfg.conn.dns_servers = optarg;
            break;
        case OPT_CACERT:
            tcfg.cacert = optarg;
            break;
        case OPT_CERT:
            tcfg.cert = optarg;
            break;
        case OPT_KEY:
            tcfg.key = optarg;
            break;
        case OPT_INSECURE:
            tcfg.insecure = true;
            cfg.conn.tls_verify = false;
            break;
        case OPT_TLS_MIN:
            tcfg.min_version = wsp_tls_version_parse(optarg);
            if (tcfg.min_version < 0) {
                rc = wsp_cli_usage_error(cmd, "--tls-min '%s': expected 1.0, 1.1, 1.2 or 1.3",
                                         optarg);
                goto out;
            }
            break;
        case OPT_MIN_CERT_DAYS: {
            char *end;
            long d = strtol(optarg, &end, 10);
            if (*end || end == optarg || d < 0 || d > 100000) {
                rc = wsp_cli_usage_error(cmd, "--min-cert-days '%s': expected a number of days",
                                         optarg);
                goto out;
            }
            cfg.conn.min_cert_days = (int)d;
            break;
        }
        case OPT_MAX_MESSAGE:
            if (parse_size(optarg, &cfg.conn.limits.max_message) != 0) {
                rc = wsp_cli_usage_error(cmd, "--max-message '%s': expected a size like 64K, 16M",
                                         optarg);
                goto out;
            }
            cfg.conn.limits.max_frame = cfg.conn.limits.max_message;
            break;
        case OPT_SEND:
            step.kind = WSP_STEP_SEND;
            step.text = wsp_cli_text_or_file(cmd, "--send", optarg, &step.len);
            if (step.text && wsp_tmpl_check(step.text, false, "--send", &e) != 0) {
                free(step.text);
                rc = wsp_cli_usage_error(cmd, "%s", e.msg);
                goto out;
            }
            if (!step.text || wsp_probe_config_add_step(&cfg, &step) != 0) {
                free(step.text);
                goto out;
            }
            break;
        case OPT_EXPECT_TEXT:
            step.kind = WSP_STEP_EXPECT_TEXT;
            step.text = wsp_cli_text_or_file(cmd, "--expect-text", optarg, &step.len);
            if (step.text && wsp_tmpl_check(step.text, true, "--expect-text", &e) != 0) {
                free(step.text);
                rc = wsp_cli_usage_error(cmd, "%s", e.msg);
                goto out;
            }
            if (!step.text || wsp_probe_config_add_step(&cfg, &step) != 0) {
                free(step.text);
                goto out;
            }
            break;
        case OPT_EXPECT_REGEX: {
            step.kind = WSP_STEP_EXPECT_REGEX;
            int rerr = regcomp(&step.re, optarg, REG_EXTENDED | REG_NOSUB);
            if (rerr != 0) {
                char eb[128];
                regerror(rerr, &step.re, eb, sizeof eb);
                rc = wsp_cli_usage_error(cmd, "--expect-regex '%s': %s", optarg, eb);
                goto out;
            }
            step.re_compiled = true;
            step.text = strdup(optarg);
            step.len = strlen(optarg);
            if (!step.text || wsp_probe_config_add_step(&cfg, &step) != 0) {
                regfree(&step.re);
                free(step.text);
                goto out;
            }
            break;
        }
        case OPT_EXPECT_JSON: {
            const char *eq = strchr(optarg, '=');
            step.kind = WSP_STEP_EXPECT_JSON;
            if (!eq) {
                rc =
                    wsp_cli_usage_error(cmd, "--expect-json '%s': expected /pointer=VALUE", optarg);
                goto out;
            }
            step.pointer = strndup(optarg, (size_t)(eq - optarg));
            if (!step.pointer || !wsp_jsonptr_valid(step.pointer)) {
                free(step.pointer);
                rc = wsp_cli_usage_error(cmd,
                                         "--expect-json '%s': the pointer must be empty or "
                                         "start with '/' (RFC 6901)",
                                         optarg);
                goto out;
            }
            /* VALUE is kept as written: placeholders are filled when a message arrives, then
             * it is JSON if it parses as JSON, else a string (probe.c) */
            if (wsp_tmpl_check(eq + 1, true, "--expect-json", &e) != 0) {
                free(step.pointer);
                rc = wsp_cli_usage_error(cmd, "%s", e.msg);
                goto out;
            }
            step.value_json = strdup(eq + 1);
            if (!step.value_json || wsp_probe_config_add_step(&cfg, &step) != 0) {
                free(step.pointer);
                free(step.value_json);
                goto out;
            }
            break;
        }
        case OPT_PING:
            step.kind = WSP_STEP_PING;
            if (wsp_probe_config_add_step(&cfg, &step) != 0)
                goto out;
            break;
        case OPT_HEALTH:
            health = optarg;
            break;
        case OPT_EXPECT_AUTH_REQUIRED:
            cfg.expect_auth_required = true;
            break;
        case OPT_CONNECTIONS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || end == optarg || n < 1 || n > MAX_CONNECTIONS) {
                rc = wsp_cli_usage_error(cmd, "--connections '%s': expected 1 to %d", optarg,
                                         MAX_CONNECTIONS);
                goto out;
            }
            connections = (size_t)n;
            break;
        }
        case OPT_JSON:
            json = true;
            break;
        case ':':
            rc = wsp_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
            goto out;
        default:
            rc = wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe probe --help)",
                                     argv[optind - 1]);
            goto out;
        }
    }
    if (optind != argc - 1) {
        rc = wsp_cli_usage_error(cmd, optind >= argc ? "give one URL, like ws://host:port/path"
                                                     : "give exactly one URL");
        fputs(probe_usage, stderr);
        goto out;
    }
    const char *url = argv[optind];
    if (wsp_url_parse(url, &cfg.url, 0, &e) != 0) {
        print_early_failure(json, url, &e);
        rc = wsp_class_exit_code(e.cls);
        goto out;
    }
    if (tcfg.key && !tcfg.cert) {
        rc = wsp_cli_usage_error(cmd, "--key needs --cert");
        goto out;
    }
    for (int i = 0; i < npins; i++) {
        if (strcasecmp(pins[i].host, cfg.url.host) == 0 && pins[i].port == cfg.url.port) {
            cfg.conn.pinned = pins[i].addrs;
            cfg.conn.num_pinned = pins[i].num;
        }
    }
    if (cfg.url.tls || health) {
        ctx = wsp_tls_client_ctx_new(&tcfg, &e);
        if (!ctx) {
            print_early_failure(json, url, &e);
            rc = wsp_class_exit_code(e.cls);
            goto out;
        }
        cfg.conn.tls_ctx = ctx;
    }
    if (health) {
        if (wsp_url_parse(health, &cfg.health_url, WSP_URL_ALLOW_HTTP, &e) != 0) {
            rc = wsp_cli_usage_error(cmd, "--health '%s': %s", health, e.msg);
            goto out;
        }
        cfg.has_health = true;
        cfg.health_conn = cfg.conn;
        cfg.health_conn.url = &cfg.health_url;
        cfg.health_conn.http_only = true;
        cfg.health_conn.pinned = NULL;
        cfg.health_conn.num_pinned = 0;
        for (int i = 0; i < npins; i++)
            if (strcasecmp(pins[i].host, cfg.health_url.host) == 0 &&
                pins[i].port == cfg.health_url.port) {
                cfg.health_conn.pinned = pins[i].addrs;
                cfg.health_conn.num_pinned = pins[i].num;
            }
        cfg.health_conn.trace = NULL;
    }
    if (verbose)
        cfg.conn.trace = trace;
    if (cfg.pong_timeout_us == 0)
        cfg.pong_timeout_us = cfg.conn.timeout_us;

    if (connections > 1) {
        rc = run_many(&cfg, connections, url, json, quiet);
        goto out;
    }
    wsp_probe *p = wsp_probe_run(&cfg);
    if (!p) {
        fprintf(stderr, "wsprobe: probe: out of memory\n");
        rc = 70;
        goto out;
    }
    const wsp_err *v = wsp_probe_verdict(p);
    if (json) {
        json_t *o = wsp_report_probe_json(p, url);
        print_json(o);
    } else if (!quiet) {
        wsp_report_probe_human(stdout, p, url, wsp_cli_color(stdout));
    } else if (v->cls != WSP_CLASS_OK) {
        fprintf(stderr, "wsprobe: probe: %s: %s\n  hint: %s\n", wsp_class_name(v->cls), v->msg,
                v->hint);
    }
    rc = wsp_class_exit_code(v->cls);
    wsp_probe_free(p);
out:
    wsp_probe_config_cleanup(&cfg);
    SSL_CTX_free(ctx);
    fflush(stdout);
    return rc;
}
