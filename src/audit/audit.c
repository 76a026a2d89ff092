/* audit.c - see audit.h. */
#include "audit/audit.h"
#include "util/files.h"
#include "util/ascii.h"
#include "util/redact.h"
#include "report/report.h"
#include "report/xmlw.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "util/duration.h"
#include "audit/xmlshim.h"
#include "codec/yaml.h"

/* ---- rules ---------------------------------------------------------------------------- */

const char *wsp_audit_rule_name(wsp_audit_rule r)
{
    switch (r) {
    case WSP_AUDIT_SWALLOWED_ERROR:
        return "swallowed-error";
    case WSP_AUDIT_FLOOR:
        return "floor";
    case WSP_AUDIT_ZERO_TIME:
        return "zero-time";
    case WSP_AUDIT_SYNTHETIC_CASE:
        return "synthetic-case";
    case WSP_AUDIT_COLLAPSE:
        return "collapse";
    case WSP_AUDIT_SUITE_COLLAPSE:
        return "suite-collapse";
    case WSP_AUDIT_MISSING_EVIDENCE:
        return "missing-evidence";
    case WSP_AUDIT_PASSED_ON_RETRY:
        return "passed-on-retry";
    case WSP_AUDIT_NOT_RUN:
        return "not-run";
    case WSP_AUDIT_NO_ASSERTIONS:
        return "no-assertions";
    case WSP_AUDIT_VANISHED:
        return "vanished";
    case WSP_AUDIT_NO_TESTS:
        return "no-tests";
    case WSP_AUDIT_COUNT_MISMATCH:
        return "count-mismatch";
    }
    return "?";
}

const char *wsp_audit_rule_why(wsp_audit_rule r)
{
    switch (r) {
    case WSP_AUDIT_SWALLOWED_ERROR:
        return "passed, but its own output shows an error that was caught and ignored";
    case WSP_AUDIT_FLOOR:
        return "passed faster than a real exchange with the endpoint can take";
    case WSP_AUDIT_ZERO_TIME:
        return "a network test that passed in no time at all";
    case WSP_AUDIT_SYNTHETIC_CASE:
        return "a case the runner made up because the real tests did not run";
    case WSP_AUDIT_COLLAPSE:
        return "passed in under a tenth of its usual time: it probably stopped doing its work";
    case WSP_AUDIT_SUITE_COLLAPSE:
        return "the suite's total time collapsed with the same number of tests";
    case WSP_AUDIT_MISSING_EVIDENCE:
        return "passed without the evidence property it must record";
    case WSP_AUDIT_PASSED_ON_RETRY:
        return "passed only when run again: flaky, not green";
    case WSP_AUDIT_NOT_RUN:
        return "did not run, yet has no <skipped>: tools that ignore status= count it as passed";
    case WSP_AUDIT_NO_ASSERTIONS:
        return "passed without a single assertion";
    case WSP_AUDIT_VANISHED:
        return "in the baseline, gone from these reports";
    case WSP_AUDIT_NO_TESTS:
        return "no test cases at all: nothing was verified";
    case WSP_AUDIT_COUNT_MISMATCH:
        return "the suite's tests= count disagrees with the test cases it holds";
    }
    return "?";
}

int wsp_audit_rule_group(wsp_audit_rule r)
{
    switch (r) {
    case WSP_AUDIT_FLOOR:
        return 1;
    case WSP_AUDIT_ZERO_TIME:
        return 2;
    case WSP_AUDIT_COLLAPSE:
    case WSP_AUDIT_SUITE_COLLAPSE:
        return 3;
    case WSP_AUDIT_SWALLOWED_ERROR:
    case WSP_AUDIT_SYNTHETIC_CASE:
    case WSP_AUDIT_PASSED_ON_RETRY:
    case WSP_AUDIT_NOT_RUN:
    case WSP_AUDIT_NO_ASSERTIONS:
        return 4;
    case WSP_AUDIT_VANISHED:
    case WSP_AUDIT_NO_TESTS:
    case WSP_AUDIT_COUNT_MISMATCH:
        return 5;
    case WSP_AUDIT_MISSING_EVIDENCE:
        return 6;
    }
    return 0;
}

int wsp_audit_rule_from_name(const char *name)
{
    for (int i = 0; i < WSP_AUDIT_RULE_COUNT; i++)
        if (strcmp(name, wsp_audit_rule_name((wsp_audit_rule)i)) == 0)
            return i;
    return -1;
}

/* Case-insensitive substrings of a pass's own output that show an error it swallowed. */
const char *const wsp_audit_default_patterns[] = {
    "Traceback (most recent call last)",
    "ConnectionRefusedError",
    "Connection refused",
    "ECONNREFUSED",
    "java.net.ConnectException",
    "ConnectionResetError",
    "Connection reset",
    "ECONNRESET",
    "Broken pipe",
    "timed out",
    "TimeoutError",
    "ETIMEDOUT",
    "SocketTimeoutException",
    "ConnectionClosed",
    "InvalidStatus",
    "InvalidHandshake",
    "InvalidURI",
    "403 Forbidden",
    "HTTP 403",
    "status 403",
    "status code 403",
    "401 Unauthorized",
    "HTTP 401",
    "Name or service not known",
    "ENOTFOUND",
    "getaddrinfo failed",
    "CERTIFICATE_VERIFY_FAILED",
    "Unhandled promise rejection",
    NULL,
};

/* Cases that runners make up when the tests themselves did not run. */
typedef struct synthetic_pattern {
    const char *text;
    bool name;    /* look in the test's name */
    bool message; /* look in the failure/error/skip message */
} synthetic_pattern;

static const synthetic_pattern synthetic_patterns[] = {
    {"Test suite failed to run", true, true}, /* jest-junit */
    {"Test execution failure", true, false},  /* jest-junit: a failing beforeAll/afterAll */
    {"initializationError", true, false},     /* JUnit 4 / Surefire */
    {"[build failed]", true, false},          /* go-junit-report */
    {"[setup failed]", true, false},          /* go-junit-report */
    {"no test result found", true, true},     /* reporters that pad a missing result */
    {"no test results found", true, true},
    {"failed to run", true, false},
    {"collection failure", false, true},        /* pytest collection error */
    {"Unable to find executable", false, true}, /* ctest */
    {"Could not find executable", false, true},
};

/* Case-insensitive multi-pattern search (Set-Horspool over the first `m` bytes of each pattern,
 * m the shortest length): a window of m bytes moves by the skip of its last byte, so a name is
 * mostly jumped over, not read byte by byte. */
typedef struct ci_set {
    const char *pat[16];
    size_t len[16];
    int idx[16]; /* index into synthetic_patterns */
    size_t n;
    size_t m;              /* shortest pattern */
    uint8_t skip[256];     /* by the window's last byte */
    uint16_t endmask[256]; /* patterns whose m-th byte (either case) is the index */
} ci_set;

static void ci_set_add(ci_set *s, const char *pat, int idx)
{
    if (s->n >= 16 || !pat[0])
        return;
    s->pat[s->n] = pat;
    s->len[s->n] = strlen(pat);
    s->idx[s->n] = idx;
    s->n++;
}

/* After the last add. */
static void ci_set_build(ci_set *s)
{
    s->m = SIZE_MAX;
    for (size_t k = 0; k < s->n; k++)
        if (s->len[k] < s->m)
            s->m = s->len[k];
    if (s->n == 0)
        s->m = 1;
    if (s->m > 255)
        s->m = 255;
    memset(s->skip, (int)s->m, sizeof s->skip);
    memset(s->endmask, 0, sizeof s->endmask);
    for (size_t k = 0; k < s->n; k++) {
        unsigned char e = (unsigned char)wsp_ascii_lower(s->pat[k][s->m - 1]);
        s->endmask[e] |= (uint16_t)(1u << k);
        if (e >= 'a' && e <= 'z')
            s->endmask[e - 32] |= (uint16_t)(1u << k);
    }
    for (size_t k = 0; k < s->n; k++)
        for (size_t j = 0; j + 1 < s->m; j++) {
            uint8_t d = (uint8_t)(s->m - 1 - j);
            unsigned char c = (unsigned char)wsp_ascii_lower(s->pat[k][j]);
            if (d < s->skip[c])
                s->skip[c] = d;
            if (c >= 'a' && c <= 'z' && d < s->skip[c - 32])
                s->skip[c - 32] = d;
        }
}

static bool ci_at(const char *hay, size_t hlen, size_t at, const char *pat, size_t plen)
{
    if (plen > hlen - at)
        return false;
    for (size_t j = 0; j < plen; j++)
        if ((unsigned char)wsp_ascii_lower(hay[at + j]) != (unsigned char)wsp_ascii_lower(pat[j]))
            return false;
    return true;
}

/* The synthetic_patterns index of the first match in hay, or -1. */
static int ci_set_find(const ci_set *s, const char *hay)
{
    if (!s->n)
        return -1;
    size_t n = strlen(hay), m = s->m;
    if (n < m)
        return -1;
    size_t pos = 0; /* window start */
    while (pos + m <= n) {
        unsigned char last = (unsigned char)hay[pos + m - 1];
        uint8_t sk = s->skip[last];
        /* a window whose last byte is the m-th byte of some pattern: verify at pos */
        for (unsigned mask = s->endmask[last]; mask; mask &= mask - 1) {
            int k = __builtin_ctz(mask);
            if (ci_at(hay, n, pos, s->pat[k], s->len[k]))
                return s->idx[k];
        }
        pos += sk ? sk : 1;
    }
    return -1;
}

/* ---- configuration ------------------------------------------------------------------- */

void wsp_audit_config_init(wsp_audit_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->min_history = 5;
    cfg->collapse_ratio = 0.1;
    cfg->collapse_min_us = 1000;
    cfg->max_findings = 1000;
    cfg->max_report_bytes = 4ull << 30;
    cfg->show = 20;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void wsp_audit_config_cleanup(wsp_audit_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nfloors; i++) {
        free(cfg->floors[i].glob);
        free(cfg->floors[i].source);
    }
    free(cfg->floors);
    for (size_t i = 0; i < cfg->nreqs; i++) {
        free(cfg->reqs[i].text);
        free(cfg->reqs[i].name);
        free(cfg->reqs[i].value);
    }
    free(cfg->reqs);
    for (size_t i = 0; i < cfg->nprobes; i++) {
        free(cfg->probes[i].glob);
        free(cfg->probes[i].url);
    }
    free(cfg->probes);
    free_strv(cfg->network, cfg->nnetwork);
    free_strv(cfg->exclude, cfg->nexclude);
    free_strv(cfg->baselines, cfg->nbaselines);
    free_strv(cfg->patterns, cfg->npatterns);
    free(cfg->json_path);
    free(cfg->junit_path);
    free(cfg->save_baseline);
    memset(cfg, 0, sizeof *cfg);
}

/* Grow an array of `size`-byte elements by one; returns the new element (zeroed) or NULL. */
static void *push(void **arr, size_t *n, size_t size)
{
    void *na = realloc(*arr, (*n + 1) * size);
    if (!na)
        return NULL;
    *arr = na;
    void *el = (char *)na + *n * size;
    memset(el, 0, size);
    (*n)++;
    return el;
}

static int push_str(char ***v, size_t *n, const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        return -1;
    char **slot = push((void **)v, n, sizeof(char *));
    if (!slot) {
        free(copy);
        return -1;
    }
    *slot = copy;
    return 0;
}

int wsp_audit_config_add_floor_us(wsp_audit_config *cfg, const char *glob, uint64_t us,
                                  const char *source)
{
    char *g = strdup(glob), *s = strdup(source ? source : "--floor");
    wsp_audit_floor *f = (g && s) ? push((void **)&cfg->floors, &cfg->nfloors, sizeof *f) : NULL;
    if (!f) {
        free(g);
        free(s);
        return -1;
    }
    f->glob = g;
    f->us = us;
    f->source = s;
    return 0;
}

