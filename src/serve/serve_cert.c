/* serve_cert.c - a throwaway CA and loopback certificate for `wsprobe serve --self-signed`,
 * made with OpenSSL's APIs (no openssl(1)). See serve.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util/rand.h"
#include "serve/serve.h"

#define CERT_DAYS 90 /* over the 30 days under which tls.certificate warns */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

/* A certificate for `key`, issued by issuer/issuer_key (itself when NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    X509 *c = X509_new();
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    if (!c || wsp_rand_bytes(serial, sizeof serial) != 0)
        goto fail;
    serial[0] &= 0x7f; /* RFC 5280 4.1.2.2: a positive integer */
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)))
        goto fail;
    X509_set_version(c, 2);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), (long)CERT_DAYS * 86400);
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"wsprobe serve", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : c;
    if (ca) {
        if (add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
            add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
            add_ext(c, iss, NID_subject_key_identifier, "hash") != 0)
            goto fail;
    } else {
        if (add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
            add_ext(c, iss, NID_key_usage, "critical,digitalSignature") != 0 ||
            add_ext(c, iss, NID_ext_key_usage, "serverAuth") != 0 ||
            add_ext(c, iss, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") != 0 ||
            add_ext(c, iss, NID_subject_key_identifier, "hash") != 0 ||
            add_ext(c, iss, NID_authority_key_identifier, "keyid") != 0)
            goto fail;
    }
    if (X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
        goto fail;
    BN_free(bn);
    return c;
fail:
    BN_free(bn);
    X509_free(c);
    return NULL;
}

/* Write to a fresh temporary file in the same folder (O_EXCL, never through a link), then
 * rename it over `path`: a link planted at `path` is replaced, never followed. */
static int write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, key ? 0600 : 0644);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    int ok =
        key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
    if (fclose(f) != 0)
        ok = 0;
    if (ok != 1 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* An existing folder must be ours and closed to others: in a folder someone else can write
 * to, they could swap what we write. */
static int dir_is_private(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    return st.st_uid == geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

int wsp_serve_self_signed(const char *dir, char *cert_out, size_t cert_cap, char *key_out,
                          size_t key_cap, wsp_err *err)
{
    char ca_path[4096];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        return wsp_err_set(err, WSP_CLASS_USAGE, "--self-signed %s: cannot create: %s", dir, eb);
    }
    if (!dir_is_private(dir))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--self-signed %s: the folder must be a directory owned by this user "
                           "and not writable by group or others (it will hold a private key)",
                           dir);
    int a = snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
    int b = snprintf(cert_out, cert_cap, "%s/cert.pem", dir);
    int k = snprintf(key_out, key_cap, "%s/key.pem", dir);
    if (a < 0 || (size_t)a >= sizeof ca_path || b < 0 || (size_t)b >= cert_cap || k < 0 ||
        (size_t)k >= key_cap)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--self-signed %s: path too long", dir);
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *leaf_key = EVP_EC_gen("P-256");
    X509 *ca = ca_key ? make_cert(ca_key, "wsprobe serve throwaway CA", NULL, NULL, true) : NULL;
    X509 *leaf = ca && leaf_key ? make_cert(leaf_key, "localhost", ca, ca_key, false) : NULL;
    int rc = 0;
    if (!leaf) {
        ERR_clear_error();
        rc = wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot make a certificate with OpenSSL");
    } else if (write_pem(ca_path, ca, NULL) != 0 || write_pem(cert_out, leaf, NULL) != 0 ||
               write_pem(key_out, NULL, leaf_key) != 0) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        rc = wsp_err_set(err, WSP_CLASS_USAGE, "--self-signed %s: cannot write: %s", dir, eb);
    }
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(leaf_key); /* the CA's key is never written: it dies here */
    EVP_PKEY_free(ca_key);
    return rc;
}
