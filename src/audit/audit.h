/* audit.h - hollow-test rules over JUnit XML reports (`wsprobe audit`).
 *
 * Reports stream through junit.h; each test case is judged as it closes and only what the rules
 * need is kept: the findings (capped per rule), the open suites, hashes of the last few thousand
 * ids that failed in the same file (to spot a pass on retry), and, when a baseline is given, its
 * test ids with their earlier durations. Memory does not grow with the report unless
 * --save-baseline asks to keep the current durations.
 *
 * Test names: a test's id is "classname.name" (name alone when classname is empty or equal to
 * name, as ctest and jest-junit write them). Every GLOB is matched with fnmatch(3), flags 0 (so
 * '*' also matches '.' and '/'), against the id and against the bare name: either matching is a
 * match.
 *
 * The rules, worst first (the order of the enum is the order of the reports):
 *   swallowed-error   a pass whose own system-out/system-err shows an error it swallowed
 *   floor             a pass faster than the floor of a glob it matches (--floor, probe)
 *   zero-time         a network test (--network-tests) that passed in exactly 0 s
 *   synthetic-case    a case a runner made up: suite failed to run, no test result found...
 *   collapse          a pass under collapse_ratio of its median over >= min_history passes
 *   suite-collapse    a suite whose total dropped under collapse_ratio of its median with the
 *                     same test count
 *   missing-evidence  a pass without a required property (--require-property)
 *   passed-on-retry   a test that passed only when rerun: reported apart, never green
 *   not-run           status notrun/disabled/suppressed without a <skipped> element
 *   no-assertions     a pass with assertions="0"
 *   vanished          a baseline test that is not in the reports any more
 *   no-tests          a suite or report without a single test case
 *   count-mismatch    a suite whose tests= disagrees with its test cases
 */
#ifndef WSP_AUDIT_H
#define WSP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/junit.h"
#include "util/error.h"

typedef enum wsp_audit_rule {
    WSP_AUDIT_SWALLOWED_ERROR,
    WSP_AUDIT_FLOOR,
    WSP_AUDIT_ZERO_TIME,
    WSP_AUDIT_SYNTHETIC_CASE,
    WSP_AUDIT_COLLAPSE,
    WSP_AUDIT_SUITE_COLLAPSE,
    WSP_AUDIT_MISSING_EVIDENCE,
    WSP_AUDIT_PASSED_ON_RETRY,
    WSP_AUDIT_NOT_RUN,
    WSP_AUDIT_NO_ASSERTIONS,
    WSP_AUDIT_VANISHED,
    WSP_AUDIT_NO_TESTS,
    WSP_AUDIT_COUNT_MISMATCH,
} wsp_audit_rule;

#define WSP_AUDIT_RULE_COUNT 13

/* Stable name ("floor", "zero-time", ...), and the one-line reason a finding of it is suspect. */
const char *wsp_audit_rule_name(wsp_audit_rule r);
const char *wsp_audit_rule_why(wsp_audit_rule r);
/* The rule numbered as in the issue: 1 floor, 2 zero-time, 3 collapse, 4 skip in disguise,
 * 5 vacuous or vanished, 6 evidence. */
int wsp_audit_rule_group(wsp_audit_rule r);
/* Rule by name, or -1. */
int wsp_audit_rule_from_name(const char *name);

/* ---- configuration ---- */

typedef struct wsp_audit_floor {
    char *glob;
    uint64_t us;
    char *source; /* how it was set: "--floor", "config", "probe ws://..." */
} wsp_audit_floor;

typedef enum wsp_audit_op {
    WSP_AUDIT_OP_PRESENT, /* NAME alone: the property exists (any value) */
    WSP_AUDIT_OP_EQ,
    WSP_AUDIT_OP_NE,
    WSP_AUDIT_OP_GT,
    WSP_AUDIT_OP_GE,
    WSP_AUDIT_OP_LT,
    WSP_AUDIT_OP_LE,
} wsp_audit_op;

typedef struct wsp_audit_requirement {
    char *text; /* as written: "ws.bytes_rx>0" */
    char *name;
    wsp_audit_op op;
    char *value; /* compared as numbers when both sides are numbers, else as strings */
} wsp_audit_requirement;

