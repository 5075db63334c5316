#include "cell.h"

#include <string.h>

/* Where a state frame's states go: [link][0] own state, [1] and [2] its relays. A frame relays
 * the sender's north and south neighbours or, every other frame, its east and west ones
 * (flag CELL_RELAY_EW): the ones that are our diagonals come from east and west in the first
 * case, from north and south in the second. Every diagonal so comes by two neighbours, and one
 * dead board does not take it. */
static const uint8_t SLOT_OF[LINK_COUNT][3] = {
    [LINK_N] = {NCA_N, NCA_NE, NCA_NW},
    [LINK_E] = {NCA_E, NCA_NE, NCA_SE},
    [LINK_S] = {NCA_S, NCA_SE, NCA_SW},
    [LINK_W] = {NCA_W, NCA_NW, NCA_SW},
};

static const int8_t DX[LINK_COUNT] = LINK_DX;
static const int8_t DY[LINK_COUNT] = LINK_DY;

#ifdef CELL_TRACE
#define TRACE(c, mark) cell_trace((c)->state, (mark))
#else
#define TRACE(c, mark) ((void)0)
#endif

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
    c->x = c->y = c->hops = CELL_UNKNOWN;
    /* where and reported are adjacent: unknown, and the first report always goes */
    memset(c->where, CELL_UNKNOWN, sizeof c->where + sizeof c->reported);
    c->last_sent = (uint16_t)(now - CELL_HEARTBEAT_MS);
    c->next_report = now;
    /* a random first sequence number: a gateway that restarts is not ignored as a repeat */
    c->command[0] = (uint8_t)xorshift16(&c->rng);
    c->command[1] = (uint8_t)xorshift16(&c->rng);
    c->tie = (uint8_t)xorshift16(&c->rng);
    schedule_next(c, now);
}

static void send_soon(struct cell *c)
{
    c->last_sent = (uint16_t)(c->last_sent - CELL_HEARTBEAT_MS);
}

static uint8_t queue_report(struct cell *c, const uint8_t *report)
{
    if (c->queue_len >= CELL_QUEUE) {
        return 0;
    }
    memcpy(c->queue[(uint8_t)(c->queue_head + c->queue_len++) % CELL_QUEUE], report, CELL_REPORT_BYTES);
    return 1;
}

static void drop_reports(struct cell *c, uint8_t n)
{
    c->queue_head = (uint8_t)((c->queue_head + n) % CELL_QUEUE);
    c->queue_len = (uint8_t)(c->queue_len - n);
}

static void plant_or_clear(struct cell *c, uint8_t op)
{
    uint8_t ch;
    for (ch = 0; ch < NCA_CHANNELS; ch++) {
        c->state[ch] = (int8_t)(op == 'P' ? nca_seed_value(ch) : 0);
    }
    send_soon(c);
}

/* Take a new command: pass it on, and apply it if this cell is in its rectangle. */
static uint8_t run_command(struct cell *c, const uint8_t *cmd)
{
    memcpy(c->command, cmd, CELL_COMMAND_BYTES);
    c->command_pending = 1;
    if (c->x == CELL_UNKNOWN || c->x < cmd[3] || c->y < cmd[4] || c->x > cmd[5] || c->y > cmd[6]) {
        return 0;
    }
    plant_or_clear(c, cmd[2]);
    return 1;
}

/* 1 to CELL_REPORTS_PER_FRAME whole reports (a loop: AVR has no divide instruction) */
static uint8_t whole_reports(uint8_t n)
{
    uint8_t k;
    for (k = CELL_REPORT_BYTES; k <= CELL_REPORTS_PER_FRAME * CELL_REPORT_BYTES; k += CELL_REPORT_BYTES) {
        if (n == k) {
            return 1;
        }
    }
    return 0;
}

