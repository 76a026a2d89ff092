/* fuzz_plan.c - libFuzzer harness for the plan loader (plan.c): any bytes as a YAML plan must
 * give a plan or a located error, never a crash, a leak or unbounded work (aliases, nesting).
 * The text goes through the bounded loader (codec/yaml.h: libyaml's events counted to the caps,
 * one document, then the load), so that pass is fuzzed here too; the seeds include nesting
 * around the depth cap and a second document. Building an environment is exercised too, with
 * the secret variables unset so that nothing is read from outside. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wsp_plan_err err;
    wsp_plan *p = wsp_plan_load_buffer("fuzz.yaml", (const char *)data, size, &err);
    if (!p) {
        char buf[1024];
        wsp_plan_err_format(&err, buf, sizeof buf);
        return 0;
    }
    for (size_t i = 0; i < wsp_plan_check_count(p); i++)
        (void)wsp_plan_check_id(p, i);
    /* environments whose credentials come from the environment fail cleanly (unset); those
     * that name files may read them: keep the corpus free of real paths */
    static const char *const slow[] = {"wss:", "https:", "_file", "cacert",
                                       "cert", "/dev/",  "/proc/"};
    bool build = true;
    for (size_t k = 0; k < sizeof slow / sizeof slow[0]; k++)
        if (memmem(data, size, slow[k], strlen(slow[k])))
            build = false; /* TLS contexts and files: slow or outside the input */
    for (size_t i = 0; build && i < wsp_plan_env_count(p) && i < 4; i++) {
        wsp_env env;
        if (wsp_plan_env_load(p, wsp_plan_env_name(p, i), &env, &err) != 0) {
            wsp_env_cleanup(&env);
            continue;
        }
        wsp_env_cleanup(&env);
    }
    wsp_env env;
    (void)wsp_plan_env_load(p, "no-such-environment", &env, &err);
    wsp_env_cleanup(&env);
    wsp_plan_free(p);
    return 0;
}
