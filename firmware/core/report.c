#include "report.h"

static const char HEX[] = "0123456789abcdef";

static char *put_hex8(char *p, uint8_t b)
{
    *p++ = HEX[b >> 4];
    *p++ = HEX[b & 15];
    return p;
}

static char *put_hex16(char *p, uint16_t v)
{
    *p++ = ' ';
    return put_hex8(put_hex8(p, (uint8_t)(v >> 8)), (uint8_t)v);
}

uint8_t report_hello(char *line)
{
    static const char HELLO[] = "H nca-cell 1 " NCA_MODEL_ID " " NCA_MODEL_NAME "\n";
    uint8_t n = 0;
    while (HELLO[n] && n < REPORT_LINE_MAX) {
        line[n] = HELLO[n];
        n++;
    }
    return n;
}

uint8_t report_state(const struct cell *c, char *line)
{
    char *p = line;
    uint8_t ch;
    *p++ = 'S';
    p = put_hex16(p, c->fires);
    *p++ = ' ';
    for (ch = 0; ch < NCA_CHANNELS; ch++) {
        p = put_hex8(p, (uint8_t)c->state[ch]);
    }
    p = put_hex16(p, c->good_frames);
    p = put_hex16(p, c->bad_frames);
    *p++ = '\n';
    return (uint8_t)(p - line);
}

void report_led_levels(const int8_t *state, uint8_t rgb[3])
{
    uint8_t i;
    for (i = 0; i < 3; i++) {
        int16_t v = (int16_t)(state[i] * (256 >> NCA_STATE_FRAC_BITS));
        rgb[i] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
}
