/* cmd_serve.c - `wsprobe serve`: the hardened reference endpoint. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "util/duration.h"
#include "probe/jwtconfig.h"
#include "serve/serve.h"
#include "net/tls.h"

static const char serve_usage[] =
    "usage: wsprobe serve [options]\n"
    "\n"
    "A hardened WebSocket endpoint to demo and test against (docs/serve.md). Every defence is on\n"
    "by default; each --unsafe-* switch turns one off, so wsprobe's checks can prove they catch\n"
    "it. Stops on SIGTERM/SIGINT after closing every WebSocket with 1001.\n"
    "\n"
    "listeners (repeatable; port 0 picks a free port, printed on stderr):\n"
    "      --listen HOST:PORT       ws:// listener (default 127.0.0.1:8765 when none is given)\n"
    "      --tls-listen HOST:PORT   wss:// listener (needs --cert/--key or --self-signed)\n"
    "      --cert PEM --key PEM     certificate chain and key for wss\n"
    "      --self-signed DIR        make a throwaway CA and a loopback certificate in DIR;\n"
    "                               clients trust DIR/ca.pem\n"
    "      --path PATH              the WebSocket path (default /ws)\n"
    "      --port-file FILE         write the bound ports as JSON once listening\n"
    "authentication (required unless --unsafe-no-auth):\n"
    "      --jwt-secret-env VAR     HS256/384/512 secret from this environment variable\n"
    "      --jwt-secret-file FILE   ... or from this file (one trailing newline removed)\n"
    "      --jwt-key-file PEM       RS256/ES256 public key (or certificate)\n"
    "      --jwt-alg ALG            the one algorithm accepted (default HS256, or the key's)\n"
    "      --jwt-aud AUD            required audience (without it a token must have no aud)\n"
    "      --jwt-iss ISS            required issuer\n"
    "      --jwt-leeway DUR         clock skew allowed on exp and nbf (default 5s)\n"
    "      --allow-origin ORIGIN    allowed Origin, exact match (repeatable); without it an\n"
    "                               Origin must be the same origin as the Host\n"
    "behaviour and limits:\n"
    "      --echo                   echo every message instead of the chat protocol\n"
    "      --max-message SIZE       largest message (default 64K): close 1009\n"
    "      --rate N                 messages per second per connection (default 50): close 1008\n"
    "      --max-conns-per-ip N     open WebSockets per client address (default 64): 503\n"
    "      --handshake-timeout DUR  time to send the request (and TLS) (default 5s)\n"
    "      --idle-timeout DUR       close 1001 after this long without a frame (default 60s)\n"
    "      --write-queue-max SIZE   bytes queued to a client that does not read (default 1M)\n"
    "unsafe switches (each prints a warning at start):\n"
    "      --unsafe-no-auth         no token needed\n"
    "      --unsafe-accept-alg-none accept unsigned tokens with alg none\n"
    "      --unsafe-skip-claims     do not check exp, nbf, aud, iss\n"
    "      --unsafe-any-origin      do not check Origin\n"
    "      --unsafe-no-sanitize     broadcast chat content without HTML escaping\n"
    "      --unsafe-no-limits       no size, rate, per-client or timeout limits\n"
    "output:\n"
    "      --log-json               log lines as JSON\n"
    "  -q, --quiet                  no per-connection log lines\n"
    "  -h, --help\n";

enum {
    OPT_LISTEN = 256,
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
    OPT_RATE,
    OPT_MAX_PER_IP,
    OPT_HS_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_WQ_MAX,
    OPT_LOG_JSON,
    OPT_UNSAFE_NO_AUTH,
    OPT_UNSAFE_ALG_NONE,
    OPT_UNSAFE_SKIP_CLAIMS,
    OPT_UNSAFE_ANY_ORIGIN,
    OPT_UNSAFE_NO_SANITIZE,
    OPT_UNSAFE_NO_LIMITS,
    OPT_JWT_SECRET_ARG,
};

static const struct option serve_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"tls-listen", required_argument, NULL, OPT_TLS_LISTEN},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"self-signed", required_argument, NULL, OPT_SELF_SIGNED},
    {"path", required_argument, NULL, OPT_PATH},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"jwt-secret-env", required_argument, NULL, OPT_SECRET_ENV},
    {"jwt-secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"jwt-key-file", required_argument, NULL, OPT_KEY_FILE},
    {"jwt-alg", required_argument, NULL, OPT_ALG},
    {"jwt-aud", required_argument, NULL, OPT_AUD},
    {"jwt-iss", required_argument, NULL, OPT_ISS},
    {"jwt-leeway", required_argument, NULL, OPT_LEEWAY},
    {"allow-origin", required_argument, NULL, OPT_ORIGIN},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"max-conns-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
    {"handshake-timeout", required_argument, NULL, OPT_HS_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"write-queue-max", required_argument, NULL, OPT_WQ_MAX},
    {"log-json", no_argument, NULL, OPT_LOG_JSON},
    {"unsafe-no-auth", no_argument, NULL, OPT_UNSAFE_NO_AUTH},
    {"unsafe-accept-alg-none", no_argument, NULL, OPT_UNSAFE_ALG_NONE},
    {"unsafe-skip-claims", no_argument, NULL, OPT_UNSAFE_SKIP_CLAIMS},
    {"unsafe-any-origin", no_argument, NULL, OPT_UNSAFE_ANY_ORIGIN},
    {"unsafe-no-sanitize", no_argument, NULL, OPT_UNSAFE_NO_SANITIZE},
    {"unsafe-no-limits", no_argument, NULL, OPT_UNSAFE_NO_LIMITS},
    /* a secret on the command line is refused with a pointer to the right options */
    {"jwt-secret", required_argument, NULL, OPT_JWT_SECRET_ARG},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* HOST:PORT, [V6]:PORT or V6 literal with a last :PORT. */
