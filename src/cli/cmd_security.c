/* cmd_security.c - `wsprobe security URL`: the security suite of SECURITY-CHECKS.md against one
 * endpoint, concurrently, with the human table, JSON and JUnit of runreport.h.
 *
 * Exit: 0 when every check that ran passed or warned (skip and not_applicable allowed), 1 when
 * any failed or was inconclusive (an unproven property is not green: docs/security.md), 2 on
 * usage errors. No message quotes a secret or a token. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <uv.h>

#include "check/check.h"
#include "util/clock.h"
#include "cli.h"
#include "report/report.h"
#include "util/duration.h"
#include "probe/jwtconfig.h"
#include "probeopts.h"
#include "report/runreport.h"
#include "check/security/security.h"
#include "net/tls.h"
#include "codec/url.h"

#define CMD "security"
#define MAX_NAMES 64
#define DEFAULT_PARALLEL 6

static void usage(FILE *f)
{
    fprintf(f,
            "usage: wsprobe security URL [options]\n"
            "       wsprobe security --list [--json] [--include-staging-only]\n"
            "\n"
            "Run the security checks (docs/security.md) against a ws:// or wss:// endpoint.\n"
            "Each negative check runs beside a baseline with the valid credential and the\n"
            "allowed origin; without a working baseline the verdict is inconclusive.\n"
            "\n"
            "selection:\n"
            "      --checks LIST            ids or groups, comma-separated (auth, origin,\n"
            "                               input, limits, transport, handshake, tls, all)\n"
            "      --include-staging-only   also run the checks not safe against production\n"
            "      --list                   print id, group, priority, production-safe\n"
            "connection:\n"
            "  -H, --header 'Name: value'   extra request header (repeatable)\n"
            "      --origin ORIGIN          an origin the endpoint allows (baselines)\n"
            "      --timeout DUR            per phase and the wait for the success marker\n"
            "                               (default 10s, as in probe and run)\n"
            "      --deadline DUR           the whole suite (default 60s)\n"
            "      --resolve HOST:PORT:ADDR use ADDR for HOST:PORT (repeatable)\n"
            "      --dns-server ADDR[:PORT], -4, -6\n"
            "      --subprotocol LIST       offer subprotocols the endpoint needs\n"
            "      --cacert PEM, --insecure TLS trust (tls.certificate judges regardless)\n"
            "      --cert PEM --key PEM     client certificate (mutual TLS)\n"
            "      --health URL             HTTPS URL for transport.hsts (default /health)\n"
            "      --plaintext-url URL      ws:// URL for transport.plaintext (default port 80)\n"
            "      --parallel N             checks at once (default 6)\n"
            "credentials (the baseline's):\n"
            "%s"
            "      --jwt-public-key-file PEM  the endpoint's public key (auth.key_confusion)\n"
            "      --token-env VAR          a ready token in environment variable VAR\n"
            "      --auth-in WHERE          header (default), query:NAME, subprotocol[:PREFIX],\n"
            "                               cookie:NAME, message (--auth-message TEMPLATE)\n"
            "success marker (a reply only an accepted request produces):\n"
            "      --marker-send TEXT       default {\"type\":\"chat_message\",...}\n"
            "      --marker-expect PTR=VAL  default /type=ack\n"
            "limits to test against:\n"
            "      --max-message SIZE       L for limits.* (default 64K)\n"
            "      --rate N                 messages per second per connection\n"
            "      --max-conns N            connections one client may hold (limits.connections)\n"
            "      --handshake-limit DUR    limits.slow_handshake (skipped without it)\n"
            "      --idle-limit DUR         limits.idle (skipped without it)\n"
            "      --expiry-leeway DUR      the server's clock leeway on exp, for\n"
            "                               auth.expiry_on_open (default 5s)\n"
            "output:\n"
            "      --json                   one JSON object on stdout\n"
            "      --junit FILE             JUnit XML, one testcase per check\n"
            "  -q, --quiet                  print only failures\n"
            "\n"
            "Exit: 0 all passed (warn, skip, not_applicable allowed); 1 a check failed or was\n"
            "inconclusive; 2 usage.\n",
            wsp_jwt_option_help());
}

/* The command's own options; the connection, TLS and credential options are the shared set
 * of probeopts.h, so a flag means the same thing as in `wsprobe probe`. Three shared options
 * mean something else here and are taken before the shared parser sees them: --deadline (the
 * whole suite), --max-message (L, the limit to test against) and --origin (also the allowed
 * origin of the baselines). Conversation options do not apply. */
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
    OPT_RATE,
    OPT_HS_LIMIT,
    OPT_IDLE_LIMIT,
    OPT_EXPIRY_LEEWAY,
    OPT_MAX_CONNS,
};

