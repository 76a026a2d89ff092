/* security.h - the security suite: the checks of SECURITY-CHECKS.md as wsp_check_def entries
 * (check.h), for `wsprobe security URL` and a plan's `security:` entry.
 *
 * Every check is a blocking run function for the check runner (wsp_check_run_all). Negative
 * checks run beside a positive baseline (the env's credential and allowed origin, the success
 * marker conversation) before and after; a baseline that fails makes the verdict inconclusive,
 * never pass. A check that cannot run here says so (skip, not_applicable or inconclusive, with
 * why in its message). Evidence never holds a secret or a token: forged tokens included, every
 * string that could carry one is redacted before the result is returned.
 *
 * Parameters (the `params` of a wsp_check_item; NULL or an object, every key optional):
 *   "signing": {"alg": "HS256", "secret_env": VAR | "secret_file": F | "key_file": PEM}
 *       the key the endpoint's valid tokens are signed with. auth.claims needs it to sign
 *       tokens with bad claims (without it only the expired variant runs, from the env's JWT
 *       configuration); auth.key_confusion derives the public key from "key_file".
 *   "public_key_file": PEM   the endpoint's public key (auth.key_confusion)
 *   "max_message": N         L for limits.* instead of env->limits.max_message
 *   "expiry_leeway_ms": N    the server's leeway on exp (auth.expiry_on_open; default 5000)
 * The command line passes the same object to every check; a plan may do the same.
 */
#ifndef WSP_SECURITY_H
#define WSP_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check/check.h"
#include "util/error.h"

/* The check with this id ("auth.missing"), or NULL. */
const wsp_check_def *wsp_security_find(const char *id);

/* Every check of the catalog, in catalog order. *out points at a static array of `return`
 * pointers; nothing is owned by the caller. */
size_t wsp_security_list(const wsp_check_def *const **out);

/* Whether `name` is one of the groups: "auth", "origin", "input", "limits", "transport",
 * "handshake" (or "tls", an alias that selects the tls.* checks). */
bool wsp_security_is_group(const char *name);

/* Select checks by names: each an id, a group, or "all"; none (num_names 0) means "all".
 * Order follows the catalog and duplicates collapse. Checks that are not production-safe are
 * dropped from groups and "all" unless include_staging is set; naming such a check by its id
 * without include_staging is an error (USAGE), so a production run never sends them by
 * accident. `out` must hold at least wsp_security_list() entries. Returns 0 with *n_out set, or
 * -1 with err (USAGE) naming the unknown or refused name. */
int wsp_security_select(const char *const *names, size_t num_names, bool include_staging,
                        const wsp_check_def **out, size_t *n_out, wsp_err *err);

/* Whether the check must run with no other check beside it: limits.connections holds the
 * endpoint's per-client connection slots, which would refuse the probes of checks running at
 * the same time; input.invalid_utf8 sends bytes that a broadcasting server relays to every
 * open connection, whose clients then fail (RFC 6455 8.1). Run such checks after the others,
 * one at a time (`wsprobe security` and wsp_check_run_all do). */
bool wsp_security_runs_alone(const wsp_check_def *d);

/* Append the environment's success marker conversation to cfg (its message, and the reply that
 * answers this connection's message: the same conversation the suite's baselines use), the
 * expectation waiting timeout_us (0: the suite's own wait). For a plan's `conversation` and
 * `concurrent` checks without steps of their own. Returns 0 or -1. */
int wsp_security_add_marker(const wsp_env *env, wsp_probe_config *cfg, uint64_t timeout_us);

#endif
