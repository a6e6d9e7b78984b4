/* PNG plots: a line of exact match against length, and attention heat
 * maps, with a built-in 5x7 font so that no font library is needed. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "elman/image.h"
#include "plot.h"

enum { GLYPH_W = 5, GLYPH_H = 7, ADVANCE = 6 };

/* Each glyph is 7 rows of 5 pixels, '#' set. */
typedef struct glyph {
    char c;
    const char *rows[GLYPH_H];
} glyph;

static const glyph font[] = {
    {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"}},
    {'b', {"#....", "#....", "####.", "#...#", "#...#", "#...#", "####."}},
    {'c', {".....", ".....", ".###.", "#....", "#....", "#...#", ".###."}},
    {'d', {"....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"}},
    {'e', {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."}},
    {'f', {"..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."}},
    {'g', {".....", ".####", "#...#", "#...#", ".####", "....#", ".###."}},
    {'h', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'i', {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."}},
    {'j', {"...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."}},
    {'k', {"#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."}},
    {'l', {".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'m', {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"}},
    {'n', {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'o', {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."}},
    {'p', {".....", ".....", "####.", "#...#", "####.", "#....", "#...."}},
    {'q', {".....", ".....", ".####", "#...#", ".####", "....#", "....#"}},
    {'r', {".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."}},
    {'s', {".....", ".....", ".####", "#....", ".###.", "....#", "####."}},
    {'t', {".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."}},
    {'u', {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"}},
    {'v', {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'w', {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."}},
    {'x', {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"}},
    {'y', {".....", ".....", "#...#", "#...#", ".####", "....#", ".###."}},
    {'z', {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"}},
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
    {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
    {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
    {',', {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
    {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
    {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
    {'\'', {".##..", "..#..", ".#...", ".....", ".....", ".....", "....."}},
    {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
    {'<', {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."}},
    {'>', {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."}},
    {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
    {'?', {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."}},
};

static const glyph *glyph_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
    const glyph *unknown = NULL;
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++) {
        if (font[i].c == (char)c) return &font[i];
        if (font[i].c == '?') unknown = &font[i];
    }
    return c == ' ' ? NULL : unknown;
}

int plot_can_draw(const char *text)
{
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        const glyph *g = glyph_of(c);
        if (c >= 0x80 || (c != ' ' && g && g->c == '?' && c != '?')) return 0;
    }
    return 1;
}

typedef struct rgb {
    unsigned char r, g, b;
} rgb;

static void put(el_image *im, int x, int y, rgb c)
{
    if (x < 0 || y < 0 || x >= im->width || y >= im->height) return;
    unsigned char *p = im->pixels + ((size_t)y * (size_t)im->width + (size_t)x) * 3;
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
}

static void fill(el_image *im, int x0, int y0, int w, int h, rgb c)
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) put(im, x, y, c);
}

/* Text from (x, y), its top left; a byte of a multi-byte UTF-8 character
 * other than its first draws nothing, so each character takes one cell. */
static void text(el_image *im, int x, int y, const char *s, rgb c)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch & 0xC0) == 0x80) continue;
        const glyph *g = glyph_of(ch);
        for (int row = 0; g && row < GLYPH_H; row++)
            for (int col = 0; col < GLYPH_W; col++)
                if (g->rows[row][col] == '#') put(im, x + col, y + row, c);
        x += ADVANCE;
    }
}

/* Characters, not bytes, as text draws them. */
static int text_width(const char *s)
{
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n * ADVANCE;
}

static void line(el_image *im, int x0, int y0, int x1, int y1, rgb c)
{
    int dx = x1 > x0 ? x1 - x0 : x0 - x1, dy = y1 > y0 ? y0 - y1 : y1 - y0;
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) { /* Bresenham */
        put(im, x0, y0, c);
        if (x0 == x1 && y0 == y1) return;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

static int write_image(el_image *im, const char *path)
{
    int failed = el_png_write(im, path) ? cli_library_failure() : 0;
    el_image_free(im);
    return failed;
}

static const rgb black = {0, 0, 0}, white = {255, 255, 255}, grid = {220, 220, 220},
                 blue = {31, 119, 180};

int plot_line_png(const char *path, const double *x, const double *y, int n, const char *x_label,
                  const char *y_label)
{
    enum { W = 640, H = 400, LEFT = 60, RIGHT = 20, TOP = 30, BOTTOM = 50 };
    el_image im = {0};
    if (el_image_init(&im, W, H, 3)) return cli_library_failure();
    fill(&im, 0, 0, W, H, white);
    int pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
    double x0 = n ? x[0] : 0, x1 = n ? x[n - 1] : 1;
    if (x1 <= x0) x1 = x0 + 1;
    char label[32];
    for (int k = 0; k <= 4; k++) { /* y ticks at 0, 0.25, ..., 1 */
        int py = TOP + ph - k * ph / 4;
        line(&im, LEFT, py, LEFT + pw, py, grid);
        snprintf(label, sizeof label, "%.2f", k / 4.0);
        text(&im, LEFT - 6 - text_width(label), py - GLYPH_H / 2, label, black);
    }
    int step = (int)((x1 - x0) / 10) + 1;
    for (int v = (int)x0; v <= (int)x1; v += step) { /* x ticks */
        int px = LEFT + (int)((v - x0) / (x1 - x0) * pw);
        line(&im, px, TOP + ph, px, TOP + ph + 4, black);
        snprintf(label, sizeof label, "%d", v);
        text(&im, px - text_width(label) / 2, TOP + ph + 8, label, black);
    }
    line(&im, LEFT, TOP, LEFT, TOP + ph, black);
    line(&im, LEFT, TOP + ph, LEFT + pw, TOP + ph, black);
    text(&im, LEFT + pw / 2 - text_width(x_label) / 2, H - 18, x_label, black);
    text(&im, LEFT, 10, y_label, black);
    int px_prev = 0, py_prev = 0;
    for (int i = 0; i < n; i++) {
        double v = y[i] < 0 ? 0 : y[i] > 1 ? 1 : y[i];
        int px = LEFT + (int)((x[i] - x0) / (x1 - x0) * pw), py = TOP + ph - (int)(v * ph);
        if (i > 0) line(&im, px_prev, py_prev, px, py, blue);
        fill(&im, px - 2, py - 2, 5, 5, blue);
        px_prev = px;
        py_prev = py;
    }
    return write_image(&im, path);
}

int plot_heatmap_png(const char *path, const float *weights, int rows, int cols,
                     const char *const *row_labels, const char *const *col_labels)
{
    enum { CELL = 24, MARGIN = 8 };
    int left = 0, top = 0;
    for (int r = 0; r < rows; r++)
        if (text_width(row_labels[r]) > left) left = text_width(row_labels[r]);
    for (int c = 0; c < cols; c++)
        if (text_width(col_labels[c]) > top) top = text_width(col_labels[c]);
    /* Column labels are written downwards, one character under another. */
    top = top / ADVANCE * (GLYPH_H + 2);
    left += 2 * MARGIN;
    top += 2 * MARGIN;
    el_image im = {0};
    if (el_image_init(&im, left + cols * CELL + MARGIN, top + rows * CELL + MARGIN, 3))
        return cli_library_failure();
    fill(&im, 0, 0, im.width, im.height, white);
    for (int c = 0; c < cols; c++) {
        int y = MARGIN;
        char one[8];
        for (const char *s = col_labels[c]; *s;) {
            size_t len = 1;
            while (s[len] && ((unsigned char)s[len] & 0xC0) == 0x80 && len < sizeof one - 1) len++;
            memcpy(one, s, len);
            one[len] = '\0';
            text(&im, left + c * CELL + (CELL - GLYPH_W) / 2, y, one, black);
            y += GLYPH_H + 2;
            s += len;
        }
    }
    for (int r = 0; r < rows; r++) {
        int y = top + r * CELL;
        text(&im, left - MARGIN - text_width(row_labels[r]), y + (CELL - GLYPH_H) / 2,
             row_labels[r], black);
        for (int c = 0; c < cols; c++) {
            float w = weights[(size_t)r * (size_t)cols + (size_t)c];
            unsigned char v = (unsigned char)(255.0f * (w < 0 ? 0 : w > 1 ? 1 : w) + 0.5f);
            fill(&im, left + c * CELL, y, CELL - 1, CELL - 1, (rgb){v, v, v});
        }
    }
    return write_image(&im, path);
}
