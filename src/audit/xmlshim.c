/* xmlshim.c - see xmlshim.h. */
#define WSP_XMLSHIM_IMPL
#include "audit/xmlshim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

const wsp_xml_api *wsp_xml_fns;

static wsp_xml_api table;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *load_error;
static char version[24];

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
    /* xmlParserVersion is a string of digits: "20914" for 2.9.14 */
    const char *const *v = dlsym(h, "xmlParserVersion");
    long n = v && *v ? strtol(*v, NULL, 10) : 0;
    if (n > 0)
        snprintf(version, sizeof version, "%ld.%ld.%ld", n / 10000, n / 100 % 100, n % 100);
    wsp_xml_fns = &table;
}

const char *wsp_xml_version(void)
{
    if (wsp_xml_load(NULL) != 0)
        return NULL;
    return version[0] ? version : "unknown";
}

int wsp_xml_load(const char **why)
{
    pthread_once(&once, load);
    if (!wsp_xml_fns && why)
        *why = load_error ? load_error : "libxml2 cannot be loaded";
    return wsp_xml_fns ? 0 : -1;
}
