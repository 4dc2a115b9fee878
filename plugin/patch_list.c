/* The frames a correction may still rewrite: see patch_list.h. */
#include "patch_list.h"

#include <glib.h>
#include <string.h>

uint32_t *patch_frames(patch_list *p)
{
    return p->cap != 0 ? p->heap : p->local;
}

void patch_clear(patch_list *p)
{
    g_free(p->heap);
    p->heap = NULL;
    p->len = p->cap = 0;
}

void patch_append(patch_list *p, uint32_t frame)
{
    if (p->cap == 0 && p->len == PATCH_LOCAL) {
        p->cap = 4 * PATCH_LOCAL;
        p->heap = g_new(uint32_t, p->cap);
        memcpy(p->heap, p->local, sizeof p->local);
    } else if (p->cap != 0 && p->len == p->cap) {
        p->cap *= 2;
        p->heap = g_renew(uint32_t, p->heap, p->cap);
    }
    patch_frames(p)[p->len++] = frame;
}

void patch_drop_before(patch_list *p, uint32_t since)
{
    uint32_t *frames = patch_frames(p), keep_from = 0;
    while (keep_from < p->len && frames[keep_from] < since)
        keep_from++;
    if (keep_from > 0) {
        memmove(frames, frames + keep_from, (p->len - keep_from) * sizeof *frames);
        p->len -= keep_from;
    }
}
