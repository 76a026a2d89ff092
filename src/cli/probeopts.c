/* probeopts.c - see probeopts.h. */
#include "probeopts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli.h"
#include "probe/jwtconfig.h"
#include "net/dns.h"
#include "util/duration.h"
#include "util/files.h"
#include <openssl/crypto.h>
#include "codec/handshake.h"
#include "codec/jsonptr.h"
#include "codec/jwt.h"
#include "util/redact.h"
#include "report/report.h"
#include "codec/template.h"

#define MAX_CONNECTIONS 10000

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
    OPT_TOKEN_ENV,
    OPT_AUTH_IN,
    OPT_AUTH_MESSAGE,
    OPT_STRICT_ORDER,
    OPT_EXPECT_CLOSE,
    OPT_JWT, /* every --jwt-* option: handed to jwt.h by name */
};

static const struct option shared_opts[] = {
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
    {"strict-order", no_argument, NULL, OPT_STRICT_ORDER},
    {"expect-close", required_argument, NULL, OPT_EXPECT_CLOSE},
    {"pong-timeout", required_argument, NULL, OPT_PONG_TIMEOUT},
    {"health", required_argument, NULL, OPT_HEALTH},
    {"json", no_argument, NULL, OPT_JSON},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"expect-auth-required", no_argument, NULL, OPT_EXPECT_AUTH_REQUIRED},
    {"token-env", required_argument, NULL, OPT_TOKEN_ENV},
    {"auth-in", required_argument, NULL, OPT_AUTH_IN},
    {"auth-message", required_argument, NULL, OPT_AUTH_MESSAGE},
    {"jwt-alg", required_argument, NULL, OPT_JWT},
    {"jwt-secret-env", required_argument, NULL, OPT_JWT},
    {"jwt-secret-file", required_argument, NULL, OPT_JWT},
    {"jwt-key-file", required_argument, NULL, OPT_JWT},
    {"jwt-claim", required_argument, NULL, OPT_JWT},
    {"jwt-ttl", required_argument, NULL, OPT_JWT},
    {"jwt-nbf", required_argument, NULL, OPT_JWT},
    {"jwt-kid", required_argument, NULL, OPT_JWT},
    {"jwt-jti", optional_argument, NULL, OPT_JWT},
    {"jwt-iat", no_argument, NULL, OPT_JWT},
    {"no-iat", no_argument, NULL, OPT_JWT},
    {"no-exp", no_argument, NULL, OPT_JWT},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {NULL, 0, NULL, 0},
};

static const char shared_help[] =
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
    "credentials (never on the command line: from the environment or a file):\n"
    "      --token-env VAR          a ready token from environment variable VAR\n"
    "      --auth-in WHERE          header (default: Authorization: Bearer), query:NAME,\n"
    "                               subprotocol[:PREFIX] (default prefix bearer.),\n"
    "                               cookie:NAME, or message (a first message)\n"
    "      --auth-message TEMPLATE  the first message for --auth-in message; {{token}} is the\n"
    "                               token (default {\"type\":\"auth\",\"token\":\"{{token}}\"})\n"
    "  a token is minted for every connection from:\n"
    "%s"
    "conversation (steps run in the order given; placeholders {{uuid}}, {{now}}, {{now_ms}},\n"
    "{{env.NAME}}; in expectations {{sent./pointer}} is the value the previous send carried):\n"
    "      --send TEXT|@FILE        send a text message\n"
    "      --expect-text TEXT       a message must equal TEXT\n"
    "      --expect-regex RE        a message must match RE (POSIX extended)\n"
    "      --expect-json PTR=VALUE  a message whose JSON at PTR (RFC 6901) equals VALUE\n"
    "                               (expectations skip unrelated messages until the timeout)\n"
    "      --strict-order           an expectation judges the very next message instead\n"
    "      --ping                   send a ping and expect its pong\n"
    "      --expect-close CODES     after the last step the server must close with one of\n"
    "                               CODES (1000,4001,...); without it any server close\n"
    "                               before the conversation is over fails (WS_CLOSED)\n"
    "      --pong-timeout DUR       limit for --ping (default: --timeout)\n"
    "      --health URL             also GET this http(s) URL; it must answer 2xx\n"
    "      --expect-auth-required   pass when the endpoint refuses this client (401/403, or\n"
    "                               close 1008/4001-4003 before any reply); fail with\n"
    "                               AUTH_NOT_ENFORCED (exit 60) when it serves it\n"
    "      --connections N          run N complete probes at once; a verdict each and a\n"
    "                               summary (exit: the most common failure class)\n"
    "output:\n"
    "      --json                   one JSON object on stdout\n"
    "  -v, --verbose                request and response headers on stderr (credentials\n"
    "                               redacted)\n"
    "  -q, --quiet                  print nothing but a failure\n";

