#define _GNU_SOURCE /* open_memstream */
/* cmd_audit.c - `wsprobe audit REPORT|DIR...`: flag hollow tests in JUnit XML reports.
 *
 * Flags and a YAML file (--config, read first; flags add to its lists and override its single
 * values) fill a wsp_audit_config; --floor-from-probe is resolved here, by running this same
 * binary's `probe URL --json -q` and taking connect + tls + upgrade as the floor. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/clock.h"
#include "audit/audit.h"
#include "args.h"
#include "report/html.h"
#include "cli.h"
#include "probe/setup.h"

extern char **environ;

#define PROBE_OUTPUT_MAX (1u << 20)
#define PROBE_WAIT_MS 120000

static const char audit_usage[] =
    "usage: wsprobe audit [options] REPORT.xml|DIR ...\n"
    "\n"
    "Reads JUnit XML from any test runner (pytest, Surefire, jest-junit, go-junit-report,\n"
    "ctest, PHPUnit, GoogleTest; folders are searched for *.xml and *.xml.gz; '-' is\n"
    "standard input) and flags hollow tests: passes too fast to have touched the network,\n"
    "swallowed errors in their output, skips in disguise, collapsed and vanished tests.\n"
    "\n"
    "Test names are 'classname.name'; a GLOB (fnmatch, '*' matches dots too) matches that\n"
    "or the bare name.\n"
    "\n";

static const char audit_after[] = "\nexit: 0 clean, 1 findings, 2 bad input or usage.\n";

enum {
    OPT_LIST_RULES = WSP_PROBE_OPT_OWN,
    OPT_CONFIG,
    OPT_QUIET,
    OPT_SETTING, /* everything handled by wsp_audit_config_set under its long name */
};

#define SET(name, type, meta, help, min, max, flags)                                               \
    {                                                                                              \
        name, 0, type, OPT_SETTING, meta, help, min, max, NULL, NULL, flags                        \
    }
#define R WSP_OPT_REPEAT

/* The values are checked by type here and then by the audit's own setter, the one parser the
 * YAML configuration (--config) goes through too. */
