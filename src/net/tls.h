/* tls.h - TLS over in-memory queues, so one event loop drives plaintext and TLS alike: the
 * network side feeds ciphertext in and takes ciphertext out; the application reads and writes
 * plaintext.
 * Used by the client engine (conn.h) and the reference server. OpenSSL 3.
 *
 * Failures are classified where they happen (the OpenSSL error queue is read and cleared there):
 * CERT_EXPIRED, CERT_NAME_MISMATCH, CERT_UNTRUSTED, TLS_TO_PLAINTEXT, TLS_HANDSHAKE. */
#ifndef WSP_TLS_H
#define WSP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "util/buf.h"
#include "util/error.h"

typedef struct wsp_tls_config {
    bool insecure;      /* skip chain and name verification (still reported) */
    const char *cacert; /* PEM bundle to trust instead of the system store; NULL: system */
    const char *cert;   /* client certificate (mutual TLS), PEM; NULL: none */
    const char *key;    /* its private key, PEM */
    int min_version;    /* TLS1_2_VERSION, TLS1_3_VERSION, ...; 0: OpenSSL's default */
    int max_version;    /* 0: highest */
    const char *alpn;   /* comma-separated protocols to offer, e.g. "http/1.1"; NULL: none */
} wsp_tls_config;

/* A client context for many connections. Returns NULL with `err` (USAGE for unreadable files,
 * TLS_HANDSHAKE otherwise). Free with SSL_CTX_free. */
SSL_CTX *wsp_tls_client_ctx_new(const wsp_tls_config *cfg, wsp_err *err);
/* A server context from a certificate chain and key (PEM files). */
SSL_CTX *wsp_tls_server_ctx_new(const char *cert, const char *key, wsp_err *err);

/* Parse "1.0" "1.1" "1.2" "1.3" into a protocol version; -1 when unknown. */
int wsp_tls_version_parse(const char *s);

/* Ciphertext waiting one way: the bytes are b.p[off .. b.len), and b is freed when they are
 * all taken, so the buffer exists only while it holds bytes. */
typedef struct wsp_tls_queue {
    wsp_buf b;
    size_t off;
} wsp_tls_queue;

/* One session. Idle, it keeps only what OpenSSL needs: the network-side queues are freed when
 * they drain and OpenSSL's record buffers are handed back whenever they are empty (a memory
 * BIO would keep the largest flight or burst it ever held, and OpenSSL 3.0 keeps its 16 KiB
 * read buffer after some reads, SSL_MODE_RELEASE_BUFFERS notwithstanding). */
typedef struct wsp_tls {
    SSL *ssl;
    wsp_tls_queue in;  /* ciphertext from the network -> OpenSSL */
    wsp_tls_queue out; /* OpenSSL -> ciphertext for the network */
    bool is_client;
    bool handshake_done;
    bool saw_first_byte;
    bool plaintext_peer; /* the first bytes from the peer were not a TLS record */
    bool close_notify;   /* the peer sent close_notify */
    char *host;          /* heap until the handshake ends: the name a mismatch reports */
    X509 *leaf; /* the server's certificate as seen during verification (kept on failure) */
} wsp_tls;

/* Set up a client session: SNI (not for IP literals, RFC 6066 3) and, unless the context is
 * insecure, host name or IP verification. The context is borrowed and must outlive the
 * session. Returns 0 or -1 with err. */
int wsp_tls_init_client(wsp_tls *t, SSL_CTX *ctx, const char *host, bool host_is_ip, bool verify,
                        wsp_err *err);
int wsp_tls_init_server(wsp_tls *t, SSL_CTX *ctx, wsp_err *err);
void wsp_tls_cleanup(wsp_tls *t);

/* Hand ciphertext from the network to OpenSSL. Returns 0, or -1 with err (the peer speaks
 * plain HTTP: TLS_TO_PLAINTEXT). */
int wsp_tls_feed(wsp_tls *t, const void *data, size_t len, wsp_err *err);

/* Advance the handshake. Returns 1 when complete, 0 when it needs more input (send what
 * wsp_tls_take_out gives first), -1 with err classified. */
int wsp_tls_handshake(wsp_tls *t, wsp_err *err);

/* Decrypt into buf. Returns bytes (> 0), 0 when it needs more input, -1 with err on a TLS
 * error, and -2 when the peer closed the TLS session (close_notify). */
ssize_t wsp_tls_read(wsp_tls *t, void *buf, size_t cap, wsp_err *err);

/* Encrypt plaintext; the records go to the out queue. Returns 0 or -1 with err. */
int wsp_tls_write(wsp_tls *t, const void *buf, size_t len, wsp_err *err);

/* Bytes waiting to be sent to the network. */
size_t wsp_tls_pending_out(const wsp_tls *t);
/* Move up to `cap` waiting bytes into buf; returns how many. */
size_t wsp_tls_take_out(wsp_tls *t, void *buf, size_t cap);

/* What the handshake negotiated and what the certificate says, for reports. */
typedef struct wsp_tls_info {
    char version[16];
    char cipher[64];
    char alpn[32];
    char sni[256];
    char subject[256];
    char issuer[256];
    char sans[8][128];
    int num_sans;
    int days_left;       /* whole days until notAfter; negative when expired */
    long long not_after; /* notAfter in Unix seconds (0: not read) */
    bool have_cert;
    bool verified;
    char verify_error[128]; /* empty when verified */
} wsp_tls_info;

void wsp_tls_get_info(const wsp_tls *t, wsp_tls_info *info);

#endif
