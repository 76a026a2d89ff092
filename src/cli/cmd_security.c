/* cmd_security.c - `wsprobe security URL`: the security suite of SECURITY-CHECKS.md against one
 * endpoint, concurrently, with the human table, JSON and JUnit of runreport.h.
 *
 * Exit: 0 when every check that ran passed or warned (skip and not_applicable allowed), 1 when
 * any failed or was inconclusive (an unproven property is not green: docs/security.md), 2 on
 * usage errors. No message quotes a secret or a token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "check/check.h"
#include "check/security/security.h"
#include "cli.h"
#include "probeopts.h"
#include "report/report.h"
#include "report/runreport.h"
#include "util/clock.h"
#include "util/duration.h"

#define CMD "security"
#define MAX_NAMES 64
#define DEFAULT_PARALLEL 6
#define MAX_LEEWAY_US 120000000ull

static const char security_usage[] =
    "usage: wsprobe security URL [options]\n"
    "       wsprobe security --list [--json] [--include-staging-only]\n"
    "\n"
    "Run the security checks (docs/security.md) against a ws:// or wss:// endpoint.\n"
    "Each negative check runs beside a baseline with the valid credential and the\n"
    "allowed origin (--origin); without a working baseline the verdict is inconclusive.\n"
    "The connection, TLS and credential options are the probe's; --timeout is per phase and\n"
    "the wait for the success marker (default 10s).\n"
    "\n";

static const char security_after[] =
    "\n"
    "Exit: 0 all passed (warn, skip, not_applicable allowed); 1 a check failed or was\n"
    "inconclusive; 2 usage.\n";

/* The command's own options; the connection, TLS and credential options are the shared set
 * of probeopts.h, so a flag means the same thing as in `wsprobe probe`. --deadline is the whole
 * suite here (the probe's is left out of the shared tables), --origin is also the allowed
 * origin of the baselines; the conversation options are refused (the checks send their own
 * messages). */
enum {
    OPT_PLAINTEXT = WSP_PROBEOPTS_OWN,
    OPT_PARALLEL,
    OPT_CHECKS,
    OPT_STAGING,
    OPT_LIST,
    OPT_JUNIT,
    OPT_PUBKEY,
    OPT_MARKER_SEND,
    OPT_MARKER_EXPECT,
    OPT_DEADLINE,
    OPT_MAX_MESSAGE,
    OPT_RATE_LIMIT,
    OPT_HS_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_LEEWAY,
    OPT_MAX_CONNS,
};

#define OWN(name, type, id, meta, help, min, max)                                                  \
    {                                                                                              \
        name, 0, type, id, meta, help, min, max, NULL, NULL, 0                                     \
    }

