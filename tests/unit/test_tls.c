/* test_tls.c - TLS over in-memory queues, both ends in this process: a PKI made here with OpenSSL's
 * C API (a CA; leaves for localhost/127.0.0.1/::1, for another name, for wildcards; an expired, a
 * not-yet-valid and a self-signed leaf; a leaf from a CA nobody trusts), a wsp_tls client and a
 * wsp_tls server driven against each other by shuttling the bytes each one wants to send
 * (exact-size heap buffers, whole and one byte at a time), and the verdict of each case: the
 * class, the verify error, and what wsp_tls_info reports (kept on failure too). Then plaintext
 * both ways, close_notify, plaintext peers, ALPN, version limits and context errors.
 *
 * The server's context comes from wsp_tls_server_ctx_new (the leaf and its key written as PEM
 * to a private temporary folder); the client's from wsp_tls_client_ctx_new, with the test CA
 * added to its store (X509_STORE_add_cert) or given as --cacert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/tls.h"

#define DAY 86400L

/* ---- the PKI ---- */

typedef enum leaf_kind {
    LEAF_GOOD,     /* localhost, 127.0.0.1, ::1; signed by the CA */
    LEAF_WRONG,    /* wrong.example only */
    LEAF_EXPIRED,  /* localhost, expired 10.5 days ago */
    LEAF_FUTURE,   /* localhost, valid in 10 days */
    LEAF_SELF,     /* localhost, self-signed */
    LEAF_OTHER_CA, /* localhost, signed by a CA the client does not trust */
    LEAF_WILDCARD, /* *.wild.test and the partial wildcard x*.part.test */
    LEAF_COUNT,
} leaf_kind;

typedef struct pki {
    char dir[64];
    EVP_PKEY *ca_key, *other_ca_key, *leaf_key, *stray_key;
    X509 *ca, *other_ca;
    X509 *leaf[LEAF_COUNT];
    char cert_path[LEAF_COUNT][128];
    char key_path[128], stray_key_path[128], ca_path[128];
    SSL_CTX *server[LEAF_COUNT];
    SSL_CTX *client;          /* trusts the CA (X509_STORE_add_cert) */
    SSL_CTX *client_cacert;   /* trusts the CA (--cacert file) */
    SSL_CTX *client_untrusty; /* trusts only the system store */
} pki;

static pki P;

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for `key`, valid [not_before, not_after] (absolute times), signed by issuer
 * (NULL: self-signed). */
static X509 *make_cert(const char *cn, const char *sans, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key, time_t not_before, time_t not_after, bool ca)
{
    static long serial = 1;
    X509 *c = X509_new();
    assert_non_null(c);
    assert_int_equal(X509_set_version(c, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(c), not_before));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(c), not_after));
    assert_int_equal(X509_set_pubkey(c, key), 1);
    X509_NAME *name = X509_get_subject_name(c);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                                (const unsigned char *)"wsprobe tests", -1, -1, 0),
                     1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
        1);
    X509 *iss = issuer ? issuer : c;
    assert_int_equal(X509_set_issuer_name(c, X509_get_subject_name(iss)), 1);
    if (ca) {
        add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(c, iss, NID_basic_constraints, "CA:FALSE");
        add_ext(c, iss, NID_key_usage, "critical,digitalSignature");
        add_ext(c, iss, NID_ext_key_usage, "serverAuth");
    }
    add_ext(c, iss, NID_subject_key_identifier, "hash");
    if (sans)
        add_ext(c, iss, NID_subject_alt_name, sans);
    assert_true(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return c;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert)
        assert_int_equal(PEM_write_X509(f, cert), 1);
    if (key)
        assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(f), 0);
}

