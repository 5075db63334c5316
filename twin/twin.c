/* The grid twin: W x H cell boards running the firmware's portable core (firmware/core: node.c,
 * cell.c, link.c, report.c and the generated rule, the files the AVR build compiles) natively,
 * with a model of the hardware around it in place of firmware/avr (docs/grid.md, "The grid twin").
 * Built by twin/build.py, one executable per rule.
 *
 *   twin WIDTH HEIGHT SECONDS [--seed N] [--trace FILE] [--fire-cycles N] [--live] [--every-tick]
 *
 * Commands on stdin and lines on stdout as avrsim/grid.c has them, so the same scripts, tests and
 * monitor work with either: "<ms> <command>" sorted by time (with --live: "<command>", run when
 * read, emulated time paced to real time, SECONDS 0 runs until stdin closes); commands "<x> <y>
 * <text>" (a line to that board's USB serial), "kill x y", "reset x y", "erase x0 y0 x1 y1",
 * "corrupt <ppm>"; output "<ms> <x> <y> <line>" for every line a board prints. --trace FILE:
 * every rule update, as grid.c's records (int16 x, y, uint32 ms, 144 + 16 int8).
 *
 * What is modelled (the AVR layer's stand-ins):
 * - time: each board's own clock (rate 1 +- 0.2%, grid.c's formula), Timer0's 1.024 ms tick and
 *   the millisecond count main.c derives from it; the main loop runs a pass at every tick and
 *   whenever a frame's last byte or a command line arrived (main.c wakes at every byte: the
 *   bytes before a frame's end only wait in the ring, in order, until a pass takes them);
 * - CPU time: while a pass computes the rule (--fire-cycles for a live neighbourhood, the AVR
 *   kernel's measured mean; 300 for a dead one) or writes a line to the USB serial (10 bits a
 *   byte at 117,647 baud, as U2X at 16 MHz gives), the board does nothing else; the link
 *   interrupt takes LINK_ISR_SHARE of the CPU all the time;
 * - links: main.c's software serial, byte by byte: Timer1 ticks at 3x the baud rate (555
 *   cycles), a byte every 31 ticks, the receiver has it 29.5 ticks after its start bit, 31
 *   bytes of ring per link (more are dropped), one frame at a time on all four links at once;
 * - faults: a killed board's wires go idle at once (bytes under way are cut), a reset board
 *   boots again (its boot counter, hence its random seed, moves on), corruption inverts one data
 *   bit of that share of link bytes.
 * Not modelled: the exact instant of each instruction and interrupt, the soft-serial sampling
 * of a bit (a byte arrives whole or not at all), the ADC noise in the seed (simavr reads 0).
 * Single-threaded, so a run depends on its seed and script alone.
 */

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grid_script.h"
#include "node.h"
#include "wiring.h"

#define TIMER0_TICK_NS (64.0 * 256 * 1e9 / F_CPU)     /* main.c: Timer0 overflows, prescaler 64 */
#define LINK_TICK_CYCLES (F_CPU / (LINK_BAUD * LINK_OVERSAMPLE)) /* OCR1A + 1 */
#define LINK_TICK_NS (LINK_TICK_CYCLES * 1e9 / F_CPU)
#define BYTE_TICKS 31                                  /* start, 8 data, stop bits of 3 ticks, 1 to load */
#define RECEIVED_TICKS 29.5                            /* from the start bit to the byte in the ring */
#define FIRST_BIT_TICKS 1.5                            /* from tx_start to the first start bit */
#define RING_BYTES (LINK_RX_RING - 1)                  /* links.S keeps one place free */
#define USB_BYTE_NS (10 * 1e9 / (F_CPU / 8.0 / ((F_CPU / 8 / REPORT_BAUD))))
#define LINK_ISR_SHARE 0.21                            /* docs/firmware.md, "CPU time" */
#define DEAD_FIRE_CYCLES 300
#define BOOT_NS 2000000.0                              /* reset to main loop: the seed's ADC reads */
#define WINDOW_NS 1000000.0 /* < the quickest a frame's first byte can arrive (30 ticks, 1.04 ms) */
#define FRAMES_IN_FLIGHT 4  /* frames on a wire not yet taken by a busy receiver */
#define TRACE_IN ((1 + NCA_NEIGHBOURS) * NCA_CHANNELS)

