/* Progress of long work, for elman's programs (not part of libelman).
 *
 * On a terminal one line is redrawn in place: a bar, how far, and the
 * caller's figures ("epoch 3/10 [=====>    ] 412/551  loss 0.0213  9,800 words/s
 * ETA 0:41").  Elsewhere (a pipe, a log file) a plain line is printed every
 * tenth of the way, so logs stay short and readable. */
#ifndef ELMAN_APPS_PROGRESS_H
#define ELMAN_APPS_PROGRESS_H

typedef struct progress {
    int terminal;
    char label[64];
    long total;
    double started;
    double last_drawn;
    long last_step; /* the step last printed, off a terminal */
} progress;

/* Seconds on a monotonic clock. */
double progress_now(void);

/* Begins a phase of total steps named label ("epoch 3/10"). */
void progress_start(progress *p, const char *label, long total);

/* Reports that done steps are finished; figures is free text. */
void progress_update(progress *p, long done, const char *figures);

/* Ends the phase: clears the bar and prints the line given. */
void progress_finish(progress *p, const char *line);

/* "1:05:09" or "4:07" for seconds. */
void progress_format_duration(double seconds, char *buf, int size);

#endif