static int pki_setup(void **state)
{
    (void)state;
    memset(&P, 0, sizeof P);
    snprintf(P.dir, sizeof P.dir, "/tmp/wsp-test-tls-XXXXXX");
    assert_non_null(mkdtemp(P.dir));
    time_t now = time(NULL);
    P.ca_key = EVP_EC_gen("P-256");
    P.other_ca_key = EVP_EC_gen("P-256");
    P.leaf_key = EVP_EC_gen("P-256");
    P.stray_key = EVP_EC_gen("P-256");
    assert_true(P.ca_key && P.other_ca_key && P.leaf_key && P.stray_key);
    P.ca =
        make_cert("wsprobe test CA", NULL, P.ca_key, NULL, NULL, now - DAY, now + 365 * DAY, true);
    P.other_ca = make_cert("someone else's CA", NULL, P.other_ca_key, NULL, NULL, now - DAY,
                           now + 365 * DAY, true);
    /* 30.5 days left: days_left is exactly 30 whatever second the test runs in */
    time_t good_end = now + 30 * DAY + DAY / 2;
    const char *local = "DNS:localhost,IP:127.0.0.1,IP:::1";
    P.leaf[LEAF_GOOD] =
        make_cert("localhost", local, P.leaf_key, P.ca, P.ca_key, now - DAY, good_end, false);
    P.leaf[LEAF_WRONG] = make_cert("wrong.example", "DNS:wrong.example", P.leaf_key, P.ca, P.ca_key,
                                   now - DAY, good_end, false);
    /* half days again: days_left is -11 (whole days, rounded down) and 100 */
    P.leaf[LEAF_EXPIRED] = make_cert("localhost", local, P.leaf_key, P.ca, P.ca_key, now - 40 * DAY,
                                     now - 10 * DAY - DAY / 2, false);
    P.leaf[LEAF_FUTURE] = make_cert("localhost", local, P.leaf_key, P.ca, P.ca_key, now + 10 * DAY,
                                    now + 100 * DAY + DAY / 2, false);
    P.leaf[LEAF_SELF] =
        make_cert("localhost", local, P.leaf_key, NULL, NULL, now - DAY, good_end, false);
    P.leaf[LEAF_OTHER_CA] = make_cert("localhost", local, P.leaf_key, P.other_ca, P.other_ca_key,
                                      now - DAY, good_end, false);
    P.leaf[LEAF_WILDCARD] = make_cert("*.wild.test", "DNS:*.wild.test,DNS:x*.part.test", P.leaf_key,
                                      P.ca, P.ca_key, now - DAY, good_end, false);

    snprintf(P.key_path, sizeof P.key_path, "%s/leaf.key", P.dir);
    snprintf(P.stray_key_path, sizeof P.stray_key_path, "%s/stray.key", P.dir);
    snprintf(P.ca_path, sizeof P.ca_path, "%s/ca.pem", P.dir);
    write_pem(P.key_path, NULL, P.leaf_key);
    write_pem(P.stray_key_path, NULL, P.stray_key);
    write_pem(P.ca_path, P.ca, NULL);
    for (int i = 0; i < LEAF_COUNT; i++) {
        snprintf(P.cert_path[i], sizeof P.cert_path[i], "%s/leaf%d.pem", P.dir, i);
        write_pem(P.cert_path[i], P.leaf[i], NULL);
        wsp_err e;
        wsp_err_clear(&e);
        P.server[i] = wsp_tls_server_ctx_new(P.cert_path[i], P.key_path, &e);
        if (!P.server[i])
            fail_msg("server context %d: %s", i, e.msg);
    }
    wsp_tls_config cfg = {0};
    wsp_err e;
    P.client = wsp_tls_client_ctx_new(&cfg, &e);
    assert_non_null(P.client);
    assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(P.client), P.ca), 1);
    P.client_untrusty = wsp_tls_client_ctx_new(&cfg, &e);
    assert_non_null(P.client_untrusty);
    cfg.cacert = P.ca_path;
    P.client_cacert = wsp_tls_client_ctx_new(&cfg, &e);
    assert_non_null(P.client_cacert);
    return 0;
}

static int pki_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < LEAF_COUNT; i++) {
        SSL_CTX_free(P.server[i]);
        X509_free(P.leaf[i]);
        unlink(P.cert_path[i]);
    }
    SSL_CTX_free(P.client);
    SSL_CTX_free(P.client_cacert);
    SSL_CTX_free(P.client_untrusty);
    X509_free(P.ca);
    X509_free(P.other_ca);
    EVP_PKEY_free(P.ca_key);
    EVP_PKEY_free(P.other_ca_key);
    EVP_PKEY_free(P.leaf_key);
    EVP_PKEY_free(P.stray_key);
    unlink(P.key_path);
    unlink(P.stray_key_path);
    unlink(P.ca_path);
    rmdir(P.dir);
    return 0;
}

/* ---- the in-memory wire ---- */

/* Move everything `from` wants to send into `to`, in one exact-size buffer or a byte at a
 * time. Returns the bytes moved, or -1 when `to` refused them (err set). */
static long shuttle(wsp_tls *from, wsp_tls *to, bool bytewise, wsp_err *err)
{
    long moved = 0;
    size_t n;
    while ((n = wsp_tls_pending_out(from)) > 0) {
        uint8_t *buf = malloc(n);
        assert_non_null(buf);
        size_t got = wsp_tls_take_out(from, buf, n);
        assert_int_equal(got, n);
        assert_int_equal(wsp_tls_pending_out(from), 0);
        int r = 0;
        if (!bytewise) {
            r = wsp_tls_feed(to, buf, got, err);
        } else {
            for (size_t i = 0; i < got && r == 0; i++) {
                uint8_t *one = malloc(1);
                assert_non_null(one);
                *one = buf[i];
                r = wsp_tls_feed(to, one, 1, err);
                free(one);
            }
        }
        free(buf);
        if (r != 0)
            return -1;
        moved += (long)got;
    }
    return moved;
}

typedef struct hs_result {
    int client, server; /* wsp_tls_handshake's last answer on each side */
    wsp_err cerr, serr;
} hs_result;

