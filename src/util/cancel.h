/* Cancellation requested by SIGINT/SIGTERM. main.c installs handlers (without SA_RESTART, so
 * blocking calls return EINTR); long loops check cancel_requested() and unwind with ERR_CANCELLED.
 */
#ifndef PERMAFROST_UTIL_CANCEL_H
#define PERMAFROST_UTIL_CANCEL_H

#include <stdbool.h>

/* Installs the SIGINT/SIGTERM handlers (and ignores SIGPIPE, so a dead pipe is an EPIPE error). */
void cancel_install_handlers(void);
bool cancel_requested(void);
/* The signal that requested cancellation, or 0. */
int cancel_signal(void);
/* For tests. */
void cancel_reset(void);

#endif
