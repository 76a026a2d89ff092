/* rawclient.h - a small blocking client for the requests a WebSocket client library would
 * never write: a wrong Sec-WebSocket-Version, Hixie-76, a request dripped one header line at a
 * time, a plain GET where HSTS is judged. The security checks need bytes on the wire at a
 * chosen pace and nothing else, so this client is a socket, poll(2) with a deadline on every
 * wait, and OpenSSL on the same descriptor for wss:// (certificates are not verified: what it
 * probes is the HTTP layer; tls.certificate judges the certificate with the engine). Why not
 * net/conn.h: conn speaks only RFC 6455 correctly, and a check runs on its own worker thread,
 * where blocking costs nothing. Writes use MSG_NOSIGNAL. */
#ifndef WSP_RAWCLIENT_H
#define WSP_RAWCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "codec/url.h"
#include "net/conn.h"

typedef struct wsp_rawc {
    int fd;
    SSL *ssl;
    uint64_t deadline_ns; /* CLOCK_MONOTONIC (util/clock.h): every wait ends by it */
} wsp_rawc;

/* Connect to u (o's pinned addresses, family and TLS context are honoured), with TLS when the
 * URL says so, by deadline_ns. Returns 0, or -1 with a sentence in why. */
int wsp_rawc_open(wsp_rawc *c, const wsp_url *u, const wsp_conn_opts *o, uint64_t deadline_ns,
                  char *why, size_t cap);
void wsp_rawc_close(wsp_rawc *c);
/* Returns 0, or -1 when the peer is gone or the deadline passed. */
int wsp_rawc_write(wsp_rawc *c, const void *data, size_t len);
/* Read what is there within until_ns: > 0 bytes, 0 when the peer closed, -1 on an error,
 * -2 when nothing came in time. */
ssize_t wsp_rawc_read(wsp_rawc *c, void *buf, size_t cap, uint64_t until_ns);
/* Send a request and read the status line and head. status 0 when the peer closed without a
 * status line, -1 when nothing came in time. head gets the head (NUL-terminated). */
int wsp_rawc_exchange(wsp_rawc *c, const char *req, size_t len, int *status, char *head,
                      size_t cap);

#endif