/* Handshake until both sides are done or one failed and nothing is left to deliver. */
static hs_result handshake(wsp_tls *c, wsp_tls *s, bool bytewise)
{
    hs_result r = {0, 0, {0}, {0}};
    wsp_err_clear(&r.cerr);
    wsp_err_clear(&r.serr);
    for (int round = 0; round < 20; round++) {
        if (r.client == 0)
            r.client = wsp_tls_handshake(c, &r.cerr);
        long a = shuttle(c, s, bytewise, &r.serr);
        assert_true(a >= 0);
        if (r.server == 0)
            r.server = wsp_tls_handshake(s, &r.serr);
        long b = shuttle(s, c, bytewise, &r.cerr);
        assert_true(b >= 0);
        if (r.client != 0 && r.server != 0)
            break;
        if ((r.client < 0 || r.server < 0) && a == 0 && b == 0)
            break;
    }
    /* a finished side keeps answering 1 */
    if (r.client == 1)
        assert_int_equal(wsp_tls_handshake(c, NULL), 1);
    return r;
}

typedef struct tcase {
    const char *name;
    leaf_kind leaf;
    SSL_CTX **client_ctx;
    const char *host;
    bool host_is_ip, verify;
    wsp_class want;
    long want_verify; /* X509_V_OK or the X509_V_ERR_... in err.tls_err and the info */
} tcase;

/* Returns the client's error record. */
static wsp_err run_case(const tcase *tc, bool bytewise, wsp_tls_info *ci, wsp_tls_info *si)
{
    wsp_tls c, s;
    wsp_err e;
    assert_int_equal(
        wsp_tls_init_client(&c, *tc->client_ctx, tc->host, tc->host_is_ip, tc->verify, &e), 0);
    assert_int_equal(wsp_tls_init_server(&s, P.server[tc->leaf], &e), 0);
    hs_result r = handshake(&c, &s, bytewise);
    if (tc->want == WSP_CLASS_OK) {
        if (r.client != 1 || r.server != 1)
            fail_msg("%s: handshake %d/%d: %s / %s", tc->name, r.client, r.server, r.cerr.msg,
                     r.serr.msg);
        assert_int_equal(r.cerr.cls, WSP_CLASS_OK);
        assert_true(c.handshake_done && s.handshake_done);
    } else {
        if (r.client != -1)
            fail_msg("%s: the client's handshake gave %d, want -1", tc->name, r.client);
        if (r.cerr.cls != tc->want)
            fail_msg("%s: class %s (%s), want %s", tc->name, wsp_class_name(r.cerr.cls), r.cerr.msg,
                     wsp_class_name(tc->want));
        if ((long)r.cerr.tls_err != tc->want_verify)
            fail_msg("%s: tls_err %lu, want %ld", tc->name, r.cerr.tls_err, tc->want_verify);
        assert_true(r.cerr.msg[0] != '\0');
        assert_true(r.cerr.hint[0] != '\0');
        /* the client's alert ends the server's handshake too */
        if (r.server != -1)
            fail_msg("%s: the server's handshake gave %d after the client's alert", tc->name,
                     r.server);
        assert_int_equal(r.serr.cls, WSP_CLASS_TLS_HANDSHAKE);
        assert_false(c.handshake_done);
    }
    wsp_tls_get_info(&c, ci);
    wsp_tls_get_info(&s, si);
    if (ci->verified != (tc->want_verify == X509_V_OK))
        fail_msg("%s: verified %d", tc->name, ci->verified);
    if (tc->want_verify != X509_V_OK &&
        strcmp(ci->verify_error, X509_verify_cert_error_string(tc->want_verify)) != 0)
        fail_msg("%s: verify_error '%s'", tc->name, ci->verify_error);
    if (tc->want_verify == X509_V_OK)
        assert_string_equal(ci->verify_error, "");
    /* the server's certificate is reported whether or not it was accepted */
    if (!ci->have_cert)
        fail_msg("%s: no certificate in the info", tc->name);
    wsp_tls_cleanup(&c);
    wsp_tls_cleanup(&s);
    assert_null(c.ssl);
    return r.cerr;
}

static void expect_sans(const wsp_tls_info *i, const char *const *want, int n)
{
    assert_int_equal(i->num_sans, n);
    for (int k = 0; k < n; k++)
        assert_string_equal(i->sans[k], want[k]);
}

static const char *const local_sans[] = {"DNS:localhost", "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1"};

/* ---- verification results ---- */

