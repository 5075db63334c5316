/* What a board prints on its USB serial port (docs/firmware.md, "Report lines"). */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>

#include "cell.h"

#define REPORT_PROTOCOL 1
#define REPORT_LINE_MAX 64

/* "H nca-cell <protocol> <rule hash, 16 hex> <model name>\n"; returns its length. */
uint8_t report_hello(char *line);
/* "S <fires> <state> <good> <bad>\n": state is 32 hex digits (channel 0 first, two's
 * complement), the counters 4 hex digits each (wrapping at ffff). */
uint8_t report_state(const struct cell *c, char *line);
/* LED levels 0..255 from premultiplied RGB (64 = full). */
void report_led_levels(const int8_t *state, uint8_t rgb[3]);

#endif
