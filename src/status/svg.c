#include "status/svg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 1100
#define LABEL_W 170 /* the rows' names, left of the timeline */
#define RIGHT_W 40
#define TOP 74      /* below the title and the final state */
#define ROW_H 34
#define BAR_H 20
#define RELINK_W 5 /* a relink is a rename: drawn as a mark */

typedef struct canvas {
	FILE *f;
	int64_t t0, t1; /* the span drawn */
} canvas;

static double x_of(const canvas *c, int64_t ms)
{
	if (ms < c->t0)
		ms = c->t0;
	if (ms > c->t1)
		ms = c->t1;
	return LABEL_W + (double)(ms - c->t0) * (WIDTH - LABEL_W - RIGHT_W) / (double)(c->t1 - c->t0);
}

/* Writes s with XML's five special characters escaped. */
static void text_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void text(FILE *f, double x, double y, const char *attrs, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" %s>", x, y, attrs);
	text_escaped(f, s);
	fputs("</text>\n", f);
}

/* A bar of one step from a to b on row y, with its name as a tooltip. */
static void bar(const canvas *c, int y, int64_t a, int64_t b, const char *color, const char *what)
{
	double x0 = x_of(c, a), x1 = x_of(c, b);

	if (a <= 0 || b < a)
		return;
	if (x1 - x0 < 2)
		x1 = x0 + 2;
	fprintf(c->f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s %.1f s</title></rect>\n",
		x0, y + (ROW_H - BAR_H) / 2, x1 - x0, BAR_H, color, what, (double)(b - a) / 1000.0);
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* The last moment the record knows of. */
static int64_t record_last_ms(const refresh_record *r)
{
	int64_t t = max64(r->ended_ms, max64(r->state_since_ms, max64(r->checks_ended_ms, r->switchover_ended_ms)));

	t = max64(t, r->stall_started_ms + r->stall_ms);
	for (int i = 0; i < r->unit_count; i++) {
		const record_unit *u = &r->units[i];

		t = max64(t, max64(u->done_ms, max64(u->started_ms, max64(u->times.gate_ms, u->times.resumed_ms))));
		t = max64(t, max64(u->times.paused_ms, u->times.restart_ms));
	}
	return t;
}

static bool has_times(const record_unit_times *t)
{
	return t->relinked_ms || t->aside_ms || t->restart_ms || t->gate_ms;
}

static void unit_row(const canvas *c, const record_unit *u, int y, bool failed)
{
	const record_unit_times *t = &u->times;
	int64_t end = u->done_ms > 0 ? u->done_ms : failed ? c->t1 : 0;
	char label[96];

	snprintf(label, sizeof(label), "%s", u->unit);
	text(c->f, 10, y + ROW_H / 2 + 5, "font-size=\"14\" font-weight=\"bold\"", label);
	snprintf(label, sizeof(label), "%s", u->planned_role);
	text(c->f, 70, y + ROW_H / 2 + 5, "font-size=\"12\" fill=\"#555\"", label);
	if (u->step == STEP_PENDING && u->started_ms == 0 && t->relinked_ms == 0) {
		text(c->f, LABEL_W + 6, y + ROW_H / 2 + 5, "font-size=\"12\" fill=\"#777\"", "not refreshed");
		return;
	}
	if (u->step == STEP_SKIPPED) {
		text(c->f, LABEL_W + 6, y + ROW_H / 2 + 5, "font-size=\"12\" fill=\"#777\"", "skipped");
		return;
	}
	if (!has_times(t)) {
		bar(c, y, u->started_ms, end > 0 ? end : c->t1, SVG_COLOR_UNTIMED, "refresh");
	} else {
		int64_t gate = t->gate_ms ? t->gate_ms : (u->done_ms > 0 && u->started_ms > 0 ? max64(u->started_ms, t->restart_ms) : 0);
		int64_t stop = end > 0 ? end : c->t1;

		bar(c, y, t->aside_ms, t->restart_ms ? t->restart_ms : gate ? gate : stop, SVG_COLOR_ASIDE, "stand-aside");
		bar(c, y, t->restart_ms, gate ? gate : stop, SVG_COLOR_RESTART, "restart");
		if (gate && end > 0)
			bar(c, y, gate, end, SVG_COLOR_GATE, "gate");
		{
			int64_t rl = t->relinked_ms ? t->relinked_ms : u->started_ms;

			if (rl > 0)
				fprintf(c->f, "<rect x=\"%.1f\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>relink</title></rect>\n",
					x_of(c, rl), y + (ROW_H - BAR_H) / 2 - 3, RELINK_W, BAR_H + 6, SVG_COLOR_RELINK);
		}
	}
	if (t->paused_ms > 0)
		bar(c, y, t->paused_ms, t->resumed_ms > 0 ? t->resumed_ms : c->t1, SVG_COLOR_PAUSE, "pause");
	if (failed)
		fprintf(c->f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"none\" stroke=\"%s\" stroke-width=\"3\"/>\n",
			x_of(c, u->started_ms), y + 2, x_of(c, c->t1) - x_of(c, u->started_ms), ROW_H - 4, SVG_COLOR_STALL);
	if (u->done_ms > u->started_ms && u->started_ms > 0) {
		/* its seconds after its last bar (the pause after it, if any) */
		int64_t after = t->paused_ms > 0 ? (t->resumed_ms > 0 ? t->resumed_ms : c->t1) : u->done_ms;

		snprintf(label, sizeof(label), "%.1f s", (double)(u->done_ms - u->started_ms) / 1000.0);
		text(c->f, x_of(c, after) + 4, y + ROW_H / 2 + 4, "font-size=\"11\" fill=\"#333\"", label);
	}
}

static void axis(const canvas *c, int top, int bottom)
{
	static const int steps_s[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600 };
	int64_t span_s = (c->t1 - c->t0) / 1000 + 1;
	int step = steps_s[sizeof(steps_s) / sizeof(steps_s[0]) - 1];
	char label[32];

	for (size_t i = 0; i < sizeof(steps_s) / sizeof(steps_s[0]); i++)
		if (span_s / steps_s[i] <= 12) {
			step = steps_s[i];
			break;
		}
	for (int64_t s = 0; s * 1000 <= c->t1 - c->t0; s += step) {
		double x = x_of(c, c->t0 + s * 1000);

		fprintf(c->f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x, top, x, bottom);
		snprintf(label, sizeof(label), "%llds", (long long)s);
		text(c->f, x, bottom + 16, "font-size=\"11\" text-anchor=\"middle\" fill=\"#555\"", label);
	}
}

static void legend(FILE *f, int y)
{
	static const struct {
		const char *color, *name;
	} items[] = {
		{ SVG_COLOR_CHECKS, "checks" },   { SVG_COLOR_RELINK, "relink" },
		{ SVG_COLOR_ASIDE, "stand-aside" }, { SVG_COLOR_RESTART, "restart" },
		{ SVG_COLOR_GATE, "health gate" }, { SVG_COLOR_PAUSE, "pause" },
		{ SVG_COLOR_SWITCHOVER, "switchover" }, { SVG_COLOR_STALL, "clients' write stall" },
	};
	double x = LABEL_W;

	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\"/>\n", x, y, items[i].color);
		text(f, x + 18, y + 12, "font-size=\"12\"", items[i].name);
		x += 30 + 7.5 * (double)strlen(items[i].name);
	}
}