int wsp_audit_config_add_floor(wsp_audit_config *cfg, const char *spec, const char *source,
                               wsp_err *err)
{
    const char *eq = strrchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        wsp_err_set(err, WSP_CLASS_USAGE,
                    "--floor wants GLOB=DURATION (for example 'tests.e2e.*=20ms'), got '%s'", spec);
        return -1;
    }
    uint64_t us;
    if (wsp_duration_parse(eq + 1, &us) != 0) {
        wsp_err_set(err, WSP_CLASS_USAGE,
                    "--floor '%s': '%s': expected a duration like 250ms, 2s, 100us", spec, eq + 1);
        return -1;
    }
    char glob[1024];
    snprintf(glob, sizeof glob, "%.*s", (int)(eq - spec), spec);
    if (wsp_audit_config_add_floor_us(cfg, glob, us, source) < 0) {
        wsp_err_set(err, WSP_CLASS_USAGE, "out of memory");
        return -1;
    }
    return 0;
}

int wsp_audit_config_add_probe(wsp_audit_config *cfg, const char *spec, wsp_err *err)
{
    const char *url = spec;
    char *glob = NULL;
    if (strncmp(spec, "ws://", 5) != 0 && strncmp(spec, "wss://", 6) != 0) {
        const char *eq = strchr(spec, '=');
        if (!eq || eq == spec ||
            (strncmp(eq + 1, "ws://", 5) != 0 && strncmp(eq + 1, "wss://", 6) != 0)) {
            wsp_err_set(err, WSP_CLASS_USAGE,
                        "--floor-from-probe wants a ws:// or wss:// URL, or GLOB=URL; "
                        "got '%s'",
                        spec);
            return -1;
        }
        glob = strndup(spec, (size_t)(eq - spec));
        url = eq + 1;
        if (!glob)
            goto oom;
    }
    char *u = strdup(url);
    wsp_audit_probe_floor *p = u ? push((void **)&cfg->probes, &cfg->nprobes, sizeof *p) : NULL;
    if (!p) {
        free(u);
        free(glob);
        goto oom;
    }
    p->glob = glob;
    p->url = u;
    return 0;
oom:
    wsp_err_set(err, WSP_CLASS_USAGE, "out of memory");
    return -1;
}

int wsp_audit_config_add_network(wsp_audit_config *cfg, const char *glob)
{
    return push_str(&cfg->network, &cfg->nnetwork, glob);
}

int wsp_audit_config_add_exclude(wsp_audit_config *cfg, const char *glob)
{
    return push_str(&cfg->exclude, &cfg->nexclude, glob);
}

int wsp_audit_config_add_baseline(wsp_audit_config *cfg, const char *path)
{
    return push_str(&cfg->baselines, &cfg->nbaselines, path);
}

int wsp_audit_config_add_pattern(wsp_audit_config *cfg, const char *text)
{
    return push_str(&cfg->patterns, &cfg->npatterns, text);
}

int wsp_audit_config_add_requirement(wsp_audit_config *cfg, const char *expr, wsp_err *err)
{
    static const struct {
        const char *s;
        wsp_audit_op op;
    } ops[] = {
        {">=", WSP_AUDIT_OP_GE}, {"<=", WSP_AUDIT_OP_LE}, {"!=", WSP_AUDIT_OP_NE},
        {"==", WSP_AUDIT_OP_EQ}, {">", WSP_AUDIT_OP_GT},  {"<", WSP_AUDIT_OP_LT},
        {"=", WSP_AUDIT_OP_EQ},
    };
    const char *at = NULL;
    size_t oplen = 0;
    wsp_audit_op op = WSP_AUDIT_OP_PRESENT;
    /* the first operator character splits name and value */
    for (const char *p = expr; *p && !at; p++) {
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            size_t l = strlen(ops[i].s);
            if (strncmp(p, ops[i].s, l) == 0) {
                at = p;
                oplen = l;
                op = ops[i].op;
                break;
            }
        }
    }
    size_t nlen = at ? (size_t)(at - expr) : strlen(expr);
    while (nlen && expr[nlen - 1] == ' ')
        nlen--;
    const char *val = at ? at + oplen : "";
    while (*val == ' ')
        val++;
    if (nlen == 0 || (at && !*val)) {
        wsp_err_set(err, WSP_CLASS_USAGE,
                    "--require-property wants NAME or NAME OP VALUE with OP one of "
                    "> >= < <= = != (for example 'ws.bytes_rx>0'), got '%s'",
                    expr);
        return -1;
    }
    char *text = strdup(expr), *name = strndup(expr, nlen), *value = strdup(val);
    wsp_audit_requirement *r =
        (text && name && value) ? push((void **)&cfg->reqs, &cfg->nreqs, sizeof *r) : NULL;
    if (!r) {
        free(text);
        free(name);
        free(value);
        wsp_err_set(err, WSP_CLASS_USAGE, "out of memory");
        return -1;
    }
    r->text = text;
    r->name = name;
    r->op = op;
    r->value = value;
    return 0;
}

int wsp_audit_config_disable(wsp_audit_config *cfg, const char *rule, wsp_err *err)
{
    int r = wsp_audit_rule_from_name(rule);
    if (r < 0) {
        char names[600] = "";
        for (int i = 0; i < WSP_AUDIT_RULE_COUNT; i++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "",
                     wsp_audit_rule_name((wsp_audit_rule)i));
        }
        wsp_err_set(err, WSP_CLASS_USAGE, "unknown rule '%s' (rules: %s)", rule, names);
        return -1;
    }
    cfg->disabled[r] = true;
    return 0;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!s || !*s)
        return -1;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (max - (unsigned)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    *out = v;
    return 0;
}

static int set_string(char **slot, const char *v)
{
    char *c = strdup(v);
    if (!c)
        return -1;
    free(*slot);
    *slot = c;
    return 0;
}

/* Normalise a key: '-' and '_' are the same, leading dashes dropped. */
static void norm_key(const char *key, char *out, size_t outlen)
{
    while (*key == '-')
        key++;
    size_t i = 0;
    for (; key[i] && i + 1 < outlen; i++)
        out[i] = key[i] == '-' ? '_' : key[i];
    out[i] = '\0';
}

static int config_set(wsp_audit_config *cfg, const char *key, const char *value, const char *source,
                      wsp_err *err)
{
    char k[64];
    norm_key(key, k, sizeof k);
    unsigned long long u;
    int rc = 0;
    if (strcmp(k, "floor") == 0)
        return wsp_audit_config_add_floor(cfg, value, source, err);
    if (strcmp(k, "floor_from_probe") == 0)
        return wsp_audit_config_add_probe(cfg, value, err);
    if (strcmp(k, "require_property") == 0)
        return wsp_audit_config_add_requirement(cfg, value, err);
    if (strcmp(k, "disable") == 0)
        return wsp_audit_config_disable(cfg, value, err);
    if (strcmp(k, "network_tests") == 0)
        rc = wsp_audit_config_add_network(cfg, value);
    else if (strcmp(k, "exclude") == 0)
        rc = wsp_audit_config_add_exclude(cfg, value);
    else if (strcmp(k, "baseline") == 0)
        rc = wsp_audit_config_add_baseline(cfg, value);
    else if (strcmp(k, "swallowed_pattern") == 0 || strcmp(k, "swallowed_patterns") == 0)
        rc = wsp_audit_config_add_pattern(cfg, value);
    else if (strcmp(k, "json") == 0)
        rc = set_string(&cfg->json_path, value);
    else if (strcmp(k, "junit") == 0)
        rc = set_string(&cfg->junit_path, value);
    else if (strcmp(k, "save_baseline") == 0)
        rc = set_string(&cfg->save_baseline, value);
    else if (strcmp(k, "min_history") == 0) {
        if (parse_uint(value, 1000000, &u) < 0 || u < 1) {
            wsp_err_set(err, WSP_CLASS_USAGE, "--min-history wants a whole number >= 1, got '%s'",
                        value);
            return -1;
        }
        cfg->min_history = (unsigned)u;
    } else if (strcmp(k, "collapse_ratio") == 0) {
        char *end = NULL;
        double d = strtod(value, &end);
        if (!end || *end || !(d > 0 && d < 1)) {
            wsp_err_set(err, WSP_CLASS_USAGE,
                        "--collapse-ratio wants a number between 0 and 1, got '%s'", value);
            return -1;
        }
        cfg->collapse_ratio = d;
    } else if (strcmp(k, "collapse_min") == 0) {
        uint64_t us;
        if (wsp_duration_parse(value, &us) != 0) {
            wsp_err_set(err, WSP_CLASS_USAGE,
                        "--collapse-min wants a duration (1ms, 0.5s), got '%s'", value);
            return -1;
        }
        cfg->collapse_min_us = us;
    } else if (strcmp(k, "max_findings") == 0) {
        if (parse_uint(value, SIZE_MAX / 2, &u) < 0) {
            wsp_err_set(err, WSP_CLASS_USAGE,
                        "--max-findings wants a whole number (0: no cap), got '%s'", value);
            return -1;
        }
        cfg->max_findings = (size_t)u;
    } else if (strcmp(k, "show") == 0) {
        if (parse_uint(value, 1000000000, &u) < 0) {
            wsp_err_set(err, WSP_CLASS_USAGE, "--show wants a whole number (0: all), got '%s'",
                        value);
            return -1;
        }
        cfg->show = (unsigned)u;
    } else if (strcmp(k, "max_report_size") == 0) {
        uint64_t b;
        if (wsp_size_parse(value, UINT64_MAX, &b) < 0) {
            wsp_err_set(err, WSP_CLASS_USAGE,
                        "--max-report-size wants a size (4G, 500M, 0: no cap), got '%s'", value);
            return -1;
        }
        cfg->max_report_bytes = b;
    } else if (strcmp(k, "quiet") == 0) {
        if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
            cfg->quiet = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
            cfg->quiet = false;
        else {
            wsp_err_set(err, WSP_CLASS_USAGE, "quiet wants true or false, got '%s'", value);
            return -1;
        }
    } else {
        wsp_err_set(err, WSP_CLASS_USAGE, "unknown setting '%s'", key);
        return -1;
    }
    if (rc) {
        wsp_err_set(err, WSP_CLASS_USAGE, "out of memory");
        return -1;
    }
    return 0;
}

int wsp_audit_config_set(wsp_audit_config *cfg, const char *key, const char *value, wsp_err *err)
{
    return config_set(cfg, key, value, "--floor", err);
}

