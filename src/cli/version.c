/* version.c - `wsprobe --version`: the version, the revision it was built from, and the
 * versions of the libraries it runs with (as loaded now, not as compiled against), as curl
 * prints its own. A bug report should carry this line. */
#include <stdio.h>

#include <ares.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <uv.h>
#include <yaml.h>
#include <zlib.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "args.h"
#include "audit/xmlshim.h"
#include "wsp_config.h"
#include "wsp_rev.h"

void wsp_cli_version(FILE *f)
{
    char pcre[32] = "?";
    if (pcre2_config(PCRE2_CONFIG_VERSION, pcre) < 0)
        snprintf(pcre, sizeof pcre, "?");
    /* "10.42 2022-12-11": the number is enough */
    for (char *p = pcre; *p; p++)
        if (*p == ' ')
            *p = '\0';
    const char *xml = wsp_xml_version();
    fprintf(f, "wsprobe %s (git %s)\n", WSP_VERSION, WSP_GIT_REV);
    fprintf(f,
            "libraries: OpenSSL/%s libuv/%s c-ares/%s zlib/%s jansson/%s libyaml/%s PCRE2/%s "
            "libxml2/%s\n",
            OpenSSL_version(OPENSSL_VERSION_STRING), uv_version_string(), ares_version(NULL),
            zlibVersion(), jansson_version_str(), yaml_get_version_string(), pcre,
            xml ? xml : "not-installed");
}
