/* proc.h - worker processes: `load --processes` and `serve --workers` fork the same kind of
 * child (gone when the parent goes, its own process group, signals as a fresh process has
 * them) and wait for it with a deadline, so no worker outlives its parent or hangs it. */
#ifndef WSP_PROC_H
#define WSP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* fork(2) a worker. In the child: `deathsig` is delivered when the parent dies
 * (PR_SET_PDEATHSIG; a parent already gone ends the child at once), the child leads its own
 * process group when `own_group` (a terminal's ^C then reaches the parent alone, which forwards
 * it once). The signal mask is the parent's: block the signals the child will handle before
 * forking, and let the child unblock them once its handlers are in place (a signal that comes
 * in between then waits instead of killing it). stdio is flushed first so that nothing
 * buffered is written twice; the child ends with _exit. Returns as fork(2) does. */
pid_t wsp_proc_fork(int deathsig, bool own_group);

/* Wait for the n workers (a pid <= 0 is skipped) for at most timeout_ms; those still running
 * then get SIGKILL and are reaped too. status[i] is each one's wait status. Returns how many
 * had to be killed. */
size_t wsp_proc_reap(const pid_t *pids, int *status, size_t n, uint64_t timeout_ms);

/* A wait status for people: "exited with status 3", "killed by signal 9 (Killed)". */
void wsp_proc_status_text(int status, char *buf, size_t cap);

/* write(2) all of it, through partial writes and EINTR. 0, or -1 with errno. */
int wsp_write_full(int fd, const void *data, size_t len);

#endif