static const int DX[LINK_COUNT] = LINK_DX;
static const int DY[LINK_COUNT] = LINK_DY;

struct frame {          /* one frame on a wire, as the receiver will see it */
    double first_ns;    /* its first byte in the receiver's ring */
    double byte_ns;     /* then one byte every this long */
    double cut_ns;      /* the sender died or reset: nothing arrives after this */
    uint8_t len, next;  /* bytes; the next one to take */
    uint8_t wakes;      /* the next byte at or after `next` that ends a frame (0x00), or len */
    uint8_t bytes[LINK_MAX_WIRE];
};

struct wire { /* into a board from one side */
    struct frame frames[FRAMES_IN_FLIGHT];
    uint8_t head, count;
};

struct board {
    struct node node; /* first: the hooks get &node */
    int x, y, dead;
    double rate;                     /* own clock / true time */
    double boot_ns;                  /* when it last booted */
    double next_tick_ns;             /* its next Timer0 tick */
    uint32_t ticks;                  /* Timer0 ticks since boot */
    uint16_t ms_now;                 /* main.c's millisecond count */
    uint16_t boots;                  /* EEPROM boot counter */
    double busy_until_ns;            /* the main loop is computing or printing until then */
    double cpu_ns;                   /* where the current pass has got to */
    double tx_idle_ns;               /* its frame has left by then */
    struct frame sending;            /* that frame, bytes and start, to hand to the neighbours */
    int has_sending;
    struct wire in[LINK_COUNT];
    char command[REPORT_COMMAND_MAX + 1];
    double command_ns;               /* a command line arrives then (<0: none) */
    uint8_t command_len;
    int8_t trace_in[TRACE_IN];
};

static struct board *boards;
static double *wake_ns; /* each board's next pass (next_pass_ns), kept up to date; apart, to scan fast */
static int width, height;
static double now_window_ns;
static uint32_t corrupt_ppm, rng = 0x12345678u;
static unsigned long long link_bytes, corrupted, traced;
static unsigned long fire_cycles = 66980;
static int every_tick;
static FILE *out, *trace_out;

static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static struct board *board_at(int x, int y)
{
    return x >= 0 && y >= 0 && x < width && y < height ? &boards[y * width + x] : NULL;
}

static double cpu_ns(const struct board *b, double cycles)
{
    return cycles * 1e9 / F_CPU / b->rate / (1.0 - LINK_ISR_SHARE);
}

/* ---- the hardware layer's hooks (node.h) ------------------------------------------------ */

void hw_usb_write(struct node *n, const char *s, uint8_t len)
{
    struct board *b = (struct board *)n;
    b->cpu_ns += len * USB_BYTE_NS / b->rate;
    fprintf(out, "%ld %d %d %.*s\n", (long)(b->cpu_ns / 1e6), b->x, b->y,
            len > 0 && s[len - 1] == '\n' ? len - 1 : len, s);
}

void hw_led(struct node *n, const int8_t *state)
{
    (void)n;
    (void)state;
}

uint8_t *hw_tx_buffer(struct node *n)
{
    return ((struct board *)n)->sending.bytes;
}

uint8_t hw_tx_idle(struct node *n)
{
    const struct board *b = (const struct board *)n;
    return b->cpu_ns >= b->tx_idle_ns;
}

void hw_tx_start(struct node *n, uint8_t len)
{
    struct board *b = (struct board *)n;
    double tick = LINK_TICK_NS / b->rate;
    b->sending.first_ns = b->cpu_ns + (FIRST_BIT_TICKS + RECEIVED_TICKS) * tick;
    b->sending.byte_ns = BYTE_TICKS * tick;
    b->sending.cut_ns = 1e300;
    b->sending.len = len;
    b->sending.next = 0;
    b->sending.wakes = 0;
    b->has_sending = 1;
    b->tx_idle_ns = b->cpu_ns + (FIRST_BIT_TICKS + BYTE_TICKS * len) * tick;
}

