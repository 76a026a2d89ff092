/* setup.h - the one builder of a probe's configuration from options, for the command line
 * (probe, wait, security, load) and for plans alike: each option is declared once in a typed
 * table (util/opt.h) with its help and its plan key, applied by wsp_probe_setup_set, and the
 * whole checked and completed by wsp_probe_setup_finish (URL, pins, timeouts, credentials,
 * TLS context, health). A value means the same thing, and gets the same default, however it
 * was written.
 *
 * Strings given to wsp_probe_setup_set are borrowed (argv, a plan's YAML document): they must
 * outlive the configuration. Steps, tokens and credentials are copied. */
#ifndef WSP_PROBE_SETUP_H
#define WSP_PROBE_SETUP_H

#include <stdbool.h>
#include <stddef.h>

#include "codec/proxy.h"
#include "net/dns.h"
#include "net/tls.h"
#include "probe/auth.h"
#include "probe/jwtconfig.h"
#include "probe/probe.h"
#include "util/opt.h"

#define WSP_PROBE_SETUP_MAX_PINS 8

/* Option ids of the probe's tables: 256 and up; a command's own start at WSP_PROBE_OPT_OWN. */
enum {
    WSP_PROBE_OPT_HEADER = 256,
    WSP_PROBE_OPT_ORIGIN,
    WSP_PROBE_OPT_SUBPROTOCOL,
    WSP_PROBE_OPT_COMPRESS,
    WSP_PROBE_OPT_TIMEOUT,
    WSP_PROBE_OPT_DEADLINE,
    WSP_PROBE_OPT_RESOLVE,
    WSP_PROBE_OPT_DNS_SERVER,
    WSP_PROBE_OPT_IPV4,
    WSP_PROBE_OPT_IPV6,
    WSP_PROBE_OPT_MAX_MESSAGE,
    WSP_PROBE_OPT_PROXY,
    WSP_PROBE_OPT_NOPROXY,
    WSP_PROBE_OPT_PROXY_USER_ENV,
    WSP_PROBE_OPT_TRACE,
    WSP_PROBE_OPT_EACH_ADDRESS,
    WSP_PROBE_OPT_CACERT,
    WSP_PROBE_OPT_CERT,
    WSP_PROBE_OPT_KEY,
    WSP_PROBE_OPT_INSECURE,
    WSP_PROBE_OPT_TLS_MIN,
    WSP_PROBE_OPT_MIN_CERT_DAYS,
    WSP_PROBE_OPT_TOKEN_ENV,
    WSP_PROBE_OPT_TOKEN_FILE,
    WSP_PROBE_OPT_AUTH_IN,
    WSP_PROBE_OPT_AUTH_MESSAGE,
    WSP_PROBE_OPT_SEND,
    WSP_PROBE_OPT_SEND_BINARY,
    WSP_PROBE_OPT_EXPECT_BINARY,
    WSP_PROBE_OPT_EXPECT_TEXT,
    WSP_PROBE_OPT_EXPECT_REGEX,
    WSP_PROBE_OPT_EXPECT_JSON,
    WSP_PROBE_OPT_STRICT_ORDER,
    WSP_PROBE_OPT_PING,
    WSP_PROBE_OPT_EXPECT_CLOSE,
    WSP_PROBE_OPT_PONG_TIMEOUT,
    WSP_PROBE_OPT_HEALTH,
    WSP_PROBE_OPT_EXPECT_AUTH_REQUIRED,
    WSP_PROBE_OPT_JWT, /* every --jwt-* option (probe/jwtconfig.h takes it by name) */
    WSP_PROBE_OPT_PROTOCOL,
    WSP_PROBE_OPT_NAMESPACE,
    WSP_PROBE_OPT_SIO_PATH,
    WSP_PROBE_OPT_ENGINEIO,
    WSP_PROBE_OPT_CONNECT_PAYLOAD,
    WSP_PROBE_OPT_EMIT,
    WSP_PROBE_OPT_EMIT_ACK,
    WSP_PROBE_OPT_EXPECT_EVENT,
    WSP_PROBE_OPT_SUBSCRIBE,
    WSP_PROBE_OPT_VARIABLES,
    WSP_PROBE_OPT_EXPECT_COMPLETE,
    WSP_PROBE_OPT_OWN = 1000,
};

/* The probe's option tables in help order (connection, TLS, credentials with the JWT options,
 * conversation), NULL-terminated. */
