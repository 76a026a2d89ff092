/* procs.c - `load --processes P` (load.h wsp_load_run_processes): the run split over P forked
 * agents and their reports merged as load-merge merges them.
 *
 * Each agent is this process forked after the command line was read (before any thread or
 * event loop exists), so it shares the parsed configuration and the TLS context and runs
 * wsp_load_run on its share: connections and rates split evenly (an agent's connection i is
 * the run's connection P * i + index, which keeps the run's phases and source addresses),
 * threads split with at least one each, and one start instant for all so that their seconds
 * line up. An agent writes its live ticks (a fixed-size record, dropped when the pipe is full)
 * and, at the end, its JSON report (or the error that stopped it) on two pipes; the parent
 * reads both with poll(2), forwards SIGINT (the agents lead their own process group, so a
 * terminal's ^C reaches the parent alone), and kills agents still running well past the run's
 * end. A missing report is an error, not a smaller run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "load.h"
#include "util/buf.h"
#include "util/proc.h"

#define REPORT_MAX (256u << 20) /* an agent's report: histograms and a series, far below this */
#define GRACE_MS 30000ull       /* past the run's planned end before an agent is killed */

typedef struct agent {
    pid_t pid;
    bool failed;         /* its pipe closed on no report, or on the error that stopped it */
    int tick_fd, res_fd; /* read ends; -1 when closed */
    wsp_buf report;
    wsp_load_tick last;
    bool ticked;
} agent;

/* An even share of n for agent i of p: the first n % p get one more. */
static uint64_t share(uint64_t n, unsigned i, unsigned p)
{
    return n / p + (n % p > i ? 1 : 0);
}

static void agent_tick(const wsp_load_tick *t, void *ud)
{
    /* below PIPE_BUF, so whole or not at all; a full pipe drops a tick, never stalls a send */
    ssize_t n = write((int)(intptr_t)ud, t, sizeof *t);
    (void)n;
}

static _Noreturn void agent_main(const wsp_load_config *cfg, unsigned i, unsigned p,
                                 uint64_t start_ns, int tick_fd, int res_fd)
{
    wsp_load_config c = *cfg;
    c.connections = (size_t)share(cfg->connections, i, p);
    double part = (double)c.connections / (double)cfg->connections;
    c.rate = cfg->rate * part;
    c.connect_rate = cfg->connect_rate * part;
    c.threads = (unsigned)share(cfg->threads, i, p);
    if (c.threads == 0)
        c.threads = 1;
    c.agent_index = i;
    c.agents = p;
    c.start_ns = start_ns;
    c.handle_sigint = true;
    c.on_tick = cfg->on_tick ? agent_tick : NULL;
    c.tick_ud = (void *)(intptr_t)tick_fd;
    wsp_load_result *r = wsp_load_result_new();
    wsp_err e;
    wsp_err_clear(&e);
    json_t *j;
    if (!r)
        j = json_pack("{s:s,s:s}", "agent_error", "out of memory", "class", "INTERNAL");
    else if (wsp_load_run(&c, r, &e) != 0)
        j = json_pack("{s:s,s:s}", "agent_error", e.msg, "class", wsp_class_name(e.cls));
    else
        j = wsp_load_result_to_json(r);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = text && wsp_write_full(res_fd, text, strlen(text)) == 0 ? 0 : 70;
    _exit(rc);
}

/* The agents' latest ticks added up: counts and rates add; the percentiles are the highest
 * agent's (an agent's second is not another's: the exact figures are in the report). */
static void summed_tick(const wsp_load_config *cfg, const agent *a, unsigned p)
{
    wsp_load_tick t;
    memset(&t, 0, sizeof t);
    bool any = false;
    for (unsigned i = 0; i < p; i++) {
        if (!a[i].ticked)
            continue;
        const wsp_load_tick *k = &a[i].last;
        any = true;
        t.elapsed_s = k->elapsed_s > t.elapsed_s ? k->elapsed_s : t.elapsed_s;
        t.open += k->open;
        t.opened += k->opened;
        t.failed += k->failed;
        t.errors += k->errors;
        t.sent_per_s += k->sent_per_s;
        t.matched_per_s += k->matched_per_s;
        t.p50_ns = k->p50_ns > t.p50_ns ? k->p50_ns : t.p50_ns;
        t.p99_ns = k->p99_ns > t.p99_ns ? k->p99_ns : t.p99_ns;
        t.warmup |= k->warmup;
    }
    if (any)
        cfg->on_tick(&t, cfg->tick_ud);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Read what is there on an agent's pipes. */
static void drain_ticks(agent *a)
{
    wsp_load_tick k;
    for (;;) {
        ssize_t n = read(a->tick_fd, &k, sizeof k);
        if (n == (ssize_t)sizeof k) {
            a->last = k;
            a->ticked = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno != EAGAIN))
            close_fd(&a->tick_fd);
        return;
    }
}

