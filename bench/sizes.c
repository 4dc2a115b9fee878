/*
 * tcpstate_sizes: the sizes of what the plugin keeps per frame and per connection.
 * Built by bench.py against plugin/tcpstate_plugin.h (needs the Wireshark SDK).
 *
 * What store.c keeps for the whole file: the 8-byte record per frame; per
 * frame with details (a third of them), an 8-byte index entry and a few bytes
 * of varints; per connection a slot of about 56 bytes and, once it has left
 * the HOT_MAX most recent connections, its summary (and state machine, until
 * TIME-WAIT is over) encoded (zero runs squeezed). Only the last few thousand
 * connections are kept as plain ts_summary + ts_conn. ts_frame_extra and
 * ts_conn_entry are views filled on demand.
 */
#include <stdio.h>

#include "tcpstate_plugin.h"

int main(void)
{
    printf("sizeof(ts_frame_record) = %zu\n", sizeof(ts_frame_record));
    printf("sizeof(ts_frame_extra)  = %zu (view)\n", sizeof(ts_frame_extra));
    printf("sizeof(ts_conn_entry)   = %zu (view)\n", sizeof(ts_conn_entry));
    printf("sizeof(ts_summary)      = %zu\n", sizeof(ts_summary));
    printf("sizeof(ts_conn)         = %zu\n", sizeof(ts_conn));
    printf("sizeof(ts_extracted)    = %zu\n", sizeof(ts_extracted));
    return 0;
}
