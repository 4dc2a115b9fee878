/*
 * tcpstate plugin shell: every Wireshark version difference, in one place.
 *
 * The plugin's sources are written against the newest API (4.6) and include
 * this header (through tcpstate_plugin.h); on older Wireshark it maps the new
 * names to the old ones. No other file of the plugin tests a Wireshark version.
 * Checked against the installed headers of 4.0.17 (Debian 12), 4.4.19
 * (Debian 13) and 4.6.9 (Debian testing); 4.2 (Ubuntu 24.04) is not checked
 * here: it takes the 4.0 branch of the renames, as 4.4 is the first release
 * whose headers have the new names.
 *
 *   name used in the sources   what 4.0 / 4.2 has        what 4.4 has
 *   tvb_get_uint8()            tvb_get_guint8()          tvb_get_uint8() (old name deprecated)
 *   pntohu16(), pntohu32()     pntoh16(), pntoh32()      pntoh16(), pntoh32() (4.6: only pntohu*)
 *   ip_addr_to_str_buf()       ip_to_str_buf()           ip_addr_to_str_buf() (old name deprecated)
 *   TS_FVALUE(fi)              &fi->value (4.0)          fi->value (fvalue_t *, from 4.2)
 *   ts_pref_bool               gboolean (4.0)            bool (from 4.2)
 *   TS_HAVE_PLUGIN_DESCRIBE    0                         1 (plugin_describe(), wsutil/plugins.h)
 *   TS_HF_PRINTED(hfi)         FALSE (4.0)               ref_type == HF_REF_TYPE_PRINT (from 4.2)
 *   ts_stat_init_result        void                      void (4.6: bool, whether the -z worked)
 */
#ifndef TCPSTATE_WS_COMPAT_H
#define TCPSTATE_WS_COMPAT_H

#include <ws_version.h>
#include <epan/proto.h>
#include <epan/tvbuff.h>
#include <wsutil/pint.h>
#include <wsutil/to_str.h>

#define TS_WS_AT_LEAST(maj, min)                                                                   \
    (WIRESHARK_VERSION_MAJOR > (maj) ||                                                            \
     (WIRESHARK_VERSION_MAJOR == (maj) && WIRESHARK_VERSION_MINOR >= (min)))

/* field_info.value became an fvalue_t * in 4.2; bool preferences take bool * from 4.2. */
#if TS_WS_AT_LEAST(4, 2)
#define TS_FVALUE(fi) ((fi)->value)
typedef bool ts_pref_bool;
#else
#define TS_FVALUE(fi) (&(fi)->value)
typedef gboolean ts_pref_bool;
#endif

/* What tshark prints with -e (-T fields, json, ek). 4.0 builds a visible tree
 * for -T fields, so every item there is real and labelled. From 4.2 tshark
 * primes the -e fields as HF_REF_TYPE_PRINT (output_fields_prime_edt()) and
 * builds an invisible tree: only those items are real, and a printed
 * FT_PROTOCOL item prints its label. Checked with tshark 4.4.19 and 4.6.9:
 * -T fields, -2 -T fields, -T json/ek -e (invisible, PRINT); -T json without
 * -e, -V, -O (visible); -Y and custom columns (invisible, DIRECT). */
#if TS_WS_AT_LEAST(4, 2)
#define TS_HF_PRINTED(hfi) ((hfi)->ref_type == HF_REF_TYPE_PRINT)
#else
#define TS_HF_PRINTED(hfi) FALSE
#endif

/* 4.4 renamed the tvb accessors to C99 types and deprecated the old names. */
#if !TS_WS_AT_LEAST(4, 4)
#define tvb_get_uint8(tvb, offset) tvb_get_guint8((tvb), (offset))
#endif

/* 4.4 deprecated ip_to_str_buf() (bytes); ip_addr_to_str_buf() takes the
 * address as a ws_in4_addr, network byte order. */
#if !TS_WS_AT_LEAST(4, 4)
#include <wsutil/inet_ipv4.h>
static inline void ip_addr_to_str_buf(const ws_in4_addr *ad, char *buf, const int buf_len)
{
    ip_to_str_buf((const guint8 *)ad, buf, buf_len);
}
#endif

/* 4.6 renamed pntoh16/pntoh32 (the old names are gone there). */
#if !TS_WS_AT_LEAST(4, 6)
#define pntohu16(p) pntoh16(p)
#define pntohu32(p) pntoh32(p)
#endif

/* 4.4 asks a plugin what it is (plugin_describe(); `tshark -G plugins` lists
 * "unknown" without it). */
#if TS_WS_AT_LEAST(4, 4)
#include <wsutil/plugins.h>
#define TS_HAVE_PLUGIN_DESCRIBE 1
#else
#define TS_HAVE_PLUGIN_DESCRIBE 0
#endif

/* A -z statistic's init callback (stat_tap_ui.tap_init_cb) returns whether it
 * worked from 4.6 (tshark then stops with an error); before, it returned
 * nothing and a failing one exited itself. TS_STAT_INIT_FAILED ends it either
 * way, TS_STAT_INIT_DONE returns success. */
#if TS_WS_AT_LEAST(4, 6)
typedef bool ts_stat_init_result;
#define TS_STAT_INIT_FAILED() return false
#define TS_STAT_INIT_DONE() return true
#else
#include <stdlib.h>
typedef void ts_stat_init_result;
#define TS_STAT_INIT_FAILED() exit(1)
#define TS_STAT_INIT_DONE() return
#endif

#endif /* TCPSTATE_WS_COMPAT_H */
