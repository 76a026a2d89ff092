/* setup.c - see setup.h. */
#include "probe/setup.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/evp.h>

#include <jansson.h>

#include "codec/gql.h"
#include "codec/handshake.h"
#include "codec/http.h"
#include "codec/jsonptr.h"
#include "codec/template.h"
#include "codec/ws.h"
#include "util/excerpt.h"
#include "util/files.h"
#include "util/redact.h"

#define MSG_FILE_MAX (16u << 20)

static const char *const tls_versions[] = {"1.0", "1.1", "1.2", "1.3", NULL};
/* what a shell completes for --auth-in (the NAME and PREFIX forms are typed on) */
static const char *const auth_places[] = {
    "header", "query:", "subprotocol", "subprotocol:", "cookie:", "message", NULL};

/* Columns: name, short, type, id, metavar, help, min, max, values, plan key, flags. */
static const wsp_opt conn_opts[] = {
    {"connection:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"header", 'H', WSP_OPT_TEXT, WSP_PROBE_OPT_HEADER, "'Name: value'",
     "extra request header (repeatable)", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"origin", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_ORIGIN, "ORIGIN", "send an Origin header", 0, 0, NULL,
     "origin", 0},
    {"subprotocol", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_SUBPROTOCOL, "LIST",
     "offer subprotocols (comma-separated)", 0, 0, NULL, "subprotocol", 0},
    {"compress", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_COMPRESS, "PARAMS",
     "offer permessage-deflate (RFC 7692), with\nclient_max_window_bits; =PARAMS: exactly these "
     "(e.g.\nclient_no_context_takeover,server_max_window_bits=10)",
     0, 0, NULL, "compress", WSP_OPT_OPTIONAL},
    {"timeout", 0, WSP_OPT_DURATION, WSP_PROBE_OPT_TIMEOUT, "DUR",
     "limit for each phase (default 10s; 250ms, 2s, 1m)", 0, 0, NULL, "timeout", 0},
    {"deadline", 0, WSP_OPT_DURATION, WSP_PROBE_OPT_DEADLINE, "DUR",
     "limit for the whole probe (default 30s)", 0, 0, NULL, "deadline", 0},
    {"resolve", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_RESOLVE, "HOST:PORT:ADDR",
     "use ADDR for HOST:PORT instead of DNS (repeatable)", 0, 0, NULL, "resolve", WSP_OPT_REPEAT},
    {"dns-server", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_DNS_SERVER, "ADDR[:PORT]", "ask this resolver", 0,
     0, NULL, "dns_server", 0},
    {"ipv4", '4', WSP_OPT_FLAG, WSP_PROBE_OPT_IPV4, NULL, "IPv4 only", 0, 0, NULL, NULL, 0},
    {"ipv6", '6', WSP_OPT_FLAG, WSP_PROBE_OPT_IPV6, NULL, "IPv6 only", 0, 0, NULL, NULL, 0},
    {"max-message", 0, WSP_OPT_SIZE, WSP_PROBE_OPT_MAX_MESSAGE, "SIZE",
     "largest message accepted from the server (default 16M)", 1, 1ull << 40, NULL, NULL, 0},
    {"proxy", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_PROXY, "URL",
     "through this proxy: http:// or https:// (CONNECT),\nsocks5:// or socks5h:// (remote "
     "names); \"\" for none.\nDefault: wss_proxy/https_proxy/all_proxy for wss://,\n"
     "ws_proxy/http_proxy/all_proxy for ws:// (lowercase first)",
     0, 0, NULL, "proxy", 0},
    {"noproxy", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_NOPROXY, "LIST",
     "hosts to reach directly: names (and subdomains),\naddresses, CIDRs, * (default: no_proxy, "
     "NO_PROXY)",
     0, 0, NULL, "noproxy", 0},
    {"proxy-user-env", 0, WSP_OPT_ENV, WSP_PROBE_OPT_PROXY_USER_ENV, "VAR",
     "the proxy's user:password from environment variable VAR", 0, 0, NULL, "proxy_user_env", 0},
    {"each-address", 0, WSP_OPT_FLAG, WSP_PROBE_OPT_EACH_ADDRESS, NULL,
     "run the whole probe against every address the name\nresolves to (every A and AAAA, or "
     "each --resolve ADDR):\nOK only when every backend is",
     0, 0, NULL, "each_address", 0},
    {"trace", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_TRACE, "FILE",
     "write every head and frame, each way, as JSON lines\n(redacted): the evidence for a bug "
     "report",
     0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

static const wsp_opt tls_opts[] = {
    {"TLS:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"cacert", 0, WSP_OPT_PATH, WSP_PROBE_OPT_CACERT, "PEM",
     "trust these CAs instead of the system store", 0, 0, NULL, "tls.cacert", 0},
    {"cert", 0, WSP_OPT_PATH, WSP_PROBE_OPT_CERT, "PEM",
     "client certificate (mutual TLS; with --key)", 0, 0, NULL, "tls.cert", 0},
    {"key", 0, WSP_OPT_PATH, WSP_PROBE_OPT_KEY, "PEM", "the client certificate's private key", 0, 0,
     NULL, "tls.key_file", 0},
    {"insecure", 0, WSP_OPT_FLAG, WSP_PROBE_OPT_INSECURE, NULL,
     "do not fail on certificate errors (still reported)", 0, 0, NULL, "tls.insecure", 0},
    {"tls-min", 0, WSP_OPT_ENUM, WSP_PROBE_OPT_TLS_MIN, "1.2|1.3", "lowest TLS version to accept",
     0, 0, tls_versions, "tls.min_version", 0},
    {"min-cert-days", 0, WSP_OPT_COUNT, WSP_PROBE_OPT_MIN_CERT_DAYS, "N",
     "fail (CERT_EXPIRED) when fewer days are left", 0, 100000, NULL, "tls.min_cert_days", 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

static const wsp_opt cred_opts[] = {
    {"credentials (never on the command line: from the environment or a file):", 0, WSP_OPT_HEADING,
     0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"token-env", 0, WSP_OPT_ENV, WSP_PROBE_OPT_TOKEN_ENV, "VAR",
     "a ready token from environment variable VAR", 0, 0, NULL, "auth.token_env", 0},
    {"token-file", 0, WSP_OPT_PATH, WSP_PROBE_OPT_TOKEN_FILE, "FILE",
     "... or from FILE (a mounted secret; read at start and,\nin the exporter, at each reload)", 0,
     0, NULL, "auth.token_file", 0},
    {"auth-in", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_AUTH_IN, "WHERE",
     "header (default: Authorization: Bearer), query:NAME,\nsubprotocol[:PREFIX] (default prefix "
     "bearer.),\ncookie:NAME, or message (a first message)",
     0, 0, auth_places, "auth.in", 0},
    {"auth-message", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_AUTH_MESSAGE, "TEMPLATE",
     "the first message for --auth-in message; {{token}} is the\ntoken (default "
     "{\"type\":\"auth\",\"token\":\"{{token}}\"})",
     0, 0, NULL, "auth.message", 0},
    {"  a token is minted for every connection from:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0,
     NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

static const wsp_opt conv_opts[] = {
    {"conversation (steps run in the order given; placeholders {{uuid}}, {{now}}, {{now_ms}},\n"
     "{{env.NAME}}; in expectations {{sent./pointer}} is the value the previous send carried):",
     0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"send", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_SEND, "TEXT|@FILE", "send a text message", 0, 0, NULL,
     NULL, WSP_OPT_REPEAT},
    {"expect-text", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_EXPECT_TEXT, "TEXT", "a message must equal TEXT",
     0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"send-binary", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_SEND_BINARY, "BYTES",
     "send a binary message: @FILE, hex:0a1b..., base64:...", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"expect-binary", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_EXPECT_BINARY, "BYTES",
     "a binary message must equal BYTES (as --send-binary),\nor have the digest sha256:HEX", 0, 0,
     NULL, NULL, WSP_OPT_REPEAT},
    {"expect-regex", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_EXPECT_REGEX, "RE",
     "a message must match RE (PCRE2, bounded: docs/regex.md)", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"expect-json", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_EXPECT_JSON, "PTR=VALUE",
     "a message whose JSON at PTR (RFC 6901) equals VALUE\n(expectations skip unrelated messages "
     "until the timeout)",
     0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"strict-order", 0, WSP_OPT_FLAG, WSP_PROBE_OPT_STRICT_ORDER, NULL,
     "an expectation judges the very next message instead", 0, 0, NULL, NULL, 0},
    {"ping", 0, WSP_OPT_COUNT, WSP_PROBE_OPT_PING, "N",
     "send N pings (default 1), one after the other, each\nexpecting its pong; the report gives "
     "the round trips",
     1, 100, NULL, NULL, WSP_OPT_REPEAT | WSP_OPT_OPTIONAL},
    {"expect-close", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_EXPECT_CLOSE, "CODES",
     "after the last step the server must close with one of\nCODES (1000,4001,...); without it any "
     "server close\nbefore the conversation is over fails (WS_CLOSED)",
     0, 0, NULL, NULL, 0},
    {"pong-timeout", 0, WSP_OPT_DURATION, WSP_PROBE_OPT_PONG_TIMEOUT, "DUR",
     "limit for --ping (default: --timeout)", 0, 0, NULL, NULL, 0},
    {"health", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_HEALTH, "URL",
     "also GET this http(s) URL; it must answer 2xx", 0, 0, NULL, "health", 0},
    {"expect-auth-required", 0, WSP_OPT_FLAG, WSP_PROBE_OPT_EXPECT_AUTH_REQUIRED, NULL,
     "pass when the endpoint refuses this client (401/403, or\nclose 1008/4001-4003 before any "
     "reply); fail with\nAUTH_NOT_ENFORCED (exit 60) when it serves it",
     0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

static const char *const protocols[] = {"socketio", "graphql", NULL};
static const char *const eio_versions[] = {"4", "3", NULL};

static const wsp_opt proto_opts[] = {
    {"the protocol on top (docs/protocols.md; an --expect-json after --expect-event or\n"
     "--emit-ack judges the arguments as a JSON array, after --subscribe each value's payload):",
     0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"protocol", 0, WSP_OPT_ENUM, WSP_PROBE_OPT_PROTOCOL, "socketio|graphql",
     "speak Socket.IO (v3/v4; v2 with --engineio 3) or GraphQL\nover graphql-transport-ws: "
     "its handshake, pings and packets",
     0, 0, protocols, "protocol", 0},
    {"namespace", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_NAMESPACE, "/NAME",
     "Socket.IO namespace (default /, or the URL's path)", 0, 0, NULL, "namespace", 0},
    {"socketio-path", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_SIO_PATH, "PATH",
     "the server's Engine.IO path (default /socket.io/)", 0, 0, NULL, "socketio_path", 0},
    {"engineio", 0, WSP_OPT_ENUM, WSP_PROBE_OPT_ENGINEIO, "4|3",
     "Engine.IO version (3: Socket.IO v2 servers)", 0, 0, eio_versions, "engineio", 0},
    {"connect-payload", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_CONNECT_PAYLOAD, "JSON|@FILE",
     "the namespace CONNECT's auth or connection_init's payload\n(a JSON object; the token is "
     "added with --auth-in\nsocketio-auth[:KEY] or init-payload[:KEY])",
     0, 0, NULL, "connect_payload", 0},
    {"emit", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_EMIT, "'EVENT JSON'",
     "emit EVENT with these arguments (an array: several)", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"emit-ack", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_EMIT_ACK, "'EVENT JSON'",
     "emit and wait for the ack (correlated by its id)", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"expect-event", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_EXPECT_EVENT, "EVENT",
     "an event named EVENT must come (others skipped)", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"subscribe", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_SUBSCRIBE, "QUERY|@FILE",
     "GraphQL: subscribe (or query) with this document", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"variables", 0, WSP_OPT_TEXT, WSP_PROBE_OPT_VARIABLES, "JSON|@FILE",
     "the variables of the --subscribe before it", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"expect-complete", 0, WSP_OPT_FLAG, WSP_PROBE_OPT_EXPECT_COMPLETE, NULL,
     "the subscription must complete", 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

const wsp_opt *const wsp_probe_opt_tables[] = {conn_opts, tls_opts,   cred_opts, wsp_jwt_opt_table,
                                               conv_opts, proto_opts, NULL};

void wsp_probe_setup_init(wsp_probe_setup *s)
{
    memset(s, 0, sizeof *s);
    wsp_probe_config_init(&s->cfg);
    wsp_auth_init(&s->auth);
}

void wsp_probe_setup_cleanup(wsp_probe_setup *s)
{
    wsp_probe_config_cleanup(&s->cfg);
    SSL_CTX_free(s->cfg.conn.tls_ctx);
    s->cfg.conn.tls_ctx = NULL;
    wsp_auth_cleanup(&s->auth);
    wsp_jwt_config_free(s->jwt);
    s->jwt = NULL;
    free(s->token_env);
    free(s->auth_message);
    s->token_env = s->auth_message = NULL;
    wsp_proto_config_cleanup(&s->cfg.proto);
}

static void step_free(wsp_step *step)
{
    free(step->text);
    free(step->pointer);
    free(step->value_json);
    wsp_regex_free(step->re);
}

static int add_step(wsp_probe_setup *s, wsp_step *step, wsp_err *err)
{
    if (wsp_probe_config_add_step(&s->cfg, step) == 0)
        return 0;
    step_free(step);
    return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
}

static int bad(wsp_err *err, const char *label, const char *arg, const char *why)
{
    return wsp_err_set(err, WSP_CLASS_USAGE, "%s '%.120s': %s", label, arg, why);
}

/* A value bound for the request head may hold no CR, LF or other control byte (RFC 9110 5.5):
 * refused at parse time, before any connection, with the byte named and the value shown with
 * '.' in its place. */
static int check_value(const char *label, const char *arg, const char *what, wsp_err *err)
{
    const char *b = wsp_http_bad_value_byte(arg);
    if (!b)
        return 0;
    char shown[128];
    wsp_excerpt(shown, sizeof shown, arg, strlen(arg));
    unsigned char c = (unsigned char)*b;
    return wsp_err_set(err, WSP_CLASS_USAGE,
                       "%s '%s': byte 0x%02x%s at offset %zu: %s may hold no CR, LF or other "
                       "control byte",
                       label, shown, c,
                       c == '\r'   ? " (CR)"
                       : c == '\n' ? " (LF)"
                                   : "",
                       (size_t)(b - arg), what);
}

static int set_header(wsp_probe_setup *s, const char *label, const char *arg, wsp_err *err)
{
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        return bad(err, label, arg, "expected 'Name: value'");
    if (check_value(label, arg, "a header", err) != 0)
        return -1;
    for (const char *c = arg; c < colon; c++)
        if (!(*c > 32 && *c < 127) || strchr("()<>@,;\\\"/[]?={}", *c))
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s: '%.*s' is not a header name", label,
                               (int)(colon - arg), arg);
    const char *advice = wsp_hs_reserved_header(arg);
    if (advice)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s '%.*s: ...': wsprobe writes this header itself: %s", label,
                           (int)(colon - arg), arg, advice);
    /* room is kept for the credential's header */
    if (s->cfg.conn.num_headers >= WSP_CONN_MAX_HEADERS - 4)
        return bad(err, label, arg, "too many headers");
    s->cfg.conn.headers[s->cfg.conn.num_headers++] = arg;
    return 0;
}

/* Hex digits (whitespace between bytes allowed) into out (which has room for strlen(s)/2).
 * 0, or -1 when a digit is not hex or one is left over. */
static int hex_decode(const char *s, uint8_t *out, size_t *n)
{
    *n = 0;
    int hi = -1;
    for (; *s; s++) {
        if (*s == ' ' || *s == ':')
            continue;
        int v = *s >= '0' && *s <= '9'   ? *s - '0'
                : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
                                         : -1;
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
        } else {
            out[(*n)++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? 0 : -1;
}

/* A binary message as written on the command line or in a plan: @FILE (its bytes, within
 * MSG_FILE_MAX), hex:..., or base64:... (standard or URL-safe, padding optional). */
static int bytes_spec(const char *label, const char *arg, char **out, size_t *len, wsp_err *err)
{
    if (arg[0] == '@') {
        *out = wsp_file_read(label, arg + 1, MSG_FILE_MAX, 0, len, err);
        return *out ? 0 : -1;
    }
    size_t al = strlen(arg);
    *out = malloc(al + 1);
    if (!*out)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    if (strncmp(arg, "hex:", 4) == 0) {
        if (hex_decode(arg + 4, (uint8_t *)*out, len) == 0)
            return 0;
        free(*out);
        *out = NULL;
        return bad(err, label, arg, "hex: needs pairs of hex digits");
    }
    if (strncmp(arg, "base64:", 7) == 0) {
        /* OpenSSL's decoder wants the standard alphabet with padding */
        size_t bl = al - 7;
        char *b = calloc(1, bl + 4);
        if (!b) {
            free(*out);
            *out = NULL;
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        }
        size_t k = 0;
        bool okc = true;
        for (size_t i = 0; i < bl; i++) {
            char ch = arg[7 + i];
            ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
            okc &= (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                   (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=';
            b[k++] = ch;
        }
        while (k % 4)
            b[k++] = '=';
        int n = okc ? EVP_DecodeBlock((unsigned char *)*out, (const unsigned char *)b, (int)k) : -1;
        if (n >= 0) /* EVP_DecodeBlock counts the padding's zero bytes too */
            for (size_t i = k; i > 0 && b[i - 1] == '='; i--)
                n--;
        free(b);
        if (n >= 0) {
            *len = (size_t)n;
            return 0;
        }
        free(*out);
        *out = NULL;
        return bad(err, label, arg, "base64: is not base64");
    }
    free(*out);
    *out = NULL;
    return bad(err, label, arg, "expected @FILE, hex:... or base64:...");
}

int wsp_probe_binary_spec(const char *label, const char *arg, bool expect, char **out, size_t *len,
                          bool *by_digest, uint8_t sha256[32], wsp_err *err)
{
    *by_digest = false;
    if (expect && strncmp(arg, "sha256:", 7) == 0) {
        size_t n = 0;
        if (strlen(arg + 7) != 64 || hex_decode(arg + 7, sha256, &n) != 0 || n != 32)
            return bad(err, label, arg, "expected sha256: and 64 hex digits");
        *by_digest = true;
        *len = 0;
        *out = strdup("");
        return *out ? 0 : wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    return bytes_spec(label, arg, out, len, err);
}

static int set_step(wsp_probe_setup *s, int id, const char *label, const char *arg, wsp_err *err)
{
    wsp_step step;
    memset(&step, 0, sizeof step);
    switch (id) {
    case WSP_PROBE_OPT_SEND:
    case WSP_PROBE_OPT_EXPECT_TEXT:
        step.kind = id == WSP_PROBE_OPT_SEND ? WSP_STEP_SEND : WSP_STEP_EXPECT_TEXT;
        step.text = wsp_file_text_or_at(label, arg, MSG_FILE_MAX, &step.len, err);
        if (!step.text)
            return -1;
        if (wsp_tmpl_check(step.text, id != WSP_PROBE_OPT_SEND, label, getenv, err) != 0) {
            free(step.text);
            return -1;
        }
        break;
    case WSP_PROBE_OPT_EXPECT_REGEX: {
        step.kind = WSP_STEP_EXPECT_REGEX;
        wsp_err e;
        step.re = wsp_regex_new(arg, &e);
        if (!step.re)
            return e.cls == WSP_CLASS_USAGE ? bad(err, label, arg, e.msg)
                                            : wsp_err_set(err, e.cls, "%s", e.msg);
        step.text = strdup(arg);
        if (!step.text) {
            wsp_regex_free(step.re);
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        }
        step.len = strlen(arg);
        break;
    }
    case WSP_PROBE_OPT_SEND_BINARY:
    case WSP_PROBE_OPT_EXPECT_BINARY:
        step.kind = id == WSP_PROBE_OPT_SEND_BINARY ? WSP_STEP_SEND_BINARY : WSP_STEP_EXPECT_BINARY;
        if (wsp_probe_binary_spec(label, arg, id == WSP_PROBE_OPT_EXPECT_BINARY, &step.text,
                                  &step.len, &step.by_digest, step.sha256, err) != 0)
            return -1;
        break;
    case WSP_PROBE_OPT_EXPECT_JSON: {
        const char *eq = strchr(arg, '=');
        step.kind = WSP_STEP_EXPECT_JSON;
        if (!eq)
            return bad(err, label, arg, "expected /pointer=VALUE");
        step.pointer = strndup(arg, (size_t)(eq - arg));
        if (!step.pointer || !wsp_jsonptr_valid(step.pointer)) {
            free(step.pointer);
            return bad(err, label, arg, "the pointer must be empty or start with '/' (RFC 6901)");
        }
        /* VALUE is kept as written: placeholders are filled when a message arrives, then it
         * is JSON if it parses as JSON, else a string (probe.c) */
        if (wsp_tmpl_check(eq + 1, true, label, getenv, err) != 0) {
            free(step.pointer);
            return -1;
        }
        step.value_json = strdup(eq + 1);
        break;
    }
    default: { /* WSP_PROBE_OPT_PING: N steps (the range is the option's, 1 to 100) */
        unsigned long n = arg ? strtoul(arg, NULL, 10) : 1;
        for (unsigned long i = 0; i < n; i++) {
            step.kind = WSP_STEP_PING;
            if (add_step(s, &step, err) != 0)
                return -1;
            memset(&step, 0, sizeof step);
        }
        return 0;
    }
    }
    return add_step(s, &step, err);
}

/* A JSON text of the kind asked for (an object; any value), placeholders allowed: checked
 * as JSON with each {{...}} standing for a string. 0, or -1 with err (USAGE). */
static int json_arg(const char *label, const char *arg, const char *json, bool object, wsp_err *err)
{
    if (wsp_tmpl_check(json, false, label, getenv, err) != 0)
        return -1;
    if (wsp_tmpl_has_vars(json))
        return 0; /* judged once filled in, when sent */
    json_error_t je;
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    bool ok = v && (!object || json_is_object(v));
    json_decref(v);
    if (ok)
        return 0;
    char why[200];
    snprintf(why, sizeof why, "%s%s%s", object ? "not a JSON object" : "not JSON", v ? "" : ": ",
             v ? "" : je.text);
    return bad(err, label, arg, why);
}

int wsp_probe_emit_spec(const char *label, const char *arg, char **event, char **args, wsp_err *err)
{
    *event = *args = NULL;
    size_t nl = strcspn(arg, " ");
    if (nl == 0)
        return bad(err, label, arg, "expected 'EVENT JSON' (the event's name first)");
    const char *json = arg[nl] ? arg + nl + 1 : "";
    while (*json == ' ')
        json++;
    if (*json && json_arg(label, arg, json, false, err) != 0)
        return -1;
    *event = strndup(arg, nl);
    *args = *json ? wsp_step_emit_args(json) : NULL;
    if (!*event || (*json && !*args)) {
        free(*event);
        free(*args);
        *event = *args = NULL;
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    if (wsp_sio_reserved(*event)) {
        free(*event);
        free(*args);
        *event = *args = NULL;
        return bad(err, label, arg,
                   "a reserved Socket.IO event name (the client library refuses to emit it)");
    }
    return 0;
}

/* --emit and --emit-ack 'EVENT JSON'. */
static int set_emit(wsp_probe_setup *s, int id, const char *label, const char *arg, wsp_err *err)
{
    wsp_step step = {.kind = id == WSP_PROBE_OPT_EMIT ? WSP_STEP_EMIT : WSP_STEP_EMIT_ACK};
    if (wsp_probe_emit_spec(label, arg, &step.text, &step.value_json, err) != 0)
        return -1;
    step.len = strlen(step.text);
    return add_step(s, &step, err);
}

static int set_proto_step(wsp_probe_setup *s, int id, const char *label, const char *arg,
                          wsp_err *err)
{
    wsp_step step = {0};
    size_t len = 0;
    switch (id) {
    case WSP_PROBE_OPT_EMIT:
    case WSP_PROBE_OPT_EMIT_ACK:
        return set_emit(s, id, label, arg, err);
    case WSP_PROBE_OPT_EXPECT_EVENT:
        if (!*arg)
            return bad(err, label, arg, "an empty event name");
        step.kind = WSP_STEP_EXPECT_EVENT;
        step.text = strdup(arg);
        break;
    case WSP_PROBE_OPT_SUBSCRIBE:
        step.kind = WSP_STEP_SUBSCRIBE;
        step.text = wsp_file_text_or_at(label, arg, MSG_FILE_MAX, &len, err);
        if (!step.text)
            return -1;
        if (!len || strlen(step.text) != len) {
            free(step.text);
            return bad(err, label, arg, "expected a GraphQL document (text, no NUL byte)");
        }
        break;
    case WSP_PROBE_OPT_VARIABLES: {
        wsp_step *last = s->cfg.num_steps ? &s->cfg.steps[s->cfg.num_steps - 1] : NULL;
        if (!last || last->kind != WSP_STEP_SUBSCRIBE || last->value_json)
            return bad(err, label, arg, "goes right after the --subscribe it belongs to");
        char *v = wsp_file_text_or_at(label, arg, MSG_FILE_MAX, &len, err);
        if (!v)
            return -1;
        if (json_arg(label, arg, v, true, err) != 0) {
            free(v);
            return -1;
        }
        last->value_json = v;
        return 0;
    }
    default: /* WSP_PROBE_OPT_EXPECT_COMPLETE */
        step.kind = WSP_STEP_EXPECT_COMPLETE;
        return add_step(s, &step, err);
    }
    if (!step.text)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    step.len = strlen(step.text);
    return add_step(s, &step, err);
}

static int set_proto(wsp_probe_setup *s, int id, const char *label, const char *arg,
                     const wsp_opt_value *v, wsp_err *err)
{
    wsp_proto_config *pc = &s->cfg.proto;
    char **slot = NULL;
    switch (id) {
    case WSP_PROBE_OPT_PROTOCOL:
        pc->kind = v->u == 0 ? WSP_PROTO_SOCKETIO : WSP_PROTO_GRAPHQL;
        return 0;
    case WSP_PROBE_OPT_ENGINEIO:
        pc->eio = v->u == 0 ? 4 : 3;
        return 0;
    case WSP_PROBE_OPT_NAMESPACE:
        slot = &pc->nsp;
        break;
    case WSP_PROBE_OPT_SIO_PATH:
        slot = &pc->path;
        break;
    default: { /* WSP_PROBE_OPT_CONNECT_PAYLOAD */
        size_t len = 0;
        char *t = wsp_file_text_or_at(label, arg, MSG_FILE_MAX, &len, err);
        if (!t)
            return -1;
        json_error_t je;
        json_t *o = json_loads(t, JSON_REJECT_DUPLICATES, &je);
        bool ok = json_is_object(o);
        json_decref(o);
        if (!ok) {
            free(t);
            return bad(err, label, arg, "expected a JSON object");
        }
        free(pc->connect_payload);
        pc->connect_payload = t;
        return 0;
    }
    }
    free(*slot);
    *slot = strdup(arg);
    return *slot ? 0 : wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
}

int wsp_probe_setup_set(wsp_probe_setup *s, const wsp_opt *o, const char *label, const char *arg,
                        wsp_err *err)
{
    char lb[96];
    if (!label) {
        snprintf(lb, sizeof lb, "--%s", o->name);
        label = lb;
    }
    wsp_opt_value v;
    if (wsp_opt_parse(o, label, arg, &v, err) != 0)
        return -1;
    wsp_conn_opts *c = &s->cfg.conn;
    switch (o->id) {
    case WSP_PROBE_OPT_HEADER:
        return set_header(s, label, arg, err);
    case WSP_PROBE_OPT_ORIGIN:
        if (!*arg)
            return bad(err, label, arg, "empty (leave it out to send no Origin)");
        if (check_value(label, arg, "an Origin", err) != 0)
            return -1;
        c->origin = arg;
        return 0;
    case WSP_PROBE_OPT_SUBPROTOCOL: {
        const char *tok;
        size_t tl;
        if (check_value(label, arg, "a subprotocol list", err) != 0)
            return -1;
        if (!wsp_http_token_list_ok(arg, &tok, &tl))
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "%s '%.120s': '%.*s' is not a subprotocol (RFC 6455 4.1: each is "
                               "a token of letters, digits and !#$%%&'*+-.^_`|~, comma-separated)",
                               label, arg, (int)(tl > 60 ? 60 : tl), tok);
        c->subprotocols = arg;
        return 0;
    }
    case WSP_PROBE_OPT_TIMEOUT:
        c->timeout_us = v.u;
        return 0;
    case WSP_PROBE_OPT_DEADLINE:
        c->deadline_us = v.u;
        return 0;
    case WSP_PROBE_OPT_PONG_TIMEOUT:
        s->cfg.pong_timeout_us = v.u;
        return 0;
    case WSP_PROBE_OPT_RESOLVE:
        if (s->npins >= WSP_PROBE_SETUP_MAX_PINS)
            return bad(err, label, arg, "at most 8 pins");
        if (wsp_dns_pin_parse(arg, &s->pins[s->npins]) != 0)
            return bad(err, label, arg, "expected HOST:PORT:ADDR[,ADDR]");
        s->npins++;
        return 0;
    case WSP_PROBE_OPT_DNS_SERVER:
        if (wsp_dns_servers_valid(arg) != 0)
            return bad(err, label, arg, "expected ADDR[:PORT]");
        c->dns_servers = arg;
        return 0;
    case WSP_PROBE_OPT_IPV4:
    case WSP_PROBE_OPT_IPV6:
        c->family = o->id == WSP_PROBE_OPT_IPV4 ? AF_INET : AF_INET6;
        return 0;
    case WSP_PROBE_OPT_MAX_MESSAGE:
        c->limits.max_message = c->limits.max_frame = v.u;
        return 0;
    case WSP_PROBE_OPT_COMPRESS: {
        char why[256];
        if (!arg) {
            wsp_pmd_default_offer(&c->compress_params);
        } else if (!*arg) {
            return bad(err, label, arg,
                       "an empty list (give RFC 7692 parameters, or --compress alone)");
        } else if (wsp_pmd_parse_params(arg, &c->compress_params, why, sizeof why) != 0) {
            return bad(err, label, arg, why);
        }
        c->compress = true;
        return 0;
    }
    case WSP_PROBE_OPT_PROXY: {
        wsp_proxy check;
        if (*arg && wsp_proxy_parse(arg, label, false, &check, err) != 0)
            return -1;
        s->proxy_flag = arg;
        s->proxy_flag_source = strncmp(label, "--", 2) == 0 ? "--proxy" : "plan";
        return 0;
    }
    case WSP_PROBE_OPT_NOPROXY:
        s->noproxy = arg;
        return 0;
    case WSP_PROBE_OPT_PROXY_USER_ENV:
        s->proxy_user_env = arg;
        return 0;
    case WSP_PROBE_OPT_EACH_ADDRESS:
        s->each_address = true;
        return 0;
    case WSP_PROBE_OPT_TRACE:
        if (!*arg)
            return bad(err, label, arg, "an empty path");
        s->trace_path = arg;
        return 0;
    case WSP_PROBE_OPT_CACERT:
        s->tls.cacert = arg;
        return 0;
    case WSP_PROBE_OPT_CERT:
        s->tls.cert = arg;
        return 0;
    case WSP_PROBE_OPT_KEY:
        s->tls.key = arg;
        return 0;
    case WSP_PROBE_OPT_INSECURE:
        s->tls.insecure = true;
        c->tls_verify = false;
        return 0;
    case WSP_PROBE_OPT_TLS_MIN:
        s->tls.min_version = wsp_tls_version_parse(arg);
        return 0;
    case WSP_PROBE_OPT_MIN_CERT_DAYS:
        c->min_cert_days = (int)v.u;
        return 0;
    case WSP_PROBE_OPT_TOKEN_ENV:
        free(s->token_env);
        s->token_env = strdup(arg);
        return s->token_env ? 0 : wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    case WSP_PROBE_OPT_TOKEN_FILE:
        s->token_file = arg;
        return 0;
    case WSP_PROBE_OPT_AUTH_IN:
        return wsp_auth_set_in(&s->auth, arg, err);
    case WSP_PROBE_OPT_AUTH_MESSAGE:
        if (!strstr(arg, "{{token}}"))
            return bad(err, label, arg, "expected a template with {{token}}");
        free(s->auth_message);
        s->auth_message = strdup(arg);
        return s->auth_message ? 0 : wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    case WSP_PROBE_OPT_SEND:
    case WSP_PROBE_OPT_EXPECT_TEXT:
    case WSP_PROBE_OPT_EXPECT_REGEX:
    case WSP_PROBE_OPT_EXPECT_JSON:
    case WSP_PROBE_OPT_PING:
    case WSP_PROBE_OPT_SEND_BINARY:
    case WSP_PROBE_OPT_EXPECT_BINARY:
        return set_step(s, o->id, label, arg, err);
    case WSP_PROBE_OPT_STRICT_ORDER:
        s->cfg.strict_order = true;
        return 0;
    case WSP_PROBE_OPT_EXPECT_CLOSE: {
        const char *why;
        int n = wsp_ws_close_codes_parse(arg, s->cfg.expect_close, WSP_PROBE_MAX_CLOSE_CODES, &why);
        if (n < 0)
            return bad(err, label, arg, why);
        s->cfg.num_expect_close = (size_t)n;
        return 0;
    }
    case WSP_PROBE_OPT_HEALTH:
        s->health = arg;
        return 0;
    case WSP_PROBE_OPT_EXPECT_AUTH_REQUIRED:
        s->cfg.expect_auth_required = true;
        return 0;
    case WSP_PROBE_OPT_PROTOCOL:
    case WSP_PROBE_OPT_NAMESPACE:
    case WSP_PROBE_OPT_SIO_PATH:
    case WSP_PROBE_OPT_ENGINEIO:
    case WSP_PROBE_OPT_CONNECT_PAYLOAD:
        return set_proto(s, o->id, label, arg, &v, err);
    case WSP_PROBE_OPT_EMIT:
    case WSP_PROBE_OPT_EMIT_ACK:
    case WSP_PROBE_OPT_EXPECT_EVENT:
    case WSP_PROBE_OPT_SUBSCRIBE:
    case WSP_PROBE_OPT_VARIABLES:
    case WSP_PROBE_OPT_EXPECT_COMPLETE:
        return set_proto_step(s, o->id, label, arg, err);
    case WSP_JWT_OPT_ID: {
        if (!s->jwt && !(s->jwt = wsp_jwt_config_new()))
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        char name[64];
        snprintf(name, sizeof name, "--%s", o->name);
        return wsp_jwt_config_set(s->jwt, name, arg, err);
    }
    default:
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "--%s is not a probe option", o->name);
    }
}

/* Nothing is sent twice: a credential header of -H beside the one wsprobe places. */
static int header_clash(const wsp_probe_setup *s, wsp_err *err)
{
    for (size_t i = 0; s->cfg.auth && i < s->cfg.conn.num_headers; i++) {
        const char *h = s->cfg.conn.headers[i];
        size_t n = strcspn(h, ":");
        bool clash =
            (s->auth.in == WSP_AUTH_IN_HEADER && n == 13 &&
             strncasecmp(h, "Authorization", 13) == 0) ||
            (s->auth.in == WSP_AUTH_IN_COOKIE && n == 6 && strncasecmp(h, "Cookie", 6) == 0);
        if (clash)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--header '%.*s: ...' and the credential option would send two "
                               "%.*s headers: give one (the credential options place the token "
                               "themselves; --auth-in says where)",
                               (int)n, h, (int)n, h);
    }
    return 0;
}

static int credentials(wsp_probe_setup *s, bool load, wsp_err *err)
{
    if ((s->token_env != NULL) + (s->token_file != NULL) + (s->jwt != NULL) > 1)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--token-env, --token-file and --jwt-* options are sources of "
                           "credentials: give one");
    bool have = s->token_env || s->token_file || s->jwt;
    if (s->auth_message && s->auth.in != WSP_AUTH_IN_MESSAGE)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--auth-message needs --auth-in message");
    wsp_proto_kind pk = s->cfg.proto.kind;
    if (s->auth.in == WSP_AUTH_IN_MESSAGE && pk != WSP_PROTO_NONE)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--auth-in message under --protocol %s: a raw first message would "
                           "break the protocol; use --auth-in %s",
                           wsp_proto_kind_name(pk),
                           pk == WSP_PROTO_SOCKETIO ? "socketio-auth[:KEY]" : "init-payload[:KEY]");
    if (s->auth.in == WSP_AUTH_IN_SOCKETIO_AUTH && pk != WSP_PROTO_SOCKETIO)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--auth-in socketio-auth needs --protocol socketio");
    if (s->auth.in == WSP_AUTH_IN_INIT_PAYLOAD && pk != WSP_PROTO_GRAPHQL)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--auth-in init-payload needs --protocol graphql");
    if (s->auth.in == WSP_AUTH_IN_SOCKETIO_AUTH && s->cfg.proto.eio == 3)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--auth-in socketio-auth with --engineio 3: Socket.IO v2 has no auth "
                           "payload; v2 clients send the token in the query (--auth-in "
                           "query:token)");
    if (s->auth.in == WSP_AUTH_IN_SOCKETIO_AUTH || s->auth.in == WSP_AUTH_IN_INIT_PAYLOAD) {
        free(s->cfg.proto.token_key);
        if (!(s->cfg.proto.token_key = strdup(s->auth.name)))
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    if (s->auth.in != WSP_AUTH_IN_HEADER && !have)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--auth-in needs credentials (--token-env, --token-file or "
                           "--jwt-secret-env, --jwt-secret-file, --jwt-key-file)");
    if (!load)
        return 0;
    if (s->token_env && wsp_auth_set_token_env(&s->auth, s->token_env, err) != 0)
        return -1;
    if (s->token_file && wsp_auth_set_token_file(&s->auth, s->token_file, err) != 0)
        return -1;
    if (s->jwt) {
        if (wsp_jwt_config_load(s->jwt, err) != 0)
            return -1;
        wsp_auth_set_jwt(&s->auth, s->jwt);
        s->jwt = NULL; /* now owned by auth */
    }
    if (s->auth_message) {
        free(s->auth.message);
        s->auth.message = s->auth_message;
        s->auth_message = NULL;
    }
    if (wsp_auth_active(&s->auth))
        s->cfg.auth = &s->auth;
    return header_clash(s, err);
}

static const char *env_get(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

/* Choose the proxy for one URL and give it the credentials of --proxy-user-env, which win
 * over a user:password in a proxy variable's URL. Secrets are registered for redaction. */
static int choose_proxy(const wsp_probe_setup *s, const wsp_url *u, wsp_proxy *p, wsp_err *err)
{
    wsp_proxy_settings ps = {.flag = s->proxy_flag,
                             .flag_source = s->proxy_flag_source ? s->proxy_flag_source : "",
                             .noproxy = s->noproxy,
                             .env = env_get};
    if (wsp_proxy_select(u, &ps, p, err) != 0)
        return -1;
    if (p->kind != WSP_PROXY_NONE && s->proxy_user_env) {
        const char *v = getenv(s->proxy_user_env);
        const char *colon = v ? strchr(v, ':') : NULL;
        if (!v || !*v)
            return wsp_err_set(err, WSP_CLASS_USAGE, "--proxy-user-env %s: the variable is not set",
                               s->proxy_user_env);
        size_t n = strlen(v);
        if (n && v[n - 1] == '\n')
            n--;
        if (!colon || colon == v || (size_t)(colon - v) > WSP_PROXY_CRED_MAX ||
            n - (size_t)(colon - v) - 1 > WSP_PROXY_CRED_MAX)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--proxy-user-env %s: the value must be user:password (each at "
                               "most %d bytes)",
                               s->proxy_user_env, WSP_PROXY_CRED_MAX);
        snprintf(p->user, sizeof p->user, "%.*s", (int)(colon - v), v);
        snprintf(p->pass, sizeof p->pass, "%.*s", (int)(n - (size_t)(colon - v) - 1), colon + 1);
        snprintf(p->cred_source, sizeof p->cred_source, "%s", s->proxy_user_env);
        p->has_credentials = true;
    }
    if (p->has_credentials) {
        /* the password, user:password and the Basic token: none may reach a report */
        char pair[2 * WSP_PROXY_CRED_MAX + 2], b64[4 * ((sizeof pair + 2) / 3) + 1];
        int pl = snprintf(pair, sizeof pair, "%s:%s", p->user, p->pass);
        int bl = wsp_proxy_basic_token(p, b64, sizeof b64);
        wsp_redact_register(p->pass, strlen(p->pass));
        wsp_redact_register(pair, (size_t)pl);
        if (bl > 0)
            wsp_redact_register(b64, (size_t)bl);
        memset(pair, 0, sizeof pair);
        memset(b64, 0, sizeof b64);
    }
    return 0;
}

/* Whether the chosen proxy is worth a record: used, or configured and bypassed. */
static const wsp_proxy *proxy_or_null(const wsp_proxy *p)
{
    return p->kind != WSP_PROXY_NONE || p->source[0] ? p : NULL;
}

/* The health check of cfg (its health_url parsed): the probe's connection options over HTTP,
 * with the health URL's own pins and proxy. */
static void aim_health(const wsp_probe_setup *s, wsp_probe_config *cfg, const wsp_proxy *proxy)
{
    cfg->has_health = true;
    cfg->health_conn = cfg->conn;
    cfg->health_conn.url = &cfg->health_url;
    cfg->health_conn.http_only = true;
    cfg->health_conn.pinned = NULL;
    cfg->health_conn.num_pinned = 0;
    cfg->health_conn.trace = NULL;
    cfg->health_conn.proxy = proxy_or_null(proxy);
    wsp_probe_conn_pin(&cfg->health_conn, &cfg->health_url, s->pins, s->npins);
}

/* The protocol's part of finishing: its options only with it, the URL shaped as the client
 * library shapes it, GraphQL's subprotocol offered, the steps a conversation of it. */
static int finish_proto(wsp_probe_setup *s, wsp_err *err)
{
    wsp_proto_config *pc = &s->cfg.proto;
    if (pc->kind != WSP_PROTO_SOCKETIO && (pc->nsp || pc->path || pc->eio))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--namespace, --socketio-path and --engineio need --protocol socketio");
    if (pc->kind == WSP_PROTO_NONE && pc->connect_payload)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--connect-payload needs --protocol");
    if (pc->kind == WSP_PROTO_SOCKETIO && pc->eio == 3 && pc->connect_payload)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--connect-payload with --engineio 3: Socket.IO v2 has no auth payload");
    if (wsp_proto_shape_url(pc, &s->cfg.url, err) != 0)
        return -1;
    if (pc->kind == WSP_PROTO_GRAPHQL) {
        const char *user = s->cfg.conn.subprotocols;
        bool has = false;
        for (const char *t = user; t && *t;) {
            t += strspn(t, " ,");
            size_t n = strcspn(t, " ,");
            has |= n == strlen(WSP_GQL_SUBPROTOCOL) && strncmp(t, WSP_GQL_SUBPROTOCOL, n) == 0;
            t += n;
        }
        if (!has) {
            /* the legacy name too, so that a subscriptions-transport-ws server shows itself
             * by choosing it (and is reported as such) instead of refusing the upgrade */
            int n =
                snprintf(s->subprotocols, sizeof s->subprotocols, "%s, %s%s%s", WSP_GQL_SUBPROTOCOL,
                         WSP_GQL_LEGACY_SUBPROTOCOL, user ? ", " : "", user ? user : "");
            if (n < 0 || (size_t)n >= sizeof s->subprotocols)
                return wsp_err_set(err, WSP_CLASS_USAGE, "--subprotocol: too long");
            s->cfg.conn.subprotocols = s->subprotocols;
        }
    }
    return wsp_probe_steps_check(&s->cfg, err);
}

int wsp_probe_setup_finish(wsp_probe_setup *s, const char *url, bool load, wsp_err *err)
{
    if (wsp_url_parse(url, &s->cfg.url, 0, err) != 0)
        return -1;
    if (finish_proto(s, err) != 0)
        return -1;
    if (s->tls.key && !s->tls.cert)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--key needs --cert");
    if (s->tls.cert && !s->tls.key)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--cert needs --key");
    wsp_url health;
    if (s->health && wsp_url_parse(s->health, load ? &s->cfg.health_url : &health,
                                   WSP_URL_ALLOW_HTTP, err) != 0) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        return wsp_err_set(err, WSP_CLASS_USAGE, "--health '%.200s': %s", s->health, m);
    }
    wsp_probe_config_finish(&s->cfg, s->pins, s->npins);
    if (credentials(s, load, err) != 0)
        return -1;
    if (!load)
        return 0;
    if (choose_proxy(s, &s->cfg.url, &s->proxy, err) != 0 ||
        (s->health && choose_proxy(s, &s->cfg.health_url, &s->health_proxy, err) != 0))
        return -1;
    s->cfg.conn.proxy = proxy_or_null(&s->proxy);
    if (s->cfg.conn.url->tls || (s->health && s->cfg.health_url.tls) ||
        s->proxy.kind == WSP_PROXY_HTTPS || s->health_proxy.kind == WSP_PROXY_HTTPS) {
        s->cfg.conn.tls_ctx = wsp_tls_client_ctx_new(&s->tls, err);
        if (!s->cfg.conn.tls_ctx)
            return -1;
    }
    if (s->health)
        aim_health(s, &s->cfg, &s->health_proxy);
    return 0;
}

int wsp_probe_setup_retarget(const wsp_probe_setup *s, const wsp_probe_config *base,
                             const wsp_url *url, const char *health, wsp_probe_target *t,
                             wsp_err *err)
{
    memset(t, 0, sizeof *t);
    wsp_probe_config *c = &t->cfg;
    *c = *base;
    c->url = *url;
    c->conn.url = &c->url;
    c->conn.pinned = NULL;
    c->conn.num_pinned = 0;
    c->has_health = false;
    if (c->proto.kind == WSP_PROTO_SOCKETIO) {
        /* the target's URL shaped as the command line's is; a namespace it names is the
         * target's own (copied here: the configuration's strings stay the setup's) */
        wsp_proto_config pc = base->proto;
        int rc = wsp_proto_shape_url(&pc, &c->url, err);
        if (pc.nsp != base->proto.nsp) {
            snprintf(t->nsp, sizeof t->nsp, "%s", pc.nsp);
            free(pc.nsp);
            c->proto.nsp = t->nsp;
        }
        if (rc != 0)
            return -1;
        c->proto.eio = pc.eio;
    }
    wsp_probe_conn_pin(&c->conn, &c->url, s->pins, s->npins);
    if (choose_proxy(s, &c->url, &t->proxy, err) != 0)
        return -1;
    c->conn.proxy = proxy_or_null(&t->proxy);
    if (!health)
        return 0;
    if (health[0] == '/') {
        char hu[WSP_URL_HOST_MAX + WSP_URL_TARGET_MAX + 32];
        const char *l = url->host_is_ipv6 ? "[" : "", *r = url->host_is_ipv6 ? "]" : "";
        int n = snprintf(hu, sizeof hu, "%s://%s%s%s:%u%s", url->tls ? "https" : "http", l,
                         url->host, r, (unsigned)url->port, health);
        if (n < 0 || (size_t)n >= sizeof hu ||
            wsp_url_parse(hu, &c->health_url, WSP_URL_ALLOW_HTTP, err) != 0)
            return wsp_err_set(err, WSP_CLASS_USAGE, "health '%.200s' on this target: not a URL",
                               health);
    } else if (wsp_url_parse(health, &c->health_url, WSP_URL_ALLOW_HTTP, err) != 0) {
        return -1;
    }
    if (choose_proxy(s, &c->health_url, &t->health_proxy, err) != 0)
        return -1;
    aim_health(s, c, &t->health_proxy);
    return 0;
}
