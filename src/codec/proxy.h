/* proxy.h - the client side of a proxy in front of a WebSocket endpoint (docs/proxies.md):
 * which proxy a connection takes (a flag, a plan, or the environment as curl reads it, with
 * no_proxy), the HTTP CONNECT request and the judgement of its answer (RFC 9110 9.3.6), and
 * SOCKS5 (RFC 1928) with username/password authentication (RFC 1929).
 *
 * Pure, like every codec: the environment arrives through a callback, bytes in and out through
 * the caller's buffers. Failures carry the proxy classes: PROXY_AUTH (a 407, or SOCKS
 * authentication refused), PROXY_TUNNEL_FAILED (another non-2xx, or a SOCKS reply code, named)
 * and PROXY_PROTOCOL (not HTTP, not SOCKS5, or a reply that breaks the protocol); USAGE for a
 * proxy URL or list that cannot be read. Credentials never appear in a message. */
#ifndef WSP_PROXY_H
#define WSP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/http.h"
#include "codec/url.h"
#include "util/error.h"

typedef enum wsp_proxy_kind {
    WSP_PROXY_NONE,   /* direct */
    WSP_PROXY_HTTP,   /* http://: CONNECT in plaintext */
    WSP_PROXY_HTTPS,  /* https://: TLS to the proxy, then CONNECT inside it */
    WSP_PROXY_SOCKS5, /* socks5://: the target's name is resolved here, the address sent */
    WSP_PROXY_SOCKS5H /* socks5h://: the name is sent; the proxy resolves it */
} wsp_proxy_kind;

/* "none", "http", "https", "socks5", "socks5h" */
const char *wsp_proxy_kind_name(wsp_proxy_kind k);

#define WSP_PROXY_CRED_MAX 255 /* RFC 1929: a one-byte length each */

/* A proxy and why it was chosen. With kind NONE the connection goes direct; `source` and
 * `bypass` then say why when a proxy was configured (a no_proxy entry, --proxy ""). */
typedef struct wsp_proxy {
    wsp_proxy_kind kind;
    char host[WSP_URL_HOST_MAX + 1]; /* lower-cased name, or an IP literal without brackets */
    bool host_is_ip;
    uint16_t port;   /* explicit, or 1080 (443 for https://), as curl */
    char shown[300]; /* scheme://host:port as reports show it: never credentials */
    /* credentials (RFC 7617 Basic for CONNECT; RFC 1929 for SOCKS5) */
    bool has_credentials;
    char user[WSP_PROXY_CRED_MAX + 1];
    char pass[WSP_PROXY_CRED_MAX + 1];
    char cred_source[64]; /* where they came from: a variable's name ("" when none) */
    /* why */
    char source[16];          /* "--proxy", "plan", "environment", or "" when none applies */
    char variable[16];        /* the environment variable it came from, or "" */
    char bypass[128];         /* the no_proxy entry that sent this target direct, or "" */
    char bypass_variable[16]; /* "--noproxy", "no_proxy" or "NO_PROXY" */
} wsp_proxy;

/* Read a proxy URL: [scheme://][user:password@]host[:port][/]. Schemes http (also when none
 * is written), https, socks5, socks5h. Credentials are refused unless allow_credentials (a
 * command line is visible to every user of the machine; an environment variable is not);
 * they are percent-decoded. `label` names the source in messages ("--proxy", "HTTPS_PROXY"),
 * which never repeat the URL (it may hold a password). 0, or -1 with err (USAGE). */
int wsp_proxy_parse(const char *s, const char *label, bool allow_credentials, wsp_proxy *p,
                    wsp_err *err);

typedef const char *(*wsp_proxy_getenv_fn)(const char *name, void *ud);

typedef struct wsp_proxy_settings {
    const char *flag;        /* --proxy or the plan's proxy; NULL: not given; "": go direct */
    const char *flag_source; /* "--proxy" or "plan" */
    const char *noproxy;     /* --noproxy LIST; NULL: the environment's no_proxy, NO_PROXY */
    wsp_proxy_getenv_fn env; /* NULL: no environment */
    void *env_ud;
} wsp_proxy_settings;

