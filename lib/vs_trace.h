/* vs_trace: where the time of a start, exec or stop goes. When the
 * environment names a file in VSD_TRACE_FILE (a benchmark's private vsd),
 * each vs_trace_mark() appends one line "SECONDS.MICROS PID STEP" with
 * CLOCK_REALTIME (time namespaces shift the monotonic clocks of a container's processes) to it, from whichever process reaches the step (the
 * daemon, the monitor, the container's first process, the exec helper);
 * bench/lifecycle.sh orders the lines and charges each interval to the
 * step that ends it. Without the variable a mark costs one branch.
 *
 * Safe after fork() in a multi-threaded parent: the file is opened (or
 * not) by vs_trace_init() before any fork, and a mark only formats into a
 * stack buffer and write()s it with O_APPEND, one line per write. */
#ifndef VS_TRACE_H
#define VS_TRACE_H

/* Read VSD_TRACE_FILE once and open it; call early in main(). */
void vs_trace_init(void);
void vs_trace_mark(const char *step);

#endif