static int parse_hostport(const char *arg, bool tls, wsp_serve_listen *out)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return -1;
    const char *h = arg;
    size_t hl = (size_t)(colon - arg);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return -1;
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof out->host)
        return -1;
    unsigned port;
    if (parse_uint(colon + 1, 65535, &port) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    memcpy(out->host, h, hl);
    out->port = port;
    out->tls = tls;
    return 0;
}

static void warn_unsafe(unsigned unsafe)
{
    for (unsigned bit = 1; bit <= WSP_SERVE_UNSAFE_NO_LIMITS; bit <<= 1)
        if (unsafe & bit)
            fprintf(stderr,
                    "wsprobe serve: WARNING: --unsafe-%s is on: %s. This server is deliberately "
                    "vulnerable; never expose it.\n",
                    wsp_serve_unsafe_name((wsp_serve_unsafe)bit),
                    wsp_serve_unsafe_describe((wsp_serve_unsafe)bit));
}

int wsp_cmd_serve(int argc, char **argv)
{
    const char *cmd = "serve";
    wsp_serve_config cfg;
    wsp_serve_config_init(&cfg);
    const char *origins[WSP_SERVE_ORIGINS_MAX];
    size_t num_origins = 0, num_plain = 0, num_tls = 0;
    const char *cert = NULL, *keyf = NULL, *self_dir = NULL;
    const char *secret_env = NULL, *secret_file = NULL, *key_file = NULL, *alg_name = NULL;
    char cert_buf[4200], key_buf[4200];
    wsp_jwt_key *jkey = NULL;
    SSL_CTX *ctx = NULL;
    uint64_t us;
    int rc = 2;
    int o;

    optind = 1;
    opterr = 0;
    wsp_cli_require_full_options("serve", argc, argv, serve_opts);
    while ((o = getopt_long(argc, argv, ":qh", serve_opts, NULL)) != -1) {
        switch (o) {
        case 'h':
            fputs(serve_usage, stdout);
            rc = 0;
            goto done;
        case 'q':
            cfg.quiet = true;
            break;
        case OPT_LISTEN:
        case OPT_TLS_LISTEN: {
            bool tls = o == OPT_TLS_LISTEN;
            size_t *count = tls ? &num_tls : &num_plain;
            if (*count >= WSP_SERVE_LISTEN_MAX) {
                wsp_cli_usage_error(cmd, "at most %d listeners of each kind", WSP_SERVE_LISTEN_MAX);
                goto done;
            }
            if (parse_hostport(optarg, tls, &cfg.listen[cfg.num_listen]) != 0) {
                wsp_cli_usage_error(cmd,
                                    "%s '%s': expected HOST:PORT, e.g. 127.0.0.1:0 or [::1]:8765",
                                    tls ? "--tls-listen" : "--listen", optarg);
                goto done;
            }
            cfg.num_listen++;
            (*count)++;
            break;
        }
        case OPT_CERT:
            cert = optarg;
            break;
        case OPT_KEY:
            keyf = optarg;
            break;
        case OPT_SELF_SIGNED:
            self_dir = optarg;
            break;
        case OPT_PATH:
            if (optarg[0] != '/' || strchr(optarg, '?') || strcmp(optarg, "/health") == 0) {
                wsp_cli_usage_error(cmd,
                                    "--path '%s': expected a path starting with / (not "
                                    "/health, no query)",
                                    optarg);
                goto done;
            }
            cfg.policy.path = optarg;
            break;
        case OPT_PORT_FILE:
            cfg.port_file = optarg;
            break;
        case OPT_SECRET_ENV:
            secret_env = optarg;
            break;
        case OPT_SECRET_FILE:
            secret_file = optarg;
            break;
        case OPT_KEY_FILE:
            key_file = optarg;
            break;
        case OPT_ALG:
            alg_name = optarg;
            break;
        case OPT_AUD:
            cfg.policy.aud = optarg;
            break;
        case OPT_ISS:
            cfg.policy.iss = optarg;
            break;
        case OPT_LEEWAY:
            if (wsp_duration_parse(optarg, &us) != 0 || us > 86400ull * 1000000) {
                wsp_cli_usage_error(cmd, "--jwt-leeway '%s': expected a duration up to 1 day",
                                    optarg);
                goto done;
            }
            cfg.policy.leeway_s = (int64_t)(us / 1000000);
            break;
        case OPT_ORIGIN:
            if (num_origins >= WSP_SERVE_ORIGINS_MAX) {
                wsp_cli_usage_error(cmd, "at most %d --allow-origin", WSP_SERVE_ORIGINS_MAX);
                goto done;
            }
            origins[num_origins++] = optarg;
            break;
        case OPT_ECHO:
            cfg.echo = true;
            break;
        case OPT_MAX_MESSAGE:
            if (wsp_size_parse(optarg, 1ull << 32, &cfg.max_message) != 0) {
                wsp_cli_usage_error(cmd, "--max-message '%s': expected a size like 64K, 1M",
                                    optarg);
                goto done;
            }
            break;
        case OPT_WQ_MAX: {
            uint64_t v;
            if (wsp_size_parse(optarg, 1ull << 32, &v) != 0) {
                wsp_cli_usage_error(cmd, "--write-queue-max '%s': expected a size like 1M", optarg);
                goto done;
            }
            cfg.write_queue_max = (size_t)v;
            break;
        }
        case OPT_RATE:
            if (parse_uint(optarg, 100000000u, &cfg.rate) != 0 || cfg.rate == 0) {
                wsp_cli_usage_error(cmd,
                                    "--rate '%s': expected a positive number of messages "
                                    "per second",
                                    optarg);
                goto done;
            }
            break;
        case OPT_MAX_PER_IP:
            if (parse_uint(optarg, 1000000u, &cfg.max_conns_per_ip) != 0 ||
                cfg.max_conns_per_ip == 0) {
                wsp_cli_usage_error(cmd, "--max-conns-per-ip '%s': expected a positive number",
                                    optarg);
                goto done;
            }
            break;
        case OPT_HS_TIMEOUT:
        case OPT_IDLE_TIMEOUT:
            if (wsp_duration_parse(optarg, &us) != 0 || us == 0) {
                wsp_cli_usage_error(cmd, "%s '%s': expected a duration like 500ms, 5s, 1m",
                                    o == OPT_HS_TIMEOUT ? "--handshake-timeout" : "--idle-timeout",
                                    optarg);
                goto done;
            }
            if (o == OPT_HS_TIMEOUT)
                cfg.handshake_timeout_us = us;
            else
                cfg.idle_timeout_us = us;
            break;
        case OPT_LOG_JSON:
            cfg.log_json = true;
            break;
        case OPT_UNSAFE_NO_AUTH:
            cfg.policy.unsafe |= WSP_SERVE_UNSAFE_NO_AUTH;
            break;
        case OPT_UNSAFE_ALG_NONE:
            cfg.policy.unsafe |= WSP_SERVE_UNSAFE_ACCEPT_ALG_NONE;
            break;
        case OPT_UNSAFE_SKIP_CLAIMS:
            cfg.policy.unsafe |= WSP_SERVE_UNSAFE_SKIP_CLAIMS;
            break;
        case OPT_UNSAFE_ANY_ORIGIN:
            cfg.policy.unsafe |= WSP_SERVE_UNSAFE_ANY_ORIGIN;
            break;
        case OPT_UNSAFE_NO_SANITIZE:
            cfg.policy.unsafe |= WSP_SERVE_UNSAFE_NO_SANITIZE;
            break;
        case OPT_UNSAFE_NO_LIMITS:
            cfg.policy.unsafe |= WSP_SERVE_UNSAFE_NO_LIMITS;
            break;
        case OPT_JWT_SECRET_ARG:
            /* never echo the value: it is a secret typed where it should not be */
            wsp_cli_usage_error(cmd, "--jwt-secret is not accepted: a secret on the command line "
                                     "ends up in shell history and ps; use --jwt-secret-env VAR "
                                     "or --jwt-secret-file FILE");
            goto done;
        case ':':
            wsp_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
            goto done;
        default:
            wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe serve --help)",
                                argv[optind - 1]);
            goto done;
        }
    }
    if (optind < argc) {
        wsp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto done;
    }
    cfg.policy.origins = origins;
    cfg.policy.num_origins = num_origins;
    if (cfg.num_listen == 0) {
        parse_hostport("127.0.0.1:8765", false, &cfg.listen[0]);
        cfg.num_listen = 1;
    }

    /* ---- authentication: exactly one source of key material, or the explicit switch ---- */
    int sources = (secret_env != NULL) + (secret_file != NULL) + (key_file != NULL);
    if (sources > 1) {
        wsp_cli_usage_error(cmd, "give one of --jwt-secret-env, --jwt-secret-file, "
                                 "--jwt-key-file");
        goto done;
    }
    wsp_jwt_alg alg = WSP_JWT_ALG_HS256;
    if (alg_name) {
        int a = wsp_jwt_alg_from_name(alg_name);
        if (a < 0) {
            wsp_cli_usage_error(cmd,
                                "--jwt-alg '%s': expected HS256, HS384, HS512, RS256 or "
                                "ES256 (never none)",
                                alg_name);
            goto done;
        }
        alg = (wsp_jwt_alg)a;
    }
    wsp_err e;
    wsp_err_clear(&e);
    if (secret_env || secret_file) {
        if (alg_name && !wsp_jwt_alg_is_hmac(alg)) {
            wsp_cli_usage_error(cmd, "--jwt-alg %s needs --jwt-key-file, not a shared secret",
                                alg_name);
            goto done;
        }
        uint8_t *secret = NULL;
        size_t slen = 0;
        int r =
            secret_env
                ? wsp_jwt_secret_from_env("--jwt-secret-env", secret_env, &secret, &slen, &e)
                : wsp_jwt_secret_from_file("--jwt-secret-file", secret_file, &secret, &slen, &e);
        if (r != 0) {
            wsp_cli_usage_error(cmd, "%s", e.msg);
            goto done;
        }
        jkey = wsp_jwt_key_secret(secret, slen);
        OPENSSL_cleanse(secret, slen);
        free(secret);
        if (!jkey) {
            wsp_cli_usage_error(cmd, "out of memory");
            goto done;
        }
    } else if (key_file) {
        if (alg_name && wsp_jwt_alg_is_hmac(alg)) {
            wsp_cli_usage_error(cmd,
                                "--jwt-alg %s takes a shared secret (--jwt-secret-env or "
                                "--jwt-secret-file), not a public key",
                                alg_name);
            goto done;
        }
        jkey = wsp_jwt_key_from_file("--jwt-key-file", key_file, alg_name ? alg : WSP_JWT_ALG_NONE,
                                     WSP_JWT_KEY_VERIFY, &e);
        if (!jkey) {
            wsp_cli_usage_error(cmd, "%s", e.msg);
            goto done;
        }
        if (!alg_name)
            alg = wsp_jwt_key_alg(jkey);
    } else if (alg_name || cfg.policy.aud || cfg.policy.iss) {
        wsp_cli_usage_error(cmd, "--jwt-alg/--jwt-aud/--jwt-iss need a key: --jwt-secret-env, "
                                 "--jwt-secret-file or --jwt-key-file");
        goto done;
    } else if (!(cfg.policy.unsafe & WSP_SERVE_UNSAFE_NO_AUTH)) {
        wsp_cli_usage_error(cmd, "no authentication configured: give --jwt-secret-env VAR, "
                                 "--jwt-secret-file FILE or --jwt-key-file PEM, or run open on "
                                 "purpose with --unsafe-no-auth");
        goto done;
    }
    cfg.policy.key = jkey;
    cfg.policy.alg = alg;

    /* ---- TLS ---- */
    if ((cert != NULL) != (keyf != NULL)) {
        wsp_cli_usage_error(cmd, "--cert and --key go together");
        goto done;
    }
    if (cert && self_dir) {
        wsp_cli_usage_error(cmd, "give --cert/--key or --self-signed, not both");
        goto done;
    }
    if (num_tls > 0 && !cert && !self_dir) {
        wsp_cli_usage_error(cmd, "--tls-listen needs --cert/--key or --self-signed DIR");
        goto done;
    }
    if ((cert || self_dir) && num_tls == 0) {
        wsp_cli_usage_error(cmd, "--cert/--self-signed given without --tls-listen HOST:PORT");
        goto done;
    }
    if (self_dir) {
        if (wsp_serve_self_signed(self_dir, cert_buf, sizeof cert_buf, key_buf, sizeof key_buf,
                                  &e) != 0) {
            wsp_cli_usage_error(cmd, "%s", e.msg);
            goto done;
        }
        cert = cert_buf;
        keyf = key_buf;
        fprintf(stderr, "wsprobe serve: throwaway CA for clients: %s/ca.pem\n", self_dir);
    }
    if (cert) {
        ctx = wsp_tls_server_ctx_new(cert, keyf, &e);
        if (!ctx) {
            wsp_cli_usage_error(cmd, "%s", e.msg);
            goto done;
        }
        cfg.tls_ctx = ctx;
    }

    warn_unsafe(cfg.policy.unsafe);
    if (wsp_serve_run(&cfg, &e) != 0) {
        wsp_cli_usage_error(cmd, "%s", e.msg);
        if (e.hint[0])
            fprintf(stderr, "hint: %s\n", e.hint);
        rc = e.cls == WSP_CLASS_USAGE ? 2 : wsp_class_exit_code(e.cls);
        goto done;
    }
    rc = 0;
done:
    SSL_CTX_free(ctx);
    wsp_jwt_key_free(jkey);
    return rc;
}
