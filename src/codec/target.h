/* target.h - what the exporter's /probe takes from a request (docs/exporter.md): the query
 * string (application/x-www-form-urlencoded, as Prometheus writes `params`), the target URL in
 * its normal form, and the shell-style globs of a module's `allowed_targets` matched against it.
 * Pure: no I/O, no allocation.
 *
 * The normal form of a target is what an allow-list can be written against without surprises:
 * scheme and host lowercased, the port always explicit (ws://h/x is ws://h:80/x), IPv6 in
 * brackets, the path and query kept byte for byte ("/" when empty). Userinfo and fragments are
 * refused by the URL parser (codec/url.h), so `ws://allowed.example@evil/` cannot pass for
 * allowed.example. */
#ifndef WSP_TARGET_H
#define WSP_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "codec/url.h"

#define WSP_QUERY_MAX 8192       /* a query string longer than this is refused */
#define WSP_QUERY_VALUE_MAX 4096 /* one decoded value */
#define WSP_TARGET_NORMAL_MAX (WSP_URL_HOST_MAX + WSP_URL_TARGET_MAX + 32)
#define WSP_GLOB_MAX 1024 /* one allowed_targets pattern */

/* Check the whole query q[0..len) (no leading '?'): every pair NAME[=VALUE] separated by '&',
 * names of letters, digits, '_', '-' and '.', values whose %XX escapes are complete and decode
 * to no control byte, none of `once` (a NULL-terminated list) given twice, at most
 * WSP_QUERY_MAX bytes. 0, or -1 with *why (static) naming what is wrong. */
int wsp_query_check(const char *q, size_t len, const char *const *once, const char **why);

/* The decoded value ('+' is a space, %XX a byte) of the first parameter `name` of a query that
 * passed wsp_query_check, into out (NUL-terminated). 1 found, 0 absent, -1 when it does not fit
 * in cap. */
int wsp_query_get(const char *q, size_t len, const char *name, char *out, size_t cap);

/* The normal form of a parsed URL (above). Returns its length, or -1 when it does not fit. */
int wsp_target_normal(const wsp_url *u, char *out, size_t cap);

/* Whether `s` matches the shell-style `glob`: '*' any run of characters ('/' included), '?' one
 * character, "[abc]", "[a-z]" and "[!abc]" one character of (not of) the set, '\' quotes the
 * next character; everything else stands for itself, case-sensitively. Linear in practice:
 * only the last '*' is backtracked to (O(|s| * |glob|) at worst, no recursion). */
bool wsp_glob_match(const char *glob, const char *s);

/* allowed_targets. A pattern is SCHEME://HOST:PORT[PATH], or "*" for any target, and each
 * part is matched against the same part of the target's normal form on its own, so no
 * wildcard reaches across parts (the path's text can never pass for a host):
 *   SCHEME  ws, wss, or * (either)
 *   HOST    lower case; '*' any run and '?' one character of the host ("*.example.com",
 *           "127.0.0.*"); an IPv6 host in brackets, taken literally ("[::1]")
 *   PORT    digits, '*' any port, '?' one digit; required (every normal form has one)
 *   PATH    the path and query, with every wsp_glob_match wildcard; absent: any path
 * wsp_target_pattern_check says why a pattern could never match, or is malformed: 0, or -1
 * with *why (static). */
int wsp_target_pattern_check(const char *pattern, const char **why);
bool wsp_target_allowed(const char *pattern, const wsp_url *target);

/* A target whose path holds a dot segment ("/./", "/../", a trailing "/." or "/..") or an
 * encoded dot (%2e) is refused before any matching: the server may resolve it to a path other
 * than the one allowed ("/public/../admin"). 0, or -1 with *why (static). */
int wsp_target_path_check(const wsp_url *target, const char **why);

#endif
