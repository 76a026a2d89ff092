/* webconfig.h - the exporter's --web.config.file, in the format of Prometheus's
 * exporter-toolkit (docs/exporter.md "Web configuration"), so one file serves every exporter of
 * a fleet:
 *
 *   tls_server_config:
 *     cert_file: server.crt          # both, or neither
 *     key_file: server.key
 *     client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default),
 *                                    # RequestClientCert, RequireAnyClientCert,
 *                                    # VerifyClientCertIfGiven
 *     client_ca_file: ca.crt         # for the Verify types
 *     min_version: TLS12             # TLS10 .. TLS13 (default TLS12)
 *     max_version: TLS13
 *   basic_auth_users:
 *     alice: $2y$10$...              # bcrypt hashes (htpasswd -B), checked with crypt_rn
 *
 * Keys of exporter-toolkit that wsprobe does not implement (cipher_suites, curve_preferences,
 * prefer_server_cipher_suites, http_server_config) are refused by name rather than ignored.
 *
 * Basic auth: a credential is checked with libxcrypt's crypt_rn (crypt_r's form that returns
 * NULL on failure; sanitizers do not intercept it) on a worker thread (a bcrypt costs ~50 ms;
 * the loop goes on serving), an unknown user against a dummy hash (made at load, at the
 * users' highest cost) so timing does not tell
 * which users exist, and a verified credential is remembered (its SHA-256 with the user, never
 * the password) so one bcrypt is paid per credential, not per scrape, as exporter-toolkit does.
 */
#ifndef WSP_EXPORTER_WEBCONFIG_H
#define WSP_EXPORTER_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "util/error.h"

#define WSP_WEBCONFIG_MAX_USERS 64
#define WSP_WEBCONFIG_CACHE 256 /* verified credentials remembered */

typedef struct wsp_webconfig wsp_webconfig;

/* Read and check the file; the TLS context is made now. NULL with err (USAGE, naming the key
 * and its line) when anything is wrong. */
wsp_webconfig *wsp_webconfig_load(const char *path, wsp_err *err);
void wsp_webconfig_free(wsp_webconfig *w);

/* The TLS context of the web endpoints, or NULL for plain HTTP. */
SSL_CTX *wsp_webconfig_tls(const wsp_webconfig *w);
/* Whether requests must carry Basic credentials. */
bool wsp_webconfig_needs_auth(const wsp_webconfig *w);

typedef enum wsp_webauth {
    WSP_WEBAUTH_OK,     /* a remembered credential: let it in */
    WSP_WEBAUTH_DENIED, /* no credential, not Basic, malformed: 401 */
    WSP_WEBAUTH_VERIFY, /* a credential to check with wsp_webconfig_verify (a worker thread) */
} wsp_webauth;

/* What an Authorization header (NULL when absent) says, without a bcrypt: OK for a credential
 * verified before, VERIFY with *user and *pass (into the caller's buffers) to check. */
wsp_webauth wsp_webconfig_check(wsp_webconfig *w, const char *authz, size_t len, char *user,
                                size_t ucap, char *pass, size_t pcap);
/* The bcrypt: whether user/pass hold (thread-safe; no state changes). */
bool wsp_webconfig_verify(const wsp_webconfig *w, const char *user, const char *pass);
/* Remember a credential verify accepted (on the loop thread). */
void wsp_webconfig_remember(wsp_webconfig *w, const char *user, const char *pass);

#endif
