/* An emulated grid of cell boards: W x H ATmega328P cores (simavr) in one process, all running
 * the same firmware image, each board's link pins wired to its neighbours' pins as on the real
 * grid (firmware/avr/board.h), each board's clock running at its own rate (+-0.2%, as crystals
 * do). Built by avrsim/build.py.
 *
 *   grid ELF W H SECONDS < script
 *
 * script lines, sorted by time (ms of emulated time):
 *   "<ms> <x> <y> <text>"   send text to that board's USB serial (P plants the seed, Z clears)
 *   "<ms> kill <x> <y>"     the board stops for good (unpowered: its links go idle)
 *   "<ms> reset <x> <y>"    the board resets and starts its firmware again
 *   "<ms> flip <ppm>"       from now on each level change on a link wire is inverted with this
 *                           probability (parts per million), until the wire's next change
 * Output lines: "<ms> <x> <y> <line>" for each line a board prints.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <simavr/avr_eeprom.h>
#include <simavr/avr_ioport.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>
#include <simavr/sim_irq.h>

#define F_CPU 16000000UL
#define SLICE 100 /* cycles a board runs before the next one: well under a link bit (1667) */

/* links N, E, S, W: TX pin (port B), RX pin (port C) */
static const int TX_PIN[4] = {0, 1, 2, 4};
static const int RX_PIN[4] = {0, 1, 2, 3};
static const int DX[4] = {0, 1, 0, -1};
static const int DY[4] = {-1, 0, 1, 0};

struct board {
    avr_t *avr;
    int x, y;
    double rate;
    int dead;
    char line[128];
    int len;
};

/* one wire: a board's TX pin to its neighbour's RX pin, through which faults are injected */
struct wire {
    struct board *from;
    avr_irq_t *to;
};

static uint32_t flip_ppm, rng = 0x12345678u;
static unsigned long flips;

static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void on_wire(struct avr_irq_t *irq, uint32_t value, void *param)
{
    struct wire *w = param;
    (void)irq;
    if (w->from->dead) {
        return;
    }
    if (flip_ppm && next_random() % 1000000u < flip_ppm) {
        value = !value;
        flips++;
    }
    avr_raise_irq(w->to, value);
}

static struct board *boards;
static int width, height;
static FILE *out;
static unsigned long long now_cycles;

/* simavr's default sleep waits in real time; emulated time just jumps to the next event */
static void no_sleep(avr_t *a, avr_cycle_count_t how_long)
{
    (void)a;
    (void)how_long;
}

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
    struct board *b = param;
    (void)irq;
    if (value == '\n' || b->len == (int)sizeof b->line - 1) {
        b->line[b->len] = 0;
        fprintf(out, "%llu %d %d %s\n", now_cycles / (F_CPU / 1000), b->x, b->y, b->line);
        b->len = 0;
    } else if (value != '\r') {
        b->line[b->len++] = (char)value;
    }
}

