/* plan.c - YAML verification plans: parse, validate with located errors, build environments.
 * See plan.h. */
#include "check/plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>
#include <yaml.h>

#include "net/dns.h"
#include "util/duration.h"
#include "util/files.h"
#include "util/regex.h"
#include "util/buf.h"
#include "probe/setup.h"
#include "codec/handshake.h"
#include "codec/jsonptr.h"
#include "probe/jwtconfig.h"
#include "check/plancheck.h"
#include "probe/hold.h"
#include "check/security/security.h"
#include "codec/target.h"
#include "codec/template.h"
#include "codec/ws.h"
#include "net/tls.h"
#include "codec/url.h"
#include "codec/yaml.h"

#define MAX_PINS 8
#define MAX_SECURITY_DEFS 128

/* What a loaded environment borrows from the plan. */
#define MAX_PLAN_HEADERS (WSP_CONN_MAX_HEADERS - 4) /* room for the credential's header */

/* What a loaded (or validated) environment borrows from the plan: the probe's settings (their
 * pins) and the header lines the plan composed. */
typedef struct env_store {
    struct env_store *next;
    wsp_probe_setup setup;
    char *headers[MAX_PLAN_HEADERS];
    size_t num_headers;
} env_store;

typedef struct plan_env {
    const char *name;
    yaml_node_t *node;
    yaml_mark_t mark;
    wsp_proto_kind proto; /* its protocol: (validation), which its conversations must speak */
    bool has_marker;      /* it says marker: (which a protocol needs where the marker is used) */
} plan_env;

struct wsp_plan {
    char file[256];
    yaml_document_t doc;
    bool have_doc;
    yaml_mark_t envs_mark;
    plan_env envs[WSP_PLAN_MAX_ENVS];
    size_t num_envs;
    wsp_check_item items[WSP_PLAN_MAX_CHECKS];
    json_t *params[WSP_PLAN_MAX_CHECKS];
    yaml_mark_t marks[WSP_PLAN_MAX_CHECKS]; /* where each check is written */
    char ids[WSP_PLAN_MAX_CHECKS][64];
    const char *groups[WSP_PLAN_MAX_CHECKS]; /* items[i].def->group, for the reports */
    size_t num_items;
    unsigned long nodes_seen;
    uint64_t deadline_cap_us;
    env_store *stores;
    char warnings[WSP_PLAN_MAX_WARNINGS][400]; /* "FILE:LINE:COL: warning: ..." */
    size_t num_warnings;
    bool warn_limits; /* the validation pass at load: old limits keys warn (once) */
    /* an exporter's configuration (wsp_modules_load_file): envs are its modules */
    bool modules;
    bool allow_any_target;
    wsp_module mods[WSP_PLAN_MAX_ENVS];
};

void wsp_plan_err_format(const wsp_plan_err *e, char *out, size_t cap)
{
    if (e->line)
        snprintf(out, cap, "%s:%u:%u: %s", e->file, e->line, e->column, e->msg);
    else
        snprintf(out, cap, "%s: %s", e->file, e->msg);
}

/* ---- errors and node helpers ---- */

static int fail_at(const wsp_plan *P, wsp_plan_err *err, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(const wsp_plan *P, wsp_plan_err *err, yaml_mark_t m, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    snprintf(err->file, sizeof err->file, "%s", P->file);
    err->line = (unsigned)m.line + 1;
    err->column = (unsigned)m.column + 1;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* fail_at for functions that return a pointer */
#define fail_at_null(...) (fail_at(__VA_ARGS__), NULL)

static void fail_plain(wsp_plan_err *err, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_plain(wsp_plan_err *err, const char *file, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    snprintf(err->file, sizeof err->file, "%s", file);
    err->line = err->column = 0;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static yaml_node_t *node_at(wsp_plan *P, int i)
{
    return yaml_document_get_node(&P->doc, i);
}

static const char *type_name(const yaml_node_t *n)
{
    if (!n)
        return "nothing";
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_NO_NODE:
        return "nothing";
    }
    return "nothing";
}

/* Count visits of nodes so that aliases cannot make a small file expensive. */
static int visit(wsp_plan *P, const yaml_node_t *n, int depth, wsp_plan_err *err)
{
    if (++P->nodes_seen > WSP_PLAN_MAX_NODES)
        return fail_at(P, err, n->start_mark,
                       "the plan is too large once aliases are expanded (over %d nodes)",
                       WSP_PLAN_MAX_NODES);
    if (depth > WSP_PLAN_MAX_DEPTH)
        return fail_at(P, err, n->start_mark, "nested deeper than %d levels", WSP_PLAN_MAX_DEPTH);
    return 0;
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (!is_plain(n))
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* A scalar's text, refused when it holds a NUL byte. */
static int want_scalar(wsp_plan *P, const yaml_node_t *n, const char *what, const char **out,
                       wsp_plan_err *err)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return fail_at(P, err, n ? n->start_mark : P->envs_mark, "%s: expected a string, got %s",
                       what, type_name(n));
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return fail_at(P, err, n->start_mark, "%s: contains a NUL byte", what);
    *out = (const char *)n->data.scalar.value;
    return 0;
}

static int want_string(wsp_plan *P, const yaml_node_t *n, const char *what, const char **out,
                       wsp_plan_err *err)
{
    if (n && is_null(n))
        return fail_at(P, err, n->start_mark, "%s: expected a string, got nothing", what);
    if (want_scalar(P, n, what, out, err) != 0)
        return -1;
    if (!(*out)[0])
        return fail_at(P, err, n->start_mark, "%s: expected a non-empty string", what);
    return 0;
}

static int want_int(wsp_plan *P, const yaml_node_t *n, const char *what, long min, long max,
                    long *out, wsp_plan_err *err)
{
    const char *s;
    if (!n || n->type != YAML_SCALAR_NODE || !is_plain(n))
        return fail_at(P, err, n ? n->start_mark : P->envs_mark,
                       "%s: expected a whole number from %ld to %ld, got %s", what, min, max,
                       n && n->type == YAML_SCALAR_NODE ? "a quoted string" : type_name(n));
    if (want_scalar(P, n, what, &s, err) != 0)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return fail_at(P, err, n->start_mark,
                       "%s: expected a whole number from %ld to %ld, got '%.40s'", what, min, max,
                       s);
    *out = v;
    return 0;
}

static int want_number(wsp_plan *P, const yaml_node_t *n, const char *what, double *out,
                       wsp_plan_err *err)
{
    const char *s;
    if (!n || n->type != YAML_SCALAR_NODE || !is_plain(n))
        return fail_at(P, err, n ? n->start_mark : P->envs_mark, "%s: expected a number, got %s",
                       what, n && n->type == YAML_SCALAR_NODE ? "a quoted string" : type_name(n));
    if (want_scalar(P, n, what, &s, err) != 0)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 1e9)
        return fail_at(P, err, n->start_mark, "%s: expected a positive number, got '%.40s'", what,
                       s);
    *out = v;
    return 0;
}

static int want_bool(wsp_plan *P, const yaml_node_t *n, const char *what, bool *out,
                     wsp_plan_err *err)
{
    const char *s = NULL;
    if (n && is_plain(n) && want_scalar(P, n, what, &s, err) == 0) {
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            *out = true;
            return 0;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            *out = false;
            return 0;
        }
    }
    return fail_at(P, err, n ? n->start_mark : P->envs_mark, "%s: expected true or false, got %s",
                   what, s ? "another value" : type_name(n));
}

static int want_duration(wsp_plan *P, const yaml_node_t *n, const char *what, uint64_t *out,
                         wsp_plan_err *err)
{
    const char *s;
    if (!n || n->type != YAML_SCALAR_NODE)
        return fail_at(P, err, n ? n->start_mark : P->envs_mark,
                       "%s: expected a duration like 250ms, 2s, 1m, got %s", what, type_name(n));
    if (want_scalar(P, n, what, &s, err) != 0)
        return -1;
    if (wsp_duration_parse(s, out) != 0 || *out == 0)
        return fail_at(P, err, n->start_mark, "%s '%.40s': expected a duration like 250ms, 2s, 1m",
                       what, s);
    return 0;
}

/* 64K, 16M, 1024: util/duration.h's sizes, as on the command line */
static int want_size(wsp_plan *P, const yaml_node_t *n, const char *what, uint64_t *out,
                     wsp_plan_err *err)
{
    const char *s;
    if (!n || n->type != YAML_SCALAR_NODE)
        return fail_at(P, err, n ? n->start_mark : P->envs_mark,
                       "%s: expected a size like 65536, 64K, 16M, got %s", what, type_name(n));
    if (want_scalar(P, n, what, &s, err) != 0)
        return -1;
    if (wsp_size_parse(s, 1ull << 40, out) != 0 || *out == 0)
        return fail_at(P, err, n->start_mark,
                       "%s '%.40s': expected a size like 65536, 64K, 16M (K, M, G are powers of "
                       "1024)",
                       what, s);
    return 0;
}

static int want_map(wsp_plan *P, const yaml_node_t *n, const char *what, wsp_plan_err *err)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return fail_at(P, err, n ? n->start_mark : P->envs_mark,
                       "%s: expected a mapping (key: value), got %s", what, type_name(n));
    return 0;
}

#define FOR_PAIRS(n, pr)                                                                           \
    for (yaml_node_pair_t *pr = (n)->data.mapping.pairs.start; pr < (n)->data.mapping.pairs.top;   \
         pr++)
#define FOR_ITEMS(n, it)                                                                           \
    for (yaml_node_item_t *it = (n)->data.sequence.items.start; it < (n)->data.sequence.items.top; \
         it++)

/* Keys that would put a secret in the plan. */
static const char *const secret_keys[] = {"secret",     "token",   "password",      "passwd", "key",
                                          "jwt_secret", "api_key", "client_secret", NULL};

static bool is_secret_key(const char *k)
{
    for (size_t i = 0; secret_keys[i]; i++)
        if (strcasecmp(k, secret_keys[i]) == 0)
            return true;
    return false;
}

/* Check a mapping's keys: scalars, no duplicates, each one of `allowed` (NULL-terminated).
 * `path` names the mapping in messages ("environments.staging.auth"). */
static int check_keys(wsp_plan *P, yaml_node_t *map, const char *path, const char *const *allowed,
                      wsp_plan_err *err)
{
    FOR_PAIRS(map, pr)
    {
        yaml_node_t *k = node_at(P, pr->key);
        const char *ks;
        if (!k || k->type != YAML_SCALAR_NODE)
            return fail_at(P, err, k ? k->start_mark : map->start_mark,
                           "%s: keys must be plain names, got %s", path, type_name(k));
        if (want_scalar(P, k, path, &ks, err) != 0)
            return -1;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++) {
            yaml_node_t *k2 = node_at(P, q->key);
            if (k2 && k2->type == YAML_SCALAR_NODE &&
                strcmp((const char *)k2->data.scalar.value, ks) == 0)
                return fail_at(P, err, k->start_mark, "%s: key '%.60s' is given twice", path, ks);
        }
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(ks, allowed[i]) == 0)
                ok = true;
        if (ok)
            continue;
        if (is_secret_key(ks))
            return fail_at(P, err, k->start_mark,
                           "%s.%s: secrets are never written in a plan (plans live in version "
                           "control and their values reach CI logs); %s",
                           path, ks,
                           strcmp(ks, "token") == 0
                               ? "name the environment variable that holds it with token_env"
                               : "name an environment variable with secret_env or a file with "
                                 "secret_file (key_file for a PEM key) instead");
        char list[512];
        size_t o = 0;
        list[0] = '\0';
        for (size_t i = 0; allowed[i] && o < sizeof list; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", allowed[i]);
        return fail_at(P, err, k->start_mark, "%s: unknown key '%.60s'; expected one of: %s", path,
                       ks, list);
    }
    return 0;
}

static yaml_node_t *map_get(wsp_plan *P, yaml_node_t *map, const char *key, yaml_mark_t *kmark)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    FOR_PAIRS(map, pr)
    {
        yaml_node_t *k = node_at(P, pr->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0) {
            if (kmark)
                *kmark = k->start_mark;
            return node_at(P, pr->value);
        }
    }
    return NULL;
}