static const wsp_opt audit_opts[] = {
    {"rules:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    SET("floor", WSP_OPT_TEXT, "GLOB=DURATION",
        "a pass of a matching test faster than DURATION\n(repeatable)", 0, 0, R),
    SET("floor-from-probe", WSP_OPT_TEXT, "[GLOB=]URL",
        "measure a real handshake (connect+tls+upgrade) to URL\nwith 'wsprobe probe' and use it "
        "as the floor of GLOB\n(default: the --network-tests globs)",
        0, 0, R),
    SET("network-tests", WSP_OPT_TEXT, "GLOB",
        "network tests: a pass in exactly 0 s is flagged\n(repeatable)", 0, 0, R),
    SET("baseline", WSP_OPT_PATH, "DIR|FILE",
        "earlier reports or a stored baseline (repeatable):\ncollapse and vanished tests", 0, 0, R),
    SET("save-baseline", WSP_OPT_PATH, "FILE",
        "write the baseline plus this run's passes as a store", 0, 0, 0),
    SET("min-history", WSP_OPT_COUNT, "N", "earlier passes a test needs for collapse (5)", 1, 0, 0),
    SET("collapse-ratio", WSP_OPT_TEXT, "R", "collapse below R x the median (0.1)", 0, 0, 0),
    SET("collapse-min", WSP_OPT_TEXT, "DURATION", "ignore medians below this (1ms)", 0, 0, 0),
    SET("require-property", WSP_OPT_TEXT, "EXPR",
        "network tests (all passes without --network-tests) must\ncarry a property: NAME, or NAME "
        "OP VALUE with OP one of\n> >= < <= = != (for example 'ws.bytes_rx>0')",
        0, 0, R),
    SET("swallowed-pattern", WSP_OPT_TEXT, "TEXT",
        "another sign of a swallowed error in a pass's output", 0, 0, R),
    SET("exclude", WSP_OPT_TEXT, "GLOB", "do not judge matching tests (repeatable)", 0, 0, R),
    SET("disable", WSP_OPT_TEXT, "RULE", "turn a rule off (repeatable; see --list-rules)", 0, 0, R),
    {"config", 0, WSP_OPT_PATH, OPT_CONFIG, "FILE",
     "the same settings in YAML (keys as the flags), read\nfirst: flags add to its lists and "
     "override its values",
     0, 0, NULL, NULL, 0},
    {"output:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    SET("junit", WSP_OPT_PATH, "FILE", "the findings as JUnit XML failures, for CI", 0, 0, 0),
    SET("show", WSP_OPT_COUNT, "N", "findings per rule in the human report (20; 0: all)", 0,
        1000000000, 0),
    SET("max-findings", WSP_OPT_COUNT, "N",
        "findings kept per rule (1000; 0: no cap), the rest\ncounted", 0, 0, 0),
    SET("max-report-size", WSP_OPT_SIZE, "SIZE", "refuse a report larger than SIZE (4G; 0: no cap)",
        0, 0, 0),
    {"quiet", 'q', WSP_OPT_FLAG, OPT_QUIET, NULL, "no human report", 0, 0, NULL, NULL, 0},
    {"list-rules", 0, WSP_OPT_FLAG, OPT_LIST_RULES, NULL, "the rules, worst first", 0, 0, NULL,
     NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

#undef SET
#undef R

static int list_rules(void)
{
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++)
        printf("%-17s rule %d  %s\n", wsp_audit_rule_name((wsp_audit_rule)r),
               wsp_audit_rule_group((wsp_audit_rule)r), wsp_audit_rule_why((wsp_audit_rule)r));
    return 0;
}

static long elapsed_ms(uint64_t t0_ns)
{
    return (long)((wsp_clock_mono_ns() - t0_ns) / 1000000u);
}

/* Run `/proc/self/exe probe URL --json -q` and take connect_ms + tls_ms + upgrade_ms (missing
 * fields count 0). Returns 0 with *us, or -1 with a message printed. */
static int probe_floor(const char *url, uint64_t *us)
{
    int fds[2];
    if (pipe(fds) != 0) {
        wsp_cli_usage_error("audit", "--floor-from-probe: cannot create a pipe");
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char a0[] = "wsprobe", a1[] = "probe", a3[] = "--json", a4[] = "-q";
    char *urlcopy = strdup(url);
    char *const args[] = {a0, a1, urlcopy, a3, a4, NULL};
    pid_t pid;
    int rc = urlcopy ? posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ) : ENOMEM;
    posix_spawn_file_actions_destroy(&fa);
    free(urlcopy);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        char eb[128];
        strerror_r(rc, eb, sizeof eb);
        wsp_cli_usage_error("audit", "--floor-from-probe %s: cannot run wsprobe probe: %s", url,
                            eb);
        return -1;
    }
    char *out = malloc(PROBE_OUTPUT_MAX + 1);
    size_t len = 0;
    uint64_t t0 = wsp_clock_mono_ns();
    bool timed_out = false;
    while (out) {
        long left = PROBE_WAIT_MS - elapsed_ms(t0);
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        char tmp[4096];
        ssize_t k = read(fds[0], tmp, sizeof tmp);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t take = (size_t)k;
        if (take > PROBE_OUTPUT_MAX - len)
            take = PROBE_OUTPUT_MAX - len;
        memcpy(out + len, tmp, take);
        len += take;
    }
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!out) {
        wsp_cli_usage_error("audit", "out of memory");
        return -1;
    }
    out[len] = '\0';
    if (timed_out) {
        free(out);
        wsp_cli_usage_error("audit", "--floor-from-probe %s: the probe did not finish within %d s",
                            url, PROBE_WAIT_MS / 1000);
        return -1;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    json_error_t je;
    json_t *root = json_loadb(out, len, 0, &je);
    free(out);
    if (code != 0 || !root || !json_is_object(root) || json_is_false(json_object_get(root, "ok"))) {
        const char *cls = root ? json_string_value(json_object_get(root, "class")) : NULL;
        const char *msg = root ? json_string_value(json_object_get(root, "message")) : NULL;
        wsp_cli_usage_error("audit",
                            "--floor-from-probe %s: the probe failed (exit %d%s%s)%s%s; a floor "
                            "needs a working endpoint",
                            url, code, cls ? ", " : "", cls ? cls : "", msg ? ": " : "",
                            msg ? msg : "");
        json_decref(root);
        return -1;
    }
    json_t *ph = json_object_get(root, "phases");
    double total = 0;
    static const char *const keys[] = {"connect_ms", "tls_ms", "upgrade_ms"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(ph, keys[i]);
        if (json_is_number(v) && json_number_value(v) > 0)
            total += json_number_value(v);
    }
    json_decref(root);
    if (!(total > 0)) {
        wsp_cli_usage_error("audit",
                            "--floor-from-probe %s: the probe reported no handshake "
                            "time (phases connect_ms, tls_ms, upgrade_ms)",
                            url);
        return -1;
    }
    *us = (uint64_t)(total * 1000.0 + 0.5);
    return 0;
}

static int resolve_probes(wsp_audit_config *cfg)
{
    for (size_t i = 0; i < cfg->nprobes; i++) {
        const wsp_audit_probe_floor *p = &cfg->probes[i];
        if (!p->glob && cfg->nnetwork == 0)
            return wsp_cli_usage_error("audit",
                                       "--floor-from-probe %s applies to the --network-tests "
                                       "globs, and none is given (or write GLOB=URL)",
                                       p->url);
        uint64_t us;
        if (probe_floor(p->url, &us) < 0)
            return 2;
        char src[600];
        snprintf(src, sizeof src, "probe %s: connect+tls+upgrade", p->url);
        size_t nglobs = p->glob ? 1 : cfg->nnetwork;
        for (size_t g = 0; g < nglobs; g++) {
            const char *glob = p->glob ? p->glob : cfg->network[g];
            if (wsp_audit_config_add_floor_us(cfg, glob, us, src) < 0)
                return wsp_cli_usage_error("audit", "out of memory");
        }
    }
    return 0;
}

static FILE *open_out(const char *path, const char *what)
{
    if (strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        wsp_cli_usage_error("audit", "%s: cannot write %s: %s", what, path, eb);
    }
    return f;
}

static int close_out(FILE *f, const char *path, const char *what, int wrc)
{
    int rc = wrc;
    if (f == stdout)
        rc |= fflush(f);
    else
        rc |= fclose(f);
    if (rc != 0) {
        char eb[128];
        strerror_r(errno ? errno : EIO, eb, sizeof eb);
        wsp_cli_usage_error("audit", "OUTPUT_FAILED: %s: cannot write %s: %s", what, path, eb);
        return -1;
    }
    return 0;
}

typedef struct audit_cli {
    wsp_audit_config cfg;
    bool list_rules;
} audit_cli;

static int take(void *ud, const wsp_opt *o, const char *arg, const wsp_opt_value *v)
{
    (void)v;
    audit_cli *a = ud;
    wsp_err err;
    switch (o->id) {
    case OPT_SETTING:
        if (wsp_audit_config_set(&a->cfg, o->name, arg, &err) < 0) {
            wsp_cli_usage_error("audit", "%s", err.msg);
            return -1;
        }
        return 0;
    case OPT_QUIET:
        a->cfg.quiet = true;
        return 0;
    case OPT_LIST_RULES:
        a->list_rules = true;
        return 0;
    case OPT_CONFIG: /* read before the other options */
        return 0;
    }
    return -1;
}

/* --config first, wherever it stands. Returns 0 or -1 (said). */
static int load_config(wsp_audit_config *cfg, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        wsp_err err;
        if (path && wsp_audit_config_load_yaml(cfg, path, &err) < 0) {
            wsp_cli_usage_error("audit", "--config %s", err.msg);
            return -1;
        }
    }
    return 0;
}

