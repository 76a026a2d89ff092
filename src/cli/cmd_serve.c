/* cmd_serve.c - `wsprobe serve`: the hardened reference endpoint. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "args.h"
#include "cli.h"
#include "util/duration.h"
#include "util/excerpt.h"
#include "probe/jwtconfig.h"
#include "serve/serve.h"
#include "net/tls.h"
#include "probe/setup.h"

static const char serve_usage[] =
    "usage: wsprobe serve [options]\n"
    "\n"
    "A hardened WebSocket endpoint to demo and test against (docs/serve.md). Every defence is on\n"
    "by default; each --unsafe-* switch turns one off, so wsprobe's checks can prove they catch\n"
    "it. Stops on SIGTERM/SIGINT after closing every WebSocket with 1001.\n"
    "\n";

enum {
    OPT_LISTEN = WSP_PROBE_OPT_OWN,
    OPT_TLS_LISTEN,
    OPT_CERT,
    OPT_KEY,
    OPT_SELF_SIGNED,
    OPT_PATH,
    OPT_PORT_FILE,
    OPT_SECRET_ENV,
    OPT_SECRET_FILE,
    OPT_KEY_FILE,
    OPT_ALG,
    OPT_AUD,
    OPT_ISS,
    OPT_LEEWAY,
    OPT_ORIGIN,
    OPT_ECHO,
    OPT_MAX_MESSAGE,
    OPT_RATE_LIMIT,
    OPT_MAX_PER_IP,
    OPT_HS_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_WQ_MAX,
    OPT_MAX_CONNS,
    OPT_MAX_QUEUED,
    OPT_WORKERS,
    OPT_NO_COMPRESS,
    OPT_UNSAFE, /* every --unsafe-*: the bit is found by name */
    OPT_QUIET,
};

#define NONE 0, 0, NULL, NULL, 0 /* no bounds, values, plan key or flags */
#define HEADING(text)                                                                              \
    {                                                                                              \
        text, 0, WSP_OPT_HEADING, 0, NULL, NULL, NONE                                              \
    }