/* Choose the proxy for `target` (docs/proxies.md): the flag; else the environment, each name
 * lowercase first, then uppercase, empty values skipped: for wss:// and https:// wss_proxy,
 * https_proxy, all_proxy; for ws:// and http:// ws_proxy, http_proxy, all_proxy. Then the
 * no_proxy list (the flag's, else the environment's) may send the target direct. 0, or -1
 * with err (USAGE naming the variable). */
int wsp_proxy_select(const wsp_url *target, const wsp_proxy_settings *s, wsp_proxy *out,
                     wsp_err *err);

/* Whether a no_proxy list names the target: entries separated by commas or spaces; "*" for
 * every host; a name matches itself and its subdomains (a leading "." or "*." is optional);
 * an IP address matches itself; ADDR/BITS matches the IP literals inside it; HOST:PORT only
 * that port. The first matching entry goes to `entry`. */
bool wsp_noproxy_match(const char *list, const wsp_url *target, char *entry, size_t cap);

/* ---- HTTP CONNECT (RFC 9110 9.3.6) ---- */

#define WSP_PROXY_HEAD_MAX 16384 /* the longest answer head to CONNECT accepted */

/* Proxy-Authorization's value for Basic (RFC 7617): base64 of user:password into out (cap
 * bytes, at least 4 * 171 + 1 for the longest credentials). Returns its length, or -1 without
 * credentials. The caller wipes out when done. */
int wsp_proxy_basic_token(const wsp_proxy *p, char *out, size_t cap);

/* The CONNECT request for host:port (an IPv6 literal is bracketed), with Proxy-Authorization:
 * Basic when the proxy has credentials. Returns its length, or -1 when it does not fit. */
int wsp_proxy_connect_request(char *buf, size_t cap, const wsp_proxy *p, const char *host,
                              uint16_t port);

/* Judge the proxy's answer to CONNECT: 0 when a 2xx opened the tunnel; else -1 with err:
 * PROXY_AUTH for 407 (with the scheme the proxy asked for) and 401 (tinyproxy's answer to
 * wrong credentials; a CONNECT never reaches the endpoint), PROXY_TUNNEL_FAILED for any
 * other status (named, with a hint for 403 and 502/503/504). `target` is host:port. */
int wsp_proxy_connect_judge(const wsp_proxy *p, const wsp_http_response *res, const char *target,
                            wsp_err *err);

/* ---- SOCKS5 (RFC 1928, RFC 1929) ---- */

#define WSP_SOCKS5_OUT_MAX 600 /* the largest message this client sends */

typedef struct wsp_socks5 {
    int state;
    const wsp_proxy *p;
    char host[WSP_URL_HOST_MAX + 1];
    uint16_t port;
    uint8_t in[262]; /* the reply being collected (the longest: a domain-name reply) */
    size_t in_len;
    int reply; /* the last CONNECT reply code (REP), -1 before one came */
} wsp_socks5;

/* Begin a SOCKS5 CONNECT to host:port (an IP literal travels as an address, a name as a
 * domain name for the proxy to resolve). The greeting goes to out (*out_len bytes; out holds
 * WSP_SOCKS5_OUT_MAX). 0, or -1 with err (USAGE: a name over 255 bytes). */
int wsp_socks5_begin(wsp_socks5 *s, const wsp_proxy *p, const char *host, uint16_t port,
                     uint8_t *out, size_t *out_len, wsp_err *err);

/* Feed bytes from the proxy. *used says how many were taken. Returns 1 when the tunnel is
 * open (bytes after *used belong to the tunnel); 0 when more is needed: send the *out_len
 * bytes put in out, if any, then feed the bytes after *used again; -1 with err. */
int wsp_socks5_feed(wsp_socks5 *s, const uint8_t *in, size_t len, size_t *used, uint8_t *out,
                    size_t *out_len, wsp_err *err);

/* The RFC 1928 6 name of a reply code ("connection refused"), or "unassigned". */
const char *wsp_socks5_reply_name(int rep);

#endif