static void drain_report(agent *a)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(a->res_fd, buf, sizeof buf);
        if (n > 0) {
            if (wsp_buf_put(&a->report, buf, (size_t)n) != 0) {
                close_fd(&a->res_fd); /* over the cap: reported as unreadable */
                a->failed = true;
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno != EAGAIN) {
            close_fd(&a->res_fd);
            a->failed = !a->report.len || a->report.failed ||
                        strstr(a->report.p, "\"agent_error\"") != NULL;
        }
        return;
    }
}

static int start_agents(const wsp_load_config *cfg, agent *a, unsigned p, uint64_t start_ns,
                        wsp_err *err)
{
    for (unsigned i = 0; i < p; i++) {
        int tp[2], rp[2];
        if (pipe2(tp, O_CLOEXEC) != 0)
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "pipe failed (errno %d)", errno);
        if (pipe2(rp, O_CLOEXEC) != 0) {
            close(tp[0]);
            close(tp[1]);
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "pipe failed (errno %d)", errno);
        }
        pid_t pid = wsp_proc_fork(SIGKILL, true);
        if (pid == 0) {
            for (unsigned k = 0; k < i; k++) { /* the other agents' pipes are not its own */
                close_fd(&a[k].tick_fd);
                close_fd(&a[k].res_fd);
            }
            close(tp[0]);
            close(rp[0]);
            (void)fcntl(tp[1], F_SETFL, O_NONBLOCK);
            agent_main(cfg, i, p, start_ns, tp[1], rp[1]);
        }
        close(tp[1]);
        close(rp[1]);
        a[i].tick_fd = tp[0];
        a[i].res_fd = rp[0];
        (void)fcntl(tp[0], F_SETFL, O_NONBLOCK);
        (void)fcntl(rp[0], F_SETFL, O_NONBLOCK);
        if (pid < 0) {
            close_fd(&a[i].tick_fd);
            close_fd(&a[i].res_fd);
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "could not start agent %u of %u (errno %d)",
                               i + 1, p, errno);
        }
        a[i].pid = pid;
    }
    return 0;
}

/* Until every report is in (or the deadline): ticks, reports, SIGINT forwarded. */
static void supervise(const wsp_load_config *cfg, agent *a, unsigned p, int sfd,
                      uint64_t deadline_ns)
{
    struct pollfd pf[1 + 2 * WSP_LOAD_MAX_PROCESSES];
    agent *owner[1 + 2 * WSP_LOAD_MAX_PROCESSES];
    uint64_t next_tick = uv_hrtime() + 1000000000ull;
    for (;;) {
        nfds_t n = 0;
        bool reports_open = false;
        if (sfd >= 0)
            pf[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        for (unsigned i = 0; i < p; i++) {
            if (a[i].tick_fd >= 0) {
                owner[n] = &a[i];
                pf[n++] = (struct pollfd){.fd = a[i].tick_fd, .events = POLLIN};
            }
            if (a[i].res_fd >= 0) {
                owner[n] = &a[i];
                pf[n++] = (struct pollfd){.fd = a[i].res_fd, .events = POLLIN};
                reports_open = true;
            }
        }
        uint64_t now = uv_hrtime();
        if (!reports_open || now >= deadline_ns)
            return;
        for (unsigned i = 0; i < p; i++)
            if (a[i].failed)
                return; /* an agent died or could not run: the run is not whole, stop now */
        uint64_t until = next_tick < deadline_ns ? next_tick : deadline_ns;
        int wait_ms = until > now ? (int)((until - now) / 1000000 + 1) : 0;
        int r = poll(pf, n, wait_ms);
        if (r < 0 && errno != EINTR)
            return;
        for (nfds_t k = 0; r > 0 && k < n; k++) {
            if (!pf[k].revents)
                continue;
            if (pf[k].fd == sfd) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                    for (unsigned i = 0; i < p; i++)
                        if (a[i].pid > 0)
                            kill(a[i].pid, SIGINT);
            } else if (pf[k].fd == owner[k]->tick_fd) {
                drain_ticks(owner[k]);
            } else {
                drain_report(owner[k]);
            }
        }
        if (uv_hrtime() >= next_tick) {
            if (cfg->on_tick)
                summed_tick(cfg, a, p);
            next_tick += 1000000000ull;
        }
    }
}

