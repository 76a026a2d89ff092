/* proc.c - worker processes (proc.h). */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

pid_t wsp_proc_fork(int deathsig, bool own_group)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (prctl(PR_SET_PDEATHSIG, deathsig) != 0 || getppid() != parent)
        _exit(70); /* the parent is gone already, or would leave this one behind */
    if (own_group)
        (void)setpgid(0, 0);
    return 0;
}

size_t wsp_proc_reap(const pid_t *pids, int *status, size_t n, uint64_t timeout_ms)
{
    size_t left = 0, killed = 0;
    for (size_t i = 0; i < n; i++) {
        status[i] = 0;
        left += pids[i] > 0;
    }
    bool *done = left ? calloc(n, sizeof *done) : NULL;
    if (left && !done) { /* no memory to keep count: kill and reap each in turn */
        for (size_t i = 0; i < n; i++)
            if (pids[i] > 0) {
                kill(pids[i], SIGKILL);
                waitpid(pids[i], &status[i], 0);
                killed++;
            }
        return killed;
    }
    uint64_t deadline = wsp_clock_mono_ns() + timeout_ms * 1000000ull;
    bool killing = false;
    while (left > 0) {
        for (size_t i = 0; i < n; i++) {
            if (pids[i] <= 0 || done[i])
                continue;
            pid_t r = waitpid(pids[i], &status[i], WNOHANG);
            if (r == pids[i] || (r < 0 && errno == ECHILD)) {
                done[i] = true;
                left--;
            }
        }
        if (!left)
            break;
        if (!killing && wsp_clock_mono_ns() >= deadline) {
            for (size_t i = 0; i < n; i++)
                if (pids[i] > 0 && !done[i] && kill(pids[i], SIGKILL) == 0)
                    killed++;
            killing = true;
        }
        struct timespec ts = {0, 5000000}; /* 5 ms between looks: a worker ends in milliseconds */
        nanosleep(&ts, NULL);
    }
    free(done);
    return killed;
}

void wsp_proc_status_text(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
                 sigdescr_np(WTERMSIG(status)) ? sigdescr_np(WTERMSIG(status)) : "unknown");
    else
        snprintf(buf, cap, "ended (wait status %d)", status);
}

int wsp_write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}
