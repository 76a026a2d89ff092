/* redact.h - the last line of secret hygiene: every report passes through here before it is
 * written. Two rules: any registered secret (a ready token, a secret read from the environment)
 * is replaced wherever it appears, and anything shaped like a JWT ("eyJ" and 10 or more base64url
 * characters or dots) is cut to "eyJ…[redacted]", wherever a peer echoed it (a subprotocol, a body,
 * a Location, a close reason, a message excerpt). Thread-safe. */
#ifndef WSP_REDACT_H
#define WSP_REDACT_H

#include <stddef.h>

#include <jansson.h>

#define WSP_REDACTED "[redacted]"

/* The one redactor of wsprobe: one registry, one JWT rule, used by the check runner and by
 * every report writer (probe, run, parity, security, load, audit, -v).
 *
 * Remember a secret until wsp_redact_clear (copied; strings under 4 bytes are ignored: they
 * would hit ordinary text everywhere). At most 64 are kept. A report loses the whole secret
 * and any run of its first 12 bytes or more (a capped copy of peer data may cut it short). */
void wsp_redact_register(const char *secret, size_t len);
/* Forget (and wipe) every registered secret. */
void wsp_redact_clear(void);

/* A heap copy of s[0..len) with secrets and JWTs replaced; NUL-terminated, length in *out_len
 * (may be NULL). NULL only when out of memory. */
char *wsp_redact(const char *s, size_t len, size_t *out_len);

/* Redact a NUL-terminated string in its own buffer of `cap` bytes (a result may be cut to fit;
 * on allocation failure the text is emptied, never left unredacted). */
void wsp_redact_buf(char *buf, size_t cap);

/* Redact every string inside a JSON value, in place (object keys too). */
void wsp_redact_json(json_t *j);

#endif
