/* An emulated grid of cell boards: W x H ATmega328P cores (simavr) in one process, all running
 * the same firmware image, each board's link pins wired to its neighbours' pins as on the real
 * grid (firmware/avr/board.h), each board's clock running at its own rate (+-0.2%, as crystals
 * do). Built by avrsim/build.py.
 *
 *   grid ELF W H SECONDS [--threads N] [--live] [--trace FILE]
 * (threads: by default one per core, as long as each has 100 boards)
 *
 * Boards run in slices of SLICE cycles, spread over N threads; a level change on a wire reaches
 * the neighbour at the end of its slice (a 6 us wire delay, far under a link bit of 104 us), so
 * results do not depend on the number of threads.
 *
 * Commands on stdin, one per line, each "<ms> <command>" (sorted by emulated time), or in --live
 * mode just "<command>", run as soon as it is read (emulated time then runs no faster than real
 * time, and SECONDS 0 runs until stdin closes):
 *   "<x> <y> <text>"         send text and a newline to that board's USB serial
 *   "kill <x> <y>"           the board stops for good (unpowered: its links go idle)
 *   "reset <x> <y>"          the board resets and starts its firmware again
 *   "erase <x0> <y0> <x1> <y1>"  every board in the rectangle clears its state (Z on USB)
 *   "corrupt <ppm>"          from now on this share (parts per million) of the bytes on the link
 *                            wires get one data bit inverted
 *   "load <elf>"             flash a new image into every board and reset them all
 * Output lines: "<ms> <x> <y> <line>" for each line a board prints on its USB serial.
 * --trace FILE: a debug build (-DCELL_TRACE) marks each rule update (wiring.h's trace mark); each update's
 * inputs (own state, 8 neighbours) and output go to FILE as records of int16 x, y, uint32 ms,
 * 144 + 16 int8 (little-endian).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <simavr/avr_eeprom.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>

#include "grid_script.h"
#include "simavr_board.h"

#define SLICE 100 /* cycles a board runs before wires deliver: well under a link bit (1667) */
#define TRACE_IN (9 * 16)

struct trace_record {
    int16_t x, y;
    uint32_t ms;
    int8_t in[TRACE_IN], out[16];
};

struct board {
    avr_t *avr;
    int x, y;
    double rate;
    int dead;
    char line[128], done[128]; /* the line being printed; a finished one, until the slice ends */
    int len, has_done;
    struct trace_record trace;
    int has_trace;
};

/* one wire: a board's TX pin to its neighbour's RX pin, through which faults are injected */
struct wire {
    struct board *from, *to_board;
    avr_irq_t *to;
    int pending;                   /* level to deliver at the end of the slice, -1: none */
    int level, inverted;           /* the sender's level; whether the receiver sees it inverted */
    unsigned long long byte_end;   /* the byte on the wire ends (its stop bit) at this cycle */
    unsigned long long bad_from, bad_to; /* a corrupted bit's time on the wire */
};

struct worker {
    int first; /* boards first, first + n_threads, ...: every thread gets a share of the busy ones */
    struct wire **changed; /* wires whose level changed this slice */
    int n_changed;
};

static struct board *boards;
static struct wire *wires;
static struct worker *workers;
static int width, height, n_threads = 1;
static FILE *out, *trace_out;
static unsigned long long now_cycles;
static uint32_t corrupt_ppm, rng = 0x12345678u;
static unsigned long long link_bytes, corrupted;
static unsigned long traced;
static struct wire **corrupting; /* wires with a corrupted bit on them now or soon */
static int n_corrupting;
struct barrier {
    int arrived, phase;
};
static struct barrier slice_start, slice_end;
static volatile int stopping;
static int failed;

static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Slices are short (6 us of emulated time, ~0.3 ms of work): a thread that arrives first spins
 * rather than sleeping, as waking a sleeping thread costs a good part of a slice; it yields to
 * other work if the wait grows long (more threads than cores). */
static void barrier_wait(struct barrier *b)
{
    int phase = __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE), spins = 0;
    if (__atomic_add_fetch(&b->arrived, 1, __ATOMIC_ACQ_REL) == n_threads) {
        __atomic_store_n(&b->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->phase, phase + 1, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&b->phase, __ATOMIC_ACQUIRE) == phase) {
        if (++spins > 100000) {
            sched_yield();
        }
    }
}

