#define _POSIX_C_SOURCE 200809L

#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { BAR_WIDTH = 24 };

double progress_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void progress_format_duration(double seconds, char *buf, int size)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, (size_t)size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, (size_t)size, "%ld:%02ld", s / 60, s % 60);
}

void progress_start(progress *p, const char *label, long total)
{
    memset(p, 0, sizeof *p);
    p->terminal = isatty(STDERR_FILENO);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total > 0 ? total : 1;
    p->started = p->last_drawn = progress_now();
}

static void draw_bar(const progress *p, long done, const char *figures, double elapsed)
{
    int filled = (int)(BAR_WIDTH * done / p->total);
    char bar[BAR_WIDTH + 1], eta[16] = "";
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '=' : i == filled ? '>' : ' ';
    bar[BAR_WIDTH] = '\0';
    if (done > 0 && done < p->total)
        progress_format_duration(elapsed * (double)(p->total - done) / (double)done, eta,
                                 sizeof eta);
    /* \033[K clears what a longer previous line left on the right. */
    fprintf(stderr, "\r%s [%s] %ld/%ld  %s%s%s\033[K", p->label, bar, done, p->total, figures,
            *eta ? "  ETA " : "", eta);
    fflush(stderr);
}

void progress_update(progress *p, long done, const char *figures)
{
    double now = progress_now();
    if (p->terminal) {
        if (now - p->last_drawn < 0.1 && done < p->total) return;
        p->last_drawn = now;
        draw_bar(p, done, figures, now - p->started);
        return;
    }
    long tenth = p->total >= 10 ? p->total / 10 : 1;
    if (done / tenth == p->last_step / tenth && done < p->total) return;
    p->last_step = done;
    fprintf(stderr, "%s: %ld/%ld  %s\n", p->label, done, p->total, figures);
}

void progress_finish(progress *p, const char *line)
{
    if (p->terminal) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}