/* A --floor-from-probe that the command line resolves into a floor before the run. */
typedef struct wsp_audit_probe_floor {
    char *glob; /* NULL: every --network-tests glob */
    char *url;
} wsp_audit_probe_floor;

/* Everything the audit can be told, by flags or a YAML file. Caller-owned storage:
 * wsp_audit_config_init, the adders (they copy their arguments), wsp_audit_config_cleanup. */
typedef struct wsp_audit_config {
    wsp_audit_floor *floors;
    size_t nfloors;
    char **network;
    size_t nnetwork;
    char **exclude;
    size_t nexclude;
    char **baselines;
    size_t nbaselines;
    wsp_audit_requirement *reqs;
    size_t nreqs;
    char **patterns; /* added to the built-in swallowed-error patterns */
    size_t npatterns;
    wsp_audit_probe_floor *probes;
    size_t nprobes;
    bool disabled[WSP_AUDIT_RULE_COUNT];
    unsigned min_history;      /* collapse: earlier passes needed (5) */
    double collapse_ratio;     /* collapse: fraction of the median (0.1) */
    uint64_t collapse_min_us;  /* collapse: ignore medians below this (1000 us) */
    size_t max_findings;       /* kept per rule, the rest only counted (1000; 0 = no cap) */
    uint64_t max_report_bytes; /* per report (4 GiB; 0 = no cap) */
    unsigned show;             /* findings per rule in the human report (20; 0 = all) */
    char *json_path;           /* "-" for stdout */
    char *junit_path;
    char *save_baseline;
    bool quiet;
} wsp_audit_config;

void wsp_audit_config_init(wsp_audit_config *cfg);
void wsp_audit_config_cleanup(wsp_audit_config *cfg);

/* Adders: 0, or -1 with err (USAGE) for a malformed value. */
int wsp_audit_config_add_floor(wsp_audit_config *cfg, const char *spec, const char *source,
                               wsp_err *err); /* "GLOB=DURATION" */
int wsp_audit_config_add_floor_us(wsp_audit_config *cfg, const char *glob, uint64_t us,
                                  const char *source);
int wsp_audit_config_add_probe(wsp_audit_config *cfg, const char *spec,
                               wsp_err *err); /* "URL" or "GLOB=URL" */
int wsp_audit_config_add_network(wsp_audit_config *cfg, const char *glob);
int wsp_audit_config_add_exclude(wsp_audit_config *cfg, const char *glob);
int wsp_audit_config_add_baseline(wsp_audit_config *cfg, const char *path);
int wsp_audit_config_add_requirement(wsp_audit_config *cfg, const char *expr, wsp_err *err);
int wsp_audit_config_add_pattern(wsp_audit_config *cfg, const char *text);
int wsp_audit_config_disable(wsp_audit_config *cfg, const char *rule, wsp_err *err);
/* Setters from text, shared by flags and YAML. */
int wsp_audit_config_set(wsp_audit_config *cfg, const char *key, const char *value, wsp_err *err);

/* Load a YAML file (libyaml) with the same settings as the flags; keys are the flag names with
 * '-' or '_' (network_tests, floor, floor_from_probe, baseline, save_baseline, min_history,
 * collapse_ratio, collapse_min, require_property, swallowed_pattern, exclude, disable, json,
 * junit, max_findings, max_report_size, show, quiet). Lists take one value or a sequence; floor
 * also takes a mapping GLOB: DURATION. Unknown keys are errors. Returns 0 or -1 with err. */
int wsp_audit_config_load_yaml(wsp_audit_config *cfg, const char *path, wsp_err *err);

/* ---- a run ---- */

typedef struct wsp_audit_finding {
    wsp_audit_rule rule;
    char *test;  /* test id; suite path for suite rules; the file for no-tests files */
    char *suite; /* enclosing suite path ("" when none) */
    char *file;
    unsigned long line;
    int64_t time_us;   /* the test's or suite's time; -1 when unknown or not applicable */
    int64_t limit_us;  /* floor: the floor; collapse: collapse_ratio x median; else -1 */
    int64_t median_us; /* collapse rules: the baseline median; else -1 */
    long runs;         /* collapse rules: baseline passes or runs used; else -1 */
    long expected;     /* count-mismatch: tests=; passed-on-retry: failed attempts; else -1 */
    long actual;       /* count-mismatch: test cases found; else -1 */
    char *glob;        /* floor, zero-time: the glob that matched; else NULL */
    char *source;      /* floor: where it came from; else NULL */
    char *pattern;     /* swallowed-error, synthetic-case: what matched; else NULL */
    char *excerpt;     /* swallowed-error: the output line; synthetic-case: the message */
    char *requirement; /* missing-evidence: the requirement; else NULL */
    char *message;     /* one line: the numbers and why */
    double score;      /* ordering within a rule: lower is worse */
    uint64_t seq;      /* order of discovery */
} wsp_audit_finding;