void cell_trace(const int8_t *state, uint8_t mark)
{
    /* state is &cell.state of the board whose pass is running: find it */
    struct board *b = (struct board *)((const char *)state - offsetof(struct board, node.cell.state));
    if (mark == 1) {
        int k, alive = state[NCA_ALPHA] > NCA_ALIVE_THRESHOLD;
        memcpy(b->trace_in, state, TRACE_IN);
        for (k = 1; k <= NCA_NEIGHBOURS; k++) {
            alive |= state[k * NCA_CHANNELS + NCA_ALPHA] > NCA_ALIVE_THRESHOLD;
        }
        b->cpu_ns += cpu_ns(b, alive ? (double)fire_cycles : DEAD_FIRE_CYCLES);
    } else if (mark == 2 && trace_out) {
        int16_t xy[2] = {(int16_t)b->x, (int16_t)b->y};
        uint32_t ms = (uint32_t)(b->cpu_ns / 1e6);
        fwrite(xy, sizeof xy, 1, trace_out);
        fwrite(&ms, sizeof ms, 1, trace_out);
        fwrite(b->trace_in, TRACE_IN, 1, trace_out);
        fwrite(state, NCA_CHANNELS, 1, trace_out);
        traced++;
    }
}

/* ---- boards ------------------------------------------------------------------------------ */

static void boot(struct board *b, double at_ns)
{
    int l;
    uint16_t seed;
    memset(&b->node, 0, sizeof b->node);
    for (l = 0; l < LINK_COUNT; l++) {
        b->in[l].head = b->in[l].count = 0;
    }
    b->boot_ns = at_ns;
    b->ticks = 0;
    b->ms_now = 0;
    b->next_tick_ns = at_ns + TIMER0_TICK_NS / b->rate;
    b->tx_idle_ns = 0;
    b->has_sending = 0;
    b->command_ns = -1;
    b->boots++;
    seed = b->boots; /* main.c: the boot counter + 1, mixed with ADC noise (0 in an emulator) */
    b->cpu_ns = at_ns + BOOT_NS / b->rate;
    node_start(&b->node, seed, 0);
    b->busy_until_ns = b->cpu_ns;
    wake_ns[b - boards] = b->cpu_ns;
}

/* Cut what a board was sending: its neighbours' wires from it go idle from `at_ns`. */
static void cut_wires(struct board *b, double at_ns)
{
    int l, k;
    for (l = 0; l < LINK_COUNT; l++) {
        struct board *n = board_at(b->x + DX[l], b->y + DY[l]);
        if (n) {
            struct wire *w = &n->in[(l + 2) % LINK_COUNT];
            for (k = 0; k < w->count; k++) {
                struct frame *f = &w->frames[(w->head + k) % FRAMES_IN_FLIGHT];
                if (f->cut_ns > at_ns) {
                    f->cut_ns = at_ns;
                }
            }
        }
    }
}

/* main.c's millisecond count after `ticks` Timer0 overflows: each adds 1 ms and 24 us (3 units
 * of 8 us), a carry of 1 ms every 125 units; unwrapped (the firmware keeps its low 16 bits). */
static uint32_t ms_after(uint32_t ticks)
{
    return ticks + 3u * ticks / 125u;
}

/* The first tick count whose millisecond count reaches `ms`. */
static uint32_t ticks_for(uint32_t ms)
{
    uint32_t t = (uint32_t)((uint64_t)ms * 125u / 128u);
    while (ms_after(t) < ms) {
        t++;
    }
    while (t > 0 && ms_after(t - 1) >= ms) {
        t--;
    }
    return t;
}

static double tick_ns(const struct board *b, uint32_t ticks)
{
    return b->boot_ns + ticks * TIMER0_TICK_NS / b->rate;
}

static void tick_clock(struct board *b, double until_ns)
{
    if (b->next_tick_ns <= until_ns) {
        b->ticks = (uint32_t)((until_ns - b->boot_ns) * b->rate / TIMER0_TICK_NS);
        while (tick_ns(b, b->ticks + 1) <= until_ns) { /* rounding */
            b->ticks++;
        }
        while (b->ticks > 0 && tick_ns(b, b->ticks) > until_ns) {
            b->ticks--;
        }
        b->ms_now = (uint16_t)ms_after(b->ticks);
        b->next_tick_ns = tick_ns(b, b->ticks + 1);
    }
}