/* --html: the JSON report, read back, drawn (report/html.h): the page's figures are the JSON's.
 * 0, or -1 said on stderr. */
static int write_html(const wsp_audit *a, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = m && wsp_audit_write_json(a, m) == 0 ? 0 : -1;
    if (m && fclose(m) != 0)
        rc = -1;
    json_error_t je;
    json_t *j = rc == 0 ? json_loadb(buf, len, 0, &je) : NULL;
    free(buf);
    wsp_err err;
    wsp_err_clear(&err);
    if (!j || wsp_html_write_file(path, j, &err) != 0) {
        fprintf(stderr, "wsprobe: audit: OUTPUT_FAILED: cannot write the HTML report: %s\n",
                j ? err.msg : "out of memory");
        rc = -1;
    }
    json_decref(j);
    return rc;
}

/* The human report (or the input errors on stderr), JSON, HTML, JUnit and the saved baseline.
 * Returns the exit code. */
static int write_reports(wsp_audit *a, const wsp_audit_config *cfg, const char *html, int code)
{
    wsp_err err;
    bool json_stdout = cfg->json_path && strcmp(cfg->json_path, "-") == 0;
    if (!cfg->quiet && !json_stdout) {
        wsp_audit_write_human(a, stdout, wsp_cli_color(stdout));
        fflush(stdout);
    } else {
        /* still say why input was bad, on stderr */
        for (size_t i = 0; i < wsp_audit_error_count(a); i++) {
            const wsp_junit_error *e = wsp_audit_error_at(a, i);
            if (e->line)
                fprintf(stderr, "wsprobe: audit: %s:%lu: %s\n", e->file, e->line, e->msg);
            else
                fprintf(stderr, "wsprobe: audit: %s: %s\n", e->file, e->msg);
        }
    }
    if (cfg->json_path) {
        FILE *f = open_out(cfg->json_path, "--json");
        if (!f || close_out(f, cfg->json_path, "--json", wsp_audit_write_json(a, f)) < 0)
            code =
                wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED); /* the evidence is lost: this wins */
    }
    if (html && write_html(a, html) != 0)
        code = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
    if (cfg->junit_path) {
        FILE *f = open_out(cfg->junit_path, "--junit");
        if (!f || close_out(f, cfg->junit_path, "--junit", wsp_audit_write_junit(a, f)) < 0)
            code = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
    }
    if (cfg->save_baseline && code != 2 && code != wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED) &&
        wsp_audit_save_baseline(a, cfg->save_baseline, &err) < 0) {
        wsp_cli_usage_error("audit", "OUTPUT_FAILED: %s", err.msg);
        code = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
    }
    return code;
}