static void final_state(const refresh_record *r, char *out, size_t len)
{
	int done = record_done_count(r);

	switch (r->state) {
	case RS_DONE:
		if (r->rollback)
			snprintf(out, len, "rolled back: every unit on %s (%d/%d)%s%s", r->to, done, r->unit_count,
				 r->cause[0] ? "; cause: " : "", r->cause);
		else
			snprintf(out, len, "completed: every unit on %s (%d/%d)", r->to, done, r->unit_count);
		break;
	case RS_FAILED:
	case RS_INCOMPATIBLE:
		snprintf(out, len, "%s at %d/%d: %s", refresh_state_display(r->state), done, r->unit_count,
			 r->reason[0] ? r->reason : r->cause);
		break;
	default:
		snprintf(out, len, "in progress (%s), %d/%d done", refresh_state_name(r->state), done, r->unit_count);
	}
}

int svg_render_refresh(const refresh_record *r, char **svg, pgr_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	canvas c;
	int rows = r->unit_count + 2, bottom = TOP + rows * ROW_H, height = bottom + 70, y;
	char line[800];

	*svg = NULL;
	c.f = open_memstream(&buf, &len);
	if (c.f == NULL)
		return pgr_err_set(err, "svg: out of memory");
	c.t0 = r->started_ms;
	c.t1 = record_last_ms(r);
	if (c.t0 <= 0)
		c.t0 = c.t1 > 0 ? c.t1 - 1000 : 0;
	if (c.t1 < c.t0 + 1000)
		c.t1 = c.t0 + 1000;
	c.t1 += (c.t1 - c.t0) / 50; /* room after the last bar for its seconds */
	fprintf(c.f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
		WIDTH, height, WIDTH, height);
	snprintf(line, sizeof(line), "Refresh %d%s: %s \xe2\x86\x92 %s, %.1f s", r->id, r->rollback ? " (rollback)" : "",
		 r->from, r->to, (double)((r->ended_ms > r->started_ms ? r->ended_ms : c.t1) - r->started_ms) / 1000.0);
	text(c.f, 10, 26, "font-size=\"18\" font-weight=\"bold\"", line);
	final_state(r, line, sizeof(line));
	text(c.f, 10, 50, r->state == RS_FAILED || r->state == RS_INCOMPATIBLE ? "font-size=\"13\" fill=\"#de2d26\""
									       : "font-size=\"13\" fill=\"#333\"",
	     line);
	for (int i = 0; i < rows; i++)
		fprintf(c.f, "<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", TOP + i * ROW_H, WIDTH,
			ROW_H, i % 2 ? "#ffffff" : "#f4f4f4");
	axis(&c, TOP, bottom);
	/* the checks */
	y = TOP;
	text(c.f, 10, y + ROW_H / 2 + 5, "font-size=\"14\" font-weight=\"bold\"", "checks");
	bar(&c, y, r->started_ms, r->checks_ended_ms, SVG_COLOR_CHECKS, "checks");
	/* the units */
	for (int i = 0; i < r->unit_count; i++) {
		y = TOP + (i + 1) * ROW_H;
		unit_row(&c, &r->units[i], y, r->state == RS_FAILED && strcmp(r->failed_unit, r->units[i].unit) == 0);
	}
	/* the switchover, and the clients' write stall across every row */
	y = TOP + (rows - 1) * ROW_H;
	text(c.f, 10, y + ROW_H / 2 + 5, "font-size=\"14\" font-weight=\"bold\"", "switchover");
	if (r->switchover_started_ms > 0)
		bar(&c, y, r->switchover_started_ms, r->switchover_ended_ms > 0 ? r->switchover_ended_ms : c.t1,
		    SVG_COLOR_SWITCHOVER, "switchover");
	if (r->stall_ms > 0 && r->stall_started_ms > 0) {
		double x0 = x_of(&c, r->stall_started_ms), x1 = x_of(&c, r->stall_started_ms + r->stall_ms);

		if (x1 - x0 < 2)
			x1 = x0 + 2;
		fprintf(c.f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" fill-opacity=\"0.25\"/>\n", x0,
			TOP, x1 - x0, bottom - TOP, SVG_COLOR_STALL);
		fprintf(c.f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", x0,
			y + (ROW_H - BAR_H) / 2 + 4, x1 - x0, BAR_H - 8, SVG_COLOR_STALL);
		snprintf(line, sizeof(line), "clients' write stall %.2f s", (double)r->stall_ms / 1000.0);
		if (r->switchover_ended_ms > 0 && x_of(&c, r->switchover_ended_ms) > x1)
			x1 = x_of(&c, r->switchover_ended_ms); /* the label after the switchover's bar */
		text(c.f, x1 + 6, y + ROW_H / 2 + 5, "font-size=\"12\" fill=\"#de2d26\" font-weight=\"bold\"", line);
	} else if (r->switchover_started_ms == 0) {
		text(c.f, LABEL_W + 6, y + ROW_H / 2 + 5, "font-size=\"12\" fill=\"#777\"", "none");
	}
	if (r->ended_ms > 0) {
		double x = x_of(&c, r->ended_ms);

		fprintf(c.f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>\n", x,
			TOP - 6, x, bottom);
		text(c.f, x, TOP - 9, "font-size=\"11\" text-anchor=\"end\"", "end");
	}
	legend(c.f, bottom + 36);
	fputs("</svg>\n", c.f);
	if (fclose(c.f) != 0 || buf == NULL) {
		free(buf);
		return pgr_err_set(err, "svg: could not render");
	}
	*svg = buf;
	return 0;
}
