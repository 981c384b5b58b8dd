/*
 * stub_io.h - the stub transport's sockets: c-ares' socket functions,
 * with UDP queries sent and replies read in batches (sendmmsg and
 * recvmmsg) instead of one system call per packet.
 */
#ifndef MX_STUB_IO_H
#define MX_STUB_IO_H

#include <ares.h>
#include <event2/event.h>

#include "mx.h"

struct stub_io;

/*
 * Installs batched socket functions on channel, whose UDP sockets get a
 * receive buffer of rcvbuf bytes.  Queued queries go out before the loop
 * on base next waits.  When a queued query could not be sent, c-ares is
 * made to read that socket (ares_process_fd) from the loop, and then
 * processed(arg) runs, as after any ares_process_fd of the caller's.
 * Free with stub_io_free after ares_destroy(channel): c-ares closes its
 * sockets through these functions.
 */
mx_err stub_io_new(struct stub_io **out, struct event_base *base, ares_channel channel, int rcvbuf,
    void (*processed)(void *), void *arg);
void stub_io_free(struct stub_io *io);

#endif