const struct option *wsp_probeopts_longopts(void)
{
    return shared_opts;
}

struct option *wsp_probeopts_merge(const struct option *own)
{
    size_t a = sizeof shared_opts / sizeof shared_opts[0] - 1, b = 0;
    while (own && own[b].name)
        b++;
    struct option *t = calloc(a + b + 1, sizeof *t);
    if (!t)
        return NULL;
    memcpy(t, shared_opts, a * sizeof *t);
    if (b)
        memcpy(t + a, own, b * sizeof *t);
    return t;
}

const char *wsp_probeopts_help(void)
{
    static char buf[sizeof shared_help + 2048];
    if (!buf[0])
        snprintf(buf, sizeof buf, shared_help, wsp_jwt_option_help());
    return buf;
}

/* Whether a help line starts the entry of an option named in omit: spaces, an optional short
 * form ("-H, "), then "--name" followed by a space or the end of the line. */
static bool omitted(const char *line, size_t len, const char *const *omit)
{
    size_t i = strspn(line, " ");
    if (i + 4 <= len && line[i] == '-' && line[i + 1] != '-' && line[i + 2] == ',')
        i += 4;
    if (i + 2 >= len || line[i] != '-' || line[i + 1] != '-')
        return false;
    const char *p = line + i + 2;
    size_t rest = len - i - 2;
    for (size_t k = 0; omit && omit[k]; k++) {
        size_t n = strlen(omit[k]);
        if (rest > n && strncmp(p, omit[k], n) == 0 && (p[n] == ' ' || p[n] == '\n'))
            return true;
    }
    return false;
}

void wsp_probeopts_help_print(FILE *f, const char *const *omit)
{
    const char *s = wsp_probeopts_help();
    bool skipping = false;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
        /* an entry's continuation lines are indented past the option column */
        bool continuation = len > 31 && strspn(s, " ") >= 31;
        if (!continuation)
            skipping = omitted(s, len, omit);
        if (!skipping)
            fwrite(s, 1, len, f);
        s += len;
    }
}

void wsp_probeopts_init(wsp_probeopts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    wsp_probe_config_init(&o->cfg);
    wsp_auth_init(&o->auth);
    o->connections = 1;
}

void wsp_probeopts_cleanup(wsp_probeopts *o)
{
    wsp_probe_config_cleanup(&o->cfg);
    SSL_CTX_free(o->cfg.conn.tls_ctx);
    o->cfg.conn.tls_ctx = NULL;
    wsp_auth_cleanup(&o->auth);
    wsp_jwt_config_free(o->jwt);
    free(o->token_env);
    free(o->auth_message);
    o->jwt = NULL;
}

