/*
 * What the core's sources share among themselves and with their tests, not
 * part of the public interface.
 */
#ifndef TCPSTATE_INTERNAL_H
#define TCPSTATE_INTERNAL_H

#include "tcpstate/tcpstate.h"

/* ts_conn_step() without its fast path for the common ESTABLISHED data/ACK
 * segment: the general state machine, which the fast path must match. */
void ts_conn_step_general(ts_conn *conn, const ts_segment *seg, ts_annotation *out,
                          ts_correction *corrections);

/* The fast path alone: true when it handled the segment (as the general
 * path would have), false with nothing touched otherwise. */
bool ts_conn_step_established(ts_conn *conn, const ts_segment *seg, ts_annotation *out,
                              ts_correction *corrections);

/* The window a segment advertises, in bytes. RFC 7323 2.2-2.3: the Window
 * field of a SYN is never scaled; the others are shifted left by the
 * sender's Window Scale option only when both SYNs carried the option,
 * with a shift above 14 taken as 14. A capture that missed the SYNs gives no
 * scale: the window stays as written (as Wireshark shows it then). */
static inline uint32_t ts_scaled_window(const ts_endpoint *sender, const ts_endpoint *receiver,
                                        const ts_segment *seg)
{
    if ((seg->flags & TS_TH_SYN) || sender->wscale_opt == 0 || receiver->wscale_opt == 0)
        return seg->window;
    unsigned shift = sender->wscale_opt - 1u > 14u ? 14u : sender->wscale_opt - 1u;
    uint64_t scaled = (uint64_t)seg->window << shift;
    return scaled > UINT32_MAX ? UINT32_MAX : (uint32_t)scaled;
}

/* Times in nanoseconds, saturating: a capture's timestamps may come from
 * both ends of int64 (pcapng can say so), and a wrapped TIME-WAIT end or
 * Zeek timer would fire at the wrong moment rather than never. */
static inline int64_t ts_time_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t ts_time_sub(int64_t a, int64_t b)
{
    int64_t d;
    if (__builtin_sub_overflow(a, b, &d))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return d;
}

#endif /* TCPSTATE_INTERNAL_H */