#define WSP_AUDIT_NET_BUCKETS 25

typedef struct wsp_audit_summary {
    uint64_t files, bad_files, bytes;
    uint64_t cases, passed, failed, errored, skipped, flaky, excluded;
    uint64_t network;      /* passes matching --network-tests */
    uint64_t unknown_time; /* passes a floor or network glob applied to, without a time */
    uint64_t findings;     /* all findings, kept or not */
    uint64_t per_rule[WSP_AUDIT_RULE_COUNT];
    uint64_t baseline_files, baseline_tests;
    /* the network tests' passes by duration: bucket i holds those up to
     * wsp_audit_net_bucket_ms(i) (the last: any longer); the strictest floor one of them met */
    uint64_t net_hist[WSP_AUDIT_NET_BUCKETS];
    uint64_t net_floor_us;
} wsp_audit_summary;

/* The upper bound (ms) of bucket i of net_hist: 0.01, 0.02, 0.05, 0.1 ... 1e6 (1-2-5). */
double wsp_audit_net_bucket_ms(unsigned i);

typedef struct wsp_audit wsp_audit;

/* A run over `cfg` (borrowed: it must outlive the run). NULL when out of memory. */
wsp_audit *wsp_audit_new(const wsp_audit_config *cfg);
void wsp_audit_free(wsp_audit *a);

/* Read every baseline of the config: XML reports (files or folders, *.xml and *.xml.gz) and
 * stored baselines (JSON written by wsp_audit_save_baseline). Returns 0, or -1 with the error
 * of the first unreadable one in err (the run should stop: exit 2). */
int wsp_audit_load_baselines(wsp_audit *a, wsp_junit_error *err);

/* Audit one report file, or every *.xml / *.xml.gz under a folder (sorted, recursively);
 * "-" is standard input. Bad inputs are recorded (wsp_audit_errors) and the run goes on;
 * returns the number of bad inputs met in this call, or -1 when out of memory. */
int wsp_audit_add_path(wsp_audit *a, const char *path);
/* The same for a document in memory (borrowed). Returns 0 or 1 (bad input). */
int wsp_audit_add_memory(wsp_audit *a, const char *name, const char *buf, size_t len);

/* After the last report: vanished tests, ordering. Call once. */
void wsp_audit_finish(wsp_audit *a);

const wsp_audit_summary *wsp_audit_get_summary(const wsp_audit *a);
/* Findings kept, grouped by rule (worst rule first) and worst first within a rule. Valid until
 * wsp_audit_free. */
size_t wsp_audit_finding_count(const wsp_audit *a);
const wsp_audit_finding *wsp_audit_finding_at(const wsp_audit *a, size_t i);
/* Bad inputs met (each with file, line and message). */
size_t wsp_audit_error_count(const wsp_audit *a);
const wsp_junit_error *wsp_audit_error_at(const wsp_audit *a, size_t i);

/* 0 clean, 1 findings, 2 bad input. */
int wsp_audit_exit_code(const wsp_audit *a);

/* Reports. Return 0 or -1 on a write error. */
int wsp_audit_write_human(const wsp_audit *a, FILE *f, bool color);
int wsp_audit_write_json(const wsp_audit *a, FILE *f);
int wsp_audit_write_junit(const wsp_audit *a, FILE *f);
/* Baseline store: the loaded baseline plus this run's passes (the last 64 per test). */
int wsp_audit_save_baseline(const wsp_audit *a, const char *path, wsp_err *err);

/* The built-in swallowed-error patterns (NULL-terminated), for docs and tests. */
extern const char *const wsp_audit_default_patterns[];

#endif