static const wsp_opt serve_opts[] = {
    HEADING("listeners (repeatable; port 0 picks a free port, printed on stderr):"),
    {"listen", 0, WSP_OPT_TEXT, OPT_LISTEN, "HOST:PORT",
     "ws:// listener (default 127.0.0.1:8765 when none is given)", 0, 0, NULL, NULL,
     WSP_OPT_REPEAT},
    {"tls-listen", 0, WSP_OPT_TEXT, OPT_TLS_LISTEN, "HOST:PORT",
     "wss:// listener (needs --cert/--key or --self-signed)", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"cert", 0, WSP_OPT_PATH, OPT_CERT, "PEM", "certificate chain for wss (with --key)", NONE},
    {"key", 0, WSP_OPT_PATH, OPT_KEY, "PEM", "its private key", NONE},
    {"self-signed", 0, WSP_OPT_PATH, OPT_SELF_SIGNED, "DIR",
     "make a throwaway CA and a loopback certificate in DIR;\nclients trust DIR/ca.pem", NONE},
    {"path", 0, WSP_OPT_TEXT, OPT_PATH, "PATH", "the WebSocket path (default /ws)", NONE},
    {"port-file", 0, WSP_OPT_PATH, OPT_PORT_FILE, "FILE",
     "write the bound ports as JSON once listening", NONE},
    HEADING("authentication (required unless --unsafe-no-auth):"),
    {"jwt-secret-env", 0, WSP_OPT_ENV, OPT_SECRET_ENV, "VAR",
     "HS256/384/512 secret from this environment variable", NONE},
    {"jwt-secret-file", 0, WSP_OPT_PATH, OPT_SECRET_FILE, "FILE",
     "... or from this file (one trailing newline removed)", NONE},
    {"jwt-key-file", 0, WSP_OPT_PATH, OPT_KEY_FILE, "PEM",
     "RS256/ES256 public key (or certificate)", NONE},
    {"jwt-alg", 0, WSP_OPT_TEXT, OPT_ALG, "ALG",
     "the one algorithm accepted (default HS256, or the key's)", 0, 0, wsp_jwt_signing_algs, NULL,
     0},
    {"jwt-aud", 0, WSP_OPT_TEXT, OPT_AUD, "AUD",
     "required audience (without it a token must have no aud)", NONE},
    {"jwt-iss", 0, WSP_OPT_TEXT, OPT_ISS, "ISS", "required issuer", NONE},
    {"jwt-leeway", 0, WSP_OPT_TEXT, OPT_LEEWAY, "DUR",
     "clock skew allowed on exp and nbf, up to 1 day (default 5s)", NONE},
    {"allow-origin", 0, WSP_OPT_TEXT, OPT_ORIGIN, "ORIGIN",
     "allowed Origin, exact match (repeatable); without it an\nOrigin must be the same origin as "
     "the Host",
     0, 0, NULL, NULL, WSP_OPT_REPEAT},
    HEADING("behaviour and limits:"),
    {"no-compress", 0, WSP_OPT_FLAG, OPT_NO_COMPRESS, NULL,
     "decline permessage-deflate (accepted by default)", NONE},
    {"echo", 0, WSP_OPT_FLAG, OPT_ECHO, NULL, "echo every message instead of the chat protocol",
     NONE},
    {"max-message", 0, WSP_OPT_SIZE, OPT_MAX_MESSAGE, "SIZE",
     "largest message (default 64K): close 1009", 1, 1ull << 32, NULL, NULL, 0},
    {"rate-limit", 0, WSP_OPT_COUNT, OPT_RATE_LIMIT, "N",
     "frames per second per connection, every kind (default\n50): close 1008", 1, 100000000, NULL,
     NULL, 0},
    {"max-conns-per-ip", 0, WSP_OPT_COUNT, OPT_MAX_PER_IP, "N",
     "open WebSockets per client address (default 64): 503", 1, 1000000, NULL, NULL, 0},
    {"handshake-timeout", 0, WSP_OPT_DURATION, OPT_HS_TIMEOUT, "DUR",
     "time to send the request (and TLS) (default 5s)", NONE},
    {"idle-timeout", 0, WSP_OPT_DURATION, OPT_IDLE_TIMEOUT, "DUR",
     "close 1001 after this long without a frame (default 60s)", NONE},
    {"write-queue-max", 0, WSP_OPT_SIZE, OPT_WQ_MAX, "SIZE",
     "bytes queued to a client that does not read (default 1M)", 1, 1ull << 32, NULL, NULL, 0},
    {"max-conns", 0, WSP_OPT_COUNT, OPT_MAX_CONNS, "N",
     "connections in all (default and ceiling: the file limit\nless 64); at the cap the oldest "
     "unfinished handshake goes",
     1, 1u << 20, NULL, NULL, 0},
    {"max-queued-bytes", 0, WSP_OPT_SIZE, OPT_MAX_QUEUED, "SIZE",
     "bytes queued to all clients (default 64M); a client over\nits share is dropped", 1,
     1ull << 40, NULL, NULL, 0},
    {"workers", 0, WSP_OPT_COUNT, OPT_WORKERS, "N",
     "serve from N processes on SO_REUSEPORT listeners, each\nwith 1/N of --max-conns, "
     "--max-conns-per-ip and\n--max-queued-bytes and its own file limit (default 1);\n/health "
     "answers for the worker that took the request",
     1, WSP_SERVE_MAX_WORKERS, NULL, NULL, 0},
    HEADING("unsafe switches (each prints a warning at start):"),
    {"unsafe-no-auth", 0, WSP_OPT_FLAG, OPT_UNSAFE, NULL, "no token needed", NONE},
    {"unsafe-accept-alg-none", 0, WSP_OPT_FLAG, OPT_UNSAFE, NULL,
     "accept unsigned tokens with alg none", NONE},
    {"unsafe-skip-claims", 0, WSP_OPT_FLAG, OPT_UNSAFE, NULL, "do not check exp, nbf, aud, iss",
     NONE},
    {"unsafe-any-origin", 0, WSP_OPT_FLAG, OPT_UNSAFE, NULL, "do not check Origin", NONE},
    {"unsafe-no-sanitize", 0, WSP_OPT_FLAG, OPT_UNSAFE, NULL,
     "broadcast chat content without HTML escaping", NONE},
    {"unsafe-no-limits", 0, WSP_OPT_FLAG, OPT_UNSAFE, NULL,
     "no size, rate, connection, queue or timeout limits", NONE},
    {"unsafe-no-inflate-limit", 0, WSP_OPT_FLAG, OPT_UNSAFE, NULL,
     "inflate compressed messages past --max-message", NONE},
    HEADING("output (--json: the log as JSON lines; --json=FILE: JSON lines to FILE as well):"),
    {"quiet", 'q', WSP_OPT_FLAG, OPT_QUIET, NULL, "no per-connection log lines", NONE},
    {NULL, 0, 0, 0, NULL, NULL, NONE},
};
#undef NONE
#undef HEADING