static const wsp_opt own_opts[] = {
    {"selection:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    OWN("checks", WSP_OPT_TEXT, OPT_CHECKS, "LIST",
        "ids or groups, comma-separated (auth, origin,\ninput, limits, transport, handshake, tls, "
        "all)",
        0, 0),
    OWN("include-staging-only", WSP_OPT_FLAG, OPT_STAGING, NULL,
        "also run the checks not safe against production", 0, 0),
    OWN("list", WSP_OPT_FLAG, OPT_LIST, NULL, "print id, group, priority, production-safe", 0, 0),
    {"suite:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    OWN("deadline", WSP_OPT_DURATION, OPT_DEADLINE, "DUR", "the whole suite (default 60s)", 0, 0),
    OWN("parallel", WSP_OPT_COUNT, OPT_PARALLEL, "N", "checks at once (default 6)", 1, 64),
    OWN("plaintext-url", WSP_OPT_TEXT, OPT_PLAINTEXT, "URL",
        "ws:// URL for transport.plaintext (default port 80)", 0, 0),
    OWN("jwt-public-key-file", WSP_OPT_PATH, OPT_PUBKEY, "PEM",
        "the endpoint's public key (auth.key_confusion)", 0, 0),
    OWN("junit", WSP_OPT_PATH, OPT_JUNIT, "FILE", "JUnit XML, one testcase per check", 0, 0),
    {"success marker (a reply only an accepted request produces):", 0, WSP_OPT_HEADING, 0, NULL,
     NULL, 0, 0, NULL, NULL, 0},
    OWN("marker-send", WSP_OPT_TEXT, OPT_MARKER_SEND, "TEXT",
        "default {\"type\":\"chat_message\",...}; under\n--protocol socketio 'EVENT JSON' (an "
        "emit the server\nacks), graphql a document (its first value answers)",
        0, 0),
    OWN("marker-expect", WSP_OPT_TEXT, OPT_MARKER_EXPECT, "PTR=VAL",
        "default /type=ack; under --protocol: on the ack's\narguments or the value (default: "
        "their arrival)",
        0, 0),
    {"the endpoint's limits, to test against:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL,
     0},
    OWN("endpoint-max-message", WSP_OPT_SIZE, OPT_MAX_MESSAGE, "SIZE",
        "the largest message it accepts: L of limits.*\n(default 64K)", 1, 64ull << 20),
    OWN("rate-limit", WSP_OPT_NUMBER, OPT_RATE_LIMIT, "N",
        "messages per second and connection it allows\n(limits.rate)", 0, 0),
    OWN("max-conns-per-ip", WSP_OPT_COUNT, OPT_MAX_CONNS, "N",
        "connections it allows from one address\n(limits.connections)", 1, 100000),
    OWN("handshake-timeout", WSP_OPT_DURATION, OPT_HS_TIMEOUT, "DUR",
        "the time it gives a handshake (limits.slow_handshake;\nskipped without it)", 0, 0),
    OWN("idle-timeout", WSP_OPT_DURATION, OPT_IDLE_TIMEOUT, "DUR",
        "the time it keeps a silent connection (limits.idle;\nskipped without it)", 0, 0),
    OWN("jwt-leeway", WSP_OPT_TEXT, OPT_LEEWAY, "DUR",
        "its clock leeway past a token's exp, 0s to 2m, for\nauth.expiry_on_open (default 5s)", 0,
        0),
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

#undef OWN

/* The probe options the checks have no use for: they send their own messages. */
static const char *const refused[] = {
    "send", "expect-text", "expect-regex", "expect-json", "ping", "pong-timeout", "connections",
    "expect-auth-required", "max-message", "send-binary", "expect-binary", "each-address",
    /* under --protocol the marker (--marker-send) is the suite's one conversation */
    "emit", "emit-ack", "expect-event", "subscribe", "variables", "expect-complete", NULL};

/* The names before 0.2.0 (docs/cli.md "One name per concept"). */
static const wsp_cli_alias aliases[] = {
    {"handshake-limit", "handshake-timeout", "0.3.0"},
    {"idle-limit", "idle-timeout", "0.3.0"},
    {"max-conns", "max-conns-per-ip", "0.3.0"},
    {"rate", "rate-limit", "0.3.0"},
    {"expiry-leeway", "jwt-leeway", "0.3.0"},
    {"max-message", "endpoint-max-message", "0.3.0"},
    {NULL, NULL, NULL},
};

#define MAX_SHARED 8
#define MAX_SHARED_OPTS 160

/* The shared tables without the probe's --deadline (omit goes by name, and security has a
 * --deadline of its own), then the command's own. */
static const wsp_opt *const *security_tables(void)
{
    static wsp_opt copy[MAX_SHARED_OPTS];
    static const wsp_opt *t[MAX_SHARED + 2];
    if (t[0])
        return t;
    const wsp_opt *const *shared = wsp_probeopts_tables();
    size_t k = 0, used = 0;
    for (; shared[k] && k < MAX_SHARED; k++) {
        t[k] = copy + used;
        for (const wsp_opt *o = shared[k]; o->name && used < MAX_SHARED_OPTS - 1; o++)
            if (o->type == WSP_OPT_HEADING || strcmp(o->name, "deadline") != 0)
                copy[used++] = *o;
        used++; /* the zeroed end of this table */
    }
    t[k++] = own_opts;
    t[k] = NULL;
    return t;
}

typedef struct sec_cli {
    wsp_probeopts po;
    wsp_env env;
    json_t *params;  /* for every check: public_key_file, expiry_leeway_ms, signing */
    json_t *signing; /* the key material, for the checks that sign on purpose */
    char *names_buf;
    const char *names[MAX_NAMES];
    size_t num_names;
    bool staging, list;
    const char *junit;
    uint64_t suite_deadline;
    int parallel;
} sec_cli;

static int replace(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? strdup(s) : NULL;
    return 0;
}

static int take_list(sec_cli *c, const char *arg)
{
    free(c->names_buf);
    c->names_buf = strdup(arg);
    c->num_names = 0;
    if (!c->names_buf)
        return -1;
    /* An empty list used to run every check: say so instead (leave --checks out for all). */
    for (char *p = c->names_buf; p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p) {
            wsp_cli_usage_error(CMD,
                                "--checks '%s': an empty %s (give ids or groups, comma-separated; "
                                "leave --checks out to run them all)",
                                arg, *arg ? "name in the list" : "list");
            return -1;
        }
        if (c->num_names == MAX_NAMES) {
            wsp_cli_usage_error(CMD, "--checks: more than %d names", MAX_NAMES);
            return -1;
        }
        c->names[c->num_names++] = p;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int take_marker_expect(sec_cli *c, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || (arg[0] != '/' && eq != arg)) {
        wsp_cli_usage_error(CMD, "--marker-expect '%s': expected /pointer=VALUE", arg);
        return -1;
    }
    free(c->env.marker_expect_pointer);
    free(c->env.marker_expect_value);
    c->env.marker_expect_pointer = strndup(arg, (size_t)(eq - arg));
    c->env.marker_expect_value = strdup(eq + 1);
    return 0;
}

static int take_own(sec_cli *c, const wsp_opt *o, const char *arg, const wsp_opt_value *v)
{
    uint64_t us;
    switch (o->id) {
    case OPT_DEADLINE:
        c->suite_deadline = v->u;
        return 0;
    case OPT_MAX_MESSAGE:
        c->env.limits.max_message = v->u;
        return 0;
    case OPT_HS_TIMEOUT:
        c->env.limits.handshake_timeout_us = v->u;
        return 0;
    case OPT_IDLE_TIMEOUT:
        c->env.limits.idle_timeout_us = v->u;
        return 0;
    case OPT_MAX_CONNS:
        c->env.limits.max_conns_per_client = (int)v->u;
        return 0;
    case OPT_RATE_LIMIT:
        if (v->d > 10000) {
            wsp_cli_usage_error(CMD,
                                "--rate-limit '%s': expected messages per second, at most "
                                "10000",
                                arg);
            return -1;
        }
        c->env.limits.rate_per_s = v->d;
        return 0;
    case OPT_LEEWAY:
        if (wsp_duration_parse(arg, &us) != 0 || us > MAX_LEEWAY_US) {
            wsp_cli_usage_error(CMD,
                                "--jwt-leeway '%s': expected a duration from 0s to 2m, like "
                                "5s",
                                arg);
            return -1;
        }
        json_object_set_new(c->params, "expiry_leeway_ms", json_integer((json_int_t)(us / 1000)));
        return 0;
    case OPT_PLAINTEXT:
        return replace(&c->env.plaintext_url, arg);
    case OPT_PARALLEL:
        c->parallel = (int)v->u;
        return 0;
    case OPT_CHECKS:
        return take_list(c, arg);
    case OPT_STAGING:
        c->staging = true;
        return 0;
    case OPT_LIST:
        c->list = true;
        return 0;
    case OPT_JUNIT:
        c->junit = arg;
        return 0;
    case OPT_PUBKEY:
        json_object_set_new(c->params, "public_key_file", json_string(arg));
        return 0;
    case OPT_MARKER_SEND:
        return replace(&c->env.marker_send, arg);
    case OPT_MARKER_EXPECT:
        return take_marker_expect(c, arg);
    }
    return -1;
}

static int take(void *ud, const wsp_opt *o, const char *arg, const wsp_opt_value *v)
{
    sec_cli *c = ud;
    if (o->id >= WSP_PROBEOPTS_OWN)
        return take_own(c, o, arg, v);
    static const char *const signing_keys[][2] = {{"jwt-secret-env", "secret_env"},
                                                  {"jwt-secret-file", "secret_file"},
                                                  {"jwt-key-file", "key_file"},
                                                  {"jwt-alg", "alg"}};
    for (size_t i = 0; i < sizeof signing_keys / sizeof signing_keys[0]; i++)
        if (strcmp(o->name, signing_keys[i][0]) == 0)
            json_object_set_new(c->signing, signing_keys[i][1], json_string(arg));
    if (strcmp(o->name, "origin") == 0)
        replace(&c->env.allowed_origin, arg);
    return wsp_probeopts_apply(&c->po, o, arg) == 1 ? 0 : -1;
}

static int print_list(const wsp_cli_out *out)
{
    const wsp_check_def *const *defs;
    size_t n = wsp_security_list(&defs);
    json_t *arr = out->json ? json_array() : NULL;
    bool human = wsp_cli_human(out);
    if (human)
        printf("%-24s %-10s %-3s %-5s %s\n", "ID", "GROUP", "P", "PROD", "WHAT");
    for (size_t i = 0; i < n; i++) {
        const wsp_check_def *d = defs[i];
        if (arr)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:b,s:s}", "id", d->id, "group",
                                                 d->group, "priority", d->priority, "prod_safe",
                                                 d->prod_safe, "summary", d->summary));
        if (human)
            printf("%-24s %-10s P%-2d %-5s %s\n", d->id, d->group, d->priority,
                   d->prod_safe ? "yes" : "no", d->summary);
    }
    if (human)
        printf("\nPROD no: staging only, run with --include-staging-only.\n");
    int rc = 0;
    if (arr) {
        FILE *f = out->json_file ? fopen(out->json_file, "w") : stdout;
        if (!f || json_dumpf(arr, f, JSON_INDENT(2)) != 0 || fputc('\n', f) == EOF ||
            (f != stdout ? fclose(f) : fflush(f)) != 0) {
            fprintf(stderr, "wsprobe: " CMD ": cannot write the list%s%s\n",
                    out->json_file ? " to " : "", out->json_file ? out->json_file : "");
            rc = 2;
        }
        json_decref(arr);
    }
    return rc;
}