static void send_text(struct board *b, const char *text)
{
    avr_irq_t *in = avr_io_getirq(b->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    for (; *text; text++) {
        avr_raise_irq(in, (uint8_t)*text);
    }
}

static struct board *board_at(int x, int y)
{
    return x >= 0 && y >= 0 && x < width && y < height ? &boards[y * width + x] : NULL;
}

static void run_command(const char *cmd)
{
    int x, y, l;
    unsigned long ppm;
    char text[200];
    struct board *b;
    if (sscanf(cmd, "kill %d %d", &x, &y) == 2 && (b = board_at(x, y))) {
        b->dead = 1;
        for (l = 0; l < 4; l++) { /* its neighbours' inputs from it go idle (pull-ups) */
            struct board *n = board_at(x + DX[l], y + DY[l]);
            if (n) {
                avr_raise_irq(avr_io_getirq(n->avr, AVR_IOCTL_IOPORT_GETIRQ('C'), RX_PIN[(l + 2) % 4]), 1);
            }
        }
    } else if (sscanf(cmd, "reset %d %d", &x, &y) == 2 && (b = board_at(x, y))) {
        avr_reset(b->avr);
    } else if (sscanf(cmd, "flip %lu", &ppm) == 1) {
        flip_ppm = (uint32_t)ppm;
    } else if (sscanf(cmd, "%d %d %199[^\n]", &x, &y, text) == 3 && (b = board_at(x, y))) {
        send_text(b, text);
    } else {
        fprintf(stderr, "grid: bad script line: %s\n", cmd);
    }
}

int main(int argc, char **argv)
{
    elf_firmware_t fw;
    struct wire *wires;
    double seconds;
    unsigned long long limit;
    int i, l;
    char script[256];
    long next_ms = -1;
    char stext[200] = "";

    out = fdopen(dup(1), "w");
    dup2(2, 1); /* simavr's own messages go to stderr */
    if (argc != 5) {
        fprintf(stderr, "usage: %s ELF WIDTH HEIGHT SECONDS < script\n", argv[0]);
        return 2;
    }
    width = atoi(argv[2]);
    height = atoi(argv[3]);
    seconds = atof(argv[4]);
    if (width < 1 || height < 1 || width * height > 4096 || seconds <= 0) {
        fprintf(stderr, "bad grid size or time\n");
        return 2;
    }
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(argv[1], &fw) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    boards = calloc((size_t)(width * height), sizeof *boards);
    for (i = 0; i < width * height; i++) {
        struct board *b = &boards[i];
        uint32_t flags = 0;
        uint16_t boot = (uint16_t)(i * 7919 + 1); /* each board's EEPROM boot counter differs */
        avr_eeprom_desc_t ee = {(uint8_t *)&boot, 0, 2};
        b->x = i % width;
        b->y = i / width;
        b->rate = 1.0 + ((int)((i * 2654435761u) >> 16) % 41 - 20) * 1e-4;
        b->avr = avr_make_mcu_by_name("atmega328p");
        avr_init(b->avr);
        b->avr->frequency = F_CPU;
        b->avr->log = 0;
        b->avr->sleep = no_sleep;
        avr_load_firmware(b->avr, &fw);
        avr_ioctl(b->avr, AVR_IOCTL_EEPROM_SET, &ee);
        avr_ioctl(b->avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
        avr_irq_register_notify(avr_io_getirq(b->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, b);
        for (l = 0; l < 4; l++) { /* idle-high link inputs: the pull-up of an unplugged link */
            avr_raise_irq(avr_io_getirq(b->avr, AVR_IOCTL_IOPORT_GETIRQ('C'), RX_PIN[l]), 1);
        }
    }
    wires = calloc((size_t)(4 * width * height), sizeof *wires);
    for (i = 0; i < width * height; i++) { /* TX of each side to the facing RX of the neighbour */
        struct board *b = &boards[i];
        for (l = 0; l < 4; l++) {
            int nx = b->x + DX[l], ny = b->y + DY[l];
            if (nx >= 0 && ny >= 0 && nx < width && ny < height) {
                struct wire *w = &wires[4 * i + l];
                w->from = b;
                w->to = avr_io_getirq(boards[ny * width + nx].avr, AVR_IOCTL_IOPORT_GETIRQ('C'), RX_PIN[(l + 2) % 4]);
                avr_irq_register_notify(avr_io_getirq(b->avr, AVR_IOCTL_IOPORT_GETIRQ('B'), TX_PIN[l]), on_wire, w);
            }
        }
    }
    limit = (unsigned long long)(seconds * F_CPU);
    for (now_cycles = 0; now_cycles < limit; now_cycles += SLICE) {
        while (1) {
            if (next_ms < 0 && fgets(script, sizeof script, stdin)) {
                if (sscanf(script, "%ld %199[^\n]", &next_ms, stext) != 2) {
                    next_ms = -1;
                    continue;
                }
            }
            if (next_ms < 0 || (unsigned long long)next_ms * (F_CPU / 1000) > now_cycles) {
                break;
            }
            run_command(stext);
            next_ms = -1;
        }
        for (i = 0; i < width * height; i++) {
            struct board *b = &boards[i];
            avr_cycle_count_t target = (avr_cycle_count_t)((double)(now_cycles + SLICE) * b->rate);
            if (b->dead) {
                continue;
            }
            while (b->avr->cycle < target) {
                int state = avr_run(b->avr);
                if (state == cpu_Done || state == cpu_Crashed) {
                    fprintf(stderr, "board (%d, %d) stopped (state %d)\n", b->x, b->y, state);
                    return 1;
                }
            }
        }
    }
    fprintf(stderr, "grid: %lu link level changes inverted\n", flips);
    fflush(out);
    return 0;
}
