/* log.h: the daemon's log (log.c), the lowest layer of daemon/. */
#ifndef VSD_LOG_H
#define VSD_LOG_H

#include <stdbool.h>

void vsd_log_set_debug(bool on);
bool vsd_log_debug_enabled(void);
/* "vsd: <message>" on stderr. */
void vsd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, only with --debug. */
void vsd_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