static const wsp_cli_alias serve_aliases[] = {
    {"rate", "rate-limit", "0.3.0"},
    {"log-json", "json", "0.3.0"},
    {NULL, NULL, NULL},
};

/* What the options say, before it is checked as a whole. */
typedef struct serve_args {
    wsp_serve_config cfg;
    const char *origins[WSP_SERVE_ORIGINS_MAX];
    size_t num_origins, num_plain, num_tls;
    const char *cert, *keyf, *self_dir;
    const char *secret_env, *secret_file, *key_file, *alg_name;
} serve_args;

/* HOST:PORT, [V6]:PORT or V6 literal with a last :PORT (codec/url.h). */
static int parse_hostport(const char *arg, bool tls, wsp_serve_listen *out)
{
    memset(out, 0, sizeof *out);
    out->tls = tls;
    return wsp_hostport_parse(arg, out->host, sizeof out->host, &out->port);
}

static void warn_unsafe(unsigned unsafe)
{
    for (unsigned bit = 1; bit <= WSP_SERVE_UNSAFE_LAST; bit <<= 1)
        if (unsafe & bit)
            fprintf(stderr,
                    "wsprobe serve: WARNING: --unsafe-%s is on: %s. This server is deliberately "
                    "vulnerable; never expose it.\n",
                    wsp_serve_unsafe_name((wsp_serve_unsafe)bit),
                    wsp_serve_unsafe_describe((wsp_serve_unsafe)bit));
}

/* Not empty, and only visible ASCII (0x21-0x7e) without the bytes in `refused`: what a request
 * target or an Origin can hold as the peer sends it (anything else arrives percent-encoded). */
static bool visible_ascii(const char *s, const char *refused)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || strchr(refused, *s))
            return false;
    return true;
}

/* A USAGE error for a text value, shown with '.' for what is not printable. Returns -1. */
static int refuse_text(const char *opt, const char *arg, const char *expected)
{
    char shown[128];
    wsp_excerpt(shown, sizeof shown, arg, strlen(arg));
    wsp_cli_usage_error("serve", "%s '%s': expected %s", opt, shown, expected);
    return -1;
}

