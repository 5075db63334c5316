/* Cell firmware, hardware layer for the ATmega328P: timers, software-serial links, LED, USB
 * report. The behaviour lives in ../core (portable) and the generated rule. */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <util/atomic.h>

#include "board.h"
#include "../core/node.h"

/* set by the interrupts when the main loop has something new to look at (links.S, Timer0) */
volatile uint8_t soft_wake;

/* ---- time: Timer0 overflow, as Arduino's millis (1.024 ms ticks, corrected) ------------- */
static volatile uint16_t ms_now;
static volatile uint8_t ms_frac;

ISR(TIMER0_OVF_vect)
{
    /* 64 * 256 / 16 MHz = 1024 us: add 1 ms and carry 24 us */
    uint16_t m = ms_now + 1;
    uint8_t f = ms_frac + 3; /* in units of 8 us */
    if (f >= 125) {
        f -= 125;
        m++;
    }
    ms_now = m;
    ms_frac = f;
    soft_wake = 1; /* every millisecond the main loop checks its timers */
}

static uint16_t now_ms(void)
{
    uint16_t m;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { m = ms_now; }
    return m;
}

/* ---- software serial: one Timer1 tick at 3x the baud rate serves all four links; the
 * interrupt is in links.S, which reads and writes the data below ------------------------- */
struct rx_line {
    uint8_t ticks;   /* ticks until the next sample; 0 = idle, waiting for a start bit */
    uint8_t bit;     /* data bits received so far */
    uint8_t byte;
    uint8_t head, tail;
    uint8_t ring[LINK_RX_RING];
};
/* links.S hard-codes this layout */
typedef char rx_layout_check[(offsetof(struct rx_line, head) == 3 && offsetof(struct rx_line, ring) == 5
                              && sizeof(struct rx_line) == 5 + LINK_RX_RING) ? 1 : -1];

volatile struct rx_line soft_rx[LINK_COUNT];
uint8_t soft_tx_frame[LINK_MAX_WIRE];
volatile uint8_t soft_tx_len, soft_tx_pos;   /* frame being sent, same bytes on all four links */
volatile uint16_t soft_tx_bits;              /* start + 8 data + stop, LSB first; 0 = between bytes */
volatile uint8_t soft_tx_ticks;

uint8_t *hw_tx_buffer(struct node *n)
{
    (void)n;
    return soft_tx_frame;
}

uint8_t hw_tx_idle(struct node *n)
{
    uint8_t idle;
    (void)n;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { idle = soft_tx_pos >= soft_tx_len && soft_tx_bits == 0 && soft_tx_ticks == 0; }
    return idle;
}

void hw_tx_start(struct node *n, uint8_t len)
{
    (void)n;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        soft_tx_pos = 0;
        soft_tx_len = len;
    }
}

/* ---- LED ---------------------------------------------------------------------------------- */
static void led_init(void)
{
    DDRD |= (1 << PD6) | (1 << PD5);
    DDRB |= (1 << PB3);
    TCCR0A = (1 << COM0A1) | (1 << COM0B1) | (1 << WGM01) | (1 << WGM00); /* fast PWM */
    TCCR0B = (1 << CS01) | (1 << CS00);                                   /* /64 */
    TIMSK0 = (1 << TOIE0);
    TCCR2A = (1 << COM2A1) | (1 << WGM21) | (1 << WGM20);
    TCCR2B = (1 << CS22);                                                 /* /64 */
}

void hw_led(struct node *n, const int8_t *state)
{
    uint8_t rgb[3];
    (void)n;
    report_led_levels(state, rgb);
    OCR0A = rgb[0];
    OCR0B = rgb[1];
    OCR2A = rgb[2];
}

/* ---- USB serial --------------------------------------------------------------------------- */
static void uart_init(void)
{
    uint16_t ubrr = (uint16_t)((F_CPU / 8 / REPORT_BAUD) - 1); /* U2X: 2.1% error at 115200 */
    UBRR0H = (uint8_t)(ubrr >> 8);
    UBRR0L = (uint8_t)ubrr;
    UCSR0A = (1 << U2X0);
    UCSR0B = (1 << RXCIE0) | (1 << RXEN0) | (1 << TXEN0);
    UCSR0C = (1 << UCSZ01) | (1 << UCSZ00);
}