int wsp_cmd_audit(int argc, char **argv)
{
    static const wsp_opt *const tables[] = {audit_opts, NULL};
    const wsp_cli_spec spec = {.cmd = "audit",
                               .usage = audit_usage,
                               .after = audit_after,
                               .tables = tables,
                               .flags = WSP_CLI_JSON | WSP_CLI_JSON_SPACED | WSP_CLI_HTML};
    audit_cli ac = {.list_rules = false};
    wsp_audit_config_init(&ac.cfg);
    wsp_audit_config *const cfgp = &ac.cfg;
    wsp_err err;
    int code = 2;
    wsp_cli_out out;
    if (load_config(cfgp, argc, argv) != 0)
        goto out;
    int prc = wsp_cli_parse(&spec, argc, argv, take, &ac, &out);
    if (prc != 0) {
        code = prc == 1 ? 0 : 2;
        goto out;
    }
    if (ac.list_rules) {
        code = list_rules();
        goto out;
    }
    if (out.json &&
        wsp_audit_config_set(cfgp, "json", out.json_file ? out.json_file : "-", &err) < 0) {
        wsp_cli_usage_error("audit", "%s", err.msg);
        goto out;
    }
    if (out.noperands == 0) {
        wsp_cli_usage_error("audit", "no reports given (see wsprobe audit --help)");
        goto out;
    }
    if ((code = resolve_probes(cfgp)) != 0)
        goto out;
    code = 2;

    wsp_audit *a = wsp_audit_new(cfgp);
    if (!a) {
        wsp_cli_usage_error("audit", "out of memory");
        code = 70;
        goto out;
    }
    wsp_junit_error je;
    if (wsp_audit_load_baselines(a, &je) < 0) {
        if (je.line)
            wsp_cli_usage_error("audit", "baseline %s:%lu: %s", je.file, je.line, je.msg);
        else
            wsp_cli_usage_error("audit", "baseline %s: %s", je.file, je.msg);
        wsp_audit_free(a);
        goto out;
    }
    for (int i = 0; i < out.noperands; i++) {
        if (wsp_audit_add_path(a, out.operands[i]) < 0) {
            wsp_cli_usage_error("audit", "out of memory");
            wsp_audit_free(a);
            code = 70;
            goto out;
        }
    }
    wsp_audit_finish(a);
    code = wsp_audit_exit_code(a);

    code = write_reports(a, cfgp, out.html_file, code);
    wsp_audit_free(a);
out:
    wsp_audit_config_cleanup(cfgp);
    return code;
}