static int take(void *ud, const wsp_opt *opt, const char *arg, const wsp_opt_value *v)
{
    static const char cmd[] = "serve";
    serve_args *a = ud;
    wsp_serve_config *cfg = &a->cfg;
    switch (opt->id) {
    case OPT_LISTEN:
    case OPT_TLS_LISTEN: {
        bool tls = opt->id == OPT_TLS_LISTEN;
        size_t *count = tls ? &a->num_tls : &a->num_plain;
        if (*count >= WSP_SERVE_LISTEN_MAX)
            return wsp_cli_usage_error(cmd, "at most %d listeners of each kind",
                                       WSP_SERVE_LISTEN_MAX)
                       ? -1
                       : -1;
        if (parse_hostport(arg, tls, &cfg->listen[cfg->num_listen]) != 0) {
            wsp_cli_usage_error(cmd,
                                "--%s '%s': expected HOST:PORT, e.g. 127.0.0.1:0 or [::1]:8765",
                                opt->name, arg);
            return -1;
        }
        cfg->num_listen++;
        (*count)++;
        return 0;
    }
    case OPT_CERT:
        a->cert = arg;
        return 0;
    case OPT_KEY:
        a->keyf = arg;
        return 0;
    case OPT_SELF_SIGNED:
        a->self_dir = arg;
        return 0;
    case OPT_PATH:
        if (arg[0] != '/' || !visible_ascii(arg, "?#") || strcmp(arg, "/health") == 0)
            return refuse_text("--path", arg,
                               "a path starting with / of visible ASCII (percent-encode the rest; "
                               "not /health, no query or fragment)");
        cfg->policy.path = arg;
        return 0;
    case OPT_PORT_FILE:
        cfg->port_file = arg;
        return 0;
    case OPT_SECRET_ENV:
        a->secret_env = arg;
        return 0;
    case OPT_SECRET_FILE:
        a->secret_file = arg;
        return 0;
    case OPT_KEY_FILE:
        a->key_file = arg;
        return 0;
    case OPT_ALG:
        a->alg_name = arg;
        return 0;
    case OPT_AUD:
        cfg->policy.aud = arg;
        return 0;
    case OPT_ISS:
        cfg->policy.iss = arg;
        return 0;
    case OPT_LEEWAY: {
        uint64_t us; /* 0s is a valid leeway: not the duration type, which refuses 0 */
        if (wsp_duration_parse(arg, &us) != 0 || us > 86400ull * 1000000) {
            wsp_cli_usage_error(cmd, "--jwt-leeway '%s': expected a duration like 5s, up to 1 day",
                                arg);
            return -1;
        }
        cfg->policy.leeway_s = (int64_t)(us / 1000000);
        return 0;
    }
    case OPT_ORIGIN:
        if (!visible_ascii(arg, ""))
            return refuse_text("--allow-origin", arg,
                               "an origin of visible ASCII (scheme://host[:port]), without spaces "
                               "or control bytes");
        if (a->num_origins >= WSP_SERVE_ORIGINS_MAX) {
            wsp_cli_usage_error(cmd, "at most %d --allow-origin", WSP_SERVE_ORIGINS_MAX);
            return -1;
        }
        a->origins[a->num_origins++] = arg;
        return 0;
    case OPT_ECHO:
        cfg->echo = true;
        return 0;
    case OPT_MAX_MESSAGE:
        cfg->max_message = v->u;
        return 0;
    case OPT_WQ_MAX:
        cfg->write_queue_max = (size_t)v->u;
        return 0;
    case OPT_NO_COMPRESS:
        cfg->policy.no_compress = true;
        return 0;
    case OPT_MAX_CONNS:
        cfg->max_conns = (unsigned)v->u;
        return 0;
    case OPT_MAX_QUEUED:
        cfg->max_queued_bytes = v->u;
        return 0;
    case OPT_WORKERS:
        cfg->workers = (unsigned)v->u;
        return 0;
    case OPT_RATE_LIMIT:
        cfg->rate = (unsigned)v->u;
        return 0;
    case OPT_MAX_PER_IP:
        cfg->max_conns_per_ip = (unsigned)v->u;
        return 0;
    case OPT_HS_TIMEOUT:
        cfg->handshake_timeout_us = v->u;
        return 0;
    case OPT_IDLE_TIMEOUT:
        cfg->idle_timeout_us = v->u;
        return 0;
    case OPT_QUIET:
        cfg->quiet = true;
        return 0;
    case OPT_UNSAFE:
        for (unsigned bit = 1; bit <= WSP_SERVE_UNSAFE_LAST; bit <<= 1)
            if (strcmp(opt->name + 7, wsp_serve_unsafe_name((wsp_serve_unsafe)bit)) == 0)
                cfg->policy.unsafe |= bit;
        return 0;
    default:
        return -1;
    }
}