/* A YAML value as JSON (typed per the YAML 1.2 core schema for plain scalars). */
static json_t *to_json(wsp_plan *P, yaml_node_t *n, int depth, wsp_plan_err *err)
{
    if (!n)
        return json_null();
    if (visit(P, n, depth, err) != 0)
        return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *s;
        if (want_scalar(P, n, "value", &s, err) != 0)
            return NULL;
        if (!is_plain(n))
            return json_string(s);
        if (is_null(n))
            return json_null();
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
            return json_true();
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
            return json_false();
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end != s && !*end && !errno)
            return json_integer((json_int_t)v);
        errno = 0;
        double d = strtod(s, &end);
        if (end != s && !*end && !errno &&
            (s[0] == '-' || s[0] == '+' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9')))
            return json_real(d);
        return json_string(s);
    }
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        if (!a)
            return NULL;
        FOR_ITEMS(n, it)
        {
            json_t *v = to_json(P, node_at(P, *it), depth + 1, err);
            if (!v || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        if (!o)
            return NULL;
        FOR_PAIRS(n, pr)
        {
            yaml_node_t *k = node_at(P, pr->key);
            const char *ks;
            if (!k || k->type != YAML_SCALAR_NODE || want_scalar(P, k, "key", &ks, err) != 0) {
                if (k && k->type != YAML_SCALAR_NODE)
                    fail_at(P, err, k->start_mark, "keys must be strings, got %s", type_name(k));
                json_decref(o);
                return NULL;
            }
            if (json_object_get(o, ks)) {
                fail_at(P, err, k->start_mark, "key '%.60s' is given twice", ks);
                json_decref(o);
                return NULL;
            }
            json_t *v = to_json(P, node_at(P, pr->value), depth + 1, err);
            if (!v || json_object_set_new(o, ks, v) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    case YAML_NO_NODE:
        break;
    }
    return json_null();
}

/* The JSON text of a value sent as JSON (an emit's arguments, a subscription's variables, a
 * connect payload): a YAML value as YAML types it (to_json), or a string that starts with '['
 * or '{', which is JSON text as the command line takes it, placeholders allowed (judged once
 * filled in, when sent). `object`: it must be a JSON object. Heap text, or NULL with err. */
static char *json_text(wsp_plan *P, yaml_node_t *v, const char *kp, bool object, int depth,
                       wsp_plan_err *err)
{
    wsp_err e;
    wsp_err_clear(&e);
    const char *s = NULL;
    char *t = NULL;
    if (v && v->type == YAML_SCALAR_NODE && !is_null(v)) {
        if (want_scalar(P, v, kp, &s, err) != 0)
            return NULL;
        s += strspn(s, " \t\r\n");
        if (*s != '[' && *s != '{')
            s = NULL;
    }
    if (s) {
        if (object && *s != '{')
            return fail_at_null(P, err, v->start_mark, "%s: expected a JSON object ({...})", kp);
        if (!wsp_tmpl_has_vars(s)) {
            json_error_t je;
            json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
            bool ok = j != NULL;
            json_decref(j);
            if (!ok)
                return fail_at_null(P, err, v->start_mark, "%s: not JSON: %s", kp, je.text);
        }
        t = strdup(s);
    } else {
        json_t *j = to_json(P, v, depth, err);
        if (!j)
            return NULL;
        if (object && !json_is_object(j)) {
            json_decref(j);
            return fail_at_null(P, err, v ? v->start_mark : P->envs_mark,
                                "%s: expected a mapping (or a JSON object as text), got %s", kp,
                                type_name(v));
        }
        t = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(j);
    }
    if (!t)
        return fail_at_null(P, err, v ? v->start_mark : P->envs_mark, "out of memory");
    if (wsp_tmpl_check(t, false, kp, getenv, &e) != 0) {
        free(t);
        return fail_at_null(P, err, v ? v->start_mark : P->envs_mark, "%s", e.msg);
    }
    return t;
}

/* ---- address pins (--resolve) ---- */

/* ---- environments ---- */

static const char *const env_keys[] = {
    "url",         "health",    "plaintext_url", "origin",         "subprotocol",
    "compress",    "headers",   "resolve",       "dns_server",     "timeout",
    "deadline",    "tls",       "auth",          "limits",         "marker",
    "description", "proxy",     "noproxy",       "proxy_user_env", "each_address",
    "protocol",    "namespace", "socketio_path", "engineio",       "connect_payload",
    NULL};
/* A module is an environment without its url (each scrape brings the target), the keys that
 * belong to a plan's run (plaintext_url, limits, marker) and with what its one probe does. A
 * Socket.IO module's URL is shaped per target (probe/setup.h, wsp_probe_setup_retarget). */
static const char *const module_keys[] = {"health",
                                          "origin",
                                          "subprotocol",
                                          "compress",
                                          "headers",
                                          "resolve",
                                          "dns_server",
                                          "timeout",
                                          "deadline",
                                          "tls",
                                          "auth",
                                          "description",
                                          "proxy",
                                          "noproxy",
                                          "proxy_user_env",
                                          "each_address",
                                          "allowed_targets",
                                          "expect_auth_required",
                                          "conversation",
                                          "protocol",
                                          "namespace",
                                          "socketio_path",
                                          "engineio",
                                          "connect_payload",
                                          NULL};
/* The URL a module is built with before any target: wss, so its TLS context is made once. */
#define MODULE_URL "wss://wsprobe-module.invalid/"
static const char *const tls_keys[] = {"cacert",      "cert",          "key_file", "insecure",
                                       "min_version", "min_cert_days", NULL};
static const char *const auth_keys[] = {"jwt", "token_env", "token_file", "in", "message", NULL};
static const char *const jwt_keys[] = {"secret_env", "secret_file", "key_file", "alg", "ttl",
                                       "claims",     "kid",         "nbf",      NULL};
static const char *const limits_keys[] = {
    "max_message", "rate_limit",  "max_conns_per_ip", "handshake_timeout", "idle_timeout",
    "rate",        "connections", /* the names before 0.2.0 (old_limits) */
    NULL};

/* limits keys renamed in 0.2.0 (docs/cli.md "One name per concept"): read for one release with
 * a warning naming the new key. */
static const struct {
    const char *old_key, *new_key;
} old_limits[] = {{"rate", "rate_limit"}, {"connections", "max_conns_per_ip"}};
static const char *const marker_keys[] = {"send", "expect", NULL};

/* ---- the probe's settings: the keys the option tables of probe/setup.h know ----
 * (their plan_key); the keys only a plan has (url, plaintext_url, limits, marker) follow. */

/* With `live` (the environment is being loaded to run), the variable or file a key names must
 * be there: said here with the key's location rather than later without it. */
static int source_ready(wsp_plan *P, const wsp_opt *o, const char *v, const yaml_node_t *at,
                        const char *kp, wsp_plan_err *err)
{
    if (o->type == WSP_OPT_ENV) {
        const char *val = getenv(v);
        if (!val || !val[0])
            return fail_at(P, err, at->start_mark,
                           "%s: the environment variable %.80s is %s; export the %s there before "
                           "running the plan",
                           kp, v, val ? "empty" : "not set",
                           o->id == WSP_PROBE_OPT_TOKEN_ENV ? "token" : "secret");
    } else if (o->type == WSP_OPT_PATH && access(v, R_OK) != 0) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        return fail_at(P, err, at->start_mark, "%s: cannot read %.200s: %s", kp, v, eb);
    }
    return 0;
}

static int set_opt(wsp_plan *P, wsp_probe_setup *s, const wsp_opt *o, const char *text,
                   const yaml_node_t *at, const char *kp, wsp_plan_err *err)
{
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_probe_setup_set(s, o, kp, text, &e) != 0)
        return strncmp(e.msg, kp, strlen(kp)) == 0
                   ? fail_at(P, err, at->start_mark, "%s", e.msg)
                   : fail_at(P, err, at->start_mark, "%s: %s", kp, e.msg);
    return 0;
}

/* connect_payload: a mapping or JSON text (or @FILE); a credential in it would be a secret in
 * version control: the token goes in with auth: {token_env: VAR, in: socketio-auth[:KEY]}. */
static int set_payload(wsp_plan *P, wsp_probe_setup *s, const wsp_opt *o, yaml_node_t *v,
                       const char *kp, wsp_plan_err *err)
{
    const char *at;
    if (v->type == YAML_SCALAR_NODE && want_string(P, v, kp, &at, err) != 0)
        return -1;
    if (v->type == YAML_SCALAR_NODE && at[0] == '@')
        return set_opt(P, s, o, at, v, kp, err); /* a file: not in the plan */
    char *t = json_text(P, v, kp, true, 3, err);
    if (!t)
        return -1;
    if (wsp_tmpl_has_vars(t)) { /* sent as written, once per connection */
        free(t);
        return fail_at(P, err, v->start_mark,
                       "%s: placeholders are not filled in here (the payload is sent as "
                       "written); the token goes in with auth.in: socketio-auth or init-payload",
                       kp);
    }
    json_t *j = json_loads(t, JSON_REJECT_DUPLICATES, NULL);
    const char *k;
    json_t *val;
    int rc = 0;
    json_object_foreach(j, k, val)
    {
        if (is_secret_key(k)) {
            rc = fail_at(P, err, v->start_mark,
                         "%s: '%.40s' would be a secret written in the plan; name the variable "
                         "that holds it with auth: {token_env: VAR, in: socketio-auth:%.40s} "
                         "(graphql: in: init-payload:%.40s)",
                         kp, k, k, k);
            break;
        }
    }
    json_decref(j);
    if (rc == 0)
        rc = set_opt(P, s, o, t, v, kp, err); /* copied by the setup */
    free(t);
    return rc;
}

static int set_node(wsp_plan *P, wsp_probe_setup *s, const wsp_opt *o, yaml_node_t *v,
                    const char *kp, bool live, wsp_plan_err *err)
{
    const char *text = NULL;
    if (o->id == WSP_PROBE_OPT_CONNECT_PAYLOAD)
        return set_payload(P, s, o, v, kp, err);
    if (o->flags & WSP_OPT_OPTIONAL && is_plain(v) &&
        (strcmp((const char *)v->data.scalar.value, "true") == 0 ||
         strcmp((const char *)v->data.scalar.value, "false") == 0)) {
        /* `compress: true` is the option alone; false leaves it out */
        return strcmp((const char *)v->data.scalar.value, "true") == 0
                   ? set_opt(P, s, o, NULL, v, kp, err)
                   : 0;
    }
    if (o->type == WSP_OPT_FLAG) {
        bool on;
        if (want_bool(P, v, kp, &on, err) != 0)
            return -1;
        return on ? set_opt(P, s, o, NULL, v, kp, err) : 0;
    }
    if (want_string(P, v, kp, &text, err) != 0)
        return -1;
    if (live && source_ready(P, o, text, v, kp, err) != 0)
        return -1;
    return set_opt(P, s, o, text, v, kp, err);
}

/* Every key of `map` (at `path`, plan keys `prefix`KEY) that an option table knows; a
 * repeatable option takes a list too. Keys it does not know are the caller's. */
static int set_known(wsp_plan *P, wsp_probe_setup *s, yaml_node_t *map, const char *path,
                     const char *prefix, bool live, wsp_plan_err *err)
{
    FOR_PAIRS(map, pr)
    {
        const char *k;
        if (want_string(P, node_at(P, pr->key), path, &k, err) != 0)
            return -1;
        char key[96], kp[240];
        snprintf(key, sizeof key, "%s%s", prefix, k);
        snprintf(kp, sizeof kp, "%s.%s", path, k);
        const wsp_opt *o = wsp_opt_by_plan_key(wsp_probe_opt_tables, key);
        yaml_node_t *v = node_at(P, pr->value);
        if (!o)
            continue;
        if (!(o->flags & WSP_OPT_REPEAT) || v->type != YAML_SEQUENCE_NODE) {
            if (set_node(P, s, o, v, kp, live, err) != 0)
                return -1;
            continue;
        }
        FOR_ITEMS(v, it)
        {
            if (set_node(P, s, o, node_at(P, *it), kp, live, err) != 0)
                return -1;
        }
    }
    return 0;
}

/* auth.jwt.claims: each claim as --jwt-claim K=V with V in JSON. */
static int set_claims(wsp_plan *P, wsp_probe_setup *s, yaml_node_t *cl, const char *cp,
                      wsp_plan_err *err)
{
    if (want_map(P, cl, cp, err) != 0)
        return -1;
    const wsp_opt *o = wsp_opt_by_name(wsp_probe_opt_tables, "jwt-claim");
    FOR_PAIRS(cl, pr)
    {
        yaml_node_t *k = node_at(P, pr->key);
        const char *ks;
        if (want_string(P, k, cp, &ks, err) != 0)
            return -1;
        json_t *v = to_json(P, node_at(P, pr->value), 3, err);
        if (!v)
            return -1;
        char *vt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(v);
        wsp_buf kv = WSP_BUF_INIT;
        int rc = vt && wsp_buf_printf(&kv, "%s=%s", ks, vt) == 0
                     ? set_opt(P, s, o, kv.p, k, cp, err)
                     : fail_at(P, err, k->start_mark, "out of memory");
        free(vt);
        wsp_buf_free(&kv);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int build_auth(wsp_plan *P, wsp_probe_setup *s, yaml_node_t *an, const char *envpath,
                      bool live, wsp_plan_err *err)
{
    char path[160], jpath[200];
    snprintf(path, sizeof path, "%s.auth", envpath);
    if (want_map(P, an, path, err) != 0 || check_keys(P, an, path, auth_keys, err) != 0)
        return -1;
    yaml_mark_t km;
    yaml_node_t *tenv = map_get(P, an, "token_env", &km), *jn = map_get(P, an, "jwt", &km),
                *tfile = map_get(P, an, "token_file", &km);
    if ((tenv != NULL) + (tfile != NULL) + (jn != NULL) > 1)
        return fail_at(P, err, (tenv ? tenv : tfile)->start_mark,
                       "%s: give one credential: token_env or token_file (a ready token) or jwt "
                       "(minted)",
                       path);
    if (set_known(P, s, an, path, "auth.", live, err) != 0)
        return -1;
    if (!jn)
        return 0;
    snprintf(jpath, sizeof jpath, "%s.jwt", path);
    if (want_map(P, jn, jpath, err) != 0 || check_keys(P, jn, jpath, jwt_keys, err) != 0 ||
        set_known(P, s, jn, jpath, "auth.jwt.", live, err) != 0)
        return -1;
    if (!map_get(P, jn, "secret_env", &km) && !map_get(P, jn, "secret_file", &km) &&
        !map_get(P, jn, "key_file", &km))
        return fail_at(P, err, jn->start_mark,
                       "%s: expected secret_env, secret_file or key_file (where the signing "
                       "material comes from)",
                       jpath);
    yaml_node_t *cl = map_get(P, jn, "claims", &km);
    if (cl) {
        char cp[240];
        snprintf(cp, sizeof cp, "%s.claims", jpath);
        if (set_claims(P, s, cl, cp, err) != 0)
            return -1;
    }
    return 0;
}

/* headers: a mapping (Name: value) or a list of 'Name: value' lines, each given to the probe's
 * --header (its rules: a header name, not one wsprobe writes itself); the plan adds one rule:
 * no credential header, which would be a secret in version control. */
static int build_headers(wsp_plan *P, wsp_probe_setup *s, yaml_node_t *hn, const char *path,
                         env_store *st, wsp_plan_err *err)
{
    if (hn->type != YAML_MAPPING_NODE && hn->type != YAML_SEQUENCE_NODE)
        return fail_at(P, err, hn->start_mark,
                       "%s: expected a mapping (Name: value) or a list of 'Name: value', got %s",
                       path, type_name(hn));
    size_t total = hn->type == YAML_MAPPING_NODE
                       ? (size_t)(hn->data.mapping.pairs.top - hn->data.mapping.pairs.start)
                       : (size_t)(hn->data.sequence.items.top - hn->data.sequence.items.start);
    if (total > MAX_PLAN_HEADERS)
        return fail_at(P, err, hn->start_mark, "%s: at most %d headers", path, MAX_PLAN_HEADERS);
    const wsp_opt *o = wsp_opt_by_name(wsp_probe_opt_tables, "header");
    for (size_t i = 0; i < total; i++) {
        const char *name = NULL, *value = NULL;
        yaml_node_t *at;
        char line[1024];
        if (hn->type == YAML_MAPPING_NODE) {
            yaml_node_pair_t *pr = hn->data.mapping.pairs.start + i;
            at = node_at(P, pr->key);
            if (want_string(P, at, path, &name, err) != 0 ||
                want_scalar(P, node_at(P, pr->value), path, &value, err) != 0)
                return -1;
            snprintf(line, sizeof line, "%s: %s", name, value);
        } else {
            at = node_at(P, hn->data.sequence.items.start[i]);
            const char *l;
            if (want_string(P, at, path, &l, err) != 0)
                return -1;
            snprintf(line, sizeof line, "%s", l);
        }
        if (strlen(line) >= sizeof line - 1)
            return fail_at(P, err, at->start_mark, "%s: a header of at most 1 KiB", path);
        size_t nl = strcspn(line, ":");
        if ((nl == 13 && strncasecmp(line, "Authorization", 13) == 0) ||
            (nl == 6 && strncasecmp(line, "Cookie", 6) == 0) ||
            (nl == 19 && strncasecmp(line, "Proxy-Authorization", 19) == 0))
            return fail_at(P, err, at->start_mark,
                           "%s: a credential header written in the plan would be a secret in "
                           "version control; use auth: {token_env: VAR} (with in: header or "
                           "cookie:NAME) instead",
                           path);
        if (wsp_http_eq(line, nl, "Sec-WebSocket-Protocol"))
            return fail_at(P, err, at->start_mark,
                           "%s: wsprobe writes 'Sec-WebSocket-Protocol' itself: in a plan, "
                           "subprotocol:",
                           path);
        char *copy = strdup(line);
        if (!copy)
            return fail_at(P, err, at->start_mark, "out of memory");
        st->headers[st->num_headers++] = copy; /* the setup borrows it; the plan frees it */
        if (set_opt(P, s, o, copy, at, path, err) != 0)
            return -1;
    }
    return 0;
}

/* health and plaintext_url: URLs checked where they are written. */
static int build_urls(wsp_plan *P, yaml_node_t *en, const char *path, wsp_env *env,
                      wsp_plan_err *err)
{
    static const char *const url_keys[] = {"health", "plaintext_url"};
    for (int i = 0; i < 2; i++) {
        yaml_mark_t km;
        yaml_node_t *hn = map_get(P, en, url_keys[i], &km);
        if (!hn)
            continue;
        char kp[200];
        snprintf(kp, sizeof kp, "%s.%s", path, url_keys[i]);
        wsp_url hu;
        const char *s;
        wsp_err e;
        if (want_string(P, hn, kp, &s, err) != 0)
            return -1;
        if (wsp_url_parse(s, &hu, i == 0 ? WSP_URL_ALLOW_HTTP : 0, &e) != 0)
            return fail_at(P, err, hn->start_mark, "%s: %s", kp, e.msg);
        if (i == 1 && hu.tls)
            return fail_at(P, err, hn->start_mark, "%s: expected a ws:// URL", kp);
        if (env) {
            char **dst = i == 0 ? &env->health_url : &env->plaintext_url;
            if (!(*dst = strdup(s)))
                return fail_at(P, err, hn->start_mark, "out of memory");
        }
    }
    return 0;
}

static void warn_at(wsp_plan *P, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn_at(wsp_plan *P, yaml_mark_t m, const char *fmt, ...)
{
    if (P->num_warnings >= WSP_PLAN_MAX_WARNINGS)
        return;
    char line[sizeof P->warnings[0]];
    int k = snprintf(line, sizeof line, "%s:%u:%u: warning: ", P->file, (unsigned)m.line + 1,
                     (unsigned)m.column + 1);
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < sizeof line)
        vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
    va_end(ap);
    memcpy(P->warnings[P->num_warnings++], line, sizeof line);
}

/* The value of limits key `key`, or of its old name (old_limits), warned of once, at load;
 * both given is an error (*rc = -1). */
static yaml_node_t *limits_get(wsp_plan *P, yaml_node_t *n, const char *kp, const char *key,
                               const char **used, int *rc, wsp_plan_err *err)
{
    *used = key;
    yaml_mark_t km, om;
    yaml_node_t *v = map_get(P, n, key, &km);
    for (size_t i = 0; i < sizeof old_limits / sizeof old_limits[0]; i++) {
        if (strcmp(old_limits[i].new_key, key) != 0)
            continue;
        yaml_node_t *o = map_get(P, n, old_limits[i].old_key, &om);
        if (!o)
            break;
        if (v) {
            *rc = fail_at(P, err, om,
                          "%s: %s and %s are the same limit (%s is its old name): "
                          "give %s only",
                          kp, old_limits[i].old_key, key, old_limits[i].old_key, key);
            return NULL;
        }
        if (P->warn_limits)
            warn_at(P, om, "%s.%s is now %s.%s; the old key goes in 0.3.0 (CHANGELOG.md)", kp,
                    old_limits[i].old_key, kp, key);
        *used = old_limits[i].old_key;
        return o;
    }
    return v;
}

/* limits: what the environment is expected to enforce (the security checks probe them). */
static int build_limits(wsp_plan *P, yaml_node_t *n, const char *kp, wsp_env_limits *lim,
                        wsp_plan_err *err)
{
    int err_rc = 0;
    if (want_map(P, n, kp, err) != 0 || check_keys(P, n, kp, limits_keys, err) != 0)
        return -1;
    yaml_mark_t km;
    yaml_node_t *v;
    char vp[240];
    if ((v = map_get(P, n, "max_message", &km))) {
        snprintf(vp, sizeof vp, "%s.max_message", kp);
        if (want_size(P, v, vp, &lim->max_message, err) != 0)
            return -1;
    }
    const char *key;
    if ((v = limits_get(P, n, kp, "rate_limit", &key, &err_rc, err))) {
        snprintf(vp, sizeof vp, "%s.%s", kp, key);
        if (want_number(P, v, vp, &lim->rate_per_s, err) != 0)
            return -1;
    }
    if ((v = limits_get(P, n, kp, "max_conns_per_ip", &key, &err_rc, err))) {
        long c;
        snprintf(vp, sizeof vp, "%s.%s", kp, key);
        if (want_int(P, v, vp, 1, 100000, &c, err) != 0)
            return -1;
        lim->max_conns_per_client = (int)c;
    }
    if (err_rc)
        return -1;
    if ((v = map_get(P, n, "handshake_timeout", &km))) {
        snprintf(vp, sizeof vp, "%s.handshake_timeout", kp);
        if (want_duration(P, v, vp, &lim->handshake_timeout_us, err) != 0)
            return -1;
    }
    if ((v = map_get(P, n, "idle_timeout", &km))) {
        snprintf(vp, sizeof vp, "%s.idle_timeout", kp);
        if (want_duration(P, v, vp, &lim->idle_timeout_us, err) != 0)
            return -1;
    }
    return 0;
}

/* marker: the success conversation (send, and one JSON pointer expected). */
static int build_marker(wsp_plan *P, yaml_node_t *n, const char *kp, wsp_proto_kind proto,
                        wsp_env *env, wsp_plan_err *err)
{
    if (want_map(P, n, kp, err) != 0 || check_keys(P, n, kp, marker_keys, err) != 0)
        return -1;
    yaml_mark_t km;
    wsp_err e;
    const char *msend, *mptr;
    yaml_node_t *sn = map_get(P, n, "send", &km), *xn = map_get(P, n, "expect", &km);
    if (!sn || !xn)
        return fail_at(P, err, n->start_mark, "%s: expected send: and expect: {json: {...}}", kp);
    if (want_string(P, sn, "marker.send", &msend, err) != 0)
        return -1;
    if (wsp_tmpl_check(msend, false, "marker.send", getenv, &e) != 0)
        return fail_at(P, err, sn->start_mark, "%s.send: %s", kp, e.msg);
    if (proto == WSP_PROTO_SOCKETIO) { /* an emit-ack: 'EVENT JSON' */
        char *ev = NULL, *args = NULL;
        int rc = wsp_probe_emit_spec("marker.send", msend, &ev, &args, &e);
        free(ev);
        free(args);
        if (rc != 0)
            return fail_at(P, err, sn->start_mark, "%s.send: %s", kp, e.msg);
    }
    yaml_node_t *jn = map_get(P, xn, "json", &km);
    if (want_map(P, xn, "marker.expect", err) != 0 || !jn ||
        want_map(P, jn, "marker.expect.json", err) != 0 ||
        jn->data.mapping.pairs.top - jn->data.mapping.pairs.start != 1)
        return fail_at(P, err, xn->start_mark,
                       "%s.expect: expected {json: {\"/pointer\": value}} with one pointer", kp);
    yaml_node_pair_t *pr = jn->data.mapping.pairs.start;
    if (want_scalar(P, node_at(P, pr->key), "marker.expect.json", &mptr, err) != 0)
        return -1;
    if (!wsp_jsonptr_valid(mptr))
        return fail_at(P, err, node_at(P, pr->key)->start_mark,
                       "%s.expect.json: '%.60s' is not a JSON pointer (RFC 6901: '' or /a/b)", kp,
                       mptr);
    json_t *v = to_json(P, node_at(P, pr->value), 4, err);
    if (!v)
        return -1;
    char *mval = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    if (!mval)
        return fail_at(P, err, xn->start_mark, "out of memory");
    if (!env) {
        free(mval);
        return 0;
    }
    /* what the plan does not say stays unset: the suite's own defaults apply (an ack that
     * returns the id this connection sent, check/security/security.h) */
    env->marker_expect_value = mval;
    env->marker_send = strdup(msend);
    env->marker_expect_pointer = strdup(mptr);
    if (!env->marker_send || !env->marker_expect_pointer)
        return fail_at(P, err, n->start_mark, "out of memory");
    return 0;
}

/* Validate environment i, and with env != NULL build it: the probe's settings through the
 * builder the command line uses (probe/setup.h), then what only a plan says. */
static json_t *conversation_params(wsp_plan *P, yaml_node_t *pn, const char *path,
                                   const char **name, wsp_plan_err *err);

static int add_glob(wsp_plan *P, wsp_module *m, yaml_node_t *gn, const char *kp, wsp_plan_err *err)
{
    const char *g, *why;
    if (want_string(P, gn, kp, &g, err) != 0)
        return -1;
    if (wsp_target_pattern_check(g, &why) != 0)
        return fail_at(P, err, gn->start_mark, "%s: '%.200s': %s", kp, g, why);
    if (m->num_allowed >= WSP_MODULE_MAX_TARGETS)
        return fail_at(P, err, gn->start_mark, "%s: at most %d patterns", kp,
                       WSP_MODULE_MAX_TARGETS);
    m->allowed[m->num_allowed++] = g;
    return 0;
}

/* What a module has beyond an environment's keys: allowed_targets, health (a URL, or a /path
 * on each target's host), expect_auth_required and its conversation. */
static int module_build(wsp_plan *P, size_t ei, const char *path, wsp_plan_err *err)
{
    plan_env *pe = &P->envs[ei];
    wsp_module *m = &P->mods[ei];
    yaml_node_t *en = pe->node, *n;
    yaml_mark_t km;
    char kp[200];
    json_decref(m->conversation); /* built once to validate, again to load */
    m->conversation = NULL;
    m->name = pe->name;
    m->num_allowed = 0;
    m->health = NULL;
    m->expect_auth_required = false;
    if ((n = map_get(P, en, "allowed_targets", &km))) {
        snprintf(kp, sizeof kp, "%s.allowed_targets", path);
        if (n->type == YAML_SEQUENCE_NODE) {
            FOR_ITEMS(n, it)
            {
                if (add_glob(P, m, node_at(P, *it), kp, err) != 0)
                    return -1;
            }
        } else if (add_glob(P, m, n, kp, err) != 0) {
            return -1;
        }
        if (m->num_allowed == 0)
            return fail_at(P, err, n->start_mark, "%s: expected at least one pattern", kp);
    } else if (!P->allow_any_target) {
        return fail_at(P, err, pe->mark,
                       "%s: expected allowed_targets: (the targets this module may probe, as "
                       "globs: ['ws://127.0.0.1:*/*']); without it anyone who can reach the "
                       "exporter could aim it anywhere (--allow-any-target allows any target, "
                       "with a warning)",
                       path);
    }
    if ((n = map_get(P, en, "health", &km))) {
        snprintf(kp, sizeof kp, "%s.health", path);
        wsp_url hu;
        wsp_err e;
        if (want_string(P, n, kp, &m->health, err) != 0)
            return -1;
        if (m->health[0] == '/') {
            if (strlen(m->health) > WSP_URL_TARGET_MAX || strpbrk(m->health, " \t\r\n#"))
                return fail_at(P, err, n->start_mark,
                               "%s: a path on the target's host, without spaces or '#'", kp);
        } else if (wsp_url_parse(m->health, &hu, WSP_URL_ALLOW_HTTP, &e) != 0) {
            return fail_at(P, err, n->start_mark,
                           "%s: %s (write a URL, or a /path asked of each target's host)", kp,
                           e.msg);
        }
    }
    if ((n = map_get(P, en, "expect_auth_required", &km)) &&
        want_bool(P, n, "expect_auth_required", &m->expect_auth_required, err) != 0)
        return -1;
    if (m->expect_auth_required && map_get(P, en, "auth", &km))
        return fail_at(P, err, km,
                       "%s: expect_auth_required probes without a credential, and auth: gives "
                       "one: make two modules (one that must be refused, one that must be served)",
                       path);
    if ((n = map_get(P, en, "conversation", &km))) {
        snprintf(kp, sizeof kp, "%s.conversation", path);
        if (!(m->conversation = conversation_params(P, n, kp, NULL, err)))
            return -1;
    }
    return 0;
}

/* The protocol's settings without the protocol, said at the key in a plan's words (the
 * setup's finish says it again in the command line's). */
static int proto_keys(wsp_plan *P, yaml_node_t *en, const char *path, const wsp_probe_setup *s,
                      wsp_plan_err *err)
{
    static const char *const sio_keys[] = {"namespace", "socketio_path", "engineio"};
    wsp_proto_kind k = s->cfg.proto.kind;
    yaml_mark_t km;
    for (size_t i = 0; i < sizeof sio_keys / sizeof sio_keys[0]; i++)
        if (k != WSP_PROTO_SOCKETIO && map_get(P, en, sio_keys[i], &km))
            return fail_at(P, err, km,
                           "%s.%s: a Socket.IO setting: it needs protocol: socketio in the "
                           "environment",
                           path, sio_keys[i]);
    if (k == WSP_PROTO_NONE && map_get(P, en, "connect_payload", &km))
        return fail_at(P, err, km,
                       "%s.connect_payload: it needs protocol: socketio (the namespace CONNECT's "
                       "auth) or graphql (connection_init's payload) in the environment",
                       path);
    return 0;
}

static int env_build(wsp_plan *P, size_t ei, wsp_env *env, wsp_plan_err *err)
{
    plan_env *pe = &P->envs[ei];
    yaml_node_t *en = pe->node;
    char path[128], kp[200];
    snprintf(path, sizeof path, "environments.%.80s", pe->name);
    if (P->modules)
        snprintf(path, sizeof path, "modules.%.80s", pe->name);
    if (want_map(P, en, path, err) != 0 ||
        check_keys(P, en, path, P->modules ? module_keys : env_keys, err) != 0)
        return -1;
    bool live = env != NULL;
    env_store *st = calloc(1, sizeof *st);
    if (!st)
        return fail_at(P, err, en->start_mark, "out of memory");
    st->next = P->stores; /* freed with the plan, whatever happens here */
    P->stores = st;
    wsp_probe_setup *s = &st->setup;
    wsp_probe_setup_init(s);
    if (env) {
        wsp_env_init(env);
        if (!(env->name = strdup(pe->name)))
            return fail_at(P, err, en->start_mark, "out of memory");
    }
    yaml_mark_t km;
    const char *url = MODULE_URL;
    yaml_node_t *n;
    wsp_err e;
    wsp_err_clear(&e);
    if (!P->modules) {
        if (!(n = map_get(P, en, "url", &km)))
            return fail_at(P, err, pe->mark, "%s: expected a url: (ws:// or wss://)", path);
        snprintf(kp, sizeof kp, "%s.url", path);
        if (want_string(P, n, kp, &url, err) != 0)
            return -1;
        wsp_url u;
        if (wsp_url_parse(url, &u, 0, &e) != 0)
            return fail_at(P, err, n->start_mark, "%s: %s", kp, e.msg);
        if (build_urls(P, en, path, env, err) != 0)
            return -1;
    } else if (module_build(P, ei, path, err) != 0) {
        return -1;
    }
    if (set_known(P, s, en, path, "", live, err) != 0 || proto_keys(P, en, path, s, err) != 0)
        return -1;
    pe->proto = s->cfg.proto.kind;
    pe->has_marker = map_get(P, en, "marker", &km) != NULL;
    if (P->modules)
        s->health = NULL; /* a module's health is aimed at each target (module_build) */
    if ((n = map_get(P, en, "headers", &km))) {
        snprintf(kp, sizeof kp, "%s.headers", path);
        if (build_headers(P, s, n, kp, st, err) != 0)
            return -1;
    }
    if ((n = map_get(P, en, "tls", &km))) {
        snprintf(kp, sizeof kp, "%s.tls", path);
        if (want_map(P, n, kp, err) != 0 || check_keys(P, n, kp, tls_keys, err) != 0 ||
            set_known(P, s, n, kp, "tls.", live, err) != 0)
            return -1;
        if ((s->tls.cert == NULL) != (s->tls.key == NULL))
            return fail_at(P, err, n->start_mark, "%s: cert and key_file go together", kp);
    }
    if ((n = map_get(P, en, "auth", &km)) && build_auth(P, s, n, path, live, err) != 0)
        return -1;
    wsp_env_limits lim = {0};
    if ((n = map_get(P, en, "limits", &km))) {
        snprintf(kp, sizeof kp, "%s.limits", path);
        if (build_limits(P, n, kp, &lim, err) != 0)
            return -1;
    }
    if ((n = map_get(P, en, "marker", &km))) {
        snprintf(kp, sizeof kp, "%s.marker", path);
        if (build_marker(P, n, kp, s->cfg.proto.kind, env, err) != 0)
            return -1;
    }
    if (P->deadline_cap_us &&
        (s->cfg.conn.deadline_us == 0 || s->cfg.conn.deadline_us > P->deadline_cap_us))
        s->cfg.conn.deadline_us = P->deadline_cap_us;
    if (wsp_probe_setup_finish(s, url, live, &e) != 0)
        return fail_at(P, err, pe->mark, "%s: %s", path, e.msg);
    if (!env)
        return 0;
    env->limits = lim;
    if (!(env->url_text = strdup(url)) ||
        (s->cfg.conn.origin && !(env->allowed_origin = strdup(s->cfg.conn.origin))))
        return fail_at(P, err, pe->mark, "out of memory");
    wsp_env_take_probe(env, s, true);
    return 0;
}

/* ---- checks ---- */

static const char *const basic_kinds[] = {
    "connect", "health", "conversation", "concurrent", "expect_auth_required", "security",
    "hold",    NULL};

const char *const *wsp_plan_check_kinds(void)
{
    return basic_kinds;
}

static void each_under(const char *prefix, const char *const *keys,
                       void (*fn)(const char *path, void *ud), void *ud)
{
    char path[96];
    for (size_t i = 0; keys[i]; i++) {
        bool old = false;
        for (size_t k = 0;
             strcmp(prefix, "limits") == 0 && k < sizeof old_limits / sizeof old_limits[0]; k++)
            old |= strcmp(keys[i], old_limits[k].old_key) == 0;
        if (old)
            continue; /* (read for one release, not taught) */
        if (strcmp(prefix, "auth") == 0 && strcmp(keys[i], "jwt") == 0) {
            each_under("auth.jwt", jwt_keys, fn, ud);
            continue;
        }
        snprintf(path, sizeof path, "%s.%s", prefix, keys[i]);
        fn(path, ud);
    }
}

void wsp_plan_each_env_key(void (*fn)(const char *path, void *ud), void *ud)
{
    for (size_t i = 0; env_keys[i]; i++) {
        const char *k = env_keys[i];
        if (strcmp(k, "tls") == 0)
            each_under("tls", tls_keys, fn, ud);
        else if (strcmp(k, "auth") == 0)
            each_under("auth", auth_keys, fn, ud);
        else if (strcmp(k, "limits") == 0)
            each_under("limits", limits_keys, fn, ud);
        else if (strcmp(k, "marker") == 0)
            each_under("marker", marker_keys, fn, ud);
        else
            fn(k, ud);
    }
}

static int add_item(wsp_plan *P, const wsp_check_def *def, json_t *params, const char *name,
                    yaml_mark_t m, wsp_plan_err *err)
{
    if (P->num_items >= WSP_PLAN_MAX_CHECKS) {
        json_decref(params);
        return fail_at(P, err, m, "more than %d checks", WSP_PLAN_MAX_CHECKS);
    }
    char id[64];
    snprintf(id, sizeof id, "%s", name);
    for (unsigned k = 2; k < 1000; k++) {
        bool dup = false;
        for (size_t i = 0; i < P->num_items; i++)
            if (strcmp(P->ids[i], id) == 0)
                dup = true;
        if (!dup)
            break;
        snprintf(id, sizeof id, "%.50s#%u", name, k);
    }
    size_t i = P->num_items++;
    P->items[i].def = def;
    P->items[i].params = params;
    P->params[i] = params;
    P->marks[i] = m;
    P->groups[i] = def->group;
    snprintf(P->ids[i], sizeof P->ids[i], "%s", id);
    return 0;
}

static bool have_def(const wsp_plan *P, const char *id)
{
    for (size_t i = 0; i < P->num_items; i++)
        if (strcmp(P->items[i].def->id, id) == 0 && strcmp(P->items[i].def->group, "basic") != 0)
            return true;
    return false;
}

/* The definitions of the suite for a group or an id (security.h), at most cap; 0: unknown. */
static size_t security_defs(const char *name, bool staging, const wsp_check_def **out, size_t cap)
{
    const wsp_check_def *const *all = NULL;
    if (wsp_security_list(&all) > cap)
        return 0;
    const char *names[1] = {name};
    size_t n = 0;
    if (wsp_security_select(names, 1, staging, out, &n, NULL) != 0)
        return 0;
    return n;
}

static int security_entry(wsp_plan *P, yaml_node_t *n, bool staging, wsp_plan_err *err)
{
    const char *s;
    if (want_string(P, n, "security", &s, err) != 0)
        return -1;
    const wsp_check_def *defs[MAX_SECURITY_DEFS];
    size_t k = security_defs(s, staging, defs, MAX_SECURITY_DEFS);
    if (k == 0)
        return fail_at(P, err, n->start_mark,
                       "security: unknown group or check '%.60s'; see wsprobe security --list", s);
    for (size_t i = 0; i < k && i < MAX_SECURITY_DEFS; i++)
        if (!have_def(P, defs[i]->id) &&
            add_item(P, defs[i], NULL, defs[i]->id, n->start_mark, err) != 0)
            return -1;
    return 0;
}

/* One expectation: {json: {...}, text: T, regex: R, within: D} -> steps appended to `steps`. */
/* A BYTES spec that decodes (the file read once to check it). */
static int binary_ok(wsp_plan *P, const yaml_node_t *at, const char *kp, const char *spec,
                     bool expect, wsp_plan_err *err)
{
    char *bytes = NULL;
    size_t len;
    bool dig;
    uint8_t md[32];
    wsp_err e;
    int rc = wsp_probe_binary_spec(kp, spec, expect, &bytes, &len, &dig, md, &e);
    free(bytes);
    return rc == 0 ? 0 : fail_at(P, err, at->start_mark, "%s", e.msg);
}

static int expect_steps(wsp_plan *P, yaml_node_t *xn, const char *path, json_t *steps,
                        wsp_plan_err *err)
{
    static const char *const keys[] = {"json", "text", "regex", "binary", "within", NULL};
    if (want_map(P, xn, path, err) != 0 || check_keys(P, xn, path, keys, err) != 0)
        return -1;
    yaml_mark_t km;
    json_int_t within_ms = 0;
    yaml_node_t *w = map_get(P, xn, "within", &km);
    if (w) {
        uint64_t us;
        if (want_duration(P, w, "expect.within", &us, err) != 0)
            return -1;
        within_ms = (json_int_t)(us / 1000);
    }
    yaml_node_t *jn = map_get(P, xn, "json", &km), *tn = map_get(P, xn, "text", &km),
                *rn = map_get(P, xn, "regex", &km), *bn = map_get(P, xn, "binary", &km);
    if (!!jn + !!tn + !!rn + !!bn != 1)
        return fail_at(P, err, xn->start_mark,
                       "%s: expected exactly one of json: {\"/pointer\": value}, text:, regex: or "
                       "binary:",
                       path);
    wsp_err e;
    wsp_err_clear(&e);
    const char *s;
    json_t *step = NULL;
    if (bn) {
        char kp[200];
        snprintf(kp, sizeof kp, "%s.binary", path);
        if (want_string(P, bn, kp, &s, err) != 0 || binary_ok(P, bn, kp, s, true, err) != 0)
            return -1;
        step = json_pack("{s:s}", "expect_binary", s);
    } else if (tn) {
        if (want_scalar(P, tn, "expect.text", &s, err) != 0)
            return -1;
        if (wsp_tmpl_check(s, true, "expect.text", getenv, &e) != 0)
            return fail_at(P, err, tn->start_mark, "%s.text: %s", path, e.msg);
        step = json_pack("{s:s}", "expect_text", s);
    } else if (rn) {
        if (want_string(P, rn, "expect.regex", &s, err) != 0)
            return -1;
        wsp_regex *re = wsp_regex_new(s, &e); /* PCRE2 syntax, as the probe compiles it */
        if (!re)
            return fail_at(P, err, rn->start_mark, "%s.regex: %s", path, e.msg);
        wsp_regex_free(re);
        step = json_pack("{s:s}", "expect_regex", s);
    } else {
        if (want_map(P, jn, "expect.json", err) != 0)
            return -1;
        if (jn->data.mapping.pairs.top == jn->data.mapping.pairs.start)
            return fail_at(P, err, jn->start_mark, "%s.json: expected at least one pointer", path);
        json_t *pairs = json_array();
        FOR_PAIRS(jn, pr)
        {
            yaml_node_t *k = node_at(P, pr->key), *v = node_at(P, pr->value);
            const char *ptr;
            if (want_scalar(P, k, "expect.json", &ptr, err) != 0) {
                json_decref(pairs);
                return -1;
            }
            if (!wsp_jsonptr_valid(ptr)) {
                json_decref(pairs);
                return fail_at(P, err, k->start_mark,
                               "%s.json: '%.60s' is not a JSON pointer (RFC 6901: '' or /a/b)",
                               path, ptr);
            }
            char *vt = NULL;
            if (v && v->type == YAML_SCALAR_NODE && !is_plain(v) &&
                wsp_tmpl_has_vars((const char *)v->data.scalar.value)) {
                /* a template: kept as written, filled when the message arrives */
                if (want_scalar(P, v, "expect.json", &s, err) != 0) {
                    json_decref(pairs);
                    return -1;
                }
                if (wsp_tmpl_check(s, true, "expect.json", getenv, &e) != 0) {
                    json_decref(pairs);
                    return fail_at(P, err, v->start_mark, "%s.json: %s", path, e.msg);
                }
                vt = strdup(s);
            } else {
                json_t *jv = to_json(P, v, 4, err);
                if (!jv) {
                    json_decref(pairs);
                    return -1;
                }
                vt = json_dumps(jv, JSON_ENCODE_ANY | JSON_COMPACT);
                json_decref(jv);
            }
            json_t *pv = vt ? json_pack("{s:s,s:s}", "pointer", ptr, "value", vt) : NULL;
            free(vt);
            if (!pv || json_array_append_new(pairs, pv) != 0) {
                json_decref(pv);
                json_decref(pairs);
                return fail_at(P, err, jn->start_mark, "out of memory");
            }
        }
        step = json_pack("{s:o}", "expect_json", pairs);
    }
    if (!step)
        return fail_at(P, err, xn->start_mark, "out of memory");
    if (within_ms)
        json_object_set_new(step, "within_ms", json_integer(within_ms));
    json_array_append_new(steps, step);
    return 0;
}

/* close: 4001, or [4001, 4003]: the server must close with one of these after the last step
 * (--expect-close); o gets "expect_close". */
static int close_codes(wsp_plan *P, yaml_node_t *n, const char *path, json_t *o, wsp_plan_err *err)
{
    char list[128] = "";
    size_t used = 0;
    const char *s;
    size_t cnt = n->type == YAML_SEQUENCE_NODE
                     ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                     : 1;
    for (size_t i = 0; i < cnt && used < sizeof list; i++) {
        yaml_node_t *it =
            n->type == YAML_SEQUENCE_NODE ? node_at(P, n->data.sequence.items.start[i]) : n;
        if (want_scalar(P, it, "conversation.close", &s, err) != 0)
            return -1;
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? "," : "", s);
    }
    int codes[WSP_PROBE_MAX_CLOSE_CODES];
    const char *why = NULL;
    int k = used < sizeof list
                ? wsp_ws_close_codes_parse(list, codes, WSP_PROBE_MAX_CLOSE_CODES, &why)
                : -1;
    if (k < 0)
        return fail_at(P, err, n->start_mark, "%s.close: %s", path, why ? why : "too many codes");
    json_t *arr = json_array();
    for (int i = 0; arr && i < k; i++)
        json_array_append_new(arr, json_integer(codes[i]));
    json_object_set_new(o, "expect_close", arr);
    return 0;
}

/* send: a message, or a list of them; each a template checked here. */
static int send_steps(wsp_plan *P, yaml_node_t *n, const char *path, json_t *steps,
                      wsp_plan_err *err)
{
    wsp_err e;
    const char *s;
    size_t cnt = n->type == YAML_SEQUENCE_NODE
                     ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                     : 1;
    if (n->type == YAML_MAPPING_NODE)
        return fail_at(P, err, n->start_mark,
                       "%s.send: expected a message (text) or a list of messages, got a mapping; "
                       "quote JSON messages: send: '{\"type\": \"ping\"}'",
                       path);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it =
            n->type == YAML_SEQUENCE_NODE ? node_at(P, n->data.sequence.items.start[i]) : n;
        if (want_string(P, it, "conversation.send", &s, err) != 0)
            return -1;
        if (wsp_tmpl_check(s, false, "send", getenv, &e) != 0)
            return fail_at(P, err, it->start_mark, "%s.send: %s", path, e.msg);
        json_array_append_new(steps, json_pack("{s:s}", "send", s));
    }
    return 0;
}

/* send_binary: one BYTES spec or a list (as --send-binary: @FILE, hex:, base64:), checked
 * now and kept as written: the step is built from it when the check runs (plancheck.c). */
static int binary_steps(wsp_plan *P, yaml_node_t *n, const char *path, json_t *steps,
                        wsp_plan_err *err)
{
    size_t cnt = n->type == YAML_SEQUENCE_NODE
                     ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                     : 1;
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it =
            n->type == YAML_SEQUENCE_NODE ? node_at(P, n->data.sequence.items.start[i]) : n;
        const char *s;
        char kp[200];
        snprintf(kp, sizeof kp, "%s.send_binary", path);
        if (want_string(P, it, kp, &s, err) != 0 || binary_ok(P, it, kp, s, false, err) != 0)
            return -1;
        json_array_append_new(steps, json_pack("{s:s}", "send_binary", s));
    }
    return 0;
}