/* Agent i's report into out (the first) or merged into it. */
static int take_report(agent *a, unsigned i, unsigned p, int status, bool first,
                       wsp_load_result *out, wsp_err *err)
{
    char why[96];
    if (!a->report.p || a->report.failed || a->report.len == 0) {
        wsp_proc_status_text(status, why, sizeof why);
        return wsp_err_set(err, WSP_CLASS_INTERNAL,
                           "load agent %u of %u ended without a report (%s): its share of the "
                           "connections was not measured",
                           i + 1, p, why);
    }
    json_error_t je;
    json_t *j = json_loadb(a->report.p, a->report.len, 0, &je);
    const char *agent_error = json_string_value(json_object_get(j, "agent_error"));
    if (agent_error) {
        const char *cls = json_string_value(json_object_get(j, "class"));
        wsp_err_set(err, cls && strcmp(cls, "USAGE") == 0 ? WSP_CLASS_USAGE : WSP_CLASS_INTERNAL,
                    "load agent %u of %u: %s", i + 1, p, agent_error);
        json_decref(j);
        return -1;
    }
    int rc = -1;
    wsp_err e;
    wsp_err_clear(&e);
    if (!j) {
        wsp_err_set(err, WSP_CLASS_INTERNAL, "load agent %u of %u wrote an unreadable report: %s",
                    i + 1, p, je.text);
    } else if (first) {
        rc = wsp_load_result_from_json(out, j, &e);
    } else {
        wsp_load_result *r = wsp_load_result_new();
        rc = r ? wsp_load_result_from_json(r, j, &e) : -1;
        if (rc == 0 && wsp_load_result_merge(out, r) != 0) {
            wsp_err_set(&e, WSP_CLASS_INTERNAL, "out of memory");
            rc = -1;
        }
        wsp_load_result_free(r);
    }
    if (rc != 0 && j)
        wsp_err_set(err, WSP_CLASS_INTERNAL, "load agent %u of %u: its report: %s", i + 1, p,
                    e.msg[0] ? e.msg : "out of memory");
    json_decref(j);
    return rc;
}

int wsp_load_run_processes(const wsp_load_config *cfg, unsigned processes, wsp_load_result *out,
                           wsp_err *err)
{
    if (processes < 2 || processes > WSP_LOAD_MAX_PROCESSES || cfg->connections < processes)
        return wsp_err_set(err, WSP_CLASS_USAGE, "impossible number of load processes");
    agent a[WSP_LOAD_MAX_PROCESSES];
    memset(a, 0, sizeof a);
    for (unsigned i = 0; i < processes; i++) {
        a[i].tick_fd = a[i].res_fd = -1;
        a[i].report.max = REPORT_MAX;
    }
    /* SIGINT goes to a signalfd from here on; the agents unblock it (wsp_proc_fork) */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    int sfd = -1;
    if (cfg->handle_sigint) {
        /* (the agents inherit it blocked, and unblock it once their handler is in place) */
        sigprocmask(SIG_BLOCK, &set, &old);
        sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sfd < 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "signalfd failed (errno %d)", errno);
        }
    }
    /* every agent starts at one instant, late enough for the last fork */
    uint64_t start_ns = uv_hrtime() + 20000000ull * processes;
    int rc = start_agents(cfg, a, processes, start_ns, err);
    uint64_t timeout_us = cfg->conn->timeout_us ? cfg->conn->timeout_us : 30000000ull;
    uint64_t drain_us = cfg->drain_us ? cfg->drain_us : 2000000ull;
    uint64_t deadline = start_ns +
                        (cfg->warmup_us + cfg->duration_us + drain_us + 2 * timeout_us) * 1000ull +
                        GRACE_MS * 1000000ull;
    if (rc == 0)
        supervise(cfg, a, processes, sfd, deadline);
    pid_t pids[WSP_LOAD_MAX_PROCESSES];
    int status[WSP_LOAD_MAX_PROCESSES];
    unsigned late = processes, lost = processes;
    for (unsigned i = 0; i < processes; i++) {
        pids[i] = a[i].pid;
        if (a[i].failed) {
            if (lost == processes)
                lost = i; /* it ended without a report, or with the error that stopped it */
        } else if (a[i].res_fd >= 0 && late == processes) {
            late = i; /* its report was still coming when the others stopped waiting */
        }
    }
    bool whole = rc == 0 && lost == processes && late == processes;
    for (unsigned i = 0; i < processes; i++)
        if (!whole && a[i].pid > 0 && a[i].res_fd >= 0)
            kill(a[i].pid, SIGKILL); /* a run that is not whole is not waited for */
    /* an agent that wrote its report exits at once: a few seconds is plenty */
    (void)wsp_proc_reap(pids, status, processes, 5000);
    if (rc == 0 && lost < processes)
        rc = take_report(&a[lost], lost, processes, status[lost], false, out, err);
    else if (rc == 0 && late < processes)
        rc = wsp_err_set(err, WSP_CLASS_INTERNAL,
                         "load agent %u of %u had not ended by its deadline (the run's planned "
                         "end, the drain, twice --timeout and %llu s more): killed, its share of "
                         "the connections unmeasured",
                         late + 1, processes, (unsigned long long)(GRACE_MS / 1000));
    for (unsigned i = 0; i < processes && rc == 0; i++)
        rc = take_report(&a[i], i, processes, status[i], i == 0, out, err);
    for (unsigned i = 0; i < processes; i++) {
        close_fd(&a[i].tick_fd);
        close_fd(&a[i].res_fd);
        wsp_buf_free(&a[i].report);
    }
    if (sfd >= 0) {
        close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    return rc;
}