static bool is_list_key(const char *k)
{
    static const char *const lists[] = {"floor",    "floor_from_probe",  "require_property",
                                        "disable",  "network_tests",     "exclude",
                                        "baseline", "swallowed_pattern", "swallowed_patterns"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (strcmp(k, lists[i]) == 0)
            return true;
    return false;
}

/* an audit configuration is a page of settings */
#define AUDIT_CONFIG_MAX (1u << 20)

int wsp_audit_config_load_yaml(wsp_audit_config *cfg, const char *path, wsp_err *err)
{
    size_t flen = 0;
    char *text = wsp_file_read(NULL, path, AUDIT_CONFIG_MAX, 0, &flen, err);
    if (!text)
        return -1;
    /* bounded before it is built (codec/yaml.h): the default caps of depth and nodes, and one
     * document */
    yaml_document_t doc;
    wsp_yaml_result yr;
    wsp_yaml_status st = wsp_yaml_load(text, flen, NULL, &doc, &yr);
    int rc = -1;
    if (st != WSP_YAML_OK) {
        char msg[512];
        wsp_yaml_describe(&yr, "an audit configuration", msg, sizeof msg);
        if (st == WSP_YAML_NO_MEMORY)
            wsp_err_set(err, WSP_CLASS_USAGE, "%s", msg);
        else if (st == WSP_YAML_SYNTAX)
            wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: YAML error: %s", path,
                        (unsigned long)yr.mark.line + 1, yr.problem);
        else
            wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: %s", path, (unsigned long)yr.mark.line + 1,
                        msg);
        free(text);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = 0; /* an empty file sets nothing */
        goto done;
    }
    if (root->type != YAML_MAPPING_NODE) {
        wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: the configuration must be a mapping of settings",
                    path, (unsigned long)root->start_mark.line + 1);
        goto done;
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, pr->value);
        if (!kn || !vn || kn->type != YAML_SCALAR_NODE) {
            wsp_err_set(err, WSP_CLASS_USAGE, "%s: keys must be plain names", path);
            goto done;
        }
        const char *key = (const char *)kn->data.scalar.value;
        unsigned long line = (unsigned long)vn->start_mark.line + 1;
        char k[64];
        norm_key(key, k, sizeof k);
        wsp_err sub;
        if (vn->type == YAML_SCALAR_NODE) {
            if (config_set(cfg, key, (const char *)vn->data.scalar.value, "config", &sub) < 0) {
                wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: %s", path, line, sub.msg);
                goto done;
            }
        } else if (vn->type == YAML_SEQUENCE_NODE) {
            if (!is_list_key(k)) {
                wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: '%s' takes one value, not a list", path,
                            line, key);
                goto done;
            }
            for (yaml_node_item_t *it = vn->data.sequence.items.start;
                 it < vn->data.sequence.items.top; it++) {
                yaml_node_t *in = yaml_document_get_node(&doc, *it);
                if (!in || in->type != YAML_SCALAR_NODE) {
                    wsp_err_set(err, WSP_CLASS_USAGE,
                                "%s:%lu: the items of '%s' must be plain values", path, line, key);
                    goto done;
                }
                if (config_set(cfg, key, (const char *)in->data.scalar.value, "config", &sub) < 0) {
                    wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: %s", path,
                                (unsigned long)in->start_mark.line + 1, sub.msg);
                    goto done;
                }
            }
        } else if (vn->type == YAML_MAPPING_NODE &&
                   (strcmp(k, "floor") == 0 || strcmp(k, "floor_from_probe") == 0)) {
            /* GLOB: DURATION or GLOB: URL */
            for (yaml_node_pair_t *p2 = vn->data.mapping.pairs.start;
                 p2 < vn->data.mapping.pairs.top; p2++) {
                yaml_node_t *gk = yaml_document_get_node(&doc, p2->key);
                yaml_node_t *gv = yaml_document_get_node(&doc, p2->value);
                if (!gk || !gv || gk->type != YAML_SCALAR_NODE || gv->type != YAML_SCALAR_NODE) {
                    wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: '%s' maps a glob to a plain value",
                                path, line, key);
                    goto done;
                }
                char spec[2048];
                snprintf(spec, sizeof spec, "%s=%s", (const char *)gk->data.scalar.value,
                         (const char *)gv->data.scalar.value);
                int r2 = strcmp(k, "floor") == 0
                             ? wsp_audit_config_add_floor(cfg, spec, "config", &sub)
                             : wsp_audit_config_add_probe(cfg, spec, &sub);
                if (r2 < 0) {
                    wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: %s", path,
                                (unsigned long)gk->start_mark.line + 1, sub.msg);
                    goto done;
                }
            }
        } else {
            wsp_err_set(err, WSP_CLASS_USAGE, "%s:%lu: '%s' cannot take a mapping", path, line,
                        key);
            goto done;
        }
    }
    rc = 0;
done:
    yaml_document_delete(&doc);
    free(text);
    return rc;
}

/* ---- string map (open addressing) ---------------------------------------------------- */

typedef struct smap_slot {
    uint64_t hash;
    char *key;
    void *val;
} smap_slot;

typedef struct smap {
    smap_slot *slots;
    uint8_t *tags;   /* per slot: 0 empty, else a byte of the hash: a miss reads only these */
    size_t cap, len; /* cap is a power of two */
} smap;

static uint8_t hash_tag(uint64_t h)
{
    return (uint8_t)((h >> 56) | 1);
}

/* Eight bytes at a time (every id of every case is hashed once: this is on the hot path). */
static uint64_t hash_str(const char *s)
{
    size_t n = strlen(s);
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    return h ? h : 1;
}

/* The slot holding key, or the empty slot where it would go; NULL for an empty map. */
static smap_slot *smap_find_slot(const smap *m, const char *key, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    uint8_t tag = hash_tag(h);
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint8_t t = m->tags[i];
        if (t == 0)
            return &m->slots[i];
        if (t == tag && m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0)
            return &m->slots[i];
    }
}

static void *smap_get(const smap *m, const char *key)
{
    if (!m->len)
        return NULL;
    smap_slot *s = smap_find_slot(m, key, hash_str(key));
    return s && s->key ? s->val : NULL;
}

static int smap_grow(smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    smap_slot *ns = calloc(ncap, sizeof *ns);
    uint8_t *nt = calloc(ncap, 1);
    if (!ns || !nt) {
        free(ns);
        free(nt);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        smap_slot *o = &m->slots[i];
        if (!o->key)
            continue;
        for (size_t j = (size_t)o->hash & (ncap - 1);; j = (j + 1) & (ncap - 1)) {
            if (!nt[j]) {
                ns[j] = *o;
                nt[j] = hash_tag(o->hash);
                break;
            }
        }
    }
    free(m->slots);
    free(m->tags);
    m->slots = ns;
    m->tags = nt;
    m->cap = ncap;
    return 0;
}

/* The slot for key, created (key copied, val NULL) when absent. NULL when out of memory. */
static smap_slot *smap_upsert(smap *m, const char *key)
{
    if ((m->len + 1) * 2 > m->cap && smap_grow(m) < 0)
        return NULL;
    uint64_t h = hash_str(key);
    smap_slot *s = smap_find_slot(m, key, h);
    if (!s->key) {
        s->key = strdup(key);
        if (!s->key)
            return NULL;
        s->hash = h;
        s->val = NULL;
        m->tags[s - m->slots] = hash_tag(h);
        m->len++;
    }
    return s;
}

static void smap_clear(smap *m, void (*free_val)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key) {
            free(m->slots[i].key);
            if (free_val)
                free_val(m->slots[i].val);
        }
    }
    free(m->slots);
    free(m->tags);
    memset(m, 0, sizeof *m);
}

/* ---- recent failures -------------------------------------------------------------------
 * The ids that failed earlier in the current file, to spot a rerun that passed. Runners rerun
 * soon after the failure (pytest-rerunfailures at once, gotestsum at the end and only when few
 * tests failed), so only the recent failures are remembered: two generations of at most
 * RECENT_GEN ids each, as 64-bit hashes with their line. Bounded memory that stays in cache, a
 * lookup per pass; two different ids sharing a 64-bit hash is not a concern here. */

#define RECENT_SLOTS 4096
#define RECENT_GEN (RECENT_SLOTS / 2)

typedef struct hgen {
    uint64_t keys[RECENT_SLOTS]; /* 0: empty */
    uint32_t lines[RECENT_SLOTS];
    size_t len;
} hgen;

typedef struct hset {
    hgen *cur, *old; /* allocated on the first failure */
    size_t len;      /* ids remembered, both generations */
} hset;

static uint32_t hgen_get(const hgen *g, uint64_t k)
{
    if (!g || !g->len)
        return 0;
    for (size_t i = (size_t)k & (RECENT_SLOTS - 1);; i = (i + 1) & (RECENT_SLOTS - 1)) {
        if (g->keys[i] == k)
            return g->lines[i];
        if (!g->keys[i])
            return 0;
    }
}

/* The line stored for hash k, or 0. */
static uint32_t hset_get(const hset *h, uint64_t k)
{
    uint32_t l = hgen_get(h->cur, k);
    return l ? l : hgen_get(h->old, k);
}

/* Add k with line (the first line is kept). -1 when out of memory. */
static int hset_add(hset *h, uint64_t k, uint32_t line)
{
    if (hset_get(h, k))
        return 0;
    if (!h->cur) {
        h->cur = calloc(1, sizeof *h->cur);
        if (!h->cur)
            return -1;
    }
    if (h->cur->len >= RECENT_GEN) {
        /* the current generation is full: it becomes the old one */
        hgen *g = h->old ? h->old : calloc(1, sizeof *g);
        if (!g)
            return -1;
        memset(g, 0, sizeof *g);
        h->old = h->cur;
        h->cur = g;
    }
    hgen *g = h->cur;
    size_t i = (size_t)k & (RECENT_SLOTS - 1);
    while (g->keys[i])
        i = (i + 1) & (RECENT_SLOTS - 1);
    g->keys[i] = k;
    g->lines[i] = line ? line : 1;
    g->len++;
    h->len = g->len + (h->old ? h->old->len : 0);
    return 0;
}

static void hset_clear(hset *h)
{
    free(h->cur);
    free(h->old);
    memset(h, 0, sizeof *h);
}

/* ---- globs --------------------------------------------------------------------------- */

/* A glob, matched without fnmatch when it has no metacharacter but '*' (the common case, and
 * the hot path): same semantics as fnmatch(3) with flags 0, where '*' matches any run of
 * characters, '/' and '.' included. Such a glob is split at its stars: the first segment is
 * anchored at the start, the last at the end, the middle ones are found leftmost in order
 * (always the best choice when '*' is the only wildcard). */
#define GLOB_MAX_SEGS 16

typedef struct glob {
    const char *pat;
    bool star_only;
    bool has_star;
    size_t nseg;
    const char *seg[GLOB_MAX_SEGS];
    size_t seglen[GLOB_MAX_SEGS];
} glob;

static void glob_init(glob *g, const char *pat)
{
    memset(g, 0, sizeof *g);
    g->pat = pat;
    g->star_only = strpbrk(pat, "?[\\") == NULL;
    g->has_star = strchr(pat, '*') != NULL;
    if (!g->star_only)
        return;
    const char *p = pat;
    for (;;) {
        const char *star = strchr(p, '*');
        size_t len = star ? (size_t)(star - p) : strlen(p);
        if (g->nseg == GLOB_MAX_SEGS) {
            g->star_only = false; /* too many stars: leave it to fnmatch */
            return;
        }
        g->seg[g->nseg] = p;
        g->seglen[g->nseg] = len;
        g->nseg++;
        if (!star)
            break;
        p = star + 1;
    }
}

/* First occurrence of needle (nlen >= 1) in hay[0..hlen): memchr for its first byte (vectorised
 * in libc), then a comparison. */
static const char *find_bytes(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    const char *end = hay + hlen;
    while ((size_t)(end - hay) >= nlen) {
        const char *c = memchr(hay, needle[0], (size_t)(end - hay) - nlen + 1);
        if (!c)
            return NULL;
        if (memcmp(c + 1, needle + 1, nlen - 1) == 0)
            return c;
        hay = c + 1;
    }
    return NULL;
}

static bool star_match(const glob *g, const char *s, size_t slen)
{
    if (!g->has_star)
        return slen == g->seglen[0] && memcmp(g->seg[0], s, slen) == 0;
    size_t head = g->seglen[0], tail = g->seglen[g->nseg - 1];
    if (head + tail > slen || memcmp(g->seg[0], s, head) != 0 ||
        memcmp(g->seg[g->nseg - 1], s + slen - tail, tail) != 0)
        return false;
    const char *from = s + head, *limit = s + slen - tail;
    for (size_t i = 1; i + 1 < g->nseg; i++) {
        size_t len = g->seglen[i];
        if (!len)
            continue;
        const char *hit = find_bytes(from, (size_t)(limit - from), g->seg[i], len);
        if (!hit)
            return false;
        from = hit + len;
    }
    return true;
}

static bool glob_match1(const glob *g, const char *s, size_t slen)
{
    if (g->star_only)
        return star_match(g, s, slen);
    return fnmatch(g->pat, s, 0) == 0;
}

/* The id or the bare name matches. */
static bool glob_match(const glob *g, const char *id, const char *name)
{
    size_t il = strlen(id);
    if (glob_match1(g, id, il))
        return true;
    if (!name || !name[0] || name == id)
        return false;
    size_t nl = strlen(name);
    if (nl == il && memcmp(name, id, il) == 0)
        return false;
    return glob_match1(g, name, nl);
}

/* ---- run state ----------------------------------------------------------------------- */

#define DUR_KEEP 64 /* durations kept per test (most recent) */

typedef struct durs {
    int64_t *v;
    uint32_t n, cap;
} durs;