/* Exactly one source of key material, or the explicit --unsafe-no-auth. 0, or -1 (printed). */
static int setup_auth(serve_args *a, wsp_jwt_key **jkey)
{
    static const char cmd[] = "serve";
    wsp_serve_config *cfg = &a->cfg;
    int sources = (a->secret_env != NULL) + (a->secret_file != NULL) + (a->key_file != NULL);
    if (sources > 1)
        return wsp_cli_usage_error(cmd, "give one of --jwt-secret-env, --jwt-secret-file, "
                                        "--jwt-key-file")
                   ? -1
                   : -1;
    wsp_jwt_alg alg = WSP_JWT_ALG_HS256;
    if (a->alg_name) {
        int al = wsp_jwt_alg_from_name(a->alg_name);
        if (al < 0) {
            wsp_cli_usage_error(cmd,
                                "--jwt-alg '%s': expected HS256, HS384, HS512, RS256 or ES256 "
                                "(never none)",
                                a->alg_name);
            return -1;
        }
        alg = (wsp_jwt_alg)al;
    }
    wsp_err e;
    wsp_err_clear(&e);
    if (a->secret_env || a->secret_file) {
        if (a->alg_name && !wsp_jwt_alg_is_hmac(alg)) {
            wsp_cli_usage_error(cmd, "--jwt-alg %s needs --jwt-key-file, not a shared secret",
                                a->alg_name);
            return -1;
        }
        uint8_t *secret = NULL;
        size_t slen = 0;
        int r =
            a->secret_env
                ? wsp_jwt_secret_from_env("--jwt-secret-env", a->secret_env, &secret, &slen, &e)
                : wsp_jwt_secret_from_file("--jwt-secret-file", a->secret_file, &secret, &slen, &e);
        if (r != 0) {
            wsp_cli_usage_error(cmd, "%s", e.msg);
            return -1;
        }
        *jkey = wsp_jwt_key_secret(secret, slen);
        OPENSSL_cleanse(secret, slen);
        free(secret);
        if (!*jkey) {
            wsp_cli_usage_error(cmd, "out of memory");
            return -1;
        }
    } else if (a->key_file) {
        if (a->alg_name && wsp_jwt_alg_is_hmac(alg)) {
            wsp_cli_usage_error(cmd,
                                "--jwt-alg %s takes a shared secret (--jwt-secret-env or "
                                "--jwt-secret-file), not a public key",
                                a->alg_name);
            return -1;
        }
        *jkey = wsp_jwt_key_from_file("--jwt-key-file", a->key_file,
                                      a->alg_name ? alg : WSP_JWT_ALG_NONE, WSP_JWT_KEY_VERIFY, &e);
        if (!*jkey) {
            wsp_cli_usage_error(cmd, "%s", e.msg);
            return -1;
        }
        if (!a->alg_name)
            alg = wsp_jwt_key_alg(*jkey);
    } else if (a->alg_name || cfg->policy.aud || cfg->policy.iss) {
        wsp_cli_usage_error(cmd, "--jwt-alg/--jwt-aud/--jwt-iss need a key: --jwt-secret-env, "
                                 "--jwt-secret-file or --jwt-key-file");
        return -1;
    } else if (!(cfg->policy.unsafe & WSP_SERVE_UNSAFE_NO_AUTH)) {
        wsp_cli_usage_error(cmd, "no authentication configured: give --jwt-secret-env VAR, "
                                 "--jwt-secret-file FILE or --jwt-key-file PEM, or run open on "
                                 "purpose with --unsafe-no-auth");
        return -1;
    }
    cfg->policy.key = *jkey;
    cfg->policy.alg = alg;
    return 0;
}