/* ---- a conversation's `steps:` list: one step per item, in order ---- */

/* emit: / emit_ack: {event: NAME, args: VALUE} or 'NAME JSON' (the command line's --emit,
 * parsed by its own parser on a scratch setup) -> {"emit": NAME, "args": JSON-ARRAY-TEXT}: a
 * list is the arguments, any other value the one argument. */
static int emit_step(wsp_plan *P, yaml_node_t *v, const char *kind, const char *kp, json_t *steps,
                     wsp_plan_err *err)
{
    json_t *step = NULL;
    if (v && v->type == YAML_MAPPING_NODE) {
        static const char *const keys[] = {"event", "args", NULL};
        yaml_mark_t km;
        char ap[352];
        const char *name;
        if (check_keys(P, v, kp, keys, err) != 0)
            return -1;
        yaml_node_t *en = map_get(P, v, "event", &km), *an = map_get(P, v, "args", &km);
        if (!en)
            return fail_at(P, err, v->start_mark,
                           "%s: expected event: NAME (and args: its arguments, a list for "
                           "several)",
                           kp);
        snprintf(ap, sizeof ap, "%s.event", kp);
        if (want_string(P, en, ap, &name, err) != 0)
            return -1;
        char *args = NULL, *arr = NULL;
        snprintf(ap, sizeof ap, "%s.args", kp);
        if (an && !is_null(an) && !(args = json_text(P, an, ap, false, 7, err)))
            return -1;
        /* kept as the array of arguments, as --emit keeps them (probe.h) */
        if (args && !(arr = wsp_step_emit_args(args))) {
            free(args);
            return fail_at(P, err, v->start_mark, "out of memory");
        }
        step =
            arr ? json_pack("{s:s,s:s}", kind, name, "args", arr) : json_pack("{s:s}", kind, name);
        free(args);
        free(arr);
    } else {
        const char *text;
        if (want_string(P, v, kp, &text, err) != 0)
            return -1;
        wsp_probe_setup *tmp = malloc(sizeof *tmp); /* some 20 KiB: not on the stack */
        if (!tmp)
            return fail_at(P, err, v->start_mark, "out of memory");
        wsp_probe_setup_init(tmp);
        const wsp_opt *o =
            wsp_opt_by_name(wsp_probe_opt_tables, strcmp(kind, "emit") == 0 ? "emit" : "emit-ack");
        int rc = set_opt(P, tmp, o, text, v, kp, err);
        if (rc == 0) {
            const wsp_step *st = &tmp->cfg.steps[tmp->cfg.num_steps - 1];
            step = st->value_json ? json_pack("{s:s,s:s}", kind, st->text, "args", st->value_json)
                                  : json_pack("{s:s}", kind, st->text);
        }
        wsp_probe_setup_cleanup(tmp);
        free(tmp);
        if (rc != 0)
            return -1;
    }
    if (!step || json_array_append_new(steps, step) != 0)
        return fail_at(P, err, v->start_mark, "out of memory");
    return 0;
}

