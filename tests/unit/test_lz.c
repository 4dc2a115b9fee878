/*
 * Unit tests of the encoding of cold connections (plugin/lz.c): every input
 * decodes to itself, with and without a dictionary, across the limits of each
 * kind of run; the dictionary is used; the output bound holds; and bytes
 * encoded before the dictionary was set still decode after (store.c relies on
 * it: summary-only slots may be encoded first).
 */
#include <glib.h>
#include <string.h>

#include "lz.h"

#define MAX_IN 4096

static uint8_t work[2 * MAX_IN], out[TS_LZ_MAX_OUT(MAX_IN)], back[MAX_IN];

static size_t round_trip(const ts_lz_dict *enc, const ts_lz_dict *dec, const uint8_t *in, size_t n)
{
    g_assert_cmpuint(n, <=, MAX_IN);
    size_t m = ts_lz_encode(enc, in, n, out, work);
    g_assert_cmpuint(m, <=, TS_LZ_MAX_OUT(n));
    memset(back, 0xa5, sizeof back);
    ts_lz_decode(dec, out, back, n, work);
    g_assert_cmpmem(back, n, in, n);
    return m;
}

static void fill_random(GRand *r, uint8_t *p, size_t n, unsigned zero_permille)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned)g_rand_int_range(r, 0, 1000) < zero_permille ? 0 : (uint8_t)g_rand_int_range(r, 1, 256);
}

static void test_random_without_dictionary(void)
{
    ts_lz_dict none;
    ts_lz_dict_set(&none, NULL, 0);
    GRand *r = g_rand_new_with_seed(1);
    uint8_t in[MAX_IN];
    for (size_t n = 0; n <= 600; n++) {
        fill_random(r, in, n, (unsigned)(n % 4) * 300);
        round_trip(&none, &none, in, n);
    }
    g_rand_free(r);
}

/* Runs one longer and one shorter than each limit: zeros (2..65), literals
 * (1..128), copies (4..67), and copies at the largest distance. */
static void test_run_lengths_at_their_limits(void)
{
    ts_lz_dict none;
    ts_lz_dict_set(&none, NULL, 0);
    uint8_t in[MAX_IN];
    static const size_t lengths[] = {1, 2, 3, 4, 5, 64, 65, 66, 67, 68, 127, 128, 129, 130, 200, 1000};
    for (size_t a = 0; a < G_N_ELEMENTS(lengths); a++) {
        size_t n = lengths[a];
        memset(in, 0, n); /* zeros only */
        round_trip(&none, &none, in, n);
        for (size_t i = 0; i < n; i++) /* literals only: no zero, no repeat of 4 bytes */
            in[i] = (uint8_t)(1 + (i * 7 + i / 255) % 255);
        round_trip(&none, &none, in, n);
        for (size_t i = 0; i < 2 * n + 8; i++) /* a pattern, then the same again: one long copy */
            in[i] = (uint8_t)(1 + (i % (n + 4)) % 251);
        round_trip(&none, &none, in, 2 * n + 8);
    }
}

static void test_dictionary_makes_a_copy_of_it_small(void)
{
    GRand *r = g_rand_new_with_seed(2);
    uint8_t dict_bytes[700], in[700];
    fill_random(r, dict_bytes, sizeof dict_bytes, 0); /* no zeros: runs of zeros would cut the copies */
    ts_lz_dict dict, none;
    ts_lz_dict_set(&dict, dict_bytes, sizeof dict_bytes);
    ts_lz_dict_set(&none, NULL, 0);
    /* The dictionary itself: mostly copies of up to 67 bytes, 3 bytes each
     * (a position whose hash another one overwrote is a literal). */
    size_t with = round_trip(&dict, &dict, dict_bytes, sizeof dict_bytes);
    size_t without = round_trip(&none, &none, dict_bytes, sizeof dict_bytes);
    g_assert_cmpuint(with * 10, <, sizeof dict_bytes);
    g_assert_cmpuint(with * 10, <, without);
    /* A few bytes changed here and there, as from one connection to the next. */
    memcpy(in, dict_bytes, sizeof in);
    for (int k = 0; k < 20; k++)
        in[g_rand_int_range(r, 0, (gint32)sizeof in)] ^= 0x5a;
    with = round_trip(&dict, &dict, in, sizeof in);
    g_assert_cmpuint(with * 4, <, without);
    /* Random inputs of every length against the dictionary. */
    for (size_t n = 0; n <= 700; n += 7) {
        fill_random(r, in, n, 200);
        round_trip(&dict, &dict, in, n);
    }
    g_rand_free(r);
}

static void test_bytes_encoded_before_the_dictionary_decode_after(void)
{
    GRand *r = g_rand_new_with_seed(3);
    uint8_t dict_bytes[500], in[300];
    fill_random(r, dict_bytes, sizeof dict_bytes, 300);
    ts_lz_dict dict, none;
    ts_lz_dict_set(&dict, dict_bytes, sizeof dict_bytes);
    ts_lz_dict_set(&none, NULL, 0);
    for (int k = 0; k < 50; k++) {
        fill_random(r, in, sizeof in, 400);
        memcpy(in + 100, in, 50); /* copies within the input */
        round_trip(&none, &dict, in, sizeof in);
    }
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lz/random-without-dictionary", test_random_without_dictionary);
    g_test_add_func("/lz/run-lengths-at-their-limits", test_run_lengths_at_their_limits);
    g_test_add_func("/lz/dictionary-makes-a-copy-of-it-small", test_dictionary_makes_a_copy_of_it_small);
    g_test_add_func("/lz/bytes-encoded-before-the-dictionary-decode-after",
                    test_bytes_encoded_before_the_dictionary_decode_after);
    return g_test_run();
}
