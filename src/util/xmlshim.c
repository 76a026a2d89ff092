/* xmlshim.c - see xmlshim.h. */
#define WSP_XMLSHIM_IMPL
#include "util/xmlshim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "util/utf8.h"

const wsp_xml_api *wsp_xml_fns;

static wsp_xml_api table;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *load_error;

static void load(void)
{
    /* the ABI-stable soname Debian's libxml2 package installs */
    void *h = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        load_error = "libxml2.so.2 cannot be loaded (install Debian's libxml2 package)";
        return;
    }
    /* POSIX: a function pointer may be converted from dlsym's void * through this union */
#define WSP_XML_SYM(name)                                                                          \
    {                                                                                              \
        union {                                                                                    \
            void *p;                                                                               \
            __typeof__(name) *f;                                                                   \
        } u = {dlsym(h, #name)};                                                                   \
        if (!u.p) {                                                                                \
            load_error = "libxml2.so.2 lacks " #name;                                              \
            return;                                                                                \
        }                                                                                          \
        table.name = u.f;                                                                          \
    }
    WSP_XML_FUNCTIONS(WSP_XML_SYM)
#undef WSP_XML_SYM
    wsp_xml_fns = &table;
}

int wsp_xml_load(const char **why)
{
    pthread_once(&once, load);
    if (!wsp_xml_fns && why)
        *why = load_error ? load_error : "libxml2 cannot be loaded";
    return wsp_xml_fns ? 0 : -1;
}

/* Length of the valid UTF-8 sequence at p that XML 1.0 may hold, or 0. */
static size_t xml_char_len(const unsigned char *p)
{
    size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
    if (n == 0 || strnlen((const char *)p, n) < n || !wsp_utf8_valid(p, n))
        return 0;
    if (n == 3 && p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
        return 0; /* U+FFFE, U+FFFF: not XML characters */
    return n;
}

void wsp_xml_escape(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        switch (*p) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
                fputc(' ', f);
            } else if (*p >= 0x80) {
                size_t k = xml_char_len(p);
                if (k == 0) {
                    fputc('?', f);
                } else {
                    fwrite(p, 1, k, f);
                    p += k;
                    continue;
                }
            } else {
                fputc(*p, f);
            }
        }
        p++;
    }
}
