#include "cell.h"

#include <string.h>

/* Where a frame's states go: [link][0] own state, [1] its north relay, [2] its south relay.
 * 0xFF: not used. East and west neighbours relay the diagonals. */
static const uint8_t SLOT_OF[LINK_COUNT][3] = {
    [LINK_N] = {NCA_N, 0xFF, 0xFF},
    [LINK_E] = {NCA_E, NCA_NE, NCA_SE},
    [LINK_S] = {NCA_S, 0xFF, 0xFF},
    [LINK_W] = {NCA_W, NCA_NW, NCA_SW},
};

static uint16_t xorshift16(uint16_t *s)
{
    uint16_t x = *s;
    x ^= (uint16_t)(x << 7);
    x ^= (uint16_t)(x >> 9);
    x ^= (uint16_t)(x << 8);
    *s = x;
    return x;
}

static void schedule_next(struct cell *c, uint16_t now)
{
    c->next_fire = (uint16_t)(now + CELL_WAIT_MIN_MS + (uint16_t)(xorshift16(&c->rng) & (CELL_WAIT_SPAN_MS - 1)));
}

/* Time comparisons modulo 2^16 ms (about 65 s): a is at or after b. */
static uint8_t reached(uint16_t now, uint16_t t)
{
    return (uint16_t)(now - t) < 0x8000u;
}

void cell_init(struct cell *c, uint16_t rng_seed, uint16_t now)
{
    memset(c, 0, sizeof *c);
    c->rng = rng_seed;
    if (c->rng == 0) {
        c->rng = 0xACE1u; /* xorshift's one forbidden state */
    }
    c->last_sent = (uint16_t)(now - CELL_HEARTBEAT_MS);
    schedule_next(c, now);
}

void cell_on_frame(struct cell *c, uint8_t link, const uint8_t *frame, int16_t len, uint16_t now)
{
    uint8_t k;
    if (link >= LINK_COUNT || len != LINK_HEADER + LINK_MAX_PAYLOAD) {
        c->bad_frames++;
        return;
    }
    c->good_frames++;
    for (k = 0; k < 3; k++) {
        uint8_t slot = SLOT_OF[link][k];
        /* relayed states count only when the sender flags them valid (flag bit k - 1) */
        if (slot != 0xFF && (k == 0 || (frame[2] >> (k - 1)) & 1u)) {
            memcpy(c->nbr[slot], frame + LINK_HEADER + k * LINK_STATE_BYTES, LINK_STATE_BYTES);
            c->heard[slot] = now;
            c->known |= (uint8_t)(1u << slot);
        }
    }
}

void cell_on_bad_frame(struct cell *c)
{
    c->bad_frames++;
}

void cell_expire(struct cell *c, uint16_t now)
{
    uint8_t k, bit = 1;
    for (k = 0; k < NCA_NEIGHBOURS; k++, bit <<= 1) {
        if ((c->known & bit) && (uint16_t)(now - c->heard[k]) > CELL_TIMEOUT_MS) {
            memset(c->nbr[k], 0, NCA_CHANNELS);
            c->known &= (uint8_t)~bit;
        }
    }
}

uint8_t cell_maybe_fire(struct cell *c, uint16_t now)
{
    if (!reached(now, c->next_fire)) {
        return 0;
    }
    cell_expire(c, now);
    nca_fire(c->state, (const int8_t(*)[NCA_CHANNELS])c->nbr, c->state);
    c->fires++;
    c->last_sent = (uint16_t)(now - CELL_HEARTBEAT_MS); /* send the new state right away */
    schedule_next(c, now);
    return 1;
}

uint8_t cell_should_send(const struct cell *c, uint16_t now)
{
    return (uint16_t)(now - c->last_sent) >= CELL_HEARTBEAT_MS;
}

uint8_t cell_build_frame(struct cell *c, uint8_t *out, uint16_t now)
{
    uint8_t raw[LINK_MAX_RAW];
    uint16_t crc;
    raw[0] = LINK_VERSION;
    raw[1] = LINK_TYPE_STATE;
    raw[2] = (uint8_t)((c->known & (1u << NCA_N) ? CELL_RELAY_N : 0) | (c->known & (1u << NCA_S) ? CELL_RELAY_S : 0));
    memcpy(raw + LINK_HEADER, c->state, LINK_STATE_BYTES);
    memcpy(raw + LINK_HEADER + LINK_STATE_BYTES, c->nbr[NCA_N], LINK_STATE_BYTES);
    memcpy(raw + LINK_HEADER + 2 * LINK_STATE_BYTES, c->nbr[NCA_S], LINK_STATE_BYTES);
    crc = link_crc16(raw, LINK_HEADER + LINK_MAX_PAYLOAD);
    raw[LINK_HEADER + LINK_MAX_PAYLOAD] = (uint8_t)(crc >> 8);
    raw[LINK_HEADER + LINK_MAX_PAYLOAD + 1] = (uint8_t)crc;
    c->last_sent = now;
    return link_cobs_encode(raw, LINK_MAX_RAW, out);
}

void cell_plant_seed(struct cell *c)
{
    uint8_t ch;
    for (ch = 0; ch < NCA_CHANNELS; ch++) {
        c->state[ch] = (int8_t)(ch >= NCA_ALPHA ? 1 << NCA_STATE_FRAC_BITS : 0);
    }
    c->last_sent = (uint16_t)(c->last_sent - CELL_HEARTBEAT_MS);
}

void cell_clear(struct cell *c)
{
    memset(c->state, 0, NCA_CHANNELS);
    c->last_sent = (uint16_t)(c->last_sent - CELL_HEARTBEAT_MS);
}