static struct worker *worker_of(const struct board *b)
{
    return &workers[(b - boards) % n_threads];
}

static void on_wire(struct avr_irq_t *irq, uint32_t value, void *param)
{
    struct wire *w = param;
    (void)irq;
    if (w->pending < 0) {
        struct worker *k = worker_of(w->from);
        k->changed[k->n_changed++] = w;
    }
    w->pending = (int)(value != 0);
}

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
        memcpy(b->done, b->line, (size_t)b->len + 1);
        b->has_done = 1;
        b->len = 0;
    } else if (value != '\r') {
        b->line[b->len++] = (char)value;
    }
}

static void on_trace_mark(struct avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
    struct board *b = param;
    uint16_t at = (uint16_t)(avr->data[TRACE_PTR_LO_ADDR] | avr->data[TRACE_PTR_HI_ADDR] << 8);
    (void)addr;
    if (at + TRACE_IN > avr->ramend) {
        return;
    }
    if (v == 1) { /* before the update: own state and the 8 neighbours follow each other */
        memcpy(b->trace.in, avr->data + at, TRACE_IN);
    } else if (v == 2) {
        memcpy(b->trace.out, avr->data + at, 16);
        b->trace.x = (int16_t)b->x;
        b->trace.y = (int16_t)b->y;
        b->trace.ms = (uint32_t)(now_cycles / CYCLES_PER_MS);
        b->has_trace = 1;
    }
}

static void send_text(struct board *b, const char *text)
{
    avr_irq_t *in = avr_io_getirq(b->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    for (; *text; text++) {
        avr_raise_irq(in, (uint8_t)*text);
    }
    avr_raise_irq(in, '\n');
}

static struct board *board_at(int x, int y)
{
    return x >= 0 && y >= 0 && x < width && y < height ? &boards[y * width + x] : NULL;
}

static int load_image(const char *path)
{
    elf_firmware_t fw;
    int i;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(path, &fw) != 0) {
        fprintf(stderr, "grid: cannot read firmware %s\n", path);
        return -1;
    }
    for (i = 0; i < width * height; i++) {
        struct board *b = &boards[i];
        uint16_t boot = (uint16_t)(i * 7919 + 1); /* each board's EEPROM boot counter differs */
        avr_eeprom_desc_t ee = {(uint8_t *)&boot, 0, 2};
        avr_load_firmware(b->avr, &fw);
        avr_ioctl(b->avr, AVR_IOCTL_EEPROM_SET, &ee);
        avr_reset(b->avr);
        b->len = b->has_done = b->has_trace = 0;
        board_links_idle(b->avr);
    }
    return 0;
}

static void run_command(const char *cmd)
{
    int x, y, x1, y1, l;
    unsigned long ppm;
    char text[200];
    struct board *b;
    if (sscanf(cmd, "kill %d %d", &x, &y) == 2 && (b = board_at(x, y))) {
        b->dead = 1;
        for (l = 0; l < LINK_COUNT; l++) { /* its neighbours' inputs from it go idle (pull-ups) */
            struct board *n = board_at(x + DX[l], y + DY[l]);
            if (n) {
                avr_raise_irq(board_rx_pin(n->avr, (l + 2) % LINK_COUNT), 1);
            }
        }
    } else if (sscanf(cmd, "reset %d %d", &x, &y) == 2 && (b = board_at(x, y))) {
        avr_reset(b->avr);
    } else if (sscanf(cmd, "erase %d %d %d %d", &x, &y, &x1, &y1) == 4) {
        int i, j;
        for (j = y; j <= y1; j++) {
            for (i = x; i <= x1; i++) {
                if ((b = board_at(i, j))) {
                    send_text(b, "Z");
                }
            }
        }
    } else if (sscanf(cmd, "corrupt %lu", &ppm) == 1) {
        corrupt_ppm = (uint32_t)ppm;
    } else if (sscanf(cmd, "load %199s", text) == 1) {
        if (load_image(text) == 0) {
            fprintf(stderr, "grid: flashed %s into %d boards\n", text, width * height);
        }
    } else if (sscanf(cmd, "%d %d %199[^\n]", &x, &y, text) == 3 && (b = board_at(x, y))) {
        send_text(b, text);
    } else {
        fprintf(stderr, "grid: bad command: %s\n", cmd);
    }
}

