/* The portable cell: neighbour table with timeouts, diagonal relays, the random firing schedule
 * and the alive logic around the generated rule. No hardware here: see hal.h. */
#ifndef CELL_H
#define CELL_H

#include <stdint.h>

#include "link.h"
#include "nca_config.h"
#include "nca_rule.h"

/* Links are the four sides; all boards are mounted the same way up. */
enum { LINK_N, LINK_E, LINK_S, LINK_W, LINK_COUNT };

#define CELL_TIMEOUT_MS 1000     /* a neighbour silent this long reads as empty (zeros) */
#define CELL_HEARTBEAT_MS 250    /* re-send the state at least this often */
#define CELL_WAIT_MIN_MS 100     /* random wait between firings: uniform in [min, min + span) */
#define CELL_WAIT_SPAN_MS 256    /* a power of two: no division on the AVR */

#define CELL_RELAY_N 0x01        /* frame flags: relayed north / south states are valid */
#define CELL_RELAY_S 0x02

struct cell {
    int8_t state[NCA_CHANNELS];
    int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS];     /* nca_rule.h order */
    uint16_t heard[NCA_NEIGHBOURS];                /* ms timestamp of the last update */
    uint8_t known;                                 /* bit k: slot k has been heard at all */
    uint16_t rng;
    uint16_t next_fire;
    uint16_t last_sent;
    uint16_t fires;
    uint16_t good_frames;
    uint16_t bad_frames;
};

void cell_init(struct cell *c, uint16_t rng_seed, uint16_t now);
/* A decoded, CRC-checked frame (link_rx_byte's buffer and length) arrived on `link`. */
void cell_on_frame(struct cell *c, uint8_t link, const uint8_t *frame, int16_t len, uint16_t now);
void cell_on_bad_frame(struct cell *c);
/* Zero the slots of neighbours silent for longer than the timeout. */
void cell_expire(struct cell *c, uint16_t now);
/* Fire if the random wait is over: returns 1 if the state changed hands through the rule. */
uint8_t cell_maybe_fire(struct cell *c, uint16_t now);
/* Whether a frame should go out now (after a firing, or for the heartbeat). */
uint8_t cell_should_send(const struct cell *c, uint16_t now);
/* Build the outgoing frame (own state + north and south states as relays), COBS-encoded with
 * its delimiter, into out[LINK_MAX_WIRE]; returns its length. Marks the state as sent. */
uint8_t cell_build_frame(struct cell *c, uint8_t *out, uint16_t now);
void cell_plant_seed(struct cell *c);
void cell_clear(struct cell *c);

#endif
