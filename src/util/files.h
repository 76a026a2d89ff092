/* files.h - the one way wsprobe reads a whole file it was pointed at (a plan, a message body,
 * a key, a secret, a load result, an audit configuration).
 *
 * Opened with O_NONBLOCK, so a FIFO without a writer cannot hang the open; then read to the
 * end in blocking mode. Pipes and process substitution are welcome (--jwt-secret-file
 * /dev/stdin, <(vault read ...)): the cap holds for anything that does not say its size, a
 * device that never ends (/dev/zero) included. A directory is refused. */
#ifndef WSP_UTIL_FILES_H
#define WSP_UTIL_FILES_H

#include <stddef.h>

#include "util/error.h"

/* The buffer may hold key material: every copy dropped on the way is wiped, and the caller
 * wipes the result (OPENSSL_cleanse) before freeing it. */
#define WSP_FILE_SECRET 0x1u

/* Read the file at `path` (at most `max` bytes) into a NUL-terminated heap buffer; *len_out
 * gets its length. On failure returns NULL with err filled: class USAGE (or INTERNAL when
 * memory ran out), sys_errno, and a message "WHAT PATH: why" (what: the option or the role,
 * "--jwt-secret-file", "the plan"; NULL leaves it out). */
char *wsp_file_read(const char *what, const char *path, size_t max, unsigned flags, size_t *len_out,
                    wsp_err *err);

/* "@FILE" reads FILE (up to `max` bytes), anything else is the text itself (copied). NULL with
 * err filled as wsp_file_read does. */
char *wsp_file_text_or_at(const char *what, const char *arg, size_t max, size_t *len_out,
                          wsp_err *err);

#endif
