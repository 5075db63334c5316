/* Link protocol framing (docs/link-protocol.md): COBS-encoded frames ending in 0x00, each
 * carrying a version byte, a type byte, a payload and a CRC-16/CCITT-FALSE. */
#ifndef LINK_H
#define LINK_H

#include <stdint.h>

/* Links are the four sides; all boards are mounted the same way up. LINK_DX / LINK_DY: where
 * each link's neighbour sits, as offsets to add to our coordinates (y grows southwards). */
enum { LINK_N, LINK_E, LINK_S, LINK_W, LINK_COUNT };
#define LINK_DX {0, 1, 0, -1}
#define LINK_DY {-1, 0, 1, 0}

#define LINK_VERSION 4
#define LINK_TYPE_STATE 1       /* own state, two relays (N and S, or E and W), where (x, y, hops) */
#define LINK_TYPE_REPORT 2      /* 1..6 reports on their way to the gateway */
#define LINK_TYPE_COMMAND 3     /* a host command flooding the grid */
#define LINK_TYPE_ACK 4         /* nothing but the acknowledgement bits every frame carries */
#define LINK_TYPE_LAST LINK_TYPE_ACK
#define LINK_HEADER 3           /* version, type, flags (bits 4..7 of every frame: acks, per link) */
#define LINK_CRC 2
#define LINK_STATE_BYTES 16
#define LINK_WHERE_BYTES 3      /* sender's x, y (0xFF: unknown) and hops to the gateway */
#define LINK_MAX_PAYLOAD (3 * LINK_STATE_BYTES + LINK_WHERE_BYTES)  /* the state frame */
#define LINK_MAX_RAW (LINK_HEADER + LINK_MAX_PAYLOAD + LINK_CRC)  /* 56 */
#define LINK_MAX_ENCODED (LINK_MAX_RAW + 1)                 /* COBS adds one byte per 254 */
#define LINK_MAX_WIRE (LINK_MAX_ENCODED + 1)                /* plus the 0x00 delimiter */

uint16_t link_crc16(const uint8_t *data, uint8_t n);
/* COBS-encode src[0..n) into dst, append the 0x00 delimiter; returns bytes written. n <= 253. */
uint8_t link_cobs_encode(const uint8_t *src, uint8_t n, uint8_t *dst);
/* Decode COBS in place (without the delimiter); returns the decoded length, or -1 if malformed. */
int16_t link_cobs_decode(uint8_t *buf, uint8_t n);

/* Receiver state for one link: collects bytes until a delimiter. */
struct link_rx {
    uint8_t buf[LINK_MAX_ENCODED];
    uint8_t len;
    uint8_t overflow;
};

/* Feed one received byte. Returns the length of a complete, CRC-checked frame now in buf
 * (version, type, flags, payload; the CRC stripped), 0 if no frame ended, or -1 if a frame
 * ended but was bad (too long, bad COBS, bad CRC, unknown version or type). The frame's
 * length for its type is the cell's to check. */
int16_t link_rx_byte(struct link_rx *rx, uint8_t byte);

#endif
