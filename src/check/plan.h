/* plan.h - verification plans (SPEC.md "Plans"): a YAML file (libyaml) naming environments
 * (targets, credentials, TLS options, limits to test against) and the checks that must hold on
 * each. `wsprobe run` runs a plan's checks on one environment; `wsprobe parity` on several.
 *
 * Two stages, so that a bad plan is refused before any connection and a secret is read only
 * for the environment that is used:
 *   1. wsp_plan_load_*: parse and validate the whole plan (every environment's keys and types,
 *      every check's kind and parameters). Secrets are not read here.
 *   2. wsp_plan_env_load: build one environment (wsp_env of check.h): URL, TLS context, pins,
 *      headers, and the credential, reading *_env variables and *_file files now.
 *
 * Every error is located: file, line and column (1-based) of the YAML node at fault, and a
 * message that says what was expected. Secrets are named, never written: a literal `secret:`,
 * `token:`, `password:` or `key:` key is refused with the reason and the *_env / *_file key to
 * use instead. No message ever contains the value of a secret.
 *
 * Caps: a plan is at most WSP_PLAN_MAX_BYTES, nests at most WSP_PLAN_MAX_DEPTH deep, has at most
 * WSP_PLAN_MAX_NODES nodes visited (aliases included: no "billion laughs"), WSP_PLAN_MAX_ENVS
 * environments, WSP_PLAN_MAX_CHECKS checks after security entries are expanded, and
 * WSP_PLAN_MAX_STEPS steps per conversation.
 */
#ifndef WSP_PLAN_H
#define WSP_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "check/check.h"

#define WSP_PLAN_MAX_BYTES (1u << 20)
#define WSP_PLAN_MAX_DEPTH 32
#define WSP_PLAN_MAX_NODES 100000
#define WSP_PLAN_MAX_ENVS 64
#define WSP_PLAN_MAX_CHECKS 256
#define WSP_PLAN_MAX_STEPS 256 /* sends and expectations of one conversation */

/* A located error. line and column are 1-based; 0 when the error has no place in the file
 * (unreadable file, allocation failure). */
typedef struct wsp_plan_err {
    char file[256];
    unsigned line, column;
    char msg[768];
} wsp_plan_err;

/* "file:line:column: msg" (or "file: msg" without a place) into out. */
void wsp_plan_err_format(const wsp_plan_err *e, char *out, size_t cap);

/* ---- security entries ----
 * A plan's `security: [auth, origin.foreign, ...]` names groups or check ids of the security
 * suite (SECURITY-CHECKS.md, check/security/security.h); anything else is a plan error. */

typedef struct wsp_plan wsp_plan;

/* Parse and validate the plan in `path` (at most WSP_PLAN_MAX_BYTES). Returns the plan (caller
 * frees with wsp_plan_free) or NULL with err filled. */
wsp_plan *wsp_plan_load_file(const char *path, wsp_plan_err *err);
/* The same from memory; `name` is the file name used in error locations. data need not be
 * NUL-terminated; it is copied. */
wsp_plan *wsp_plan_load_buffer(const char *name, const char *data, size_t len, wsp_plan_err *err);
/* NULL-safe. */
void wsp_plan_free(wsp_plan *plan);

/* Environments, in the order of the file. */
size_t wsp_plan_env_count(const wsp_plan *plan);
const char *wsp_plan_env_name(const wsp_plan *plan, size_t i);
/* Whether the plan defines environment `name`. */
bool wsp_plan_has_env(const wsp_plan *plan, const char *name);

/* The checks, in the order of the file, security entries expanded. items[i].params is owned by
 * the plan (valid until wsp_plan_free). ids are unique within the plan: the check kind, or its
 * `name:` parameter, with "#2", "#3" appended to repeats. */
size_t wsp_plan_check_count(const wsp_plan *plan);
const wsp_check_item *wsp_plan_items(const wsp_plan *plan);
const char *wsp_plan_check_id(const wsp_plan *plan, size_t i);
/* The checks' groups (items[i].def->group), as a run report reads them (report/runreport.h). */
const char *const *wsp_plan_groups(const wsp_plan *plan);
/* The kinds of check a plan's `checks:` list takes, NULL-terminated (wsprobe-plan(5)). */
const char *const *wsp_plan_check_kinds(void);
/* Every key an environment takes, as a path ("url", "tls.cacert", "auth.jwt.secret_env",
 * "limits.max_message"), in the order the parser knows them (wsprobe-plan(5)). */