/* A test known from the baseline (or kept for --save-baseline). */
typedef struct test_entry {
    durs base; /* earlier passes with a known time, oldest first */
    durs cur;  /* this run's passes (only with save_baseline) */
    int64_t median;
    uint32_t name_off;  /* the bare name starts here in the key */
    uint32_t base_seen; /* appearances in the baseline, any outcome */
    bool in_baseline;
    bool seen; /* in the current reports */
} test_entry;

typedef struct suite_run {
    long cases;
    int64_t us;
} suite_run;

typedef struct suite_entry {
    suite_run *runs;
    uint32_t n, cap;
    suite_run cur[4]; /* this run's values (save_baseline), a few per path */
    uint32_t ncur;
} suite_entry;

typedef struct rule_bucket {
    wsp_audit_finding *v;
    size_t n, cap;
} rule_bucket;

struct wsp_audit {
    const wsp_audit_config *cfg;
    glob *network, *exclude, *floors;
    const char **patterns; /* built-in + user */
    size_t npatterns;
    wsp_junit_options opt;
    ci_set synth_name, synth_msg;

    smap tests;  /* id -> test_entry */
    smap suites; /* suite path -> suite_entry */
    hset failed; /* this file: hashes of the ids that failed, with the line */

    rule_bucket rules[WSP_AUDIT_RULE_COUNT];
    wsp_audit_finding **sorted; /* after finish */
    size_t nsorted;
    uint64_t seq;

    wsp_junit_error *errors;
    size_t nerrors;

    wsp_audit_summary sum;
    /* current file */
    const char *file;
    uint64_t file_cases;
    uint64_t file_empty_suites;
    bool oom;
    bool finished;
    /* baseline loading */
    bool loading_baseline;
};

static void durs_push(durs *d, int64_t us)
{
    if (d->n == DUR_KEEP) {
        memmove(d->v, d->v + 1, (DUR_KEEP - 1) * sizeof *d->v);
        d->v[DUR_KEEP - 1] = us;
        return;
    }
    if (d->n == d->cap) {
        uint32_t nc = d->cap ? d->cap * 2 : 4;
        if (nc > DUR_KEEP)
            nc = DUR_KEEP;
        int64_t *nv = realloc(d->v, nc * sizeof *nv);
        if (!nv)
            return; /* keep what we have */
        d->v = nv;
        d->cap = nc;
    }
    d->v[d->n++] = us;
}

static void test_entry_free(void *p)
{
    test_entry *e = p;
    if (!e)
        return;
    free(e->base.v);
    free(e->cur.v);
    free(e);
}

static void suite_entry_free(void *p)
{
    suite_entry *e = p;
    if (!e)
        return;
    free(e->runs);
    free(e);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t median_of(const int64_t *v, size_t n)
{
    if (n == 0)
        return -1;
    int64_t tmp[DUR_KEEP];
    if (n > DUR_KEEP)
        n = DUR_KEEP;
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_i64);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* "0 s", "850 us", "1.23 ms", "12.5 s" */
static void fmt_dur(char *out, size_t outlen, int64_t us)
{
    if (us < 0)
        snprintf(out, outlen, "unknown");
    else if (us == 0)
        snprintf(out, outlen, "0 s");
    else if (us < 1000)
        snprintf(out, outlen, "%lld us", (long long)us);
    else if (us < 1000000)
        snprintf(out, outlen, "%.3g ms", (double)us / 1e3);
    else
        snprintf(out, outlen, "%.3g s", (double)us / 1e6);
}

/* ---- findings ------------------------------------------------------------------------ */

typedef struct finding_in {
    const char *test, *suite, *file;
    unsigned long line;
    int64_t time_us, limit_us, median_us;
    long runs, expected, actual;
    const char *glob, *source, *pattern, *excerpt, *requirement;
    double score;
} finding_in;

static void finding_in_init(finding_in *f)
{
    memset(f, 0, sizeof *f);
    f->time_us = f->limit_us = f->median_us = -1;
    f->runs = f->expected = f->actual = -1;
}

/* A finding's copy of a report's text, through the redactor: a test's name or its output may
 * quote a token, and every view (human, JSON, JUnit) prints the finding. */
static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *c = wsp_redact(s, strlen(s), NULL);
    if (!c)
        *oom = true;
    return c;
}

static void finding_free(wsp_audit_finding *f)
{
    free(f->test);
    free(f->suite);
    free(f->file);
    free(f->glob);
    free(f->source);
    free(f->pattern);
    free(f->excerpt);
    free(f->requirement);
    free(f->message);
}

static void add_finding(wsp_audit *a, wsp_audit_rule rule, const finding_in *in, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

static void add_finding(wsp_audit *a, wsp_audit_rule rule, const finding_in *in, const char *fmt,
                        ...)
{
    if (a->cfg->disabled[rule])
        return;
    a->sum.findings++;
    a->sum.per_rule[rule]++;
    rule_bucket *b = &a->rules[rule];
    if (a->cfg->max_findings && b->n >= a->cfg->max_findings)
        return;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16;
        wsp_audit_finding *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv) {
            a->oom = true;
            return;
        }
        b->v = nv;
        b->cap = nc;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wsp_audit_finding *f = &b->v[b->n];
    memset(f, 0, sizeof *f);
    bool oom = false;
    f->rule = rule;
    f->test = dup_or_null(in->test ? in->test : "", &oom);
    f->suite = dup_or_null(in->suite ? in->suite : "", &oom);
    f->file = dup_or_null(in->file ? in->file : "", &oom);
    f->line = in->line;
    f->time_us = in->time_us;
    f->limit_us = in->limit_us;
    f->median_us = in->median_us;
    f->runs = in->runs;
    f->expected = in->expected;
    f->actual = in->actual;
    f->glob = dup_or_null(in->glob, &oom);
    f->source = dup_or_null(in->source, &oom);
    f->pattern = dup_or_null(in->pattern, &oom);
    f->excerpt = dup_or_null(in->excerpt, &oom);
    f->requirement = dup_or_null(in->requirement, &oom);
    f->message = dup_or_null(msg, &oom);
    f->score = in->score;
    f->seq = a->seq++;
    if (oom) {
        finding_free(f);
        a->oom = true;
        return;
    }
    b->n++;
}

/* ---- property requirements ----------------------------------------------------------- */

static bool parse_number(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || !end || end == s)
        return false;
    while (*end == ' ')
        end++;
    if (*end)
        return false;
    *out = d;
    return true;
}

/* Whether value satisfies the requirement. */
static bool requirement_holds(const wsp_audit_requirement *r, const char *value)
{
    if (r->op == WSP_AUDIT_OP_PRESENT)
        return true;
    double x, y;
    bool num = parse_number(value, &x) && parse_number(r->value, &y);
    int c;
    if (num)
        c = x < y ? -1 : x > y ? 1 : 0;
    else if (r->op == WSP_AUDIT_OP_EQ || r->op == WSP_AUDIT_OP_NE)
        c = strcmp(value, r->value);
    else
        return false; /* an order needs numbers */
    switch (r->op) {
    case WSP_AUDIT_OP_PRESENT:
        return true;
    case WSP_AUDIT_OP_EQ:
        return c == 0;
    case WSP_AUDIT_OP_NE:
        return c != 0;
    case WSP_AUDIT_OP_GT:
        return c > 0;
    case WSP_AUDIT_OP_GE:
        return c >= 0;
    case WSP_AUDIT_OP_LT:
        return c < 0;
    case WSP_AUDIT_OP_LE:
        return c <= 0;
    }
    return false;
}

/* ---- judging one case ---------------------------------------------------------------- */

static void judge_passed(wsp_audit *a, const wsp_junit_case *c, test_entry *e, finding_in *fi)
{
    const wsp_audit_config *cfg = a->cfg;
    char t1[32], t2[32], t3[32];

    /* 4: swallowed error in its own output */
    if (c->pattern >= 0) {
        finding_in f = *fi;
        f.pattern = a->patterns[c->pattern];
        f.excerpt = c->excerpt;
        add_finding(a, WSP_AUDIT_SWALLOWED_ERROR, &f, "passed, but its output shows \"%s\": %s",
                    f.pattern, c->excerpt);
    }
    /* 4: assertions="0" */
    if (c->assertions == 0)
        add_finding(a, WSP_AUDIT_NO_ASSERTIONS, fi,
                    "passed with assertions=\"0\": it checked nothing");

    /* network tests */
    const char *net_glob = NULL;
    for (size_t i = 0; i < cfg->nnetwork; i++)
        if (glob_match(&a->network[i], c->id, c->name)) {
            net_glob = cfg->network[i];
            break;
        }
    if (net_glob)
        a->sum.network++;

    /* 1: the strictest floor the test matches */
    size_t fl = SIZE_MAX;
    for (size_t i = 0; i < cfg->nfloors; i++)
        if (glob_match(&a->floors[i], c->id, c->name) &&
            (fl == SIZE_MAX || cfg->floors[i].us > cfg->floors[fl].us))
            fl = i;

    if ((net_glob || fl != SIZE_MAX) && c->time_us < 0)
        a->sum.unknown_time++;
    if (net_glob && c->time_us >= 0) {
        unsigned b = 0;
        while (b + 1 < WSP_AUDIT_NET_BUCKETS &&
               (double)c->time_us / 1000.0 > wsp_audit_net_bucket_ms(b))
            b++;
        a->sum.net_hist[b]++;
        if (fl != SIZE_MAX && cfg->floors[fl].us > a->sum.net_floor_us)
            a->sum.net_floor_us = cfg->floors[fl].us;
    }

    /* 2: zero time */
    bool zero = false;
    if (net_glob && c->time_us == 0) {
        zero = true;
        finding_in f = *fi;
        f.glob = net_glob;
        f.score = 0;
        add_finding(a, WSP_AUDIT_ZERO_TIME, &f,
                    "passed in 0 s, yet it is a network test ('%s'): no exchange over a network "
                    "takes no time",
                    net_glob);
    }
    if (fl != SIZE_MAX && c->time_us >= 0 && (uint64_t)c->time_us < cfg->floors[fl].us && !zero) {
        const wsp_audit_floor *F = &cfg->floors[fl];
        finding_in f = *fi;
        f.glob = F->glob;
        f.source = F->source;
        f.limit_us = (int64_t)F->us;
        f.score = F->us ? (double)c->time_us / (double)F->us : 0;
        fmt_dur(t1, sizeof t1, c->time_us);
        fmt_dur(t2, sizeof t2, (int64_t)F->us);
        add_finding(a, WSP_AUDIT_FLOOR, &f,
                    "passed in %s, under the %s floor of '%s' (%s): a real exchange with the "
                    "endpoint takes longer",
                    t1, t2, F->glob, F->source);
    }

    /* 6: evidence */
    if (cfg->nreqs && (cfg->nnetwork == 0 || net_glob)) {
        for (size_t i = 0; i < cfg->nreqs; i++) {
            const wsp_audit_requirement *r = &cfg->reqs[i];
            const char *val = NULL;
            for (size_t k = 0; k < c->nprops; k++)
                if (strcmp(c->props[k].name, r->name) == 0) {
                    val = c->props[k].value;
                    break;
                }
            finding_in f = *fi;
            f.requirement = r->text;
            if (!val)
                add_finding(a, WSP_AUDIT_MISSING_EVIDENCE, &f,
                            "passed without the property '%s' (required: %s)", r->name, r->text);
            else if (!requirement_holds(r, val))
                add_finding(a, WSP_AUDIT_MISSING_EVIDENCE, &f,
                            "passed with %s=%s, which does not satisfy %s", r->name, val, r->text);
        }
    }

    /* 3: collapse against the baseline */
    if (e && e->base.n >= cfg->min_history && c->time_us >= 0 && e->median >= 0 &&
        (uint64_t)e->median >= cfg->collapse_min_us &&
        (double)c->time_us < (double)e->median * cfg->collapse_ratio) {
        finding_in f = *fi;
        f.median_us = e->median;
        f.limit_us = (int64_t)((double)e->median * cfg->collapse_ratio);
        f.runs = (long)e->base.n;
        f.score = (double)c->time_us / (double)e->median;
        fmt_dur(t1, sizeof t1, c->time_us);
        fmt_dur(t2, sizeof t2, e->median);
        fmt_dur(t3, sizeof t3, f.limit_us);
        add_finding(a, WSP_AUDIT_COLLAPSE, &f,
                    "passed in %s, under %s (%g x its median %s over %u earlier passes)", t1, t3,
                    cfg->collapse_ratio, t2, (unsigned)e->base.n);
    }
}