static uint16_t until(uint16_t now, uint16_t t) /* ms from now to t; 0 if reached (cell.c) */
{
    return (uint16_t)(now - t) < 0x8000u ? 0 : (uint16_t)(t - now);
}

/* The first tick at which a pass of node_poll can do anything, if no frame and no command
 * arrives first: cell_expire every NODE_EXPIRE_MS, the next firing, and cell_build_frame's
 * reasons to send (its conditions, read from the cell) once the link is free. Passes at the
 * ticks in between would find nothing to do; --every-tick runs them all, and the tests check
 * that the output is the same. */
static double next_poll_ns(struct board *b)
{
    const struct cell *c = &b->node.cell;
    uint16_t now = b->ms_now, wait, frame = 0xFFFF;
    uint32_t tick;
    double at;
    if (every_tick || (c->hops == 0 && c->queue_len)) {
        return b->next_tick_ns;
    }
    wait = until(now, (uint16_t)(b->node.expired + NODE_EXPIRE_MS));
    if (until(now, c->next_fire) < wait) {
        wait = until(now, c->next_fire);
    }
    if (c->command_pending || c->ack_due) {
        frame = 0;
    } else {
        frame = until(now, (uint16_t)(c->last_sent + CELL_HEARTBEAT_MS));
        if (c->queue_len && c->hops != 0 && c->hops != CELL_UNKNOWN) {
            uint16_t report = c->in_flight ? until(now, (uint16_t)(c->in_flight_at + CELL_RETRY_MS)) : 0;
            frame = report < frame ? report : frame;
        }
    }
    tick = ticks_for(ms_after(b->ticks) + wait);
    at = tick_ns(b, tick > b->ticks ? tick : b->ticks + 1);
    if (frame != 0xFFFF) { /* a frame, at the first tick from `frame` ms on at which the link is free */
        double f;
        tick = ticks_for(ms_after(b->ticks) + frame);
        f = tick_ns(b, tick > b->ticks ? tick : b->ticks + 1);
        if (f < b->tx_idle_ns) {
            f = tick_ns(b, (uint32_t)((b->tx_idle_ns - b->boot_ns) * b->rate / TIMER0_TICK_NS) + 1);
        }
        at = f < at ? f : at;
    }
    return at;
}

/* The time of the next byte on a wire, or a large value. Cut and dropped bytes are skipped. */
static double next_byte_ns(struct wire *w)
{
    while (w->count) {
        struct frame *f = &w->frames[w->head];
        if (f->next < f->len) {
            double at = f->first_ns + f->next * f->byte_ns;
            if (at <= f->cut_ns) {
                return at;
            }
        }
        w->head = (uint8_t)((w->head + 1) % FRAMES_IN_FLIGHT);
        w->count--;
    }
    return 1e300;
}

/* When a wire's next frame delimiter arrives (the byte after which a pass has something to do:
 * the bytes before it only fill the link's receive buffer, in order, whenever a pass comes). */
static double next_delimiter_ns(struct wire *w)
{
    int k;
    for (k = 0; k < w->count; k++) {
        struct frame *f = &w->frames[(w->head + k) % FRAMES_IN_FLIGHT];
        while (f->wakes < f->len && f->bytes[f->wakes] != 0) {
            f->wakes++;
        }
        if (f->wakes < f->len && f->wakes >= f->next) {
            double at = f->first_ns + f->wakes * f->byte_ns;
            return at <= f->cut_ns ? at : 1e300;
        }
    }
    return 1e300;
}

/* When the main loop next has a reason to run a pass: its tick, a frame ending on a link, a
 * command line. (main.c wakes on every byte; a pass at a byte that ends no frame can only start
 * the next frame sooner, by under the millisecond to the next tick.) */
static double next_pass_ns(struct board *b)
{
    double t = next_poll_ns(b);
    int l;
    for (l = 0; l < LINK_COUNT; l++) {
        double at = next_delimiter_ns(&b->in[l]);
        if (at < t) {
            t = at;
        }
    }
    if (b->command_ns >= 0 && b->command_ns < t) {
        t = b->command_ns;
    }
    return t > b->busy_until_ns ? t : b->busy_until_ns;
}

