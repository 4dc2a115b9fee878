/*
 * ts_ipv6_text() must write exactly what the C library's inet_ntop() writes
 * (Wireshark's ip6_to_str_buf() is inet_ntop): every pattern of zero and
 * non-zero groups, group values of every width, the embedded IPv4 forms and
 * their near misses, and random addresses.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "ipv6_text.h"

static void check(const uint8_t addr[16])
{
    char ours[TS_IPV6_TEXT_SIZE], libc[INET6_ADDRSTRLEN];
    memset(ours, 0x55, sizeof ours);
    size_t len = ts_ipv6_text(ours, addr);
    g_assert_nonnull(inet_ntop(AF_INET6, addr, libc, sizeof libc));
    g_assert_cmpstr(ours, ==, libc);
    g_assert_cmpuint(len, ==, strlen(libc));
}

static void set_word(uint8_t addr[16], int i, unsigned v)
{
    addr[2 * i] = (uint8_t)(v >> 8);
    addr[2 * i + 1] = (uint8_t)v;
}

/* Each group zero or not (256 shapes), the non-zero ones of 1 to 4 digits. */
static void test_every_zero_run_shape(void)
{
    static const unsigned values[] = {0x1, 0xa, 0x10, 0xff, 0x100, 0xabc, 0x1000, 0xffff, 0xffff};
    for (unsigned shape = 0; shape < 256; shape++)
        for (unsigned v = 0; v < G_N_ELEMENTS(values); v++) {
            uint8_t addr[16] = {0};
            for (int i = 0; i < 8; i++)
                if (shape & (1u << i))
                    set_word(addr, i, values[(v + (unsigned)i) % G_N_ELEMENTS(values)]);
            check(addr);
        }
}

/* ::a.b.c.d, ::ffff:a.b.c.d, and the addresses next to them that are not
 * written that way (::ffff:0:a.b, ::fffe:..., 1::a.b.c.d, ::1). */
static void test_embedded_ipv4(void)
{
    static const uint8_t v4[][4] = {{0, 0, 0, 0}, {0, 0, 0, 1}, {1, 2, 3, 4}, {10, 0, 0, 1},
                                    {127, 0, 0, 1}, {192, 168, 100, 200}, {255, 255, 255, 255}, {0, 1, 0, 0}};
    static const unsigned word5[] = {0, 0xffff, 0xfffe, 1};
    for (unsigned k = 0; k < G_N_ELEMENTS(v4); k++)
        for (unsigned w = 0; w < G_N_ELEMENTS(word5); w++)
            for (int lead = 0; lead < 3; lead++) {
                uint8_t addr[16] = {0};
                set_word(addr, 5, word5[w]);
                if (lead == 1)
                    set_word(addr, 0, 1);
                if (lead == 2)
                    set_word(addr, 4, 0xffff);
                memcpy(addr + 12, v4[k], 4);
                check(addr);
            }
}

static void test_random_addresses(void)
{
    GRand *rng = g_rand_new_with_seed(5952);
    for (int n = 0; n < 200000; n++) {
        uint8_t addr[16];
        for (int i = 0; i < 8; i++) {
            /* Zero groups often, so that runs of every length come up. */
            unsigned v = g_rand_int_range(rng, 0, 3) == 0 ? 0 : g_rand_int_range(rng, 0, 0x10000);
            set_word(addr, i, v >> (g_rand_int_range(rng, 0, 4) * 4));
        }
        check(addr);
    }
    g_rand_free(rng);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ipv6-text/same-as-inet-ntop/every-zero-run-shape", test_every_zero_run_shape);
    g_test_add_func("/ipv6-text/same-as-inet-ntop/embedded-ipv4", test_embedded_ipv4);
    g_test_add_func("/ipv6-text/same-as-inet-ntop/random", test_random_addresses);
    return g_test_run();
}
