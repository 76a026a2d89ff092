/* redact.c - see redact.h. */
#include "util/redact.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/buf.h"

#define MAX_SECRETS 64
#define MIN_SECRET 4
#define PREFIX_MIN 12

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[MAX_SECRETS];
static size_t secret_lens[MAX_SECRETS];
static int num_secrets;

void wsp_redact_register(const char *secret, size_t len)
{
    if (!secret || len < MIN_SECRET)
        return;
    pthread_mutex_lock(&lock);
    bool known = false;
    for (int i = 0; i < num_secrets && !known; i++)
        known = secret_lens[i] == len && memcmp(secrets[i], secret, len) == 0;
    if (!known && num_secrets < MAX_SECRETS) {
        char *c = malloc(len);
        if (c) {
            memcpy(c, secret, len);
            secrets[num_secrets] = c;
            secret_lens[num_secrets++] = len;
        }
    }
    pthread_mutex_unlock(&lock);
}

static bool b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Length of a JWT-shaped run starting at s, or 0: "eyJ" (base64url of '{"', the start of
 * every JWS header) and at least JWT_MIN more base64url characters or dots (two dots at most).
 * No dot is needed: a capped excerpt may cut a token inside its header. */
#define JWT_MIN 10
static size_t jwt_len(const char *s, size_t n)
{
    if (n < 3 || memcmp(s, "eyJ", 3) != 0)
        return 0;
    size_t i = 3, dots = 0;
    while (i < n && (b64url(s[i]) || (s[i] == '.' && dots < 2))) {
        if (s[i] == '.')
            dots++;
        i++;
    }
    return i - 3 >= JWT_MIN ? i : 0;
}

char *wsp_redact(const char *s, size_t len, size_t *out_len)
{
    wsp_buf o = WSP_BUF_INIT;
    pthread_mutex_lock(&lock);
    size_t i = 0, lit = 0;
    while (i < len) {
        size_t m = 0;
        for (int k = 0; k < num_secrets && !m; k++) {
            /* the whole secret, or a prefix of at least PREFIX_MIN bytes: reports keep capped
             * copies of what a peer sent (a body, an excerpt), which may cut a secret short */
            size_t want = secret_lens[k] < len - i ? secret_lens[k] : len - i, n = 0;
            while (n < want && s[i + n] == secrets[k][n])
                n++;
            if (n == secret_lens[k] || n >= PREFIX_MIN)
                m = n;
        }
        if (m) {
            wsp_buf_put(&o, s + lit, i - lit);
            wsp_buf_put(&o, WSP_REDACTED, sizeof WSP_REDACTED - 1);
            i += m;
            lit = i;
            continue;
        }
        size_t j = s[i] == 'e' ? jwt_len(s + i, len - i) : 0;
        if (j) {
            wsp_buf_put(&o, s + lit, i - lit);
            wsp_buf_put(&o, "eyJ\xe2\x80\xa6" WSP_REDACTED, 6 + sizeof WSP_REDACTED - 1);
            i += j;
            lit = i;
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&lock);
    wsp_buf_put(&o, s + lit, len - lit);
    return wsp_buf_take(&o, out_len);
}

void wsp_redact_clear(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < num_secrets; i++) {
        OPENSSL_cleanse(secrets[i], secret_lens[i]);
        free(secrets[i]);
        secrets[i] = NULL;
    }
    num_secrets = 0;
    pthread_mutex_unlock(&lock);
}

void wsp_redact_buf(char *buf, size_t cap)
{
    size_t n = 0, len = strnlen(buf, cap);
    char *r = wsp_redact(buf, len, &n);
    if (!r) {
        buf[0] = '\0'; /* out of memory: lose the text rather than risk a secret */
        return;
    }
    if (n != len || memcmp(r, buf, n) != 0)
        snprintf(buf, cap, "%s", r);
    free(r);
}

void wsp_redact_json(json_t *j)
{
    if (json_is_string(j)) {
        size_t n = 0;
        char *r = wsp_redact(json_string_value(j), json_string_length(j), &n);
        if (r && (n != json_string_length(j) || memcmp(r, json_string_value(j), n) != 0))
            json_string_setn_nocheck(j, r, n);
        free(r);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) wsp_redact_json(v);
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(j, tmp, k, v)
        {
            wsp_redact_json(v);
            size_t n = 0;
            char *rk = wsp_redact(k, strlen(k), &n);
            if (rk && strcmp(rk, k) != 0) {
                json_incref(v);
                json_object_del(j, k);
                json_object_setn_new_nocheck(j, rk, n, v);
            }
            free(rk);
        }
    }
}
