/* junit.h - a streaming reader of JUnit XML as test runners write it (pytest, Maven Surefire,
 * jest-junit, go-junit-report, ctest, PHPUnit, GoogleTest).
 *
 * Built on libxml2's xmlTextReader: the document is never held whole. Each <testcase> is handed
 * to the caller when it closes, each <testsuite>/<testsuites> when it closes; memory stays flat
 * however large the report. Either root is accepted; suites may nest.
 *
 * Hostile input: network access off (XML_PARSE_NONET), no external DTD or entity loading, no
 * entity substitution, and a document whose DOCTYPE declares anything (entities above all:
 * billion laughs, XXE) is refused before any entity is used. libxml2's own limits stay on
 * (element depth 256, one text node or attribute at most 10 MB); this reader adds its own suite
 * depth limit and an optional byte cap. Every error names the file and the line.
 *
 * Times: seconds as runners write them, "1,234.5" (grouping commas), "0,5" (decimal comma),
 * "1e-3"; missing or unreadable means unknown (-1), never zero.
 */
#ifndef WSP_JUNIT_H
#define WSP_JUNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What became of one test case. */
typedef enum wsp_junit_outcome {
    WSP_JUNIT_PASSED,  /* no failure, error or skip */
    WSP_JUNIT_FAILED,  /* <failure> */
    WSP_JUNIT_ERRORED, /* <error> */
    WSP_JUNIT_SKIPPED, /* <skipped>, or status/result notrun, disabled, suppressed, skipped */
    WSP_JUNIT_FLAKY,   /* passed only on a rerun: Surefire's flakyFailure/flakyError, or
                        * rerunFailure/rerunError without a final failure */
} wsp_junit_outcome;

/* Stable lower-case name: "passed", "failed", "error", "skipped", "flaky". */
const char *wsp_junit_outcome_name(wsp_junit_outcome o);

/* The reader's result codes. */
typedef enum wsp_junit_rc {
    WSP_JUNIT_OK = 0,
    WSP_JUNIT_EIO,        /* cannot open or read the file */
    WSP_JUNIT_EMALFORMED, /* not well-formed XML (truncated, bad syntax, bad encoding) */
    WSP_JUNIT_EROOT,      /* root is neither <testsuites> nor <testsuite> */
    WSP_JUNIT_EDTD,       /* a DOCTYPE that declares entities or anything else */
    WSP_JUNIT_ELIMIT,     /* a limit was hit: size cap, depth, huge text node */
    WSP_JUNIT_EABORTED,   /* a callback asked to stop */
    WSP_JUNIT_ENOMEM,
} wsp_junit_rc;

/* Stable name of a result code: "ok", "io", "malformed", "root", "dtd", "limit", "aborted",
 * "nomem". */
const char *wsp_junit_rc_name(wsp_junit_rc rc);

/* Where and why reading stopped. `file` is the name given to the reader. */
typedef struct wsp_junit_error {
    wsp_junit_rc rc;
    unsigned long line; /* 0 when unknown */
    char file[512];
    char msg[512];
} wsp_junit_error;

/* A testcase-level property (<property name= value=/> or <property name=>text</property>). */
typedef struct wsp_junit_property {
    const char *name;
    const char *value;
} wsp_junit_property;

#define WSP_JUNIT_MAX_PROPS 32       /* per test case; more are counted, not kept */
#define WSP_JUNIT_MSG_MAX 240        /* bytes kept of a failure/skip message */
#define WSP_JUNIT_EXCERPT_MAX 200    /* bytes kept around a pattern found in the output */
#define WSP_JUNIT_MAX_SUITE_DEPTH 64 /* nested <testsuite> levels */