/* One pass of main.c's loop at time t. */
static void pass(struct board *b, double t)
{
    int l;
    tick_clock(b, t);
    b->cpu_ns = t;
    for (l = 0; l < LINK_COUNT; l++) { /* the bytes each link's ring holds, link by link */
        struct wire *w = &b->in[l];
        int taken = 0;
        while (next_byte_ns(w) <= t) {
            struct frame *f = &w->frames[w->head];
            double until = t < f->cut_ns ? t : f->cut_ns;
            int arrived = (int)((until - f->first_ns) / f->byte_ns) + 1; /* bytes in by `until` */
            if (arrived <= f->next) { /* rounding: next_byte_ns has it in */
                arrived = f->next + 1;
            }
            if (arrived > f->len) {
                arrived = f->len;
            }
            for (; f->next < arrived; f->next++) {
                if (taken++ < RING_BYTES) {
                    node_byte(&b->node, (uint8_t)l, f->bytes[f->next], b->ms_now);
                }
            }
            if (f->wakes < f->next) {
                f->wakes = f->next;
            }
        }
    }
    node_poll(&b->node, b->ms_now);
    if (b->command_ns >= 0 && b->command_ns <= t) {
        node_command(&b->node, b->command, b->command_len);
        b->command_ns = -1;
    }
    b->busy_until_ns = b->cpu_ns;
    wake_ns[b - boards] = next_pass_ns(b);
}

/* Hand the frames started in this window to the neighbours' wires (corrupting some bytes). */
static void deliver(struct board *b)
{
    int l, k;
    if (!b->has_sending) {
        return;
    }
    b->has_sending = 0;
    for (l = 0; l < LINK_COUNT; l++) {
        struct board *n = board_at(b->x + DX[l], b->y + DY[l]);
        struct wire *w;
        struct frame *f;
        if (!n || n->dead) {
            continue;
        }
        w = &n->in[(l + 2) % LINK_COUNT];
        if (w->count == FRAMES_IN_FLIGHT) { /* a receiver busy for longer than 8 frames: its ring lost the oldest */
            w->head = (uint8_t)((w->head + 1) % FRAMES_IN_FLIGHT);
            w->count--;
        }
        f = &w->frames[(w->head + w->count++) % FRAMES_IN_FLIGHT];
        *f = b->sending;
        link_bytes += f->len;
        if (corrupt_ppm) {
            for (k = 0; k < f->len; k++) {
                if (next_random() % 1000000u < corrupt_ppm) {
                    f->bytes[k] ^= (uint8_t)(1u << (next_random() % 8));
                    corrupted++;
                }
            }
        }
        wake_ns[n - boards] = next_pass_ns(n);
    }
}

static void usb_line(struct board *b, const char *text, double at_ns)
{
    size_t len = strlen(text);
    if (b->dead) {
        return;
    }
    memcpy(b->command, text, len < REPORT_COMMAND_MAX ? len : REPORT_COMMAND_MAX);
    b->command_len = (uint8_t)(len <= REPORT_COMMAND_MAX ? len : REPORT_COMMAND_MAX + 1);
    b->command_ns = at_ns + (len + 1) * USB_BYTE_NS; /* the line's bytes at 115200 baud */
    if (len == 0) {
        b->command_ns = -1; /* an empty line is no command (main.c) */
    }
    wake_ns[b - boards] = next_pass_ns(b);
}

static void run_command(const char *cmd, double at_ns)
{
    int x, y, x1, y1;
    unsigned long ppm;
    char text[200];
    struct board *b;
    if (sscanf(cmd, "kill %d %d", &x, &y) == 2 && (b = board_at(x, y))) {
        b->dead = 1;
        cut_wires(b, at_ns);
    } else if (sscanf(cmd, "reset %d %d", &x, &y) == 2 && (b = board_at(x, y))) {
        if (!b->dead) {
            cut_wires(b, at_ns);
            boot(b, at_ns);
        }
    } else if (sscanf(cmd, "erase %d %d %d %d", &x, &y, &x1, &y1) == 4) {
        int i, j;
        for (j = y; j <= y1; j++) {
            for (i = x; i <= x1; i++) {
                if ((b = board_at(i, j))) {
                    usb_line(b, "Z", at_ns);
                }
            }
        }
    } else if (sscanf(cmd, "corrupt %lu", &ppm) == 1) {
        corrupt_ppm = (uint32_t)ppm;
    } else if (sscanf(cmd, "%d %d %199[^\n]", &x, &y, text) == 3 && (b = board_at(x, y))) {
        usb_line(b, text, at_ns);
    } else {
        fprintf(stderr, "twin: bad command: %s\n", cmd);
    }
}

