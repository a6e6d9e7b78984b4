/* Small PNG plots for elman's programs (not part of libelman), drawn into
 * an el_image and written with el_png_write: a line of values in [0, 1]
 * against x, and a heat map of weights with its rows and columns labelled.
 * Text is drawn with a built-in 5x7 font of lowercase letters, digits and
 * a little punctuation (capitals as lowercase); any other character is
 * drawn as '?', so a caller with other text writes it out beside. */
#ifndef ELMAN_APPS_PLOT_H
#define ELMAN_APPS_PLOT_H

/* y[i] (in [0, 1]) against x[i], for n >= 1 points in increasing x, one
 * line with a dot at each point, axes with ticks, and the two labels.  0,
 * or 1 after reporting. */
int plot_line_png(const char *path, const double *x, const double *y, int n, const char *x_label,
                  const char *y_label);

/* Whether the font draws every character of text (capitals as
 * lowercase). */
int plot_can_draw(const char *text);

/* rows x cols weights in [0, 1], row-major, one gray cell each (black 0,
 * white 1), with row_labels down the left and col_labels along the top.
 * 0, or 1 after reporting. */
int plot_heatmap_png(const char *path, const float *weights, int rows, int cols,
                     const char *const *row_labels, const char *const *col_labels);

#endif
