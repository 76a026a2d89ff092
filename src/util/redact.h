/* redact.h - the last line of secret hygiene: every report passes through here before it is
 * written. Two rules: any registered secret (a ready token, a secret read from the environment)
 * is replaced wherever it appears, and anything shaped like a JWT (eyJ... two dots) is cut to
 * "eyJ…[redacted]", wherever a peer echoed it (a subprotocol, a body, a Location, a close
 * reason, a message excerpt). Thread-safe. */
#ifndef WSP_REDACT_H
#define WSP_REDACT_H

#include <stddef.h>

#include <jansson.h>

#define WSP_REDACTED "[redacted]"

/* Remember a secret for the life of the process (copied; strings under 6 bytes are ignored:
 * too short to be a credential and too likely to hit ordinary text). At most 64 are kept. A
 * report loses the whole secret and any run of its first 12 bytes or more (a capped copy of
 * peer data may cut it short). */
void wsp_redact_register(const char *secret, size_t len);

/* A heap copy of s[0..len) with secrets and JWTs replaced; NUL-terminated, length in *out_len
 * (may be NULL). NULL only when out of memory. */
char *wsp_redact(const char *s, size_t len, size_t *out_len);

/* Redact every string inside a JSON value, in place (object keys too). */
void wsp_redact_json(json_t *j);

#endif
