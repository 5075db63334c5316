/* Host build of the portable firmware core, for the link-protocol tests (tests/test_link.py):
 * accessors for what ctypes cannot see inside struct cell. */
#include <stddef.h>
#include <string.h>

#include "cell.h"

size_t shim_cell_size(void)
{
    return sizeof(struct cell);
}

size_t shim_rx_size(void)
{
    return sizeof(struct link_rx);
}

void shim_cell_get(const struct cell *c, int8_t *state, int8_t *nbr, uint16_t *counters)
{
    memcpy(state, c->state, NCA_CHANNELS);
    memcpy(nbr, c->nbr, sizeof c->nbr);
    counters[0] = c->fires;
    counters[1] = c->good_frames;
    counters[2] = c->bad_frames;
    counters[3] = c->known;
    counters[4] = c->next_fire;
}

void shim_cell_set_state(struct cell *c, const int8_t *state)
{
    memcpy(c->state, state, NCA_CHANNELS);
}

const uint8_t *shim_rx_buf(const struct link_rx *rx)
{
    return rx->buf;
}

void shim_cell_where(const struct cell *c, uint8_t *out)
{
    out[0] = c->x;
    out[1] = c->y;
    out[2] = c->hops;
    out[3] = c->queue_len;
}