static int on_case(void *ctx, const wsp_junit_case *c)
{
    wsp_audit *a = ctx;
    const wsp_audit_config *cfg = a->cfg;
    a->file_cases++;
    for (size_t i = 0; i < cfg->nexclude; i++)
        if (glob_match(&a->exclude[i], c->id, c->name)) {
            a->sum.excluded++;
            return 0;
        }
    a->sum.cases++;

    finding_in fi;
    finding_in_init(&fi);
    fi.test = c->id;
    fi.suite = c->suite_path;
    fi.file = c->file;
    fi.line = c->line;
    fi.time_us = c->time_us;
    fi.score = 0;

    test_entry *e = NULL;
    if (a->tests.len || cfg->save_baseline) {
        e = smap_get(&a->tests, c->id);
        if (!e && cfg->save_baseline) {
            smap_slot *s = smap_upsert(&a->tests, c->id);
            if (!s || !(s->val = calloc(1, sizeof(test_entry)))) {
                a->oom = true;
                return -1;
            }
            e = s->val;
            e->median = -1;
            e->name_off = (uint32_t)(strlen(c->id) - strlen(c->name));
        }
        if (e)
            e->seen = true;
    }

    wsp_junit_outcome out = c->outcome;
    /* a pass after a failure of the same id in the same file: a rerun */
    long failed_line = 0;
    if ((out == WSP_JUNIT_PASSED && a->failed.len) || out == WSP_JUNIT_FAILED ||
        out == WSP_JUNIT_ERRORED) {
        uint64_t h = hash_str(c->id);
        if (out == WSP_JUNIT_PASSED) {
            failed_line = (long)hset_get(&a->failed, h);
        } else if (hset_add(&a->failed, h, c->line > UINT32_MAX ? UINT32_MAX : (uint32_t)c->line) <
                   0) {
            a->oom = true;
            return -1;
        }
    }

    /* 4: synthetic cases, whatever their outcome */
    int sp_i = ci_set_find(&a->synth_name, c->id);
    if (sp_i < 0 && c->message[0])
        sp_i = ci_set_find(&a->synth_msg, c->message);
    if (sp_i >= 0) {
        const synthetic_pattern *sp = &synthetic_patterns[sp_i];
        finding_in f = fi;
        f.pattern = sp->text;
        f.excerpt = c->message[0] ? c->message : NULL;
        add_finding(a, WSP_AUDIT_SYNTHETIC_CASE, &f,
                    "\"%s\" (%s%s%s): a placeholder the runner reports when the tests it "
                    "stands for did not run",
                    sp->text, wsp_junit_outcome_name(out), c->message[0] ? ": " : "", c->message);
    }

    /* 4: not run without <skipped> */
    const char *nr = NULL;
    if (!c->has_skipped && (c->status[0] || c->result[0])) {
        static const char *const notrun[] = {"notrun", "disabled", "suppressed"};
        for (size_t i = 0; i < 3 && !nr; i++) {
            if (strcasecmp(c->status, notrun[i]) == 0)
                nr = "status";
            else if (strcasecmp(c->result, notrun[i]) == 0)
                nr = "result";
        }
    }
    if (nr)
        add_finding(a, WSP_AUDIT_NOT_RUN, &fi,
                    "%s=\"%s\" without a <skipped> element: it did not run, and tools that read "
                    "only the elements count it as passed",
                    nr, strcmp(nr, "status") == 0 ? c->status : c->result);

    switch (out) {
    case WSP_JUNIT_PASSED:
        if (failed_line) {
            a->sum.flaky++;
            finding_in f = fi;
            f.expected = 1;
            add_finding(a, WSP_AUDIT_PASSED_ON_RETRY, &f,
                        "failed at line %ld of this report, then passed when run again: flaky, "
                        "not green",
                        failed_line);
            break;
        }
        a->sum.passed++;
        judge_passed(a, c, e, &fi);
        if (e && cfg->save_baseline && c->time_us >= 0)
            durs_push(&e->cur, c->time_us);
        break;
    case WSP_JUNIT_FLAKY: {
        a->sum.flaky++;
        finding_in f = fi;
        f.expected = (long)(c->flaky + c->reruns);
        add_finding(a, WSP_AUDIT_PASSED_ON_RETRY, &f,
                    "passed only after %u failed attempt%s (%s): flaky, not green",
                    c->flaky + c->reruns, c->flaky + c->reruns == 1 ? "" : "s",
                    c->flaky ? "flakyFailure/flakyError" : "rerunFailure/rerunError");
        break;
    }
    case WSP_JUNIT_FAILED:
        a->sum.failed++;
        break;
    case WSP_JUNIT_ERRORED:
        a->sum.errored++;
        break;
    case WSP_JUNIT_SKIPPED:
        a->sum.skipped++;
        break;
    }
    return a->oom ? -1 : 0;
}

static int on_suite(void *ctx, const wsp_junit_suite *s)
{
    wsp_audit *a = ctx;
    const wsp_audit_config *cfg = a->cfg;
    finding_in fi;
    finding_in_init(&fi);
    fi.file = s->file;
    fi.line = s->line;
    char label[1200];
    if (s->kind == WSP_JUNIT_SUITES)
        snprintf(label, sizeof label, "%s", s->name[0] ? s->name : "(testsuites)");
    else
        snprintf(label, sizeof label, "%s", s->path[0] ? s->path : "(unnamed suite)");
    fi.test = label;
    fi.suite = s->kind == WSP_JUNIT_SUITE ? s->path : "";

    /* 5: count mismatch */
    if (s->tests_attr >= 0 && s->tests_attr != s->cases) {
        finding_in f = fi;
        f.expected = s->tests_attr;
        f.actual = s->cases;
        f.score = -(double)labs(s->tests_attr - s->cases);
        add_finding(a, WSP_AUDIT_COUNT_MISMATCH, &f,
                    "tests=\"%ld\" but %ld test case%s in the report", s->tests_attr, s->cases,
                    s->cases == 1 ? "" : "s");
    }
    /* 5: an empty leaf suite */
    if (s->kind == WSP_JUNIT_SUITE && s->cases == 0 && s->child_suites == 0) {
        a->file_empty_suites++;
        add_finding(a, WSP_AUDIT_NO_TESTS, &fi, "suite without a single test case");
    }
    /* 3: suite collapse (leaf suites: those holding test cases directly) */
    if (s->kind == WSP_JUNIT_SUITE && s->direct_cases > 0 && s->child_suites == 0 &&
        a->suites.len) {
        int64_t total = s->time_us >= 0              ? s->time_us
                        : s->unknown_time_cases == 0 ? s->case_time_us
                                                     : -1;
        suite_entry *se = smap_get(&a->suites, s->path);
        if (se && total >= 0) {
            int64_t same[DUR_KEEP];
            size_t n = 0;
            for (uint32_t i = 0; i < se->n && n < DUR_KEEP; i++)
                if (se->runs[i].cases == s->cases)
                    same[n++] = se->runs[i].us;
            int64_t med = median_of(same, n);
            if (n >= 1 && med >= 0 && (uint64_t)med >= cfg->collapse_min_us &&
                (double)total < (double)med * cfg->collapse_ratio) {
                char t1[32], t2[32];
                finding_in f = fi;
                f.time_us = total;
                f.median_us = med;
                f.limit_us = (int64_t)((double)med * cfg->collapse_ratio);
                f.runs = (long)n;
                f.actual = s->cases;
                f.score = (double)total / (double)med;
                fmt_dur(t1, sizeof t1, total);
                fmt_dur(t2, sizeof t2, med);
                add_finding(a, WSP_AUDIT_SUITE_COLLAPSE, &f,
                            "took %s for %ld tests, under %g x its median %s over %zu earlier "
                            "run%s with the same %ld tests",
                            t1, s->cases, cfg->collapse_ratio, t2, n, n == 1 ? "" : "s", s->cases);
            }
        }
    }
    if (a->cfg->save_baseline && s->kind == WSP_JUNIT_SUITE && s->direct_cases > 0 &&
        s->child_suites == 0) {
        int64_t total = s->time_us >= 0              ? s->time_us
                        : s->unknown_time_cases == 0 ? s->case_time_us
                                                     : -1;
        if (total >= 0) {
            smap_slot *sl = smap_upsert(&a->suites, s->path);
            if (!sl || (!sl->val && !(sl->val = calloc(1, sizeof(suite_entry))))) {
                a->oom = true;
                return -1;
            }
            suite_entry *se = sl->val;
            if (se->ncur < 4)
                se->cur[se->ncur++] = (suite_run){s->cases, total};
        }
    }
    return a->oom ? -1 : 0;
}

/* ---- baselines ----------------------------------------------------------------------- */

static test_entry *base_entry(wsp_audit *a, const char *id, size_t name_len)
{
    smap_slot *s = smap_upsert(&a->tests, id);
    if (!s)
        return NULL;
    if (!s->val) {
        test_entry *e = calloc(1, sizeof *e);
        if (!e)
            return NULL;
        e->median = -1;
        size_t il = strlen(id);
        e->name_off = (uint32_t)(name_len <= il ? il - name_len : 0);
        s->val = e;
    }
    return s->val;
}

static int base_on_case(void *ctx, const wsp_junit_case *c)
{
    wsp_audit *a = ctx;
    test_entry *e = base_entry(a, c->id, strlen(c->name));
    if (!e) {
        a->oom = true;
        return -1;
    }
    e->in_baseline = true;
    e->base_seen++;
    if (c->outcome == WSP_JUNIT_PASSED && c->time_us >= 0)
        durs_push(&e->base, c->time_us);
    return 0;
}

static int suite_add_run(wsp_audit *a, const char *path, long cases, int64_t us)
{
    smap_slot *sl = smap_upsert(&a->suites, path);
    if (!sl || (!sl->val && !(sl->val = calloc(1, sizeof(suite_entry))))) {
        a->oom = true;
        return -1;
    }
    suite_entry *se = sl->val;
    if (se->n == DUR_KEEP) {
        memmove(se->runs, se->runs + 1, (DUR_KEEP - 1) * sizeof *se->runs);
        se->n--;
    }
    if (se->n == se->cap) {
        uint32_t nc = se->cap ? se->cap * 2 : 4;
        suite_run *nr = realloc(se->runs, nc * sizeof *nr);
        if (!nr) {
            a->oom = true;
            return -1;
        }
        se->runs = nr;
        se->cap = nc;
    }
    se->runs[se->n++] = (suite_run){cases, us};
    return 0;
}

static int base_on_suite(void *ctx, const wsp_junit_suite *s)
{
    wsp_audit *a = ctx;
    if (s->kind != WSP_JUNIT_SUITE || s->direct_cases == 0 || s->child_suites != 0)
        return 0;
    int64_t total = s->time_us >= 0              ? s->time_us
                    : s->unknown_time_cases == 0 ? s->case_time_us
                                                 : -1;
    if (total < 0)
        return 0;
    return suite_add_run(a, s->path, s->cases, total);
}

static void record_error(wsp_audit *a, const wsp_junit_error *e)
{
    a->sum.bad_files++;
    if (a->nerrors >= 1000)
        return;
    wsp_junit_error *ne = push((void **)&a->errors, &a->nerrors, sizeof *ne);
    if (!ne) {
        a->oom = true;
        return;
    }
    *ne = *e;
}