void hw_usb_write(struct node *n, const char *s, uint8_t len)
{
    uint8_t i;
    (void)n;
    for (i = 0; i < len; i++) {
        while (!(UCSR0A & (1 << UDRE0))) {
        }
        UDR0 = (uint8_t)s[i];
    }
}

/* Host commands arrive a line at a time; the main loop takes a line when it is complete. */
static char command[REPORT_COMMAND_MAX];
static volatile uint8_t command_len, command_ready;

ISR(USART_RX_vect)
{
    uint8_t b = UDR0, n = command_len;
    if (command_ready) {
        return; /* the host sends one command at a time */
    }
    if (b == '\n' || b == '\r') {
        command_ready = n != 0;
        soft_wake = 1;
    } else {
        if (n < REPORT_COMMAND_MAX) {
            command[n] = (char)b;
        }
        command_len = n < REPORT_COMMAND_MAX ? n + 1 : REPORT_COMMAND_MAX + 1; /* +1: too long */
    }
}

/* ---- seed for the random waits: a boot counter in EEPROM mixed with ADC noise ----------- */
static uint16_t EEMEM ee_boots;

static uint16_t random_seed(void)
{
    uint16_t seed = eeprom_read_word(&ee_boots) + 1;
    uint8_t i;
    eeprom_write_word(&ee_boots, seed);
    ADMUX = (1 << REFS0) | NOISE_ADC_CHANNEL;
    ADCSRA = (1 << ADEN) | (1 << ADPS2) | (1 << ADPS1) | (1 << ADPS0);
    for (i = 0; i < 16; i++) {
        ADCSRA |= (1 << ADSC);
        while (ADCSRA & (1 << ADSC)) {
        }
        seed = (uint16_t)((seed << 1 | seed >> 15) ^ ADCW);
    }
    ADCSRA = 0;
    return seed;
}

static struct node node;

#ifdef CELL_TRACE
/* the emulator snapshots the rule update's data at each mark (wiring.h) */
void cell_trace(const int8_t *state, uint8_t mark)
{
    TRACE_PTR_LO = (uint8_t)(uintptr_t)state;
    TRACE_PTR_HI = (uint8_t)((uintptr_t)state >> 8);
    TRACE_MARK = mark;
}
#endif

int main(void)
{
    uint8_t l;

    LINK_RX_DDR &= (uint8_t)~LINK_RX_MASK;
    LINK_RX_PORT |= LINK_RX_MASK;          /* pull-ups: an unplugged link idles high */
    LINK_TX_DDR |= LINK_TX_MASK;
    LINK_TX_PORT |= LINK_TX_MASK;          /* idle high */
    TCCR1A = 0;
    TCCR1B = (1 << WGM12) | (1 << CS10);  /* CTC, no prescaler */
    OCR1A = (uint16_t)(F_CPU / (LINK_BAUD * LINK_OVERSAMPLE) - 1);
    TIMSK1 = (1 << OCIE1A);
    led_init();
    uart_init();
    set_sleep_mode(SLEEP_MODE_IDLE);
    sei();
    node_start(&node, random_seed(), 0);
    for (;;) {
        uint16_t now = now_ms();
        soft_wake = 0; /* what arrives from here on wakes the next round */
        volatile struct rx_line *r = soft_rx;
        for (l = 0; l < LINK_COUNT; l++, r++) { /* bytes the link interrupt received */
            while (r->head != r->tail) {
                uint8_t t = r->tail;
                uint8_t byte = r->ring[t];
                r->tail = (uint8_t)((t + 1) & (LINK_RX_RING - 1));
                node_byte(&node, l, byte, now);
            }
        }
        node_poll(&node, now);
        if (command_ready) {
            node_command(&node, command, command_len);
            command_len = 0;
            command_ready = 0;
        }
        /* idle until a byte arrived or a millisecond passed; link ticks alone do not wake us */
        while (!soft_wake) {
            sleep_mode();
        }
    }
}
