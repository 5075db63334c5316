/* Fuzzer for the portable core's parsers, host build with ASan + UBSan (python -m hostsim fuzz):
 * random bytes, and valid frames mutated before and after their CRC, into link_rx_byte and
 * cell_on_frame on every link; random command lines into report_command; the cell's own timers
 * and frames in between. Any out-of-bounds access, undefined behaviour or broken invariant
 * stops it with a message. Usage: fuzz SECONDS SEED */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cell.h"
#include "link.h"
#include "report.h"

static uint32_t rng;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz: invariant broken: %s (seed state %u)\n", what, (unsigned)rng);
        exit(1);
    }
}

/* A valid frame of a random type (raw: header, payload, CRC), to be mutated. */
static uint8_t valid_frame(uint8_t *raw)
{
    static const uint8_t lengths[] = {LINK_MAX_PAYLOAD, 6, 12, 24, 36, CELL_COMMAND_BYTES, 0};
    static const uint8_t types[] = {LINK_TYPE_STATE, LINK_TYPE_REPORT, LINK_TYPE_REPORT, LINK_TYPE_REPORT,
                                    LINK_TYPE_REPORT, LINK_TYPE_COMMAND, LINK_TYPE_ACK};
    uint8_t k = (uint8_t)(next() % sizeof types), n = LINK_HEADER, i;
    uint16_t crc;
    raw[0] = LINK_VERSION;
    raw[1] = types[k];
    raw[2] = (uint8_t)next();
    for (i = 0; i < lengths[k]; i++) {
        raw[n++] = (uint8_t)(next() % 4 ? next() % 32 : next()); /* small coordinates are likelier */
    }
    if (types[k] == LINK_TYPE_COMMAND) {
        raw[LINK_HEADER + 2] = "PZQ"[next() % 3];
    }
    crc = link_crc16(raw, n);
    raw[n++] = (uint8_t)(crc >> 8);
    raw[n++] = (uint8_t)crc;
    return n;
}

static void mutate(uint8_t *buf, uint8_t *n, uint8_t max)
{
    uint8_t k, times = (uint8_t)(1 + next() % 3);
    for (k = 0; k < times; k++) {
        uint8_t at = *n ? (uint8_t)(next() % *n) : 0;
        switch (next() % 4) {
        case 0:
            if (*n) buf[at] ^= (uint8_t)(1u << (next() % 8));
            break;
        case 1:
            if (*n) buf[at] = (uint8_t)next();
            break;
        case 2:
            if (*n) (*n)--;
            break;
        default:
            if (*n < max) buf[(*n)++] = (uint8_t)next();
        }
    }
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5.0;
    struct cell cell;
    struct link_rx rx[LINK_COUNT];
    uint8_t raw[96], wire[200], out[LINK_MAX_WIRE + 8], report[CELL_REPORT_BYTES];
    char line[REPORT_LINE_MAX + 8];
    unsigned long frames = 0, lines = 0, built = 0;
    uint16_t now = 0;
    clock_t end;
    rng = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) | 1u : 1u;
    end = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);
    memset(rx, 0, sizeof rx);
    cell_init(&cell, (uint16_t)next(), 0);
    while (clock() < end) {
        uint32_t r = next() % 16;
        uint8_t link = (uint8_t)(next() % LINK_COUNT), n, i;
        if (r < 10) { /* a frame: random bytes, or a valid one mutated before or after encoding */
            if (r < 2) {
                n = (uint8_t)(next() % 120);
                for (i = 0; i < n; i++) wire[i] = (uint8_t)next();
            } else {
                n = valid_frame(raw);
                if (r < 8) mutate(raw, &n, sizeof raw - 2);
                if (r < 6 && n >= 2) { /* keep the CRC right: the cell's own checks get the frame */
                    uint16_t crc = link_crc16(raw, (uint8_t)(n - 2));
                    raw[n - 2] = (uint8_t)(crc >> 8);
                    raw[n - 1] = (uint8_t)crc;
                }
                n = link_cobs_encode(raw, n, wire);
                if (r >= 8) mutate(wire, &n, sizeof wire);
            }
            for (i = 0; i < n; i++) {
                int16_t len = link_rx_byte(&rx[link], wire[i]);
                check(len <= LINK_MAX_RAW - LINK_CRC, "decoded frame longer than any frame");
                if (len > 0) {
                    cell_on_frame(&cell, link, rx[link].buf, len, now);
                    frames++;
                } else if (len < 0) {
                    cell_on_bad_frame(&cell);
                }
            }
        } else if (r < 13) { /* a command line from the host */
            n = (uint8_t)(next() % (REPORT_COMMAND_MAX + 4));
            for (i = 0; i < n; i++) {
                line[i] = next() % 3 ? "PZGH 0123456789 "[next() % 16] : (char)next();
            }
            report_command(&cell, line, n);
            lines++;
        } else { /* time passes: timers, routes, reports, the next frame out */
            now = (uint16_t)(now + next() % 300);
            cell_expire(&cell, now);
            cell_maybe_fire(&cell, now);
            n = cell_build_frame(&cell, out, now);
            check(n <= LINK_MAX_WIRE, "built frame longer than LINK_MAX_WIRE");
            built += n != 0;
            while (cell_take_report(&cell, report)) {
            }
            report_state(&cell, line);
            check(memchr(line, '\n', REPORT_LINE_MAX) != NULL, "S line without its end");
        }
        check(cell.queue_len <= CELL_QUEUE && cell.in_flight <= cell.queue_len, "report queue");
    }
    printf("fuzz: %lu frames taken, %u good / %u bad counted, %lu command lines, %lu frames built: "
           "no crash, no undefined behaviour\n", frames, cell.good_frames, cell.bad_frames, lines, built);
    return 0;
}