static void path_error(wsp_junit_error *err, const char *file, wsp_junit_rc rc, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

static void path_error(wsp_junit_error *err, const char *file, wsp_junit_rc rc, const char *fmt,
                       ...)
{
    memset(err, 0, sizeof *err);
    err->rc = rc;
    snprintf(err->file, sizeof err->file, "%s", file);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* A stored baseline: {"format": "wsprobe-audit-baseline", "version": 1,
 *  "tests": {"id": {"name": "bare name", "passes_us": [..], "seen": N}},
 *  "suites": {"path": [[cases, us], ...]}} */
static int load_store(wsp_audit *a, const char *path, wsp_junit_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        path_error(err, path, WSP_JUNIT_EMALFORMED, "not a readable baseline: %s", je.text);
        err->line = je.line > 0 ? (unsigned long)je.line : 0;
        return -1;
    }
    const char *fmt = json_string_value(json_object_get(root, "format"));
    json_t *tests = json_object_get(root, "tests");
    json_t *suites = json_object_get(root, "suites");
    if (!fmt || strcmp(fmt, "wsprobe-audit-baseline") != 0 || !json_is_object(tests)) {
        path_error(err, path, WSP_JUNIT_EMALFORMED,
                   "not a wsprobe audit baseline (want \"format\": \"wsprobe-audit-baseline\" "
                   "and a \"tests\" object)");
        json_decref(root);
        return -1;
    }
    const char *id;
    json_t *tv;
    json_object_foreach(tests, id, tv)
    {
        const char *nm = json_string_value(json_object_get(tv, "name"));
        test_entry *e = base_entry(a, id, nm ? strlen(nm) : strlen(id));
        if (!e) {
            json_decref(root);
            a->oom = true;
            path_error(err, path, WSP_JUNIT_ENOMEM, "out of memory");
            return -1;
        }
        e->in_baseline = true;
        json_int_t seen = json_integer_value(json_object_get(tv, "seen"));
        e->base_seen += seen > 0 ? (uint32_t)seen : 1;
        json_t *arr = json_object_get(tv, "passes_us");
        size_t i;
        json_t *d;
        json_array_foreach(arr, i, d)
        {
            if (json_is_integer(d) && json_integer_value(d) >= 0)
                durs_push(&e->base, (int64_t)json_integer_value(d));
        }
    }
    const char *sp;
    json_t *sv;
    json_object_foreach(suites, sp, sv)
    {
        size_t i;
        json_t *run;
        json_array_foreach(sv, i, run)
        {
            json_t *c = json_array_get(run, 0), *u = json_array_get(run, 1);
            if (json_is_integer(c) && json_is_integer(u) && json_integer_value(u) >= 0)
                suite_add_run(a, sp, (long)json_integer_value(c), (int64_t)json_integer_value(u));
        }
    }
    json_decref(root);
    a->sum.baseline_files++;
    return a->oom ? -1 : 0;
}

static bool has_suffix_ci(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

static bool is_report_name(const char *name)
{
    return has_suffix_ci(name, ".xml") || has_suffix_ci(name, ".xml.gz");
}

/* The folders a walk has listed, by device and inode: symbolic links may lead back into the
 * tree (three `ln -s .` would otherwise grow the walk without end), so each folder is listed
 * once whatever the path to it. */
#define WALK_DIRS_MAX 4096
typedef struct walk {
    struct {
        dev_t dev;
        ino_t ino;
    } seen[WALK_DIRS_MAX];
    size_t nseen;
} walk;

/* 1 when the folder is new (now recorded), 0 when seen, -1 past WALK_DIRS_MAX. */
static int walk_enter(walk *w, const struct stat *st)
{
    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
            return 0;
    if (w->nseen == WALK_DIRS_MAX)
        return -1;
    w->seen[w->nseen].dev = st->st_dev;
    w->seen[w->nseen].ino = st->st_ino;
    w->nseen++;
    return 1;
}

/* Files under a folder, sorted, recursively; reports (and .json stores when want_json). */
static int list_dir_in(walk *w, const char *dir, bool want_json, char ***out, size_t *n, int depth)
{
    struct stat dst;
    if (depth > 32 || stat(dir, &dst) != 0)
        return 0;
    int fresh = walk_enter(w, &dst);
    if (fresh <= 0)
        return fresh; /* seen already: nothing new under it; -1: too many folders */
    struct dirent **ents = NULL;
    int k = scandir(dir, &ents, NULL, alphasort);
    if (k < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < k; i++) {
        const char *nm = ents[i]->d_name;
        if (rc == 0 && nm[0] != '.') {
            size_t len = strlen(dir) + strlen(nm) + 2;
            char *full = malloc(len);
            if (!full) {
                rc = -1;
            } else {
                snprintf(full, len, "%s/%s", dir, nm);
                struct stat st;
                if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
                    if (list_dir_in(w, full, want_json, out, n, depth + 1) < 0)
                        rc = -1;
                    free(full);
                } else if (is_report_name(nm) || (want_json && has_suffix_ci(nm, ".json"))) {
                    char **slot = push((void **)out, n, sizeof(char *));
                    if (!slot) {
                        free(full);
                        rc = -1;
                    } else
                        *slot = full;
                } else {
                    free(full);
                }
            }
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

static int list_dir(const char *dir, bool want_json, char ***out, size_t *n)
{
    walk *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    int rc = list_dir_in(w, dir, want_json, out, n, 0);
    free(w);
    return rc;
}

/* '{' first: a stored baseline. */
static bool looks_like_json(const char *path)
{
    if (strcmp(path, "-") == 0)
        return false;
    int fd = wsp_file_open(NULL, path, NULL, NULL);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return false; /* the report reader says why */
    }
    int ch;
    while ((ch = fgetc(f)) != EOF && (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t'))
        ;
    fclose(f);
    return ch == '{';
}

static int load_one_baseline(wsp_audit *a, const char *path, wsp_junit_error *err)
{
    if (looks_like_json(path))
        return load_store(a, path, err);
    wsp_junit_options o = a->opt;
    o.on_case = base_on_case;
    o.on_suite = base_on_suite;
    o.patterns = NULL;
    o.npatterns = 0;
    wsp_junit_rc rc = wsp_junit_read_file(path, NULL, &o, NULL, err);
    if (rc != WSP_JUNIT_OK)
        return -1;
    a->sum.baseline_files++;
    return 0;
}

int wsp_audit_load_baselines(wsp_audit *a, wsp_junit_error *err)
{
    wsp_junit_error tmp;
    if (!err)
        err = &tmp;
    for (size_t i = 0; i < a->cfg->nbaselines; i++) {
        const char *p = a->cfg->baselines[i];
        struct stat st;
        if (stat(p, &st) != 0) {
            char eb[128];
            strerror_r(errno, eb, sizeof eb);
            path_error(err, p, WSP_JUNIT_EIO, "baseline: cannot open: %s", eb);
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            char **files = NULL;
            size_t n = 0;
            if (list_dir(p, true, &files, &n) < 0) {
                free_strv(files, n);
                path_error(err, p, WSP_JUNIT_EIO, "baseline: cannot list the folder");
                return -1;
            }
            if (n == 0) {
                path_error(err, p, WSP_JUNIT_EIO,
                           "baseline: no reports (*.xml, *.xml.gz) or stores (*.json) in the "
                           "folder");
                return -1;
            }
            int rc = 0;
            for (size_t k = 0; k < n && rc == 0; k++)
                rc = load_one_baseline(a, files[k], err);
            free_strv(files, n);
            if (rc < 0)
                return -1;
        } else if (load_one_baseline(a, p, err) < 0) {
            return -1;
        }
    }
    /* medians once, and the count of baseline tests */
    for (size_t i = 0; i < a->tests.cap; i++) {
        test_entry *e = a->tests.slots[i].val;
        if (a->tests.slots[i].key && e && e->in_baseline) {
            a->sum.baseline_tests++;
            e->median = median_of(e->base.v, e->base.n);
        }
    }
    return 0;
}

/* ---- the run ------------------------------------------------------------------------- */

wsp_audit *wsp_audit_new(const wsp_audit_config *cfg)
{
    wsp_audit *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = cfg;
    size_t ndef = 0;
    while (wsp_audit_default_patterns[ndef])
        ndef++;
    a->network = calloc(cfg->nnetwork + 1, sizeof *a->network);
    a->exclude = calloc(cfg->nexclude + 1, sizeof *a->exclude);
    a->floors = calloc(cfg->nfloors + 1, sizeof *a->floors);
    a->patterns = calloc(ndef + cfg->npatterns + 1, sizeof *a->patterns);
    if (!a->network || !a->exclude || !a->floors || !a->patterns) {
        wsp_audit_free(a);
        return NULL;
    }
    for (size_t i = 0; i < cfg->nnetwork; i++)
        glob_init(&a->network[i], cfg->network[i]);
    for (size_t i = 0; i < cfg->nexclude; i++)
        glob_init(&a->exclude[i], cfg->exclude[i]);
    for (size_t i = 0; i < cfg->nfloors; i++)
        glob_init(&a->floors[i], cfg->floors[i].glob);
    /* user patterns first: they are what the user is looking for */
    for (size_t i = 0; i < cfg->npatterns; i++)
        a->patterns[a->npatterns++] = cfg->patterns[i];
    for (size_t i = 0; i < ndef; i++)
        a->patterns[a->npatterns++] = wsp_audit_default_patterns[i];
    if (a->npatterns > 64)
        a->npatterns = 64; /* the reader's limit */
    for (size_t i = 0; i < sizeof synthetic_patterns / sizeof synthetic_patterns[0]; i++) {
        if (synthetic_patterns[i].name)
            ci_set_add(&a->synth_name, synthetic_patterns[i].text, (int)i);
        if (synthetic_patterns[i].message)
            ci_set_add(&a->synth_msg, synthetic_patterns[i].text, (int)i);
    }
    ci_set_build(&a->synth_name);
    ci_set_build(&a->synth_msg);
    a->opt.patterns = a->patterns;
    a->opt.npatterns = a->npatterns;
    a->opt.max_bytes = cfg->max_report_bytes;
    a->opt.ctx = a;
    a->opt.on_case = on_case;
    a->opt.on_suite = on_suite;
    return a;
}

void wsp_audit_free(wsp_audit *a)
{
    if (!a)
        return;
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++) {
        for (size_t i = 0; i < a->rules[r].n; i++)
            finding_free(&a->rules[r].v[i]);
        free(a->rules[r].v);
    }
    free(a->sorted);
    smap_clear(&a->tests, test_entry_free);
    smap_clear(&a->suites, suite_entry_free);
    hset_clear(&a->failed);
    free(a->errors);
    free(a->network);
    free(a->exclude);
    free(a->floors);
    free(a->patterns);
    free(a);
}

static void file_begin(wsp_audit *a)
{
    hset_clear(&a->failed);
    a->file_cases = 0;
    a->file_empty_suites = 0;
}

static int file_end(wsp_audit *a, wsp_junit_rc rc, const wsp_junit_error *err,
                    const wsp_junit_stats *st, const char *name)
{
    hset_clear(&a->failed);
    a->sum.bytes += st->bytes;
    if (rc != WSP_JUNIT_OK) {
        record_error(a, err);
        return 1;
    }
    a->sum.files++;
    if (a->file_cases == 0 && a->file_empty_suites == 0) {
        finding_in fi;
        finding_in_init(&fi);
        fi.test = name;
        fi.file = name;
        fi.line = 1;
        add_finding(a, WSP_AUDIT_NO_TESTS, &fi, "report without a single test case");
    }
    return 0;
}

static int add_file(wsp_audit *a, const char *path)
{
    wsp_junit_error err;
    wsp_junit_stats st;
    file_begin(a);
    wsp_junit_rc rc = wsp_junit_read_file(path, NULL, &a->opt, &st, &err);
    if (rc == WSP_JUNIT_EABORTED && a->oom)
        return -1;
    return file_end(a, rc, &err, &st, path);
}

int wsp_audit_add_memory(wsp_audit *a, const char *name, const char *buf, size_t len)
{
    wsp_junit_error err;
    wsp_junit_stats st;
    file_begin(a);
    wsp_junit_rc rc = wsp_junit_read_memory(buf, len, name, &a->opt, &st, &err);
    if (rc == WSP_JUNIT_EABORTED && a->oom)
        return -1;
    return file_end(a, rc, &err, &st, name);
}

int wsp_audit_add_path(wsp_audit *a, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        char **files = NULL;
        size_t n = 0;
        wsp_junit_error err;
        if (list_dir(path, false, &files, &n) < 0) {
            free_strv(files, n);
            path_error(&err, path, WSP_JUNIT_EIO, "cannot list the folder");
            record_error(a, &err);
            return 1;
        }
        if (n == 0) {
            path_error(&err, path, WSP_JUNIT_EIO, "no reports (*.xml, *.xml.gz) in the folder");
            record_error(a, &err);
            return 1;
        }
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            int r = add_file(a, files[i]);
            if (r < 0) {
                free_strv(files, n);
                return -1;
            }
            bad += r;
        }
        free_strv(files, n);
        return bad;
    }
    return add_file(a, path);
}

static int cmp_slot_key(const void *x, const void *y)
{
    const smap_slot *a = *(const smap_slot *const *)x, *b = *(const smap_slot *const *)y;
    return strcmp(a->key, b->key);
}

static int cmp_finding(const void *x, const void *y)
{
    const wsp_audit_finding *a = x, *b = y;
    if (a->score < b->score)
        return -1;
    if (a->score > b->score)
        return 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void wsp_audit_finish(wsp_audit *a)
{
    if (a->finished)
        return;
    a->finished = true;
    /* 5: vanished baseline tests, in id order */
    if (!a->cfg->disabled[WSP_AUDIT_VANISHED] && a->tests.len) {
        const smap_slot **ids = malloc(a->tests.len * sizeof *ids);
        size_t n = 0;
        if (!ids) {
            a->oom = true;
        } else {
            for (size_t i = 0; i < a->tests.cap; i++) {
                const test_entry *e = a->tests.slots[i].val;
                if (!a->tests.slots[i].key || !e || !e->in_baseline || e->seen)
                    continue;
                ids[n++] = &a->tests.slots[i];
            }
            if (n > 1)
                qsort(ids, n, sizeof *ids, cmp_slot_key);
            for (size_t k = 0; k < n; k++) {
                const test_entry *e = ids[k]->val;
                const char *id = ids[k]->key;
                const char *name = id + e->name_off;
                bool excluded = false;
                for (size_t g = 0; g < a->cfg->nexclude && !excluded; g++)
                    excluded = glob_match(&a->exclude[g], id, name);
                if (excluded)
                    continue;
                finding_in fi;
                finding_in_init(&fi);
                fi.test = id;
                fi.runs = (long)e->base_seen;
                add_finding(a, WSP_AUDIT_VANISHED, &fi,
                            "was in the baseline (%u time%s, %u pass%s with a time), and is in "
                            "none of these reports",
                            e->base_seen, e->base_seen == 1 ? "" : "s", (unsigned)e->base.n,
                            e->base.n == 1 ? "" : "es");
            }
            free(ids);
        }
    }
    size_t total = 0;
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++) {
        if (a->rules[r].n > 1)
            qsort(a->rules[r].v, a->rules[r].n, sizeof *a->rules[r].v, cmp_finding);
        total += a->rules[r].n;
    }
    a->sorted = malloc((total ? total : 1) * sizeof *a->sorted);
    if (!a->sorted) {
        a->oom = true;
        return;
    }
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++)
        for (size_t i = 0; i < a->rules[r].n; i++)
            a->sorted[a->nsorted++] = &a->rules[r].v[i];
}

const wsp_audit_summary *wsp_audit_get_summary(const wsp_audit *a)
{
    return &a->sum;
}

size_t wsp_audit_finding_count(const wsp_audit *a)
{
    return a->nsorted;
}

const wsp_audit_finding *wsp_audit_finding_at(const wsp_audit *a, size_t i)
{
    return i < a->nsorted ? a->sorted[i] : NULL;
}

size_t wsp_audit_error_count(const wsp_audit *a)
{
    return a->nerrors;
}

const wsp_junit_error *wsp_audit_error_at(const wsp_audit *a, size_t i)
{
    return i < a->nerrors ? &a->errors[i] : NULL;
}

int wsp_audit_exit_code(const wsp_audit *a)
{
    if (a->oom)
        return 70; /* INTERNAL */
    if (a->sum.bad_files)
        return 2;
    return a->sum.findings ? 1 : 0;
}

/* ---- human report -------------------------------------------------------------------- */

static void fmt_bytes(char *out, size_t outlen, uint64_t b)
{
    if (b < 1024)
        snprintf(out, outlen, "%llu B", (unsigned long long)b);
    else if (b < (1ull << 20))
        snprintf(out, outlen, "%.1f KiB", (double)b / 1024.0);
    else if (b < (1ull << 30))
        snprintf(out, outlen, "%.1f MiB", (double)b / 1048576.0);
    else
        snprintf(out, outlen, "%.2f GiB", (double)b / 1073741824.0);
}

int wsp_audit_write_human(const wsp_audit *a, FILE *f, bool color)
{
    const wsp_audit_summary *s = &a->sum;
    const char *B = color ? "\033[1m" : "", *R = color ? "\033[31m" : "",
               *Y = color ? "\033[33m" : "", *G = color ? "\033[32m" : "",
               *D = color ? "\033[2m" : "", *N = color ? "\033[0m" : "";
    char b1[32];
    fmt_bytes(b1, sizeof b1, s->bytes);
    fprintf(f,
            "%swsprobe audit%s: %llu report%s (%s), %llu tests: %llu passed, %llu failed, "
            "%llu error%s, %llu skipped, %llu passed on retry",
            B, N, (unsigned long long)s->files, s->files == 1 ? "" : "s", b1,
            (unsigned long long)s->cases, (unsigned long long)s->passed,
            (unsigned long long)s->failed, (unsigned long long)s->errored,
            s->errored == 1 ? "" : "s", (unsigned long long)s->skipped,
            (unsigned long long)s->flaky);
    if (s->excluded)
        fprintf(f, ", %llu excluded", (unsigned long long)s->excluded);
    fputc('\n', f);
    if (a->cfg->nbaselines)
        fprintf(f, "baseline: %llu report%s or store%s, %llu tests\n",
                (unsigned long long)s->baseline_files, s->baseline_files == 1 ? "" : "s",
                s->baseline_files == 1 ? "" : "s", (unsigned long long)s->baseline_tests);

    size_t i = 0;
    while (i < a->nsorted) {
        wsp_audit_rule r = a->sorted[i]->rule;
        size_t j = i;
        while (j < a->nsorted && a->sorted[j]->rule == r)
            j++;
        const char *col = r < WSP_AUDIT_PASSED_ON_RETRY ? R : Y;
        uint64_t total = s->per_rule[r];
        fprintf(f, "\n%s%s%s%s (rule %d): %llu finding%s - %s\n", B, col, wsp_audit_rule_name(r), N,
                wsp_audit_rule_group(r), (unsigned long long)total, total == 1 ? "" : "s",
                wsp_audit_rule_why(r));
        size_t shown = 0;
        for (size_t k = i; k < j; k++) {
            if (a->cfg->show && shown >= a->cfg->show)
                break;
            const wsp_audit_finding *fd = a->sorted[k];
            fprintf(f, "  %s%s%s", B, fd->test, N);
            if (fd->file[0]) {
                if (fd->line)
                    fprintf(f, "  %s%s:%lu%s", D, fd->file, fd->line, N);
                else
                    fprintf(f, "  %s%s%s", D, fd->file, N);
            }
            fprintf(f, "\n      %s\n", fd->message);
            shown++;
        }
        if (total > shown)
            fprintf(f, "  ... and %llu more%s\n", (unsigned long long)(total - shown),
                    total > (uint64_t)(j - i) ? " (some not kept: --max-findings)"
                                              : " (--show 0 or --json for all)");
        i = j;
    }
    if (a->nerrors) {
        fprintf(f, "\n%s%sbad input%s: %llu report%s could not be read\n", B, R, N,
                (unsigned long long)s->bad_files, s->bad_files == 1 ? "" : "s");
        for (size_t k = 0; k < a->nerrors; k++) {
            const wsp_junit_error *e = &a->errors[k];
            if (e->line)
                fprintf(f, "  %s:%lu: %s: %s\n", e->file, e->line, wsp_junit_rc_name(e->rc),
                        e->msg);
            else
                fprintf(f, "  %s: %s: %s\n", e->file, wsp_junit_rc_name(e->rc), e->msg);
        }
    }
    /* notes on what could not be checked */
    if (a->cfg->nnetwork == 0 && a->cfg->nfloors == 0)
        fprintf(f,
                "\n%snote: no --network-tests or --floor given: the floor and zero-time rules "
                "had nothing to check%s\n",
                D, N);
    else if (a->cfg->nnetwork && s->network == 0 && s->passed)
        fprintf(f, "\n%snote: --network-tests matched none of the %llu passes%s\n", D,
                (unsigned long long)s->passed, N);
    if (s->unknown_time)
        fprintf(f, "%snote: %llu network or floor test%s had no time= and could not be timed%s\n",
                D, (unsigned long long)s->unknown_time, s->unknown_time == 1 ? "" : "s", N);

    int code = wsp_audit_exit_code(a);
    unsigned rules_hit = 0;
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++)
        rules_hit += s->per_rule[r] != 0;
    fputc('\n', f);
    if (code == 0)
        fprintf(f, "%s%sverdict: clean%s: no hollow tests found (exit 0)\n", B, G, N);
    else if (code == 1)
        fprintf(f, "%s%sverdict: %llu finding%s in %u rule%s%s (exit 1)\n", B, R,
                (unsigned long long)s->findings, s->findings == 1 ? "" : "s", rules_hit,
                rules_hit == 1 ? "" : "s", N);
    else if (code == 2)
        fprintf(f,
                "%s%sverdict: bad input%s: %llu unreadable report%s, %llu finding%s in the "
                "rest (exit 2)\n",
                B, R, N, (unsigned long long)s->bad_files, s->bad_files == 1 ? "" : "s",
                (unsigned long long)s->findings, s->findings == 1 ? "" : "s");
    else
        fprintf(f, "%s%sverdict: internal error%s: out of memory (exit %d)\n", B, R, N, code);
    return ferror(f) ? -1 : 0;
}

