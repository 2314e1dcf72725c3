#include "util/cancel.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t cancel_sig;

static void cancel_handler(int sig)
{
    cancel_sig = sig;
}

void cancel_install_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cancel_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking reads return EINTR so loops can notice */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
}

bool cancel_requested(void)
{
    return cancel_sig != 0;
}

int cancel_signal(void)
{
    return (int)cancel_sig;
}

void cancel_reset(void)
{
    cancel_sig = 0;
}