/* The environment the checks run against, from the options and the finished probe setup. */
static void build_env(sec_cli *c, const char *url)
{
    wsp_env *env = &c->env;
    wsp_env_take_probe(env, &c->po.s, false); /* borrowed: wsp_env_release_strings at the end */
    env->url_text = strdup(url);
    env->name = strdup("target");
    if (c->po.s.health)
        replace(&env->health_url, c->po.s.health);
    /* the whole suite's deadline also bounds every connection */
    env->base.conn.deadline_us = c->suite_deadline < 30000000ull ? c->suite_deadline : 30000000ull;
    if (wsp_auth_active(&env->auth) && json_object_size(c->signing) && env->auth.jwt)
        json_object_set(c->params, "signing", c->signing);
}

/* The report of a finished suite: JSON, the table, JUnit. Returns the exit code. */
static int report(const sec_cli *c, const wsp_cli_out *out, const wsp_check_def **sel,
                  const wsp_check_result *results, size_t n, double dur, const char *url)
{
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    const char **groups = calloc(n ? n : 1, sizeof *groups);
    if (!ids || !groups) {
        free(ids);
        free(groups);
        return 70;
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = sel[i]->id;
        groups[i] = sel[i]->group;
    }
    wsp_runreport rr = {.plan_file = "wsprobe security",
                        .env_name = "security",
                        .url_text = url,
                        .groups = groups,
                        .ids = ids,
                        .results = results,
                        .n = n,
                        .duration_ms = dur,
                        .strict = false};
    int rc = wsp_runreport_exit_code(results, n, false);
    json_t *o = out->json || out->html_file ? wsp_runreport_json(&rr) : NULL;
    if (o) {
        json_object_set_new(o, "suite", json_string("security"));
        json_object_set_new(o, "include_staging_only", json_boolean(c->staging));
        json_t *arr = json_object_get(o, "checks");
        for (size_t i = 0; i < json_array_size(arr) && i < n; i++) {
            json_t *ck = json_array_get(arr, i);
            json_object_set_new(ck, "priority", json_integer(sel[i]->priority));
            json_object_set_new(ck, "prod_safe", json_boolean(sel[i]->prod_safe));
        }
        if (wsp_cli_report(CMD, o, out) != 0)
            rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED); /* the evidence is lost: this wins */
    }
    if (wsp_cli_human(out) && (!c->po.quiet || rc != 0))
        wsp_runreport_human(c->po.quiet ? stderr : stdout, &rr, wsp_cli_color(stdout));
    wsp_err e;
    wsp_err_clear(&e);
    if (c->junit && wsp_runreport_junit_write(&rr, 1, c->junit, &e) != 0) {
        fprintf(stderr, "wsprobe: " CMD ": OUTPUT_FAILED: --junit: %s\n", e.msg);
        rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
    }
    free(ids);
    free(groups);
    return rc;
}