/* subscribe: QUERY or {query: QUERY, variables: {...}}; QUERY may be @FILE (read now, as
 * --subscribe reads it) -> {"subscribe": DOCUMENT, "variables": JSON-TEXT}. */
static int subscribe_step(wsp_plan *P, yaml_node_t *v, const char *kp, json_t *steps,
                          wsp_plan_err *err)
{
    yaml_node_t *qn = v, *vn = NULL;
    yaml_mark_t km;
    char qp[352];
    snprintf(qp, sizeof qp, "%s", kp);
    if (v && v->type == YAML_MAPPING_NODE) {
        static const char *const keys[] = {"query", "variables", NULL};
        if (check_keys(P, v, kp, keys, err) != 0)
            return -1;
        qn = map_get(P, v, "query", &km);
        vn = map_get(P, v, "variables", &km);
        if (!qn)
            return fail_at(P, err, v->start_mark,
                           "%s: expected query: DOCUMENT (and variables: {...})", kp);
        snprintf(qp, sizeof qp, "%s.query", kp);
    }
    const char *q;
    if (want_string(P, qn, qp, &q, err) != 0)
        return -1;
    wsp_err e;
    wsp_err_clear(&e);
    size_t len = 0;
    char *doc = wsp_file_text_or_at(qp, q, WSP_PLAN_MAX_BYTES, &len, &e);
    if (!doc)
        return fail_at(P, err, qn->start_mark, "%s", e.msg);
    if (!len || strlen(doc) != len || !doc[strspn(doc, " \t\r\n")]) {
        free(doc);
        return fail_at(P, err, qn->start_mark,
                       "%s: expected a GraphQL document (text, no NUL byte)", qp);
    }
    char *vars = NULL;
    char vp[352];
    snprintf(vp, sizeof vp, "%s.variables", kp);
    if (vn && !is_null(vn) && !(vars = json_text(P, vn, vp, true, 7, err))) {
        free(doc);
        return -1;
    }
    json_t *step = vars ? json_pack("{s:s,s:s}", "subscribe", doc, "variables", vars)
                        : json_pack("{s:s}", "subscribe", doc);
    free(doc);
    free(vars);
    if (!step || json_array_append_new(steps, step) != 0)
        return fail_at(P, err, v->start_mark, "out of memory");
    return 0;
}