/* -v: heads on stderr with credentials redacted */
static void trace(void *ud, bool outgoing, const char *data, size_t len)
{
    (void)ud;
    char *buf = malloc(len * 2 + 64);
    if (!buf)
        return;
    wsp_report_redact_head(data, len, buf, len * 2 + 64);
    char *clean = wsp_redact(buf, strlen(buf), NULL);
    free(buf);
    if (!clean)
        return;
    buf = clean;
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

/* Remember the HMAC secret so that no report can print it, even if a peer echoed it. */
static void register_secret_source(const char *name, const char *arg)
{
    if (!arg)
        return;
    if (strcmp(name, "--jwt-secret-env") == 0) {
        const char *v = getenv(arg);
        if (v)
            wsp_redact_register(v, strlen(v));
    } else if (strcmp(name, "--jwt-secret-file") == 0) {
        size_t n = 0;
        char *v = wsp_file_read(NULL, arg, 65536, WSP_FILE_SECRET, &n, NULL);
        if (v) {
            while (n && (v[n - 1] == '\n' || v[n - 1] == '\r'))
                n--;
            wsp_redact_register(v, n);
            OPENSSL_cleanse(v, n);
            free(v);
        }
    }
}

static int add_step(wsp_probeopts *o, wsp_step *step)
{
    if (wsp_probe_config_add_step(&o->cfg, step) != 0) {
        free(step->text);
        free(step->pointer);
        free(step->value_json);
        if (step->re_compiled)
            regfree(&step->re);
        wsp_cli_usage_error(o->cmd, "out of memory");
        return -1;
    }
    return 1;
}

static int bad(wsp_probeopts *o, const char *fmt, const char *opt, const char *arg)
{
    fprintf(stderr, "wsprobe: %s: --%s '%s': ", o->cmd, opt, arg);
    fprintf(stderr, "%s\n", fmt);
    return -1;
}

int wsp_probeopts_take(wsp_probeopts *o, int code, const char *arg, const char *longname)
{
    wsp_step step;
    memset(&step, 0, sizeof step);
    wsp_err e;
    wsp_err_clear(&e);
    uint64_t us;
    switch (code) {
    case 'H': {
        if (!strchr(arg, ':') || strpbrk(arg, "\r\n"))
            return bad(o, "expected 'Name: value' on one line", "header", arg);
        const char *advice = wsp_hs_reserved_header(arg);
        if (advice) {
            fprintf(stderr,
                    "wsprobe: %s: --header '%.*s: ...': wsprobe writes this header "
                    "itself: %s\n",
                    o->cmd, (int)strcspn(arg, ":"), arg, advice);
            return -1;
        }
        if (o->cfg.conn.num_headers >= WSP_CONN_MAX_HEADERS - 1)
            return bad(o, "too many headers", "header", arg);
        o->cfg.conn.headers[o->cfg.conn.num_headers++] = arg;
        return 1;
    }
    case OPT_STRICT_ORDER:
        o->cfg.strict_order = true;
        return 1;
    case OPT_EXPECT_CLOSE: {
        const char *why;
        int n = wsp_ws_close_codes_parse(arg, o->cfg.expect_close, WSP_PROBE_MAX_CLOSE_CODES, &why);
        if (n < 0)
            return bad(o, why, longname, arg);
        o->cfg.num_expect_close = (size_t)n;
        return 1;
    }
    case '4':
        o->cfg.conn.family = AF_INET;
        return 1;
    case '6':
        o->cfg.conn.family = AF_INET6;
        return 1;
    case 'v':
        o->verbose = true;
        return 1;
    case 'q':
        o->quiet = true;
        return 1;
    case OPT_ORIGIN:
        o->cfg.conn.origin = arg;
        return 1;
    case OPT_SUBPROTOCOL:
        o->cfg.conn.subprotocols = arg;
        return 1;
    case OPT_TIMEOUT:
    case OPT_DEADLINE:
    case OPT_PONG_TIMEOUT:
        if (wsp_duration_parse(arg, &us) != 0 || us == 0)
            return bad(o, "expected a duration like 500ms, 2s, 1m", longname, arg);
        if (code == OPT_TIMEOUT)
            o->cfg.conn.timeout_us = us;
        else if (code == OPT_DEADLINE)
            o->cfg.conn.deadline_us = us;
        else
            o->cfg.pong_timeout_us = us;
        return 1;
    case OPT_RESOLVE:
        if (o->npins >= WSP_PROBEOPTS_MAX_PINS || wsp_dns_pin_parse(arg, &o->pins[o->npins]) != 0)
            return bad(o, "expected HOST:PORT:ADDR[,ADDR]", longname, arg);
        o->npins++;
        return 1;
    case OPT_DNS_SERVER:
        if (wsp_dns_servers_valid(arg) != 0)
            return bad(o, "expected ADDR[:PORT]", longname, arg);
        o->cfg.conn.dns_servers = arg;
        return 1;
    case OPT_CACERT:
        o->tls.cacert = arg;
        return 1;
    case OPT_CERT:
        o->tls.cert = arg;
        return 1;
    case OPT_KEY:
        o->tls.key = arg;
        return 1;
    case OPT_INSECURE:
        o->tls.insecure = true;
        o->cfg.conn.tls_verify = false;
        return 1;
    case OPT_TLS_MIN:
        o->tls.min_version = wsp_tls_version_parse(arg);
        if (o->tls.min_version < 0)
            return bad(o, "expected 1.0, 1.1, 1.2 or 1.3", longname, arg);
        return 1;
    case OPT_MIN_CERT_DAYS: {
        char *end;
        long d = strtol(arg, &end, 10);
        if (*end || end == arg || d < 0 || d > 100000)
            return bad(o, "expected a number of days", longname, arg);
        o->cfg.conn.min_cert_days = (int)d;
        return 1;
    }
    case OPT_MAX_MESSAGE:
        if (wsp_size_parse(arg, 1ull << 40, &o->cfg.conn.limits.max_message) != 0)
            return bad(o, "expected a size like 64K, 16M", longname, arg);
        o->cfg.conn.limits.max_frame = o->cfg.conn.limits.max_message;
        return 1;
    case OPT_SEND:
    case OPT_EXPECT_TEXT:
        step.kind = code == OPT_SEND ? WSP_STEP_SEND : WSP_STEP_EXPECT_TEXT;
        step.text = wsp_cli_text_or_file(o->cmd, code == OPT_SEND ? "--send" : "--expect-text", arg,
                                         &step.len);
        if (!step.text)
            return -1;
        if (wsp_tmpl_check(step.text, code != OPT_SEND,
                           code == OPT_SEND ? "--send" : "--expect-text", getenv, &e) != 0) {
            free(step.text);
            wsp_cli_usage_error(o->cmd, "%s", e.msg);
            return -1;
        }
        return add_step(o, &step);
    case OPT_EXPECT_REGEX: {
        step.kind = WSP_STEP_EXPECT_REGEX;
        int rerr = regcomp(&step.re, arg, REG_EXTENDED | REG_NOSUB);
        if (rerr != 0) {
            char eb[128];
            regerror(rerr, &step.re, eb, sizeof eb);
            return bad(o, eb, longname, arg);
        }
        step.re_compiled = true;
        step.text = strdup(arg);
        step.len = strlen(arg);
        return add_step(o, &step);
    }
    case OPT_EXPECT_JSON: {
        const char *eq = strchr(arg, '=');
        step.kind = WSP_STEP_EXPECT_JSON;
        if (!eq)
            return bad(o, "expected /pointer=VALUE", longname, arg);
        step.pointer = strndup(arg, (size_t)(eq - arg));
        if (!step.pointer || !wsp_jsonptr_valid(step.pointer)) {
            free(step.pointer);
            return bad(o, "the pointer must be empty or start with '/' (RFC 6901)", longname, arg);
        }
        /* VALUE is kept as written: placeholders are filled when a message arrives, then it
         * is JSON if it parses as JSON, else a string (probe.c) */
        if (wsp_tmpl_check(eq + 1, true, "--expect-json", getenv, &e) != 0) {
            free(step.pointer);
            wsp_cli_usage_error(o->cmd, "%s", e.msg);
            return -1;
        }
        step.value_json = strdup(eq + 1);
        return add_step(o, &step);
    }
    case OPT_PING:
        step.kind = WSP_STEP_PING;
        return add_step(o, &step);
    case OPT_HEALTH:
        o->health = arg;
        return 1;
    case OPT_JSON:
        o->json = true;
        return 1;
    case OPT_CONNECTIONS: {
        char *end;
        long n = strtol(arg, &end, 10);
        if (*end || end == arg || n < 1 || n > MAX_CONNECTIONS)
            return bad(o, "expected 1 to 10000", longname, arg);
        o->connections = (size_t)n;
        return 1;
    }
    case OPT_EXPECT_AUTH_REQUIRED:
        o->cfg.expect_auth_required = true;
        return 1;
    case OPT_TOKEN_ENV:
        free(o->token_env);
        o->token_env = strdup(arg);
        return 1;
    case OPT_AUTH_IN:
        if (wsp_auth_set_in(&o->auth, arg, &e) != 0) {
            wsp_cli_usage_error(o->cmd, "%s", e.msg);
            return -1;
        }
        return 1;
    case OPT_AUTH_MESSAGE:
        free(o->auth_message);
        o->auth_message = strdup(arg);
        return 1;
    case OPT_JWT: {
        if (!o->jwt && !(o->jwt = wsp_jwt_config_new())) {
            wsp_cli_usage_error(o->cmd, "out of memory");
            return -1;
        }
        char name[64];
        snprintf(name, sizeof name, "--%s", longname ? longname : "");
        register_secret_source(name, arg);
        if (wsp_jwt_config_set(o->jwt, name, arg, &e) != 0) {
            wsp_cli_usage_error(o->cmd, "%s", e.msg);
            return -1;
        }
        return 1;
    }
    default:
        return 0;
    }
}

int wsp_probeopts_print_json(const char *cmd, json_t *o)
{
    if (wsp_report_json_write(o, cmd, NULL) == 0)
        return 0;
    char eb[128];
    strerror_r(errno, eb, sizeof eb);
    fprintf(stderr, "wsprobe: %s: cannot write the JSON report: %s\n", cmd, eb);
    return -1;
}

static int early_failure(wsp_probeopts *o, const wsp_err *e)
{
    if (o->json)
        wsp_probeopts_print_json(o->cmd, wsp_report_error_json(o->url, e));
    fprintf(stderr, "wsprobe: %s: %s\n  hint: %s\n", o->cmd, e->msg, e->hint);
    return wsp_class_exit_code(e->cls);
}

int wsp_probeopts_finish(wsp_probeopts *o, const char *url)
{
    wsp_err e;
    wsp_err_clear(&e);
    o->url = url;
    if (wsp_url_parse(url, &o->cfg.url, 0, &e) != 0)
        return early_failure(o, &e);
    if (o->tls.key && !o->tls.cert)
        return wsp_cli_usage_error(o->cmd, "--key needs --cert");
    wsp_probe_config_finish(&o->cfg, o->pins, (size_t)o->npins);
    /* credentials: one source; every problem is found here, before any connection */
    if (o->token_env && o->jwt)
        return wsp_cli_usage_error(o->cmd, "--token-env and --jwt-* options are two sources of "
                                           "credentials: give one");
    if (o->token_env && wsp_auth_set_token_env(&o->auth, o->token_env, &e) != 0)
        return wsp_cli_usage_error(o->cmd, "%s", e.msg);
    if (o->jwt) {
        if (wsp_jwt_config_load(o->jwt, &e) != 0)
            return wsp_cli_usage_error(o->cmd, "%s", e.msg);
        wsp_auth_set_jwt(&o->auth, o->jwt);
        o->jwt = NULL; /* now owned by auth */
    }
    if (o->auth_message) {
        if (o->auth.in != WSP_AUTH_IN_MESSAGE)
            return wsp_cli_usage_error(o->cmd, "--auth-message needs --auth-in message");
        o->auth.message = o->auth_message;
        o->auth_message = NULL;
    }
    if (o->auth.in != WSP_AUTH_IN_HEADER && !wsp_auth_active(&o->auth))
        return wsp_cli_usage_error(o->cmd, "--auth-in needs credentials (--token-env or "
                                           "--jwt-secret-env, --jwt-secret-file, --jwt-key-file)");
    if (wsp_auth_active(&o->auth))
        o->cfg.auth = &o->auth;
    /* nothing is sent twice: a credential header of -H beside the one wsprobe places */
    for (size_t i = 0; o->cfg.auth && i < o->cfg.conn.num_headers; i++) {
        const char *h = o->cfg.conn.headers[i];
        size_t n = strcspn(h, ":");
        bool clash =
            (o->auth.in == WSP_AUTH_IN_HEADER && n == 13 &&
             strncasecmp(h, "Authorization", 13) == 0) ||
            (o->auth.in == WSP_AUTH_IN_COOKIE && n == 6 && strncasecmp(h, "Cookie", 6) == 0);
        if (clash)
            return wsp_cli_usage_error(o->cmd,
                                       "--header '%.*s: ...' and the credential option would send "
                                       "two %.*s headers: give one (the credential options place "
                                       "the token themselves; --auth-in says where)",
                                       (int)n, h, (int)n, h);
    }
    if (o->cfg.conn.url->tls || o->health) {
        o->cfg.conn.tls_ctx = wsp_tls_client_ctx_new(&o->tls, &e);
        if (!o->cfg.conn.tls_ctx)
            return early_failure(o, &e);
    }
    if (o->health) {
        if (wsp_url_parse(o->health, &o->cfg.health_url, WSP_URL_ALLOW_HTTP, &e) != 0)
            return wsp_cli_usage_error(o->cmd, "--health '%s': %s", o->health, e.msg);
        o->cfg.has_health = true;
        o->cfg.health_conn = o->cfg.conn;
        o->cfg.health_conn.url = &o->cfg.health_url;
        o->cfg.health_conn.http_only = true;
        o->cfg.health_conn.pinned = NULL;
        o->cfg.health_conn.num_pinned = 0;
        o->cfg.health_conn.trace = NULL;
        wsp_probe_conn_pin(&o->cfg.health_conn, &o->cfg.health_url, o->pins, (size_t)o->npins);
    }
    if (o->verbose)
        o->cfg.conn.trace = trace;
    return 0;
}