/* Select, run and report the checks. Returns the exit code. */
static int run_suite(sec_cli *c, const wsp_cli_out *out, const char *url)
{
    size_t total = wsp_security_list(NULL), n = 0;
    const wsp_check_def **sel = calloc(total ? total : 1, sizeof *sel);
    wsp_err e;
    wsp_err_clear(&e);
    if (!sel)
        return 70;
    if (wsp_security_select(c->names, c->num_names, c->staging, sel, &n, &e) != 0) {
        free(sel);
        return wsp_cli_usage_error(CMD, "--checks: %s", e.msg);
    }
    /* URL, pins, TLS context, credentials: every problem is found here, before a connection */
    int rc = wsp_probeopts_finish(&c->po, url);
    if (rc != 0) {
        free(sel); /* printed; the class's own exit code (URL_INVALID 10, USAGE 2), as in probe */
        return rc;
    }
    build_env(c, url);
    wsp_proto_kind pk = c->env.base.proto.kind;
    if (pk != WSP_PROTO_NONE && !c->env.marker_send) {
        free(sel);
        return wsp_cli_usage_error(
            CMD,
            "--protocol %s: give the success marker with --marker-send "
            "(%s), and --marker-expect PTR=VAL to judge %s",
            wsp_proto_kind_name(pk),
            pk == WSP_PROTO_SOCKETIO ? "'EVENT JSON': an emit the server acknowledges"
                                     : "a GraphQL document: its first value is the marker",
            pk == WSP_PROTO_SOCKETIO ? "the ack's arguments" : "the value's payload");
    }
    char *ev = NULL, *args = NULL;
    if (pk == WSP_PROTO_SOCKETIO &&
        wsp_probe_emit_spec("--marker-send", c->env.marker_send, &ev, &args, &e) != 0) {
        free(sel);
        return wsp_cli_usage_error(CMD, "%s", e.msg);
    }
    free(ev);
    free(args);
    wsp_check_item *items = calloc(n ? n : 1, sizeof *items);
    wsp_check_result *results = calloc(n ? n : 1, sizeof *results);
    rc = 70;
    if (items && results) {
        /* the runner starts the checks that wait out a limit first and runs those that fill
         * the connection slots alone, last (check.h); the report keeps the catalog's order */
        for (size_t i = 0; i < n; i++) {
            items[i].def = sel[i];
            items[i].params = c->params;
        }
        double t0 = wsp_clock_mono_ms();
        c->env.deadline_ns = (uint64_t)(t0 * 1e6) + c->suite_deadline * 1000ull;
        wsp_check_run_all(&c->env, items, n, c->parallel, c->suite_deadline, results);
        rc = report(c, out, sel, results, n, wsp_clock_mono_ms() - t0, url);
    }
    for (size_t i = 0; results && i < n; i++)
        wsp_check_result_cleanup(&results[i]);
    free(results);
    free(items);
    free(sel);
    return rc;
}

