#include "link.h"

uint16_t link_crc16(const uint8_t *data, uint8_t n)
{
    uint16_t crc = 0xFFFF;
    uint8_t i, b;
    for (i = 0; i < n; i++) {
        crc ^= (uint16_t)data[i] << 8;
        for (b = 0; b < 8; b++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint8_t link_cobs_encode(const uint8_t *src, uint8_t n, uint8_t *dst)
{
    uint8_t code_at = 0, out = 1, code = 1, i;
    for (i = 0; i < n; i++) {
        if (src[i] == 0) {
            dst[code_at] = code;
            code_at = out++;
            code = 1;
        } else {
            dst[out++] = src[i];
            code++;
        }
    }
    dst[code_at] = code;
    dst[out++] = 0;
    return out;
}

int16_t link_cobs_decode(uint8_t *buf, uint8_t n)
{
    uint8_t in = 0, out = 0;
    while (in < n) {
        uint8_t code = buf[in++], k;
        if (code == 0 || in + code - 1 > n) {
            return -1;
        }
        for (k = 1; k < code; k++) {
            buf[out++] = buf[in++];
        }
        if (code < 0xFF && in < n) {
            buf[out++] = 0;
        }
    }
    return out;
}

int16_t link_rx_byte(struct link_rx *rx, uint8_t byte)
{
    int16_t n;
    if (byte != 0) {
        if (rx->len < sizeof rx->buf) {
            rx->buf[rx->len++] = byte;
        } else {
            rx->overflow = 1;
        }
        return 0;
    }
    if (rx->len == 0 && !rx->overflow) {
        return 0; /* idle delimiters between frames are allowed */
    }
    n = rx->overflow ? -1 : link_cobs_decode(rx->buf, rx->len);
    rx->len = 0;
    rx->overflow = 0;
    if (n < LINK_HEADER + LINK_CRC) {
        return -1;
    }
    n -= LINK_CRC;
    if (link_crc16(rx->buf, (uint8_t)n) != (uint16_t)((rx->buf[n] << 8) | rx->buf[n + 1])) {
        return -1;
    }
    if (rx->buf[0] != LINK_VERSION || (uint8_t)(rx->buf[1] - 1) >= LINK_TYPE_LAST) {
        return -1;
    }
    return n;
}
