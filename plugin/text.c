/*
 * Short texts built by plain copying, and item labels set from them.
 *
 * The tree of a visible dissection (GUI details, tshark -V; -T fields on 4.0) gets a
 * few labels on every frame: the summary line, each side's line, the
 * connection's line. Formatting them with printf-style calls costs over a
 * thousand instructions each (g_vsnprintf, and proto_item_append_text fills
 * the field's own label first); copying the words costs a few dozen.
 */
#include "tcpstate_plugin.h"
#include "ipv6_text.h"

#include <string.h>

#include <epan/proto.h>
#include <wsutil/to_str.h>

void ts_text_put(ts_text *t, const char *s)
{
    /* libc's strlen and memcpy take words at a time, not bytes. */
    size_t n = strlen(s), room = (size_t)(t->end - t->p);
    if (n > room)
        n = room;
    memcpy(t->p, s, n);
    t->p += n;
    *t->p = '\0';
}

void ts_text_uint(ts_text *t, uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    char *p = t->p;
    while (n > 0 && p < t->end)
        *p++ = digits[--n];
    *p = '\0';
    t->p = p;
}

void ts_text_endpoint(ts_text *t, const uint8_t *addr, uint8_t addr_len, uint16_t port)
{
    char host[WS_INET6_ADDRSTRLEN];
    if (addr_len == 4) {
        ws_in4_addr a4;
        memcpy(&a4, addr, sizeof a4);
        ip_addr_to_str_buf(&a4, host, (int)sizeof host);
        ts_text_put(t, host);
        ts_text_put(t, ":");
    } else if (addr_len == 16) {
        ts_ipv6_text(host, addr);
        ts_text_put(t, "[");
        ts_text_put(t, host);
        ts_text_put(t, "]:");
    } else {
        ts_text_put(t, "port ");
    }
    ts_text_uint(t, port);
}

void ts_item_set_label(proto_item *item, const char *label)
{
    /* The one format that needs no parsing of the text; the label keeps
     * Wireshark's length limit (ITEM_LABEL_LENGTH) and truncation mark. */
    proto_item_set_text(item, "%s", label);
}