static const struct option own_opts[] = {
    {"plaintext-url", required_argument, NULL, OPT_PLAINTEXT},
    {"parallel", required_argument, NULL, OPT_PARALLEL},
    {"checks", required_argument, NULL, OPT_CHECKS},
    {"include-staging-only", no_argument, NULL, OPT_STAGING},
    {"list", no_argument, NULL, OPT_LIST},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"jwt-public-key-file", required_argument, NULL, OPT_PUBKEY},
    {"marker-send", required_argument, NULL, OPT_MARKER_SEND},
    {"marker-expect", required_argument, NULL, OPT_MARKER_EXPECT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"handshake-limit", required_argument, NULL, OPT_HS_LIMIT},
    {"idle-limit", required_argument, NULL, OPT_IDLE_LIMIT},
    {"expiry-leeway", required_argument, NULL, OPT_EXPIRY_LEEWAY},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Shared options that make no sense for a suite of checks. */
static bool conversation_option(const char *name)
{
    static const char *const no[] = {
        "send", "expect-text",  "expect-regex", "expect-json",
        "ping", "pong-timeout", "connections",  "expect-auth-required"};
    for (size_t i = 0; name && i < sizeof no / sizeof no[0]; i++)
        if (strcmp(name, no[i]) == 0)
            return true;
    return false;
}

static int print_list(bool json)
{
    const wsp_check_def *const *defs;
    size_t n = wsp_security_list(&defs);
    json_t *arr = json ? json_array() : NULL;
    if (!json)
        printf("%-24s %-10s %-3s %-5s %s\n", "ID", "GROUP", "P", "PROD", "WHAT");
    for (size_t i = 0; i < n; i++) {
        const wsp_check_def *d = defs[i];
        if (json)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:b,s:s}", "id", d->id, "group",
                                                 d->group, "priority", d->priority, "prod_safe",
                                                 d->prod_safe, "summary", d->summary));
        else
            printf("%-24s %-10s P%-2d %-5s %s\n", d->id, d->group, d->priority,
                   d->prod_safe ? "yes" : "no", d->summary);
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(arr);
    } else {
        printf("\nPROD no: staging only, run with --include-staging-only.\n");
    }
    return 0;
}

