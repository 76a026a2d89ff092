/* tls.c - see tls.h. */
#include "net/tls.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "util/excerpt.h"
#include "util/files.h"

/* Read and clear OpenSSL's error queue into a short text; returns the first error code. */
static unsigned long drain_errors(char *buf, size_t cap)
{
    unsigned long first = 0, e;
    size_t off = 0;
    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        if (!first)
            first = e;
        const char *r = ERR_reason_error_string(e);
        if (r && off + 3 < cap) {
            int n = snprintf(buf + off, cap - off, "%s%s", off ? "; " : "", r);
            if (n > 0)
                off += (size_t)n < cap - off ? (size_t)n : cap - off - 1;
        }
    }
    return first;
}

int wsp_tls_version_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "1.0") == 0)
        return TLS1_VERSION;
    if (strcmp(s, "1.1") == 0)
        return TLS1_1_VERSION;
    if (strcmp(s, "1.2") == 0)
        return TLS1_2_VERSION;
    if (strcmp(s, "1.3") == 0)
        return TLS1_3_VERSION;
    return -1;
}

/* "h2,http/1.1" -> ALPN wire format (length-prefixed). */
static int set_alpn(SSL_CTX *ctx, const char *list)
{
    unsigned char wire[256];
    size_t off = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || n > 255 || off + 1 + n > sizeof wire)
            return -1;
        wire[off++] = (unsigned char)n;
        memcpy(wire + off, p, n);
        off += n;
        p += n + (end ? 1 : 0);
    }
    return SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)off) == 0 ? 0 : -1;
}

/* The system's trust store. Parsing the whole bundle (cert.pem, ~140 CAs) costs ~15 ms of CPU
 * on every run; the hashed directory (/etc/ssl/certs, kept by ca-certificates) is read lazily,
 * only the issuer a chain needs. SSL_CERT_FILE, when set, is honoured as OpenSSL would. */
static bool hashed_dir(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    /* c_rehash names: eight hex digits, a dot, a digit */
    while (!found && (e = readdir(d)) != NULL)
        found = strlen(e->d_name) == 10 && e->d_name[8] == '.' &&
                strspn(e->d_name, "0123456789abcdef") == 8;
    closedir(d);
    return found;
}

static bool system_trust(SSL_CTX *ctx)
{
    const char *file = getenv(X509_get_default_cert_file_env());
    if (file && *file)
        return SSL_CTX_load_verify_file(ctx, file) == 1;
    const char *dir = getenv(X509_get_default_cert_dir_env());
    if (hashed_dir(dir && *dir ? dir : X509_get_default_cert_dir()))
        return SSL_CTX_set_default_verify_dir(ctx) == 1;
    /* no hashed directory (some distributions ship only the bundle): read the bundle */
    return SSL_CTX_set_default_verify_file(ctx) == 1;
}