/* ---- text that may not be UTF-8 (file names, libxml2 messages quoting bad input) ---- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return n;
}

/* A JSON string; invalid UTF-8 bytes become '?'. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i);
        if (k == 0) {
            c[o++] = '?';
            i++;
        } else {
            memcpy(c + o, u + i, k);
            o += k;
            i += k;
        }
    }
    c[o] = '\0';
    j = json_string(c);
    free(c);
    return j;
}

/* ---- JSON ---------------------------------------------------------------------------- */

static json_t *ms(int64_t us)
{
    return json_real((double)us / 1000.0);
}

static json_t *finding_json(const wsp_audit_finding *fd)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "rule", json_string(wsp_audit_rule_name(fd->rule)));
    json_object_set_new(o, "group", json_integer(wsp_audit_rule_group(fd->rule)));
    json_object_set_new(o, "test", jstr(fd->test));
    if (fd->suite[0])
        json_object_set_new(o, "suite", jstr(fd->suite));
    if (fd->file[0])
        json_object_set_new(o, "file", jstr(fd->file));
    if (fd->line)
        json_object_set_new(o, "line", json_integer((json_int_t)fd->line));
    if (fd->time_us >= 0)
        json_object_set_new(o, "time_ms", ms(fd->time_us));
    if (fd->limit_us >= 0)
        json_object_set_new(o, fd->rule == WSP_AUDIT_FLOOR ? "floor_ms" : "limit_ms",
                            ms(fd->limit_us));
    if (fd->median_us >= 0)
        json_object_set_new(o, "median_ms", ms(fd->median_us));
    if (fd->runs >= 0)
        json_object_set_new(o, fd->rule == WSP_AUDIT_VANISHED ? "baseline_seen" : "runs",
                            json_integer(fd->runs));
    if (fd->expected >= 0)
        json_object_set_new(o,
                            fd->rule == WSP_AUDIT_PASSED_ON_RETRY ? "failed_attempts" : "expected",
                            json_integer(fd->expected));
    if (fd->actual >= 0)
        json_object_set_new(o, fd->rule == WSP_AUDIT_SUITE_COLLAPSE ? "tests" : "actual",
                            json_integer(fd->actual));
    if (fd->glob)
        json_object_set_new(o, "glob", jstr(fd->glob));
    if (fd->source)
        json_object_set_new(o, "source", jstr(fd->source));
    if (fd->pattern)
        json_object_set_new(o, "pattern", jstr(fd->pattern));
    if (fd->excerpt)
        json_object_set_new(o, "excerpt", jstr(fd->excerpt));
    if (fd->requirement)
        json_object_set_new(o, "requirement", jstr(fd->requirement));
    json_object_set_new(o, "message", jstr(fd->message));
    return o;
}

