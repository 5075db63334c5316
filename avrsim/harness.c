/* simavr harness for one ATmega328P (built by avrsim/build.py, linked with libsimavr).
 *
 *   harness rule ELF BUF_ADDR N   stdin: N cases of [self 16][nbr 8x16] bytes; stdout: N outputs
 *                                 of 16 bytes, then N uint32 (LE) cycle counts of the update.
 *                                 The test firmware (avrsim/rule_bench.c) writes the trace mark:
 *                                 1 = ready for a case, 2 = update starts, 3 = update done.
 *   harness run ELF CYCLES BSS_END [INPUT]
 *                                 paints the free RAM, runs CYCLES cycles, sends INPUT on the
 *                                 USB UART after 1 ms, copies the UART output to stdout, and
 *                                 prints "stack_peak <bytes>" and "awake_permille <n>" (time
 *                                 not asleep) on stderr at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>

#include "simavr_board.h"

#define CASE_IN 144
#define CASE_OUT 16

static avr_t *avr;
static FILE *data_out; /* our results; simavr's own messages go to stderr */
static uint8_t *cases, *outputs;
static uint32_t *cycles;
static long n_cases, next_case, done_cases;
static avr_cycle_count_t started;
static uint16_t buf_addr;
static uint32_t *profile;
static const char *profile_path;
static int stop;

static void on_marker(struct avr_t *a, avr_io_addr_t addr, uint8_t v, void *param)
{
    (void)param;
    a->data[addr] = v;
    if (v == 1) {
        if (next_case >= n_cases) {
            stop = 1;
            return;
        }
        memcpy(a->data + buf_addr, cases + (size_t)next_case * CASE_IN, CASE_IN);
        next_case++;
    } else if (v == 2) {
        started = a->cycle;
    } else if (v == 3 && done_cases < next_case) {
        cycles[done_cases] = (uint32_t)(a->cycle - started);
        memcpy(outputs + (size_t)done_cases * CASE_OUT, a->data + buf_addr + CASE_IN, CASE_OUT);
        done_cases++;
    }
}

/* simavr's default sleep waits in real time; emulated time just jumps to the next event */
static avr_cycle_count_t slept;

static void no_sleep(avr_t *a, avr_cycle_count_t how_long)
{
    (void)a;
    slept += how_long;
}

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    fputc((int)value, data_out);
}

static avr_t *load(const char *elf)
{
    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(elf, &fw) != 0) {
        fprintf(stderr, "cannot read %s\n", elf);
        exit(2);
    }
    avr = board_new(no_sleep);
    if (!avr) {
        fprintf(stderr, "simavr has no %s\n", BOARD_MCU);
        exit(2);
    }
    avr_load_firmware(avr, &fw);
    return avr;
}

static int run_rule(int argc, char **argv)
{
    if (argc != 5) {
        return 2;
    }
    load(argv[2]);
    buf_addr = (uint16_t)strtoul(argv[3], NULL, 0);
    n_cases = strtol(argv[4], NULL, 10);
    cases = malloc((size_t)n_cases * CASE_IN + 1);
    outputs = malloc((size_t)n_cases * CASE_OUT + 1);
    cycles = malloc((size_t)n_cases * sizeof *cycles + 1);
    if (fread(cases, CASE_IN, (size_t)n_cases, stdin) != (size_t)n_cases) {
        fprintf(stderr, "expected %ld cases on stdin\n", n_cases);
        return 2;
    }
    avr_register_io_write(avr, TRACE_MARK_ADDR, on_marker, NULL);
    while (!stop) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "the AVR stopped (state %d) after %ld cases\n", state, done_cases);
            return 1;
        }
    }
    fwrite(outputs, CASE_OUT, (size_t)done_cases, data_out);
    fwrite(cycles, sizeof *cycles, (size_t)done_cases, data_out);
    return done_cases == n_cases ? 0 : 1;
}

static int run_firmware(int argc, char **argv)
{
    avr_cycle_count_t limit;
    uint16_t bss_end, a, lowest;
    const char *input = argc > 5 ? argv[5] : "";
    size_t sent = 0;
    if (argc < 5) {
        return 2;
    }
    load(argv[2]);
    limit = strtoull(argv[3], NULL, 10);
    bss_end = (uint16_t)strtoul(argv[4], NULL, 0);
    for (a = bss_end; a <= avr->ramend; a++) {
        avr->data[a] = 0xAA; /* paint: what the stack never touches keeps this value */
    }
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, NULL);
    board_links_idle(avr);
    profile_path = getenv("NCA_PROFILE"); /* optional: cycles spent at each flash address */
    if (profile_path) {
        profile = calloc(0x8000, sizeof *profile);
    }
    while (avr->cycle < limit) {
        avr_cycle_count_t before = avr->cycle;
        avr_flashaddr_t pc = avr->pc;
        int state = avr_run(avr);
        if (profile && pc < 0x8000 && avr->state == cpu_Running) {
            profile[pc] += (uint32_t)(avr->cycle - before);
        }
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "the AVR stopped (state %d)\n", state);
            return 1;
        }
        if (avr->cycle > 16000 && sent < strlen(input)) {
            avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT), (uint8_t)input[sent++]);
        }
    }
    if (profile) {
        FILE *f = fopen(profile_path, "wb");
        if (f) {
            fwrite(profile, sizeof *profile, 0x8000, f);
            fclose(f);
        }
    }
    fflush(data_out);
    lowest = avr->ramend + 1;
    for (a = bss_end; a <= avr->ramend; a++) {
        if (avr->data[a] != 0xAA) {
            lowest = a;
            break;
        }
    }
    fprintf(stderr, "stack_peak %u\n", (unsigned)(avr->ramend + 1 - lowest));
    fprintf(stderr, "awake_permille %u\n", (unsigned)(1000 - slept * 1000 / avr->cycle));
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    data_out = fdopen(dup(1), "wb");
    dup2(2, 1);
    if (argc >= 2 && strcmp(argv[1], "rule") == 0) {
        rc = run_rule(argc, argv);
    } else if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        rc = run_firmware(argc, argv);
    }
    if (rc == 2) {
        fprintf(stderr, "usage: %s rule ELF BUF_ADDR N | run ELF CYCLES BSS_END [INPUT]\n", argv[0]);
    }
    fflush(data_out);
    return rc;
}