SSL_CTX *wsp_tls_client_ctx_new(const wsp_tls_config *cfg, wsp_err *err)
{
    char eb[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        drain_errors(eb, sizeof eb);
        wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot create a TLS context: %s", eb);
        return NULL;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
    if (cfg->min_version > 0) {
        /* Old versions are offered only when asked for; OpenSSL's security level 1 would
         * refuse TLS 1.0/1.1 outright, so lower it for explicit probes of those versions. */
        if (cfg->min_version < TLS1_2_VERSION)
            SSL_CTX_set_security_level(ctx, 0);
        SSL_CTX_set_min_proto_version(ctx, cfg->min_version);
    } else {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    }
    if (cfg->max_version > 0)
        SSL_CTX_set_max_proto_version(ctx, cfg->max_version);
    /* OpenSSL opens these by name: a FIFO would hang it, a device never end */
    if ((cfg->cacert && wsp_file_check("--cacert", cfg->cacert, err) != 0) ||
        (cfg->cert && wsp_file_check("--cert", cfg->cert, err) != 0) ||
        (cfg->key && wsp_file_check("--key", cfg->key, err) != 0)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cfg->cacert) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->cacert, NULL) != 1) {
            drain_errors(eb, sizeof eb);
            wsp_err_set(err, WSP_CLASS_USAGE, "--cacert %s: cannot load: %s", cfg->cacert, eb);
            wsp_err_hint(err, "give a PEM file with one or more CA certificates");
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (!system_trust(ctx)) {
        drain_errors(eb, sizeof eb);
    }
    if (cfg->cert) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
            drain_errors(eb, sizeof eb);
            wsp_err_set(err, WSP_CLASS_USAGE, "--cert %s: cannot load: %s", cfg->cert, eb);
            SSL_CTX_free(ctx);
            return NULL;
        }
        const char *key = cfg->key ? cfg->key : cfg->cert;
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            drain_errors(eb, sizeof eb);
            wsp_err_set(err, WSP_CLASS_USAGE, "--key %s: cannot load or does not match --cert: %s",
                        key, eb);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    if (cfg->alpn && set_alpn(ctx, cfg->alpn) != 0) {
        wsp_err_set(err, WSP_CLASS_USAGE, "bad ALPN list '%s'", cfg->alpn);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Verification is decided per session (wsp_tls_init_client): the chain is always checked
     * and reported; only the failure policy changes with --insecure. */
    SSL_CTX_set_verify(ctx, cfg->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    return ctx;
}

SSL_CTX *wsp_tls_server_ctx_new(const char *cert, const char *key, wsp_err *err)
{
    char eb[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        drain_errors(eb, sizeof eb);
        wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot create a TLS context: %s", eb);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
    if (wsp_file_check("--cert", cert, err) != 0 || wsp_file_check("--key", key, err) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        drain_errors(eb, sizeof eb);
        wsp_err_set(err, WSP_CLASS_USAGE, "--cert %s: cannot load: %s", cert, eb);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        drain_errors(eb, sizeof eb);
        wsp_err_set(err, WSP_CLASS_USAGE, "--key %s: cannot load or does not match --cert: %s", key,
                    eb);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int tls_ex_index = -1;
static pthread_once_t tls_ex_once = PTHREAD_ONCE_INIT;

static void tls_ex_init(void)
{
    tls_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Keep the leaf certificate even when verification fails, so the report can show what the
 * server presented (subject, SANs, dates). The decision itself is OpenSSL's (preverify_ok). */
static int verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    wsp_tls *t = ssl && tls_ex_index >= 0 ? SSL_get_ex_data(ssl, tls_ex_index) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    if (t && !t->leaf && leaf && X509_up_ref(leaf) == 1)
        t->leaf = leaf;
    return preverify_ok;
}

/* ---- the network side: a BIO over the session's two queues ---- */

/* TLS input waiting for OpenSSL: every caller drains it after each feed, so more than this is
 * a caller that does not, refused rather than grown without end. Output is the application's
 * own plaintext, bounded by its message limits. */
#define IN_MAX (4u << 20)

static size_t queue_len(const wsp_tls_queue *q)
{
    return q->b.len - q->off;
}

static int queue_push(wsp_tls_queue *q, const void *data, size_t n)
{
    if (q->off && q->b.len + n > q->b.cap) { /* reuse the room taken bytes left first */
        memmove(q->b.p, q->b.p + q->off, queue_len(q));
        q->b.len -= q->off;
        q->off = 0;
    }
    return wsp_buf_put(&q->b, data, n);
}

static size_t queue_pop(wsp_tls_queue *q, void *buf, size_t cap)
{
    size_t n = queue_len(q) < cap ? queue_len(q) : cap;
    if (n == 0)
        return 0;
    memcpy(buf, q->b.p + q->off, n);
    q->off += n;
    if (q->off == q->b.len) { /* drained: an idle session keeps no buffer */
        wsp_buf_free(&q->b);
        q->off = 0;
    }
    return n;
}

static int bio_write(BIO *b, const char *data, int len)
{
    wsp_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    return queue_push(&t->out, data, (size_t)len) == 0 ? len : -1;
}

static int bio_read(BIO *b, char *buf, int cap)
{
    wsp_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (cap <= 0)
        return 0;
    size_t n = queue_pop(&t->in, buf, (size_t)cap);
    if (n == 0) {
        BIO_set_retry_read(b); /* nothing yet reads as "retry", never as EOF */
        return -1;
    }
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    wsp_tls *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* the caller moves the out queue to the network */
    case BIO_CTRL_PENDING:
        return (long)queue_len(&t->in);
    case BIO_CTRL_WPENDING:
        return (long)queue_len(&t->out);
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsprobe queues");
    if (m && (BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
              BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1)) {
        BIO_meth_free(m);
        m = NULL;
    }
    bio_method = m; /* one for the process, never freed */
}

/* OpenSSL's record buffers back to the heap when they hold nothing (it declines otherwise). */
static void release_buffers(wsp_tls *t)
{
    if (t->handshake_done)
        SSL_free_buffers(t->ssl);
}

static int init_common(wsp_tls *t, SSL_CTX *ctx, wsp_err *err)
{
    memset(t, 0, sizeof *t);
    pthread_once(&bio_once, bio_method_init);
    BIO *b = bio_method ? BIO_new(bio_method) : NULL;
    t->ssl = b ? SSL_new(ctx) : NULL;
    if (!t->ssl) {
        BIO_free(b);
        memset(t, 0, sizeof *t);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory creating a TLS session");
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b); /* the SSL now owns the BIO (one reference for both ways) */
    return 0;
}

int wsp_tls_init_client(wsp_tls *t, SSL_CTX *ctx, const char *host, bool host_is_ip, bool verify,
                        wsp_err *err)
{
    if (init_common(t, ctx, err) != 0)
        return -1;
    t->is_client = true;
    if (!(t->host = strdup(host))) {
        wsp_tls_cleanup(t);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory creating a TLS session");
    }
    /* RFC 6066 3: literal IP addresses are not permitted in SNI. */
    if (!host_is_ip)
        SSL_set_tlsext_host_name(t->ssl, t->host); /* the macro casts away const */
    X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                        : X509_VERIFY_PARAM_set1_host(param, host, 0);
    if (ok != 1) {
        wsp_tls_cleanup(t);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot set the name to verify");
    }
    pthread_once(&tls_ex_once, tls_ex_init); /* probes run on several threads (check.h) */
    SSL_set_ex_data(t->ssl, tls_ex_index, t);
    SSL_set_verify(t->ssl, verify ? SSL_get_verify_mode(t->ssl) : SSL_VERIFY_NONE, verify_cb);
    SSL_set_connect_state(t->ssl);
    return 0;
}

int wsp_tls_init_server(wsp_tls *t, SSL_CTX *ctx, wsp_err *err)
{
    if (init_common(t, ctx, err) != 0)
        return -1;
    SSL_set_accept_state(t->ssl);
    return 0;
}

void wsp_tls_cleanup(wsp_tls *t)
{
    X509_free(t->leaf);
    if (t->ssl)
        SSL_free(t->ssl); /* frees the BIO */
    wsp_buf_free(&t->in.b);
    wsp_buf_free(&t->out.b);
    free(t->host);
    memset(t, 0, sizeof *t);
}

int wsp_tls_feed(wsp_tls *t, const void *data, size_t len, wsp_err *err)
{
    if (len == 0)
        return 0;
    if (!t->saw_first_byte) {
        t->saw_first_byte = true;
        /* RFC 8446 5.1: a record starts with a content type 20..24 then version major 3. An
         * answer that starts with anything else (typically "HTTP/1.1 400") is not TLS. */
        const unsigned char *b = data;
        if (b[0] < 20 || b[0] > 24 || (len > 1 && b[1] != 3)) {
            t->plaintext_peer = true;
            char first[24];
            wsp_excerpt_line(first, sizeof first, b, len);
            wsp_err_set(err, WSP_CLASS_TLS_TO_PLAINTEXT,
                        "the server answered the TLS ClientHello with plaintext (\"%s\")", first);
            return -1;
        }
    }
    if (queue_len(&t->in) + len > IN_MAX)
        return wsp_err_set(err, WSP_CLASS_INTERNAL,
                           "more than %u MiB of TLS input waiting: the caller does not read it",
                           IN_MAX >> 20);
    if (queue_push(&t->in, data, len) != 0)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory buffering TLS input");
    return 0;
}

/* Classify a failed handshake: the verify result first (it is precise), then the error queue. */
static int classify_failure(wsp_tls *t, int ret, wsp_err *err)
{
    char eb[256];
    int sslerr = SSL_get_error(t->ssl, ret);
    unsigned long code = drain_errors(eb, sizeof eb);
    long vr = SSL_get_verify_result(t->ssl);
    if (t->is_client && vr != X509_V_OK && SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE) {
        const char *vs = X509_verify_cert_error_string(vr);
        switch (vr) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
            wsp_err_set(err, WSP_CLASS_CERT_EXPIRED, "certificate verification failed: %s", vs);
            break;
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            wsp_err_set(err, WSP_CLASS_CERT_NAME_MISMATCH, "certificate does not cover '%s': %s",
                        t->host, vs);
            break;
        default:
            wsp_err_set(err, WSP_CLASS_CERT_UNTRUSTED, "certificate verification failed: %s", vs);
            break;
        }
        if (err)
            err->tls_err = (unsigned long)vr;
        return -1;
    }
    if (code && ERR_GET_LIB(code) == ERR_LIB_SSL) {
        int reason = ERR_GET_REASON(code);
        if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
            reason == SSL_R_PACKET_LENGTH_TOO_LONG) {
            wsp_err_set(err, WSP_CLASS_TLS_TO_PLAINTEXT, "the peer does not speak TLS: %s", eb);
            if (err)
                err->tls_err = code;
            return -1;
        }
    }
    if (sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_ZERO_RETURN)
        wsp_err_set(err, WSP_CLASS_TLS_HANDSHAKE, "the TLS handshake ended early%s%s",
                    eb[0] ? ": " : "", eb);
    else
        wsp_err_set(err, WSP_CLASS_TLS_HANDSHAKE, "TLS handshake failed: %s",
                    eb[0] ? eb : "unknown error");
    if (err)
        err->tls_err = code;
    return -1;
}

int wsp_tls_handshake(wsp_tls *t, wsp_err *err)
{
    if (t->handshake_done)
        return 1;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->handshake_done = true;
        /* what only a failed handshake would have reported: the session has the peer's
         * certificate now (wsp_tls_get_info reads it there) */
        free(t->host);
        t->host = NULL;
        X509_free(t->leaf);
        t->leaf = NULL;
        release_buffers(t);
        return 1;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    return classify_failure(t, r, err);
}

ssize_t wsp_tls_read(wsp_tls *t, void *buf, size_t cap, wsp_err *err)
{
    size_t got = 0;
    ERR_clear_error();
    int r = SSL_read_ex(t->ssl, buf, cap, &got);
    if (r == 1)
        return (ssize_t)got;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        release_buffers(t); /* all input read: what stays is the session alone */
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        t->close_notify = true;
        return -2;
    }
    char eb[256];
    unsigned long code = drain_errors(eb, sizeof eb);
    wsp_err_set(err, WSP_CLASS_WS_DROPPED, "TLS error while reading: %s", eb[0] ? eb : "unknown");
    if (err)
        err->tls_err = code;
    return -1;
}

int wsp_tls_write(wsp_tls *t, const void *buf, size_t len, wsp_err *err)
{
    const unsigned char *p = buf;
    ERR_clear_error();
    while (len > 0) {
        size_t w = 0;
        if (SSL_write_ex(t->ssl, p, len, &w) != 1) {
            if (t->out.b.failed) { /* our queue, not the session */
                ERR_clear_error();
                return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory buffering TLS output");
            }
            char eb[256];
            unsigned long code = drain_errors(eb, sizeof eb);
            wsp_err_set(err, WSP_CLASS_WS_DROPPED, "TLS error while writing: %s",
                        eb[0] ? eb : "unknown");
            if (err)
                err->tls_err = code;
            return -1;
        }
        p += w;
        len -= w;
    }
    return 0;
}

size_t wsp_tls_pending_out(const wsp_tls *t)
{
    return queue_len(&t->out);
}

size_t wsp_tls_take_out(wsp_tls *t, void *buf, size_t cap)
{
    return queue_pop(&t->out, buf, cap);
}

static void name_oneline(const X509_NAME *n, char *out, size_t cap)
{
    out[0] = '\0';
    if (!n)
        return;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    int len = BIO_read(b, out, (int)cap - 1);
    out[len > 0 ? len : 0] = '\0';
    BIO_free(b);
}

void wsp_tls_get_info(const wsp_tls *t, wsp_tls_info *info)
{
    memset(info, 0, sizeof *info);
    if (!t->ssl)
        return;
    snprintf(info->version, sizeof info->version, "%s", SSL_get_version(t->ssl));
    const char *c = SSL_get_cipher_name(t->ssl);
    snprintf(info->cipher, sizeof info->cipher, "%s", c ? c : "");
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
    if (alpn && alpn_len < sizeof info->alpn) {
        memcpy(info->alpn, alpn, alpn_len);
        info->alpn[alpn_len] = '\0';
    }
    const char *sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(info->sni, sizeof info->sni, "%s", sni ? sni : "");
    long vr = SSL_get_verify_result(t->ssl);
    info->verified = vr == X509_V_OK;
    if (!info->verified)
        snprintf(info->verify_error, sizeof info->verify_error, "%s",
                 X509_verify_cert_error_string(vr));
    X509 *cert = SSL_get1_peer_certificate(t->ssl);
    if (!cert && t->leaf && X509_up_ref(t->leaf) == 1)
        cert = t->leaf;
    if (!cert) {
        info->verified = false;
        return;
    }
    info->have_cert = true;
    name_oneline(X509_get_subject_name(cert), info->subject, sizeof info->subject);
    name_oneline(X509_get_issuer_name(cert), info->issuer, sizeof info->issuer);
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)))
        info->days_left = days - (secs < 0 ? 1 : 0);
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
        info->not_after = (long long)timegm(&tm);
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && info->num_sans < 8; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char *dst = info->sans[info->num_sans];
        if (g->type == GEN_DNS) {
            const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
            int n = ASN1_STRING_length(g->d.dNSName);
            snprintf(dst, 128, "DNS:%.*s", n, (const char *)s);
            info->num_sans++;
        } else if (g->type == GEN_IPADD) {
            const unsigned char *s = ASN1_STRING_get0_data(g->d.iPAddress);
            int n = ASN1_STRING_length(g->d.iPAddress);
            if (n == 4)
                snprintf(dst, 128, "IP:%u.%u.%u.%u", s[0], s[1], s[2], s[3]);
            else if (n == 16) {
                int o = snprintf(dst, 128, "IP:");
                for (int k = 0; k < 16; k += 2)
                    o += snprintf(dst + o, (size_t)(128 - o), "%s%x", k ? ":" : "",
                                  (unsigned)(s[k] << 8 | s[k + 1]));
            } else
                continue;
            info->num_sans++;
        }
    }
    GENERAL_NAMES_free(gens);
    X509_free(cert);
}