extern const wsp_opt *const wsp_probe_opt_tables[];

typedef struct wsp_probe_setup {
    wsp_probe_config cfg;
    wsp_tls_config tls;
    wsp_auth auth;
    wsp_jwt_config *jwt; /* collected --jwt-* options; moved into auth by finish */
    char *token_env;
    const char *token_file; /* --token-file (borrowed) */
    char *auth_message;
    wsp_dns_pin pins[WSP_PROBE_SETUP_MAX_PINS];
    size_t npins;
    const char *health;
    /* proxies: as given, then as chosen by finish for the URL and for the health URL */
    const char *proxy_flag; /* --proxy (or the plan's proxy); NULL: the environment decides */
    const char *proxy_flag_source;
    const char *noproxy;
    const char *proxy_user_env;
    wsp_proxy proxy, health_proxy;
    const char *trace_path; /* --trace FILE: opened by the command line (report/trace.h) */
    bool each_address;      /* --each-address, plan key each_address (probe/each.h) */
    char subprotocols[512]; /* --protocol graphql: graphql-transport-ws offered first */
} wsp_probe_setup;

void wsp_probe_setup_init(wsp_probe_setup *s);
/* Frees what the setup owns: steps, TLS context, credentials. */
void wsp_probe_setup_cleanup(wsp_probe_setup *s);

/* Apply option o (one of wsp_probe_opt_tables) with its value (NULL for a flag). `label`
 * names it in messages (NULL: "--NAME"; a plan passes its key path). Returns 0, or -1 with err
 * (class USAGE) filled. */
int wsp_probe_setup_set(wsp_probe_setup *s, const wsp_opt *o, const char *label, const char *arg,
                        wsp_err *err);

/* After the last option: parse `url` (a failure has class URL_INVALID), check the combination
 * (--key needs --cert; one credential source; --auth-in needs credentials; no credential
 * header twice), apply pins and timeouts. With `load` also read the credentials (environment,
 * files), choose the proxy (flag or environment, codec/proxy.h) and read its credentials,
 * build the TLS context (a failure has its TLS class) and the health check; without it
 * only what can be checked without touching the environment or the file system is (a plan's
 * validation of every environment). Returns 0 or -1 with err filled. */
int wsp_probe_setup_finish(wsp_probe_setup *s, const char *url, bool load, wsp_err *err);

/* A finished setup's probe aimed at another URL (the exporter: one module, many targets):
 * `base` (the setup's configuration, or an environment's copy of it) with this URL, its
 * --resolve pins and the proxy chosen for it, and a health check at `health` (a URL, or a path
 * asked of the target's host over http or https as the target is ws or wss; NULL: none). The
 * TLS context, credential and options stay borrowed from base; `t` must outlive the probe made
 * from t->cfg, and t->cfg.conn.proxy points into t. 0, or -1 with err. */
typedef struct wsp_probe_target {
    wsp_probe_config cfg;
    wsp_proxy proxy, health_proxy;
    /* --protocol socketio: the namespace the target's URL path names (cfg.proto.nsp points
     * here then), as the client library reads io("https://host/chat") */
    char nsp[WSP_SIO_NSP_MAX + 1];
} wsp_probe_target;
/* An emit as written ('EVENT JSON': the name up to the first space, then its arguments, a
 * JSON text, placeholders allowed): the name (heap) and the arguments kept as an array (heap,
 * NULL for none; probe.h wsp_step_emit_args). Refused: no name, a reserved Socket.IO name,
 * arguments that are not JSON. `label` names it in errors. 0, or -1 with err (USAGE). */
int wsp_probe_emit_spec(const char *label, const char *arg, char **event, char **args,
                        wsp_err *err);

int wsp_probe_setup_retarget(const wsp_probe_setup *s, const wsp_probe_config *base,
                             const wsp_url *url, const char *health, wsp_probe_target *t,
                             wsp_err *err);

/* A binary message as --send-binary and --expect-binary (and plans) write it: @FILE, hex:...,
 * base64:... (standard or URL-safe, padding optional), and for an expectation also
 * sha256:HEX (then *by_digest and sha256 are set and *out is an empty string). *out is heap
 * (len bytes, NUL after). 0, or -1 with err (USAGE naming `label`). */
int wsp_probe_binary_spec(const char *label, const char *arg, bool expect, char **out, size_t *len,
                          bool *by_digest, uint8_t sha256[32], wsp_err *err);

#endif