double wsp_audit_net_bucket_ms(unsigned i)
{
    static const double mant[] = {1, 2, 5};
    return mant[i % 3] * pow(10, (double)(i / 3) - 2);
}

int wsp_audit_write_json(const wsp_audit *a, FILE *f)
{
    const wsp_audit_summary *s = &a->sum;
    int code = wsp_audit_exit_code(a);
    json_t *root = json_object();
    if (!root)
        return -1;
    json_object_set_new(root, "command", json_string("audit"));
    json_object_set_new(root, "ok", json_boolean(code == 0));
    json_object_set_new(root, "exit_code", json_integer(code));
    json_t *sum = json_object();
    json_object_set_new(sum, "reports", json_integer((json_int_t)s->files));
    json_object_set_new(sum, "bad_reports", json_integer((json_int_t)s->bad_files));
    json_object_set_new(sum, "bytes", json_integer((json_int_t)s->bytes));
    json_object_set_new(sum, "tests", json_integer((json_int_t)s->cases));
    json_object_set_new(sum, "passed", json_integer((json_int_t)s->passed));
    json_object_set_new(sum, "failed", json_integer((json_int_t)s->failed));
    json_object_set_new(sum, "errors", json_integer((json_int_t)s->errored));
    json_object_set_new(sum, "skipped", json_integer((json_int_t)s->skipped));
    json_object_set_new(sum, "passed_on_retry", json_integer((json_int_t)s->flaky));
    json_object_set_new(sum, "excluded", json_integer((json_int_t)s->excluded));
    json_object_set_new(sum, "network_passes", json_integer((json_int_t)s->network));
    json_object_set_new(sum, "unknown_time", json_integer((json_int_t)s->unknown_time));
    json_object_set_new(sum, "findings", json_integer((json_int_t)s->findings));
    json_object_set_new(sum, "baseline_reports", json_integer((json_int_t)s->baseline_files));
    json_object_set_new(sum, "baseline_tests", json_integer((json_int_t)s->baseline_tests));
    json_object_set_new(root, "summary", sum);
    json_t *rules = json_object();
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++) {
        json_t *ro = json_object();
        json_object_set_new(ro, "group", json_integer(wsp_audit_rule_group((wsp_audit_rule)r)));
        json_object_set_new(ro, "enabled", json_boolean(!a->cfg->disabled[r]));
        json_object_set_new(ro, "findings", json_integer((json_int_t)s->per_rule[r]));
        json_object_set_new(ro, "kept", json_integer((json_int_t)a->rules[r].n));
        json_object_set_new(ro, "why", json_string(wsp_audit_rule_why((wsp_audit_rule)r)));
        json_object_set_new(rules, wsp_audit_rule_name((wsp_audit_rule)r), ro);
    }
    json_object_set_new(root, "rules", rules);
    json_t *errs = json_array();
    for (size_t i = 0; i < a->nerrors; i++) {
        const wsp_junit_error *e = &a->errors[i];
        json_t *eo = json_object();
        json_object_set_new(eo, "file", jstr(e->file));
        if (e->line)
            json_object_set_new(eo, "line", json_integer((json_int_t)e->line));
        json_object_set_new(eo, "error", json_string(wsp_junit_rc_name(e->rc)));
        json_object_set_new(eo, "message", jstr(e->msg));
        json_array_append_new(errs, eo);
    }
    json_object_set_new(root, "errors", errs);
    if (s->network) { /* the network tests' passes by duration, for the HTML report's plot */
        json_t *up = json_array(), *cn = json_array();
        for (unsigned b = 0; b < WSP_AUDIT_NET_BUCKETS; b++) {
            json_array_append_new(up, json_real(wsp_audit_net_bucket_ms(b)));
            json_array_append_new(cn, json_integer((json_int_t)s->net_hist[b]));
        }
        json_object_set_new(
            root, "network_durations",
            json_pack("{s:o,s:o,s:o}", "upper_ms", up, "counts", cn, "floor_ms",
                      s->net_floor_us ? json_real((double)s->net_floor_us / 1e3) : json_null()));
    }
    /* the envelope every JSON report carries (report.h), and the one redactor */
    root = wsp_report_envelope(root, "audit");
    if (!root)
        return -1;
    wsp_redact_json(root);
    /* The head (everything but the findings) as one document, then the findings one per line,
     * so that memory does not hold a JSON tree of every finding at once. */
    char *head = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!head)
        return -1;
    size_t hl = strlen(head);
    while (hl && head[hl - 1] != '}')
        hl--;
    if (hl)
        hl--; /* drop the closing brace */
    while (hl && (head[hl - 1] == '\n' || head[hl - 1] == ' '))
        hl--;
    fwrite(head, 1, hl, f);
    free(head);
    fputs(",\n  \"findings\": [", f);
    for (size_t i = 0; i < a->nsorted; i++) {
        json_t *fo = finding_json(a->sorted[i]);
        char *line =
            fo ? json_dumps(fo, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))
               : NULL;
        json_decref(fo);
        if (!line)
            return -1;
        fprintf(f, "%s\n    %s", i ? "," : "", line);
        free(line);
    }
    fputs(a->nsorted ? "\n  ]\n}\n" : "]\n}\n", f);
    return ferror(f) ? -1 : 0;
}

/* ---- JUnit --------------------------------------------------------------------------- */

int wsp_audit_write_junit(const wsp_audit *a, FILE *f)
{
    const wsp_audit_summary *s = &a->sum;
    size_t passing_rules = 0;
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++)
        if (!a->cfg->disabled[r] && s->per_rule[r] == 0)
            passing_rules++;
    size_t tests = a->nsorted + passing_rules + a->nerrors;
    wsp_xmlw w;
    wsp_xmlw_begin(&w, f);
    wsp_xmlw_suite(&w, "testsuites", "wsprobe audit", tests, a->nsorted, a->nerrors);
    wsp_xmlw_suite(&w, "testsuite", "wsprobe audit", tests, a->nsorted, a->nerrors);
    wsp_xmlw_attr(&w, "skipped", "0");
    wsp_xmlw_attr(&w, "time", "0");
    for (size_t i = 0; i < a->nsorted; i++) {
        const wsp_audit_finding *fd = a->sorted[i];
        wsp_xmlw_start(&w, "testcase");
        wsp_xmlw_attrf(&w, "classname", "wsprobe.audit.%s", wsp_audit_rule_name(fd->rule));
        wsp_xmlw_attr(&w, "name", fd->test);
        wsp_xmlw_attr(&w, "time", "0");
        wsp_xmlw_start(&w, "failure");
        wsp_xmlw_attr(&w, "type", wsp_audit_rule_name(fd->rule));
        wsp_xmlw_attr(&w, "message", fd->message);
        wsp_xmlw_text(&w, wsp_audit_rule_why(fd->rule));
        if (fd->file[0]) {
            char where[40];
            wsp_xmlw_text(&w, "\n");
            wsp_xmlw_text(&w, fd->file);
            if (fd->line) {
                snprintf(where, sizeof where, ":%lu", fd->line);
                wsp_xmlw_text(&w, where);
            }
        }
        wsp_xmlw_end(&w);
        wsp_xmlw_end(&w);
    }
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++)
        if (!a->cfg->disabled[r] && s->per_rule[r] == 0) {
            wsp_xmlw_start(&w, "testcase");
            wsp_xmlw_attr(&w, "classname", "wsprobe.audit");
            wsp_xmlw_attr(&w, "name", wsp_audit_rule_name((wsp_audit_rule)r));
            wsp_xmlw_attr(&w, "time", "0");
            wsp_xmlw_end(&w);
        }
    for (size_t i = 0; i < a->nerrors; i++) {
        const wsp_junit_error *e = &a->errors[i];
        char m[700];
        if (e->line)
            snprintf(m, sizeof m, "line %lu: %s", e->line, e->msg);
        else
            snprintf(m, sizeof m, "%s", e->msg);
        wsp_xmlw_start(&w, "testcase");
        wsp_xmlw_attr(&w, "classname", "wsprobe.audit.input");
        wsp_xmlw_attr(&w, "name", e->file);
        wsp_xmlw_attr(&w, "time", "0");
        wsp_xmlw_start(&w, "error");
        wsp_xmlw_attr(&w, "type", wsp_junit_rc_name(e->rc));
        wsp_xmlw_attr(&w, "message", m);
        wsp_xmlw_end(&w);
        wsp_xmlw_end(&w);
    }
    return wsp_xmlw_finish(&w);
}

/* ---- baseline store ------------------------------------------------------------------ */

int wsp_audit_save_baseline(const wsp_audit *a, const char *path, wsp_err *err)
{
    json_t *root = json_object(), *tests = json_object(), *suites = json_object();
    if (!root || !tests || !suites) {
        json_decref(root);
        json_decref(tests);
        json_decref(suites);
        wsp_err_set(err, WSP_CLASS_USAGE, "out of memory");
        return -1;
    }
    json_object_set_new(root, "format", json_string("wsprobe-audit-baseline"));
    json_object_set_new(root, "version", json_integer(1));
    for (size_t i = 0; i < a->tests.cap; i++) {
        const smap_slot *sl = &a->tests.slots[i];
        const test_entry *e = sl->val;
        if (!sl->key || !e || (!e->in_baseline && !e->seen))
            continue;
        json_t *to = json_object(), *pa = json_array();
        /* the most recent DUR_KEEP: baseline first, then this run */
        size_t total = (size_t)e->base.n + e->cur.n;
        size_t skip = total > DUR_KEEP ? total - DUR_KEEP : 0;
        for (size_t k = 0; k < total; k++) {
            if (k < skip)
                continue;
            int64_t v = k < e->base.n ? e->base.v[k] : e->cur.v[k - e->base.n];
            json_array_append_new(pa, json_integer((json_int_t)v));
        }
        json_object_set_new(to, "name", json_string(sl->key + e->name_off));
        json_object_set_new(to, "seen", json_integer((json_int_t)e->base_seen + (e->seen ? 1 : 0)));
        json_object_set_new(to, "passes_us", pa);
        json_object_set_new(tests, sl->key, to);
    }
    for (size_t i = 0; i < a->suites.cap; i++) {
        const smap_slot *sl = &a->suites.slots[i];
        const suite_entry *se = sl->val;
        if (!sl->key || !se)
            continue;
        json_t *runs = json_array();
        size_t total = (size_t)se->n + se->ncur;
        size_t skip = total > DUR_KEEP ? total - DUR_KEEP : 0;
        for (size_t k = skip; k < total; k++) {
            const suite_run *r = k < se->n ? &se->runs[k] : &se->cur[k - se->n];
            json_t *pair = json_array();
            json_array_append_new(pair, json_integer(r->cases));
            json_array_append_new(pair, json_integer((json_int_t)r->us));
            json_array_append_new(runs, pair);
        }
        json_object_set_new(suites, sl->key, runs);
    }
    json_object_set_new(root, "tests", tests);
    json_object_set_new(root, "suites", suites);
    /* a regular file through a temporary one renamed over it (a crash never leaves half a
     * baseline); a device or FIFO in place */
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    if (!text)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    int rc = wsp_file_write("--save-baseline", path, text, strlen(text), err);
    free(text);
    return rc;
}