uint8_t cell_on_frame(struct cell *c, uint8_t link, const uint8_t *frame, int16_t len, uint16_t now)
{
    const uint8_t *p = frame + LINK_HEADER;
    uint8_t n = (uint8_t)(len - LINK_HEADER), type = frame[1], flags = frame[2], k;
    uint8_t back = (uint8_t)((link + 2) & 3); /* our side as the sender sees it */
    /* only what a board may send is taken: anything else is counted as bad and ignored */
    if (link >= LINK_COUNT
        || (type == LINK_TYPE_STATE ? n != LINK_MAX_PAYLOAD
            : type == LINK_TYPE_REPORT ? !whole_reports(n)
            : type == LINK_TYPE_COMMAND ? n != CELL_COMMAND_BYTES || (p[2] != 'P' && p[2] != 'Z') || p[3] > p[5] || p[4] > p[6]
            : n != 0)) {
        c->bad_frames++;
        return 0;
    }
    c->good_frames++;
    /* every frame acks: bit 4 + l of its flags is the sequence bit of the last report frame the
     * sender took from its link l, so ours is bit 4 + back */
    k = (uint8_t)((flags >> (CELL_ACK_SHIFT + back)) & 1u);
    c->heard_ack[link] = k;
    if (c->in_flight && link == c->parent && k == c->in_flight_seq) {
        drop_reports(c, c->in_flight);
        c->in_flight = 0;
    }
    if (type == LINK_TYPE_STATE) {
        /* relays count when they are our diagonals (north and south ones from east and west,
         * east and west ones from north and south) and the sender flags them valid (bit k - 1) */
        uint8_t ours = (uint8_t)(link ^ (flags >> 2)) & 1u; /* LINK_E, LINK_W odd; CELL_RELAY_EW bit 2 */
        for (k = 0; k < 3; k++) {
            uint8_t slot = SLOT_OF[link][k];
            if (k == 0 || (ours && (flags >> (k - 1)) & 1u)) {
                memcpy(c->nbr[slot], p + k * LINK_STATE_BYTES, LINK_STATE_BYTES);
                c->heard[slot] = now;
                c->known |= (uint8_t)(1u << slot);
            }
        }
        memcpy(c->where[link], p + 3 * LINK_STATE_BYTES, LINK_WHERE_BYTES);
    } else if (type == LINK_TYPE_REPORT && (flags & 3u) == back) {
        /* sent on every link at once, for the neighbour its flags name: us. A frame seen before
         * (same sequence bit) is acked again, not taken twice; one that does not fit is not
         * acked, so the sender retries: reports wait, they are not dropped. One place in the
         * queue stays free for this board's own report. */
        k = (uint8_t)((flags >> 2) & 1u);
        if (k != c->acked[link]) {
            if (c->queue_len * CELL_REPORT_BYTES + n > (CELL_QUEUE - 1) * CELL_REPORT_BYTES) {
                return 0;
            }
            for (; n; n -= CELL_REPORT_BYTES, p += CELL_REPORT_BYTES) {
                queue_report(c, p);
            }
            c->acked[link] = k;
        }
        c->ack_due = 1;
    } else if (type == LINK_TYPE_COMMAND && memcmp(p, c->command, 2) != 0) {
        return run_command(c, p);
    }
    return 0;
}

void cell_on_bad_frame(struct cell *c)
{
    c->bad_frames++;
}

/* A report worth sending: new coordinates, or a colour channel more than one step from the
 * last report (a flicker of one step would fill the links and tell the picture little). */
static uint8_t moved(const uint8_t *report, const uint8_t *reported)
{
    uint8_t i;
    for (i = 0; i < CELL_REPORT_BYTES; i++) {
        int16_t d = (int16_t)((int8_t)report[i] - (int8_t)reported[i]);
        if (d > 1 || d < -1 || (i < 2 && d)) {
            return 1;
        }
    }
    return 0;
}

