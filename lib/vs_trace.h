/* vs_trace: where the time of a start, exec or stop goes. When the
 * environment names a file in VSD_TRACE_FILE (a benchmark's private vsd),
 * each vs_trace_mark() appends one line "SECONDS.MICROS PID STEP" to it,
 * from whichever process reaches the step (the daemon, the monitor, the
 * container's first process, the exec helper, vsctl); bench/lifecycle.sh
 * orders the lines and charges each interval to the step that ends it.
 * The clock is CLOCK_REALTIME: a container's time namespace shifts the
 * monotonic clocks of its processes. Without the variable a mark costs
 * one branch.
 *
 * Safe after fork() in a multi-threaded parent: the file is opened (or
 * not) by vs_trace_init() before any fork, and a mark only formats into a
 * stack buffer and write()s it with O_APPEND, one line per write. */
#ifndef VS_TRACE_H
#define VS_TRACE_H

/* Read VSD_TRACE_FILE once and open it; call early in main(). */
void vs_trace_init(void);
/* After the process closed every descriptor (a forked child that does
 * not execute): forget the old one and open the file again. */
void vs_trace_reopen(void);
void vs_trace_mark(const char *step);

#endif