/* ping: and expect_complete: true (or nothing, or the bare name); false leaves it out. */
static int flag_step(wsp_plan *P, yaml_node_t *v, const char *kind, const char *kp, json_t *steps,
                     wsp_plan_err *err)
{
    bool on = true;
    if (v && !is_null(v) && want_bool(P, v, kp, &on, err) != 0)
        return -1;
    if (on && json_array_append_new(steps, json_pack("{s:b}", kind, 1)) != 0)
        return fail_at(P, err, v ? v->start_mark : P->envs_mark, "out of memory");
    return 0;
}

static const char step_kinds[] = "send, send_binary, expect, ping, emit, emit_ack, expect_event, "
                                 "subscribe, expect_complete";

/* One item of steps: (at `ip`, "checks[0].conversation.steps[2]"): one key, one step. */
static int list_step(wsp_plan *P, yaml_node_t *sn, const char *ip, json_t *steps, wsp_plan_err *err)
{
    const char *kind;
    yaml_node_t *v = NULL;
    if (sn->type == YAML_SCALAR_NODE) { /* - ping, - expect_complete */
        if (want_string(P, sn, ip, &kind, err) != 0)
            return -1;
        if (strcmp(kind, "ping") != 0 && strcmp(kind, "expect_complete") != 0)
            return fail_at(P, err, sn->start_mark,
                           "%s: expected one step (kind: value), e.g. - emit: {event: NAME, "
                           "args: [...]}; got '%.60s'",
                           ip, kind);
    } else {
        long npairs = sn->type == YAML_MAPPING_NODE
                          ? (long)(sn->data.mapping.pairs.top - sn->data.mapping.pairs.start)
                          : 0;
        if (npairs != 1)
            return fail_at(P, err, sn->start_mark,
                           "%s: expected one step (kind: value) per item, got %s%s; start each "
                           "step with its own '- '",
                           ip, sn->type == YAML_MAPPING_NODE ? "several keys" : type_name(sn),
                           sn->type == YAML_MAPPING_NODE && npairs == 0 ? " (none)" : "");
        if (want_string(P, node_at(P, sn->data.mapping.pairs.start->key), ip, &kind, err) != 0)
            return -1;
        v = node_at(P, sn->data.mapping.pairs.start->value);
    }
    char kp[320];
    snprintf(kp, sizeof kp, "%s.%s", ip, kind);
    bool many = v && v->type == YAML_SEQUENCE_NODE;
    if (many && (!strcmp(kind, "send") || !strcmp(kind, "send_binary") || !strcmp(kind, "expect")))
        return fail_at(P, err, v->start_mark,
                       "%s: one message or expectation per step; give each its own item", kp);
    if (!strcmp(kind, "send"))
        return v ? send_steps(P, v, ip, steps, err)
                 : fail_at(P, err, sn->start_mark, "%s: expected a message", kp);
    if (!strcmp(kind, "send_binary"))
        return v ? binary_steps(P, v, ip, steps, err)
                 : fail_at(P, err, sn->start_mark, "%s: expected @FILE, hex: or base64:", kp);
    if (!strcmp(kind, "expect"))
        return expect_steps(P, v, kp, steps, err);
    if (!strcmp(kind, "ping") || !strcmp(kind, "expect_complete"))
        return flag_step(P, v, kind, kp, steps, err);
    if (!strcmp(kind, "emit") || !strcmp(kind, "emit_ack"))
        return emit_step(P, v, kind, kp, steps, err);
    if (!strcmp(kind, "subscribe"))
        return subscribe_step(P, v, kp, steps, err);
    if (!strcmp(kind, "expect_event")) {
        const char *name;
        if (want_string(P, v, kp, &name, err) != 0)
            return -1;
        if (json_array_append_new(steps, json_pack("{s:s}", "expect_event", name)) != 0)
            return fail_at(P, err, v->start_mark, "out of memory");
        return 0;
    }
    return fail_at(P, err, node_at(P, sn->data.mapping.pairs.start->key)->start_mark,
                   "%s: unknown step '%.60s'; expected one of: %s", ip, kind, step_kinds);
}