void cell_expire(struct cell *c, uint16_t now)
{
    uint8_t k, bit = 1, best = CELL_UNKNOWN;
    for (k = 0; k < NCA_NEIGHBOURS; k++, bit <<= 1) {
        if ((c->known & bit) && (uint16_t)(now - c->heard[k]) > CELL_TIMEOUT_MS) {
            memset(c->nbr[k], 0, NCA_CHANNELS);
            c->known &= (uint8_t)~bit;
        }
    }
    if (!c->gateway) { /* the route: through the living neighbour fewest hops from a gateway */
        uint8_t parent = c->parent;
        for (k = 0; k < LINK_COUNT; k++) {
            /* ties go to a side this board picked at random: the reports of the grid spread
             * over the gateway's links instead of all taking the first side */
            uint8_t l = (uint8_t)((k + c->tie) & 3);
            const uint8_t *w = c->where[l];
            if ((c->known >> SLOT_OF[l][0]) & 1u && w[2] < best && w[0] != CELL_UNKNOWN) {
                best = w[2];
                c->parent = l;
            }
        }
        if (parent != c->parent) {
            c->in_flight = 0; /* the new parent gets them afresh, with its own sequence bit */
        }
        best = best == CELL_UNKNOWN ? CELL_UNKNOWN : (uint8_t)(best + 1);
        if (best != c->hops) { /* tell the neighbours now: the grid maps itself in one sweep */
            if (c->hops == CELL_UNKNOWN) {
                c->next_report = now; /* a route at last: the host hears of this board at once */
            }
            c->hops = best;
            send_soon(c);
        }
        if (best != CELL_UNKNOWN) {
            c->x = (uint8_t)(c->where[c->parent][0] - DX[c->parent]);
            c->y = (uint8_t)(c->where[c->parent][1] - DY[c->parent]);
        }
    }
    if (reached(now, c->next_report)) {
        /* report when the colour moved, and every CELL_REPORT_EVERY periods anyway: empty and
         * settled boards leave the links to the boards that change */
        uint8_t report[CELL_REPORT_BYTES] = {c->x, c->y};
        memcpy(report + 2, c->state, 4);
        if (c->hops != CELL_UNKNOWN && (moved(report, c->reported) || ++c->unchanged >= CELL_REPORT_EVERY)
            && queue_report(c, report)) { /* a full queue: tried again next period */
            memcpy(c->reported, report, CELL_REPORT_BYTES);
            c->unchanged = 0;
        }
        c->next_report = (uint16_t)(now + CELL_REPORT_MS + (xorshift16(&c->rng) & (CELL_REPORT_MS - 1)));
    }
}

uint8_t cell_maybe_fire(struct cell *c, uint16_t now)
{
    if (!reached(now, c->next_fire)) {
        return 0;
    }
    cell_expire(c, now);
    TRACE(c, 1);
    nca_fire(c->state, (const int8_t(*)[NCA_CHANNELS])c->nbr, c->state);
    TRACE(c, 2);
    c->fires++;
    c->last_sent = (uint16_t)(now - CELL_HEARTBEAT_MS); /* send the new state right away */
    schedule_next(c, now);
    return 1;
}