static void test_trusted_name(void **state)
{
    (void)state;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        tcase tc = {"trusted localhost", LEAF_GOOD, &P.client, "localhost", false, true,
                    WSP_CLASS_OK,        X509_V_OK};
        wsp_tls_info ci, si;
        run_case(&tc, bytewise, &ci, &si);
        assert_string_equal(ci.version, "TLSv1.3");
        assert_string_equal(si.version, "TLSv1.3");
        assert_true(ci.cipher[0] != '\0');
        assert_string_equal(ci.cipher, si.cipher);
        assert_string_equal(ci.alpn, "");
        assert_string_equal(ci.sni, "localhost");
        assert_string_equal(si.sni, "localhost"); /* it really went on the wire */
        assert_string_equal(ci.subject, "CN=localhost,O=wsprobe tests");
        assert_string_equal(ci.issuer, "CN=wsprobe test CA,O=wsprobe tests");
        expect_sans(&ci, local_sans, 3);
        assert_int_equal(ci.days_left, 30);
        assert_true(ci.have_cert);
        assert_true(ci.verified);
    }
    /* the same CA given as a --cacert file */
    tcase tc = {"--cacert", LEAF_GOOD, &P.client_cacert, "localhost",
                false,      true,      WSP_CLASS_OK,     X509_V_OK};
    wsp_tls_info ci, si;
    run_case(&tc, false, &ci, &si);
    assert_true(ci.verified);
    /* host names compare without case */
    tc.host = "LocalHost";
    run_case(&tc, false, &ci, &si);
    assert_true(ci.verified);
}

static void test_trusted_ip(void **state)
{
    (void)state;
    const char *ips[] = {"127.0.0.1", "::1"};
    for (int k = 0; k < 2; k++) {
        tcase tc = {ips[k], LEAF_GOOD, &P.client, ips[k], true, true, WSP_CLASS_OK, X509_V_OK};
        wsp_tls_info ci, si;
        run_case(&tc, false, &ci, &si);
        /* RFC 6066 3: no SNI for an IP literal */
        assert_string_equal(ci.sni, "");
        assert_string_equal(si.sni, "");
        assert_true(ci.verified);
        expect_sans(&ci, local_sans, 3);
    }
}