int wsp_cmd_security(int argc, char **argv)
{
    int rc = 2;
    wsp_env env;
    wsp_env_init(&env);
    wsp_probeopts po;
    wsp_probeopts_init(&po, CMD);
    wsp_err e;
    wsp_err_clear(&e);
    json_t *params = json_object();
    json_t *signing = json_object();
    struct option *table = wsp_probeopts_merge(own_opts);
    char *names_buf = NULL;
    const char *names[MAX_NAMES];
    size_t num_names = 0;
    bool staging = false, list = false;
    const char *junit = NULL;
    uint64_t suite_deadline = 60000000ull;
    int parallel = 0;
    wsp_check_item *items = NULL;
    wsp_check_result *results = NULL;
    size_t n = 0;
    const wsp_check_def **sel = NULL;

    if (!params || !signing || !table) {
        fprintf(stderr, "wsprobe: " CMD ": out of memory\n");
        rc = 70;
        goto out;
    }
    optind = 1;
    opterr = 0;
    int ch, li = -1;
    wsp_cli_require_full_options("security", argc, argv, table);
    while ((ch = getopt_long(argc, argv, ":" WSP_PROBEOPTS_SHORT "h", table, &li)) != -1) {
        const char *lname = li >= 0 ? table[li].name : NULL;
        li = -1;
        uint64_t us;
        if (lname && conversation_option(lname)) {
            rc = wsp_cli_usage_error(CMD,
                                     "--%s is a probe option: the checks send their own "
                                     "messages (see --marker-send)",
                                     lname);
            goto out;
        }
        if (lname && strcmp(lname, "deadline") == 0) {
            if (wsp_duration_parse(optarg, &us) != 0 || us == 0) {
                rc = wsp_cli_usage_error(CMD, "--deadline '%s': expected a duration like 30s",
                                         optarg);
                goto out;
            }
            suite_deadline = us;
            continue;
        }
        if (lname && strcmp(lname, "max-message") == 0) {
            if (wsp_size_parse(optarg, 64ull << 20, &env.limits.max_message) != 0) {
                rc = wsp_cli_usage_error(CMD, "--max-message '%s': expected a size like 64K",
                                         optarg);
                goto out;
            }
            continue;
        }
        if (lname && strcmp(lname, "origin") == 0) {
            free(env.allowed_origin);
            env.allowed_origin = strdup(optarg);
        }
        /* the key material, for the checks that sign on purpose (auth.claims, key confusion) */
        if (lname && strcmp(lname, "jwt-secret-env") == 0)
            json_object_set_new(signing, "secret_env", json_string(optarg));
        else if (lname && strcmp(lname, "jwt-secret-file") == 0)
            json_object_set_new(signing, "secret_file", json_string(optarg));
        else if (lname && strcmp(lname, "jwt-key-file") == 0)
            json_object_set_new(signing, "key_file", json_string(optarg));
        else if (lname && strcmp(lname, "jwt-alg") == 0)
            json_object_set_new(signing, "alg", json_string(optarg));
        if (ch != 'h' && ch < WSP_PROBEOPTS_OWN && ch != ':' && ch != '?') {
            int t = wsp_probeopts_take(&po, ch, optarg, lname);
            if (t < 0)
                goto out;
            if (t > 0)
                continue;
        }
        switch (ch) {
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        case OPT_HS_LIMIT:
        case OPT_IDLE_LIMIT:
            if (wsp_duration_parse(optarg, &us) != 0 || us == 0) {
                rc = wsp_cli_usage_error(CMD, "--%s '%s': expected a duration like 500ms, 2s",
                                         lname ? lname : "?", optarg);
                goto out;
            }
            if (ch == OPT_HS_LIMIT)
                env.limits.handshake_timeout_us = us;
            else
                env.limits.idle_timeout_us = us;
            break;
        case OPT_MAX_CONNS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 100000) {
                rc = wsp_cli_usage_error(CMD, "--max-conns '%s': expected a number", optarg);
                goto out;
            }
            env.limits.max_conns_per_client = (int)v;
            break;
        }
        case OPT_EXPIRY_LEEWAY:
            if (wsp_duration_parse(optarg, &us) != 0 || us > 120000000ull) {
                rc = wsp_cli_usage_error(CMD, "--expiry-leeway '%s': expected a duration up to 2m",
                                         optarg);
                goto out;
            }
            json_object_set_new(params, "expiry_leeway_ms", json_integer((json_int_t)(us / 1000)));
            break;
        case OPT_PLAINTEXT:
            free(env.plaintext_url);
            env.plaintext_url = strdup(optarg);
            break;
        case OPT_PARALLEL: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 64) {
                rc = wsp_cli_usage_error(CMD, "--parallel '%s': expected 1 to 64", optarg);
                goto out;
            }
            parallel = (int)v;
            break;
        }
        case OPT_CHECKS: {
            free(names_buf);
            names_buf = strdup(optarg);
            num_names = 0;
            for (char *c = names_buf; c && *c && num_names < MAX_NAMES;) {
                char *comma = strchr(c, ',');
                if (comma)
                    *comma = '\0';
                if (*c)
                    names[num_names++] = c;
                c = comma ? comma + 1 : NULL;
            }
            break;
        }
        case OPT_STAGING:
            staging = true;
            break;
        case OPT_LIST:
            list = true;
            break;
        case OPT_JUNIT:
            junit = optarg;
            break;
        case OPT_PUBKEY:
            json_object_set_new(params, "public_key_file", json_string(optarg));
            break;
        case OPT_MARKER_SEND:
            free(env.marker_send);
            env.marker_send = strdup(optarg);
            break;
        case OPT_MARKER_EXPECT: {
            const char *eq = strchr(optarg, '=');
            if (!eq || (optarg[0] != '/' && eq != optarg)) {
                rc = wsp_cli_usage_error(CMD, "--marker-expect '%s': expected /pointer=VALUE",
                                         optarg);
                goto out;
            }
            free(env.marker_expect_pointer);
            free(env.marker_expect_value);
            env.marker_expect_pointer = strndup(optarg, (size_t)(eq - optarg));
            env.marker_expect_value = strdup(eq + 1);
            break;
        }
        case OPT_RATE: {
            char *end;
            double r = strtod(optarg, &end);
            if (*end || end == optarg || r <= 0 || r > 10000) {
                rc = wsp_cli_usage_error(CMD, "--rate '%s': expected messages per second", optarg);
                goto out;
            }
            env.limits.rate_per_s = r;
            break;
        }
        case ':':
            rc = wsp_cli_usage_error(CMD, "%s needs a value", argv[optind - 1]);
            goto out;
        default:
            if (optind - 1 < argc && argv[optind - 1] &&
                (strcmp(argv[optind - 1], "--jwt-secret") == 0 ||
                 strcmp(argv[optind - 1], "--token") == 0))
                rc = wsp_cli_usage_error(CMD,
                                         "%s: secrets never go on the command line; use "
                                         "--jwt-secret-env VAR or --token-env VAR",
                                         argv[optind - 1]);
            else
                rc = wsp_cli_usage_error(CMD, "unknown option '%s' (see wsprobe security --help)",
                                         argv[optind - 1]);
            goto out;
        }
    }
    bool json = po.json, quiet = po.quiet;
    if (list) {
        rc = print_list(json);
        goto out;
    }
    if (optind != argc - 1) {
        rc = wsp_cli_usage_error(CMD, "give exactly one URL, like wss://host/ws");
        goto out;
    }
    const char *url = argv[optind];
    size_t total = wsp_security_list(NULL);
    sel = calloc(total, sizeof *sel);
    if (!sel || wsp_security_select(names, num_names, staging, sel, &n, &e) != 0) {
        rc = sel ? wsp_cli_usage_error(CMD, "--checks: %s", e.msg) : 70;
        goto out;
    }
    /* URL, pins, TLS context, credentials: every problem is found here, before a connection */
    int frc = wsp_probeopts_finish(&po, url);
    if (frc != 0) {
        rc = frc; /* printed; the class's own exit code (URL_INVALID 10, USAGE 2), as in probe */
        goto out;
    }
    wsp_env_take_probe(&env, &po.s, false); /* borrowed: wsp_env_release_strings at the end */
    env.url_text = strdup(url);
    env.name = strdup("target");
    if (po.s.health) {
        free(env.health_url);
        env.health_url = strdup(po.s.health);
    }
    /* the whole suite's deadline also bounds every connection */
    env.base.conn.deadline_us = suite_deadline < 30000000ull ? suite_deadline : 30000000ull;
    if (wsp_auth_active(&env.auth) && json_object_size(signing) && env.auth.jwt)
        json_object_set(params, "signing", signing);

    items = calloc(n ? n : 1, sizeof *items);
    results = calloc(n ? n : 1, sizeof *results);
    if (!items || !results) {
        rc = 70;
        goto out;
    }
    /* the runner starts the checks that wait out a limit first and runs those that fill the
     * connection slots alone, last (check.h); the report keeps the catalog's order */
    for (size_t i = 0; i < n; i++) {
        items[i].def = sel[i];
        items[i].params = params;
    }
    double t0 = wsp_clock_mono_ms();
    env.deadline_ns = (uint64_t)(t0 * 1e6) + suite_deadline * 1000ull;
    wsp_check_run_all(&env, items, n, parallel ? parallel : DEFAULT_PARALLEL, suite_deadline,
                      results);
    double dur = wsp_clock_mono_ms() - t0;

    const char **ids = calloc(n ? n : 1, sizeof *ids);
    const char **groups = calloc(n ? n : 1, sizeof *groups);
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = sel[i]->id;
    for (size_t i = 0; groups && i < n; i++)
        groups[i] = sel[i]->group;
    wsp_runreport rr = {.plan_file = "wsprobe security",
                        .env_name = "security",
                        .url_text = url,
                        .groups = groups,
                        .ids = ids,
                        .results = results,
                        .n = n,
                        .duration_ms = dur,
                        .strict = false};
    if (json) {
        json_t *o = wsp_runreport_json(&rr);
        if (o) {
            json_object_set_new(o, "suite", json_string("security"));
            json_object_set_new(o, "include_staging_only", json_boolean(staging));
            json_t *arr = json_object_get(o, "checks");
            for (size_t i = 0; i < json_array_size(arr) && i < n; i++) {
                json_t *c = json_array_get(arr, i);
                json_object_set_new(c, "priority", json_integer(sel[i]->priority));
                json_object_set_new(c, "prod_safe", json_boolean(sel[i]->prod_safe));
            }
            if (wsp_report_json_write(o, "security", NULL) != 0)
                fprintf(stderr, "wsprobe: security: cannot write the JSON report\n");
        }
    } else if (!quiet || wsp_runreport_exit_code(results, n, false) != 0) {
        wsp_runreport_human(quiet ? stderr : stdout, &rr, wsp_cli_color(stdout));
    }
    rc = wsp_runreport_exit_code(results, n, false);
    if (junit && wsp_runreport_junit_write(&rr, 1, junit, &e) != 0) {
        fprintf(stderr, "wsprobe: " CMD ": --junit: %s\n", e.msg);
        rc = 2;
    }
    free(ids);
    free(groups);
out:
    for (size_t i = 0; results && i < n; i++)
        wsp_check_result_cleanup(&results[i]);
    free(results);
    free(items);
    free(sel);
    free(names_buf);
    json_decref(params);
    json_decref(signing);
    free(table);
    wsp_env_release_strings(&env);
    wsp_probeopts_cleanup(&po);
    fflush(stdout);
    return rc;
}
