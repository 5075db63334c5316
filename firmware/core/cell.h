/* The portable cell: neighbour table with timeouts, diagonal relays, the random firing schedule
 * and the alive logic around the generated rule; coordinates and the route to the gateway, the
 * reports travelling along it, host commands flooding the grid (docs/grid.md). No hardware
 * here: see ../avr. */
#ifndef CELL_H
#define CELL_H

#include <stdint.h>

#include "link.h"
#include "nca_config.h"
#include "nca_rule.h"


#define CELL_TIMEOUT_MS 1000     /* a neighbour silent this long reads as empty (zeros) */
#define CELL_HEARTBEAT_MS 250    /* re-send the state at least this often */
#define CELL_WAIT_MIN_MS 100     /* random wait between firings: uniform in [min, min + span) */
#define CELL_WAIT_SPAN_MS 256    /* a power of two: no division on the AVR */
#define CELL_REPORT_MS 4096      /* own report every [period, 2 * period) ms: a power of two... */
#define CELL_REPORT_EVERY 4      /* ...if its colour moved by more than a step, else every 4th time */

#define CELL_RELAY_FIRST 0x01    /* state frame flags: the first / second relayed state is valid... */
#define CELL_RELAY_SECOND 0x02
#define CELL_RELAY_EW 0x04       /* ...and they are the sender's east and west neighbours, not north and south */
#define CELL_ACK_SHIFT 4         /* every frame's flags: bit 4 + l acks the report frames from link l;
                                  * report frames: bits 0-1 the link they are for, bit 2 their sequence bit */
#define CELL_RETRY_MS 100        /* a report frame not acknowledged by then is sent again */

#define CELL_UNKNOWN 0xFF        /* coordinate not learnt yet; as hops: no route to a gateway */
#define CELL_REPORT_BYTES 6      /* x, y, R, G, B, A */
#define CELL_REPORTS_PER_FRAME 6 /* 4 went a third slower: a hop waits for its ack after each frame */
#define CELL_QUEUE 16            /* reports waiting to move on (the head ones may be in flight) */
#define CELL_COMMAND_BYTES 7     /* sequence (2), op ('P' plant, 'Z' clear), x0, y0, x1, y1 */

/* Scalars first: the AVR reaches the first 64 bytes of a struct with short instructions. */
struct cell {
    uint16_t heard[NCA_NEIGHBOURS];                /* ms timestamp of each slot's last update */
    uint8_t known;                                 /* bit k: slot k has been heard at all */
    uint16_t rng;
    uint16_t next_fire;
    uint16_t last_sent;
    uint16_t next_report;
    uint16_t fires;
    uint16_t good_frames;
    uint16_t bad_frames;
    uint8_t x, y, hops, parent;                    /* parent: link towards the gateway */
    uint8_t tie;                                   /* which side wins a tie of routes */
    uint8_t gateway;                               /* coordinates given by the host */
    uint8_t queue_head, queue_len;
    uint8_t in_flight;                             /* reports at the queue's head sent, not yet acked */
    uint8_t in_flight_seq;                         /* their frame's sequence bit */
    uint16_t in_flight_at;                         /* when that frame was (last) sent */
    uint8_t acked[LINK_COUNT];                     /* sequence bit of the last report frame taken on each link */
    uint8_t heard_ack[LINK_COUNT];                 /* what each link's neighbour last acked of ours */
    uint8_t ack_due;                               /* a report frame was taken: acknowledge it soon */
    uint8_t unchanged;                             /* report periods since the last report */
    uint8_t command_pending;                       /* the last command is still to be passed on */
    uint8_t relay_ew;                              /* the last state frame relayed east and west */
    uint8_t command[CELL_COMMAND_BYTES];           /* the last command seen */
    int8_t state[NCA_CHANNELS];
    int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS];     /* nca_rule.h order, right after state */
    uint8_t where[LINK_COUNT][LINK_WHERE_BYTES];   /* what each neighbour last advertised; */
    uint8_t reported[CELL_REPORT_BYTES];           /* the last report of this board (right after) */
    uint8_t queue[CELL_QUEUE][CELL_REPORT_BYTES];  /* reports waiting to move on */
};

void cell_init(struct cell *c, uint16_t rng_seed, uint16_t now);
/* A decoded, CRC-checked frame (link_rx_byte's buffer and length) arrived on `link`. A frame
 * whose type, length or contents are not allowed is counted as bad and ignored (not passed on).
 * Returns 1 if a command changed the state. */
uint8_t cell_on_frame(struct cell *c, uint8_t link, const uint8_t *frame, int16_t len, uint16_t now);
void cell_on_bad_frame(struct cell *c);
/* Zero the slots of neighbours silent for longer than the timeout; update the route and the
 * coordinates; queue the own report when due. Call often. */
void cell_expire(struct cell *c, uint16_t now);
/* Fire if the random wait is over: returns 1 if the state changed hands through the rule. */
uint8_t cell_maybe_fire(struct cell *c, uint16_t now);
/* The next frame to send, if any (a command to pass on, the state after a firing or for the
 * heartbeat, reports towards the gateway), COBS-encoded with its delimiter, into
 * out[LINK_MAX_WIRE]; returns its length, 0 if there is nothing to send. */
uint8_t cell_build_frame(struct cell *c, uint8_t *out, uint16_t now);
/* On the gateway, reports arrive at the host: take the oldest into out[CELL_REPORT_BYTES]. */
uint8_t cell_take_report(struct cell *c, uint8_t *out);
/* The host's commands. Become the gateway at (x, y). */
void cell_set_gateway(struct cell *c, uint8_t x, uint8_t y);
/* Plant the seed ('P') or clear ('Z') this cell only (x0 = CELL_UNKNOWN), or every cell in the
 * rectangle x0..x1, y0..y1, passing the command on to the whole grid. */
void cell_host_command(struct cell *c, uint8_t op, uint8_t x0, uint8_t y0, uint8_t x1, uint8_t y1);

#ifdef CELL_TRACE
/* Debug builds for the emulated grid (the hardware layer defines it): mark 1 before a rule
 * update, with own state and the 8 neighbours at `state`, mark 2 after it, the output there. */
void cell_trace(const int8_t *state, uint8_t mark);
#endif

#endif