void wsp_plan_each_env_key(void (*fn)(const char *path, void *ud), void *ud);

/* Build environment `name` into env (wsp_env_init is done here; wsp_env_cleanup frees it, also
 * after a failure). Reads the credential now: a *_env variable that is unset or empty, or a
 * *_file that cannot be read, is an error located at that key. The environment borrows strings
 * and address pins owned by the plan: the plan must outlive env. An unknown name is an error
 * located at the plan's `environments:` key that lists the names defined. Returns 0 or -1. */
int wsp_plan_env_load(wsp_plan *plan, const char *name, wsp_env *env, wsp_plan_err *err);

/* The signing material of environment `name`'s JWT credential, as the security checks that
 * sign on purpose take it: {"secret_env"|"secret_file"|"key_file": ..., "alg": ...}. Names of
 * variables and files only, never a secret. New reference, or NULL when the environment has
 * no JWT credential. */
json_t *wsp_plan_env_signing(wsp_plan *plan, const char *name);

/* Per-probe overrides from the command line, applied by wsp_plan_env_load when non-zero:
 * the whole-probe deadline is capped at deadline_cap_us (a run's overall deadline). */
void wsp_plan_set_deadline_cap(wsp_plan *plan, uint64_t deadline_cap_us);
/* Whether every `hold` check fits in a run's overall deadline (its duration and
 * WSP_HOLD_MARGIN_US to open and close, probe/hold.h): a located error naming the check when
 * not, so a run that could never finish a hold is refused before it starts. 0 or -1. */
int wsp_plan_fits_deadline(const wsp_plan *plan, uint64_t deadline_us, wsp_plan_err *err);

/* What the plan says in a form that still works but goes (a limits key renamed in 0.2.0:
 * `limits.rate` is now `limits.rate_limit`, `limits.connections` is `limits.max_conns_per_ip`),
 * found at load: "FILE:LINE:COL: warning: ..." each, for the command to print on stderr. */
#define WSP_PLAN_MAX_WARNINGS 8
/* (the warnings of an exporter's configuration are these too) */
size_t wsp_plan_warning_count(const wsp_plan *plan);
const char *wsp_plan_warning(const wsp_plan *plan, size_t i);

/* ---- an exporter's configuration (docs/exporter.md "Modules") ----
 * The same parser and vocabulary as a plan: `modules:` names modules, each an environment's
 * keys without url (every scrape brings its target), plaintext_url, limits and marker, plus
 *   allowed_targets: GLOB or [GLOB...]   the targets it may probe (codec/target.h); required
 *                                        unless allow_any_target
 *   health: URL or /PATH                 a health check, /PATH asked of each target's host
 *   expect_auth_required: true           the probe goes without a credential and must be refused
 *   conversation: {send:, expect:, ...}  the conversation check's keys (its params, as
 *                                        check/plancheck.h takes them) */
#define WSP_MODULE_MAX_TARGETS 64
typedef struct wsp_module {
    const char *name;
    /* the probe every scrape starts from: options, TLS context, credential; its URL is a
     * placeholder (wss://wsprobe-module.invalid/) until a target replaces it */
    wsp_env env;
    const wsp_probe_setup *setup; /* its options as given: pins and proxy settings per target */
    const char *allowed[WSP_MODULE_MAX_TARGETS];
    size_t num_allowed;
    const char *health; /* NULL, a URL, or a path starting with '/' */
    bool expect_auth_required;
    json_t *conversation; /* the conversation's params, or NULL: the handshake alone */
} wsp_module;

/* Parse, validate and build every module of an exporter's configuration: credentials read and
 * TLS contexts made now, so a bad configuration is refused whole with a located error. The
 * result is a wsp_plan (wsp_plan_free); its modules borrow from it. */
wsp_plan *wsp_modules_load_file(const char *path, bool allow_any_target, wsp_plan_err *err);
size_t wsp_modules_count(const wsp_plan *modules);
const wsp_module *wsp_modules_get(const wsp_plan *modules, size_t i);
/* The module named `name`, or NULL. */
const wsp_module *wsp_modules_find(const wsp_plan *modules, const char *name);

#endif