static void test_untrusted(void **state)
{
    (void)state;
    const tcase cases[] = {
        {"self-signed", LEAF_SELF, &P.client, "localhost", false, true, WSP_CLASS_CERT_UNTRUSTED,
         X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
        {"unknown CA", LEAF_OTHER_CA, &P.client, "localhost", false, true, WSP_CLASS_CERT_UNTRUSTED,
         X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
        {"CA not trusted by this client", LEAF_GOOD, &P.client_untrusty, "localhost", false, true,
         WSP_CLASS_CERT_UNTRUSTED, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsp_tls_info ci, si;
        run_case(&cases[i], i == 0, &ci, &si);
        assert_string_equal(ci.subject, "CN=localhost,O=wsprobe tests");
        expect_sans(&ci, local_sans, 3);
        assert_int_equal(ci.days_left, 30);
    }
}

static void test_name_mismatch(void **state)
{
    (void)state;
    const tcase cases[] = {
        {"another name", LEAF_WRONG, &P.client, "localhost", false, true,
         WSP_CLASS_CERT_NAME_MISMATCH, X509_V_ERR_HOSTNAME_MISMATCH},
        {"IP not in the certificate", LEAF_GOOD, &P.client, "127.0.0.2", true, true,
         WSP_CLASS_CERT_NAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH},
        {"name where only the IP is", LEAF_WRONG, &P.client, "127.0.0.1", true, true,
         WSP_CLASS_CERT_NAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH},
        {"a subdomain", LEAF_GOOD, &P.client, "a.localhost", false, true,
         WSP_CLASS_CERT_NAME_MISMATCH, X509_V_ERR_HOSTNAME_MISMATCH},
        {"wildcard two levels down", LEAF_WILDCARD, &P.client, "a.b.wild.test", false, true,
         WSP_CLASS_CERT_NAME_MISMATCH, X509_V_ERR_HOSTNAME_MISMATCH},
        {"wildcard's own domain", LEAF_WILDCARD, &P.client, "wild.test", false, true,
         WSP_CLASS_CERT_NAME_MISMATCH, X509_V_ERR_HOSTNAME_MISMATCH},
        {"partial wildcard", LEAF_WILDCARD, &P.client, "xy.part.test", false, true,
         WSP_CLASS_CERT_NAME_MISMATCH, X509_V_ERR_HOSTNAME_MISMATCH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsp_tls_info ci, si;
        wsp_err e = run_case(&cases[i], false, &ci, &si);
        /* the message names the host that was not covered */
        char want[300];
        snprintf(want, sizeof want, "'%s'", cases[i].host);
        if (!strstr(e.msg, want))
            fail_msg("%s: '%s' does not name %s", cases[i].name, e.msg, want);
    }
    wsp_tls_info ci, si;
    run_case(&cases[0], true, &ci, &si);
    assert_string_equal(ci.subject, "CN=wrong.example,O=wsprobe tests");
    const char *wrong[] = {"DNS:wrong.example"};
    expect_sans(&ci, wrong, 1);
    /* a wildcard covers one label */
    tcase ok = {"wildcard", LEAF_WILDCARD, &P.client,    "a.wild.test",
                false,      true,          WSP_CLASS_OK, X509_V_OK};
    run_case(&ok, false, &ci, &si);
    const char *wild[] = {"DNS:*.wild.test", "DNS:x*.part.test"};
    expect_sans(&ci, wild, 2);
}

static void test_expired(void **state)
{
    (void)state;
    const tcase cases[] = {
        {"expired", LEAF_EXPIRED, &P.client, "localhost", false, true, WSP_CLASS_CERT_EXPIRED,
         X509_V_ERR_CERT_HAS_EXPIRED},
        {"not yet valid", LEAF_FUTURE, &P.client, "localhost", false, true, WSP_CLASS_CERT_EXPIRED,
         X509_V_ERR_CERT_NOT_YET_VALID},
    };
    wsp_tls_info ci, si;
    run_case(&cases[0], false, &ci, &si);
    assert_int_equal(ci.days_left, -11); /* negative when expired */
    expect_sans(&ci, local_sans, 3);
    run_case(&cases[1], true, &ci, &si);
    assert_int_equal(ci.days_left, 100);
}

/* verify = false (--insecure): the handshake completes and the failure is still reported. */
static void test_insecure_reports(void **state)
{
    (void)state;
    const tcase cases[] = {
        {"insecure expired", LEAF_EXPIRED, &P.client, "localhost", false, false, WSP_CLASS_OK,
         X509_V_ERR_CERT_HAS_EXPIRED},
        {"insecure self-signed", LEAF_SELF, &P.client, "localhost", false, false, WSP_CLASS_OK,
         X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
        {"insecure wrong name", LEAF_WRONG, &P.client, "localhost", false, false, WSP_CLASS_OK,
         X509_V_ERR_HOSTNAME_MISMATCH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsp_tls_info ci, si;
        run_case(&cases[i], false, &ci, &si);
        assert_false(ci.verified);
        assert_true(ci.have_cert);
    }
    /* a context made insecure says the same */
    wsp_tls_config cfg = {.insecure = true};
    wsp_err e;
    SSL_CTX *insecure = wsp_tls_client_ctx_new(&cfg, &e);
    assert_non_null(insecure);
    tcase tc = {"insecure context",
                LEAF_SELF,
                &insecure,
                "localhost",
                false,
                true,
                WSP_CLASS_OK,
                X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT};
    wsp_tls_info ci, si;
    run_case(&tc, false, &ci, &si);
    SSL_CTX_free(insecure);
}

/* ---- after the handshake ---- */

static void connected_pair(wsp_tls *c, wsp_tls *s, SSL_CTX *cctx, SSL_CTX *sctx)
{
    wsp_err e;
    assert_int_equal(wsp_tls_init_client(c, cctx, "localhost", false, true, &e), 0);
    assert_int_equal(wsp_tls_init_server(s, sctx, &e), 0);
    hs_result r = handshake(c, s, false);
    if (r.client != 1 || r.server != 1)
        fail_msg("handshake %d/%d: %s / %s", r.client, r.server, r.cerr.msg, r.serr.msg);
}

/* Read everything `to` has into a buffer of `want` bytes, `cap` bytes per call. */
static void read_all(wsp_tls *t, uint8_t *out, size_t want, size_t cap)
{
    size_t got = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    for (int calls = 0; got < want; calls++) {
        wsp_err e;
        ssize_t n = wsp_tls_read(t, buf, cap, &e);
        if (n <= 0)
            fail_msg("read gave %zd after %zu of %zu bytes: %s", n, got, want, e.msg);
        assert_true((size_t)n <= cap && got + (size_t)n <= want);
        memcpy(out + got, buf, (size_t)n);
        got += (size_t)n;
        assert_true(calls < 1000000);
    }
    free(buf);
}

static void test_plaintext_both_ways(void **state)
{
    (void)state;
    wsp_tls c, s;
    connected_pair(&c, &s, P.client, P.server[LEAF_GOOD]);
    wsp_err e;
    uint8_t buf[64];
    /* nothing sent yet: "needs more input" on both sides (the client digests the tickets) */
    assert_int_equal(wsp_tls_read(&c, buf, sizeof buf, &e), 0);
    assert_int_equal(wsp_tls_read(&s, buf, sizeof buf, &e), 0);

    /* client -> server, read whole and a byte at a time */
    assert_int_equal(wsp_tls_write(&c, "GET / HTTP/1.1\r\n", 16, &e), 0);
    assert_true(wsp_tls_pending_out(&c) > 16); /* ciphertext, framed */
    assert_true(shuttle(&c, &s, false, &e) > 0);
    uint8_t got[16];
    read_all(&s, got, 16, 64);
    assert_memory_equal(got, "GET / HTTP/1.1\r\n", 16);
    assert_int_equal(wsp_tls_write(&c, "hello", 5, &e), 0);
    assert_true(shuttle(&c, &s, true, &e) > 0);
    read_all(&s, got, 5, 1);
    assert_memory_equal(got, "hello", 5);
    assert_int_equal(wsp_tls_read(&s, buf, sizeof buf, &e), 0);

    /* server -> client: 100 000 bytes, several records, read in 4 KiB pieces */
    size_t big = 100000;
    uint8_t *data = malloc(big), *back = malloc(big);
    assert_true(data && back);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(wsp_tls_write(&s, data, big, &e), 0);
    assert_true(shuttle(&s, &c, false, &e) > (long)big);
    read_all(&c, back, big, 4096);
    assert_memory_equal(back, data, big);
    assert_int_equal(wsp_tls_read(&c, buf, sizeof buf, &e), 0);

    /* and back the other way, to show both directions stay independent */
    assert_int_equal(wsp_tls_write(&c, data, big, &e), 0);
    assert_true(shuttle(&c, &s, false, &e) > (long)big);
    memset(back, 0, big);
    read_all(&s, back, big, 65536);
    assert_memory_equal(back, data, big);
    free(data);
    free(back);

    /* the server's close_notify: -2 on the client, and the flag */
    assert_false(c.close_notify);
    assert_true(SSL_shutdown(s.ssl) >= 0);
    assert_true(shuttle(&s, &c, false, &e) > 0);
    assert_int_equal(wsp_tls_read(&c, buf, sizeof buf, &e), -2);
    assert_true(c.close_notify);
    wsp_tls_cleanup(&c);
    wsp_tls_cleanup(&s);
}

/* Heap bytes in use (this test is single-threaded: every allocation is the pair's or ours). */
static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}

/* An idle session keeps the session alone: the network queues exist only while they hold
 * bytes, and OpenSSL's 16 KiB record buffers are handed back once empty. A burst (100 000
 * bytes each way, several records) leaves nothing behind on either side: memory BIOs kept the
 * largest burst for the session's life, and OpenSSL 3.0 kept its read buffer after reading
 * the session tickets. */
static void test_idle_keeps_nothing(void **state)
{
    (void)state;
    size_t before = heap_in_use();
    wsp_tls c, s;
    connected_pair(&c, &s, P.client, P.server[LEAF_GOOD]);
    wsp_err e;
    uint8_t buf[64];
    /* one byte each way: the client reads the session tickets with the answer, the read after
     * which OpenSSL 3.0 keeps its buffer */
    assert_int_equal(wsp_tls_write(&c, "?", 1, &e), 0);
    assert_true(shuttle(&c, &s, false, &e) > 0);
    read_all(&s, buf, 1, sizeof buf);
    assert_int_equal(wsp_tls_read(&s, buf, sizeof buf, &e), 0);
    assert_int_equal(wsp_tls_write(&s, "!", 1, &e), 0);
    assert_true(shuttle(&s, &c, false, &e) > 0);
    read_all(&c, buf, 1, sizeof buf);
    assert_int_equal(buf[0], '!');
    assert_int_equal(wsp_tls_read(&c, buf, sizeof buf, &e), 0);
    assert_null(c.in.b.p);
    assert_null(c.out.b.p);
    assert_null(s.in.b.p);
    assert_null(s.out.b.p);
    assert_null(c.host); /* only a failed handshake reports the name */
    size_t idle = heap_in_use();
    /* both sessions together; a 16 KiB buffer kept on either side would show */
    assert_true(idle - before < 32 * 1024); /* 23 KiB here; 40 KiB with a read buffer kept */

    size_t big = 100000;
    uint8_t *data = malloc(big), *back = malloc(big);
    assert_true(data && back);
    memset(data, 'x', big);
    for (int round = 0; round < 2; round++) {
        wsp_tls *from = round ? &c : &s, *to = round ? &s : &c;
        assert_int_equal(wsp_tls_write(from, data, big, &e), 0);
        assert_true(shuttle(from, to, false, &e) > (long)big);
        read_all(to, back, big, 4096);
        assert_int_equal(wsp_tls_read(to, buf, sizeof buf, &e), 0);
    }
    free(data);
    free(back);
    assert_null(c.in.b.p);
    assert_null(s.out.b.p);
    size_t after = heap_in_use();
    if (after > idle + 1024)
        fail_msg("%zu bytes more in use after the burst than before it", after - idle);
    wsp_tls_cleanup(&c);
    wsp_tls_cleanup(&s);
}

/* Output is the application's (a 5 MiB message goes out whole); input a caller leaves unread
 * is refused past 4 MiB, with a message that says so. */
static void test_queue_bounds(void **state)
{
    (void)state;
    wsp_tls c, s;
    connected_pair(&c, &s, P.client, P.server[LEAF_GOOD]);
    wsp_err e;
    size_t big = 5u << 20;
    uint8_t *data = malloc(big), *back = malloc(big);
    assert_true(data && back);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(wsp_tls_write(&s, data, big, &e), 0);
    assert_true(wsp_tls_pending_out(&s) > big);
    /* in pieces a socket would give, each read before the next arrives */
    size_t moved = 0;
    uint8_t piece[65536];
    for (size_t got = 0, n; (n = wsp_tls_take_out(&s, piece, sizeof piece)) > 0; moved += n) {
        assert_int_equal(wsp_tls_feed(&c, piece, n, &e), 0);
        ssize_t r;
        while ((r = wsp_tls_read(&c, back + got, big - got, &e)) > 0)
            got += (size_t)r;
        assert_int_equal(r, 0);
        if (wsp_tls_pending_out(&s) == 0)
            assert_int_equal(got, big);
    }
    assert_true(moved > big);
    assert_memory_equal(back, data, big);
    /* a caller that feeds and never reads */
    int r = 0;
    for (int i = 0; i < 5 && r == 0; i++)
        r = wsp_tls_feed(&c, data + ((size_t)i << 20), 1u << 20, &e) == 0 ? 0 : -1;
    assert_int_equal(r, -1);
    assert_int_equal(e.cls, WSP_CLASS_INTERNAL);
    assert_non_null(strstr(e.msg, "4 MiB of TLS input waiting"));
    free(data);
    free(back);
    wsp_tls_cleanup(&c);
    wsp_tls_cleanup(&s);
}

/* Garbage where a record belongs after the handshake: -1, not data. */
static void test_corrupt_record(void **state)
{
    (void)state;
    wsp_tls c, s;
    connected_pair(&c, &s, P.client, P.server[LEAF_GOOD]);
    wsp_err e;
    assert_int_equal(wsp_tls_write(&s, "secret", 6, &e), 0);
    size_t n = wsp_tls_pending_out(&s);
    uint8_t *rec = malloc(n);
    assert_non_null(rec);
    assert_int_equal(wsp_tls_take_out(&s, rec, n), n);
    rec[n - 1] ^= 0x01; /* the authentication tag no longer matches */
    assert_int_equal(wsp_tls_feed(&c, rec, n, &e), 0);
    free(rec);
    uint8_t buf[64];
    wsp_err_clear(&e);
    ssize_t r = wsp_tls_read(&c, buf, sizeof buf, &e);
    /* the tickets may come first: read until the bad record is reached */
    for (int i = 0; r == 0 && i < 4; i++)
        r = wsp_tls_read(&c, buf, sizeof buf, &e);
    assert_int_equal(r, -1);
    assert_int_equal(e.cls, WSP_CLASS_WS_DROPPED);
    assert_true(e.tls_err != 0);
    wsp_tls_cleanup(&c);
    wsp_tls_cleanup(&s);
}

/* A plain HTTP server answering the ClientHello: TLS_TO_PLAINTEXT, quoting its first line. */
static void test_plaintext_peer(void **state)
{
    (void)state;
    static const char *const answers[] = {
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n",
        "\x16\x04junk", /* a handshake type, but not version 3 */
        "\x16\x02junk",
        "\x17\x01x",
    };
    static const char *const quoted[] = {"HTTP/1.1 400 Bad Reques", "SSH-2.0-OpenSSH_9.2", NULL,
                                         NULL, NULL};
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        wsp_tls c;
        wsp_err e;
        assert_int_equal(wsp_tls_init_client(&c, P.client, "localhost", false, true, &e), 0);
        assert_int_equal(wsp_tls_handshake(&c, &e), 0);
        assert_true(wsp_tls_pending_out(&c) > 0); /* the ClientHello */
        size_t n = strlen(answers[i]);
        char *a = malloc(n);
        assert_non_null(a);
        memcpy(a, answers[i], n);
        wsp_err_clear(&e);
        assert_int_equal(wsp_tls_feed(&c, a, n, &e), -1);
        free(a);
        assert_int_equal(e.cls, WSP_CLASS_TLS_TO_PLAINTEXT);
        assert_true(c.plaintext_peer);
        if (quoted[i]) {
            char want[64];
            snprintf(want, sizeof want, "(\"%s\")", quoted[i]);
            if (!strstr(e.msg, want))
                fail_msg("'%s' does not quote %s", e.msg, want);
        }
        wsp_tls_cleanup(&c);
    }
}

/* ---- negotiation ---- */

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char mine[] = "\x08http/1.1";
    unsigned char *o = NULL;
    if (SSL_select_next_proto(&o, outlen, mine, sizeof mine - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

static void test_alpn_and_versions(void **state)
{
    (void)state;
    wsp_tls_config cfg = {.alpn = "h2,http/1.1", .max_version = TLS1_2_VERSION};
    wsp_err e;
    SSL_CTX *cctx = wsp_tls_client_ctx_new(&cfg, &e);
    assert_non_null(cctx);
    assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), P.ca), 1);
    wsp_err_clear(&e);
    SSL_CTX *sctx = wsp_tls_server_ctx_new(P.cert_path[LEAF_GOOD], P.key_path, &e);
    assert_non_null(sctx);
    SSL_CTX_set_alpn_select_cb(sctx, select_alpn, NULL);
    wsp_tls c, s;
    connected_pair(&c, &s, cctx, sctx);
    wsp_tls_info ci;
    wsp_tls_get_info(&c, &ci);
    assert_string_equal(ci.version, "TLSv1.2");
    assert_string_equal(ci.alpn, "http/1.1");
    assert_true(ci.verified);
    assert_non_null(strstr(ci.cipher, "ECDSA")); /* a TLS 1.2 suite for this key */
    wsp_tls_cleanup(&c);
    wsp_tls_cleanup(&s);
    SSL_CTX_free(cctx);

    /* a client that insists on 1.3 against a server capped at 1.2: TLS_HANDSHAKE */
    SSL_CTX_set_max_proto_version(sctx, TLS1_2_VERSION);
    wsp_tls_config only13 = {.min_version = TLS1_3_VERSION};
    cctx = wsp_tls_client_ctx_new(&only13, &e);
    assert_non_null(cctx);
    assert_int_equal(wsp_tls_init_client(&c, cctx, "localhost", false, true, &e), 0);
    assert_int_equal(wsp_tls_init_server(&s, sctx, &e), 0);
    hs_result r = handshake(&c, &s, false);
    assert_int_equal(r.server, -1);
    assert_int_equal(r.serr.cls, WSP_CLASS_TLS_HANDSHAKE);
    assert_int_equal(r.client, -1);
    assert_int_equal(r.cerr.cls, WSP_CLASS_TLS_HANDSHAKE);
    wsp_tls_cleanup(&c);
    wsp_tls_cleanup(&s);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
}

static void test_version_parse(void **state)
{
    (void)state;
    assert_int_equal(wsp_tls_version_parse("1.0"), TLS1_VERSION);
    assert_int_equal(wsp_tls_version_parse("1.1"), TLS1_1_VERSION);
    assert_int_equal(wsp_tls_version_parse("1.2"), TLS1_2_VERSION);
    assert_int_equal(wsp_tls_version_parse("1.3"), TLS1_3_VERSION);
    const char *bad[] = {"", "1", "1.4", "1.2 ", "TLSv1.2", "v1.3", "2.0", "1.", "13"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wsp_tls_version_parse(bad[i]), -1);
    assert_int_equal(wsp_tls_version_parse(NULL), -1);
}

/* ---- contexts that cannot be made ---- */

static void test_context_errors(void **state)
{
    (void)state;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.pem", P.dir);
    wsp_err e;
    wsp_tls_config cfg = {.cacert = missing};
    wsp_err_clear(&e);
    assert_null(wsp_tls_client_ctx_new(&cfg, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_non_null(strstr(e.msg, "--cacert"));
    /* a key file is not a CA bundle */
    cfg.cacert = P.key_path;
    wsp_err_clear(&e);
    assert_null(wsp_tls_client_ctx_new(&cfg, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);

    wsp_tls_config mtls = {.cert = P.cert_path[LEAF_GOOD], .key = P.stray_key_path};
    wsp_err_clear(&e);
    assert_null(wsp_tls_client_ctx_new(&mtls, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_non_null(strstr(e.msg, "--key"));
    mtls.key = P.key_path;
    SSL_CTX *ok = wsp_tls_client_ctx_new(&mtls, &e);
    assert_non_null(ok);
    SSL_CTX_free(ok);
    mtls.cert = missing;
    wsp_err_clear(&e);
    assert_null(wsp_tls_client_ctx_new(&mtls, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_non_null(strstr(e.msg, "--cert"));

    char long_name[257]; /* an ALPN name is at most 255 bytes */
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    const char *bad_alpn[] = {",h2", "h2,,http/1.1", long_name};
    for (size_t i = 0; i < sizeof bad_alpn / sizeof bad_alpn[0]; i++) {
        wsp_tls_config a = {.alpn = bad_alpn[i]};
        wsp_err_clear(&e);
        SSL_CTX *x = wsp_tls_client_ctx_new(&a, &e);
        if (x) {
            SSL_CTX_free(x);
            fail_msg("ALPN list '%s' accepted", bad_alpn[i]);
        }
        assert_int_equal(e.cls, WSP_CLASS_USAGE);
    }

    wsp_err_clear(&e);
    assert_null(wsp_tls_server_ctx_new(missing, P.key_path, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    wsp_err_clear(&e);
    assert_null(wsp_tls_server_ctx_new(P.cert_path[LEAF_GOOD], P.stray_key_path, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    wsp_err_clear(&e);
    assert_null(wsp_tls_server_ctx_new(P.cert_path[LEAF_GOOD], missing, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    ERR_clear_error();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trusted_name),
        cmocka_unit_test(test_trusted_ip),
        cmocka_unit_test(test_untrusted),
        cmocka_unit_test(test_name_mismatch),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_insecure_reports),
        cmocka_unit_test(test_plaintext_both_ways),
        cmocka_unit_test(test_idle_keeps_nothing),
        cmocka_unit_test(test_queue_bounds),
        cmocka_unit_test(test_corrupt_record),
        cmocka_unit_test(test_plaintext_peer),
        cmocka_unit_test(test_alpn_and_versions),
        cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_context_errors),
    };
    return cmocka_run_group_tests_name("tls", tests, pki_setup, pki_teardown);
}