static void run_live_command(const char *cmd)
{
    run_command(cmd, now_window_ns);
}

static double wall_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    double seconds, end_ns, started;
    int i, live = 0;
    unsigned long seed = 0;
    struct grid_script script;
    const char *cmd;

    out = stdout;
    grid_script_init(&script);
    for (i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--fire-cycles") && i + 1 < argc) {
            fire_cycles = strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--every-tick")) {
            every_tick = 1;
        } else if (!strcmp(argv[i], "--live")) {
            live = 1;
        } else if (!strcmp(argv[i], "--trace") && i + 1 < argc) {
            if (!(trace_out = fopen(argv[++i], "wb"))) {
                fprintf(stderr, "twin: cannot write %s: %s\n", argv[i], strerror(errno));
                return 2;
            }
        } else {
            argc = 0;
        }
    }
    if (argc < 4) {
        fprintf(stderr, "usage: twin WIDTH HEIGHT SECONDS [--seed N] [--trace FILE] [--fire-cycles N] [--live] [--every-tick]\n");
        return 2;
    }
    width = atoi(argv[1]);
    height = atoi(argv[2]);
    seconds = atof(argv[3]);
    if (width < 1 || height < 1 || width > 255 || height > 255 || seconds < 0 || (seconds == 0 && !live)) {
        fprintf(stderr, "twin: bad grid size or time\n");
        return 2;
    }
    rng ^= (uint32_t)(seed * 2654435761u);
    boards = calloc((size_t)(width * height), sizeof *boards);
    wake_ns = calloc((size_t)(width * height), sizeof *wake_ns);
    for (i = 0; i < width * height; i++) {
        struct board *b = &boards[i];
        b->x = i % width;
        b->y = i / width;
        b->rate = 1.0 + ((int)(((i + seed * 7919u) * 2654435761u) >> 16) % 41 - 20) * 1e-4;
        b->boots = (uint16_t)(i * 7919 + 1 + seed * 104729u); /* as the emulated grid's EEPROMs */
    }
    for (i = 0; i < width * height; i++) {
        boot(&boards[i], 0);
    }
    end_ns = seconds > 0 ? seconds * 1e9 : 1e300;
    started = wall_seconds();
    for (now_window_ns = 0; now_window_ns < end_ns; now_window_ns += WINDOW_NS) {
        double window_end = now_window_ns + WINDOW_NS;
        if (live) {
            double ahead = now_window_ns / 1e9 - (wall_seconds() - started);
            if (ahead > 0.002) {
                struct timespec t = {0, (long)(ahead * 1e9)};
                nanosleep(&t, NULL);
            }
            if (!grid_script_live(&script, run_live_command)) {
                break;
            }
            fflush(out);
        } else {
            while ((cmd = grid_script_due(&script, window_end / 1e6))) {
                run_command(cmd, script.command_ms * 1e6);
            }
        }
        for (i = 0; i < width * height; i++) {
            struct board *b = &boards[i];
            double t;
            if (wake_ns[i] >= window_end || b->dead) {
                continue;
            }
            while ((t = wake_ns[i]) < window_end) {
                pass(b, t);
            }
        }
        for (i = 0; i < width * height; i++) {
            deliver(&boards[i]);
        }
    }
    fprintf(stderr, "twin: %.1f s emulated in %.1f s (1 threads); %llu of %llu link bytes corrupted; "
            "%llu updates traced\n", (now_window_ns < end_ns ? now_window_ns : end_ns) / 1e9,
            wall_seconds() - started, corrupted, link_bytes, traced);
    fflush(out);
    if (trace_out) {
        fclose(trace_out);
    }
    return 0;
}
