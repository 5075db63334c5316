/* What a board prints and reads on its USB serial port (docs/grid.md, "The host's view"). */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>

#include "cell.h"

#define REPORT_PROTOCOL 2
#define REPORT_LINE_MAX 72
#define REPORT_COMMAND_MAX 24

/* "H nca-cell <protocol> <rule hash, 16 hex> <model name> <grid width> <grid height>\n";
 * returns its length. */
uint8_t report_hello(char *line);
/* "S <fires> <state> <good> <bad> <x> <y> <hops>\n": state is 32 hex digits (channel 0 first,
 * two's complement), the counters 4 hex digits each (wrapping at ffff), x, y, hops 2 each
 * (ff: not known). */
uint8_t report_state(const struct cell *c, char *line);
/* "R <x y R G B A>\n" for a report the gateway received (12 hex digits). */
uint8_t report_grid(const uint8_t *report, char *line);
/* "E bad command\n" */
uint8_t report_bad_command(char *line);
/* One command line from the host (without its end of line): "P" / "Z" plant the seed in / clear
 * this cell, "P x y", "P x0 y0 x1 y1", "Z x0 y0 x1 y1" the cells in that rectangle of the grid,
 * "G x y" makes this board the gateway at (x, y) (decimal numbers, at most 254; x0 <= x1, y0 <= y1).
 * Returns 0 if malformed.
 * ("H", which asks for the hello line again, is the hardware layer's.) */
uint8_t report_command(struct cell *c, const char *line, uint8_t len);
/* LED levels 0..255 from premultiplied RGB (64 = full). */
void report_led_levels(const int8_t *state, uint8_t rgb[3]);

#endif