/* --cert/--key or --self-signed for the wss listeners. 0, or -1 (printed). */
static int setup_tls(serve_args *a, SSL_CTX **ctx)
{
    static const char cmd[] = "serve";
    static char cert_buf[4200], key_buf[4200];
    const char *cert = a->cert, *keyf = a->keyf;
    wsp_err e;
    wsp_err_clear(&e);
    if ((cert != NULL) != (keyf != NULL))
        return wsp_cli_usage_error(cmd, "--cert and --key go together") ? -1 : -1;
    if (cert && a->self_dir)
        return wsp_cli_usage_error(cmd, "give --cert/--key or --self-signed, not both") ? -1 : -1;
    if (a->num_tls > 0 && !cert && !a->self_dir)
        return wsp_cli_usage_error(cmd, "--tls-listen needs --cert/--key or --self-signed DIR")
                   ? -1
                   : -1;
    if ((cert || a->self_dir) && a->num_tls == 0)
        return wsp_cli_usage_error(cmd, "--cert/--self-signed given without --tls-listen HOST:PORT")
                   ? -1
                   : -1;
    if (a->self_dir) {
        if (wsp_serve_self_signed(a->self_dir, cert_buf, sizeof cert_buf, key_buf, sizeof key_buf,
                                  &e) != 0) {
            wsp_cli_usage_error(cmd, "%s", e.msg);
            return -1;
        }
        cert = cert_buf;
        keyf = key_buf;
        fprintf(stderr, "wsprobe serve: throwaway CA for clients: %s/ca.pem\n", a->self_dir);
    }
    if (cert) {
        *ctx = wsp_tls_server_ctx_new(cert, keyf, &e);
        if (!*ctx) {
            wsp_cli_usage_error(cmd, "%s", e.msg);
            return -1;
        }
        a->cfg.tls_ctx = *ctx;
    }
    return 0;
}

int wsp_cmd_serve(int argc, char **argv)
{
    static const char cmd[] = "serve";
    serve_args a;
    memset(&a, 0, sizeof a);
    wsp_serve_config_init(&a.cfg);
    wsp_jwt_key *jkey = NULL;
    SSL_CTX *ctx = NULL;
    FILE *json_log = NULL;
    const wsp_opt *const tables[] = {serve_opts, NULL};
    const wsp_cli_spec spec = {.cmd = cmd,
                               .usage = serve_usage,
                               .tables = tables,
                               .aliases = serve_aliases,
                               .flags = WSP_CLI_JSON};
    wsp_cli_out out;
    int rc = wsp_cli_parse(&spec, argc, argv, take, &a, &out);
    if (rc != 0) {
        rc = rc == 1 ? 0 : 2;
        goto done;
    }
    rc = 2;
    if (out.noperands > 0) {
        wsp_cli_usage_error(cmd, "unexpected argument '%.80s'", out.operands[0]);
        goto done;
    }
    /* --json: the log as JSON lines on stderr; --json=FILE: JSON lines to FILE, text on stderr */
    a.cfg.log_json = out.json && !out.json_file;
    if (out.json_file && !(json_log = fopen(out.json_file, "w"))) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        wsp_cli_usage_error(cmd, "OUTPUT_FAILED: --json=%s: cannot open: %s", out.json_file, eb);
        rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
        goto done;
    }
    a.cfg.json_log = json_log;
    a.cfg.policy.origins = a.origins;
    a.cfg.policy.num_origins = a.num_origins;
    if (a.cfg.num_listen == 0) {
        parse_hostport("127.0.0.1:8765", false, &a.cfg.listen[0]);
        a.cfg.num_listen = 1;
    }
    if (setup_auth(&a, &jkey) != 0 || setup_tls(&a, &ctx) != 0)
        goto done;
    warn_unsafe(a.cfg.policy.unsafe);
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_serve_run(&a.cfg, &e) != 0) {
        wsp_cli_usage_error(cmd, "%s", e.msg);
        if (e.hint[0])
            fprintf(stderr, "hint: %s\n", e.hint);
        rc = e.cls == WSP_CLASS_USAGE ? 2 : wsp_class_exit_code(e.cls);
        goto done;
    }
    rc = 0;
done:
    /* a JSON log line that could not be written (said when it happened) is lost evidence */
    if (json_log && (ferror(json_log) | fclose(json_log)) != 0) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        fprintf(stderr, "wsprobe: serve: OUTPUT_FAILED: the JSON log %s is incomplete: %s\n",
                out.json_file, eb);
        rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
    }
    SSL_CTX_free(ctx);
    wsp_jwt_key_free(jkey);
    return rc;
}
