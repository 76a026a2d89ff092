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
