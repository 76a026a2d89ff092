/* files.h - the one way wsprobe opens a file it was pointed at (a plan, a message body, a key,
 * a secret, a certificate, a load result, an audit report or configuration) and writes one it
 * was asked to write (a port file, a baseline).
 *
 * Input: "-" is standard input (once per process: a second "-" is an error); any other path is
 * opened with O_NONBLOCK, so a FIFO without a writer cannot hang the open, symbolic links are
 * followed (Kubernetes secret mounts and certificate stores are links), and the final target
 * must be a regular file: a directory, FIFO, socket or device is refused with one clear error.
 * Sizes are capped before reading (a file that grows while read is caught too), and standard
 * input is held to the same cap. */
#ifndef WSP_UTIL_FILES_H
#define WSP_UTIL_FILES_H

#include <stddef.h>

#include "util/error.h"

/* The buffer may hold key material: every copy dropped on the way is wiped, and the caller
 * wipes the result (OPENSSL_cleanse) before freeing it. */
#define WSP_FILE_SECRET 0x1u

#include <sys/stat.h>

/* Open `path` for reading as above; the descriptor is in blocking mode and close-on-exec, and
 * *st (may be NULL) gets its fstat. Returns the descriptor, or -1 with err filled as
 * wsp_file_read does. Standard input ("-") is returned as STDIN_FILENO: do not close it. */
int wsp_file_open(const char *what, const char *path, struct stat *st, wsp_err *err);

/* Whether `path` is a regular file that can be opened (for the files a library opens by name
 * itself, OpenSSL's certificates and keys); "-" is refused. 0, or -1 with err filled. */
int wsp_file_check(const char *what, const char *path, wsp_err *err);

/* Write `len` bytes to `path`. A regular file, or one that does not exist yet, is written
 * through a temporary file in the same folder renamed over it (over a symbolic link's target,
 * so the link stays), so that a reader never sees half of it; anything else that exists (a
 * device such as /dev/null, a FIFO with a reader) is written in place and never replaced.
 * Every write and the close are checked. 0, or -1 with err (OUTPUT_FAILED, the path and why). */
int wsp_file_write(const char *what, const char *path, const void *data, size_t len, wsp_err *err);

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
