/*
 * Unit tests of the frames a correction may rewrite (plugin/patch_list.c):
 * the same frames come back, in order, whether they fit in the list itself or
 * have spilled to the heap, across appends, drops and clears.
 */
#include <glib.h>
#include <string.h>

#include "patch_list.h"

/* Appends 1..n, drops those before `since`, and checks what is left. */
static void check_keeps_frames_since(uint32_t n, uint32_t since)
{
    patch_list p;
    memset(&p, 0, sizeof p);
    for (uint32_t f = 1; f <= n; f++)
        patch_append(&p, f);
    g_assert_cmpuint(p.len, ==, n);
    g_assert_true((p.cap != 0) == (n > PATCH_LOCAL));
    patch_drop_before(&p, since);
    uint32_t first = since < 1 ? 1 : since;
    uint32_t want = first > n ? 0 : n - first + 1;
    g_assert_cmpuint(p.len, ==, want);
    for (uint32_t i = 0; i < p.len; i++)
        g_assert_cmpuint(patch_frames(&p)[i], ==, first + i);
    patch_clear(&p);
    g_assert_cmpuint(p.len, ==, 0);
    g_assert_cmpuint(p.cap, ==, 0);
    g_assert_null(p.heap);
}

static void test_frames_in_place_and_on_the_heap_read_the_same(void)
{
    for (uint32_t n = 0; n <= 4 * PATCH_LOCAL + 3; n++)
        for (uint32_t since = 0; since <= n + 1; since++)
            check_keeps_frames_since(n, since);
}

static void test_a_spilled_list_keeps_growing_after_a_drop(void)
{
    patch_list p;
    memset(&p, 0, sizeof p);
    for (uint32_t f = 1; f <= 100; f++) {
        patch_append(&p, f);
        if (f % 10 == 0)
            patch_drop_before(&p, f - 3);
    }
    /* last drop at 100 kept 97..100 */
    g_assert_cmpuint(p.len, ==, 4);
    for (uint32_t i = 0; i < 4; i++)
        g_assert_cmpuint(patch_frames(&p)[i], ==, 97 + i);
    patch_clear(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/patch_list/frames_in_place_and_on_the_heap_read_the_same",
                    test_frames_in_place_and_on_the_heap_read_the_same);
    g_test_add_func("/patch_list/a_spilled_list_keeps_growing_after_a_drop",
                    test_a_spilled_list_keeps_growing_after_a_drop);
    return g_test_run();
}