int wsp_cmd_security(int argc, char **argv)
{
    const wsp_cli_spec spec = {.cmd = CMD,
                               .usage = security_usage,
                               .after = security_after,
                               .tables = security_tables(),
                               .omit = refused,
                               .aliases = aliases,
                               .flags = WSP_CLI_JSON | WSP_CLI_HTML};
    sec_cli c;
    memset(&c, 0, sizeof c);
    wsp_env_init(&c.env);
    wsp_probeopts_init(&c.po, CMD);
    c.params = json_object();
    c.signing = json_object();
    c.suite_deadline = 60000000ull;
    c.parallel = DEFAULT_PARALLEL;
    int rc = 2;
    wsp_cli_out out;
    if (!c.params || !c.signing) {
        fprintf(stderr, "wsprobe: " CMD ": out of memory\n");
        rc = 70;
    } else if ((rc = wsp_cli_parse(&spec, argc, argv, take, &c, &out)) != 0) {
        rc = rc == 1 ? 0 : 2;
    } else if (c.list) {
        rc = print_list(&out);
    } else if (out.noperands != 1) {
        rc = wsp_cli_usage_error(CMD, "give exactly one URL, like wss://host/ws");
    } else {
        c.po.json = out.json;
        c.po.json_file = out.json_file;
        rc = run_suite(&c, &out, out.operands[0]);
    }
    free(c.names_buf);
    json_decref(c.params);
    json_decref(c.signing);
    wsp_env_release_strings(&c.env);
    wsp_probeopts_cleanup(&c.po);
    fflush(stdout);
    return rc;
}