/* One test case, valid only during the callback (all strings borrowed, NUL-terminated, UTF-8). */
typedef struct wsp_junit_case {
    const char *file;       /* the reader's name for the document */
    unsigned long line;     /* line of <testcase> */
    const char *suite;      /* name of the innermost enclosing suite, "" if none */
    const char *suite_path; /* suite names from the outermost <testsuite>, joined by " / " */
    const char *classname;  /* "" when absent */
    const char *name;       /* "" when absent */
    const char *id;         /* "classname.name", or name alone when classname is empty or
                             * equal to name (ctest, jest-junit); classname alone when name is
                             * empty, "(unnamed)" when both are */
    int64_t time_us;        /* -1 when missing or unreadable */
    wsp_junit_outcome outcome;
    const char *status;  /* status= attribute ("" when absent) */
    const char *result;  /* result= attribute (GoogleTest; "" when absent) */
    bool has_skipped;    /* a <skipped> element */
    bool has_failure;    /* a <failure> element */
    bool has_error;      /* an <error> element */
    unsigned flaky;      /* flakyFailure + flakyError elements */
    unsigned reruns;     /* rerunFailure + rerunError elements */
    long assertions;     /* assertions= (PHPUnit), -1 when absent or unreadable */
    const char *message; /* message= (or text) of the failure, error or skipped element,
                          * truncated to WSP_JUNIT_MSG_MAX bytes; "" when none */
    uint64_t out_bytes;  /* bytes of the case's own system-out and system-err */
    int pattern;         /* index of the first output pattern found, -1 when none */
    const char *excerpt; /* the line around that match, at most WSP_JUNIT_EXCERPT_MAX
                          * bytes; "" when none */
    const wsp_junit_property *props;
    size_t nprops; /* kept properties (at most WSP_JUNIT_MAX_PROPS) */
} wsp_junit_case;

typedef enum wsp_junit_suite_kind {
    WSP_JUNIT_SUITES, /* <testsuites> */
    WSP_JUNIT_SUITE,  /* <testsuite> */
} wsp_junit_suite_kind;

/* One suite, handed over when it closes; valid only during the callback. */
typedef struct wsp_junit_suite {
    const char *file;
    unsigned long line;
    wsp_junit_suite_kind kind;
    const char *name;  /* "" when absent */
    const char *path;  /* names of the enclosing <testsuite>s and this one, joined by " / " */
    int depth;         /* 0 for the root element */
    long tests_attr;   /* tests= ; -1 when absent or unreadable */
    long cases;        /* <testcase> elements inside, nested suites included */
    long direct_cases; /* <testcase> elements that are direct children */
    long child_suites;
    int64_t time_us;      /* time= ; -1 when absent or unreadable */
    int64_t case_time_us; /* sum of the known times of the cases inside */
    long unknown_time_cases;
} wsp_junit_suite;

/* What the caller wants; zero-initialise and fill in. All borrowed for the call. */
typedef struct wsp_junit_options {
    /* Case-insensitive substrings searched in each test case's system-out/system-err while it
     * streams (first match reported). At most 64. */
    const char *const *patterns;
    size_t npatterns;
    uint64_t max_bytes; /* refuse documents larger than this (0: no cap) */
    void *ctx;          /* handed to the callbacks */
    /* Return 0 to go on, anything else to stop with WSP_JUNIT_EABORTED. Either may be NULL. */
    int (*on_case)(void *ctx, const wsp_junit_case *c);
    int (*on_suite)(void *ctx, const wsp_junit_suite *s);
} wsp_junit_options;

/* Counts for one document. */
typedef struct wsp_junit_stats {
    uint64_t bytes; /* bytes read from the file (compressed size for .gz) */
    uint64_t cases;
    uint64_t suites;
} wsp_junit_stats;

/* Read one JUnit document from `path` ("-" is standard input; gzip is recognised by its magic
 * bytes). `name` is how errors and cases name the file (NULL: the path). Returns WSP_JUNIT_OK,
 * or a code with `err` (optional) filled in. Callbacks already made stand: a document that
 * breaks halfway has delivered the cases before the break. `stats` is optional. */
wsp_junit_rc wsp_junit_read_file(const char *path, const char *name, const wsp_junit_options *opt,
                                 wsp_junit_stats *stats, wsp_junit_error *err);

/* The same from memory (borrowed, `len` bytes, no NUL needed). */
wsp_junit_rc wsp_junit_read_memory(const char *buf, size_t len, const char *name,
                                   const wsp_junit_options *opt, wsp_junit_stats *stats,
                                   wsp_junit_error *err);

/* Parse a runner's time in seconds into microseconds: "1.5", "1,234.5", "0,25", "2e-3",
 * surrounding spaces allowed. Returns 0, or -1 when empty, negative or unreadable. */
int wsp_junit_parse_time(const char *s, int64_t *us_out);

#endif