uint8_t cell_build_frame(struct cell *c, uint8_t *out, uint16_t now)
{
    uint8_t raw[LINK_MAX_RAW];
    uint8_t n = LINK_HEADER, type = LINK_TYPE_ACK, flags = 0, k, acks;
    uint16_t crc;
    if (c->command_pending) {
        c->command_pending = 0;
        type = LINK_TYPE_COMMAND;
        memcpy(raw + n, c->command, CELL_COMMAND_BYTES);
        n += CELL_COMMAND_BYTES;
    } else if (c->ack_due) {
        /* a child waits for it: 7 bytes on the wire before anything longer (type stays ACK) */
    } else if ((uint16_t)(now - c->last_sent) >= CELL_HEARTBEAT_MS) {
        type = LINK_TYPE_STATE;
        const int8_t *first = c->nbr[NCA_N], *second = c->nbr[NCA_S];
        flags = (uint8_t)((c->known & (1u << NCA_N) ? CELL_RELAY_FIRST : 0) | (c->known & (1u << NCA_S) ? CELL_RELAY_SECOND : 0));
        if ((c->relay_ew ^= 1u) != 0) { /* the pairs alternate, frame by frame */
            first = c->nbr[NCA_E];
            second = c->nbr[NCA_W];
            flags = (uint8_t)(CELL_RELAY_EW | (c->known & (1u << NCA_E) ? CELL_RELAY_FIRST : 0)
                              | (c->known & (1u << NCA_W) ? CELL_RELAY_SECOND : 0));
        }
        memcpy(raw + n, c->state, LINK_STATE_BYTES);
        memcpy(raw + n + LINK_STATE_BYTES, first, LINK_STATE_BYTES);
        memcpy(raw + n + 2 * LINK_STATE_BYTES, second, LINK_STATE_BYTES);
        n += 3 * LINK_STATE_BYTES;
        raw[n++] = c->x;
        raw[n++] = c->y;
        raw[n++] = c->hops;
        c->last_sent = now;
    } else if (c->queue_len && c->hops != 0 && c->hops != CELL_UNKNOWN
               && (!c->in_flight || reached(now, (uint16_t)(c->in_flight_at + CELL_RETRY_MS)))) {
        /* the reports at the queue's head, to the parent, until it acks them (stop and wait) */
        if (!c->in_flight) {
            c->in_flight = c->queue_len < CELL_REPORTS_PER_FRAME ? c->queue_len : CELL_REPORTS_PER_FRAME;
            c->in_flight_seq = (uint8_t)(c->heard_ack[c->parent] ^ 1u); /* what the parent has not taken */
        }
        type = LINK_TYPE_REPORT;
        flags = (uint8_t)(c->parent | c->in_flight_seq << 2);
        for (k = 0; k < c->in_flight; k++) {
            memcpy(raw + n, c->queue[(uint8_t)(c->queue_head + k) % CELL_QUEUE], CELL_REPORT_BYTES);
            n += CELL_REPORT_BYTES;
        }
        c->in_flight_at = now;
    } else {
        return 0;
    }
    c->ack_due = 0; /* every frame carries the acks: bit k of this nibble for link k */
    for (k = LINK_COUNT, acks = 0; k--;) {
        acks = (uint8_t)(acks + acks + c->acked[k]);
    }
    flags |= (uint8_t)(acks << CELL_ACK_SHIFT);
    raw[0] = LINK_VERSION;
    raw[1] = type;
    raw[2] = flags;
    crc = link_crc16(raw, n);
    raw[n++] = (uint8_t)(crc >> 8);
    raw[n++] = (uint8_t)crc;
    return link_cobs_encode(raw, n, out);
}

uint8_t cell_take_report(struct cell *c, uint8_t *out)
{
    if (c->hops != 0 || !c->queue_len) {
        return 0;
    }
    memcpy(out, c->queue[c->queue_head], CELL_REPORT_BYTES);
    drop_reports(c, 1);
    return 1;
}

void cell_set_gateway(struct cell *c, uint8_t x, uint8_t y)
{
    c->gateway = 1;
    c->in_flight = 0; /* the gateway prints its queue: nothing waits for an ack */
    c->x = x;
    c->y = y;
    c->hops = 0;
    send_soon(c);
}

void cell_host_command(struct cell *c, uint8_t op, uint8_t x0, uint8_t y0, uint8_t x1, uint8_t y1)
{
    uint16_t seq = (uint16_t)((c->command[0] << 8 | c->command[1]) + 1);
    uint8_t cmd[CELL_COMMAND_BYTES] = {(uint8_t)(seq >> 8), (uint8_t)seq, op, x0, y0, x1, y1};
    if (x0 == CELL_UNKNOWN) {
        plant_or_clear(c, op); /* this cell only: works on a lone board too */
    } else {
        run_command(c, cmd);
    }
}
