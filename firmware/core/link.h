/* Link protocol framing (docs/link-protocol.md): COBS-encoded frames ending in 0x00, each
 * carrying a version byte, a type byte, a payload and a CRC-16/CCITT-FALSE. */
#ifndef LINK_H
#define LINK_H

#include <stdint.h>

#define LINK_VERSION 1
#define LINK_TYPE_STATE 1
#define LINK_HEADER 3           /* version, type, flags */
#define LINK_CRC 2
#define LINK_STATE_BYTES 16
#define LINK_MAX_PAYLOAD (3 * LINK_STATE_BYTES)             /* own state + two relayed states */
#define LINK_MAX_RAW (LINK_HEADER + LINK_MAX_PAYLOAD + LINK_CRC)  /* 53 */
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
 * ended but was bad (too long, bad COBS, bad CRC, unknown version or type). */
int16_t link_rx_byte(struct link_rx *rx, uint8_t byte);

#endif
