/* The commands a grid program reads on stdin (avrsim/grid.c, twin/twin.c): a script of
 * "<ms> <command>" lines sorted by emulated time, or in --live mode "<command>" lines run as
 * soon as they are read. Each program calls its own run_command(text) for each. */
#ifndef GRID_SCRIPT_H
#define GRID_SCRIPT_H

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct grid_script {
    char line[256], text[200];
    long next_ms;      /* the command read ahead, due then; -1: none */
    long command_ms;   /* when the command grid_script_due returned was due */
    char live[4096];   /* --live: bytes read, not yet a whole line */
    size_t live_len;
};

static inline void grid_script_init(struct grid_script *s)
{
    s->next_ms = -1;
    s->live_len = 0;
}

/* The next scripted command due before `before_ms` (NULL: none yet; the rest waits). */
static inline const char *grid_script_due(struct grid_script *s, double before_ms)
{
    while (s->next_ms < 0 && fgets(s->line, sizeof s->line, stdin)) {
        if (sscanf(s->line, "%ld %199[^\n]", &s->next_ms, s->text) != 2) {
            s->next_ms = -1;
        }
    }
    if (s->next_ms < 0 || s->next_ms >= before_ms) {
        return NULL;
    }
    s->command_ms = s->next_ms;
    s->next_ms = -1;
    return s->text;
}

/* --live: calls run(line) for each whole line typed so far; 0 once stdin has closed. */
static inline int grid_script_live(struct grid_script *s, void (*run)(const char *))
{
    struct pollfd p = {0, POLLIN, 0};
    while (poll(&p, 1, 0) > 0) {
        ssize_t n = read(0, s->live + s->live_len, sizeof s->live - 1 - s->live_len);
        char *start = s->live, *nl;
        if (n <= 0) {
            return 0;
        }
        s->live_len += (size_t)n;
        s->live[s->live_len] = 0;
        while ((nl = strchr(start, '\n'))) {
            *nl = 0;
            if (nl > start) {
                run(start);
            }
            start = nl + 1;
        }
        s->live_len -= (size_t)(start - s->live);
        memmove(s->live, start, s->live_len);
        if (s->live_len == sizeof s->live - 1) {
            s->live_len = 0; /* an endless line: drop it */
        }
    }
    return 1;
}

#endif