static int steps_list(wsp_plan *P, yaml_node_t *n, const char *path, json_t *steps,
                      wsp_plan_err *err)
{
    char lp[256];
    snprintf(lp, sizeof lp, "%s.steps", path);
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return fail_at(P, err, n ? n->start_mark : P->envs_mark,
                       "%s: expected a list of steps (- emit: ..., - expect: ...), got %s", lp,
                       type_name(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > WSP_PLAN_MAX_STEPS)
        return fail_at(P, err, n->start_mark, "%s: at most %d steps in a conversation", lp,
                       WSP_PLAN_MAX_STEPS);
    size_t i = 0;
    FOR_ITEMS(n, it)
    {
        yaml_node_t *sn = node_at(P, *it);
        char ip[272];
        snprintf(ip, sizeof ip, "%s[%zu]", lp, i++);
        if (!sn || visit(P, sn, 5, err) != 0 || list_step(P, sn, ip, steps, err) != 0)
            return -1;
    }
    return 0;
}

/* conversation parameters -> {"steps": [...], "within_ms": N} */
static json_t *conversation_params(wsp_plan *P, yaml_node_t *pn, const char *path,
                                   const char **name, wsp_plan_err *err)
{
    static const char *const keys[] = {"name", "send",         "send_binary", "expect", "within",
                                       "ping", "strict_order", "close",       "steps",  NULL};
    static const char *const flat[] = {"send", "send_binary", "expect", "ping"};
    if (want_map(P, pn, path, err) != 0 || check_keys(P, pn, path, keys, err) != 0)
        return NULL;
    yaml_mark_t km;
    json_t *o = json_object(), *steps = json_array();
    if (!o || !steps) {
        json_decref(o);
        json_decref(steps);
        fail_at(P, err, pn->start_mark, "out of memory");
        return NULL;
    }
    json_object_set_new(o, "steps", steps);
    yaml_node_t *n;
    if (name && (n = map_get(P, pn, "name", &km)) && want_string(P, n, "name", name, err) != 0)
        goto fail;
    if ((n = map_get(P, pn, "within", &km))) {
        uint64_t us;
        if (want_duration(P, n, "conversation.within", &us, err) != 0)
            goto fail;
        json_object_set_new(o, "within_ms", json_integer((json_int_t)(us / 1000)));
    }
    yaml_mark_t sm;
    yaml_node_t *sl = map_get(P, pn, "steps", &sm);
    for (size_t i = 0; sl && i < sizeof flat / sizeof flat[0]; i++)
        if (map_get(P, pn, flat[i], &km)) {
            fail_at(P, err, km,
                    "%s: %s: beside steps: - the steps list is the whole conversation, in "
                    "order: write it there as - %s: ...",
                    path, flat[i], flat[i]);
            goto fail;
        }
    if (sl && steps_list(P, sl, path, steps, err) != 0)
        goto fail;
    if ((n = map_get(P, pn, "send", &km)) && send_steps(P, n, path, steps, err) != 0)
        goto fail;
    if ((n = map_get(P, pn, "send_binary", &km)) && binary_steps(P, n, path, steps, err) != 0)
        goto fail;
    if ((n = map_get(P, pn, "ping", &km))) {
        bool b;
        if (want_bool(P, n, "conversation.ping", &b, err) != 0)
            goto fail;
        if (b)
            json_array_append_new(steps, json_pack("{s:b}", "ping", 1));
    }
    if ((n = map_get(P, pn, "expect", &km))) {
        char xp[160];
        snprintf(xp, sizeof xp, "%s.expect", path);
        if (n->type == YAML_SEQUENCE_NODE) {
            FOR_ITEMS(n, it)
            {
                if (expect_steps(P, node_at(P, *it), xp, steps, err) != 0)
                    goto fail;
            }
        } else if (expect_steps(P, n, xp, steps, err) != 0) {
            goto fail;
        }
    }
    if ((n = map_get(P, pn, "strict_order", &km))) {
        bool b;
        if (want_bool(P, n, "conversation.strict_order", &b, err) != 0)
            goto fail;
        json_object_set_new(o, "strict_order", json_boolean(b));
    }
    if ((n = map_get(P, pn, "close", &km)) && close_codes(P, n, path, o, err) != 0)
        goto fail;
    if (json_array_size(steps) > WSP_PLAN_MAX_STEPS) {
        fail_at(P, err, pn->start_mark, "%s: at most %d steps in a conversation", path,
                WSP_PLAN_MAX_STEPS);
        goto fail;
    }
    if (json_array_size(steps) == 0 && !json_object_get(o, "expect_close")) {
        fail_at(P, err, pn->start_mark,
                "%s: expected steps:, send: and expect:, or close: (or write the check "
                "without parameters to use the environment's marker)",
                path);
        goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* `security:` (the whole production-safe suite), `security: [groups or ids]` or
 * `security: {checks: [...], include_staging_only: true}`. */
static int security_check_entry(wsp_plan *P, yaml_node_t *cn, yaml_node_t *pn, const char *path,
                                wsp_plan_err *err)
{
    yaml_mark_t km;
    bool staging = false;
    yaml_node_t *list = pn;
    if (pn && pn->type == YAML_MAPPING_NODE) {
        static const char *const keys[] = {"checks", "include_staging_only", NULL};
        if (check_keys(P, pn, path, keys, err) != 0)
            return -1;
        yaml_node_t *st = map_get(P, pn, "include_staging_only", &km);
        if (st && want_bool(P, st, "include_staging_only", &staging, err) != 0)
            return -1;
        list = map_get(P, pn, "checks", &km);
        if (!list)
            return fail_at(P, err, pn->start_mark, "%s: expected checks: [groups or ids]", path);
    }
    if (!list) {
        /* the whole (production-safe) suite: "all" when it is linked in */
        {
            const char *g = "all";
            yaml_node_t fake = *cn;
            fake.type = YAML_SCALAR_NODE;
            fake.data.scalar.value = (yaml_char_t *)(uintptr_t)g;
            fake.data.scalar.length = strlen(g);
            fake.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
            if (security_entry(P, &fake, staging, err) != 0)
                return -1;
        }
        return 0;
    }
    if (list->type == YAML_SCALAR_NODE)
        return security_entry(P, list, staging, err);
    if (list->type != YAML_SEQUENCE_NODE)
        return fail_at(P, err, list->start_mark,
                       "%s: expected a list of groups or check ids, got %s", path, type_name(list));
    FOR_ITEMS(list, it)
    {
        yaml_node_t *e = node_at(P, *it);
        if (!e || visit(P, e, 3, err) != 0 || security_entry(P, e, staging, err) != 0)
            return -1;
    }
    return 0;
}

/* `concurrent: {name:, connections: N, each: connect | conversation | ID | {send:, expect:}}`:
 * the parameters, or NULL with err. */
static json_t *concurrent_params(wsp_plan *P, yaml_node_t *pn, yaml_mark_t at, const char *path,
                                 const char **name, wsp_plan_err *err)
{
    yaml_mark_t km;
    static const char *const keys[] = {"name", "connections", "each", NULL};
    if (!pn)
        return fail_at_null(P, err, at, "%s: expected {connections: N, each: conversation}", path);
    if (want_map(P, pn, path, err) != 0 || check_keys(P, pn, path, keys, err) != 0)
        return NULL;
    yaml_node_t *n = map_get(P, pn, "name", &km);
    if (n && want_string(P, n, "name", name, err) != 0)
        return NULL;
    long conns = 0;
    n = map_get(P, pn, "connections", &km);
    if (!n)
        return fail_at_null(P, err, pn->start_mark, "%s: expected connections: N", path);
    if (want_int(P, n, "concurrent.connections", 1, 10000, &conns, err) != 0)
        return NULL;
    json_t *each = json_null();
    n = map_get(P, pn, "each", &km);
    if (n && n->type == YAML_SCALAR_NODE) {
        const char *ref;
        if (want_string(P, n, "concurrent.each", &ref, err) != 0)
            return NULL;
        if (strcmp(ref, "connect") != 0) {
            /* a conversation check of this plan, by id; without one, the marker */
            bool found = false;
            for (size_t i = 0; i < P->num_items; i++)
                if (strcmp(P->ids[i], ref) == 0 &&
                    strcmp(P->items[i].def->id, "conversation") == 0) {
                    found = true;
                    if (P->params[i])
                        each = json_deep_copy(P->params[i]);
                    else
                        each = json_object();
                }
            if (!found && strcmp(ref, "conversation") != 0)
                return fail_at_null(P, err, n->start_mark,
                                    "%s.each: expected connect, conversation, the name of a "
                                    "conversation check above, or {send:, expect:}; got '%.60s'",
                                    path, ref);
            if (!found)
                each = json_object(); /* the environment's marker */
        }
    } else if (n) {
        char ep[96];
        snprintf(ep, sizeof ep, "%s.each", path);
        if (!(each = conversation_params(P, n, ep, NULL, err)))
            return NULL;
    }
    json_t *params = json_pack("{s:I,s:o}", "connections", (json_int_t)conns, "each", each);
    return params ? params : fail_at_null(P, err, pn->start_mark, "out of memory");
}

/* hold: {duration: 90s, ping_ladder: 20s, ...}: the options of `wsprobe hold` under their plan
 * keys (probe/hold.h), `send:` for its messages; each value checked where it is written, the
 * rules across them (a ladder step not shorter than the duration ...) at the check. duration
 * is required: a plan says how long it holds, and the run's --deadline must outlast it. */
static json_t *hold_value(wsp_plan *P, const char *key, yaml_node_t *v, const char *kp,
                          wsp_plan_err *err)
{
    const wsp_opt *const tables[] = {wsp_hold_opts, NULL};
    const wsp_opt *o = wsp_opt_by_plan_key(tables, key);
    const char *text;
    if (o && o->type == WSP_OPT_FLAG) {
        bool b;
        return want_bool(P, v, kp, &b, err) == 0 ? json_boolean(b) : NULL;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return want_string(P, v, kp, &text, err) == 0 ? json_string(text) : NULL;
    if (o && o->id == WSP_HOLD_OPT_LADDER) { /* [15s, 30s] is the ladder 15s,30s */
        wsp_buf b = WSP_BUF_INIT;
        FOR_ITEMS(v, it)
        {
            if (want_string(P, node_at(P, *it), kp, &text, err) != 0 ||
                wsp_buf_printf(&b, "%s%s", b.len ? "," : "", text) != 0) {
                wsp_buf_free(&b);
                return NULL;
            }
        }
        json_t *j = json_string(b.p ? b.p : "");
        wsp_buf_free(&b);
        return j;
    }
    if (o && !(o->flags & WSP_OPT_REPEAT))
        return fail_at_null(P, err, v->start_mark, "%s: expected one value, got a list", kp);
    json_t *a = json_array();
    FOR_ITEMS(v, it)
    {
        if (!a || want_string(P, node_at(P, *it), kp, &text, err) != 0 ||
            json_array_append_new(a, json_string(text)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *hold_params(wsp_plan *P, yaml_node_t *pn, yaml_mark_t at, const char *path,
                           const char **name, wsp_plan_err *err)
{
    if (!pn || want_map(P, pn, path, err) != 0)
        return pn ? NULL
                  : fail_at_null(P, err, at,
                                 "%s: expected {duration: DUR, ...} (how long to hold, e.g. 90s)",
                                 path);
    json_t *params = json_object();
    wsp_hold_setup hs;
    wsp_hold_setup_init(&hs);
    wsp_err e;
    wsp_err_clear(&e);
    FOR_PAIRS(pn, pr)
    {
        const char *k;
        yaml_node_t *kn = node_at(P, pr->key), *v = node_at(P, pr->value);
        if (want_string(P, kn, path, &k, err) != 0)
            goto fail;
        char kp[160];
        snprintf(kp, sizeof kp, "%s.%s", path, k);
        if (strcmp(k, "name") == 0) {
            if (want_string(P, v, "name", name, err) != 0)
                goto fail;
            continue;
        }
        if (!wsp_hold_plan_key(k)) {
            fail_at(P, err, kn->start_mark,
                    "%s: unknown key; expected name, send, emit, duration, per_strategy, "
                    "ping_ladder, "
                    "message_every, no_silent, expect_lifetime, expect_silent_lifetime, "
                    "reconnect, threshold",
                    kp);
            goto fail;
        }
        json_t *jv = hold_value(P, k, v, kp, err);
        if (!jv || json_object_set_new(params, k, jv) != 0)
            goto fail;
        if (wsp_hold_setup_set_json(&hs, k, jv, kp, &e) != 0) {
            fail_at(P, err, v->start_mark, "%s", e.msg);
            goto fail;
        }
    }
    if (!hs.duration_set) {
        fail_at(P, err, at,
                "%s: expected duration: DUR (how long to hold, e.g. 90s; the run's --deadline "
                "must outlast it)",
                path);
        goto fail;
    }
    if (wsp_hold_setup_finish(&hs, &e) != 0) {
        fail_at(P, err, at, "%s: %s", path, e.msg);
        goto fail;
    }
    wsp_hold_setup_cleanup(&hs);
    return params;
fail:
    wsp_hold_setup_cleanup(&hs);
    json_decref(params);
    return NULL;
}

static int check_entry(wsp_plan *P, yaml_node_t *cn, size_t idx, wsp_plan_err *err)
{
    const char *kind;
    yaml_node_t *pn = NULL;
    yaml_mark_t at = cn->start_mark;
    if (cn->type == YAML_SCALAR_NODE) {
        if (want_string(P, cn, "checks", &kind, err) != 0)
            return -1;
    } else if (cn->type == YAML_MAPPING_NODE) {
        long npairs = cn->data.mapping.pairs.top - cn->data.mapping.pairs.start;
        if (npairs != 1)
            return fail_at(P, err, cn->start_mark,
                           "checks[%zu]: expected one check (kind: parameters), got %ld keys; "
                           "start each check with its own '- '",
                           idx, npairs);
        yaml_node_t *k = node_at(P, cn->data.mapping.pairs.start->key);
        if (want_string(P, k, "checks", &kind, err) != 0)
            return -1;
        at = k->start_mark;
        pn = node_at(P, cn->data.mapping.pairs.start->value);
        if (pn && is_null(pn))
            pn = NULL;
    } else {
        return fail_at(P, err, cn->start_mark,
                       "checks[%zu]: expected a check name or 'kind: parameters', got a list", idx);
    }
    bool known = false;
    for (size_t i = 0; basic_kinds[i]; i++)
        if (strcmp(kind, basic_kinds[i]) == 0)
            known = true;
    if (!known)
        return fail_at(P, err, at,
                       "unknown check '%.60s'; expected one of: connect, health, conversation, "
                       "concurrent, expect_auth_required, security, hold",
                       kind);
    char path[64];
    snprintf(path, sizeof path, "checks[%zu].%s", idx, kind);
    if (strcmp(kind, "security") == 0)
        return security_check_entry(P, cn, pn, path, err);
    const wsp_check_def *def = wsp_plancheck_find(kind);
    if (!def)
        return fail_at(P, err, at, "check '%s' is not in this build", kind);
    const char *name = kind;
    json_t *params = NULL;
    if (strcmp(kind, "conversation") == 0) {
        if (pn && !(params = conversation_params(P, pn, path, &name, err)))
            return -1;
    } else if (strcmp(kind, "concurrent") == 0) {
        if (!(params = concurrent_params(P, pn, at, path, &name, err)))
            return -1;
    } else if (strcmp(kind, "hold") == 0) {
        if (!(params = hold_params(P, pn, at, path, &name, err)))
            return -1;
    } else if (pn) {
        yaml_mark_t km;
        static const char *const keys[] = {"name", NULL};
        if (strcmp(kind, "expect_auth_required") == 0 && is_plain(pn)) {
            bool b;
            if (want_bool(P, pn, path, &b, err) != 0)
                return -1;
            if (!b)
                return 0; /* expect_auth_required: false - nothing to check */
        } else {
            if (want_map(P, pn, path, err) != 0 || check_keys(P, pn, path, keys, err) != 0)
                return -1;
            yaml_node_t *n = map_get(P, pn, "name", &km);
            if (n && want_string(P, n, "name", &name, err) != 0)
                return -1;
        }
    }
    return add_item(P, def, params, name, at, err);
}

/* ---- the document ---- */

static int load_doc(wsp_plan *P, const char *data, size_t len, wsp_plan_err *err)
{
    /* bounded before it is built (codec/yaml.h): nesting and nodes are counted on libyaml's
     * events and a second document is refused, before any tree exists */
    const wsp_yaml_limits lim = {WSP_PLAN_MAX_DEPTH, WSP_PLAN_MAX_NODES};
    wsp_yaml_result res;
    wsp_yaml_status st = wsp_yaml_load(data, len, &lim, &P->doc, &res);
    if (st == WSP_YAML_OK) {
        P->have_doc = true;
        return 0;
    }
    char msg[sizeof err->msg];
    wsp_yaml_describe(&res, P->modules ? "an exporter configuration" : "a plan", msg, sizeof msg);
    if (st == WSP_YAML_NO_MEMORY)
        fail_plain(err, P->file, "%s", msg);
    else
        fail_at(P, err, res.mark, "%s", msg);
    return -1;
}

/* The names of a plan's environments (an exporter's modules) and where each is written. */
static int read_names(wsp_plan *P, yaml_node_t *map, const char *what, wsp_plan_err *err)
{
    FOR_PAIRS(map, pr)
    {
        yaml_node_t *k = node_at(P, pr->key);
        const char *name;
        if (!k || k->type != YAML_SCALAR_NODE)
            return fail_at(P, err, k ? k->start_mark : map->start_mark,
                           "%s: names must be strings, got %s", what, type_name(k));
        if (want_string(P, k, what, &name, err) != 0)
            return -1;
        for (size_t i = 0; i < P->num_envs; i++)
            if (strcmp(P->envs[i].name, name) == 0)
                return fail_at(P, err, k->start_mark, "%s: '%.60s' is defined twice", what, name);
        if (strlen(name) > 64 || strpbrk(name, " \t\r\n/\\\"'<>&"))
            return fail_at(P, err, k->start_mark,
                           "%s: '%.60s': names are at most 64 characters without "
                           "spaces, quotes, slashes or markup",
                           what, name);
        if (P->num_envs >= WSP_PLAN_MAX_ENVS)
            return fail_at(P, err, k->start_mark, "%s: more than %d", what, WSP_PLAN_MAX_ENVS);
        plan_env *pe = &P->envs[P->num_envs++];
        pe->name = name;
        pe->node = node_at(P, pr->value);
        pe->mark = k->start_mark;
        if (!pe->node || visit(P, pe->node, 1, err) != 0)
            return -1;
    }
    if (P->num_envs == 0)
        return fail_at(P, err, map->start_mark, "%s: expected at least one", what);
    return 0;
}

/* Each conversation speaks the protocol of the environment it runs on (plancheck.h's rule,
 * the command line's): checked on every environment now, as every environment's keys are, so
 * an emit in a plan without protocol: socketio is refused before any connection. */
static int conversation_fits(wsp_plan *P, const json_t *params, const plan_env *pe, yaml_mark_t at,
                             const char *what, wsp_plan_err *err)
{
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_plancheck_steps_check(params, pe->proto, &e) == 0)
        return 0;
    /* the rule speaks the command line's words; a plan says --protocol with protocol: */
    bool proto = strstr(e.msg, "needs --protocol ") != NULL;
    const char *kind = pe->proto == WSP_PROTO_NONE ? "none" : wsp_proto_kind_name(pe->proto);
    if (P->modules)
        return fail_at(P, err, at, "modules.%s.%s (protocol: %s): %s%s", pe->name, what, kind,
                       e.msg, proto ? " (here: the module's protocol: key)" : "");
    return fail_at(P, err, at, "%s, on environment %s (protocol: %s): %s%s", what, pe->name, kind,
                   e.msg, proto ? " (in a plan: the environment's protocol: key)" : "");
}

/* Under a protocol the environment's marker is the protocol's own request, which has no
 * default: a check that uses it (a security check, a conversation without steps) needs the
 * environment's marker: written for that protocol. */
static int marker_fits(wsp_plan *P, size_t i, const json_t *params, wsp_plan_err *err)
{
    bool security = strcmp(P->items[i].def->group, "basic") != 0;
    bool marker = strcmp(P->items[i].def->id, "conversation") == 0 &&
                  json_array_size(json_object_get(params, "steps")) == 0 &&
                  json_array_size(json_object_get(params, "expect_close")) == 0;
    for (size_t k = 0; (security || marker) && k < P->num_envs; k++) {
        const plan_env *pe = &P->envs[k];
        if (pe->proto == WSP_PROTO_NONE || pe->has_marker)
            continue;
        return fail_at(P, err, P->marks[i],
                       "checks: %s uses the environment's success marker, and environment %s "
                       "(protocol: %s) has none: give it marker: {send: %s, expect: {json: "
                       "{PTR: VALUE}}}",
                       P->ids[i], pe->name, wsp_proto_kind_name(pe->proto),
                       pe->proto == WSP_PROTO_SOCKETIO ? "'EVENT JSON' (an emit the server acks)"
                                                       : "a GraphQL document");
    }
    return 0;
}

/* A hold's messages are texts (send:) on a plain WebSocket and emits (emit:) under Socket.IO;
 * under GraphQL it sends none. */
static int hold_fits(wsp_plan *P, size_t i, const json_t *params, wsp_plan_err *err)
{
    if (strcmp(P->items[i].def->id, "hold") != 0)
        return 0;
    bool send = json_object_get(params, "send") != NULL,
         emit = json_object_get(params, "emit") != NULL;
    for (size_t k = 0; (send || emit) && k < P->num_envs; k++) {
        wsp_proto_kind pk = P->envs[k].proto;
        const char *bad = pk == WSP_PROTO_NONE && emit ? "emit: needs protocol: socketio"
                          : pk == WSP_PROTO_SOCKETIO && send
                              ? "under protocol: socketio a message is an emit: write emit: "
                                "'EVENT JSON' instead of send:"
                          : pk == WSP_PROTO_GRAPHQL ? "under protocol: graphql a hold sends no "
                                                      "messages (no send:, no emit:)"
                                                    : NULL;
        if (bad)
            return fail_at(P, err, P->marks[i], "checks: %s, on environment %s: %s", P->ids[i],
                           P->envs[k].name, bad);
    }
    return 0;
}

static int protocols_fit(wsp_plan *P, wsp_plan_err *err)
{
    for (size_t i = 0; i < P->num_items; i++) {
        const char *kind = P->items[i].def->id;
        const json_t *params = P->params[i];
        if (marker_fits(P, i, params, err) != 0 || hold_fits(P, i, params, err) != 0)
            return -1;
        if (strcmp(kind, "concurrent") == 0) {
            params = json_object_get(P->params[i], "each");
            if (!json_is_object(params))
                continue; /* connect only */
        } else if (strcmp(kind, "conversation") != 0) {
            continue;
        }
        char what[96];
        snprintf(what, sizeof what, "checks: %s", P->ids[i]);
        for (size_t k = 0; k < P->num_envs; k++)
            if (conversation_fits(P, params, &P->envs[k], P->marks[i], what, err) != 0)
                return -1;
    }
    return 0;
}

static const char *const top_keys[] = {"name", "description", "environments", "checks", NULL};

static int validate(wsp_plan *P, wsp_plan_err *err)
{
    yaml_node_t *root = yaml_document_get_root_node(&P->doc);
    yaml_mark_t zero = {0, 0, 0};
    if (!root)
        return fail_at(P, err, zero,
                       "empty plan: expected a mapping with environments: and checks:");
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(P, err, root->start_mark,
                       "expected a mapping with environments: and checks:, got %s",
                       type_name(root));
    if (check_keys(P, root, "plan", top_keys, err) != 0)
        return -1;
    const char *s;
    yaml_mark_t km;
    yaml_node_t *n = map_get(P, root, "name", &km);
    if (n && want_scalar(P, n, "name", &s, err) != 0)
        return -1;
    yaml_node_t *envs = map_get(P, root, "environments", &P->envs_mark);
    if (!envs)
        return fail_at(P, err, root->start_mark,
                       "expected environments: (at least one named target with its url)");
    if (want_map(P, envs, "environments", err) != 0)
        return -1;
    if (read_names(P, envs, "environments", err) != 0)
        return -1;
    P->warn_limits = true;
    for (size_t i = 0; i < P->num_envs; i++)
        if (env_build(P, i, NULL, err) != 0)
            return -1;
    P->warn_limits = false;
    yaml_mark_t cm;
    yaml_node_t *checks = map_get(P, root, "checks", &cm);
    if (!checks)
        return fail_at(P, err, root->start_mark, "expected checks: (a list of what must hold)");
    if (checks->type != YAML_SEQUENCE_NODE)
        return fail_at(P, err, checks->start_mark, "checks: expected a list, got %s",
                       type_name(checks));
    size_t idx = 0;
    FOR_ITEMS(checks, it)
    {
        yaml_node_t *cn = node_at(P, *it);
        if (!cn || visit(P, cn, 1, err) != 0 || check_entry(P, cn, idx++, err) != 0)
            return -1;
    }
    if (P->num_items == 0)
        return fail_at(P, err, checks->start_mark, "checks: expected at least one check");
    return protocols_fit(P, err);
}

wsp_plan *wsp_plan_load_buffer(const char *name, const char *data, size_t len, wsp_plan_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (len > WSP_PLAN_MAX_BYTES) {
        fail_plain(err, name, "the plan is larger than %u bytes", WSP_PLAN_MAX_BYTES);
        return NULL;
    }
    wsp_plan *P = calloc(1, sizeof *P);
    if (!P) {
        fail_plain(err, name, "out of memory");
        return NULL;
    }
    snprintf(P->file, sizeof P->file, "%s", name);
    if (load_doc(P, data, len, err) != 0 || validate(P, err) != 0) {
        wsp_plan_free(P);
        return NULL;
    }
    return P;
}

wsp_plan *wsp_plan_load_file(const char *path, wsp_plan_err *err)
{
    size_t n = 0;
    wsp_err e;
    char *buf = wsp_file_read("the plan", path, WSP_PLAN_MAX_BYTES, 0, &n, &e);
    if (!buf) {
        fail_plain(err, path, "%s", e.msg);
        return NULL;
    }
    wsp_plan *P = wsp_plan_load_buffer(path, buf, n, err);
    free(buf);
    return P;
}

void wsp_plan_free(wsp_plan *P)
{
    if (!P)
        return;
    for (size_t i = 0; i < P->num_items; i++)
        json_decref(P->params[i]);
    while (P->stores) {
        env_store *st = P->stores;
        P->stores = st->next;
        wsp_probe_setup_cleanup(&st->setup);
        for (size_t i = 0; i < st->num_headers; i++)
            free(st->headers[i]);
        free(st);
    }
    for (size_t i = 0; P->modules && i < P->num_envs; i++) {
        wsp_env_cleanup(&P->mods[i].env);
        json_decref(P->mods[i].conversation);
    }
    if (P->have_doc)
        yaml_document_delete(&P->doc);
    free(P);
}

size_t wsp_plan_env_count(const wsp_plan *P)
{
    return P->num_envs;
}

const char *wsp_plan_env_name(const wsp_plan *P, size_t i)
{
    return i < P->num_envs ? P->envs[i].name : NULL;
}

bool wsp_plan_has_env(const wsp_plan *P, const char *name)
{
    for (size_t i = 0; i < P->num_envs; i++)
        if (strcmp(P->envs[i].name, name) == 0)
            return true;
    return false;
}

size_t wsp_plan_check_count(const wsp_plan *P)
{
    return P->num_items;
}

const wsp_check_item *wsp_plan_items(const wsp_plan *P)
{
    return P->items;
}

const char *wsp_plan_check_id(const wsp_plan *P, size_t i)
{
    return i < P->num_items ? P->ids[i] : NULL;
}

const char *const *wsp_plan_groups(const wsp_plan *P)
{
    return P->groups;
}

int wsp_plan_fits_deadline(const wsp_plan *P, uint64_t deadline_us, wsp_plan_err *err)
{
    for (size_t i = 0; deadline_us && i < P->num_items; i++) {
        const char *d = json_string_value(json_object_get(P->params[i], "duration"));
        uint64_t us;
        if (strcmp(P->items[i].def->id, "hold") != 0 || !d || wsp_duration_parse(d, &us) != 0)
            continue;
        if (us + WSP_HOLD_MARGIN_US > deadline_us)
            return fail_at(P, err, P->marks[i],
                           "checks: %s holds for %s, which does not fit in the run's deadline of "
                           "%.3g s with the %.3g s it needs to open and close: raise --deadline "
                           "or shorten its duration",
                           P->ids[i], d, (double)deadline_us / 1e6,
                           (double)WSP_HOLD_MARGIN_US / 1e6);
    }
    return 0;
}

void wsp_plan_set_deadline_cap(wsp_plan *P, uint64_t cap_us)
{
    P->deadline_cap_us = cap_us;
}

int wsp_plan_env_load(wsp_plan *P, const char *name, wsp_env *env, wsp_plan_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    for (size_t i = 0; i < P->num_envs; i++)
        if (strcmp(P->envs[i].name, name) == 0) {
            int rc = env_build(P, i, env, err);
            if (rc != 0)
                return rc;
            return 0;
        }
    wsp_env_init(env);
    char list[512];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < P->num_envs && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", P->envs[i].name);
    return fail_at(P, err, P->envs_mark, "no environment '%.60s' in the plan; it defines: %s", name,
                   list);
}

json_t *wsp_plan_env_signing(wsp_plan *P, const char *name)
{
    static const char *const keys[] = {"secret_env", "secret_file", "key_file", "alg"};
    for (size_t i = 0; i < P->num_envs; i++) {
        if (strcmp(P->envs[i].name, name) != 0 || P->envs[i].node->type != YAML_MAPPING_NODE)
            continue;
        yaml_node_t *jn = map_get(
            (wsp_plan *)P, map_get((wsp_plan *)P, P->envs[i].node, "auth", NULL), "jwt", NULL);
        if (!jn)
            return NULL;
        json_t *o = json_object();
        for (size_t k = 0; o && k < sizeof keys / sizeof keys[0]; k++) {
            yaml_node_t *v = map_get(P, jn, keys[k], NULL);
            if (v && v->type == YAML_SCALAR_NODE)
                json_object_set_new(o, keys[k], json_string((const char *)v->data.scalar.value));
        }
        return o;
    }
    return NULL;
}

size_t wsp_plan_warning_count(const wsp_plan *plan)
{
    return plan ? plan->num_warnings : 0;
}

const char *wsp_plan_warning(const wsp_plan *plan, size_t i)
{
    return plan && i < plan->num_warnings ? plan->warnings[i] : NULL;
}

/* ---- an exporter's modules ---- */

static int validate_modules(wsp_plan *P, wsp_plan_err *err)
{
    static const char *const keys[] = {"modules", "description", NULL};
    yaml_node_t *root = yaml_document_get_root_node(&P->doc);
    yaml_mark_t zero = {0, 0, 0};
    if (!root || root->type != YAML_MAPPING_NODE)
        return fail_at(P, err, root ? root->start_mark : zero,
                       "expected a mapping with modules: (each a name and what its probe does)");
    if (check_keys(P, root, "configuration", keys, err) != 0)
        return -1;
    yaml_node_t *mods = map_get(P, root, "modules", &P->envs_mark);
    if (!mods)
        return fail_at(P, err, root->start_mark, "expected modules: (at least one)");
    if (want_map(P, mods, "modules", err) != 0 || read_names(P, mods, "modules", err) != 0)
        return -1;
    for (size_t i = 0; i < P->num_envs; i++) {
        if (env_build(P, i, NULL, err) != 0)
            return -1;
        yaml_mark_t km = P->envs[i].mark;
        map_get(P, P->envs[i].node, "conversation", &km);
        if (P->mods[i].conversation && conversation_fits(P, P->mods[i].conversation, &P->envs[i],
                                                         km, "conversation", err) != 0)
            return -1;
    }
    return 0;
}

wsp_plan *wsp_modules_load_file(const char *path, bool allow_any_target, wsp_plan_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    size_t n = 0;
    wsp_err e;
    char *buf = wsp_file_read("the configuration", path, WSP_PLAN_MAX_BYTES, 0, &n, &e);
    if (!buf) {
        fail_plain(err, path, "%s", e.msg);
        return NULL;
    }
    wsp_plan *P = calloc(1, sizeof *P);
    if (!P) {
        free(buf);
        fail_plain(err, path, "out of memory");
        return NULL;
    }
    snprintf(P->file, sizeof P->file, "%s", path);
    P->modules = true;
    P->allow_any_target = allow_any_target;
    int rc = load_doc(P, buf, n, err);
    free(buf);
    if (rc != 0 || validate_modules(P, err) != 0) {
        wsp_plan_free(P);
        return NULL;
    }
    /* built to run: credentials read, TLS contexts made, now, with the key's location */
    for (size_t i = 0; i < P->num_envs; i++) {
        if (env_build(P, i, &P->mods[i].env, err) != 0) {
            wsp_plan_free(P);
            return NULL;
        }
        P->mods[i].setup = &P->stores->setup; /* the store env_build just made */
    }
    return P;
}

size_t wsp_modules_count(const wsp_plan *P)
{
    return P && P->modules ? P->num_envs : 0;
}

const wsp_module *wsp_modules_get(const wsp_plan *P, size_t i)
{
    return i < wsp_modules_count(P) ? &P->mods[i] : NULL;
}

const wsp_module *wsp_modules_find(const wsp_plan *P, const char *name)
{
    for (size_t i = 0; i < wsp_modules_count(P); i++)
        if (strcmp(P->mods[i].name, name) == 0)
            return &P->mods[i];
    return NULL;
}
