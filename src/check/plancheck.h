/* plancheck.h - the basic checks a plan names (SPEC.md "Plans"), as wsp_check_def (check.h):
 *
 *   connect               a full handshake (with the environment's credential); pass on OK.
 *   health                an HTTP GET of the environment's health URL; pass on 2xx; skip when
 *                         the environment has no health URL.
 *   conversation          a handshake and the plan's send/expect steps (or, without steps, the
 *                         environment's success marker); pass when every step held.
 *   concurrent            N complete conversations at once; pass when all held; the class of a
 *                         failure is the one shared by the most connections.
 *   expect_auth_required  a baseline with the credential (before and after) and a probe without
 *                         it: pass when the endpoint refuses the bare probe and the baselines
 *                         hold; fail (AUTH_NOT_ENFORCED) when it serves the bare probe;
 *                         inconclusive when a baseline fails or there is no credential to prove
 *                         the endpoint works.
 *
 * Parameters (normalised by the plan loader, plan.c; NULL means none):
 *   conversation: {"steps": [STEP...], "within_ms": N}
 *     STEP: {"send": TEXT} | {"send_binary": BYTES} | {"expect_text": TEXT}
 *         | {"expect_regex": RE} | {"expect_binary": BYTES} | {"ping": true}
 *         | {"expect_json": [{"pointer": PTR, "value": JSON-TEXT-OR-TEMPLATE}, ...]}
 *         | {"emit": NAME, "args": JSON-TEXT} | {"emit_ack": NAME, "args": JSON-TEXT} (one
 *           value, or an array of the arguments: kept as an array, wsp_step_emit_args)
 *         | {"expect_event": NAME} | {"subscribe": DOCUMENT, "variables": JSON-OBJECT-TEXT}
 *         | {"expect_complete": true}   (args and variables optional; the protocols' steps of
 *           probe.h), each with an optional "within_ms"
 *     optional "strict_order": BOOL, "expect_close": [CODE...]
 *   concurrent:   {"connections": N, "each": CONVERSATION-PARAMS or null (connect only)}
 *
 * Evidence (result->evidence): "status", "close_code", "handshake_ms", "class" of the main probe
 * at the top level, the byte totals "bytes_tx" and "bytes_rx", and each probe under its own key
 * (wsp_check_add_probe_evidence). The transcript is built from the record, redacted.
 * Every probe carries the environment's deadline, so every check ends.
 */
#ifndef WSP_PLANCHECK_H
#define WSP_PLANCHECK_H

#include <stddef.h>

#include "check/check.h"

/* The definition of a basic check by kind ("connect"), or NULL. Static storage. */
const wsp_check_def *wsp_plancheck_find(const char *kind);

/* All basic checks; *n receives their number. Static storage. */
const wsp_check_def *wsp_plancheck_all(size_t *n);

/* Build the probe configuration for a conversation: a copy of env->base (URL, TLS, pins,
 * headers, origin) with the credential and the steps of `params` (a conversation's normalised
 * parameters, or NULL for the environment's marker). cfg is initialised here and freed with
 * wsp_probe_config_cleanup; it borrows env, which must outlive it. Returns 0, or -1 with err
 * (USAGE: a bad step; INTERNAL: out of memory). */
int wsp_plancheck_conversation_config(const wsp_env *env, const json_t *params, bool with_auth,
                                      wsp_probe_config *cfg, wsp_err *err);

/* Whether a conversation's parameters (as above) make a conversation of protocol `kind`: the
 * steps built as the check builds them and judged by the command line's rule
 * (wsp_probe_steps_check: an emit needs Socket.IO, an expect_json under a protocol needs an
 * event, an ack or a subscription before it ...). The marker (NULL, or no steps) is the
 * environment's, built for its protocol when the check runs: 0 here.
 * wsp_plancheck_conversation_config applies the rule too; the plan loader calls this for every
 * conversation on every environment, before any connection. 0, or -1 with err (USAGE naming
 * the step, or INTERNAL when memory ran out). */
int wsp_plancheck_steps_check(const json_t *params, wsp_proto_kind kind, wsp_err *err);

/* A redacted transcript of one probe for reports: the request line, the response status and
 * headers (credentials redacted), each step's outcome, the close. Heap string (caller frees)
 * or NULL when out of memory. */
char *wsp_plancheck_transcript(const wsp_probe *p, const char *url_text);

#endif
