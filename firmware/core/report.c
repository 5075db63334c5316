#include "report.h"

#ifdef __AVR__ /* constant strings stay in flash: RAM is the scarcer */
#include <avr/pgmspace.h>
#define ROM_BYTE(p) pgm_read_byte(p)
#else
#define PROGMEM
#define ROM_BYTE(p) (*(p))
#endif

#define STR(x) #x
#define XSTR(x) STR(x)

static char hex_digit(uint8_t v)
{
    return (char)(v < 10 ? '0' + v : 'a' - 10 + v);
}

static char *digits(char *p, uint8_t b)
{
    *p++ = hex_digit(b >> 4);
    *p++ = hex_digit(b & 15);
    return p;
}

static char *put_hex8(char *p, uint8_t b)
{
    *p++ = ' ';
    return digits(p, b);
}

static char *put_hex16(char *p, uint16_t v)
{
    return digits(put_hex8(p, (uint8_t)(v >> 8)), (uint8_t)v);
}

static char *put_bytes(char *p, const uint8_t *b, uint8_t n)
{
    *p++ = ' ';
    while (n--) {
        p = digits(p, *b++);
    }
    return p;
}

static uint8_t copy_line(char *line, const char *rom)
{
    uint8_t n = 0;
    char ch;
    while ((ch = (char)ROM_BYTE(rom + n)) != 0 && n < REPORT_LINE_MAX - 1) {
        line[n++] = ch;
    }
    line[n - 1] = '\n'; /* even if cut short */
    return n;
}

uint8_t report_hello(char *line)
{
    static const char HELLO[] PROGMEM = "H nca-cell " XSTR(REPORT_PROTOCOL) " " NCA_MODEL_ID " " NCA_MODEL_NAME
                                        " " XSTR(NCA_GRID_WIDTH) " " XSTR(NCA_GRID_HEIGHT) "\n";
    return copy_line(line, HELLO);
}

uint8_t report_bad_command(char *line)
{
    static const char BAD[] PROGMEM = "E bad command\n";
    return copy_line(line, BAD);
}

uint8_t report_state(const struct cell *c, char *line)
{
    char *p = line;
    *p++ = 'S';
    p = put_hex16(p, c->fires);
    p = put_bytes(p, (const uint8_t *)c->state, NCA_CHANNELS);
    p = put_hex16(p, c->good_frames);
    p = put_hex16(p, c->bad_frames);
    p = put_hex8(p, c->x);
    p = put_hex8(p, c->y);
    p = put_hex8(p, c->hops);
    *p++ = '\n';
    return (uint8_t)(p - line);
}

uint8_t report_grid(const uint8_t *report, char *line)
{
    char *p = line;
    *p++ = 'R';
    p = put_bytes(p, report, CELL_REPORT_BYTES);
    *p++ = '\n';
    return (uint8_t)(p - line);
}

uint8_t report_command(struct cell *c, const char *line, uint8_t len)
{
    uint8_t v[4] = {0, 0, 0, 0}, n = 0, i;
    uint16_t value = 0;
    char digits = 0;
    for (i = 1; i <= len; i++) { /* decimal numbers after the letter, separated by spaces */
        char ch = i < len ? line[i] : ' ';
        if (ch >= '0' && ch <= '9') {
            value = (uint16_t)(value * 10 + (uint8_t)(ch - '0'));
            if (value > 254) {
                return 0;
            }
            digits = 1;
        } else if (ch == ' ' && digits) {
            if (n == 4) {
                return 0;
            }
            v[n++] = (uint8_t)value;
            value = 0;
            digits = 0;
        } else if (ch != ' ') {
            return 0;
        }
    }
    if (len == 0) {
        return 0;
    }
    if (line[0] == 'G' && n == 2) {
        cell_set_gateway(c, v[0], v[1]);
    } else if ((line[0] == 'P' || line[0] == 'Z') && (n == 0 || n == 2 || (n == 4 && v[0] <= v[2] && v[1] <= v[3]))) {
        if (n == 0) {
            v[0] = CELL_UNKNOWN;
        }
        if (n < 4) { /* a single cell */
            v[2] = v[0];
            v[3] = v[1];
        }
        cell_host_command(c, (uint8_t)line[0], v[0], v[1], v[2], v[3]);
    } else {
        return 0;
    }
    return 1;
}

void report_led_levels(const int8_t *state, uint8_t rgb[3])
{
    uint8_t i;
    for (i = 0; i < 3; i++) {
        int16_t v = (int16_t)(state[i] * (256 >> NCA_STATE_FRAC_BITS));
        rgb[i] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
}