/* Run a worker's boards to the end of the slice that starts at now_cycles. */
static void run_slice(struct worker *k)
{
    int i;
    for (i = k->first; i < width * height; i += n_threads) {
        struct board *b = &boards[i];
        avr_cycle_count_t target = (avr_cycle_count_t)((double)(now_cycles + SLICE) * b->rate);
        if (b->dead) {
            continue;
        }
        while (b->avr->cycle < target) {
            int state = avr_run(b->avr);
            if (state == cpu_Done || state == cpu_Crashed) {
                fprintf(stderr, "grid: board (%d, %d) stopped (state %d)\n", b->x, b->y, state);
                failed = 1;
                b->dead = 1;
                break;
            }
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *k = arg;
    for (;;) {
        barrier_wait(&slice_start);
        if (stopping) {
            return NULL;
        }
        run_slice(k);
        barrier_wait(&slice_end);
    }
}

/* Between slices, on the main thread: wires deliver, lines and trace records go out. */
static void end_slice(void)
{
    int t, i;
    unsigned long long ms = now_cycles / CYCLES_PER_MS;
    for (t = 0; t < n_threads; t++) {
        struct worker *k = &workers[t];
        for (i = 0; i < k->n_changed; i++) {
            struct wire *w = k->changed[i];
            int v = w->pending;
            w->pending = -1;
            if (w->from->dead || w->to_board->dead) {
                continue;
            }
            if (v == 0 && w->level == 1 && now_cycles >= w->byte_end) { /* a start bit: a new byte */
                w->byte_end = now_cycles + (unsigned long long)(9.5 * BIT_CYCLES);
                link_bytes++;
                if (corrupt_ppm && next_random() % 1000000u < corrupt_ppm && !w->bad_to) {
                    unsigned bit = 1 + next_random() % 8; /* one of the data bits */
                    w->bad_from = now_cycles + (unsigned long long)(bit * BIT_CYCLES);
                    w->bad_to = w->bad_from + (unsigned long long)BIT_CYCLES;
                    corrupting[n_corrupting++] = w;
                    corrupted++;
                }
            }
            w->level = v;
            avr_raise_irq(w->to, (uint32_t)(v ^ w->inverted));
        }
        k->n_changed = 0;
    }
    for (i = 0; i < n_corrupting; i++) { /* corrupted bits start and end */
        struct wire *w = corrupting[i];
        int inverted = now_cycles >= w->bad_from && now_cycles < w->bad_to;
        if (inverted != w->inverted) {
            w->inverted = inverted;
            avr_raise_irq(w->to, (uint32_t)(w->level ^ inverted));
        }
        if (now_cycles >= w->bad_to) {
            w->bad_to = 0;
            corrupting[i--] = corrupting[--n_corrupting];
        }
    }
    for (i = 0; i < width * height; i++) {
        struct board *b = &boards[i];
        if (b->has_done) {
            fprintf(out, "%llu %d %d %s\n", ms, b->x, b->y, b->done);
            b->has_done = 0;
        }
        if (b->has_trace) {
            if (trace_out) {
                fwrite(&b->trace, sizeof b->trace, 1, trace_out);
                traced++;
            }
            b->has_trace = 0;
        }
    }
}

static double wall_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    double seconds, started;
    unsigned long long limit;
    int i, l, live = 0;
    struct grid_script script;
    const char *cmd;
    pthread_t *threads;

    grid_script_init(&script);
    out = fdopen(dup(1), "w");
    dup2(2, 1); /* simavr's own messages go to stderr */
    n_threads = 0;
    for (i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            n_threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--live")) {
            live = 1;
        } else if (!strcmp(argv[i], "--trace") && i + 1 < argc) {
            if (!(trace_out = fopen(argv[++i], "wb"))) {
                fprintf(stderr, "grid: cannot write %s: %s\n", argv[i], strerror(errno));
                return 2;
            }
        } else {
            argc = 0;
        }
    }
    if (argc < 5) {
        fprintf(stderr, "usage: grid ELF WIDTH HEIGHT SECONDS [--threads N] [--live] [--trace FILE]\n");
        return 2;
    }
    width = atoi(argv[2]);
    height = atoi(argv[3]);
    seconds = atof(argv[4]);
    if (width < 1 || height < 1 || width * height > 4096 || seconds < 0 || (seconds == 0 && !live)) {
        fprintf(stderr, "grid: bad grid size or time\n");
        return 2;
    }
    if (n_threads < 1) { /* by default one thread per core, if each has 100 boards to run */
        n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (n_threads > width * height / 100) {
            n_threads = width * height / 100;
        }
        if (n_threads < 1) {
            n_threads = 1;
        }
    }
    if (n_threads > width * height) {
        n_threads = width * height;
    }
    boards = calloc((size_t)(width * height), sizeof *boards);
    for (i = 0; i < width * height; i++) {
        struct board *b = &boards[i];
        b->x = i % width;
        b->y = i / width;
        b->rate = 1.0 + ((int)((i * 2654435761u) >> 16) % 41 - 20) * 1e-4;
        b->avr = board_new(no_sleep);
        if (!b->avr) {
            fprintf(stderr, "grid: simavr has no %s\n", BOARD_MCU);
            return 2;
        }
        avr_irq_register_notify(avr_io_getirq(b->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, b);
        avr_register_io_write(b->avr, TRACE_MARK_ADDR, on_trace_mark, b);
    }
    if (load_image(argv[1]) != 0) {
        return 2;
    }
    workers = calloc((size_t)n_threads, sizeof *workers);
    for (i = 0; i < n_threads; i++) {
        workers[i].first = i;
        workers[i].changed = calloc((size_t)(4 * width * height), sizeof(struct wire *));
    }
    wires = calloc((size_t)(4 * width * height), sizeof *wires);
    corrupting = calloc((size_t)(4 * width * height), sizeof *corrupting);
    for (i = 0; i < width * height; i++) { /* TX of each side to the facing RX of the neighbour */
        struct board *b = &boards[i];
        for (l = 0; l < 4; l++) {
            struct board *n = board_at(b->x + DX[l], b->y + DY[l]);
            if (n) {
                struct wire *w = &wires[4 * i + l];
                w->from = b;
                w->to_board = n;
                w->pending = -1;
                w->level = 1;
                w->to = board_rx_pin(n->avr, (l + 2) % LINK_COUNT);
                avr_irq_register_notify(board_tx_pin(b->avr, l), on_wire, w);
            }
        }
    }
    threads = calloc((size_t)n_threads, sizeof *threads);
    for (i = 1; i < n_threads; i++) {
        pthread_create(&threads[i], NULL, worker_main, &workers[i]);
    }
    limit = seconds > 0 ? (unsigned long long)(seconds * F_CPU) : ~0ull;
    started = wall_seconds();
    for (now_cycles = 0; now_cycles < limit && !failed; now_cycles += SLICE) {
        if (now_cycles % CYCLES_PER_MS == 0) { /* commands, once per emulated millisecond */
            if (live) {
                double ahead = (double)now_cycles / F_CPU - (wall_seconds() - started);
                if (ahead > 0.002) {
                    struct timespec t = {0, (long)(ahead * 1e9)};
                    nanosleep(&t, NULL);
                }
                if (!grid_script_live(&script, run_command)) {
                    break;
                }
                fflush(out);
            } else {
                while ((cmd = grid_script_due(&script, (double)(now_cycles / CYCLES_PER_MS + 1)))) {
                    run_command(cmd);
                }
            }
        }
        if (n_threads > 1) {
            barrier_wait(&slice_start);
        }
        run_slice(&workers[0]);
        if (n_threads > 1) {
            barrier_wait(&slice_end);
        }
        end_slice();
    }
    stopping = 1;
    if (n_threads > 1) {
        barrier_wait(&slice_start);
        for (i = 1; i < n_threads; i++) {
            pthread_join(threads[i], NULL);
        }
    }
    fprintf(stderr, "grid: %.1f s emulated in %.1f s (%d threads); %llu of %llu link bytes corrupted; "
            "%lu updates traced\n", (double)now_cycles / F_CPU, wall_seconds() - started, n_threads, corrupted,
            link_bytes, traced);
    fflush(out);
    if (trace_out) {
        fclose(trace_out);
    }
    return failed;
}
